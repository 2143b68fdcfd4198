//! What a committed change to a live session is, and how it crosses processes.
//!
//! Every change gets a version in the transaction that makes it (`poker_db::live`); a session
//! actor applies changes strictly in version order, whether they come from its own writes, from
//! a REST call of its process, or from another process through the backplane (Redis). Each
//! change says what it set, not what it added, so applying it twice (after a reload that read
//! it already) leaves the same state.

use poker_db::{Abstention, Story, StoryRound, Timer, VoteRow};
use serde::{Deserialize, Serialize};

use super::messages::{Changed, SocketLogin, SocketUser};

/// A committed change to a session's live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionChange {
    /// A vote was cast or changed on the active story (the voter's abstention, if any, went).
    Voted { story_id: i64, vote: VoteRow },
    /// Someone said they do not vote on the active story (their vote, if any, went).
    Abstained {
        story_id: i64,
        abstention: Abstention,
    },
    /// The active story's round was revealed to everyone.
    Revealed { story_id: i64 },
    /// The active story's countdown was started (or restarted).
    TimerStarted { story_id: i64, timer: Timer },
    /// The active story's countdown was stopped.
    TimerStopped { story_id: i64 },
    /// The active story's votes and abstentions were cleared, and its round hidden again.
    Reset { story_id: i64 },
    /// The active story got its points.
    Points { story_id: i64, points: String },
    /// A story became the active one.
    Activated {
        story: Story,
        votes: Vec<VoteRow>,
        /// Absent from a process that predates rounds: a fresh round.
        #[serde(default)]
        round: StoryRound,
    },
    /// A quick round: a new story at the end of the list, now the active one.
    QuickRound { story: Story },
    /// No story is left without points: the session ended.
    Ended,
    /// A REST edit: the state is reloaded, and members get `story_changed` when `story` (the
    /// active story, its votes, the deck or the secrecy setting changed) and `stories_changed`
    /// when `stories` (the list of stories, their order, labels or points changed).
    Edited { story: bool, stories: bool },
}

/// A member as other processes see it (no login secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteMember {
    pub id: i64,
    pub name: String,
    pub can_vote: bool,
    pub can_moderate: bool,
}

impl From<&SocketUser> for RemoteMember {
    fn from(user: &SocketUser) -> Self {
        RemoteMember {
            id: user.id,
            name: user.name.clone(),
            can_vote: user.can_vote,
            can_moderate: user.can_moderate,
        }
    }
}

impl From<RemoteMember> for SocketUser {
    fn from(member: RemoteMember) -> Self {
        SocketUser {
            id: member.id,
            name: member.name,
            can_vote: member.can_vote,
            can_moderate: member.can_moderate,
            login: SocketLogin::default(),
        }
    }
}

/// A message on the backplane, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Envelope {
    /// On a session's channel: a change, with the session's version after it.
    Change {
        origin: String,
        session: i64,
        version: i64,
        change: SessionChange,
    },
    /// On a session's channel: who is here changed on `origin` (read it from Redis).
    Presence { origin: String, session: i64 },
    /// On a session's channel: the session was deleted.
    Deleted { origin: String, session: i64 },
    /// On the channel for all sessions: a user's rights or logins changed.
    Users { origin: String, change: Changed },
}

impl Envelope {
    pub fn encode(&self) -> String {
        // Serializing these types cannot fail (no maps with non-string keys, no custom code).
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(text: &str) -> Result<Envelope, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The process that sent it.
    pub fn origin(&self) -> &str {
        match self {
            Envelope::Change { origin, .. }
            | Envelope::Presence { origin, .. }
            | Envelope::Deleted { origin, .. }
            | Envelope::Users { origin, .. } => origin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_as_json() {
        let envelopes = [
            Envelope::Change {
                origin: "a".into(),
                session: 3,
                version: 7,
                change: SessionChange::Voted {
                    story_id: 1,
                    vote: VoteRow {
                        user_id: 2,
                        username: "ann".into(),
                        choice: "5".into(),
                    },
                },
            },
            Envelope::Presence {
                origin: "b".into(),
                session: 3,
            },
            Envelope::Users {
                origin: "c".into(),
                change: Changed::LoginsEnded {
                    user_id: 4,
                    token_hash: None,
                    why: "logged out".into(),
                },
            },
        ];
        for envelope in envelopes {
            let text = envelope.encode();
            assert_eq!(
                Envelope::decode(&text).expect("decodes"),
                envelope,
                "{text}"
            );
        }
        assert!(Envelope::decode("{\"type\":\"nonsense\"}").is_err());
    }
}
