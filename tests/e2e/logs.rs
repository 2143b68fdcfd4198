//! Logs for operators: with `LOG_FORMAT=json` every line the server writes is one JSON object
//! (time, level, target, message, and fields such as request_id, session, user, status); every
//! HTTP request has an id, its own `X-Request-Id` or a new one, in its lines and its response;
//! `RUST_LOG` still chooses the lines; the default stays text.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::support::WsClient;

const BIN: &str = env!("CARGO_BIN_EXE_planning-poker");
const LISTENING: &str = "planning-poker listening on http://";
const ADMIN_PASSWORD: &str = "logs-admin-pw";

/// A server on a fresh SQLite file whose stderr is kept line by line.
struct Logged {
    _child: Child,
    _dir: tempfile::TempDir,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Logged {
    async fn start(env: &[(&str, &str)]) -> Logged {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path())
            .env("BIND", "127.0.0.1:0")
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("LOG_FORMAT")
            .env_remove("TRUSTED_PROXIES")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("spawn the server");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let into = lines.clone();
        let stderr = child.stderr.take().expect("stderr is piped");
        tokio::spawn(async move {
            let mut stderr = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = stderr.next_line().await {
                into.lock().expect("not poisoned").push(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let port = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = stdout.next_line().await {
                if let Some(rest) = line.split(LISTENING).nth(1) {
                    return rest.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
                }
            }
            None
        })
        .await
        .expect("the server starts within 60 s")
        .expect("the server prints its address");
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Logged {
            _child: child,
            _dir: dir,
            port,
            lines,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every stderr line so far, after a moment for the last ones to arrive.
    async fn lines(&self) -> Vec<String> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.lines.lock().expect("not poisoned").clone()
    }

    /// Every line so far, each parsed as one JSON object (the test fails on any other line).
    async fn json_lines(&self) -> Vec<Value> {
        self.lines()
            .await
            .iter()
            .map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
                for member in ["time", "level", "target", "message"] {
                    assert!(value[member].is_string(), "{member} in {line}");
                }
                value
            })
            .collect()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// The lines whose `field` is `value`.
fn having<'a>(lines: &'a [Value], field: &str, value: &Value) -> Vec<&'a Value> {
    lines.iter().filter(|l| &l[field] == value).collect()
}

/// A session made by the logged-in admin of `cookie`: its id.
async fn create_session(server: &Logged, cookie: &str, name: &str) -> Value {
    let created = client()
        .post(server.url("/api/sessions"))
        .header("cookie", cookie)
        .json(&json!({"name": name, "poker_date": "2026-12-02"}))
        .send()
        .await
        .expect("create a session");
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"].clone()
}

/// The admin's `poker.v2` socket on `session_id`, with `headers` on its upgrade request.
async fn admin_socket(
    server: &Logged,
    cookie: &str,
    session_id: &Value,
    headers: &[(&'static str, &str)],
) -> WsClient {
    let mut request = format!("ws://127.0.0.1:{}/ws/poker/{session_id}/", server.port)
        .into_client_request()
        .unwrap();
    for (name, value) in [("cookie", cookie), ("sec-websocket-protocol", "poker.v2")]
        .iter()
        .chain(headers)
    {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    WsClient::connect(request, "admin").await.expect("connect")
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_parse_line_by_line_and_carry_request_ids() {
    let server = Logged::start(&[("LOG_FORMAT", "json"), ("RUST_LOG", "info")]).await;
    let http = client();

    // A request that names itself keeps its name, in the response and in its lines.
    let login = http
        .post(server.url("/api/auth/login"))
        .header("x-request-id", "login-1")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("log in");
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["x-request-id"], "login-1");
    let admin_id = login.json::<Value>().await.expect("the login answer")["user"]["id"].clone();

    // One that does not gets a new id.
    let me = http
        .get(server.url("/api/auth/me"))
        .send()
        .await
        .expect("GET /api/auth/me");
    assert_eq!(me.status(), 401);
    let generated = me.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 32, "a new id: {generated}");
    // A nonsense id is replaced, not echoed.
    let odd = http
        .get(server.url("/api/openapi.json"))
        .header("x-request-id", "has spaces\tand tabs")
        .send()
        .await
        .expect("GET /api/openapi.json");
    assert_ne!(odd.headers()["x-request-id"], "has spaces\tand tabs");

    // A socket's lines carry its session, its user and its upgrade request's id.
    let cookie = login_cookie(&server).await;
    let session_id = create_session(&server, &cookie, "Logged").await;
    let mut socket = admin_socket(
        &server,
        &cookie,
        &session_id,
        &[("x-request-id", "socket-1")],
    )
    .await;
    socket.expect_event("participants_changed").await;
    socket.send_text("{not json".into()).await;
    socket.expect_error("bad_request").await;
    socket.close().await;

    let lines = server.json_lines().await;
    let access: Vec<&Value> = having(&lines, "target", &json!("poker_server::access"));
    let login_access = having(&lines, "request_id", &json!("login-1"))
        .into_iter()
        .find(|l| l["target"] == "poker_server::access")
        .unwrap_or_else(|| panic!("an access line for login-1 among {access:#?}"));
    assert_eq!(login_access["method"], "POST");
    assert_eq!(login_access["path"], "/api/auth/login");
    assert_eq!(login_access["status"], 200);
    assert_eq!(login_access["level"], "INFO");
    assert!(login_access["duration_ms"].is_number(), "{login_access}");
    assert_eq!(login_access["client"], "127.0.0.1");
    // The handler's own line, written while the request ran, carries the id too.
    let logged_in = having(&lines, "request_id", &json!("login-1"))
        .into_iter()
        .find(|l| l["message"].as_str().unwrap().contains("logged in"))
        .unwrap_or_else(|| panic!("the login's own line with its id: {lines:#?}"));
    assert_eq!(logged_in["user"], admin_id);
    let me_access = having(&lines, "request_id", &json!(generated));
    assert_eq!(me_access.len(), 1, "one access line for the generated id");
    assert_eq!(me_access[0]["status"], 401);
    assert_eq!(me_access[0]["path"], "/api/auth/me");

    let joined = lines
        .iter()
        .find(|l| l["message"].as_str().unwrap().ends_with("joined"))
        .unwrap_or_else(|| panic!("a join line: {lines:#?}"));
    assert_eq!(joined["session"], session_id);
    assert_eq!(joined["user"], admin_id);
    assert_eq!(joined["dialect"], "poker.v2");
    let refused = having(&lines, "request_id", &json!("socket-1"))
        .into_iter()
        .find(|l| l["code"] == "bad_request")
        .unwrap_or_else(|| panic!("the socket's refusal with its request id: {lines:#?}"));
    assert_eq!(refused["session"], session_id);
    assert_eq!(refused["user"], admin_id);
    // The query string never reaches the log (it may hold ?token=).
    assert!(access
        .iter()
        .all(|l| !l["path"].as_str().unwrap().contains('?')));
}

/// A socket's refusals of frames name the event they were about: `none` for a frame that names
/// no event the server knows (malformed, unknown, not a string), as `poker_events_total` does,
/// and the event's name for one the session refuses; every line about the socket has the id of
/// its upgrade request.
#[tokio::test(flavor = "multi_thread")]
async fn refused_socket_frames_carry_their_event() {
    let server = Logged::start(&[("LOG_FORMAT", "json"), ("RUST_LOG", "info")]).await;
    let cookie = login_cookie(&server).await;
    let session_id = create_session(&server, &cookie, "Refusals").await;
    let mut socket = admin_socket(&server, &cookie, &session_id, &[]).await;
    socket.expect_event("participants_changed").await;
    let refusals = [
        ("{not json", "bad_request", "malformed JSON"),
        (
            r#"{"event": "dance", "data": {}}"#,
            "unknown_event",
            "unknown event \"dance\"",
        ),
        (
            r#"{"event": 7}"#,
            "bad_request",
            "\"event\" must be a string",
        ),
    ];
    for (frame, code, _) in refusals {
        socket.send_text(frame.to_string()).await;
        socket.expect_error(code).await;
    }
    socket.send_binary(b"{}".to_vec()).await;
    socket.expect_error("bad_request").await;
    // A well-formed event the session refuses: no story is active to vote on.
    socket
        .send_text(r#"{"event": "vote_submitted", "data": {"choice": "5"}}"#.to_string())
        .await;
    socket.expect_error("no_active_story").await;
    socket.close().await;

    let lines = server.json_lines().await;
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("refused a frame"))
        })
        .collect();
    let mut expected: Vec<(&str, &str)> = refusals
        .iter()
        .map(|(_, code, message)| (*code, *message))
        .collect();
    expected.push(("bad_request", "binary frames are not accepted"));
    for (code, message) in expected {
        let line = refused
            .iter()
            .find(|l| l["message"].as_str().unwrap().contains(message))
            .unwrap_or_else(|| panic!("a refusal line for {message:?} among {refused:#?}"));
        assert_eq!(line["event"], "none", "the event of {line}");
        assert_eq!(line["code"], code, "{line}");
        assert_eq!(line["session"], session_id, "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
        assert!(line["request_id"].is_string(), "{line}");
    }
    // The session's lines about the socket (joined, refused, left) carry the event and the
    // upgrade request's id too, the same id as the socket's own lines.
    let socket_id = refused[0]["request_id"].clone();
    let of_session = |text: &str| -> &Value {
        lines
            .iter()
            .find(|l| l["message"].as_str().is_some_and(|m| m.contains(text)))
            .unwrap_or_else(|| panic!("a line with {text:?} among {lines:#?}"))
    };
    let refusal = of_session("refused an event of user");
    assert_eq!(refusal["event"], "vote_submitted", "{refusal}");
    assert_eq!(refusal["code"], "no_active_story", "{refusal}");
    for line in [refusal, of_session(") joined"), of_session(") left")] {
        assert_eq!(line["request_id"], socket_id, "{line}");
        assert_eq!(line["session"], session_id, "{line}");
    }
}

/// Logs in as admin and returns the `Cookie` header for the login.
async fn login_cookie(server: &Logged) -> String {
    let response = client()
        .post(server.url("/api/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("log in");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_log_still_chooses_the_lines_and_text_stays_the_default() {
    // JSON, with only warnings and the access lines.
    let server = Logged::start(&[
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "warn,poker_server::access=info"),
    ])
    .await;
    client()
        .get(server.url("/api/auth/me"))
        .send()
        .await
        .expect("GET /api/auth/me");
    let lines = server.json_lines().await;
    assert!(!lines.is_empty(), "the access line is written");
    for line in &lines {
        assert!(
            line["target"] == "poker_server::access" || line["level"] != "INFO",
            "RUST_LOG=warn lets no other info line through: {line}"
        );
    }

    // Without LOG_FORMAT: readable text, with the fields after the message.
    let server = Logged::start(&[("RUST_LOG", "info")]).await;
    let response = client()
        .get(server.url("/api/auth/me"))
        .header("x-request-id", "text-1")
        .send()
        .await
        .expect("GET /api/auth/me");
    assert_eq!(response.headers()["x-request-id"], "text-1");
    let lines = server.lines().await;
    assert!(lines
        .iter()
        .all(|l| l.starts_with('[') && serde_json::from_str::<Value>(l).is_err()));
    let access = lines
        .iter()
        .find(|l| l.contains("request_id=text-1"))
        .unwrap_or_else(|| panic!("the access line in text: {lines:#?}"));
    assert!(
        access.contains("INFO  poker_server::access] GET /api/auth/me 401"),
        "{access}"
    );
    assert!(access.contains(" status=401 "), "{access}");
}
