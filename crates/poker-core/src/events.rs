//! The frames the server sends (PROTOCOL.md section 2, "Frames from the server"), as one typed
//! enum that serializes once into the `{"type": "send_json", "event", "data"}` envelope, and the
//! vote-secrecy rule that decides what a recipient may see of the votes.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use crate::deck::Deck;
use crate::tally::{tally, Tally, Voter};
use crate::wire::{Permission, WireError};

/// The votes on a story as one recipient sees them: `votes` grouped by option (empty when the
/// recipient may not see them yet, see [`crate::round::Secrecy`]) and `voters`, everyone who
/// voted, in the order they voted; **(ours)** `abstained`, those who said they do not vote on
/// this story, in the order they said so, and `revealed`, whether the round's votes were shown
/// to everyone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VotesView {
    pub votes: Tally,
    pub voters: Vec<Voter>,
    pub abstained: Vec<Voter>,
    pub revealed: bool,
}

impl VotesView {
    /// Builds the view from votes in the order they were cast.
    pub fn new<'a>(
        deck: &Deck,
        votes: impl IntoIterator<Item = (&'a Voter, &'a str)> + Clone,
        round: Round,
        visible: bool,
    ) -> Self {
        let voters = votes.clone().into_iter().map(|(v, _)| v.clone()).collect();
        let votes = if visible {
            tally(deck, votes)
        } else {
            Tally { groups: Vec::new() }
        };
        VotesView {
            votes,
            voters,
            abstained: round.abstained,
            revealed: round.revealed,
        }
    }
}

/// The state of a story's round besides its votes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Round {
    /// Whether its votes were revealed to everyone.
    pub revealed: bool,
    /// Who abstained, in the order they did.
    pub abstained: Vec<Voter>,
}

impl Serialize for Tally {
    /// As a JSON object whose key order is the tally's order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.groups.len()))?;
        for (option, voters) in &self.groups {
            map.serialize_entry(option, voters)?;
        }
        map.end()
    }
}

/// `story_changed`: the active story and its votes as the recipient may see them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryChanged {
    pub id: i64,
    pub story_label: String,
    pub description: String,
    #[serde(flatten)]
    pub votes: VotesView,
}

/// One entry of `participants_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// One entry of `stories_changed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryEntry {
    pub id: i64,
    pub label: String,
    /// A number for numeric options, else the option's text; null without points.
    pub story_points: Option<Value>,
}

/// Every frame the server sends. Build one, serialize it once with [`ServerEvent::to_frame`],
/// and share the bytes with every recipient it is for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum ServerEvent {
    StoryChanged(StoryChanged),
    StoryPointsSubmitted {
        story_points: Value,
    },
    PokerSessionEnded {
        poker_session_end_redirect_url: String,
    },
    ParticipantsChanged {
        participants: Vec<Participant>,
    },
    /// (ours)
    StoriesChanged {
        stories: Vec<StoryEntry>,
    },
    /// (ours) To the sender of a refused frame only.
    Error(WireError),
    /// (ours) A countdown runs for the current round: it ends at `ends_at` (server time,
    /// RFC 3339 with milliseconds, UTC), `duration` seconds after it started; `server_time` is
    /// the server's clock as the frame was made, so a client can correct for its own.
    TimerStarted {
        ends_at: String,
        duration: i64,
        server_time: String,
    },
    /// (ours) The countdown was stopped before it ran out (by the moderator, or because the
    /// round ended).
    TimerStopped {},
    /// (ours) The countdown ran out.
    TimerEnded {},
}

/// What a socket speaks: the original's four events, or those and ours. A socket opts in by
/// offering the WebSocket subprotocol [`Dialect::V2_SUBPROTOCOL`]; one that offers none speaks
/// the original's, whose own front end throws on any event name it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Only `story_changed`, `story_points_submitted`, `poker_session_ended` and
    /// `participants_changed`; refused input gets no `error` frame.
    Original,
    /// Every event, the **(ours)** ones included.
    V2,
}

impl Dialect {
    /// The subprotocol a client offers (`Sec-WebSocket-Protocol`) to get the **(ours)** events.
    pub const V2_SUBPROTOCOL: &'static str = "poker.v2";

    /// The dialect of a handshake that offered these subprotocols (the header's values, which
    /// may each hold a comma-separated list).
    pub fn from_offered<'a>(offered: impl IntoIterator<Item = &'a str>) -> Dialect {
        let v2 = offered
            .into_iter()
            .flat_map(|value| value.split(','))
            .any(|p| p.trim() == Self::V2_SUBPROTOCOL);
        if v2 {
            Dialect::V2
        } else {
            Dialect::Original
        }
    }

    /// Whether a socket of this dialect is sent this event.
    pub fn receives(self, event: &ServerEvent) -> bool {
        self == Dialect::V2 || !event.is_extension()
    }
}

impl ServerEvent {
    /// Whether this is one of our **(ours)** events, which only [`Dialect::V2`] sockets get.
    pub fn is_extension(&self) -> bool {
        match self {
            ServerEvent::StoryChanged(_)
            | ServerEvent::StoryPointsSubmitted { .. }
            | ServerEvent::PokerSessionEnded { .. }
            | ServerEvent::ParticipantsChanged { .. } => false,
            ServerEvent::StoriesChanged { .. }
            | ServerEvent::Error(_)
            | ServerEvent::TimerStarted { .. }
            | ServerEvent::TimerStopped {}
            | ServerEvent::TimerEnded {} => true,
        }
    }

    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::StoryChanged(_) => "story_changed",
            ServerEvent::StoryPointsSubmitted { .. } => "story_points_submitted",
            ServerEvent::PokerSessionEnded { .. } => "poker_session_ended",
            ServerEvent::ParticipantsChanged { .. } => "participants_changed",
            ServerEvent::StoriesChanged { .. } => "stories_changed",
            ServerEvent::Error(_) => "error",
            ServerEvent::TimerStarted { .. } => "timer_started",
            ServerEvent::TimerStopped {} => "timer_stopped",
            ServerEvent::TimerEnded {} => "timer_ended",
        }
    }

    /// The frame: `{"type": "send_json", "event": NAME, "data": {...}}`.
    pub fn to_frame(&self) -> String {
        #[derive(Serialize)]
        struct Frame<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            #[serde(flatten)]
            event: &'a ServerEvent,
        }
        serde_json::to_string(&Frame {
            kind: "send_json",
            event: self,
        })
        // Every field is a string, a number, a list or a map with string keys: this cannot
        // fail, but a frame is better than a panic if it ever did.
        .unwrap_or_else(|e| {
            format!(
                r#"{{"type":"send_json","event":"error","data":{{"code":"unavailable","message":"cannot encode a frame: {e}"}}}}"#
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorCode;
    use serde_json::json;

    fn frame(event: &ServerEvent) -> Value {
        serde_json::from_str(&event.to_frame()).unwrap()
    }

    #[test]
    fn a_socket_opts_in_to_our_events_with_the_subprotocol() {
        assert_eq!(Dialect::from_offered(["poker.v2"]), Dialect::V2);
        assert_eq!(Dialect::from_offered(["chat, poker.v2"]), Dialect::V2);
        assert_eq!(Dialect::from_offered(["chat", " poker.v2 "]), Dialect::V2);
        assert_eq!(
            Dialect::from_offered(["poker.v1", "poker.v22"]),
            Dialect::Original
        );
        assert_eq!(Dialect::from_offered([]), Dialect::Original);
    }

    #[test]
    fn the_original_dialect_gets_only_the_originals_four_events() {
        let ours = [
            ServerEvent::StoriesChanged { stories: vec![] },
            ServerEvent::Error(WireError::new(ErrorCode::Invalid, "no")),
            ServerEvent::TimerStarted {
                ends_at: "2026-12-02T14:05:00.000Z".into(),
                duration: 60,
                server_time: "2026-12-02T14:04:00.000Z".into(),
            },
            ServerEvent::TimerStopped {},
            ServerEvent::TimerEnded {},
        ];
        let originals = [
            ServerEvent::StoryPointsSubmitted {
                story_points: json!(3),
            },
            ServerEvent::PokerSessionEnded {
                poker_session_end_redirect_url: "/".into(),
            },
            ServerEvent::ParticipantsChanged {
                participants: vec![],
            },
        ];
        for event in &ours {
            assert!(!Dialect::Original.receives(event), "{}", event.name());
            assert!(Dialect::V2.receives(event));
        }
        for event in &originals {
            assert!(Dialect::Original.receives(event), "{}", event.name());
            assert!(Dialect::V2.receives(event));
        }
    }

    fn voter(id: i64, name: &str) -> Voter {
        Voter {
            id,
            name: name.into(),
        }
    }

    #[test]
    fn story_changed_has_the_original_shape_with_votes_in_tally_order() {
        let (a, b) = (voter(1, "ann"), voter(2, "bob"));
        let votes = [(&a, "8"), (&b, "3")];
        let event = ServerEvent::StoryChanged(StoryChanged {
            id: 7,
            story_label: "T-1: Title".into(),
            description: "<p>x</p>".into(),
            votes: VotesView::new(&Deck::default(), votes, Round::default(), true),
        });
        let text = event.to_frame();
        assert!(
            text.starts_with(r#"{"type":"send_json","event":"story_changed","data":{"#),
            "{text}"
        );
        assert_eq!(
            frame(&event)["data"],
            json!({
                "id": 7, "story_label": "T-1: Title", "description": "<p>x</p>",
                "votes": {"3": [{"id": 2, "name": "bob"}], "8": [{"id": 1, "name": "ann"}]},
                "voters": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}],
                "abstained": [], "revealed": false,
            })
        );
        let keys: Vec<String> = frame(&event)["data"]["votes"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["3", "8"], "ties keep the deck's order");
    }

    #[test]
    fn hidden_votes_keep_the_voters() {
        let a = voter(1, "ann");
        let round = Round {
            revealed: false,
            abstained: vec![voter(2, "bob")],
        };
        let view = VotesView::new(&Deck::default(), [(&a, "8")], round, false);
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({
                "votes": {}, "voters": [{"id": 1, "name": "ann"}],
                "abstained": [{"id": 2, "name": "bob"}], "revealed": false,
            })
        );
    }

    #[test]
    fn the_other_events() {
        assert_eq!(
            frame(&ServerEvent::StoryPointsSubmitted {
                story_points: json!(5)
            }),
            json!({"type": "send_json", "event": "story_points_submitted", "data": {"story_points": 5}})
        );
        assert_eq!(
            frame(&ServerEvent::PokerSessionEnded {
                poker_session_end_redirect_url: "/".into()
            })["data"],
            json!({"poker_session_end_redirect_url": "/"})
        );
        assert_eq!(
            frame(&ServerEvent::ParticipantsChanged {
                participants: vec![Participant {
                    id: 1,
                    name: "ann".into(),
                    permissions: vec![Permission::Vote, Permission::Moderate],
                }]
            })["data"],
            json!({"participants": [{"id": 1, "name": "ann", "permissions": ["vote", "moderate"]}]})
        );
        assert_eq!(
            frame(&ServerEvent::StoriesChanged {
                stories: vec![StoryEntry {
                    id: 3,
                    label: "T".into(),
                    story_points: None
                }]
            })["data"],
            json!({"stories": [{"id": 3, "label": "T", "story_points": null}]})
        );
        let error = ServerEvent::Error(WireError::new(ErrorCode::Forbidden, "no"));
        assert_eq!(error.name(), "error");
        assert_eq!(
            frame(&error),
            json!({"type": "send_json", "event": "error", "data": {"code": "forbidden", "message": "no"}})
        );
    }
}
