//! Request bodies: read with a size limit, parsed into typed structs whose failures name the
//! field (422), with malformed JSON a 400 a person can read.

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::rt::time::{timeout, Instant};
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ApiError;

/// The largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// How much of an oversized body is read (and thrown away) before answering 413, so that a
/// client still sending gets the answer instead of a reset connection.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("the body is larger than {} KiB", limit / 1024))
}

/// How long a whole body may take to arrive. The head has its own bound (the server's
/// `client_request_timeout`); without this one a client could hold a connection and a handler
/// for ever by sending one byte of its body now and then (a slow-body Slowloris).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

fn too_slow() -> ApiError {
    ApiError::RequestTimeout(format!(
        "the body did not arrive within {} s",
        BODY_TIMEOUT.as_secs()
    ))
}

/// Reads a body of at most `limit` bytes within [`BODY_TIMEOUT`]; a larger one is drained (up
/// to a cap) and refused with 413, a slower one is refused with 408.
pub async fn read_limited<S>(payload: S, limit: usize) -> Result<Bytes, ApiError>
where
    S: futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>> + Unpin,
{
    read_limited_within(payload, limit, BODY_TIMEOUT).await
}

async fn read_limited_within<S>(
    mut payload: S,
    limit: usize,
    within: Duration,
) -> Result<Bytes, ApiError>
where
    S: futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let deadline = Instant::now() + within;
    let mut body = web::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = timeout(
        deadline.saturating_duration_since(Instant::now()),
        payload.next(),
    )
    .await
    .map_err(|_| too_slow())?
    {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => too_large(limit),
            other => ApiError::BadRequest(format!("cannot read the body: {other}")),
        })?;
        seen += chunk.len();
        if seen > DRAIN_BYTES {
            break;
        }
        if seen <= limit {
            body.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(too_large(limit));
    }
    Ok(body.freeze())
}

/// A JSON body (`Content-Type: application/json`) of at most 256 KiB, in our error format:
/// 415 for another content type, 413 when too large, 400 with a readable message when malformed.
pub struct JsonBody(pub Value);

impl JsonBody {
    pub fn into_inner(self) -> Value {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<JsonBody, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let payload = payload.take();
        Box::pin(async move {
            // Read (and drain) even a refused body, so the answer reaches the client.
            let bytes = read_limited(payload, MAX_JSON_BYTES).await?;
            if !json {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as JSON with Content-Type: application/json".into(),
                ));
            }
            serde_json::from_slice(&bytes)
                .map(JsonBody)
                .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))
        })
    }
}

/// As [`JsonBody`], for endpoints whose body may be left out: an empty body is `None` (with
/// or without a `Content-Type`).
pub struct OptionalJsonBody(pub Option<Value>);

impl FromRequest for OptionalJsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<OptionalJsonBody, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let payload = payload.take();
        Box::pin(async move {
            let bytes = read_limited(payload, MAX_JSON_BYTES).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJsonBody(None));
            }
            if !json {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as JSON with Content-Type: application/json".into(),
                ));
            }
            serde_json::from_slice(&bytes)
                .map(|value| OptionalJsonBody(Some(value)))
                .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))
        })
    }
}

/// Parses a JSON value into `T`; a wrong field is a 422 naming it.
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let message = e.inner().to_string();
        let field = if field == "." || field.is_empty() {
            // serde reports a missing field at the root: take its name from the message.
            message.split('`').nth(1).unwrap_or("body").to_string()
        } else {
            field
        };
        ApiError::invalid_field(field, message)
    })
}

/// A required field: present and not null.
pub fn required<T>(value: Option<T>, field: &'static str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(field, "is required"))
}

/// For PATCH bodies: tells an absent field (`None`) from an explicit null (`Some(None)`).
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::error::PayloadError;

    fn chunks(n: usize) -> impl futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin {
        futures_util::stream::iter((0..n).map(|_| Ok(Bytes::from_static(b"{}"))))
    }

    #[actix_web::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let body = read_limited(chunks(3), 16).await.unwrap();
        assert_eq!(&body[..], b"{}{}{}");
    }

    #[actix_web::test]
    async fn an_oversized_body_is_413() {
        let error = read_limited(chunks(20), 16).await.unwrap_err();
        assert!(matches!(error, ApiError::PayloadTooLarge(_)), "{error:?}");
    }

    #[actix_web::test]
    async fn a_body_that_trickles_past_the_deadline_is_408() {
        let trickle = Box::pin(futures_util::stream::unfold(0, |n| async move {
            actix_web::rt::time::sleep(Duration::from_millis(30)).await;
            Some((Ok::<_, PayloadError>(Bytes::from_static(b"x")), n + 1))
        }));
        let started = std::time::Instant::now();
        let error = read_limited_within(trickle, 1024, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(error, ApiError::RequestTimeout(_)), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
        for text in [
            "[".repeat(100_000),
            "{\"a\":".repeat(100_000),
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ] {
            let error = serde_json::from_slice::<Value>(text.as_bytes()).unwrap_err();
            assert!(error.to_string().contains("recursion limit"), "{error}");
        }
    }
}
