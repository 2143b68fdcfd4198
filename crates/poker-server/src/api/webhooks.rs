//! Webhooks (administrators only; README, "Webhooks"): registering URLs and reading what was
//! delivered to them.

use actix_web::{delete, get, post, web, HttpResponse};
use poker_db::{Delivery, Webhook};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body::{parse, required, JsonBody};
use super::parse_id;
use super::views::ErrorBody;
use crate::auth::Identity;
use crate::error::{blocking, or_missing, ApiError};
use crate::webhooks::sign;
use crate::AppState;

/// How many deliveries `GET /api/webhooks/{id}/deliveries` shows.
pub const DELIVERIES_SHOWN: i64 = 50;

/// The longest secret accepted.
const MAX_SECRET_LEN: usize = 200;

/// A webhook to register.
#[derive(Deserialize, ToSchema)]
pub struct CreateWebhookBody {
    /// Where events are POSTed: an `http` URL with a host.
    pub(crate) url: Option<String>,
    /// The session whose events it hears; absent or null: every session's.
    pub(crate) session_id: Option<i64>,
    /// The HMAC-SHA256 key of `X-Poker-Signature` (1–200 characters); absent: generated and
    /// shown once in the answer.
    pub(crate) secret: Option<String>,
}

/// A webhook. The secret is never shown, except once when the server generated it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    /// `null`: every session's events.
    pub session_id: Option<i64>,
    /// RFC 3339.
    pub created_at: String,
    /// The generated secret, in the answer to its creation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&Webhook> for WebhookView {
    fn from(hook: &Webhook) -> Self {
        WebhookView {
            id: hook.id,
            url: hook.url.clone(),
            session_id: hook.session_id,
            created_at: chrono::DateTime::from_timestamp(hook.created_at, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            secret: None,
        }
    }
}

/// One event sent to one webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    /// The event's `id` in the body (the same for every hook that got it).
    pub event_id: String,
    /// `points_set`, `stories_imported` or `session_ended`.
    pub event: String,
    pub session_id: Option<i64>,
    /// `pending` (attempts left), `delivered` (a 2xx answer), `failed` (every attempt spent)
    /// or `dropped` (too many deliveries were under way; never sent).
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// The last attempt's HTTP status, if it got an answer.
    pub status_code: Option<i64>,
    /// What went wrong with the last attempt, if anything.
    pub error: Option<String>,
    /// Every attempt: `{"attempt", "at", "status_code", "error"}`.
    #[schema(value_type = Vec<Object>)]
    pub attempt_log: Value,
    /// RFC 3339.
    pub created_at: String,
    /// When it last changed, RFC 3339.
    pub updated_at: String,
}

fn millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        DeliveryView {
            id: d.id,
            event_id: d.event_id.clone(),
            event: d.event.clone(),
            session_id: d.session_id,
            status: d.status.clone(),
            attempts: d.attempts,
            status_code: d.status_code,
            error: d.error.clone(),
            attempt_log: serde_json::from_str(&d.attempt_log)
                .unwrap_or_else(|_| Value::Array(Vec::new())),
            created_at: millis(d.created_at),
            updated_at: millis(d.updated_at),
        }
    }
}

/// Registers a webhook.
#[utoipa::path(
    tag = "webhooks",
    request_body = CreateWebhookBody,
    responses(
        (status = 201, body = WebhookView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/webhooks")]
pub async fn create(
    state: web::Data<AppState>,
    identity: Identity,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let body = parse::<CreateWebhookBody>(body.into_inner())?;
    let url = sign::checked_url(&required(body.url, "url")?)
        .map_err(|e| ApiError::invalid("url", e.to_string()))?;
    let session_id = body.session_id;
    let (secret, generated) = match body.secret {
        Some(secret) if (1..=MAX_SECRET_LEN).contains(&secret.chars().count()) => (secret, false),
        Some(_) => {
            return Err(ApiError::invalid(
                "secret",
                format!("must be 1 to {MAX_SECRET_LEN} characters"),
            ))
        }
        None => (sign::new_secret(), true),
    };
    let store = state.store.clone();
    let stored = secret.clone();
    let hook = blocking(move || {
        store
            .create_webhook(&url, session_id, &stored)
            .map_err(|e| match e {
                poker_db::DbError::NotFound => ApiError::invalid(
                    "session_id",
                    format!("no session {}", session_id.unwrap_or_default()),
                ),
                other => other.into(),
            })
    })
    .await?;
    // The URL, never the secret.
    log::info!(
        "webhook {} for {} created by {}: {}",
        hook.id,
        hook.session_id
            .map_or("every session".to_string(), |s| format!("session {s}")),
        identity.user.username,
        hook.url
    );
    let view = WebhookView {
        secret: generated.then_some(secret),
        ..WebhookView::from(&hook)
    };
    Ok(HttpResponse::Created().json(view))
}

/// Every webhook, oldest first.
#[utoipa::path(
    tag = "webhooks",
    responses((status = 200, body = Vec<WebhookView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/webhooks")]
pub async fn list(
    state: web::Data<AppState>,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let store = state.store.clone();
    let hooks = blocking(move || Ok(store.webhooks()?)).await?;
    Ok(HttpResponse::Ok().json(hooks.iter().map(WebhookView::from).collect::<Vec<_>>()))
}

/// One webhook.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    responses((status = 200, body = WebhookView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/webhooks/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "webhook")?;
    let store = state.store.clone();
    let hook = blocking(move || Ok(store.webhook(id)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook {id}")))?;
    Ok(HttpResponse::Ok().json(WebhookView::from(&hook)))
}

/// Deletes a webhook and its deliveries; attempts under way stop being recorded.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[delete("/api/webhooks/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "webhook")?;
    let store = state.store.clone();
    blocking(move || store.delete_webhook(id).map_err(or_missing("webhook", id))).await?;
    log::info!("webhook {id} deleted by {}", identity.user.username);
    Ok(HttpResponse::NoContent().finish())
}

/// A webhook's last 50 deliveries, newest first.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    responses((status = 200, body = Vec<DeliveryView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/webhooks/{id}/deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "webhook")?;
    let store = state.store.clone();
    let found = blocking(move || {
        if store.webhook(id)?.is_none() {
            return Ok(None);
        }
        Ok(Some(store.deliveries(id, DELIVERIES_SHOWN)?))
    })
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no webhook {id}")))?;
    Ok(HttpResponse::Ok().json(found.iter().map(DeliveryView::from).collect::<Vec<_>>()))
}
