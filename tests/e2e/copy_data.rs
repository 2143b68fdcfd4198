//! `planning-poker copy-data`, the real binary: a server on SQLite is populated over REST and
//! WebSocket and stopped, its database is copied to PostgreSQL, and a server on PostgreSQL shows
//! the same sessions, stories, points and votes, and takes the old passwords, tokens and cookies.
//! Without PostgreSQL: a non-empty target is refused, and a password in a URL is never printed.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::Command;

use crate::support::{Backend, Rights, Server, TestUser, WsClient};

/// Runs `planning-poker copy-data --from FROM --to TO` in `dir`, with none of the server's
/// settings from the environment: (success, stdout, stderr).
async fn copy_data(dir: &Path, from: &str, to: &str) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planning-poker"));
    cmd.args(["copy-data", "--from", from, "--to", to])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for key in ["DATABASE_URL", "REDIS_URL", "ADMIN_PASSWORD", "COOKIE_KEY"] {
        cmd.env_remove(key);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("copy-data finishes within 120 s")
        .expect("run copy-data");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Stops a server as an operator does before copying (SIGTERM, then waits for the exit).
async fn stop(server: &mut Server) {
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "the server stopped cleanly: {status}");
}

/// What the REST API shows of a session: the session, its stories (with points), and each
/// story's votes as seen by `viewer`.
async fn shown(server: &Server, session_id: i64, viewer: &TestUser) -> Value {
    let mut stories = Vec::new();
    for story in server.stories(session_id).await {
        let id = story["id"].as_i64().expect("a story id");
        stories.push(json!({"story": story, "votes": server.votes_as(viewer, id).await}));
    }
    let sessions = server
        .admin()
        .await
        .get("/api/sessions")
        .await
        .expect_status(200, "list the sessions");
    json!({
        "sessions": sessions,
        "session": server.get_session(session_id).await,
        "stories": stories,
    })
}

/// Sends an event from the first client and waits until every client saw `echo`.
async fn everyone_sees(
    clients: &mut [WsClient],
    from: usize,
    event: &str,
    data: Value,
    echo: &str,
) {
    clients[from].send_event(event, data).await;
    for client in clients.iter_mut() {
        client.expect_event(echo).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
async fn a_sqlite_database_copied_to_postgres_serves_the_same_data_and_logins() {
    let mut old = Server::start(Backend::Sqlite).await;
    let moderator = old.create_user("moderator", Rights::Moderator).await;
    let alice = old.create_user("alice", Rights::Voter).await;
    let bob = old.create_user("bøb ✓", Rights::Voter).await;
    let session = old
        .create_session(
            "Umzug — the move",
            &[("M-1", "one"), ("M-2", "zwei ü"), ("M-3", "")],
        )
        .await;
    let s = &session.stories;
    let mut clients = old
        .join_all(session.id, &[&moderator, &alice, &bob], None)
        .await;
    // M-1 gets points after two votes; M-2 becomes active and gets two votes.
    everyone_sees(
        &mut clients,
        0,
        "next_story_requested",
        json!({"story_id": s[0].id}),
        "story_changed",
    )
    .await;
    everyone_sees(
        &mut clients,
        1,
        "vote_submitted",
        json!({"choice": "13"}),
        "story_changed",
    )
    .await;
    everyone_sees(
        &mut clients,
        2,
        "vote_submitted",
        json!({"choice": "8"}),
        "story_changed",
    )
    .await;
    everyone_sees(
        &mut clients,
        0,
        "points_submitted",
        json!({"story_points": "13"}),
        "story_points_submitted",
    )
    .await;
    for client in clients.iter_mut() {
        client.expect_event("stories_changed").await;
    }
    everyone_sees(
        &mut clients,
        0,
        "next_story_requested",
        json!({"story_id": s[1].id}),
        "story_changed",
    )
    .await;
    everyone_sees(
        &mut clients,
        1,
        "vote_submitted",
        json!({"choice": "5"}),
        "story_changed",
    )
    .await;
    everyone_sees(
        &mut clients,
        2,
        "vote_submitted",
        json!({"choice": "8"}),
        "story_changed",
    )
    .await;
    drop(clients);

    let before = shown(&old, session.id, &alice).await;
    let m2_votes = &before["stories"][1]["votes"];
    assert_eq!(
        m2_votes["votes"].as_object().map(|v| v.len()),
        Some(2),
        "alice sees the two votes on M-2: {m2_votes}"
    );
    let m1 = &before["stories"][0];
    assert!(
        m1["story"]["story_points"] == json!(13) || m1["story"]["story_points"] == json!("13"),
        "M-1 has its points: {m1}"
    );
    // A login cookie of the old server (signed with the cookie key kept in the database).
    let cookie = old
        .login(&alice.username, &alice.password)
        .await
        .cookie_header()
        .expect("the login sets a cookie");
    stop(&mut old).await;

    let target = crate::support::create_pg_database().await;
    let from = format!("sqlite://{}", old.sqlite_path().display());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (ok, out, err) = copy_data(dir.path(), &from, &target.url).await;
    assert!(ok, "copy-data succeeds: {out}\n{err}");
    for table in [
        "users",
        "tokens",
        "poker_sessions",
        "stories",
        "votes",
        "settings",
    ] {
        assert!(out.contains(table), "the summary names {table}: {out}");
    }
    assert!(out.contains("Row counts checked"), "{out}");

    let new = Server::start_on_database(target.url.clone()).await;
    assert_eq!(
        shown(&new, session.id, &alice).await,
        before,
        "the server on PostgreSQL shows the same sessions, stories, points and votes"
    );
    // Old passwords, bearer tokens and cookies work on the new server.
    let me = new
        .login(&bob.username, &bob.password)
        .await
        .get("/api/auth/me")
        .await
        .expect_status(200, "bob logs in with his old password");
    assert_eq!(me["username"], json!(bob.username), "{me}");
    let me = new
        .http_with_token(&alice.token)
        .get("/api/auth/me")
        .await
        .expect_status(200, "alice's old bearer token");
    assert_eq!(me["id"], json!(alice.id), "{me}");
    let me = new
        .http()
        .get_with_cookie("/api/auth/me", &cookie)
        .await
        .expect_status(200, "alice's old login cookie");
    assert_eq!(me["id"], json!(alice.id), "{me}");
    new.admin().await;

    // The live session goes on where it was: M-2 active with its votes; new rows get new ids.
    let mut a = new.connect(session.id, &alice).await;
    let data = a.expect_event("story_changed").await;
    assert_eq!(data["id"], json!(s[1].id), "{data}");
    let carol = new.create_user("carol", Rights::Voter).await;
    assert!(carol.id > bob.id, "a new user gets a new id: {}", carol.id);
    let next = new.create_session("After the move", &[("N-1", "")]).await;
    assert!(next.id > session.id && next.stories[0].id > s[2].id);
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_data_refuses_a_target_that_is_not_empty() {
    let mut server = Server::start(Backend::Sqlite).await;
    server.create_user("alice", Rights::Voter).await;
    stop(&mut server).await;
    let from = format!("sqlite://{}", server.sqlite_path().display());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let to = format!("sqlite://{}", dir.path().join("copy.db").display());

    let (ok, out, err) = copy_data(dir.path(), &from, &to).await;
    assert!(ok, "the first copy succeeds: {out}\n{err}");
    let (ok, out, err) = copy_data(dir.path(), &from, &to).await;
    assert!(!ok, "the second copy fails: {out}");
    assert!(
        err.contains("not empty") && err.contains("users") && err.contains("nothing was written"),
        "the message says why: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_data_never_prints_a_password_of_its_urls() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let to = format!("sqlite://{}", dir.path().join("copy.db").display());
    // Nothing listens on port 1: the connection fails, and libpq's message may quote the URL.
    let (ok, out, err) = copy_data(
        dir.path(),
        "postgres://poker:s3cret-Pa55@127.0.0.1:1/poker",
        &to,
    )
    .await;
    assert!(!ok, "copying from nowhere fails");
    assert!(
        err.contains("source"),
        "the message names the source: {err}"
    );
    assert!(
        !out.contains("s3cret-Pa55") && !err.contains("s3cret-Pa55"),
        "the password is hidden: {out}\n{err}"
    );
    // A URL the parser refuses is quoted in the message: with its password redacted.
    let (ok, out, err) = copy_data(dir.path(), "mysql://poker:s3cret-Pa55@db/poker", &to).await;
    assert!(!ok, "a MySQL URL is refused");
    assert!(
        err.contains("--from") && err.contains("poker:[redacted]@db") && !err.contains("s3cret"),
        "the URL is quoted without its password: {out}\n{err}"
    );
    assert!(!dir.path().join("copy.db").exists(), "no target was made");
}
