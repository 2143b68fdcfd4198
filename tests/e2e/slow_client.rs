//! A client that stops reading must not slow its session: past its bound of unsent output the
//! server drops it from the session (the others see it leave) and closes it with 1013, while
//! the others go on voting at full speed.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    start_story, with_bearer, Backend, Rights, Server, ServerOptions, TestUser, WsClient,
};

both_backends!(a_client_that_stops_reading_is_closed_with_1013_and_the_others_go_on);

const VOTERS: usize = 8;

async fn a_client_that_stops_reading_is_closed_with_1013_and_the_others_go_on(backend: Backend) {
    let server = Server::start_with(
        backend,
        ServerOptions {
            // Small, so the test needs few frames; production default is 1 MiB.
            socket_backlog_bytes: Some("262144"),
            ..ServerOptions::default()
        },
    )
    .await;
    let moderator = server.create_user("mo", Rights::Moderator).await;
    let voters = server.create_users("voter", VOTERS, Rights::Voter).await;
    let sloth = server.create_user("sloth", Rights::Spectator).await;
    // A long description makes every story_changed about 24 KiB, so that the kernel's socket
    // buffers (several MiB on loopback) fill after a few hundred frames.
    let session = server.create_session("Slow", &[("SL-1", "one")]).await;
    let admin = server.admin().await;
    crate::support::admin::AdminHttp::patch_json(
        &admin,
        &format!("/api/stories/{}", session.stories[0].id),
        json!({"description": format!("<p>{}</p>", "words ".repeat(4000))}),
    )
    .await
    .expect_status(200, "a long description");

    let mut users: Vec<&TestUser> = vec![&moderator];
    users.extend(voters.iter());
    let mut clients = server.join_all(session.id, &users, None).await;
    start_story(&mut clients, 0, session.stories[0].id).await;

    // The slow client joins, reads its first frames, then never reads again.
    let mut slow = WsClient::connect_small_buffer(
        with_bearer(server.ws_request(&server.ws_url(session.id)), &sloth.token),
        "sloth",
        2048,
    )
    .await
    .expect("the slow client connects");
    slow.expect_event("story_changed").await;
    slow.expect_event("participants_changed").await;
    for client in clients.iter_mut() {
        client.expect_event("participants_changed").await;
    }

    // The others vote round after round; each vote reaches every reader.
    let mut latencies = Vec::new();
    let mut dropped_after = None;
    let started = Instant::now();
    let mut round = 0usize;
    while round < 600 {
        let choice = ["3", "5"][round % 2];
        let voter = 1 + round % VOTERS;
        let sent = Instant::now();
        clients[voter]
            .send_event("vote_submitted", json!({ "choice": choice }))
            .await;
        for client in clients.iter_mut() {
            // A participants_changed (the sloth dropped) may come in between.
            loop {
                let frame = client.next_frame().await;
                match frame["event"].as_str() {
                    Some("story_changed") => break,
                    Some("participants_changed") => {
                        let names: Vec<&str> = frame["data"]["participants"]
                            .as_array()
                            .expect("participants")
                            .iter()
                            .filter_map(|p| p["name"].as_str())
                            .collect();
                        assert!(!names.contains(&"sloth"), "only a leave: {names:?}");
                        dropped_after.get_or_insert(round);
                    }
                    _ => panic!("{}: unexpected {frame}", client.name),
                }
            }
        }
        latencies.push(sent.elapsed());
        round += 1;
        if dropped_after.is_some_and(|at| round > at + 20) {
            break;
        }
    }
    let dropped_after = dropped_after.unwrap_or_else(|| {
        panic!(
            "the client that does not read was dropped within {round} rounds ({:?})",
            started.elapsed()
        )
    });
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p95 = latencies[latencies.len() * 95 / 100];
    eprintln!(
        "dropped after {dropped_after} rounds; {} rounds, p50 {p50:?}, p95 {p95:?}, max {:?}",
        latencies.len(),
        latencies.last()
    );
    assert!(
        p95 < Duration::from_millis(500),
        "the others kept their pace: p95 {p95:?}"
    );

    // When the slow client reads at last, it finds the frames it had, then the close: 1013.
    let code = loop {
        match slow.next_raw(Duration::from_secs(10)).await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => continue,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(close))) => {
                break close.map(|c| u16::from(c.code));
            }
            other => panic!("the slow client: expected frames then a close, got {other:?}"),
        }
    };
    assert_eq!(code, Some(1013), "closed with 1013 (try again later)");
    // The session goes on.
    clients[1]
        .send_event("vote_submitted", json!({"choice": "8"}))
        .await;
    for client in clients.iter_mut() {
        client.expect_event("story_changed").await;
    }
}
