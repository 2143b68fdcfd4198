//! Poker sessions.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::NaiveDate;
use poker_core::{fields, Deck, RevealMode};
use poker_db::{NewSession, SessionPatch};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::body::{parse, required, JsonBody};
use super::parse_id;
use super::views::{ErrorBody, SessionView};
use crate::auth::Identity;
use crate::error::{blocking, or_missing, ApiError};
use crate::live::change::SessionChange;
use crate::AppState;

/// A session to create.
#[derive(Deserialize, ToSchema)]
pub struct CreateSessionBody {
    /// 1–200 characters.
    pub(crate) name: Option<String>,
    /// `YYYY-MM-DD`.
    pub(crate) poker_date: Option<String>,
    /// A preset name (`default`, `fibonacci`, `tshirt`, `powers_of_two`) or
    /// `{"points": [...], "others": [...]}`; the original's deck when absent.
    #[schema(value_type = Option<Object>)]
    pub(crate) deck: Option<Value>,
    /// Whether voters see others' votes only after voting; `true` when absent.
    pub(crate) secret_votes: Option<bool>,
    /// When voters see the votes: `after_own_vote` (the default) or `moderator` (after
    /// `reveal_requested`, or when every present voter is done and `auto_reveal` is on).
    pub(crate) reveal: Option<String>,
    /// Whether the server reveals a round once every present voter has voted or abstained;
    /// `true` when absent.
    pub(crate) auto_reveal: Option<bool>,
    /// Whether a countdown that runs out reveals the round; `true` when absent.
    pub(crate) timer_reveals: Option<bool>,
}

/// Changes to a session; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateSessionBody {
    pub(crate) name: Option<String>,
    pub(crate) poker_date: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub(crate) deck: Option<Value>,
    /// Whether voters see others' votes only after voting.
    pub(crate) secret_votes: Option<bool>,
    /// `after_own_vote` or `moderator`.
    pub(crate) reveal: Option<String>,
    pub(crate) auto_reveal: Option<bool>,
    pub(crate) timer_reveals: Option<bool>,
}

impl CreateSessionBody {
    /// The session to create, every field checked (the handler's and the fuzz targets' step).
    pub(crate) fn checked(self) -> Result<NewSession, ApiError> {
        Ok(NewSession {
            name: fields::session_name(&required(self.name, "name")?)?,
            poker_date: date(&required(self.poker_date, "poker_date")?)?,
            deck: self
                .deck
                .as_ref()
                .map(deck)
                .transpose()?
                .unwrap_or_default(),
            secret_votes: self.secret_votes.unwrap_or(true),
            reveal: self
                .reveal
                .as_deref()
                .map(reveal)
                .transpose()?
                .unwrap_or_default(),
            auto_reveal: self.auto_reveal.unwrap_or(true),
            timer_reveals: self.timer_reveals.unwrap_or(true),
        })
    }
}

impl UpdateSessionBody {
    /// The changes, every given field checked.
    pub(crate) fn checked(self) -> Result<SessionPatch, ApiError> {
        Ok(SessionPatch {
            name: self.name.as_deref().map(fields::session_name).transpose()?,
            poker_date: self.poker_date.as_deref().map(date).transpose()?,
            deck: self.deck.as_ref().map(deck).transpose()?,
            secret_votes: self.secret_votes,
            reveal: self.reveal.as_deref().map(reveal).transpose()?,
            auto_reveal: self.auto_reveal,
            timer_reveals: self.timer_reveals,
        })
    }
}

/// Filters of the session list.
#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// `true`: only sessions with stories that have no points yet.
    open: Option<String>,
}

pub(crate) fn date(raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("poker_date", "must be a date as YYYY-MM-DD"))
}

pub(crate) fn reveal(raw: &str) -> Result<RevealMode, ApiError> {
    raw.parse()
        .map_err(|e: poker_core::UnknownRevealMode| ApiError::invalid("reveal", e.to_string()))
}

pub(crate) fn deck(raw: &Value) -> Result<Deck, ApiError> {
    Deck::from_json(raw).map_err(|e| ApiError::invalid("deck", e.to_string()))
}

/// Sessions, newest poker date first, each with `unpokered_stories`.
#[utoipa::path(
    tag = "sessions",
    params(ListQuery),
    responses((status = 200, body = Vec<SessionView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/sessions")]
pub async fn list(
    state: web::Data<AppState>,
    identity: Identity,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let open = match query.open.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(ApiError::invalid("open", "must be true or false")),
    };
    let store = state.store.clone();
    let sessions = blocking(move || Ok(store.list_sessions(open)?)).await?;
    let body: Vec<SessionView> = sessions
        .iter()
        .filter(|s| identity.may_see(Some(s.session.id)))
        .map(|s| SessionView {
            unpokered_stories: Some(s.unpokered_stories),
            ..SessionView::new(&s.session)
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Creates a session.
#[utoipa::path(
    tag = "sessions",
    request_body = CreateSessionBody,
    responses(
        (status = 201, body = SessionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/sessions")]
pub async fn create(
    state: web::Data<AppState>,
    identity: Identity,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let new = parse::<CreateSessionBody>(body.into_inner())?.checked()?;
    let store = state.store.clone();
    let session = blocking(move || Ok(store.create_session(&new)?)).await?;
    log::info!(
        "session {} created by {}",
        session.id,
        identity.user.username
    );
    Ok(HttpResponse::Created().json(SessionView::new(&session).with_stories(&[])))
}

/// A session with its stories in order and `active_story_id`.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "The session's id")),
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/sessions/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, "session")?;
    identity.require_session(Some(id), "session")?;
    let store = state.store.clone();
    let found = blocking(move || {
        let Some(session) = store.session(id)? else {
            return Ok(None);
        };
        Ok(Some((session, store.stories(id)?)))
    })
    .await?;
    let (session, stories) = found.ok_or_else(|| ApiError::NotFound(format!("no session {id}")))?;
    Ok(HttpResponse::Ok().json(SessionView::new(&session).with_stories(&stories)))
}

/// Changes a session. A new deck, secrecy or reveal setting reaches open sockets at once.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "The session's id")),
    request_body = UpdateSessionBody,
    responses(
        (status = 200, body = SessionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[patch("/api/sessions/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "session")?;
    let patch = parse::<UpdateSessionBody>(body.into_inner())?.checked()?;
    let live_change = patch.deck.is_some()
        || patch.secret_votes.is_some()
        || patch.reveal.is_some()
        || patch.auto_reveal.is_some()
        || patch.timer_reveals.is_some();
    let store = state.store.clone();
    let ((session, version), stories) = blocking(move || {
        let session = store
            .update_session(id, &patch)
            .map_err(or_missing("session", id))?;
        Ok((session, store.stories(id)?))
    })
    .await?;
    if live_change {
        let change = SessionChange::Edited {
            story: true,
            stories: false,
        };
        state.notify(version, change);
    }
    Ok(HttpResponse::Ok().json(SessionView::new(&session).with_stories(&stories)))
}

/// Deletes a session. Its stories stay, unassigned; open sockets get `poker_session_ended`.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "The session's id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[delete("/api/sessions/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "session")?;
    let store = state.store.clone();
    blocking(move || store.delete_session(id).map_err(or_missing("session", id))).await?;
    log::info!("session {id} deleted by {}", identity.user.username);
    state.notify_deleted(id);
    Ok(HttpResponse::NoContent().finish())
}
