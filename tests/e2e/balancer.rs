//! The production topology on loopback: two real server processes on one PostgreSQL database
//! behind Debian's HAProxy running `deploy/haproxy.cfg`, the very file the compose stack mounts
//! into its balancer (addresses come from the environment, as there). Checked through the
//! balancer: requests alternate between the processes (`X-Served-By`), login and REST work on
//! either, one session's sockets land on both and get their frames, and a kept-alive connection
//! left idle still works. Also the server's own keep-alive (`KEEP_ALIVE_SECS`), over a raw
//! socket.
//!
//! HAProxy must be installed (`scripts/ensure-deps.sh` installs Debian's package); without it the
//! balancer tests fail and say so. The harness (`Balancer`, `stack`) is `support/balancer.rs`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::balancer::stack;
use crate::support::{
    with_bearer, Backend, Http, Rights, Server, ServerOptions, WsClient, ADMIN_PASSWORD,
};

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(postgres_tests, redis_tests)),
    ignore = "TEST_DATABASE_URL and TEST_REDIS_URL not both set: the stack needs PostgreSQL and Redis"
)]
async fn requests_alternate_and_one_session_spans_both_replicas() {
    // The stack as deployed: the replicas share live sessions through Redis.
    let options = ServerOptions {
        redis: Some(crate::support::cluster::machine_redis()),
        ..ServerOptions::default()
    };
    let (app1, app2, balancer) = stack(options, &[]).await;
    for (server, name) in [(&app1, "replica-1"), (&app2, "replica-2")] {
        let reply = server.http().get("/healthz").await;
        assert_eq!(reply.served_by(), name, "X-Served-By of {name} itself");
    }

    // Round robin without affinity: each request goes to the other process.
    let http = Http::new(balancer.base_url(), None);
    let mut served = Vec::new();
    for _ in 0..6 {
        let reply = http.get("/healthz").await;
        assert_eq!(reply.status, 200, "GET /healthz through the balancer");
        served.push(reply.served_by());
    }
    for pair in served.windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "consecutive requests alternate: {served:?}"
        );
    }
    let mut names = served.clone();
    names.sort();
    names.dedup();
    assert_eq!(names, ["replica-1", "replica-2"], "{served:?}");

    // A login made on one process holds on the other (one database, one cookie key).
    let admin = Http::new(balancer.base_url(), None);
    admin
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await
        .expect_status(200, "log in through the balancer");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let me = admin.get("/api/auth/me").await;
        seen.push(me.served_by());
        assert_eq!(
            me.expect_status(200, "GET /api/auth/me")["username"],
            "admin"
        );
    }
    assert_ne!(
        seen[0], seen[1],
        "the two /api/auth/me went to both processes"
    );

    // REST through the balancer.
    let session = admin
        .post(
            "/api/sessions",
            json!({"name": "Balanced", "poker_date": "2026-12-01"}),
        )
        .await
        .expect_status(201, "create a session through the balancer");
    let session_id = session["id"].as_i64().expect("the session has an id");
    let story = admin
        .post(
            &format!("/api/sessions/{session_id}/stories"),
            json!({"ticket_number": "LB-1", "title": "Spread the load"}),
        )
        .await
        .expect_status(201, "create a story through the balancer");
    let story_id = story["id"].as_i64().expect("the story has an id");

    // One session's sockets on both processes: they estimate together, through the backplane.
    let moderator = app1.create_user("mod", Rights::Moderator).await;
    let voter = app1.create_user("voter", Rights::Voter).await;
    let connect = |token: &str, name: &'static str| {
        let url = balancer.ws_url(session_id);
        let request = with_bearer(app1.ws_request(&url), token);
        async move {
            WsClient::connect(request, name)
                .await
                .unwrap_or_else(|e| panic!("{name} connects through the balancer: {e}"))
        }
    };
    let mut moderator_ws = connect(&moderator.token, "mod").await;
    let joined = moderator_ws
        .find_event("participants_changed", Duration::from_secs(5))
        .await;
    assert!(
        includes_user(&joined, moderator.id),
        "the moderator sees itself join: {joined}"
    );
    moderator_ws
        .send_event("next_story_requested", json!({"story_id": story_id}))
        .await;
    let started = moderator_ws
        .find_event("story_changed", Duration::from_secs(5))
        .await;
    assert_eq!(started["id"], story_id, "{started}");

    // The next handshake goes to the other process, which loads the session from the database.
    let mut voter_ws = connect(&voter.token, "voter").await;
    assert_ne!(
        moderator_ws.served_by, voter_ws.served_by,
        "the two sockets of the session are on different processes"
    );
    let current = voter_ws
        .find_event("story_changed", Duration::from_secs(5))
        .await;
    assert_eq!(
        current["id"], story_id,
        "the voter's process shows the story the moderator started on the other: {current}"
    );
    let joined = moderator_ws
        .find_event("participants_changed", Duration::from_secs(5))
        .await;
    assert!(
        includes_user(&joined, voter.id),
        "the moderator's process lists the voter who joined on the other one: {joined}"
    );
    voter_ws
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    for ws in [&mut voter_ws, &mut moderator_ws] {
        let voted = ws.find_event("story_changed", Duration::from_secs(5)).await;
        assert_eq!(
            voted["voters"],
            json!([voter.voter()]),
            "{}: {voted}",
            ws.name
        );
    }

    // The vote is stored: either process answers it.
    let votes_http = Http::new(balancer.base_url(), Some(voter.token.clone()));
    for _ in 0..2 {
        let votes = votes_http
            .get(&format!("/api/stories/{story_id}/votes"))
            .await
            .expect_status(200, "the votes through the balancer");
        assert_eq!(votes["voters"], json!([voter.voter()]), "{votes}");
    }
    moderator_ws.close().await;
    voter_ws.close().await;
}

fn includes_user(participants_changed: &Value, id: i64) -> bool {
    participants_changed["participants"]
        .as_array()
        .is_some_and(|list| list.iter().any(|p| p["id"] == id))
}

/// What the replicas and the balancer's client side are given in the keep-alive test: the
/// replicas close idle connections sooner than HAProxy closes an idle client's, so one pause
/// outlasts the replicas' keep-alive while the client's connection stays open.
const SHORT_SERVER_KEEP_ALIVE: &str = "1.5";
const SHORT_CLIENT_KEEP_ALIVE: &str = "4s";

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
async fn an_idle_kept_alive_connection_through_the_balancer_still_posts() {
    let options = ServerOptions {
        keep_alive_secs: Some(SHORT_SERVER_KEEP_ALIVE),
        ..ServerOptions::default()
    };
    let (_app1, _app2, balancer) = stack(
        options,
        &[("HAPROXY_CLIENT_KEEP_ALIVE", SHORT_CLIENT_KEEP_ALIVE)],
    )
    .await;
    let mut conn = RawHttp::connect(balancer.port()).await;
    let (status, _) = conn.request("GET", "/healthz", None).await;
    assert_eq!(status, 200);

    // Idle past the replicas' keep-alive: they have closed their idle connections to HAProxy,
    // which must notice and open new ones instead of failing the next request.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let login = json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string();
    let (status, body) = conn.request("POST", "/api/auth/login", Some(&login)).await;
    assert_eq!(status, 200, "POST on the idle connection: {body}");

    // Idle past the balancer's own keep-alive toward clients: it closes the connection (no
    // reset, no error response), and a client that keeps a pool (reqwest) simply reconnects.
    let http = Http::new(balancer.base_url(), None);
    assert_eq!(http.get("/healthz").await.status, 200);
    let (closed_after, reqwest_after_idle) =
        tokio::join!(conn.wait_closed(Duration::from_secs(8)), async {
            tokio::time::sleep(Duration::from_millis(4500)).await;
            http.post(
                "/api/auth/login",
                json!({"username": "admin", "password": ADMIN_PASSWORD}),
            )
            .await
        });
    assert!(
        closed_after >= Duration::from_secs(3),
        "the balancer kept the idle client connection {SHORT_CLIENT_KEEP_ALIVE}, not {closed_after:?}"
    );
    reqwest_after_idle.expect_status(200, "POST after an idle pause, through a pooling client");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
async fn the_balancers_log_shows_no_invite_secret_and_no_query_string() {
    let (app1, _app2, balancer) = stack(ServerOptions::default(), &[]).await;
    let session = app1
        .create_session("Logged", &[("L-1", "Quiet logs")])
        .await;
    let invite = app1
        .admin()
        .await
        .post(&format!("/api/sessions/{}/invites", session.id), json!({}))
        .await
        .expect_status(201, "an invite");
    let invite = invite["token"]
        .as_str()
        .expect("the invite's token")
        .to_string();
    let voter = app1.create_user("lena", Rights::Voter).await;
    let bearer = app1.new_token(&voter).await;

    // An invite link opened and used, and a request that carries a token in its query string,
    // all through the balancer.
    let http = Http::new(balancer.base_url(), None);
    http.get(&format!("/join/{invite}"))
        .await
        .expect_status(200, "the join page");
    http.get(&format!("/api/invites/{invite}"))
        .await
        .expect_status(200, "the invitation");
    http.post(
        &format!("/api/invites/{invite}/join"),
        json!({"name": "Gustav"}),
    )
    .await
    .expect_status(201, "a guest joins");
    http.get(&format!("/api/sessions?token={bearer}"))
        .await
        .expect_status(200, "a token in the query string");

    // HAProxy logs a request when it ends: wait for the last one's line.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !balancer
        .log()
        .iter()
        .any(|l| l.contains("GET /api/sessions "))
    {
        assert!(
            Instant::now() < deadline,
            "no access line for the last request: {:?}",
            balancer.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = balancer.log();
    for path in [
        "GET /join/{token} ",
        "GET /api/invites/{token} ",
        "POST /api/invites/{token}/join ",
    ] {
        assert!(
            log.iter().any(|l| l.contains(path)),
            "an access line for {path}: {log:?}"
        );
    }
    for line in &log {
        for secret in [&invite, &bearer] {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in HAProxy's log: {line}"
            );
        }
    }
}

/// The server closes a connection idle for `KEEP_ALIVE_SECS` and not before.
#[tokio::test(flavor = "multi_thread")]
async fn the_server_closes_a_connection_idle_for_keep_alive_secs() {
    let server = Server::start_with(
        Backend::Sqlite,
        ServerOptions {
            keep_alive_secs: Some("2"),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut conn = RawHttp::connect(server.port()).await;
    let (status, _) = conn.request("GET", "/healthz", None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = conn.request("GET", "/healthz", None).await;
    assert_eq!(status, 200, "the connection is still open after 0.5 s");
    let closed_after = conn.wait_closed(Duration::from_secs(6)).await;
    assert!(
        closed_after >= Duration::from_millis(1500) && closed_after <= Duration::from_millis(3500),
        "KEEP_ALIVE_SECS=2 closed the idle connection after {closed_after:?}"
    );
}

/// One HTTP/1.1 connection, driven by hand so that a test knows it is the same connection.
struct RawHttp {
    stream: TcpStream,
    port: u16,
}

impl RawHttp {
    async fn connect(port: u16) -> RawHttp {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
        RawHttp { stream, port }
    }

    /// Sends a request (a JSON body if given) and reads the answer: status and body text.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        json_body: Option<&str>,
    ) -> (u16, String) {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n",
            self.port
        );
        if let Some(body) = json_body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            request.push_str("\r\n");
        }
        self.stream
            .write_all(request.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: writing failed: {e}"));
        tokio::time::timeout(Duration::from_secs(15), self.read_response())
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer within 15 s"))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    async fn read_response(&mut self) -> Result<(u16, String), String> {
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match self.stream.read(&mut chunk).await {
                Ok(0) => return Err("the connection closed before an answer".into()),
                Ok(n) => data.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("reading failed: {e}")),
            }
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("no status in {head:?}"))?;
        let length = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
        while data.len() < head_end + length {
            match self.stream.read(&mut chunk).await {
                Ok(0) => return Err("the connection closed within the body".into()),
                Ok(n) => data.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("reading the body failed: {e}")),
            }
        }
        let body = String::from_utf8_lossy(&data[head_end..head_end + length]).to_string();
        Ok((status, body))
    }

    /// Waits (at most `within`) for the other side to close the idle connection; returns how
    /// long that took. Nothing may arrive first.
    async fn wait_closed(&mut self, within: Duration) -> Duration {
        let start = Instant::now();
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(within, self.stream.read(&mut chunk)).await {
            Err(_) => panic!("the idle connection was still open after {within:?}"),
            Ok(Ok(0)) => start.elapsed(),
            Ok(Ok(n)) => panic!(
                "unexpected bytes on the idle connection: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Ok(Err(e)) => panic!("the idle connection failed instead of closing: {e}"),
        }
    }
}
