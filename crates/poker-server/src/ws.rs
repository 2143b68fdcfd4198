//! `GET /ws/poker/{session_id}/` (and `/poker/{session_id}/`, the original's path): checks
//! origin, identity and session, then hands the socket to a `Participant` actor. The socket gets
//! our **(ours)** events only if it offered the subprotocol `poker.v2`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use poker_core::Dialect;

use crate::api::parse_id;
use crate::auth::identify;
use crate::error::{blocking, ApiError};
use crate::live::messages::{SocketLogin, SocketUser};
use crate::live::outbox::{CountedBody, Outbox};
use crate::live::participant::{Participant, MAX_FRAME_BYTES};
use crate::AppState;

/// Whether the request's `Origin` (if any) is the server's own host or an allowed origin.
fn origin_allowed(req: &HttpRequest, allowed: &[String]) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        // Scripts and other servers send no Origin; browsers always do.
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let origin_host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return false,
    };
    // The Host header carries no port when it is the scheme's default.
    let default_port = url
        .port_or_known_default()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    origin_host.eq_ignore_ascii_case(host)
        || format!("{origin_host}{default_port}").eq_ignore_ascii_case(host)
        || origin_host.eq_ignore_ascii_case(&format!("{host}{default_port}"))
}

/// Opens the live socket of a session (PROTOCOL.md section 2); a trailing slash is allowed.
/// Identity: the login cookie, `Authorization: Bearer`, or `?token=`. Offer the subprotocol
/// `poker.v2` (`Sec-WebSocket-Protocol`) for the events marked (ours); without it the socket
/// speaks the original's four events only. The original's path `/poker/{session_id}/` is the
/// same socket.
#[utoipa::path(
    tag = "operations",
    params(
        ("session_id" = i64, Path, description = "The session's id"),
        ("token" = Option<String>, Query, description = "A bearer token, for clients that cannot set headers"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade"),
        (status = 401, description = "No valid identity"),
        (status = 403, description = "The Origin is not allowed"),
        (status = 404, description = "No such session"),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/ws/poker/{session_id}")]
pub async fn connect(
    req: HttpRequest,
    stream: web::Payload,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    open_socket(req, stream, path, state).await
}

/// The socket itself, behind both paths: `/ws/poker/{session_id}` (documented, [`connect`]) and
/// the original's `/poker/{session_id}`, so that its own front end works unchanged.
async fn open_socket(
    req: HttpRequest,
    stream: web::Payload,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let session_id = parse_id(&path, "session")?;
    if !origin_allowed(&req, &state.settings.allowed_origins) {
        log::info!("session {session_id}: refused a socket from a foreign origin");
        return Err(ApiError::Forbidden(
            "this origin may not open sockets here".into(),
        ));
    }
    let identity = identify(&req, &state)
        .await?
        .ok_or_else(ApiError::login_required)?;
    let store = state.store.clone();
    let exists = blocking(move || Ok(store.session(session_id)?.is_some())).await?;
    // A guest's socket goes to its own session only (as if no other existed).
    if !exists || !identity.may_see(Some(session_id)) {
        return Err(ApiError::NotFound(format!("no session {session_id}")));
    }
    let dialect = Dialect::from_offered(
        req.headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .filter_map(|v| v.to_str().ok()),
    );
    // Answers with `poker.v2` when it was offered; other subprotocols are not taken up.
    let mut response = ws::handshake_with_protocols(&req, &[Dialect::V2_SUBPROTOCOL])
        .map_err(|e| ApiError::BadRequest(format!("expected a WebSocket upgrade: {e}")))?;
    let user = identity.user;
    let outbox = Arc::new(Outbox::new(state.live.socket_backlog_bytes));
    let participant = Participant::new(
        session_id,
        SocketUser {
            id: user.id,
            name: user.username,
            can_vote: user.can_vote,
            can_moderate: user.can_moderate,
            login: SocketLogin {
                token_hash: identity.token_hash,
                expires_at: identity.expires_at,
                request_id: crate::logging::current_request_id(),
            },
        },
        state.registry.clone(),
        Arc::clone(&state.live),
        outbox.clone(),
        dialect,
    );
    let codec = actix_http::ws::Codec::new().max_size(MAX_FRAME_BYTES);
    let body = ws::WebsocketContext::with_codec(participant, stream, codec);
    Ok(response.streaming(CountedBody::new(body, outbox)))
}

/// Registers the socket routes (the trailing slash is trimmed by the app's `NormalizePath`).
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(connect)
        .route("/poker/{session_id}", web::get().to(open_socket));
}
