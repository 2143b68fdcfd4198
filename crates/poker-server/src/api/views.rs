//! The JSON shapes of the REST API, documented in the OpenAPI document.

use poker_core::deck::points_json;
use poker_core::Deck;
use poker_db::{PokerSession, Story, User};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A user account (the password is never returned).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub can_vote: bool,
    pub can_moderate: bool,
    pub is_admin: bool,
    /// `vote`, `moderate` and `admin`, as far as the user has them.
    pub permissions: Vec<&'static str>,
    /// (ours) For a guest let in by an invite link: the one session they may see (only in
    /// `GET /api/auth/me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_session_id: Option<i64>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        let permissions = [
            (u.can_vote, "vote"),
            (u.can_moderate, "moderate"),
            (u.is_admin, "admin"),
        ]
        .into_iter()
        .filter_map(|(has, name)| has.then_some(name))
        .collect();
        UserView {
            id: u.id,
            username: u.username.clone(),
            can_vote: u.can_vote,
            can_moderate: u.can_moderate,
            is_admin: u.is_admin,
            permissions,
            guest_session_id: None,
        }
    }
}

/// The answer to a login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    pub user: UserView,
}

/// A new bearer token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub token: String,
}

/// The cards of a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeckView {
    /// Options that can become story points.
    pub points: Vec<String>,
    /// Other options a voter may pick.
    pub others: Vec<String>,
    /// Translation keys of options a client may show in its user's language (a preset deck's
    /// "Too large": `too_large`, "No idea": `no_idea`); options not listed are shown as typed.
    pub label_keys: std::collections::BTreeMap<String, String>,
}

impl From<&Deck> for DeckView {
    fn from(d: &Deck) -> Self {
        DeckView {
            points: d.points.clone(),
            others: d.others.clone(),
            label_keys: d
                .label_keys()
                .into_iter()
                .map(|(option, key)| (option, key.to_string()))
                .collect(),
        }
    }
}

/// A story.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoryView {
    pub id: i64,
    pub poker_session_id: Option<i64>,
    pub position: i64,
    pub ticket_number: String,
    pub title: String,
    /// Sanitized HTML.
    pub description: String,
    /// A number for numeric decks, else the option's text; null until estimated.
    #[schema(value_type = Option<Object>)]
    pub story_points: Option<Value>,
    /// `"TICKET: Title"`, or `"TICKET"` when the title is empty.
    pub label: String,
}

impl From<&Story> for StoryView {
    fn from(s: &Story) -> Self {
        StoryView {
            id: s.id,
            poker_session_id: s.poker_session_id,
            position: s.position,
            ticket_number: s.ticket_number.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            story_points: s.story_points.as_deref().map(points_json),
            label: s.label(),
        }
    }
}

/// A round's countdown, as `timer_started` gives it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimerView {
    /// When it ends: RFC 3339, UTC, with milliseconds.
    pub ends_at: String,
    /// Its length in seconds.
    pub duration: i64,
}

impl From<&poker_db::Timer> for TimerView {
    fn from(t: &poker_db::Timer) -> Self {
        TimerView {
            ends_at: crate::live::frames::wire_time(t.ends_at),
            duration: t.seconds,
        }
    }
}

/// A poker session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub poker_date: String,
    pub active_story_id: Option<i64>,
    pub deck: DeckView,
    /// Whether voters see others' votes only after voting.
    pub secret_votes: bool,
    /// When voters see the votes: `after_own_vote` or `moderator`.
    #[schema(value_type = String)]
    pub reveal: poker_core::RevealMode,
    /// Whether the server reveals a round once every present voter is done.
    pub auto_reveal: bool,
    /// The round's countdown while it runs, else null.
    pub timer: Option<TimerView>,
    /// Whether a countdown that runs out reveals the round.
    pub timer_reveals: bool,
    /// Its stories in order (on a single session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stories: Option<Vec<StoryView>>,
    /// How many of its stories have no points yet (in listings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpokered_stories: Option<i64>,
}

impl SessionView {
    pub fn new(s: &PokerSession) -> Self {
        SessionView {
            id: s.id,
            name: s.name.clone(),
            poker_date: s.poker_date.format("%Y-%m-%d").to_string(),
            active_story_id: s.active_story_id,
            deck: (&s.deck).into(),
            secret_votes: s.secret_votes,
            reveal: s.reveal,
            auto_reveal: s.auto_reveal,
            timer: s
                .timer
                .filter(|t| t.ends_at > chrono::Utc::now().timestamp_millis())
                .map(|t| TimerView::from(&t)),
            timer_reveals: s.timer_reveals,
            stories: None,
            unpokered_stories: None,
        }
    }

    pub fn with_stories(mut self, stories: &[Story]) -> Self {
        self.stories = Some(stories.iter().map(StoryView::from).collect());
        self
    }
}

/// Someone who voted.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoterView {
    pub id: i64,
    pub name: String,
}

/// A story's votes, as in `story_changed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VotesView {
    /// Each chosen option to its voters, most votes first (empty while secret to the caller).
    #[schema(value_type = Object)]
    pub votes: Value,
    /// Everyone who has voted, in the order they voted.
    pub voters: Vec<VoterView>,
    /// Everyone who said they do not vote on this story, in the order they said so.
    pub abstained: Vec<VoterView>,
    /// Whether the round's votes were revealed to everyone.
    pub revealed: bool,
}

/// The body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `payload_too_large`,
    /// `unsupported_media_type`, `invalid`, `unavailable` or `internal`.
    pub code: String,
    pub message: String,
    /// The offending field, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
