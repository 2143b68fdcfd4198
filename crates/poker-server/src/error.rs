//! REST errors: one type, mapped to one HTTP status and body shape in one place.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use poker_core::FieldError;
use poker_db::DbError;
use serde_json::json;

/// Every way a REST request can fail; the body is `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Unavailable(String),
    /// 429: too many failed attempts; the client may try again after `retry_after_secs`.
    #[error("{message}")]
    TooManyAttempts {
        message: String,
        retry_after_secs: u64,
    },
    /// 503 `unavailable` with `Retry-After: 1`: a bounded queue (password hashing) is full, so
    /// the request is refused at once instead of waiting behind the flood.
    #[error("{0}")]
    Busy(String),
    /// 408: the request body did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Invalid { .. } => "invalid",
            ApiError::Unavailable(_) | ApiError::Busy(_) => "unavailable",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A 422 naming the offending field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::invalid_field(field.to_string(), message)
    }

    /// A 422 naming a field known only at run time (a path like `stories[2].title`).
    pub fn invalid_field(field: String, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The database (or another service the server needs) cannot be reached: 503.
    pub fn unavailable() -> Self {
        ApiError::Unavailable("the database is unavailable; try again shortly".into())
    }

    pub fn login_required() -> Self {
        ApiError::Unauthorized("log in, or send a bearer token".into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let ApiError::Invalid { field, message } = self {
            error["field"] = json!(field);
            error["message"] = json!(message);
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::TooManyAttempts {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Busy(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            // The body was not read to its end, so the connection cannot carry another request.
            ApiError::RequestTimeout(_) => {
                response.insert_header((header::CONNECTION, "close"));
            }
            _ => {}
        }
        response.json(json!({ "error": error }))
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::invalid(e.field, e.message)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => ApiError::NotFound("not found".into()),
            DbError::Conflict(message) => ApiError::Conflict(message),
            DbError::Unavailable(message) | DbError::Connect(message) => {
                log::warn!("database unavailable: {message}");
                ApiError::unavailable()
            }
            other => {
                log::error!("database error: {other}");
                ApiError::Internal("internal error".into())
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::Unavailable("the server is shutting down".into())
    }
}

/// Maps the store's `NotFound` to a 404 naming the missing thing (`no session 7`); other
/// storage errors map as usual.
pub fn or_missing(what: &'static str, id: i64) -> impl Fn(DbError) -> ApiError {
    move |e| match e {
        DbError::NotFound => ApiError::NotFound(format!("no {what} {id}")),
        other => other.into(),
    }
}

/// How long blocking storage work may take before the request fails with 503; set once at start
/// from `database_timeout_secs` (see [`set_blocking_deadline`]).
static BLOCKING_DEADLINE: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();

/// Sets the deadline of [`blocking`] for this process (the first call wins).
pub fn set_blocking_deadline(deadline: std::time::Duration) {
    let _ = BLOCKING_DEADLINE.set(deadline);
}

/// Runs blocking storage work off the async threads. Work that has not finished within the
/// deadline (a database host that accepts and never answers) answers 503; the thread finishes
/// on its own, and its connection is tested before it is used again.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let deadline = BLOCKING_DEADLINE
        .get()
        .copied()
        .unwrap_or(std::time::Duration::from_secs(10));
    // Lines the call logs on the blocking thread carry the request's id too.
    let request_id = crate::logging::current_request_id();
    let f = move || crate::logging::with_request_id(request_id, f);
    match actix_web::rt::time::timeout(deadline, actix_web::web::block(f)).await {
        Ok(done) => done?,
        Err(_) => {
            log::warn!("a database call took longer than {deadline:?}; answering 503");
            Err(ApiError::unavailable())
        }
    }
}
