//! Rows as the rest of the server sees them.

use chrono::NaiveDate;
use diesel::prelude::*;
use poker_core::{Deck, RevealMode};

use crate::schema::*;

/// A user account (the password hash stays inside poker-db and auth).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub can_vote: bool,
    pub can_moderate: bool,
    pub is_admin: bool,
}

/// A user with the stored password hash, for checking a login.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserCredentials {
    #[diesel(embed)]
    pub user: User,
    pub password_hash: String,
}

/// What it takes to create a user (the password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub can_vote: bool,
    pub can_moderate: bool,
    pub is_admin: bool,
}

/// A poker session.
#[derive(Debug, Clone, PartialEq)]
pub struct PokerSession {
    pub id: i64,
    pub name: String,
    pub poker_date: NaiveDate,
    pub active_story_id: Option<i64>,
    pub deck: Deck,
    pub secret_votes: bool,
    /// When votes are shown to those who can vote.
    pub reveal: RevealMode,
    /// Whether the server reveals a round once every present voter is done.
    pub auto_reveal: bool,
    /// The round's countdown, while one was started (it may have run out since).
    pub timer: Option<Timer>,
    /// Whether a countdown that runs out reveals the round.
    pub timer_reveals: bool,
}

/// A round's countdown: it ends at `ends_at` (milliseconds since 1970, UTC), `seconds` after
/// it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timer {
    pub ends_at: i64,
    pub seconds: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = poker_sessions)]
pub(crate) struct SessionRow {
    pub id: i64,
    pub name: String,
    pub poker_date: NaiveDate,
    pub active_story_id: Option<i64>,
    pub deck: String,
    pub secret_votes: bool,
    /// Changes counted so far (see `live::bump_version`).
    pub version: i64,
    pub reveal: String,
    pub auto_reveal: bool,
    pub timer_ends_at: Option<i64>,
    pub timer_seconds: Option<i64>,
    pub timer_reveals: bool,
}

impl From<SessionRow> for PokerSession {
    fn from(row: SessionRow) -> Self {
        // The deck was validated when written; a row edited by hand falls back to the default.
        let deck = serde_json::from_str(&row.deck).unwrap_or_else(|e| {
            log::warn!(
                "session {}: unreadable deck ({e}); using the default deck",
                row.id
            );
            Deck::default()
        });
        PokerSession {
            id: row.id,
            name: row.name,
            poker_date: row.poker_date,
            active_story_id: row.active_story_id,
            deck,
            secret_votes: row.secret_votes,
            reveal: row.reveal.parse().unwrap_or_else(|e| {
                log::warn!("session {}: {e}; using after_own_vote", row.id);
                RevealMode::default()
            }),
            auto_reveal: row.auto_reveal,
            timer: match (row.timer_ends_at, row.timer_seconds) {
                (Some(ends_at), Some(seconds)) => Some(Timer { ends_at, seconds }),
                _ => None,
            },
            timer_reveals: row.timer_reveals,
        }
    }
}

/// A session in a listing, with how many of its stories have no points yet.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub session: PokerSession,
    pub unpokered_stories: i64,
}

/// What it takes to create a poker session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub name: String,
    pub poker_date: NaiveDate,
    pub deck: Deck,
    /// Whether voters see others' votes only after voting (the default).
    pub secret_votes: bool,
    pub reveal: RevealMode,
    pub auto_reveal: bool,
    pub timer_reveals: bool,
}

/// A story to estimate. Serializable: a live change that carries one crosses processes.
#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize, serde::Deserialize,
)]
#[diesel(table_name = stories)]
pub struct Story {
    pub id: i64,
    pub poker_session_id: Option<i64>,
    pub position: i64,
    pub ticket_number: String,
    pub title: String,
    pub description: String,
    pub story_points: Option<String>,
}

impl Story {
    /// `"TICKET: Title"`, or `"TICKET"` when the title is empty.
    pub fn label(&self) -> String {
        poker_core::story_label(&self.ticket_number, &self.title)
    }
}

/// What it takes to create a story (fields already validated and the description sanitized).
#[derive(Debug, Clone)]
pub struct NewStory {
    pub ticket_number: String,
    pub title: String,
    pub description: String,
}

/// One vote on a story, with the voter's name, in the order votes were first cast.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VoteRow {
    pub user_id: i64,
    pub username: String,
    pub choice: String,
}

/// Someone who said they do not vote on a story, in the order they said so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Abstention {
    pub user_id: i64,
    pub username: String,
}

/// A story's round besides its votes: whether it was revealed, and who abstained.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct StoryRound {
    pub revealed: bool,
    pub abstained: Vec<Abstention>,
}

/// A session's version after a change committed (see `live::bump_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionVersion {
    pub session_id: i64,
    pub version: i64,
}

/// What a live session needs from storage when it starts.
#[derive(Debug, Clone)]
pub struct LiveState {
    pub session: PokerSession,
    /// The version read first: the rest is at least this new.
    pub version: i64,
    pub active: Option<(Story, Vec<VoteRow>, StoryRound)>,
}

/// The outcome of `next_story_requested`.
#[derive(Debug, Clone)]
pub enum NextStory {
    /// This story is now active (its votes so far with it).
    Active(Story, Vec<VoteRow>, StoryRound),
    /// No story without points is left: the session has ended and has no active story.
    Ended,
}
