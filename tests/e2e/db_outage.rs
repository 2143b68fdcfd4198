//! Database outages, caused for real: PostgreSQL terminating the server's connections, a
//! database that refuses connections or stops answering (a TCP proxy between server and
//! database that the test breaks), and SQLite locked by another process. While the database is
//! away, REST, pages, the socket handshake and `/readyz` answer 503 and socket events get the
//! `unavailable` error; nothing is half-applied; once it is back, everything recovers within
//! seconds without a restart, and what sessions show is what is stored.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::proxy::{FaultProxy, Mode};
use crate::support::{
    handshake_status, start_story, with_bearer, Backend, Http, Rights, Server, ServerOptions,
    TestUser, WsClient,
};

/// Short, so that outages are noticed and tests stay quick.
const DB_TIMEOUT: &str = "1";
/// Recovery must take no longer than this once the database is back.
const RECOVERY: Duration = Duration::from_secs(8);

/// A fault proxy in front of the test PostgreSQL (of `TEST_DATABASE_URL`; with SQLite the
/// server does not use it).
async fn database_proxy() -> FaultProxy {
    let url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .and_then(|u| reqwest::Url::parse(&u).ok());
    let host = url
        .as_ref()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_else(|| "127.0.0.1".into());
    let port = url.as_ref().and_then(|u| u.port()).unwrap_or(5432);
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .expect("resolve the database host")
        .next()
        .expect("the database host has an address");
    FaultProxy::start(upstream).await
}

/// Polls `probe` until it returns `Some`, for at most `within`.
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(start.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The votes as stored, through REST (as the non-voting moderator, who sees them all).
async fn stored_votes(http: &Http, story_id: i64) -> Value {
    http.get(&format!("/api/stories/{story_id}/votes"))
        .await
        .expect_status(200, "read the stored votes")["votes"]
        .clone()
}

/// Sends a vote until one is accepted (an `unavailable` answer is allowed meanwhile); returns
/// the `story_changed` that announced it.
async fn vote_until_accepted(client: &mut WsClient, choice: &str, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        client
            .send_event("vote_submitted", json!({ "choice": choice }))
            .await;
        let frame = client
            .frame_within(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("an answer to the vote within 5 s"));
        match frame["event"].as_str() {
            Some("story_changed") => {
                let mine = frame["data"]["votes"][choice]
                    .as_array()
                    .is_some_and(|v| !v.is_empty());
                if mine {
                    return frame["data"].clone();
                }
                // A reload pushed the stored state first; our vote's frame follows.
            }
            Some("error") => assert_eq!(
                frame["data"]["code"], "unavailable",
                "only `unavailable` while recovering: {frame}"
            ),
            _ => panic!("unexpected frame while voting: {frame}"),
        }
        assert!(
            start.elapsed() < within,
            "a vote is accepted again within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Scene {
    server: Server,
    voter: TestUser,
    moderator: TestUser,
    admin: Http,
    session_id: i64,
    story_id: i64,
    voter_ws: WsClient,
    moderator_ws: WsClient,
}

/// A session with an active story, a voter and a (non-voting) moderator connected.
async fn scene(server: Server) -> Scene {
    let voter = server.create_user("vera", Rights::Voter).await;
    let moderator = server.create_user("mo", Rights::Moderator).await;
    let session = server.create_session("Outage", &[("O-1", "one")]).await;
    let story_id = session.stories[0].id;
    let mut clients = server
        .join_all(session.id, &[&moderator, &voter], None)
        .await;
    start_story(&mut clients, 0, story_id).await;
    let voter_ws = clients.pop().expect("the voter's socket");
    let moderator_ws = clients.pop().expect("the moderator's socket");
    let admin = server.admin().await;
    Scene {
        server,
        voter,
        moderator,
        admin,
        session_id: session.id,
        story_id,
        voter_ws,
        moderator_ws,
    }
}

/// A REST write (adding a story) answers 503 `unavailable`.
async fn assert_write_unavailable(scene: &Scene, what: &str) {
    let error = scene
        .admin
        .post(
            &format!("/api/sessions/{}/stories", scene.session_id),
            json!({"ticket_number": "LOST-1"}),
        )
        .await
        .expect_error(503, what);
    assert_eq!(error["code"], "unavailable", "{error}");
}

/// Every way in answers 503 (never 500) while the database is away.
async fn assert_unavailable_everywhere(scene: &Scene) {
    let http = scene.server.http_with_token(&scene.voter.token);
    let error = http
        .get(&format!("/api/sessions/{}", scene.session_id))
        .await
        .expect_error(503, "REST read while the database is away");
    assert_eq!(error["code"], "unavailable", "{error}");
    assert_write_unavailable(scene, "REST write while the database is away").await;
    let ready = scene.server.http().get("/readyz").await;
    assert_eq!(ready.status, 503, "/readyz: {}", ready.body);
    let cookie = scene
        .admin
        .cookie_header()
        .expect("the admin client holds its login cookie");
    let page = scene.server.http().get_with_cookie("/", &cookie).await;
    assert_eq!(page.status, 503, "a page: {}", page.body);
    let handshake = handshake_status(with_bearer(
        scene
            .server
            .ws_request(&scene.server.ws_url(scene.session_id)),
        &scene.voter.token,
    ))
    .await;
    assert_eq!(handshake, 503, "the socket handshake");
    assert_eq!(
        scene.server.http().get("/healthz").await.status,
        200,
        "the process itself is fine"
    );
}

/// After recovery: REST, readiness and the socket work again, and the session shows what the
/// database holds.
async fn assert_recovered(scene: &mut Scene, choice: &str) {
    let http = scene.server.http_with_token(&scene.voter.token);
    eventually(RECOVERY, "REST answers again", || async {
        let reply = http
            .get(&format!("/api/sessions/{}", scene.session_id))
            .await;
        assert!(
            reply.status == 200 || reply.status == 503,
            "only 200 or 503 while recovering, got {} {}",
            reply.status,
            reply.body
        );
        (reply.status == 200).then_some(())
    })
    .await;
    eventually(RECOVERY, "/readyz is 200 again", || async {
        (scene.server.http().get("/readyz").await.status == 200).then_some(())
    })
    .await;
    let shown = vote_until_accepted(&mut scene.voter_ws, choice, RECOVERY).await;
    let seen_by_moderator = scene
        .moderator_ws
        .find_event("story_changed", Duration::from_secs(5))
        .await;
    // The moderator may first get a reload's frame; the last one they get matches the voter's.
    let mut latest = seen_by_moderator;
    while let Some(frame) = scene
        .moderator_ws
        .frame_within(Duration::from_millis(300))
        .await
    {
        if frame["event"] == "story_changed" {
            latest = frame["data"].clone();
        }
    }
    assert_eq!(latest["votes"], shown["votes"], "both see one state");
    let stored = stored_votes(
        &scene.server.http_with_token(&scene.moderator.token),
        scene.story_id,
    )
    .await;
    assert_eq!(
        shown["votes"], stored,
        "what the session shows is what is stored"
    );
    let mut fresh = scene
        .server
        .connect(scene.session_id, &scene.moderator)
        .await;
    let on_connect = fresh.expect_event("story_changed").await;
    assert_eq!(
        on_connect["votes"], stored,
        "a new socket gets the stored state"
    );
}

both_backends!(a_database_that_refuses_connections_answers_503_and_recovers);

/// The database goes away (on PostgreSQL: every connection dropped and new ones refused; on
/// SQLite: another process holds the write lock), then comes back.
async fn a_database_that_refuses_connections_answers_503_and_recovers(backend: Backend) {
    let proxy = database_proxy().await;
    let options = ServerOptions {
        database_timeout_secs: Some(DB_TIMEOUT),
        database_via: Some(proxy.addr()),
        ..ServerOptions::default()
    };
    let mut scene = scene(Server::start_with(backend, options).await).await;

    // The outage.
    let lock = match backend {
        Backend::Postgres => {
            proxy.set(Mode::Refuse);
            None
        }
        Backend::Sqlite => Some(hold_sqlite_lock(&scene.server)),
    };

    let sent = Instant::now();
    scene
        .voter_ws
        .send_event("vote_submitted", json!({"choice": "3"}))
        .await;
    let error = scene.voter_ws.expect_error("unavailable").await;
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "the event fails within the database timeout, not later ({:?}): {error}",
        sent.elapsed()
    );
    scene.moderator_ws.expect_silence().await;
    // Once the server knows, events fail at once instead of each waiting for a timeout.
    eventually(Duration::from_secs(5), "/readyz says 503", || async {
        (scene.server.http().get("/readyz").await.status == 503).then_some(())
    })
    .await;
    let sent = Instant::now();
    scene
        .moderator_ws
        .send_event("reset_requested", json!({}))
        .await;
    scene.moderator_ws.expect_error("unavailable").await;
    assert!(
        sent.elapsed() < Duration::from_millis(1500),
        "a second event fails fast ({:?})",
        sent.elapsed()
    );
    if backend == Backend::Postgres {
        assert_unavailable_everywhere(&scene).await;
    } else {
        // SQLite in WAL mode still reads under another writer's lock; writes cannot go on.
        assert_write_unavailable(&scene, "REST write while the database is locked").await;
        assert_eq!(scene.server.http().get("/readyz").await.status, 503);
    }
    // The socket is still open: a heartbeat is fine.
    scene.voter_ws.send_event("heartbeat", json!({})).await;

    // The database comes back.
    match lock {
        Some(lock) => release_sqlite_lock(lock),
        None => proxy.set(Mode::Forward),
    }
    assert_recovered(&mut scene, "8").await;
    let stored = stored_votes(
        &scene.server.http_with_token(&scene.moderator.token),
        scene.story_id,
    )
    .await;
    assert!(
        stored.get("3").is_none(),
        "the vote refused during the outage was not stored: {stored}"
    );
    let stories = scene.server.stories(scene.session_id).await;
    assert_eq!(stories.len(), 1, "the refused REST write left nothing");
}

/// A database connection of another program holding SQLite's write lock.
fn hold_sqlite_lock(server: &Server) -> diesel::SqliteConnection {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let path = server.sqlite_path();
    let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
        .expect("open the server's SQLite file");
    conn.batch_execute("PRAGMA busy_timeout = 5000; BEGIN EXCLUSIVE")
        .expect("take the write lock");
    conn
}

fn release_sqlite_lock(mut conn: diesel::SqliteConnection) {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("ROLLBACK").expect("release the lock");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
async fn postgres_terminating_every_connection_is_survived_without_a_restart() {
    let mut scene = scene(Server::start(Backend::Postgres).await).await;
    scene
        .voter_ws
        .send_event("vote_submitted", json!({"choice": "2"}))
        .await;
    scene.voter_ws.expect_event("story_changed").await;
    scene.moderator_ws.expect_event("story_changed").await;

    // What a database restart or failover does to the server's connections.
    let database = reqwest::Url::parse(scene.server.database_url())
        .expect("the database URL parses")
        .path()
        .trim_start_matches('/')
        .to_string();
    terminate_backends(&database).await;

    // No request ever sees a 500, and REST works again at once or within seconds.
    let http = scene.server.http_with_token(&scene.voter.token);
    for _ in 0..10 {
        let reply = http
            .get(&format!("/api/sessions/{}", scene.session_id))
            .await;
        assert!(
            reply.status == 200 || reply.status == 503,
            "after the connections were terminated: {} {}",
            reply.status,
            reply.body
        );
    }
    assert_recovered(&mut scene, "5").await;
}

/// `pg_terminate_backend` for every connection to `database`, from the test's own connection.
async fn terminate_backends(database: &str) {
    use diesel::{Connection, RunQueryDsl};
    let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL is set");
    let database = database.to_string();
    tokio::task::spawn_blocking(move || {
        let mut conn = diesel::PgConnection::establish(&admin).expect("connect as the admin");
        let killed = diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        ))
        .execute(&mut conn)
        .expect("terminate the backends");
        assert!(killed > 0, "the server had connections to terminate");
    })
    .await
    .expect("the terminating task ran");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
async fn postgres_that_stops_answering_does_not_freeze_sessions() {
    let proxy = database_proxy().await;
    let options = ServerOptions {
        database_timeout_secs: Some(DB_TIMEOUT),
        database_via: Some(proxy.addr()),
        ..ServerOptions::default()
    };
    let mut scene = scene(Server::start_with(Backend::Postgres, options).await).await;

    // The host stops answering: connections stay open, bytes go nowhere.
    proxy.set(Mode::Blackhole);
    let sent = Instant::now();
    scene
        .voter_ws
        .send_event("vote_submitted", json!({"choice": "13"}))
        .await;
    scene.voter_ws.expect_error("unavailable").await;
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "a write to a silent database fails within its deadline ({:?})",
        sent.elapsed()
    );
    // The session is not frozen: other events are answered, quickly once the server knows.
    let start = Instant::now();
    loop {
        let sent = Instant::now();
        scene
            .moderator_ws
            .send_event("reset_requested", json!({}))
            .await;
        scene.moderator_ws.expect_error("unavailable").await;
        if sent.elapsed() < Duration::from_millis(500) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "events fail fast within 8 s"
        );
    }
    let sent = Instant::now();
    let reply = scene
        .server
        .http_with_token(&scene.voter.token)
        .get(&format!("/api/sessions/{}", scene.session_id))
        .await;
    assert_eq!(reply.status, 503, "REST: {}", reply.body);
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "REST gives up within its deadline ({:?})",
        sent.elapsed()
    );
    assert_eq!(scene.server.http().get("/readyz").await.status, 503);

    // The host answers again; what was held back is delivered (the first vote may commit
    // after all: whatever is stored is what sessions show).
    proxy.set(Mode::Forward);
    assert_recovered(&mut scene, "21").await;
}
