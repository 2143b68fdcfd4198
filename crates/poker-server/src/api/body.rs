//! Request bodies: read with a size limit, parsed into typed structs whose failures name the
//! field (422), with malformed JSON a 400 a person can read.

use actix_web::dev::Payload;
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

/// Reads a body of at most `limit` bytes; a larger one is drained (up to a cap) and refused with 413.
pub async fn read_limited<S>(mut payload: S, limit: usize) -> Result<Bytes, ApiError>
where
    S: futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let mut body = web::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
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
