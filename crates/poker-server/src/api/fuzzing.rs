//! Entry points for the fuzz targets (`crates/poker-fuzz`, `fuzz/`): each REST body kind and the
//! story import, run on raw bytes through the same parse path the handlers use, without a
//! database or an HTTP request.
//!
//! Each `BodyKind` arm calls the functions its handler calls, in the handler's order, and stops
//! where the handler reaches the database. When a handler's validation changes, change its arm
//! here in the same commit (the corpus replay in `crates/poker-fuzz/tests` then covers it).
//! Not an API: hidden from the docs, used only by the fuzzing crate.

use poker_core::fields;
use serde_json::Value;

use super::body::{parse, required};
use super::stories::new_story;
use super::{auth, sessions, stories, transfer, users};
use crate::error::ApiError;

/// What an import yields per story (the store's type, re-exported for the fuzzing crate).
pub use poker_db::NewStory;
/// What a session body yields (the store's types, re-exported for the fuzzing crate).
pub use poker_db::{NewSession, SessionPatch};

/// The JSON request bodies of the REST API, one per handler that reads one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `POST /api/auth/login`
    Login,
    /// `POST /api/users`
    CreateUser,
    /// `PATCH /api/users/{id}`
    UpdateUser,
    /// `POST /api/sessions`
    CreateSession,
    /// `PATCH /api/sessions/{id}`
    UpdateSession,
    /// `POST /api/sessions/{id}/stories`
    CreateStory,
    /// `PATCH /api/stories/{id}`
    UpdateStory,
    /// `PUT /api/sessions/{id}/stories/order`
    StoryOrder,
}

impl BodyKind {
    /// Every body kind.
    pub const ALL: [BodyKind; 8] = [
        BodyKind::Login,
        BodyKind::CreateUser,
        BodyKind::UpdateUser,
        BodyKind::CreateSession,
        BodyKind::UpdateSession,
        BodyKind::CreateStory,
        BodyKind::UpdateStory,
        BodyKind::StoryOrder,
    ];

    /// The fields this body has: a 422 from it names one of them (or a path inside one).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            BodyKind::Login => &["username", "password"],
            BodyKind::CreateUser | BodyKind::UpdateUser => &[
                "username",
                "password",
                "can_vote",
                "can_moderate",
                "is_admin",
            ],
            BodyKind::CreateSession | BodyKind::UpdateSession => &[
                "name",
                "poker_date",
                "deck",
                "secret_votes",
                "reveal",
                "auto_reveal",
                "timer_reveals",
            ],
            BodyKind::CreateStory => &["ticket_number", "title", "description"],
            BodyKind::UpdateStory => &[
                "ticket_number",
                "title",
                "description",
                "story_points",
                "poker_session_id",
            ],
            BodyKind::StoryOrder => &["story_ids"],
        }
    }
}

/// What a body became once parsed and validated: what the handler hands to the store.
#[derive(Debug, Clone)]
pub enum Accepted {
    Login {
        username: String,
        password: String,
    },
    CreateUser {
        username: String,
        password: String,
        rights: [bool; 3],
    },
    UpdateUser {
        username: Option<String>,
        password: Option<String>,
        rights: [Option<bool>; 3],
    },
    CreateSession(NewSession),
    UpdateSession(SessionPatch),
    CreateStory(NewStory),
    UpdateStory {
        ticket_number: Option<String>,
        title: Option<String>,
        description: Option<String>,
        /// Checked against the session's deck later, in the database step.
        story_points: Option<Option<Value>>,
        poker_session_id: Option<Option<i64>>,
    },
    StoryOrder(Vec<i64>),
}

/// Runs a request body through `JsonBody`'s JSON step and the handler's parse and validation.
pub fn parse_body(kind: BodyKind, bytes: &[u8]) -> Result<Accepted, ApiError> {
    // What `JsonBody` does with the bytes it read.
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    Ok(match kind {
        BodyKind::Login => {
            let body: auth::LoginBody = parse(value)?;
            Accepted::Login {
                username: required(body.username, "username")?,
                password: required(body.password, "password")?,
            }
        }
        BodyKind::CreateUser => {
            let body: users::CreateUserBody = parse(value)?;
            Accepted::CreateUser {
                username: fields::username(&required(body.username, "username")?)?,
                password: fields::password(&required(body.password, "password")?)?,
                rights: [
                    body.can_vote.unwrap_or(false),
                    body.can_moderate.unwrap_or(false),
                    body.is_admin.unwrap_or(false),
                ],
            }
        }
        BodyKind::UpdateUser => {
            let body: users::UpdateUserBody = parse(value)?;
            Accepted::UpdateUser {
                username: body.username.as_deref().map(fields::username).transpose()?,
                password: body.password.as_deref().map(fields::password).transpose()?,
                rights: [body.can_vote, body.can_moderate, body.is_admin],
            }
        }
        BodyKind::CreateSession => {
            Accepted::CreateSession(parse::<sessions::CreateSessionBody>(value)?.checked()?)
        }
        BodyKind::UpdateSession => {
            Accepted::UpdateSession(parse::<sessions::UpdateSessionBody>(value)?.checked()?)
        }
        BodyKind::CreateStory => {
            let body: stories::CreateStoryBody = parse(value)?;
            Accepted::CreateStory(new_story(body.ticket_number, body.title, body.description)?)
        }
        BodyKind::UpdateStory => {
            let edit = parse::<stories::UpdateStoryBody>(value)?.checked()?;
            Accepted::UpdateStory {
                ticket_number: edit.ticket_number,
                title: edit.title,
                description: edit.description,
                story_points: edit.story_points,
                poker_session_id: edit.poker_session_id,
            }
        }
        BodyKind::StoryOrder => {
            let body: stories::OrderBody = parse(value)?;
            Accepted::StoryOrder(required(body.story_ids, "story_ids")?)
        }
    })
}

/// The CSV import (`text/csv`) of `POST /api/sessions/{id}/stories/import`, before the store.
pub fn import_csv(bytes: &[u8]) -> Result<Vec<NewStory>, ApiError> {
    transfer::from_csv(bytes)
}

/// The JSON import (`application/json`) of `POST /api/sessions/{id}/stories/import`, before the store.
pub fn import_json(bytes: &[u8]) -> Result<Vec<NewStory>, ApiError> {
    transfer::from_json(bytes)
}
