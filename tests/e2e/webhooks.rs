//! Webhooks (README, "Webhooks"): events POSTed, signed, to a real local HTTP receiver; retries
//! with backoff; a receiver that hangs never slows a session; the delivery log over REST; and
//! the REST rules of `/api/webhooks`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::support::admin::{expect_invalid, id_of, AdminHttp};
use crate::support::cluster::{machine_redis, metric, start_processes};
use crate::support::{Backend, Http, Rights, Server, ServerOptions};

both_backends!(
    points_set_over_the_socket_is_delivered_once_and_signed,
    an_import_and_the_end_of_a_session_fire_their_events,
    a_receiver_failing_twice_gets_three_attempts_shown_in_the_log,
    a_receiver_that_hangs_never_delays_the_session_and_fails_after_the_retries,
    session_hooks_hear_their_session_only_and_global_hooks_every_session,
    the_rest_api_checks_rights_urls_and_ids_and_never_shows_a_secret_again,
    https_receivers_get_deliveries_when_their_certificate_is_trusted,
    a_delivery_a_killed_process_left_pending_is_made_by_the_next_one,
);

mod processes {
    #[tokio::test(flavor = "multi_thread")]
    #[cfg_attr(
        not(all(postgres_tests, redis_tests)),
        ignore = "TEST_DATABASE_URL and TEST_REDIS_URL not both set: the tests of several \
                  processes need PostgreSQL and Redis"
    )]
    async fn each_change_fires_once_with_two_processes_sharing_the_session() {
        super::each_change_fires_once_with_two_processes_sharing_the_session().await;
    }
}

/// How long a delivery may take to arrive.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the receiver does with each request.
#[derive(Clone)]
enum Mode {
    /// Answers these statuses in order, then 200.
    Answer(Vec<u16>),
    /// Reads the request and never answers.
    Hang,
}

/// A request as the receiver got it.
#[derive(Debug)]
struct Received {
    /// Header names in lower case.
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the delivery's body is JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("the delivery has {name}: {:?}", self.headers))
    }

    /// Checks `X-Poker-Signature` (`t=<unix>,v1=<hex>`) against the secret, as a receiver does.
    fn assert_signed_with(&self, secret: &str) {
        let signature = self.header("x-poker-signature");
        let mut t = None;
        let mut v1 = None;
        for part in signature.split(',') {
            match part.split_once('=') {
                Some(("t", value)) => t = Some(value.to_string()),
                Some(("v1", value)) => v1 = Some(value.to_string()),
                _ => {}
            }
        }
        let (t, v1) = (
            t.unwrap_or_else(|| panic!("a t= in {signature}")),
            v1.unwrap_or_else(|| panic!("a v1= in {signature}")),
        );
        let sent: i64 = t.parse().expect("t is unix seconds");
        let now = chrono::Utc::now().timestamp();
        assert!((now - sent).abs() < 60, "t={sent} is about now ({now})");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(format!("{t}.{}", self.body).as_bytes());
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(v1, expected, "the signature of {}", self.body);
    }
}

/// A local HTTP/1.1 server that records every request.
struct Receiver {
    url: String,
    requests: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    async fn start(mode: Mode) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
        let (sender, requests) = mpsc::unbounded_channel();
        let answers = Arc::new(Mutex::new(match &mode {
            Mode::Answer(statuses) => statuses.clone(),
            Mode::Hang => Vec::new(),
        }));
        let hang = matches!(mode, Mode::Hang);
        tokio::spawn(async move {
            // Hanging connections stay open as long as the receiver runs.
            let mut held: Vec<TcpStream> = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let Some(received) = read_request(&mut stream).await else {
                    continue;
                };
                let _ = sender.send(received);
                if hang {
                    held.push(stream);
                    continue;
                }
                let status = {
                    let mut answers = answers.lock().expect("the answers");
                    if answers.is_empty() {
                        200
                    } else {
                        answers.remove(0)
                    }
                };
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        Receiver { url, requests }
    }

    /// The next request, within [`DELIVERY_TIMEOUT`].
    async fn next(&mut self) -> Received {
        tokio::time::timeout(DELIVERY_TIMEOUT, self.requests.recv())
            .await
            .unwrap_or_else(|_| panic!("no delivery reached {} in time", self.url))
            .expect("the receiver runs")
    }

    /// Asserts that nothing more arrives for a while.
    async fn expect_nothing(&mut self, within: Duration) {
        if let Ok(Some(extra)) = tokio::time::timeout(within, self.requests.recv()).await {
            panic!(
                "an unexpected delivery reached {}: {}",
                self.url, extra.body
            );
        }
    }
}

/// One request: the head up to the blank line, then `Content-Length` bytes of body.
async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> Option<Received> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let mut headers = HashMap::new();
    for line in head.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    assert!(
        head.starts_with("POST /hook HTTP/1.1"),
        "a POST to the hook's path: {head}"
    );
    Some(Received {
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

/// Fast retries for the tests: 50 ms, 100 ms, ...
fn quick_retries() -> ServerOptions {
    ServerOptions {
        webhook_retry_base_ms: Some("50"),
        ..ServerOptions::default()
    }
}

async fn register(admin: &Http, url: &str, session_id: Option<i64>, secret: &str) -> Value {
    admin
        .post(
            "/api/webhooks",
            json!({"url": url, "session_id": session_id, "secret": secret}),
        )
        .await
        .expect_status(201, "register a webhook")
}

/// Polls the hook's delivery log until its newest delivery is no longer pending.
async fn settled_deliveries(admin: &Http, hook_id: i64, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = admin
            .get(&format!("/api/webhooks/{hook_id}/deliveries"))
            .await
            .expect_status(200, "the delivery log");
        let list = log.as_array().expect("the log is an array").clone();
        if list.len() >= count && list.iter().all(|d| d["status"] != "pending") {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "the deliveries of hook {hook_id} did not settle: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn set_points_over_rest(admin: &Http, story_id: i64, points: &str) {
    admin
        .patch_json(
            &format!("/api/stories/{story_id}"),
            json!({"story_points": points}),
        )
        .await
        .expect_status(200, "set the points over REST");
}

/// A process killed (SIGKILL) between two attempts of a delivery: the process started after
/// it finds the delivery left pending, takes it over and makes the attempts it had left, with
/// the same event id, and the log shows every attempt.
async fn a_delivery_a_killed_process_left_pending_is_made_by_the_next_one(backend: Backend) {
    // The first attempt is answered 503; the next is due 2 s later, and the process is killed
    // before that.
    let mut receiver = Receiver::start(Mode::Answer(vec![503])).await;
    let mut server = Server::start_with(
        backend,
        ServerOptions {
            webhook_attempts: Some("4"),
            webhook_retry_base_ms: Some("2000"),
            webhook_timeout_secs: Some("0.5"),
            ..ServerOptions::default()
        },
    )
    .await;
    let admin = server.admin().await;
    let hook = register(&admin, &receiver.url, None, "k1ll-me").await;
    let hook_id = id_of(&hook);
    let session = server
        .create_session("Crash", &[("C-1", "Before"), ("C-2", "After")])
        .await;
    set_points_over_rest(&admin, session.stories[0].id, "8").await;
    let first = receiver.next().await;
    let event_id = first.json()["id"].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = admin
            .get(&format!("/api/webhooks/{hook_id}/deliveries"))
            .await
            .expect_status(200, "the delivery log");
        if log[0]["attempts"] == 1 {
            assert_eq!(log[0]["status"], "pending", "{log}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first attempt is recorded: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10)).await;

    server.start_again().await;
    // Overdue once its wait (2 s), a timeout (0.5 s) and 5 s have passed; looked for every 5 s.
    let second = tokio::time::timeout(Duration::from_secs(30), receiver.requests.recv())
        .await
        .expect("the next process makes the attempt left pending")
        .expect("the receiver runs");
    second.assert_signed_with("k1ll-me");
    assert_eq!(
        second.json()["id"],
        event_id,
        "the same event, not a new one"
    );
    assert_eq!(
        second.header("x-poker-delivery"),
        first.header("x-poker-delivery")
    );
    let admin = server.admin().await;
    let log = settled_deliveries(&admin, hook_id, 1).await;
    assert_eq!(log.len(), 1, "one delivery: {log:?}");
    assert_eq!(log[0]["status"], "delivered", "{:?}", log[0]);
    assert_eq!(log[0]["attempts"], 2, "{:?}", log[0]);
    let attempts: Vec<&Value> = log[0]["attempt_log"]
        .as_array()
        .expect("the attempts")
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(attempts, [&json!(503), &json!(200)], "{:?}", log[0]);
    receiver.expect_nothing(Duration::from_secs(1)).await;
}

async fn points_set_over_the_socket_is_delivered_once_and_signed(backend: Backend) {
    let server = Server::start(backend).await;
    let mut receiver = Receiver::start(Mode::Answer(Vec::new())).await;
    let admin = server.admin().await;
    let hook = register(&admin, &receiver.url, None, "s3cret-key").await;
    assert!(
        hook.get("secret").is_none(),
        "a given secret is not echoed: {hook}"
    );
    let session = server
        .create_session("Sprint 9", &[("PP-1", "Login"), ("PP-2", "")])
        .await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let mut clients = server.join_all(session.id, &[&moderator], None).await;
    let story = &session.stories[0];
    crate::support::start_story(&mut clients, 0, story.id).await;
    clients[0]
        .send_event("points_submitted", json!({"story_points": "5"}))
        .await;
    let submitted = clients[0].expect_event("story_points_submitted").await;
    assert_eq!(submitted["story_points"], 5);

    let delivery = receiver.next().await;
    delivery.assert_signed_with("s3cret-key");
    assert_eq!(delivery.header("x-poker-event"), "points_set");
    assert!(delivery
        .header("content-type")
        .starts_with("application/json"));
    assert!(
        delivery.header("user-agent").starts_with("planning-poker/"),
        "{:?}",
        delivery.headers
    );
    let body = delivery.json();
    assert_eq!(body["event"], "points_set", "{body}");
    assert!(
        body["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{body}"
    );
    assert_eq!(
        delivery.header("x-poker-delivery"),
        body["id"].as_str().unwrap()
    );
    chrono::DateTime::parse_from_rfc3339(body["created_at"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("created_at is RFC 3339 ({e}): {body}"));
    assert_eq!(
        body["session"],
        json!({"id": session.id, "name": "Sprint 9"})
    );
    assert_eq!(
        body["data"],
        json!({"story": {"id": story.id, "label": "PP-1: Login", "story_points": "5"}})
    );
    // Exactly once.
    receiver.expect_nothing(Duration::from_secs(1)).await;
    let log = settled_deliveries(&admin, id_of(&hook), 1).await;
    assert_eq!(log.len(), 1, "{log:?}");
    let entry = &log[0];
    assert_eq!(entry["status"], "delivered", "{entry}");
    assert_eq!(entry["attempts"], 1, "{entry}");
    assert_eq!(entry["status_code"], 200, "{entry}");
    assert_eq!(entry["event"], "points_set", "{entry}");
    assert_eq!(entry["event_id"], body["id"], "{entry}");
    assert_eq!(entry["session_id"], session.id, "{entry}");
}

async fn an_import_and_the_end_of_a_session_fire_their_events(backend: Backend) {
    let server = Server::start(backend).await;
    let mut receiver = Receiver::start(Mode::Answer(Vec::new())).await;
    let admin = server.admin().await;
    let session = server.create_session("Imports", &[]).await;
    register(&admin, &receiver.url, Some(session.id), "k").await;

    let created = admin
        .post(
            &format!("/api/sessions/{}/stories/import", session.id),
            json!([
                {"ticket_number": "IMP-1", "title": "First"},
                {"ticket_number": "IMP-2", "title": ""},
            ]),
        )
        .await
        .expect_status(201, "import two stories");
    let ids: Vec<i64> = created.as_array().unwrap().iter().map(id_of).collect();
    let delivery = receiver.next().await;
    delivery.assert_signed_with("k");
    assert_eq!(delivery.header("x-poker-event"), "stories_imported");
    let body = delivery.json();
    assert_eq!(body["event"], "stories_imported");
    assert_eq!(
        body["data"],
        json!({"count": 2, "stories": [
            {"id": ids[0], "label": "IMP-1: First", "story_points": null},
            {"id": ids[1], "label": "IMP-2", "story_points": null},
        ]})
    );

    // Points over REST fire points_set too.
    set_points_over_rest(&admin, ids[0], "3").await;
    set_points_over_rest(&admin, ids[1], "8").await;
    for (id, points) in [(ids[0], "3"), (ids[1], "8")] {
        let body = receiver.next().await.json();
        assert_eq!(body["event"], "points_set");
        assert_eq!(body["data"]["story"]["id"], id, "{body}");
        assert_eq!(body["data"]["story"]["story_points"], points, "{body}");
    }

    // Every story has points: the next story ends the session.
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let mut clients = server.join_all(session.id, &[&moderator], None).await;
    clients[0]
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    clients[0].expect_event("poker_session_ended").await;
    let delivery = receiver.next().await;
    assert_eq!(delivery.header("x-poker-event"), "session_ended");
    let body = delivery.json();
    assert_eq!(body["session"]["id"], session.id);
    assert_eq!(
        body["data"],
        json!({"stories": [
            {"id": ids[0], "label": "IMP-1: First", "story_points": "3"},
            {"id": ids[1], "label": "IMP-2", "story_points": "8"},
        ]})
    );
    receiver.expect_nothing(Duration::from_millis(500)).await;
}

async fn a_receiver_failing_twice_gets_three_attempts_shown_in_the_log(backend: Backend) {
    let server = Server::start_with(backend, quick_retries()).await;
    let mut receiver = Receiver::start(Mode::Answer(vec![500, 500])).await;
    let admin = server.admin().await;
    let hook = register(&admin, &receiver.url, None, "retry-key").await;
    let session = server.create_session("Retries", &[("R-1", "")]).await;
    set_points_over_rest(&admin, session.stories[0].id, "13").await;

    let attempts = [
        receiver.next().await,
        receiver.next().await,
        receiver.next().await,
    ];
    for attempt in &attempts {
        attempt.assert_signed_with("retry-key");
    }
    let first = attempts[0].json();
    assert!(
        attempts.iter().all(|a| a.json() == first),
        "every attempt sends the same event"
    );
    receiver.expect_nothing(Duration::from_millis(500)).await;

    let log = settled_deliveries(&admin, id_of(&hook), 1).await;
    assert_eq!(log.len(), 1, "one delivery: {log:?}");
    let entry = &log[0];
    assert_eq!(entry["status"], "delivered", "{entry}");
    assert_eq!(entry["attempts"], 3, "{entry}");
    assert_eq!(entry["status_code"], 200, "{entry}");
    assert_eq!(entry["error"], Value::Null, "{entry}");
    let codes: Vec<Value> = entry["attempt_log"]
        .as_array()
        .unwrap_or_else(|| panic!("attempt_log is an array: {entry}"))
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, [json!(500), json!(500), json!(200)], "{entry}");
    assert!(entry["attempt_log"][0]["error"].is_string(), "{entry}");
    for key in ["created_at", "updated_at"] {
        chrono::DateTime::parse_from_rfc3339(entry[key].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{key} is RFC 3339 ({e}): {entry}"));
    }
    let delivered = r#"poker_webhook_deliveries_total{outcome="delivered"}"#;
    assert_eq!(metric(&server, delivered).await, 1.0, "{delivered}");
}

async fn a_receiver_that_hangs_never_delays_the_session_and_fails_after_the_retries(
    backend: Backend,
) {
    let options = ServerOptions {
        webhook_attempts: Some("2"),
        webhook_retry_base_ms: Some("50"),
        webhook_timeout_secs: Some("1"),
        ..ServerOptions::default()
    };
    let server = Server::start_with(backend, options).await;
    let mut hanging = Receiver::start(Mode::Hang).await;
    // A port nobody listens on: connections are refused.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let admin = server.admin().await;
    let hang_hook = register(&admin, &hanging.url, None, "h").await;
    let closed_hook = register(&admin, &closed, None, "c").await;
    let session = server
        .create_session("Slow hooks", &[("S-1", ""), ("S-2", "")])
        .await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let mut clients = server
        .join_all(session.id, &[&moderator, &voter], None)
        .await;
    for (i, story) in session.stories.iter().enumerate() {
        let started = Instant::now();
        clients[0]
            .send_event("next_story_requested", json!({"story_id": story.id}))
            .await;
        for client in clients.iter_mut() {
            client.expect_event("story_changed").await;
        }
        clients[1]
            .send_event("vote_submitted", json!({"choice": "5"}))
            .await;
        for client in clients.iter_mut() {
            client.expect_event("story_changed").await;
        }
        clients[0]
            .send_event("points_submitted", json!({"story_points": "5"}))
            .await;
        for client in clients.iter_mut() {
            client.expect_event("story_points_submitted").await;
            client.expect_event("stories_changed").await;
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "round {i} took {took:?} while a hook hangs"
        );
        if i == 0 {
            // The hook is hanging on the first event by now.
            hanging.next().await;
        }
    }
    for hook in [&hang_hook, &closed_hook] {
        let log = settled_deliveries(&admin, id_of(hook), 2).await;
        assert_eq!(log.len(), 2, "{log:?}");
        for entry in &log {
            assert_eq!(entry["status"], "failed", "{entry}");
            assert_eq!(entry["attempts"], 2, "{entry}");
            assert_eq!(entry["status_code"], Value::Null, "{entry}");
            assert!(entry["error"].is_string(), "{entry}");
            assert_eq!(
                entry["attempt_log"].as_array().map(Vec::len),
                Some(2),
                "{entry}"
            );
        }
    }
    let failed = r#"poker_webhook_deliveries_total{outcome="failed"}"#;
    assert_eq!(metric(&server, failed).await, 4.0, "{failed}");
    let hang_log = settled_deliveries(&admin, id_of(&hang_hook), 2).await;
    assert!(
        hang_log[0]["error"]
            .as_str()
            .unwrap()
            .contains("no answer within"),
        "{hang_log:?}"
    );
}

async fn session_hooks_hear_their_session_only_and_global_hooks_every_session(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let one = server.create_session("One", &[("O-1", "")]).await;
    let two = server.create_session("Two", &[("T-1", "")]).await;
    let mut hear_one = Receiver::start(Mode::Answer(Vec::new())).await;
    let mut hear_two = Receiver::start(Mode::Answer(Vec::new())).await;
    let mut hear_all = Receiver::start(Mode::Answer(Vec::new())).await;
    register(&admin, &hear_one.url, Some(one.id), "1").await;
    register(&admin, &hear_two.url, Some(two.id), "2").await;
    register(&admin, &hear_all.url, None, "all").await;

    set_points_over_rest(&admin, one.stories[0].id, "1").await;
    set_points_over_rest(&admin, two.stories[0].id, "2").await;
    let mut sessions: Vec<i64> = Vec::new();
    for _ in 0..2 {
        let delivery = hear_all.next().await;
        delivery.assert_signed_with("all");
        sessions.push(delivery.json()["session"]["id"].as_i64().unwrap());
    }
    sessions.sort();
    assert_eq!(sessions, [one.id, two.id]);
    let delivery = hear_one.next().await;
    delivery.assert_signed_with("1");
    assert_eq!(delivery.json()["session"]["id"], one.id);
    let delivery = hear_two.next().await;
    delivery.assert_signed_with("2");
    assert_eq!(delivery.json()["session"]["id"], two.id);
    for receiver in [&mut hear_one, &mut hear_two, &mut hear_all] {
        receiver.expect_nothing(Duration::from_millis(500)).await;
    }
}

async fn the_rest_api_checks_rights_urls_and_ids_and_never_shows_a_secret_again(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Hooks", &[]).await;

    for bad in [
        json!({}),
        json!({"url": null}),
        json!({"url": "not a url"}),
        json!({"url": "ftp://hooks.example/x"}),
        json!({"url": "http://"}),
        json!({"url": "mailto:someone@example.com"}),
        json!({"url": "https://user:secret@hooks.example/x"}),
        json!({"url": 7}),
    ] {
        expect_invalid(
            admin.post("/api/webhooks", bad.clone()).await,
            "url",
            &format!("{bad}"),
        );
    }
    expect_invalid(
        admin
            .post(
                "/api/webhooks",
                json!({"url": "http://hooks.example/", "session_id": 999_999}),
            )
            .await,
        "session_id",
        "an unknown session",
    );
    expect_invalid(
        admin
            .post(
                "/api/webhooks",
                json!({"url": "http://hooks.example/", "secret": ""}),
            )
            .await,
        "secret",
        "an empty secret",
    );

    // Without a secret, one is generated and shown once.
    let created = admin
        .post(
            "/api/webhooks",
            json!({"url": "http://hooks.example/a", "session_id": session.id}),
        )
        .await
        .expect_status(201, "register without a secret");
    let secret = created["secret"].as_str().unwrap_or_default();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{created}"
    );
    assert_eq!(created["url"], "http://hooks.example/a");
    assert_eq!(created["session_id"], session.id);
    let id = id_of(&created);
    let global = register(&admin, "http://hooks.example/all", None, "given").await;
    assert_eq!(global["session_id"], Value::Null);
    assert!(global.get("secret").is_none(), "{global}");

    let shown = admin
        .get(&format!("/api/webhooks/{id}"))
        .await
        .expect_status(200, "GET the hook");
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["url"], "http://hooks.example/a");
    let list = admin
        .get("/api/webhooks")
        .await
        .expect_status(200, "list the hooks");
    assert_eq!(
        list.as_array()
            .map(|l| l.iter().map(id_of).collect::<Vec<_>>()),
        Some(vec![id, id_of(&global)])
    );
    let text = list.to_string();
    assert!(!text.contains(secret) && !text.contains("given"), "{text}");
    let log = admin
        .get(&format!("/api/webhooks/{id}/deliveries"))
        .await
        .expect_status(200, "an empty delivery log");
    assert_eq!(log, json!([]));

    // Rights: anonymous 401, not an admin 403.
    let voter = server.create_user("voter", Rights::VoterModerator).await;
    let anonymous = server.http();
    let not_admin = server.as_user(&voter);
    for (client, status) in [(&anonymous, 401), (&not_admin, 403)] {
        let what = format!("as {status}");
        client
            .get("/api/webhooks")
            .await
            .expect_error(status, &what);
        client
            .get(&format!("/api/webhooks/{id}"))
            .await
            .expect_error(status, &what);
        client
            .get(&format!("/api/webhooks/{id}/deliveries"))
            .await
            .expect_error(status, &what);
        client
            .post("/api/webhooks", json!({"url": "http://hooks.example/"}))
            .await
            .expect_error(status, &what);
        client
            .delete_at(&format!("/api/webhooks/{id}"))
            .await
            .expect_error(status, &what);
    }

    // Unknown ids.
    for path in [
        "/api/webhooks/999999",
        "/api/webhooks/nope",
        "/api/webhooks/999999/deliveries",
    ] {
        admin.get(path).await.expect_error(404, path);
    }
    admin
        .delete_at("/api/webhooks/999999")
        .await
        .expect_error(404, "delete an unknown hook");

    // Delete: 204, then it is gone.
    admin
        .delete_at(&format!("/api/webhooks/{}", id_of(&global)))
        .await
        .expect_status(204, "delete the global hook");
    admin
        .get(&format!("/api/webhooks/{}", id_of(&global)))
        .await
        .expect_error(404, "a deleted hook");
    admin
        .delete_at(&format!("/api/webhooks/{}", id_of(&global)))
        .await
        .expect_error(404, "delete it again");

    // A session's hooks go with it.
    admin
        .delete_at(&format!("/api/sessions/{}", session.id))
        .await
        .expect_status(204, "delete the session");
    admin
        .get(&format!("/api/webhooks/{id}"))
        .await
        .expect_error(404, "the deleted session's hook");
    assert_eq!(
        admin.get("/api/webhooks").await.expect_status(200, "list"),
        json!([])
    );
}

/// With Redis every process applies every change; only the one that committed it sends.
async fn each_change_fires_once_with_two_processes_sharing_the_session() {
    let servers = start_processes(2, machine_redis(), ServerOptions::default()).await;
    let (a, b) = (&servers[0], &servers[1]);
    let mut receiver = Receiver::start(Mode::Answer(Vec::new())).await;
    let admin = a.admin().await;
    register(&admin, &receiver.url, None, "shared").await;
    let session = a
        .create_session("Shared", &[("C-1", ""), ("C-2", "")])
        .await;
    let on_a = a.create_user("mod_a", Rights::Moderator).await;
    let on_b = b.create_user("mod_b", Rights::Moderator).await;
    let mut client_a = a.connect(session.id, &on_a).await;
    let mut client_b = b.connect(session.id, &on_b).await;
    let wait = Duration::from_secs(5);
    for (story, points, client) in [
        (session.stories[0].id, "3", &mut client_a),
        (session.stories[1].id, "8", &mut client_b),
    ] {
        client
            .send_event("next_story_requested", json!({"story_id": story}))
            .await;
        client.find_event("story_changed", wait).await;
        client
            .send_event("points_submitted", json!({"story_points": points}))
            .await;
        client.find_event("story_points_submitted", wait).await;
        let body = receiver.next().await.json();
        assert_eq!(body["event"], "points_set", "{body}");
        assert_eq!(body["data"]["story"]["id"], story, "{body}");
    }
    client_a
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    client_a.find_event("poker_session_ended", wait).await;
    client_b.find_event("poker_session_ended", wait).await;
    let body = receiver.next().await.json();
    assert_eq!(body["event"], "session_ended", "{body}");
    receiver.expect_nothing(Duration::from_secs(1)).await;
}

/// The admin area's webhooks tab in a real browser: an administrator registers a receiver (the
/// secret generated and shown once), a moderator sets points in a second browser, and the
/// delivery shows in the tab's log;
/// deleting the hook takes it off the list. SQLite only: the page is under test.
#[tokio::test(flavor = "multi_thread")]
async fn an_administrator_registers_a_webhook_in_the_admin_area_and_sees_its_deliveries() {
    use crate::support::browser::Browser;
    let mut receiver = Receiver::start(Mode::Answer(Vec::new())).await;
    let server = Server::start(Backend::Sqlite).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server
        .create_session("Hooked", &[("H-1", "Hook"), ("H-2", "Line")])
        .await;

    let admin = Browser::start("admin").await;
    admin
        .login(
            &server.base_url(),
            "admin",
            crate::support::ADMIN_PASSWORD,
            "/admin",
        )
        .await;
    admin
        .goto(&format!("{}/admin#webhooks", server.base_url()))
        .await;
    admin.wait_for("#new-webhook-form").await;
    admin.wait_for("#webhooks-empty").await;
    admin
        .fill("#new-webhook-form [name=url]", &receiver.url)
        .await;
    admin
        .js(
            "const s = document.querySelector('#new-webhook-form [name=session_id]'); \
             s.value = String(arguments[0]); return true;",
            vec![json!(session.id)],
        )
        .await;
    admin.click("#new-webhook-form button[type=submit]").await;
    admin.wait_for("#webhooks-table tbody tr").await;
    admin.wait_text("#webhook-secret", "whsec_").await;
    let secret = admin
        .js(
            "return document.querySelector('#webhook-secret').textContent.match(/whsec_\\S+/)[0]",
            vec![],
        )
        .await;
    let secret = secret.as_str().expect("the secret on the page").to_string();
    admin.wait_text("#webhooks-table", "Hooked").await;

    // Points a moderator sets in a second browser reach the receiver, signed with the secret
    // the admin's page showed.
    let moderator =
        crate::support::browser::open_session(&server.base_url(), &mia, session.id).await;
    moderator.click("#start").await;
    crate::support::browser::wait_story(&moderator, &session.stories[0].label).await;
    moderator.click("#cards button.card[data-option='5']").await;
    crate::support::browser::wait_story(&moderator, &session.stories[1].label).await;
    let received = receiver.next().await;
    received.assert_signed_with(&secret);
    assert_eq!(received.json()["event"], "points_set");

    // The tab's log shows the delivery (reloaded until its attempt is recorded).
    admin.click("#webhooks-table .deliveries").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        admin.wait_for("#deliveries-table, #deliveries-empty").await;
        let delivered = admin
            .js(
                "return !!document.querySelector('#deliveries-table tr[data-status=delivered]')",
                vec![],
            )
            .await;
        if delivered == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "the delivery shows as delivered");
        tokio::time::sleep(Duration::from_millis(300)).await;
        admin.reload().await;
    }
    assert_eq!(
        admin.text("#deliveries-table tbody tr td").await,
        "points_set"
    );
    admin.wait_text("#deliveries-table", "200").await;

    // Deleting it takes it off the list.
    admin
        .goto(&format!("{}/admin#webhooks", server.base_url()))
        .await;
    admin.wait_for("#webhooks-table tbody tr").await;
    // The delete button asks to be clicked twice.
    admin.click("#webhooks-table .danger").await;
    admin.click("#webhooks-table .danger").await;
    admin.wait_gone("#webhooks-table tbody tr").await;
    admin.assert_no_console_errors().await;
    moderator.assert_no_console_errors().await;
    admin.close().await;
    moderator.close().await;
}

/// A certificate for `localhost`, made for one test: the acceptor of a TLS receiver with it, and
/// its PEM (what the server is told to trust).
fn test_certificate() -> (tokio_rustls::TlsAcceptor, String) {
    use tokio_rustls::rustls;
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("a self-signed certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![made.cert.der().clone()], key)
    .expect("the receiver's TLS setup");
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        made.cert.pem(),
    )
}

/// An https receiver on `localhost` that answers 200 to every request it can read.
async fn tls_receiver(
    acceptor: tokio_rustls::TlsAcceptor,
) -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "https://localhost:{}/hook",
        listener.local_addr().expect("an address").port()
    );
    let (sender, requests) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                continue; // a client that does not trust it hangs up in the handshake
            };
            if let Some(received) = read_request(&mut tls).await {
                let _ = sender.send(received);
                let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        }
    });
    (url, requests)
}

async fn https_receivers_get_deliveries_when_their_certificate_is_trusted(backend: Backend) {
    let (trusted, trusted_pem) = test_certificate();
    let (stranger, _) = test_certificate();
    let ca = tempfile::NamedTempFile::new().expect("a file for the CA");
    std::fs::write(ca.path(), trusted_pem).expect("write the CA");
    let server = Server::start_with(
        backend,
        ServerOptions {
            webhook_ca_file: Some(ca.path().to_str().expect("UTF-8").to_string()),
            webhook_retry_base_ms: Some("50"),
            webhook_attempts: Some("2"),
            ..ServerOptions::default()
        },
    )
    .await;
    let admin = server.admin().await;
    let session = server.create_session("Secure", &[("S-1", "TLS")]).await;
    let (good_url, mut good) = tls_receiver(trusted).await;
    let (bad_url, mut bad) = tls_receiver(stranger).await;
    let good_hook = id_of(&register(&admin, &good_url, Some(session.id), "whsec-tls").await);
    let bad_hook = id_of(&register(&admin, &bad_url, Some(session.id), "whsec-bad").await);
    set_points_over_rest(&admin, session.stories[0].id, "8").await;

    // The trusted receiver gets the event, over TLS, signed.
    let received = tokio::time::timeout(DELIVERY_TIMEOUT, good.recv())
        .await
        .expect("a delivery over https in time")
        .expect("the receiver runs");
    received.assert_signed_with("whsec-tls");
    assert_eq!(received.json()["event"], "points_set");
    let log = settled_deliveries(&admin, good_hook, 1).await;
    assert_eq!(log[0]["status"], "delivered", "{log:?}");
    // The other one's certificate is nobody's: no request reaches it, and the log says why.
    let log = settled_deliveries(&admin, bad_hook, 1).await;
    assert_eq!(log[0]["status"], "failed", "{log:?}");
    assert_eq!(log[0]["attempts"], 2);
    assert!(
        bad.try_recv().is_err(),
        "nothing was sent to an untrusted receiver"
    );

    // A CA file that is no certificate stops the server at its start, saying so.
    let broken = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(broken.path(), "not a certificate").expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_planning-poker"))
        .env("DATABASE_URL", "sqlite::memory:")
        .env("WEBHOOK_CA_FILE", broken.path())
        .arg("serve")
        .output()
        .expect("run the server");
    assert!(!output.status.success(), "the server refused to start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("webhook_ca_file"), "{stderr}");
}
