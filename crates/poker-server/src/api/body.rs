//! Request bodies: JSON read leniently into a map, then each field parsed into its domain type,
//! so a wrong field is a 422 that names it, and malformed JSON is a 400 a person can read.

use actix_web::error::JsonPayloadError;
use actix_web::{web, HttpRequest};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// The JSON extractor's settings: limit and our error format.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(json_error)
}

fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::PayloadTooLarge(format!(
                "the body is larger than {} KiB",
                MAX_JSON_BYTES / 1024
            ))
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "send the body as JSON with Content-Type: application/json".into(),
        ),
        JsonPayloadError::Deserialize(e) => {
            ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
        }
        other => ApiError::BadRequest(format!("cannot read the body: {other}")),
    };
    api.into()
}

/// A JSON object body, read field by field.
pub struct Body(Map<String, Value>);

impl Body {
    /// Takes the extracted JSON; anything but an object is a 400.
    pub fn new(value: Value) -> Result<Body, ApiError> {
        match value {
            Value::Object(map) => Ok(Body(map)),
            _ => Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            )),
        }
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// A string field that must be present.
    pub fn string(&self, field: &'static str) -> Result<String, ApiError> {
        self.opt_string(field)?
            .ok_or_else(|| ApiError::invalid(field, "is required"))
    }

    /// A string field that may be absent or null.
    pub fn opt_string(&self, field: &'static str) -> Result<Option<String>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid(field, "must be a string")),
        }
    }

    /// A boolean field that may be absent (then `default`).
    pub fn bool_or(&self, field: &'static str, default: bool) -> Result<bool, ApiError> {
        match self.get(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::invalid(field, "must be true or false")),
        }
    }
}
