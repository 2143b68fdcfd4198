//! The frames a live session sends, built from its state by pure functions: the session actor
//! decides who gets what, these say what it is. The vote-secrecy rule is
//! [`poker_core::may_see_votes`], shared with `GET /api/stories/{id}/votes` (see [`votes_view`]).

use bytestring::ByteString;
use poker_core::events::{Participant, StoryChanged, StoryEntry};
use poker_core::{Deck, Round, ServerEvent, Voter, VotesView};
use poker_db::{Story, StoryRound, VoteRow};

use super::messages::SocketUser;

/// A frame ready to hand to sockets: serialized once, shared by every recipient.
pub fn encode(event: &ServerEvent) -> ByteString {
    event.to_frame().into()
}

/// The votes on a story as one recipient sees them (`visible` from [`poker_core::Secrecy`]).
pub fn votes_view(deck: &Deck, votes: &[VoteRow], round: &StoryRound, visible: bool) -> VotesView {
    let voters: Vec<Voter> = votes
        .iter()
        .map(|v| Voter {
            id: v.user_id,
            name: v.username.clone(),
        })
        .collect();
    let round = Round {
        revealed: round.revealed,
        abstained: round
            .abstained
            .iter()
            .map(|a| Voter {
                id: a.user_id,
                name: a.username.clone(),
            })
            .collect(),
    };
    VotesView::new(
        deck,
        voters.iter().zip(votes.iter().map(|v| v.choice.as_str())),
        round,
        visible,
    )
}

/// `story_changed` for the active story.
pub fn story_changed(
    deck: &Deck,
    story: &Story,
    votes: &[VoteRow],
    round: &StoryRound,
    visible: bool,
) -> ServerEvent {
    ServerEvent::StoryChanged(StoryChanged {
        id: story.id,
        story_label: story.label(),
        description: story.description.clone(),
        votes: votes_view(deck, votes, round, visible),
    })
}

/// `participants_changed`: each user once (a user may have several sockets), sorted by name.
pub fn participants_changed<'a>(users: impl IntoIterator<Item = &'a SocketUser>) -> ServerEvent {
    let mut seen: Vec<&SocketUser> = Vec::new();
    for user in users {
        if !seen.iter().any(|u| u.id == user.id) {
            seen.push(user);
        }
    }
    seen.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    ServerEvent::ParticipantsChanged {
        participants: seen
            .into_iter()
            .map(|u| Participant {
                id: u.id,
                name: u.name.clone(),
                permissions: u.permissions(),
            })
            .collect(),
    }
}

/// `stories_changed`: the session's stories in order.
pub fn stories_changed(stories: &[Story]) -> ServerEvent {
    ServerEvent::StoriesChanged {
        stories: stories
            .iter()
            .map(|s| StoryEntry {
                id: s.id,
                label: s.label(),
                story_points: s.story_points.as_deref().map(poker_core::deck::points_json),
            })
            .collect(),
    }
}

/// `story_points_submitted`.
pub fn points_submitted(points: &str) -> ServerEvent {
    ServerEvent::StoryPointsSubmitted {
        story_points: poker_core::deck::points_json(points),
    }
}

/// A time as the wire writes it: RFC 3339 in UTC with milliseconds.
pub fn wire_time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `timer_started` for a countdown, with the server's clock now.
pub fn timer_started(timer: &poker_db::Timer) -> ServerEvent {
    ServerEvent::TimerStarted {
        ends_at: wire_time(timer.ends_at),
        duration: timer.seconds,
        server_time: wire_time(chrono::Utc::now().timestamp_millis()),
    }
}

/// `poker_session_ended`, sending everyone to `url`.
pub fn session_ended(url: &str) -> ServerEvent {
    ServerEvent::PokerSessionEnded {
        poker_session_end_redirect_url: url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn user(id: i64, name: &str, can_vote: bool, can_moderate: bool) -> SocketUser {
        SocketUser {
            id,
            name: name.into(),
            can_vote,
            can_moderate,
            login: crate::live::messages::SocketLogin::default(),
        }
    }

    fn data(event: &ServerEvent) -> Value {
        serde_json::from_str::<Value>(&encode(event)).unwrap()["data"].clone()
    }

    fn story(id: i64, ticket: &str, title: &str, points: Option<&str>) -> Story {
        Story {
            id,
            poker_session_id: Some(1),
            position: id,
            ticket_number: ticket.into(),
            title: title.into(),
            description: "<p>d</p>".into(),
            story_points: points.map(String::from),
        }
    }

    fn vote(user_id: i64, name: &str, choice: &str) -> VoteRow {
        VoteRow {
            user_id,
            username: name.into(),
            choice: choice.into(),
        }
    }

    #[test]
    fn participants_are_listed_once_each_sorted_by_name() {
        let (ann, bob) = (user(2, "ann", true, false), user(1, "bob", false, true));
        let event = participants_changed([&bob, &ann, &bob]);
        assert_eq!(
            data(&event),
            json!({"participants": [
                {"id": 2, "name": "ann", "permissions": ["vote"]},
                {"id": 1, "name": "bob", "permissions": ["moderate"]},
            ]})
        );
    }

    #[test]
    fn story_changed_hides_votes_but_not_voters_when_asked() {
        let s = story(7, "T-7", "Seven", None);
        let votes = [vote(1, "ann", "5"), vote(2, "bob", "5")];
        let round = StoryRound {
            revealed: false,
            abstained: vec![poker_db::Abstention {
                user_id: 3,
                username: "cy".into(),
            }],
        };
        let shown = data(&story_changed(&Deck::default(), &s, &votes, &round, true));
        assert_eq!(shown["story_label"], "T-7: Seven");
        assert_eq!(
            shown["votes"],
            json!({"5": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]})
        );
        let hidden = data(&story_changed(&Deck::default(), &s, &votes, &round, false));
        assert_eq!(hidden["votes"], json!({}));
        assert_eq!(hidden["voters"], shown["voters"]);
        // Who abstained, and whether the round was revealed, go to everyone.
        assert_eq!(hidden["abstained"], json!([{"id": 3, "name": "cy"}]));
        assert_eq!(hidden["revealed"], json!(false));
    }

    #[test]
    fn stories_changed_gives_numbers_for_numeric_points() {
        let stories = [
            story(1, "A", "", Some("13")),
            story(2, "B", "b", Some("Too large")),
            story(3, "C", "", None),
        ];
        assert_eq!(
            data(&stories_changed(&stories)),
            json!({"stories": [
                {"id": 1, "label": "A", "story_points": 13},
                {"id": 2, "label": "B: b", "story_points": "Too large"},
                {"id": 3, "label": "C", "story_points": null},
            ]})
        );
    }
}
