//! Log lines for operators, through the `log` facade and env_logger's formatter (so `RUST_LOG`
//! filters as ever): readable text by default, or with `LOG_FORMAT=json` one JSON object per
//! line: `time`, `level`, `target`, `message`, then the line's fields.
//!
//! Fields are `log`'s key-values (`log::info!(session = 3, user = 7; "joined")`), plus the id
//! of the HTTP request whose handling wrote the line (`request_id`, see [`crate::access`]).
//! Every message and text field passes the settings' redactor first: a dependency quoting a
//! database URL must not put its password in the log.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use log::kv::{Error as KvError, Key, Value, VisitSource};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::settings::Redactor;

/// How log lines are written (`log_format`, `LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `[time LEVEL target] message key=value …`
    #[default]
    Text,
    /// `{"time": …, "level": …, "target": …, "message": …, "key": value, …}`
    Json,
}

/// Installs env_logger as the `log` backend, writing to stderr in `format`; `RUST_LOG` filters
/// (default: `info`).
pub fn init(format: LogFormat, redactor: Redactor) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(move |buf, record| {
            let line = match format {
                LogFormat::Text => text_line(record, &redactor),
                LogFormat::Json => json_line(record, &redactor),
            };
            writeln!(buf, "{line}")
        })
        .init();
}

/// The names a JSON line gives its own members; a field of the same name is written as
/// `field_NAME` instead of overwriting one.
const RESERVED: [&str; 4] = ["time", "level", "target", "message"];

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One JSON object: the record's parts, its fields, and the request id of the current request.
pub fn json_line(record: &log::Record, redactor: &Redactor) -> String {
    let mut line = Map::new();
    line.insert("time".into(), Json::String(now()));
    line.insert("level".into(), Json::String(record.level().to_string()));
    line.insert("target".into(), Json::String(record.target().to_string()));
    line.insert(
        "message".into(),
        Json::String(redactor.redact(&record.args().to_string())),
    );
    for (key, value) in fields(record, redactor) {
        let key = if RESERVED.contains(&key.as_str()) {
            format!("field_{key}")
        } else {
            key
        };
        line.insert(key, value);
    }
    Json::Object(line).to_string()
}

/// `[time LEVEL target] message key=value …`, strings with spaces or quotes quoted.
pub fn text_line(record: &log::Record, redactor: &Redactor) -> String {
    let mut line = format!(
        "[{} {:<5} {}] {}",
        now(),
        record.level(),
        record.target(),
        redactor.redact(&record.args().to_string())
    );
    for (key, value) in fields(record, redactor) {
        let value = match value {
            Json::String(s) if !s.is_empty() && !s.contains([' ', '"', '=']) => s,
            other => other.to_string(),
        };
        line.push_str(&format!(" {key}={value}"));
    }
    line
}

/// The record's key-values as JSON values (numbers and booleans as such, the rest as redacted
/// text), then `request_id` if a request is being handled and the record has none of its own.
fn fields(record: &log::Record, redactor: &Redactor) -> Vec<(String, Json)> {
    struct Collect<'r> {
        fields: Vec<(String, Json)>,
        redactor: &'r Redactor,
    }
    impl<'kvs> VisitSource<'kvs> for Collect<'_> {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), KvError> {
            let json = if let Some(b) = value.to_bool() {
                Json::Bool(b)
            } else if let Some(n) = value.to_u64() {
                Json::from(n)
            } else if let Some(n) = value.to_i64() {
                Json::from(n)
            } else if let Some(x) = value.to_f64().and_then(serde_json::Number::from_f64) {
                Json::Number(x)
            } else {
                Json::String(self.redactor.redact(&value.to_string()))
            };
            self.fields.push((key.as_str().to_string(), json));
            Ok(())
        }
    }
    let mut collect = Collect {
        fields: Vec::new(),
        redactor,
    };
    // Visiting our own collector cannot fail.
    let _ = record.key_values().visit(&mut collect);
    let mut fields = collect.fields;
    if let Some(id) = current_request_id() {
        if !fields.iter().any(|(key, _)| key == "request_id") {
            fields.push(("request_id".into(), Json::String(id.to_string())));
        }
    }
    fields
}

thread_local! {
    /// The id of the request being handled on this thread, while its handler runs.
    static REQUEST_ID: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// The id of the HTTP request whose handling is running on this thread, if any.
pub fn current_request_id() -> Option<Arc<str>> {
    REQUEST_ID.with(|id| id.borrow().clone())
}

/// Runs `f` with `id` as the current request id (for work handed to another thread).
pub fn with_request_id<R>(id: Option<Arc<str>>, f: impl FnOnce() -> R) -> R {
    let previous = REQUEST_ID.with(|current| current.replace(id));
    let result = f();
    REQUEST_ID.with(|current| *current.borrow_mut() = previous);
    result
}

/// A future that runs with a request id: every poll sets it as the thread's current one and
/// puts the previous back after, so lines logged while the handler runs carry it.
pub struct InRequest<F> {
    id: Arc<str>,
    inner: Pin<Box<F>>,
}

impl<F: Future> InRequest<F> {
    pub fn new(id: Arc<str>, inner: F) -> Self {
        InRequest {
            id,
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for InRequest<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let id = Some(self.id.clone());
        with_request_id(id, || self.inner.as_mut().poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        crate::settings::Settings::load_with(None, |name| {
            (name == "DATABASE_URL").then(|| "postgres://poker:hunter2@db/poker".to_string())
        })
        .expect("settings")
        .redactor()
    }

    fn with_record<R>(message: &str, f: impl FnOnce(&log::Record) -> R) -> R {
        let fields: [(&str, Value); 4] = [
            ("session", Value::from(3i64)),
            ("status", Value::from(200u64)),
            ("ok", Value::from(true)),
            (
                "path",
                Value::from("/api/x postgres://poker:hunter2@db/poker"),
            ),
        ];
        f(&log::Record::builder()
            .args(format_args!("{message}"))
            .level(log::Level::Info)
            .target("poker_server::test")
            .key_values(&fields)
            .build())
    }

    #[test]
    fn a_json_line_has_the_records_parts_and_typed_fields() {
        let line = with_record("hello", |r| json_line(r, &redactor()));
        let json: Json = serde_json::from_str(&line).expect("one JSON object");
        assert_eq!(json["level"], "INFO");
        assert_eq!(json["target"], "poker_server::test");
        assert_eq!(json["message"], "hello");
        assert_eq!(json["session"], 3);
        assert_eq!(json["status"], 200);
        assert_eq!(json["ok"], true);
        assert!(!line.contains("hunter2"), "fields are redacted: {line}");
        assert!(json["time"].as_str().unwrap().ends_with('Z'));
        assert!(json.get("request_id").is_none(), "no request, no id");
    }

    #[test]
    fn lines_written_inside_a_request_carry_its_id() {
        let id: Arc<str> = Arc::from("req-1");
        let line = with_request_id(Some(id), || {
            with_record("inside", |r| json_line(r, &redactor()))
        });
        let json: Json = serde_json::from_str(&line).unwrap();
        assert_eq!(json["request_id"], "req-1");
        assert_eq!(current_request_id(), None, "the id ends with the request");
        let text = with_request_id(Some(Arc::from("req-2")), || {
            with_record("inside", |r| text_line(r, &redactor()))
        });
        assert!(
            text.ends_with(
                "] inside session=3 status=200 ok=true \
                 path=\"/api/x postgres://poker:[redacted]@db/poker\" request_id=req-2"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_field_named_like_a_member_does_not_overwrite_it() {
        let fields: [(&str, Value); 1] = [("message", Value::from("field"))];
        let line = json_line(
            &log::Record::builder()
                .args(format_args!("the message"))
                .key_values(&fields)
                .build(),
            &redactor(),
        );
        let json: Json = serde_json::from_str(&line).unwrap();
        assert_eq!(json["message"], "the message");
        assert_eq!(json["field_message"], "field");
    }
}
