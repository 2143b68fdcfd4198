//! The round's countdown (README, "Timer"): `timer_start_requested` and
//! `timer_stop_requested`, `timer_started`, `timer_stopped` and `timer_ended`, its end revealing
//! the round, and a countdown that survives reconnects.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::admin::{activate, cast, expect_all_quiet, expect_on_all, AdminHttp};
use crate::support::{Backend, Rights, Server, TestSession, TestUser, WsClient};

both_backends!(
    a_countdown_reaches_everyone_ends_for_everyone_and_reveals,
    a_countdown_survives_a_reconnect_and_shows_over_rest,
    stopping_or_a_new_round_stops_the_countdown,
    a_countdown_needs_the_right_good_data_and_a_story,
    a_countdown_may_end_without_revealing,
    the_original_dialect_hears_nothing_of_countdowns,
    scripts_start_and_stop_a_countdown_over_rest,
);

const ALICE: usize = 0;
const BOB: usize = 1;
const MIA: usize = 2;

struct Table {
    server: Server,
    session: TestSession,
    users: Vec<TestUser>,
    clients: Vec<WsClient>,
}

/// alice and bob vote, mia moderates; the first of two stories is active.
async fn table(backend: Backend, settings: Value) -> Table {
    let server = Server::start(backend).await;
    let users = vec![
        server.create_user("alice", Rights::Voter).await,
        server.create_user("bob", Rights::Voter).await,
        server.create_user("mia", Rights::Moderator).await,
    ];
    let session = server
        .create_session("Timed", &[("T-1", "First"), ("T-2", "Second")])
        .await;
    server
        .admin()
        .await
        .patch_json(&format!("/api/sessions/{}", session.id), settings)
        .await
        .expect_status(200, "the session's settings");
    let present: Vec<&TestUser> = users.iter().collect();
    let mut clients = server.join_all(session.id, &present, None).await;
    activate(&mut clients, MIA, session.stories[0].id).await;
    Table {
        server,
        session,
        users,
        clients,
    }
}

/// Milliseconds since 1970 of an RFC 3339 time of a frame.
fn millis(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time as text: {value}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is RFC 3339: {e}"))
        .timestamp_millis()
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn start(t: &mut Table, seconds: i64) -> Vec<Value> {
    t.clients[MIA]
        .send_event("timer_start_requested", json!({ "seconds": seconds }))
        .await;
    expect_on_all(&mut t.clients, "timer_started").await
}

async fn a_countdown_reaches_everyone_ends_for_everyone_and_reveals(backend: Backend) {
    let mut t = table(
        backend,
        json!({"reveal": "moderator", "auto_reveal": false}),
    )
    .await;
    cast(&mut t.clients, ALICE, "5").await;
    let before = now_millis();
    let started = start(&mut t, 2).await;
    for frame in &started {
        assert_eq!(frame["duration"], 2);
        let ends_at = millis(&frame["ends_at"]);
        let server_time = millis(&frame["server_time"]);
        assert_eq!(ends_at, millis(&started[0]["ends_at"]), "one end for all");
        assert!(
            (ends_at - server_time - 2000).abs() < 1000,
            "ends two seconds after the server's now: {frame}"
        );
        assert!(ends_at >= before + 1000, "{frame}");
    }
    // Nothing until it runs out; then timer_ended, and the round revealed, to everyone.
    for client in t.clients.iter_mut() {
        let ended = client
            .find_event("timer_ended", Duration::from_secs(5))
            .await;
        assert_eq!(ended, json!({}));
    }
    assert!(
        now_millis() >= millis(&started[0]["ends_at"]) - 100,
        "not before its end"
    );
    let revealed = expect_on_all(&mut t.clients, "story_changed").await;
    for frame in &revealed {
        assert_eq!(frame["revealed"], true);
        assert_eq!(frame["votes"], json!({"5": [t.users[ALICE].voter()]}));
    }
    expect_all_quiet(&mut t.clients).await;
    let session = t.server.get_session(t.session.id).await;
    assert_eq!(session["timer"], Value::Null, "it is over");
}

async fn a_countdown_survives_a_reconnect_and_shows_over_rest(backend: Backend) {
    let mut t = table(backend, json!({})).await;
    let started = start(&mut t, 120).await;
    let ends_at = millis(&started[0]["ends_at"]);
    let session = t.server.get_session(t.session.id).await;
    assert_eq!(millis(&session["timer"]["ends_at"]), ends_at);
    assert_eq!(session["timer"]["duration"], 120);
    assert_eq!(session["timer_reveals"], true);

    // alice's page reloads: story, then the countdown, then who is here.
    let mut again = t.server.connect(t.session.id, &t.users[ALICE]).await;
    let first = again.next_frame().await;
    assert_eq!(first["event"], "story_changed", "{first}");
    let second = again.next_frame().await;
    assert_eq!(second["event"], "timer_started", "{second}");
    assert_eq!(millis(&second["data"]["ends_at"]), ends_at, "the same end");
    assert_eq!(second["data"]["duration"], 120);
    again.expect_event("participants_changed").await;
    // It survives the server's restart too: it is stored.
    drop(again);
    drop(t.clients);
    t.server.restart().await;
    let mut after = t.server.connect(t.session.id, &t.users[BOB]).await;
    after.expect_event("story_changed").await;
    let frame = after.expect_event("timer_started").await;
    assert_eq!(millis(&frame["ends_at"]), ends_at);
}

async fn stopping_or_a_new_round_stops_the_countdown(backend: Backend) {
    let mut t = table(backend, json!({})).await;
    // Stopped by the moderator: no end comes.
    start(&mut t, 1).await;
    t.clients[MIA]
        .send_event("timer_stop_requested", json!({}))
        .await;
    for data in expect_on_all(&mut t.clients, "timer_stopped").await {
        assert_eq!(data, json!({}));
    }
    futures_util::future::join_all(
        t.clients
            .iter_mut()
            .map(|c| c.expect_silence_for(Duration::from_millis(1500))),
    )
    .await;
    assert_eq!(
        t.server.get_session(t.session.id).await["timer"],
        Value::Null
    );

    // A reset ends the round, and its countdown.
    start(&mut t, 60).await;
    t.clients[MIA]
        .send_event("reset_requested", json!({}))
        .await;
    expect_on_all(&mut t.clients, "timer_stopped").await;
    expect_on_all(&mut t.clients, "story_changed").await;

    // So does the next story.
    start(&mut t, 60).await;
    let next = json!({"story_id": t.session.stories[1].id});
    t.clients[MIA]
        .send_event("next_story_requested", next)
        .await;
    expect_on_all(&mut t.clients, "timer_stopped").await;
    expect_on_all(&mut t.clients, "story_changed").await;
    expect_all_quiet(&mut t.clients).await;
    assert_eq!(
        t.server.get_session(t.session.id).await["timer"],
        Value::Null
    );

    // A restart replaces the running one.
    start(&mut t, 60).await;
    let restarted = start(&mut t, 90).await;
    assert_eq!(restarted[ALICE]["duration"], 90);
}

async fn a_countdown_needs_the_right_good_data_and_a_story(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Rules", &[("R-1", "")]).await;
    let mut clients = server.join_all(session.id, &[&alice, &mia], None).await;
    clients[1]
        .send_event("timer_start_requested", json!({"seconds": 30}))
        .await;
    clients[1].expect_error("no_active_story").await;
    activate(&mut clients, 1, session.stories[0].id).await;
    clients[0]
        .send_event("timer_start_requested", json!({"seconds": 30}))
        .await;
    clients[0].expect_error("forbidden").await;
    clients[0]
        .send_event("timer_stop_requested", json!({}))
        .await;
    clients[0].expect_error("forbidden").await;
    for bad in [
        json!({}),
        json!({"seconds": 0}),
        json!({"seconds": 3601}),
        json!({"seconds": "60"}),
        json!({"seconds": 2.5}),
    ] {
        clients[1].send_event("timer_start_requested", bad).await;
        clients[1].expect_error("invalid").await;
    }
    // Stopping what does not run tells the sender alone.
    clients[1]
        .send_event("timer_stop_requested", json!({}))
        .await;
    clients[1].expect_event("timer_stopped").await;
    expect_all_quiet(&mut clients).await;
    assert_eq!(server.get_session(session.id).await["timer"], Value::Null);
}

async fn a_countdown_may_end_without_revealing(backend: Backend) {
    let mut t = table(
        backend,
        json!({"reveal": "moderator", "auto_reveal": false, "timer_reveals": false}),
    )
    .await;
    cast(&mut t.clients, ALICE, "3").await;
    start(&mut t, 1).await;
    for client in t.clients.iter_mut() {
        client
            .find_event("timer_ended", Duration::from_secs(5))
            .await;
    }
    expect_all_quiet(&mut t.clients).await;
    let votes = t
        .server
        .votes_as(&t.users[BOB], t.session.stories[0].id)
        .await;
    assert_eq!(votes["revealed"], false);
    assert_eq!(votes["votes"], json!({}));
}

async fn the_original_dialect_hears_nothing_of_countdowns(backend: Backend) {
    let mut t = table(backend, json!({})).await;
    let carl = t.server.create_user("carl", Rights::Voter).await;
    let mut original = t.server.connect_original(t.session.id, &carl, true).await;
    original.expect_event("story_changed").await;
    original.expect_event("participants_changed").await;
    expect_on_all(&mut t.clients, "participants_changed").await;
    start(&mut t, 1).await;
    for client in t.clients.iter_mut() {
        client
            .find_event("timer_ended", Duration::from_secs(5))
            .await;
    }
    // The round is revealed by the end (story_changed, which it knows); nothing else.
    let frame = original.expect_event("story_changed").await;
    assert_eq!(frame["revealed"], true);
    original.expect_silence().await;
}

async fn scripts_start_and_stop_a_countdown_over_rest(backend: Backend) {
    let mut t = table(backend, json!({})).await;
    let path = format!("/api/sessions/{}/timer", t.session.id);
    let mia = t.server.as_user(&t.users[MIA]);
    let alice = t.server.as_user(&t.users[ALICE]);
    alice
        .post(&path, json!({"seconds": 30}))
        .await
        .expect_error(403, "a voter starts the countdown");
    for (body, what) in [
        (json!({}), "no seconds"),
        (json!({"seconds": 0}), "zero"),
        (json!({"seconds": 3601}), "over an hour"),
        (json!({"seconds": "30"}), "text"),
    ] {
        let error = mia.post(&path, body).await.expect_error(422, what);
        assert_eq!(error["field"], "seconds", "{what}: {error}");
    }
    expect_all_quiet(&mut t.clients).await;
    let started = mia
        .post(&path, json!({"seconds": 45}))
        .await
        .expect_status(201, "start over REST");
    assert_eq!(started["duration"], 45);
    for frame in expect_on_all(&mut t.clients, "timer_started").await {
        assert_eq!(frame["ends_at"], started["ends_at"], "the sockets hear it");
    }
    mia.delete_at(&path)
        .await
        .expect_status(204, "stop over REST");
    expect_on_all(&mut t.clients, "timer_stopped").await;
    assert_eq!(
        t.server.get_session(t.session.id).await["timer"],
        Value::Null
    );
    mia.post("/api/sessions/999999/timer", json!({"seconds": 5}))
        .await
        .expect_error(404, "no such session");
    // Without an active story: 409.
    let idle = t.server.create_session("Idle", &[("I-1", "")]).await;
    mia.post(
        &format!("/api/sessions/{}/timer", idle.id),
        json!({"seconds": 5}),
    )
    .await
    .expect_error(409, "no active story");
}
