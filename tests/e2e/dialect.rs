//! Our extensions are opt-in (PROTOCOL.md section 2): a socket that offers the subprotocol
//! `poker.v2` gets every event; one that offers none, as the original's own front end does,
//! gets only the original's four, and its mistakes are dropped without an `error` frame. The
//! original's socket path `/poker/{id}/` is an alias of ours.

use serde_json::json;

use crate::support::{assert_participants, Backend, Rights, Server, WsClient};

/// The events a client of the original knows.
const ORIGINAL_EVENTS: [&str; 4] = [
    "story_changed",
    "story_points_submitted",
    "poker_session_ended",
    "participants_changed",
];

/// Reads until the socket has been quiet for a while and checks that every frame was one of
/// the original's events; returns their names.
async fn only_original_events(client: &mut WsClient) -> Vec<String> {
    let mut names = Vec::new();
    while let Some(frame) = client.frame_within(crate::support::SILENCE).await {
        let name = frame["event"].as_str().unwrap_or_default().to_string();
        assert!(
            ORIGINAL_EVENTS.contains(&name.as_str()),
            "{}: a socket without the subprotocol got {frame}",
            client.name
        );
        names.push(name);
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_without_the_subprotocol_gets_only_the_originals_four_events() {
    let server = Server::start(Backend::Sqlite).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::VoterModerator).await;
    let session = server
        .create_session("Dialects", &[("D-1", "one"), ("D-2", "two")])
        .await;

    let mut m = server.connect(session.id, &moderator).await;
    assert_eq!(m.subprotocol, "poker.v2", "the server agrees to poker.v2");
    m.expect_event("participants_changed").await;
    // Alice on the original's path, Bob on ours, neither offering a subprotocol.
    let mut a = server.connect_original(session.id, &alice, true).await;
    assert_eq!(a.subprotocol, "", "no subprotocol offered, none answered");
    let data = a.expect_event("participants_changed").await;
    assert_participants(&data, &[&alice, &moderator]);
    m.expect_event("participants_changed").await;
    let mut b = server.connect_original(session.id, &bob, false).await;
    assert_eq!(b.subprotocol, "");
    b.expect_event("participants_changed").await;
    a.expect_event("participants_changed").await;
    m.expect_event("participants_changed").await;

    m.send_event(
        "next_story_requested",
        json!({"story_id": session.stories[0].id}),
    )
    .await;
    for client in [&mut m, &mut a, &mut b] {
        client.expect_event("story_changed").await;
    }

    // Alice's mistakes: malformed JSON, an unknown event, a choice not in the deck, a right she
    // lacks, a binary frame. Each is dropped; nobody hears of it.
    a.send_text("{not json".into()).await;
    a.send_event("no_such_event", json!({})).await;
    a.send_event("vote_submitted", json!({"choice": "4"})).await;
    a.send_event("points_submitted", json!({"story_points": "5"}))
        .await;
    a.send_binary(vec![1, 2, 3]).await;
    assert_eq!(only_original_events(&mut a).await, Vec::<String>::new());
    m.expect_silence().await;
    b.expect_silence().await;

    // The same mistake from a poker.v2 socket gets its error frame.
    m.send_event("no_such_event", json!({})).await;
    m.expect_error("unknown_event").await;

    // The session goes on for her: a good vote after the bad ones counts.
    a.send_event("vote_submitted", json!({"choice": "3"})).await;
    let data = a.expect_event("story_changed").await;
    assert_eq!(data["votes"], json!({"3": [alice.voter()]}));
    m.expect_event("story_changed").await;
    b.expect_event("story_changed").await;

    // Points: the v2 socket gets story_points_submitted and then stories_changed; the
    // original's sockets get story_points_submitted alone.
    m.send_event("points_submitted", json!({"story_points": "3"}))
        .await;
    assert_eq!(
        m.expect_event("story_points_submitted").await["story_points"],
        json!(3)
    );
    m.expect_event("stories_changed").await;
    for client in [&mut a, &mut b] {
        assert_eq!(
            only_original_events(client).await,
            vec!["story_points_submitted".to_string()]
        );
    }

    // An original client that moderates drives the session like anyone: Bob moves on, and
    // the end of the list ends the session for all.
    b.send_event("next_story_requested", json!({"story_id": null}))
        .await;
    for client in [&mut m, &mut a, &mut b] {
        client.expect_event("story_changed").await;
    }
    b.send_event("points_submitted", json!({"story_points": "8"}))
        .await;
    m.expect_event("story_points_submitted").await;
    m.expect_event("stories_changed").await;
    b.send_event("next_story_requested", json!({"story_id": null}))
        .await;
    m.expect_event("poker_session_ended").await;
    for client in [&mut a, &mut b] {
        let names = only_original_events(client).await;
        assert_eq!(
            names,
            vec![
                "story_points_submitted".to_string(),
                "poker_session_ended".to_string()
            ],
            "{}",
            client.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_without_the_subprotocol_is_still_closed_for_floods_and_huge_frames() {
    let server = Server::start(Backend::Sqlite).await;
    let flooder = server.create_user("flooder", Rights::Voter).await;
    let giant = server.create_user("giant", Rights::Voter).await;
    let other = server.create_user("other", Rights::VoterModerator).await;
    let session = server.create_session("Limits", &[("L-1", "one")]).await;
    let mut o = server.connect(session.id, &other).await;
    o.expect_event("participants_changed").await;

    let mut f = server.connect_original(session.id, &flooder, true).await;
    f.expect_event("participants_changed").await;
    o.expect_event("participants_changed").await;
    let heartbeat = json!({"event": "heartbeat", "data": {}}).to_string();
    f.flood(vec![heartbeat; 200]).await;
    // No rate_limited frame (the original has no error event), but the close all the same.
    assert_eq!(f.expect_close_code().await, 1008);
    assert_participants(&o.expect_event("participants_changed").await, &[&other]);

    let mut g = server.connect_original(session.id, &giant, false).await;
    g.expect_event("participants_changed").await;
    o.expect_event("participants_changed").await;
    g.send_text(format!(
        r#"{{"event":"heartbeat","data":{{"pad":"{}"}}}}"#,
        "x".repeat(70 * 1024)
    ))
    .await;
    assert_eq!(g.expect_close_code().await, 1009);
    assert_participants(&o.expect_event("participants_changed").await, &[&other]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_originals_path_is_refused_like_ours() {
    let server = Server::start(Backend::Sqlite).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let session = server.create_session("Paths", &[("P-1", "one")]).await;
    let url = format!("ws://127.0.0.1:{}/poker/{}/", server.port(), session.id);
    // No identity: 401; an unknown session: 404; a foreign origin: 403.
    let status = crate::support::handshake_status(server.ws_request_original(&url)).await;
    assert_eq!(status, 401);
    let unknown = format!("ws://127.0.0.1:{}/poker/999999/", server.port());
    let request = crate::support::with_bearer(server.ws_request_original(&unknown), &alice.token);
    assert_eq!(crate::support::handshake_status(request).await, 404);
    let request = crate::support::with_origin(
        crate::support::with_bearer(server.ws_request_original(&url), &alice.token),
        "http://evil.example",
    );
    assert_eq!(crate::support::handshake_status(request).await, 403);
    // Offering poker.v2 on the original's path gets our events there too.
    let request = crate::support::with_bearer(server.ws_request(&url), &alice.token);
    let mut a = WsClient::connect(request, "alice").await.expect("connects");
    assert_eq!(a.subprotocol, "poker.v2");
    a.expect_event("participants_changed").await;
    a.send_event("no_such_event", json!({})).await;
    a.expect_error("unknown_event").await;
}
