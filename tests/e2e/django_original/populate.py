# Data for the import-django test, made through the original's own models (run with
# `manage.py shell -c`). Django's default hasher stores the passwords as pbkdf2_sha256.
import datetime

from django.contrib.auth.models import Group, Permission, User
from planning_poker.models import PokerSession, Story, Vote

vote = Permission.objects.get(content_type__app_label="planning_poker", codename="vote")
moderate = Permission.objects.get(content_type__app_label="planning_poker", codename="moderate")
voters = Group.objects.create(name="Voters")
voters.permissions.add(vote)

alice = User.objects.create_user("alice", password="alice-old-secret")
alice.groups.add(voters)
bob = User.objects.create_user("bob", password="bob-old-secret")
bob.groups.add(voters)
carol = User.objects.create_user("carol", password="carol-old-secret")
carol.user_permissions.add(moderate)
root = User.objects.create_superuser("root", "root@example.com", "root-old-secret")
dave = User.objects.create_user("dave", password="dave-old-secret", is_active=False)
dave.groups.add(voters)
erin = User.objects.create_user("erin", password="erin-old-secret")
# Also a user named like the admin our server makes on an empty database: not overwritten.
User.objects.create_user("admin", password="django-admin-secret")

sprint1 = PokerSession.objects.create(name="Sprint 1", poker_date=datetime.date(2024, 1, 10))
created = [
    Story.objects.create(
        ticket_number=f"S1-{n}",
        title=f"Story {n}",
        description=f"<p>About {n}<script>alert({n})</script></p>",
        poker_session=sprint1,
    )
    for n in range(1, 5)
]
s1, s2, s3, s4 = created
s3.story_points = 5
s3.save()
s1.story_points = 13
s1.save()
Vote.objects.create(story=s3, user=alice, choice="5")
Vote.objects.create(story=s3, user=bob, choice="8")
Vote.objects.create(story=s3, user=dave, choice="3")
Vote.objects.create(story=s3, user=carol, choice="No idea")
Vote.objects.create(story=s1, user=alice, choice="13")
Vote.objects.create(story=s1, user=bob, choice="Too large")
Vote.objects.create(story=s4, user=bob, choice="21")
sprint1.active_story = s4
sprint1.save()
# A new order, as the original's admin keeps it (order_with_respect_to, the _order column); last,
# since saving a story loaded before would write its old _order back.
sprint1.set_story_order([s3.id, s1.id, s4.id, s2.id])

sprint2 = PokerSession.objects.create(name="Sprint 2", poker_date=datetime.date(2024, 2, 1))
t1 = Story.objects.create(ticket_number="S2-1", title="", poker_session=sprint2)
t2 = Story.objects.create(ticket_number="S2-2", title="Second", poker_session=sprint2)
Vote.objects.create(story=t1, user=alice, choice="Too large")
Vote.objects.create(story=t2, user=root, choice="34")

backlog = Story.objects.create(ticket_number="B-1", title="Someday", story_points=8)
Vote.objects.create(story=backlog, user=erin, choice="8")
print("populated")
