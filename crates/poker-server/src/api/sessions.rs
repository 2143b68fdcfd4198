//! Poker sessions and their stories.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use poker_core::{fields, Deck};
use poker_db::{NewSession, NewStory};
use serde::Deserialize;
use serde_json::Value;

use super::body::Body;
use super::views;
use crate::auth::Identity;
use crate::error::{blocking, ApiError};
use crate::live::messages::{Changed, Notify};
use crate::AppState;

/// Parses an id from the path; anything but a positive integer is a 404.
pub fn parse_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no {what} {raw:?}")))
}

/// Sanitizes story HTML: ordinary formatting stays, scripts and handlers go.
pub fn sanitize_description(html: &str) -> String {
    ammonia::clean(html)
}

#[derive(Deserialize)]
pub struct ListQuery {
    open: Option<String>,
}

/// `GET /api/sessions` (`?open=true`: only those with stories left to estimate).
pub async fn list(
    state: web::Data<AppState>,
    _: Identity,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let open = match query.open.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(ApiError::invalid("open", "must be true or false")),
    };
    let store = state.store.clone();
    let sessions = blocking(move || Ok(store.list_sessions(open)?)).await?;
    let body: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let mut v = views::session(&s.session, None);
            v["unpokered_stories"] = s.unpokered_stories.into();
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /api/sessions`
pub async fn create(
    state: web::Data<AppState>,
    identity: Identity,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let body = Body::new(body.into_inner())?;
    let name = fields::session_name(&body.string("name")?)?;
    let date = body.string("poker_date")?;
    let poker_date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("poker_date", "must be a date as YYYY-MM-DD"))?;
    let deck = match body.get("deck") {
        None => Deck::default(),
        Some(raw) => Deck::from_json(raw).map_err(|e| ApiError::invalid("deck", e.to_string()))?,
    };
    let store = state.store.clone();
    let session = blocking(move || {
        Ok(store.create_session(&NewSession {
            name,
            poker_date,
            deck,
        })?)
    })
    .await?;
    log::info!(
        "session {} created by {}",
        session.id,
        identity.user.username
    );
    Ok(HttpResponse::Created().json(views::session(&session, Some(&[]))))
}

/// `GET /api/sessions/{id}`: the session with its stories in order.
pub async fn get(
    state: web::Data<AppState>,
    _: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, "session")?;
    let store = state.store.clone();
    let found = blocking(move || {
        let Some(session) = store.session(id)? else {
            return Ok(None);
        };
        Ok(Some((session, store.stories(id)?)))
    })
    .await?;
    let (session, stories) = found.ok_or_else(|| ApiError::NotFound(format!("no session {id}")))?;
    Ok(HttpResponse::Ok().json(views::session(&session, Some(&stories))))
}

/// `GET /api/sessions/{id}/stories`
pub async fn list_stories(
    state: web::Data<AppState>,
    _: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, "session")?;
    let store = state.store.clone();
    let stories = blocking(move || {
        if store.session(id)?.is_none() {
            return Ok(None);
        }
        Ok(Some(store.stories(id)?))
    })
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no session {id}")))?;
    Ok(HttpResponse::Ok().json(stories.iter().map(views::story).collect::<Vec<_>>()))
}

/// `POST /api/sessions/{id}/stories`: appended last; live members hear `stories_changed`.
pub async fn create_story(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let session_id = parse_id(&path, "session")?;
    let body = Body::new(body.into_inner())?;
    let ticket_number = fields::ticket_number(&body.string("ticket_number")?)?;
    let title = fields::title(&body.opt_string("title")?.unwrap_or_default())?;
    let description = sanitize_description(&body.opt_string("description")?.unwrap_or_default());
    let store = state.store.clone();
    let story = blocking(move || {
        store
            .create_story(
                session_id,
                &NewStory {
                    ticket_number,
                    title,
                    description,
                },
            )
            .map_err(|e| match e {
                poker_db::DbError::NotFound => {
                    ApiError::NotFound(format!("no session {session_id}"))
                }
                other => other.into(),
            })
    })
    .await?;
    state.registry.do_send(Notify {
        session_id,
        change: Changed::Stories,
    });
    Ok(HttpResponse::Created().json(views::story(&story)))
}
