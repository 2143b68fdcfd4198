//! (ours) A round's actions for scripts, beside the socket events that do the same (README,
//! "Additions to the protocol"): a quick round, the moderator's reveal, and the countdown. Each
//! is written through the session's writer like the socket's events and reaches the live
//! session (here and in the other processes) as the same change.

use actix_web::{delete, post, web, HttpResponse};
use poker_core::fields;
use poker_db::SessionVersion;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{parse, required, OptionalJsonBody};
use super::parse_id;
use super::views::{ErrorBody, StoryView, TimerView};
use crate::auth::Identity;
use crate::error::{blocking, or_missing, ApiError};
use crate::live::change::SessionChange;
use crate::AppState;

/// These need the right to moderate, or to administer.
fn require_moderator(identity: &Identity, what: &str) -> Result<(), ApiError> {
    if identity.user.can_moderate || identity.user.is_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{what} needs the right to moderate"
        )))
    }
}

/// The session's active story, or 409 when none is active (404 for no session).
async fn active_story(state: &AppState, id: i64) -> Result<i64, ApiError> {
    let store = state.store.clone();
    let session = blocking(move || Ok(store.session(id)?)).await?;
    let session = session.ok_or_else(|| ApiError::NotFound(format!("no session {id}")))?;
    session
        .active_story_id
        .ok_or_else(|| ApiError::Conflict("no story is active in this session".into()))
}

fn moved_on() -> ApiError {
    ApiError::Conflict("the active story changed meanwhile; nothing was saved".into())
}

/// A quick round to start; without a ticket number, the story is named by the server's clock
/// (`Quick round 14:05`).
#[derive(Deserialize, ToSchema)]
pub struct QuickRoundBody {
    /// 1–200 characters.
    pub(crate) ticket_number: Option<String>,
}

/// (ours) Starts a round without a story: a story named by the time (or `ticket_number`) is
/// added after the session's last one and becomes the active story, so its votes and points are
/// kept like any other's. Open sockets get `story_changed` and `stories_changed`. Needs the
/// right to moderate (or to administer); the body may be empty.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "The session's id")),
    request_body(content = Option<QuickRoundBody>),
    responses(
        (status = 201, body = StoryView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/sessions/{id}/quick-round")]
pub async fn quick_round(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: OptionalJsonBody,
) -> Result<HttpResponse, ApiError> {
    require_moderator(&identity, "starting a quick round")?;
    let id = parse_id(&path, "session")?;
    let ticket = match body.0 {
        None => None,
        Some(value) => parse::<QuickRoundBody>(value)?
            .ticket_number
            .as_deref()
            .map(fields::ticket_number)
            .transpose()?,
    };
    let ticket = ticket.unwrap_or_else(crate::live::quick_round_name);
    let (version, story) = state
        .store
        .write(id, move |c| poker_db::live::quick_round(c, id, &ticket))
        .await
        .map_err(or_missing("session", id))?;
    log::info!(
        "session {id}: quick round {} started by {}",
        story.id,
        identity.user.username
    );
    state.notify(
        poker_db::SessionVersion {
            session_id: id,
            version,
        },
        SessionChange::QuickRound {
            story: story.clone(),
        },
    );
    Ok(HttpResponse::Created().json(StoryView::from(&story)))
}

/// (ours) Reveals the active story's round to everyone, as `reveal_requested` does; open
/// sockets get `story_changed`. Revealed already: 200 all the same.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The round is revealed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/sessions/{id}/reveal")]
pub async fn reveal(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_moderator(&identity, "revealing the votes")?;
    let id = parse_id(&path, "session")?;
    let story_id = active_story(&state, id).await?;
    let version = state
        .store
        .write(id, move |c| poker_db::live::reveal(c, id, story_id))
        .await?;
    match version {
        Some(version) => state.notify(
            SessionVersion {
                session_id: id,
                version,
            },
            SessionChange::Revealed { story_id },
        ),
        None => {
            // Revealed already, or the story moved on in between.
            let store = state.store.clone();
            let round = blocking(move || Ok(store.round(story_id)?)).await?;
            if !round.revealed {
                return Err(moved_on());
            }
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({"story_id": story_id, "revealed": true})))
}

/// A countdown to start.
#[derive(Deserialize, ToSchema)]
pub struct TimerBody {
    /// Seconds, a whole number from 1 to 3600.
    pub(crate) seconds: Option<i64>,
}

/// (ours) Starts (or restarts) the active story's countdown, as `timer_start_requested` does;
/// open sockets get `timer_started`.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "The session's id")),
    request_body = TimerBody,
    responses(
        (status = 201, body = TimerView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/sessions/{id}/timer")]
pub async fn start_timer(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: super::body::JsonBody,
) -> Result<HttpResponse, ApiError> {
    require_moderator(&identity, "starting the countdown")?;
    let id = parse_id(&path, "session")?;
    let body: TimerBody = parse(body.into_inner())?;
    let seconds = required(body.seconds, "seconds")?;
    if !(1..=poker_core::wire::MAX_TIMER_SECONDS).contains(&seconds) {
        return Err(ApiError::invalid(
            "seconds",
            format!(
                "must be a whole number from 1 to {}",
                poker_core::wire::MAX_TIMER_SECONDS
            ),
        ));
    }
    let story_id = active_story(&state, id).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let started = state
        .store
        .write(id, move |c| {
            poker_db::live::start_timer(c, id, story_id, seconds, now)
        })
        .await?;
    let (version, timer) = started.ok_or_else(moved_on)?;
    state.notify(
        SessionVersion {
            session_id: id,
            version,
        },
        SessionChange::TimerStarted { story_id, timer },
    );
    Ok(HttpResponse::Created().json(TimerView::from(&timer)))
}

/// (ours) Stops the active story's countdown, as `timer_stop_requested` does; open sockets get
/// `timer_stopped`. None runs: 204 all the same.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "The session's id")),
    responses(
        (status = 204, description = "No countdown runs"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[delete("/api/sessions/{id}/timer")]
pub async fn stop_timer(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_moderator(&identity, "stopping the countdown")?;
    let id = parse_id(&path, "session")?;
    let story_id = active_story(&state, id).await?;
    let version = state
        .store
        .write(id, move |c| poker_db::live::stop_timer(c, id, story_id))
        .await?
        .ok_or_else(moved_on)?;
    state.notify(
        SessionVersion {
            session_id: id,
            version,
        },
        SessionChange::TimerStopped { story_id },
    );
    Ok(HttpResponse::NoContent().finish())
}
