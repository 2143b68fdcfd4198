//! Every HTTP request gets an id and, when it is answered, one access-log line.
//!
//! The id is the request's `X-Request-Id` when that is a sensible token (a balancer or client
//! that names its requests keeps its name), else a new random one. It goes back in the
//! response's `X-Request-Id`, and every line logged while the request is handled carries it as
//! `request_id` (see [`crate::logging`]). The access line has the method, the path (never the
//! query string, which may hold `?token=`, and with an invite link's secret replaced by
//! `{token}`), the status, the duration and the client's address.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error};

use crate::logging::InRequest;
use crate::AppState;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Paths answered without an access line: health checks come every few seconds from a
/// balancer or an orchestrator.
const QUIET_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// The id to use for a request: its own `X-Request-Id` when that is 1–128 characters of
/// letters, digits and `-_.:@/+=`, else a new one (16 random bytes in hex).
pub fn request_id(given: Option<&HeaderValue>) -> Arc<str> {
    let given = given.and_then(|v| v.to_str().ok()).filter(|id| {
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:@/+=".contains(&b))
    });
    match given {
        Some(id) => Arc::from(id),
        None => {
            let mut bytes = [0u8; 16];
            // The id only tells lines apart: if the system's randomness failed, zeros will do.
            let _ = getrandom::fill(&mut bytes);
            Arc::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
    }
}

/// The middleware (`middleware::from_fn`): sets the id, runs the request with it, logs the
/// answer and names the id in the response.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request_id(req.headers().get(&REQUEST_ID));
    let started = Instant::now();
    let method = req.method().to_string();
    let path = loggable_path(req.path());
    let client = client(&req);
    let result = InRequest::new(id.clone(), next.call(req)).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    if !QUIET_PATHS.contains(&path.as_str()) {
        let duration_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let level = if status.is_server_error() {
            log::Level::Warn
        } else {
            log::Level::Info
        };
        log::log!(
            target: "poker_server::access",
            level,
            method = method.as_str(),
            path = path.as_str(),
            status = status.as_u16(),
            duration_ms = duration_ms,
            client = client.as_deref().unwrap_or("-"),
            request_id = &*id;
            "{method} {path} {}", status.as_u16()
        );
    }
    let mut response = result?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// Paths whose segment after the prefix is a secret: an invite link's token
/// (`/join/{token}`, `/api/invites/{token}`, `/api/invites/{token}/join`).
const SECRET_SEGMENT_AFTER: [&str; 2] = ["/join/", "/api/invites/"];

/// `path` as the log may show it: with the secret segment of an invite path replaced by
/// `{token}`, so that a log reader cannot join a session with a link they never got.
fn loggable_path(path: &str) -> String {
    for prefix in SECRET_SEGMENT_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |end| &rest[end..]);
            return format!("{prefix}{{token}}{tail}");
        }
    }
    path.to_string()
}

/// The client's address: the peer, or what trusted proxies say it is (as the login throttle
/// counts it).
fn client(req: &ServiceRequest) -> Option<String> {
    let peer: Option<IpAddr> = req.peer_addr().map(|a| a.ip());
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.trusted_proxies.clone())
        .unwrap_or_default();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    crate::throttle::client_address(peer, forwarded, &trusted).map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_links_secret_never_reaches_the_access_line() {
        assert_eq!(loggable_path("/join/abcDEF123"), "/join/{token}");
        assert_eq!(loggable_path("/api/invites/abc"), "/api/invites/{token}");
        assert_eq!(
            loggable_path("/api/invites/abc/join"),
            "/api/invites/{token}/join"
        );
        assert_eq!(loggable_path("/join/"), "/join/{token}");
        // Not secrets: an invite's id under its session, and every other path.
        assert_eq!(
            loggable_path("/api/sessions/3/invites/7"),
            "/api/sessions/3/invites/7"
        );
        assert_eq!(loggable_path("/api/sessions"), "/api/sessions");
    }

    #[test]
    fn a_sensible_given_id_is_kept_and_anything_else_replaced() {
        let kept = |v: &str| request_id(Some(&HeaderValue::from_str(v).unwrap()));
        assert_eq!(&*kept("abc-123"), "abc-123");
        assert_eq!(&*kept("lb1:4f2a/7"), "lb1:4f2a/7");
        for bad in ["", "has space", "quote\"d", &"x".repeat(129), "ünï"] {
            let Ok(value) = HeaderValue::from_str(bad) else {
                continue;
            };
            let id = request_id(Some(&value));
            assert_ne!(&*id, bad);
            assert_eq!(id.len(), 32, "a new id: {id}");
        }
        let a = request_id(None);
        let b = request_id(None);
        assert_ne!(a, b, "new ids differ");
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
