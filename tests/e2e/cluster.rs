//! Several server processes sharing live sessions through Redis, on one PostgreSQL database
//! (issue 9): the members of one session, spread over processes, see one session in one order
//! with nothing lost, whatever happens to a process, to Redis, or to a message.
//!
//! Real processes, a real Redis (the machine's, under a prefix of each test's own, or a
//! private `redis-server` where a test kills it), and faults caused for real.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::admin::AdminHttp;
use crate::support::cluster::{machine_redis, metric, start_processes, PrivateRedis};
use crate::support::{Rights, Server, ServerOptions, TestUser, WsClient};

/// Events whose frames every member gets alike (with secrecy off), in the session's order.
const ORDERED: &[&str] = &[
    "story_changed",
    "story_points_submitted",
    "stories_changed",
    "poker_session_ended",
];

macro_rules! cluster_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            #[cfg_attr(
                not(all(postgres_tests, redis_tests)),
                ignore = "TEST_DATABASE_URL and TEST_REDIS_URL not both set: the tests of \
                          several processes need PostgreSQL and Redis"
            )]
            async fn $name() {
                super::$name().await;
            }
        )+
    };
}

mod processes {
    cluster_tests!(
        every_event_crosses_processes_in_one_order,
        rest_edits_reach_members_on_every_process,
        presence_is_the_union_over_processes,
        a_killed_process_drops_out_within_the_client_timeout_and_a_stopped_one_at_once,
        redis_killed_mid_session_loses_no_vote_and_members_converge,
        a_reordered_message_is_put_back_in_order,
        a_lost_message_is_detected_and_repaired,
        rights_and_logins_changed_on_one_process_apply_on_the_others,
        sqlite_with_redis_is_refused_at_start,
        a_countdown_and_the_servers_reveal_are_one_on_every_process,
        a_revoked_invite_ends_its_guests_sockets_on_every_process,
    );
}

/// A session whose votes everyone sees (so every member gets the same frames), with stories.
async fn open_session(server: &Server, stories: &[(&str, &str)]) -> crate::support::TestSession {
    let session = server.create_session("Shared", stories).await;
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/sessions/{}", session.id),
            json!({"secret_votes": false}),
        )
        .await
        .expect_status(200, "turn secret votes off");
    session
}

/// The names in a `participants_changed`.
fn names(data: &Value) -> BTreeSet<String> {
    data["participants"]
        .as_array()
        .unwrap_or_else(|| panic!("participants is an array: {data}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Reads until a `participants_changed` lists exactly `expected`, within `within`; the time
/// it took.
async fn await_participants(
    client: &mut WsClient,
    expected: &BTreeSet<String>,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + within;
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.frame_within(left).await {
            Some(frame) if frame["event"] == "participants_changed" => {
                let got = names(&frame["data"]);
                if &got == expected {
                    return start.elapsed();
                }
                last = Some(got);
            }
            Some(_) => {}
            None => panic!(
                "{}: participants never became {expected:?} within {within:?} (last: {last:?})",
                client.name
            ),
        }
    }
}

/// The frames of `ORDERED` events a client gets until it has been quiet for `quiet`.
async fn ordered_frames(client: &mut WsClient, quiet: Duration) -> Vec<Value> {
    let mut frames = Vec::new();
    while let Some(frame) = client.frame_within(quiet).await {
        if ORDERED.contains(&frame["event"].as_str().unwrap_or_default()) {
            frames.push(frame);
        } else if frame["event"] == "error" {
            panic!("{}: an error frame: {frame}", client.name);
        }
    }
    frames
}

/// Reads ordered frames into `frames` until one for which `done` holds (kept too).
async fn collect_until(
    client: &mut WsClient,
    frames: &mut Vec<Value>,
    done: impl Fn(&Value) -> bool,
) {
    loop {
        let frame = client.next_frame().await;
        let event = frame["event"].as_str().unwrap_or_default();
        assert_ne!(event, "error", "{}: an error frame: {frame}", client.name);
        if ORDERED.contains(&event) {
            let stop = done(&frame);
            frames.push(frame);
            if stop {
                return;
            }
        }
    }
}

/// Reads until a `story_changed` whose voters are exactly `voters` (names), within `within`.
async fn await_voters(client: &mut WsClient, voters: &[&str], within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    let wanted: Vec<String> = voters.iter().map(|v| v.to_string()).collect();
    let mut last = Value::Null;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.frame_within(left).await {
            Some(frame) if frame["event"] == "story_changed" => {
                let mut got: Vec<String> = frame["data"]["voters"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| v["name"].as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                got.sort();
                let mut want = wanted.clone();
                want.sort();
                if got == want {
                    return frame["data"].clone();
                }
                last = frame["data"].clone();
            }
            Some(_) => {}
            None => panic!(
                "{}: no story_changed with voters {voters:?} within {within:?}; last: {last}",
                client.name
            ),
        }
    }
}

/// The first client (a moderator) starts the story; every member, on whichever process, gets
/// its `story_changed` (other frames, such as a late `participants_changed`, are skipped).
async fn start_story_everywhere(clients: &mut [WsClient], story_id: i64) {
    clients[0]
        .send_event("next_story_requested", json!({ "story_id": story_id }))
        .await;
    for client in clients.iter_mut() {
        client
            .find_event("story_changed", Duration::from_secs(5))
            .await;
    }
}

/// Connects `users[i]` to `servers[i % servers.len()]` and waits until every socket lists
/// everyone.
async fn spread(servers: &[Server], session_id: i64, users: &[&TestUser]) -> Vec<WsClient> {
    let mut clients = Vec::new();
    for (i, user) in users.iter().enumerate() {
        clients.push(servers[i % servers.len()].connect(session_id, user).await);
    }
    let everyone: BTreeSet<String> = users.iter().map(|u| u.username.clone()).collect();
    for client in clients.iter_mut() {
        await_participants(client, &everyone, Duration::from_secs(10)).await;
    }
    clients
}

async fn every_event_crosses_processes_in_one_order() {
    let servers = start_processes(3, machine_redis(), ServerOptions::default()).await;
    let session = open_session(&servers[0], &[("C-1", ""), ("C-2", ""), ("C-3", "")]).await;
    // A moderator who votes too (as in real teams), and voters on every process.
    let moderator = servers[0].create_user("mod", Rights::VoterModerator).await;
    let voters = servers[1].create_users("voter", 5, Rights::Voter).await;
    let mut users = vec![&moderator];
    users.extend(voters.iter());
    let mut clients = spread(&servers, session.id, &users).await;

    clients[0]
        .send_event(
            "next_story_requested",
            json!({"story_id": session.stories[0].id}),
        )
        .await;
    // Every member's frames, in the order they came.
    let mut seen: Vec<Vec<Value>> = vec![Vec::new(); clients.len()];
    for (client, frames) in clients.iter_mut().zip(seen.iter_mut()) {
        collect_until(client, frames, |f| f["event"] == "story_changed").await;
    }
    // Rounds of votes sent at once from sockets on all three processes, a reset in between,
    // points, and the next story: writers of different processes race for the session's row.
    let choices = ["1", "2", "3", "5", "8", "13"];
    for round in 0..4 {
        for (i, client) in clients.iter_mut().enumerate() {
            let choice = choices[(i + round) % choices.len()];
            client
                .send_event("vote_submitted", json!({"choice": choice}))
                .await;
        }
        if round == 1 {
            // Everyone's votes of the first rounds are in before the reset clears them.
            let all_voted = |f: &Value| {
                f["event"] == "story_changed"
                    && f["data"]["voters"].as_array().map(Vec::len) == Some(6)
            };
            for (client, frames) in clients.iter_mut().zip(seen.iter_mut()) {
                collect_until(client, frames, all_voted).await;
            }
            clients[0].send_event("reset_requested", json!({})).await;
            let cleared =
                |f: &Value| f["event"] == "story_changed" && f["data"]["voters"] == json!([]);
            for (client, frames) in clients.iter_mut().zip(seen.iter_mut()) {
                collect_until(client, frames, cleared).await;
            }
        }
    }
    // The moderator sets the points once every last vote is in (sent before that, a vote on
    // another process may be judged after the next story began, and be refused).
    let last_round: Vec<(String, String)> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            (
                u.username.clone(),
                choices[(i + 3) % choices.len()].to_string(),
            )
        })
        .collect();
    let all_in = move |f: &Value| {
        f["event"] == "story_changed"
            && last_round.iter().all(|(name, choice)| {
                f["data"]["votes"][choice]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|voter| voter["name"] == json!(name)))
            })
    };
    for (client, frames) in clients.iter_mut().zip(seen.iter_mut()) {
        collect_until(client, frames, &all_in).await;
    }
    clients[0]
        .send_event("points_submitted", json!({"story_points": 5}))
        .await;
    clients[0]
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    let next = session.stories[1].id;
    collect_until(&mut clients[3], &mut seen[3], |f| {
        f["event"] == "story_changed" && f["data"]["id"] == json!(next)
    })
    .await;
    clients[3]
        .send_event("vote_submitted", json!({"choice": "8"}))
        .await;
    for (client, frames) in clients.iter_mut().zip(seen.iter_mut()) {
        frames.extend(ordered_frames(client, Duration::from_millis(1500)).await);
    }
    let first = &seen[0];
    assert!(
        first.len() >= 28,
        "every vote, the reset, the points and the next story made frames: {first:#?}"
    );
    for (i, frames) in seen.iter().enumerate().skip(1) {
        assert_eq!(
            frames,
            first,
            "{} (process {}) saw the session's frames in the same order as {} (process 0)",
            clients[i].name,
            i % 3,
            clients[0].name
        );
    }
    // And that order ends where the database is.
    let last_story = first
        .iter()
        .rev()
        .find(|f| f["event"] == "story_changed")
        .expect("a story_changed");
    assert_eq!(last_story["data"]["id"], json!(session.stories[1].id));
    let stored = servers[2]
        .admin()
        .await
        .get(&format!("/api/stories/{}/votes", session.stories[1].id))
        .await
        .expect_status(200, "the votes of the new story");
    assert_eq!(stored["voters"], last_story["data"]["voters"], "{stored}");
    let points: Vec<Value> = servers[1]
        .stories(session.id)
        .await
        .iter()
        .map(|s| s["story_points"].clone())
        .collect();
    assert_eq!(
        points[0],
        json!(5),
        "the points were saved once: {points:?}"
    );
}

async fn rest_edits_reach_members_on_every_process() {
    let servers = start_processes(2, machine_redis(), ServerOptions::default()).await;
    let session = open_session(&servers[0], &[("R-1", "")]).await;
    let moderator = servers[0].create_user("mod", Rights::Moderator).await;
    let voter = servers[0].create_user("voter", Rights::Voter).await;
    let mut clients = spread(&servers, session.id, &[&moderator, &voter]).await;
    start_story_everywhere(&mut clients, session.stories[0].id).await;

    // A story added through the second process reaches the socket on the first one.
    let admin = servers[1].admin().await;
    admin
        .post(
            &format!("/api/sessions/{}/stories", session.id),
            json!({"ticket_number": "R-2", "title": "added elsewhere"}),
        )
        .await
        .expect_status(201, "add a story");
    for client in clients.iter_mut() {
        let stories = client
            .find_event("stories_changed", Duration::from_secs(5))
            .await;
        assert_eq!(
            stories["stories"].as_array().map(Vec::len),
            Some(2),
            "{stories}"
        );
    }
    // A new deck changes what story_changed shows, everywhere.
    admin
        .patch_json(
            &format!("/api/sessions/{}", session.id),
            json!({"deck": {"options": ["S", "M", "L"], "points": ["S", "M", "L"]}}),
        )
        .await
        .expect_status(200, "change the deck");
    for client in clients.iter_mut() {
        client
            .find_event("story_changed", Duration::from_secs(5))
            .await;
    }
    clients[1]
        .send_event("vote_submitted", json!({"choice": "M"}))
        .await;
    for client in clients.iter_mut() {
        await_voters(client, &["voter"], Duration::from_secs(5)).await;
    }
    // Deleting the session ends it for members of both processes.
    servers[1]
        .admin()
        .await
        .delete_at(&format!("/api/sessions/{}", session.id))
        .await
        .expect_status(204, "delete the session");
    for client in clients.iter_mut() {
        client
            .find_event("poker_session_ended", Duration::from_secs(5))
            .await;
    }
}

async fn presence_is_the_union_over_processes() {
    let servers = start_processes(3, machine_redis(), ServerOptions::default()).await;
    let session = open_session(&servers[0], &[("P-1", "")]).await;
    let ann = servers[0].create_user("ann", Rights::Voter).await;
    let bob = servers[0].create_user("bob", Rights::Voter).await;
    let cid = servers[0].create_user("cid", Rights::Moderator).await;
    let mut clients = spread(&servers, session.id, &[&ann, &bob, &cid]).await;

    // Ann opens a second socket on another process: still one participant.
    let mut ann_again = servers[2].connect(session.id, &ann).await;
    await_participants(
        &mut ann_again,
        &set(&["ann", "bob", "cid"]),
        Duration::from_secs(5),
    )
    .await;
    // One subscription per live session per process (plus one for all sessions), however many
    // sockets the process has in the session (process 2 has two).
    for server in &servers {
        let mut subscriptions = 0.0;
        for _ in 0..30 {
            subscriptions = metric(server, "poker_backplane_subscriptions").await;
            if subscriptions == 2.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(subscriptions, 2.0, "subscriptions of one process");
    }
    // Bob leaves (process 1): both others see it, at once.
    let bob_client = clients.remove(1);
    bob_client.close().await;
    for client in clients.iter_mut().chain(std::iter::once(&mut ann_again)) {
        await_participants(client, &set(&["ann", "cid"]), Duration::from_secs(5)).await;
    }
    // Ann's first socket (process 0) leaves; her socket on process 2 keeps her in.
    let ann_first = clients.remove(0);
    ann_first.close().await;
    clients[0]
        .expect_silence_for(Duration::from_millis(800))
        .await;
    ann_again
        .expect_silence_for(Duration::from_millis(200))
        .await;
}

async fn a_killed_process_drops_out_within_the_client_timeout_and_a_stopped_one_at_once() {
    let timeout = Duration::from_secs(3);
    let options = ServerOptions {
        client_timeout_secs: Some("3"),
        ping_interval_secs: Some("1"),
        ..ServerOptions::default()
    };
    let mut servers = start_processes(3, machine_redis(), options).await;
    let session = open_session(&servers[0], &[("K-1", "")]).await;
    let users = servers[0].create_users("u", 3, Rights::Voter).await;
    let refs: Vec<&TestUser> = users.iter().collect();
    let mut clients = spread(&servers, session.id, &refs).await;

    // kill -9: the process cannot say goodbye; its member leaves the others' lists within the
    // client timeout, and exactly one participants_changed says so on each socket.
    servers[2].signal("KILL");
    let mut took = Vec::new();
    for client in clients.iter_mut().take(2) {
        took.push(
            await_participants_with_heartbeats(client, &set(&["u0", "u1"]), timeout * 2).await,
        );
    }
    for t in &took {
        assert!(
            *t <= timeout + Duration::from_millis(500),
            "u2 left within the client timeout ({timeout:?}); took {t:?}"
        );
    }
    // A clean stop (SIGTERM) takes its members out at once.
    servers[1].signal("TERM");
    let t = await_participants_with_heartbeats(&mut clients[0], &set(&["u0"]), timeout).await;
    assert!(
        t < Duration::from_millis(1500),
        "a stopped process's member leaves at once; took {t:?}"
    );
    servers[1].wait_exit(Duration::from_secs(10)).await;
}

/// As [`await_participants`], sending heartbeats meanwhile (the client timeout is short).
async fn await_participants_with_heartbeats(
    client: &mut WsClient,
    expected: &BTreeSet<String>,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    let deadline = start + within;
    loop {
        client.send_event("heartbeat", json!({})).await;
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{}: participants never became {expected:?} within {within:?}",
            client.name
        );
        match client
            .frame_within(left.min(Duration::from_millis(300)))
            .await
        {
            Some(frame)
                if frame["event"] == "participants_changed"
                    && &names(&frame["data"]) == expected =>
            {
                return start.elapsed();
            }
            _ => {}
        }
    }
}

async fn ready(server: &Server) -> u16 {
    server.http().get("/readyz").await.status
}

/// Waits until every server's `/readyz` answers `status`, for at most `within`.
async fn await_ready(servers: &[Server], status: u16, within: Duration, when: &str) {
    for server in servers {
        let start = Instant::now();
        while ready(server).await != status {
            assert!(start.elapsed() < within, "/readyz answers {status} {when}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn redis_killed_mid_session_loses_no_vote_and_members_converge() {
    let mut redis = PrivateRedis::start().await;
    let servers = start_processes(2, redis.redis(), ServerOptions::default()).await;
    let session = open_session(&servers[0], &[("D-1", "")]).await;
    let moderator = servers[0].create_user("mod", Rights::Moderator).await;
    let voters = servers[0].create_users("v", 4, Rights::Voter).await;
    let users: Vec<&TestUser> = std::iter::once(&moderator).chain(voters.iter()).collect();
    let mut clients = spread(&servers, session.id, &users).await;
    start_story_everywhere(&mut clients, session.stories[0].id).await;
    assert_eq!(ready(&servers[0]).await, 200);

    redis.kill().await;
    // Both processes notice, and say so to the balancer.
    await_ready(&servers, 503, Duration::from_secs(5), "while Redis is down").await;
    // Votes go on, on both processes: each is saved, and members of the other process get it
    // by polling the database.
    let names = ["v0", "v1", "v2", "v3"];
    for (i, client) in clients.iter_mut().enumerate().skip(1) {
        client
            .send_event("vote_submitted", json!({"choice": "3"}))
            .await;
        let _ = i;
    }
    for client in clients.iter_mut() {
        await_voters(client, &names, Duration::from_secs(5)).await;
    }

    // A change to a user made on process 0 while Redis is away: v0's socket is on process 1.
    servers[0]
        .admin()
        .await
        .patch_json(
            &format!("/api/users/{}", voters[0].id),
            json!({"can_vote": false}),
        )
        .await
        .expect_status(200, "take v0's right to vote");

    redis.start_again().await;
    await_ready(&servers, 200, Duration::from_secs(10), "once Redis is back").await;
    // Once Redis is back, process 1 reads its members' rights again: v0 is a spectator there too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let data = clients[1].find_event("participants_changed", left).await;
        let v0 = data["participants"]
            .as_array()
            .and_then(|l| l.iter().find(|p| p["name"] == "v0").cloned())
            .unwrap_or_default();
        if v0["permissions"] == json!([]) {
            break;
        }
    }
    // Pub/sub works again: a change crosses within a second, without waiting for polls.
    clients[2]
        .send_event("vote_submitted", json!({"choice": "8"}))
        .await;
    for client in clients.iter_mut() {
        let data = await_voters(client, &names, Duration::from_secs(3)).await;
        if data["votes"].get("8").is_none() {
            // The first frame with all four voters may predate the new vote: read on.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let data = client.find_event("story_changed", left).await;
                if data["votes"].get("8").is_some() {
                    break;
                }
            }
        }
    }
    // Nothing committed was lost.
    let stored = servers[1]
        .admin()
        .await
        .get(&format!("/api/stories/{}/votes", session.stories[0].id))
        .await
        .expect_status(200, "the stored votes");
    assert_eq!(
        stored["voters"].as_array().map(Vec::len),
        Some(4),
        "{stored}"
    );
    assert!(stored["votes"].get("8").is_some(), "{stored}");
    // Presence works again: a newcomer on process 1 shows up on process 0.
    let late = servers[0].create_user("late", Rights::Voter).await;
    let _late_client = servers[1].connect(session.id, &late).await;
    await_participants(
        &mut clients[0],
        &set(&["mod", "v0", "v1", "v2", "v3", "late"]),
        Duration::from_secs(5),
    )
    .await;
}

/// Commits a vote the way another process would (a version counted in the same transaction)
/// but publishes nothing: the message about it is lost. Returns the version.
async fn commit_behind_the_servers(server: &Server, session: i64, story: i64, user: i64) -> i64 {
    use diesel::{Connection, QueryableByName, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        version: i64,
    }
    let url = server.database_url().to_string();
    tokio::task::spawn_blocking(move || {
        let mut conn = diesel::PgConnection::establish(&url).expect("connect to the database");
        conn.transaction::<i64, diesel::result::Error, _>(|conn| {
            let v: Version = diesel::sql_query(
                "UPDATE poker_sessions SET version = version + 1 WHERE id = $1 \
                 RETURNING version",
            )
            .bind::<diesel::sql_types::BigInt, _>(session)
            .get_result(conn)?;
            diesel::sql_query("INSERT INTO votes (story_id, user_id, choice) VALUES ($1, $2, '5')")
                .bind::<diesel::sql_types::BigInt, _>(story)
                .bind::<diesel::sql_types::BigInt, _>(user)
                .execute(conn)?;
            Ok(v.version)
        })
        .expect("commit a vote")
    })
    .await
    .expect("the commit ran")
}

/// Publishes a message on the session's channel, as a process would.
fn publish(redis: &(String, String), session: i64, message: Value) {
    let status = std::process::Command::new("redis-cli")
        .args(["-u", &redis.0, "PUBLISH"])
        .arg(format!("{}:session:{session}", redis.1))
        .arg(message.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run redis-cli (Debian's redis-tools)");
    assert!(status.success(), "redis-cli PUBLISH");
}

fn vote_change(session: i64, version: i64, story: i64, user: &TestUser) -> Value {
    json!({
        "type": "change", "origin": "the-test", "session": session, "version": version,
        "change": {"kind": "voted", "story_id": story,
                   "vote": {"user_id": user.id, "username": user.username, "choice": "5"}},
    })
}

async fn a_reordered_message_is_put_back_in_order() {
    let redis = machine_redis();
    let servers = start_processes(2, redis.clone(), ServerOptions::default()).await;
    let session = open_session(&servers[0], &[("O-1", "")]).await;
    let moderator = servers[0].create_user("mod", Rights::Moderator).await;
    let (x, y) = (
        servers[0].create_user("x", Rights::Voter).await,
        servers[0].create_user("y", Rights::Voter).await,
    );
    let story = session.stories[0].id;
    let mut clients = spread(&servers, session.id, &[&moderator, &x]).await;
    start_story_everywhere(&mut clients, story).await;
    let gaps_before = metric(&servers[1], "poker_backplane_reloads_total{reason=\"gap\"}").await;

    // Two changes committed elsewhere; their messages arrive in the opposite order.
    let first = commit_behind_the_servers(&servers[0], session.id, story, x.id).await;
    let second = commit_behind_the_servers(&servers[0], session.id, story, y.id).await;
    assert_eq!(second, first + 1);
    publish(
        &redis,
        session.id,
        vote_change(session.id, second, story, &y),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    publish(
        &redis,
        session.id,
        vote_change(session.id, first, story, &x),
    );

    // Every member sees x's vote, then both, in that order, and nothing had to be reloaded.
    for client in clients.iter_mut() {
        let frames = ordered_frames(client, Duration::from_millis(1000)).await;
        let voters: Vec<Value> = frames.iter().map(|f| f["data"]["voters"].clone()).collect();
        assert_eq!(
            voters,
            vec![
                json!([{"id": x.id, "name": "x"}]),
                json!([{"id": x.id, "name": "x"}, {"id": y.id, "name": "y"}]),
            ],
            "{}: the buffered change applied after the one before it",
            client.name
        );
    }
    let gaps_after = metric(&servers[1], "poker_backplane_reloads_total{reason=\"gap\"}").await;
    assert_eq!(gaps_after, gaps_before, "no reload was needed");
}

async fn a_lost_message_is_detected_and_repaired() {
    let redis = machine_redis();
    let options = ServerOptions {
        version_check_secs: Some("2"),
        ..ServerOptions::default()
    };
    let servers = start_processes(2, redis, options).await;
    let session = open_session(&servers[0], &[("L-1", "")]).await;
    let moderator = servers[0].create_user("mod", Rights::Moderator).await;
    let voter = servers[0].create_user("voter", Rights::Voter).await;
    let (lost, last) = (
        servers[0].create_user("lost", Rights::Voter).await,
        servers[0].create_user("last", Rights::Voter).await,
    );
    let story = session.stories[0].id;
    let mut clients = spread(&servers, session.id, &[&moderator, &voter]).await;
    start_story_everywhere(&mut clients, story).await;

    // A change whose message never comes (its process died between commit and publish), then
    // a change that comes: the gap is noticed, waited for briefly, and repaired by a reload.
    commit_behind_the_servers(&servers[0], session.id, story, lost.id).await;
    clients[1]
        .send_event("vote_submitted", json!({"choice": "3"}))
        .await;
    for client in clients.iter_mut() {
        await_voters(client, &["lost", "voter"], Duration::from_secs(3)).await;
    }
    for server in &servers {
        assert!(
            metric(server, "poker_backplane_reloads_total{reason=\"gap\"}").await >= 1.0,
            "the gap was repaired by a reload"
        );
    }

    // The last change's message is lost and nothing follows it: the version check finds it.
    commit_behind_the_servers(&servers[0], session.id, story, last.id).await;
    for client in clients.iter_mut() {
        await_voters(client, &["lost", "voter", "last"], Duration::from_secs(5)).await;
    }
}

async fn rights_and_logins_changed_on_one_process_apply_on_the_others() {
    let servers = start_processes(2, machine_redis(), ServerOptions::default()).await;
    let session = open_session(&servers[0], &[("U-1", "")]).await;
    let moderator = servers[0].create_user("mod", Rights::Moderator).await;
    let vera = servers[0].create_user("vera", Rights::Voter).await;
    let mut clients = spread(&servers, session.id, &[&moderator, &vera]).await;
    start_story_everywhere(&mut clients, session.stories[0].id).await;

    // Vera's socket is on process 1; her right to vote is taken through process 0.
    servers[0]
        .admin()
        .await
        .patch_json(
            &format!("/api/users/{}", vera.id),
            json!({"can_vote": false}),
        )
        .await
        .expect_status(200, "take the right to vote");
    for client in clients.iter_mut() {
        let data = client
            .find_event("participants_changed", Duration::from_secs(5))
            .await;
        let vera_now = data["participants"]
            .as_array()
            .and_then(|l| l.iter().find(|p| p["name"] == "vera").cloned())
            .unwrap_or_default();
        assert_eq!(
            vera_now["permissions"],
            json!([]),
            "{}: {data}",
            client.name
        );
    }
    clients[1]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    let refused = clients[1].find_event("error", Duration::from_secs(5)).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    // Her login ends through process 0: her socket on process 1 closes with 4001.
    servers[0]
        .http_with_token(&vera.token)
        .post("/api/auth/logout", json!({}))
        .await
        .expect_status(204, "log out");
    assert_eq!(close_code(&mut clients[1]).await, 4001);
    await_participants(&mut clients[0], &set(&["mod"]), Duration::from_secs(5)).await;
}

/// An invite revoked through one process ends its guests' sockets on the other (4001), and
/// their login there.
async fn a_revoked_invite_ends_its_guests_sockets_on_every_process() {
    let servers = start_processes(2, machine_redis(), ServerOptions::default()).await;
    let session = open_session(&servers[0], &[("G-1", "")]).await;
    let moderator = servers[0].create_user("mod", Rights::Moderator).await;
    let host = servers[0]
        .login(&moderator.username, &moderator.password)
        .await;
    let invite = host
        .post(&format!("/api/sessions/{}/invites", session.id), json!({}))
        .await
        .expect_status(201, "an invite");
    // The guest joins through process 0 and their socket is on process 1.
    let guest = servers[0].http();
    guest
        .post(
            &format!(
                "/api/invites/{}/join",
                invite["token"].as_str().expect("a token")
            ),
            json!({"name": "Gustav"}),
        )
        .await
        .expect_status(201, "the guest joins");
    let cookie = guest.cookie_header().expect("the guest's login cookie");
    let request = crate::support::with_cookie(
        servers[1].ws_request(&servers[1].ws_url(session.id)),
        &cookie,
    );
    let mut guest_ws = WsClient::connect(request, "gustav")
        .await
        .expect("the guest's socket on process 1");
    let mut mod_ws = servers[0].connect(session.id, &moderator).await;
    await_participants(
        &mut mod_ws,
        &set(&["Gustav", "mod"]),
        Duration::from_secs(5),
    )
    .await;

    host.delete_at(&format!(
        "/api/sessions/{}/invites/{}",
        session.id, invite["id"]
    ))
    .await
    .expect_status(204, "revoke the invite");
    assert_eq!(close_code(&mut guest_ws).await, 4001);
    await_participants(&mut mod_ws, &set(&["mod"]), Duration::from_secs(5)).await;
    let on_the_other = crate::support::Http::new(servers[1].base_url(), None);
    let me = on_the_other.get_with_cookie("/api/auth/me", &cookie).await;
    assert_eq!(me.status, 401, "the guest's login ended on process 1 too");
}

/// The close code, skipping the frames before the close.
async fn close_code(client: &mut WsClient) -> u16 {
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match client.next_raw(Duration::from_secs(5)).await {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) => panic!("{}: closed without a code", client.name),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("{}: the socket failed before closing: {e}", client.name),
            None => panic!("{}: not closed within 5 s", client.name),
        }
    }
}

async fn sqlite_with_redis_is_refused_at_start() {
    let (url, _) = machine_redis();
    let dir = tempfile::tempdir().expect("a directory");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_planning-poker"))
        .arg("serve")
        .current_dir(dir.path())
        .env("DATABASE_URL", "sqlite://poker.db")
        .env("REDIS_URL", url)
        .env("BIND", "127.0.0.1:0")
        .output()
        .await
        .expect("run the server");
    assert!(!output.status.success(), "the server refuses to start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("REDIS_URL") && stderr.contains("PostgreSQL"),
        "the message says what to fix: {stderr}"
    );
}

/// Rounds across processes: a countdown started on one process reaches members on the other
/// with the same end, runs out on both, and its reveal is written once; the server's own reveal
/// waits for voters on every process (presence is the union).
async fn a_countdown_and_the_servers_reveal_are_one_on_every_process() {
    let servers = start_processes(2, machine_redis(), ServerOptions::default()).await;
    let alice = servers[0].create_user("alice", Rights::Voter).await;
    let bob = servers[0].create_user("bob", Rights::Voter).await;
    let mia = servers[0].create_user("mia", Rights::Moderator).await;
    let session = servers[0]
        .create_session("Across", &[("A-1", "One"), ("A-2", "Two")])
        .await;
    servers[0]
        .admin()
        .await
        .patch_json(
            &format!("/api/sessions/{}", session.id),
            json!({"reveal": "moderator"}),
        )
        .await
        .expect_status(200, "votes shown on reveal");
    // mia and alice on the first process, bob on the second.
    let mut mia_ws = servers[0].connect(session.id, &mia).await;
    let mut alice_ws = servers[0].connect(session.id, &alice).await;
    let mut bob_ws = servers[1].connect(session.id, &bob).await;
    for client in [&mut mia_ws, &mut alice_ws, &mut bob_ws] {
        wait_for_participants(client, 3).await;
    }
    mia_ws
        .send_event(
            "next_story_requested",
            json!({"story_id": session.stories[0].id}),
        )
        .await;
    for client in [&mut mia_ws, &mut alice_ws, &mut bob_ws] {
        client
            .find_event("story_changed", Duration::from_secs(10))
            .await;
    }
    // alice votes on the first process: bob, on the second, has not: no reveal yet.
    alice_ws
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    let seen = bob_ws
        .find_event("story_changed", Duration::from_secs(10))
        .await;
    assert_eq!(seen["revealed"], false);
    assert_eq!(seen["votes"], json!({}));
    // bob votes on the second process: everyone present is done, and the round is revealed.
    bob_ws
        .send_event("vote_submitted", json!({"choice": "8"}))
        .await;
    for client in [&mut mia_ws, &mut alice_ws, &mut bob_ws] {
        let revealed = find_story(client, |d| d["revealed"] == true).await;
        assert_eq!(revealed["votes"]["8"], json!([bob.voter()]));
    }

    // A countdown on the next story, started on the first process.
    mia_ws
        .send_event(
            "next_story_requested",
            json!({"story_id": session.stories[1].id}),
        )
        .await;
    for client in [&mut mia_ws, &mut alice_ws, &mut bob_ws] {
        find_story(client, |d| d["id"] == json!(session.stories[1].id)).await;
    }
    alice_ws
        .send_event("vote_submitted", json!({"choice": "3"}))
        .await;
    for client in [&mut mia_ws, &mut alice_ws, &mut bob_ws] {
        find_story(client, |d| {
            !d["voters"].as_array().is_none_or(Vec::is_empty)
        })
        .await;
    }
    mia_ws
        .send_event("timer_start_requested", json!({"seconds": 2}))
        .await;
    let mut ends = Vec::new();
    for client in [&mut mia_ws, &mut alice_ws, &mut bob_ws] {
        let started = client
            .find_event("timer_started", Duration::from_secs(10))
            .await;
        ends.push(started["ends_at"].clone());
    }
    assert!(
        ends.iter().all(|e| *e == ends[0]),
        "one end on both processes: {ends:?}"
    );
    // A socket that joins the second process meanwhile gets the countdown too.
    let mut late = servers[1].connect(session.id, &alice).await;
    let started = late
        .find_event("timer_started", Duration::from_secs(10))
        .await;
    assert_eq!(started["ends_at"], ends[0]);
    for client in [&mut mia_ws, &mut alice_ws, &mut bob_ws, &mut late] {
        client
            .find_event("timer_ended", Duration::from_secs(10))
            .await;
        let revealed = find_story(client, |d| d["revealed"] == true).await;
        assert_eq!(revealed["votes"]["3"], json!([alice.voter()]));
    }
    // One reveal: both processes' countdowns ended, but only one wrote the reveal, so no
    // socket hears of a second one.
    for client in [&mut mia_ws, &mut alice_ws, &mut bob_ws, &mut late] {
        let quiet_until = Instant::now() + Duration::from_secs(1);
        while let Some(frame) = client
            .frame_within(quiet_until.saturating_duration_since(Instant::now()))
            .await
        {
            assert_ne!(
                frame["event"], "story_changed",
                "{}: the round was revealed a second time: {frame}",
                client.name
            );
        }
    }
    let stories = servers[1].stories(session.id).await;
    assert_eq!(stories.len(), 2);
}

/// Reads frames until a `participants_changed` lists `count` people.
async fn wait_for_participants(client: &mut WsClient, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let data = client
            .find_event("participants_changed", Duration::from_secs(15))
            .await;
        if data["participants"].as_array().map(Vec::len) == Some(count) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {count} participants",
            client.name
        );
    }
}

/// Reads frames until a `story_changed` whose data satisfies `wanted`.
async fn find_story(client: &mut WsClient, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let data = client
            .find_event("story_changed", Duration::from_secs(15))
            .await;
        if wanted(&data) {
            return data;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the story_changed wanted",
            client.name
        );
    }
}
