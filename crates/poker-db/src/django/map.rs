//! How the original's rows become ours: rights from permissions, story points as deck options,
//! a deck for each session, the order of stories. No database here.

use std::collections::{BTreeMap, HashSet};

use poker_core::Deck;

use super::read::{DjangoData, DjangoRight, DjangoStory, DjangoUser};

/// What an inactive Django user gets as a password hash here: it matches no password (see
/// poker-server's `passwords`: a hash starting with `!` never does, as in Django).
pub const INACTIVE_PASSWORD: &str = "!inactive in the Django original";

/// A user's rights here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rights {
    pub can_vote: bool,
    pub can_moderate: bool,
    pub is_admin: bool,
}

/// The rights of a Django user: `planning_poker.vote` and `planning_poker.moderate`, held
/// directly or through a group (`rights` has both), and a superuser is an administrator who, as
/// in Django, holds every permission. Django grants an inactive user no permission at all.
pub fn rights(user: &DjangoUser, rights: &[DjangoRight]) -> Rights {
    if !user.is_active {
        return Rights::default();
    }
    let has = |codename: &str| {
        user.is_superuser
            || rights
                .iter()
                .any(|r| r.user_id == user.id && r.codename == codename)
    };
    Rights {
        can_vote: has("vote"),
        can_moderate: has("moderate"),
        is_admin: user.is_superuser,
    }
}

/// The hash a Django user gets here: Django's own (checked at login, then replaced by argon2),
/// or one that matches nothing for an inactive user.
pub fn password_hash(user: &DjangoUser) -> &str {
    if user.is_active {
        &user.password
    } else {
        INACTIVE_PASSWORD
    }
}

/// What a summary should say about a Django user's password, when they cannot log in with it.
pub fn password_note(user: &DjangoUser) -> Option<String> {
    if !user.is_active {
        return Some(
            "is inactive in Django: imported without rights and unable to log in (an administrator \
             can set a password), so that their votes are kept"
                .into(),
        );
    }
    let hash = &user.password;
    if hash.starts_with("pbkdf2_sha256$") {
        None
    } else if hash.starts_with('!') || hash.is_empty() {
        Some(
            "has no usable password in Django: cannot log in until an administrator sets one"
                .into(),
        )
    } else {
        let algorithm = hash.split('$').next().unwrap_or_default();
        Some(format!(
            "has a password hash of Django's {algorithm:?} hasher, which this server does not \
             check: cannot log in until an administrator sets a password"
        ))
    }
}

/// Django's story points (a small integer) as the deck option they are here: `5` is `"5"`.
pub fn points_text(points: i64) -> String {
    points.to_string()
}

/// The deck of an imported session: our default deck (the original's `1 2 3 5 8 13 21 34`,
/// "Too large", "No idea"), plus any choice or points value the session's data uses that it
/// lacks (the original does not enforce its choices in the database): numbers become point
/// options in numeric order, anything else another option. `None` when such values make no
/// valid deck (for example more than 40 options); the session then gets the default deck and
/// what does not fit it is skipped.
pub fn session_deck<'a>(
    choices: impl IntoIterator<Item = &'a str>,
    points: impl IntoIterator<Item = String>,
) -> Option<Deck> {
    let mut deck = Deck::default();
    let mut add = |value: &str, as_points: bool| {
        let value = value.trim();
        if value.is_empty() || deck.options().any(|o| o == value) {
            return;
        }
        if as_points || value.parse::<f64>().is_ok_and(f64::is_finite) {
            deck.points.push(value.to_string());
        } else {
            deck.others.push(value.to_string());
        }
    };
    for choice in choices {
        add(choice, false);
    }
    for value in points {
        add(&value, true);
    }
    if deck.is_numeric() {
        deck.points.sort_by(|a, b| {
            let (x, y) = (a.parse::<f64>(), b.parse::<f64>());
            x.unwrap_or(f64::MAX).total_cmp(&y.unwrap_or(f64::MAX))
        });
    }
    deck.checked().ok()
}

/// The stories of each session (`None`: without a session) in the original's order: by `_order`,
/// then by id.
pub fn stories_in_order(data: &DjangoData) -> BTreeMap<Option<i64>, Vec<&DjangoStory>> {
    let mut groups: BTreeMap<Option<i64>, Vec<&DjangoStory>> = BTreeMap::new();
    for story in &data.stories {
        groups
            .entry(story.poker_session_id)
            .or_default()
            .push(story);
    }
    for stories in groups.values_mut() {
        stories.sort_by_key(|s| (s.sort_order.unwrap_or(i64::MAX), s.id));
    }
    groups
}

/// The deck each session of the original needs for its votes and story points.
pub fn decks(data: &DjangoData) -> BTreeMap<i64, Option<Deck>> {
    let session_of: BTreeMap<i64, Option<i64>> = data
        .stories
        .iter()
        .map(|s| (s.id, s.poker_session_id))
        .collect();
    let mut used: BTreeMap<i64, (HashSet<&str>, Vec<String>)> = BTreeMap::new();
    for vote in &data.votes {
        if let Some(Some(session)) = session_of.get(&vote.story_id) {
            used.entry(*session).or_default().0.insert(&vote.choice);
        }
    }
    for story in &data.stories {
        if let (Some(session), Some(points)) = (story.poker_session_id, story.story_points) {
            used.entry(session).or_default().1.push(points_text(points));
        }
    }
    data.sessions
        .iter()
        .map(|session| {
            let deck = match used.remove(&session.id) {
                Some((mut choices, points)) => {
                    // A set has no order: sorted, the deck is the same on every run.
                    let mut choices: Vec<&str> = choices.drain().collect();
                    choices.sort_unstable();
                    session_deck(choices, points)
                }
                None => Some(Deck::default()),
            };
            (session.id, deck)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, superuser: bool, active: bool) -> DjangoUser {
        DjangoUser {
            id,
            username: format!("u{id}"),
            password: "pbkdf2_sha256$1$s$aGFzaA==".into(),
            is_superuser: superuser,
            is_active: active,
        }
    }

    fn right(user_id: i64, codename: &str) -> DjangoRight {
        DjangoRight {
            user_id,
            codename: codename.into(),
        }
    }

    #[test]
    fn rights_come_from_permissions_and_superusers_have_all() {
        let held = [right(1, "vote"), right(2, "moderate"), right(2, "vote")];
        let r = |u: DjangoUser| rights(&u, &held);
        assert_eq!(
            r(user(1, false, true)),
            Rights {
                can_vote: true,
                ..Rights::default()
            }
        );
        assert_eq!(
            r(user(2, false, true)),
            Rights {
                can_vote: true,
                can_moderate: true,
                is_admin: false
            }
        );
        assert_eq!(r(user(3, false, true)), Rights::default());
        assert_eq!(
            r(user(4, true, true)),
            Rights {
                can_vote: true,
                can_moderate: true,
                is_admin: true
            }
        );
        // Django grants an inactive user nothing, superuser or not.
        assert_eq!(r(user(1, true, false)), Rights::default());
    }

    #[test]
    fn passwords_of_inactive_and_unusable_users_are_noted() {
        let active = user(1, false, true);
        assert_eq!(password_hash(&active), active.password);
        assert_eq!(password_note(&active), None);
        let inactive = user(2, false, false);
        assert_eq!(password_hash(&inactive), INACTIVE_PASSWORD);
        assert!(password_note(&inactive).unwrap().contains("inactive"));
        let mut unusable = user(3, false, true);
        unusable.password = "!abcdef".into();
        assert!(password_note(&unusable)
            .unwrap()
            .contains("no usable password"));
        unusable.password = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA".into();
        assert!(password_note(&unusable).unwrap().contains("\"argon2\""));
    }

    #[test]
    fn the_originals_choices_fit_the_default_deck() {
        let choices = [
            "1",
            "2",
            "3",
            "5",
            "8",
            "13",
            "21",
            "34",
            "Too large",
            "No idea",
        ];
        let points = ["5".to_string(), "34".to_string()];
        assert_eq!(session_deck(choices, points), Some(Deck::default()));
        assert_eq!(points_text(13), "13");
    }

    #[test]
    fn choices_outside_the_default_deck_extend_it() {
        let deck = session_deck(["0", "Coffee", "5"], ["4".to_string()]).unwrap();
        assert_eq!(
            deck.points,
            ["0", "1", "2", "3", "4", "5", "8", "13", "21", "34"]
        );
        assert_eq!(deck.others, ["Too large", "No idea", "Coffee"]);
        // An option of 21 characters makes no deck.
        assert_eq!(session_deck(["x".repeat(21).as_str()], []), None);
    }

    #[test]
    fn stories_keep_the_originals_order() {
        let story = |id, session, order| DjangoStory {
            id,
            ticket_number: format!("T-{id}"),
            title: String::new(),
            description: String::new(),
            story_points: None,
            poker_session_id: session,
            sort_order: order,
        };
        let data = DjangoData {
            stories: vec![
                story(1, Some(1), Some(2)),
                story(2, Some(1), Some(0)),
                story(3, None, Some(0)),
                story(4, Some(1), Some(1)),
                story(5, Some(2), Some(0)),
            ],
            ..DjangoData::default()
        };
        let groups = stories_in_order(&data);
        let ids = |key| groups[&key].iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(Some(1)), [2, 4, 1]);
        assert_eq!(ids(Some(2)), [5]);
        assert_eq!(ids(None), [3]);
    }
}
