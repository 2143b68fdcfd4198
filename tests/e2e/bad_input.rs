//! Bad input on the socket: one `error` frame to the sender and the session goes on; oversized
//! frames close with 1009, floods with `rate_limited` then 1008.

use serde_json::{json, Value};

use crate::support::{assert_participants, Backend, Rights, Server, TestSession, WsClient};

both_backends!(
    malformed_frames_get_bad_request_and_the_socket_keeps_working,
    unknown_event_gets_unknown_event,
    wrong_data_gets_invalid,
    vote_points_and_reset_without_active_story_get_no_active_story,
    frame_over_64_kib_closes_with_1009,
    flood_gets_rate_limited_then_close_1008,
);

/// What a bad frame is sent as.
enum Bad {
    Text(String),
    Binary(Vec<u8>),
}

/// A sender with vote and moderate rights and an observer (moderator) in a session with an
/// active first story.
async fn active_room(backend: Backend) -> (Server, TestSession, WsClient, WsClient) {
    let server = Server::start(backend).await;
    let sender = server.create_user("sender", Rights::VoterModerator).await;
    let observer = server.create_user("observer", Rights::Moderator).await;
    let session = server
        .create_session("Bad input", &[("B-1", "one"), ("B-2", "two")])
        .await;
    let mut clients = server
        .join_all(session.id, &[&sender, &observer], None)
        .await;
    clients[1]
        .send_event(
            "next_story_requested",
            json!({"story_id": session.stories[0].id}),
        )
        .await;
    for client in clients.iter_mut() {
        client.expect_event("story_changed").await;
    }
    let observer = clients.pop().expect("two clients");
    let sender = clients.pop().expect("two clients");
    (server, session, sender, observer)
}

/// Sends the bad frame and checks: exactly one `error` with `code` to the sender, nothing to the
/// observer, and afterwards the sender's valid vote works for both (the vote's `story_changed`
/// is the very next frame each receives, so no extra frame came in between).
async fn assert_rejected(
    sender: &mut WsClient,
    observer: &mut WsClient,
    bad: Bad,
    code: &str,
    active_story: i64,
) {
    let shown = match &bad {
        Bad::Text(text) => text.clone(),
        Bad::Binary(bytes) => format!("binary {bytes:?}"),
    };
    match bad {
        Bad::Text(text) => sender.send_text(text).await,
        Bad::Binary(bytes) => sender.send_binary(bytes).await,
    }
    let frame = sender.next_frame().await;
    assert!(
        frame["event"] == "error" && frame["data"]["code"] == code,
        "{shown} must get one error with code {code}, got {frame}"
    );
    sender
        .send_event("vote_submitted", json!({"choice": "2"}))
        .await;
    for client in [&mut *sender, &mut *observer] {
        let frame = client.next_frame().await;
        assert!(
            frame["event"] == "story_changed" && frame["data"]["id"] == json!(active_story),
            "after {shown}, {} expected the vote's story_changed, got {frame}",
            client.name
        );
    }
}

async fn malformed_frames_get_bad_request_and_the_socket_keeps_working(backend: Backend) {
    let (_server, session, mut sender, mut observer) = active_room(backend).await;
    let active = session.stories[0].id;
    let cases = [
        Bad::Text("{\"event\": \"heartbeat\"".to_string()),
        Bad::Text("not json at all".to_string()),
        Bad::Text("[{\"event\": \"heartbeat\"}]".to_string()),
        Bad::Text("\"heartbeat\"".to_string()),
        Bad::Text("42".to_string()),
        Bad::Text("null".to_string()),
        Bad::Text("{\"data\": {}}".to_string()),
        Bad::Text("{\"event\": 5, \"data\": {}}".to_string()),
        Bad::Text("{\"event\": null}".to_string()),
        Bad::Text("{\"event\": [\"heartbeat\"]}".to_string()),
        Bad::Binary(b"{\"event\": \"heartbeat\", \"data\": {}}".to_vec()),
    ];
    for bad in cases {
        assert_rejected(&mut sender, &mut observer, bad, "bad_request", active).await;
    }
    observer.expect_silence().await;
}

async fn unknown_event_gets_unknown_event(backend: Backend) {
    let (_server, session, mut sender, mut observer) = active_room(backend).await;
    let active = session.stories[0].id;
    for event in ["dance", "Heartbeat", "vote", "send_json", ""] {
        let bad = Bad::Text(json!({"event": event, "data": {}}).to_string());
        assert_rejected(&mut sender, &mut observer, bad, "unknown_event", active).await;
    }
    observer.expect_silence().await;
}

async fn wrong_data_gets_invalid(backend: Backend) {
    let (server, session, mut sender, mut observer) = active_room(backend).await;
    let active = session.stories[0].id;
    let other = server
        .create_session("Another", &[("X-1", "elsewhere")])
        .await;
    let event =
        |name: &str, data: Value| Bad::Text(json!({"event": name, "data": data}).to_string());
    let cases = [
        // A choice not in the deck.
        event("vote_submitted", json!({"choice": "4"})),
        event("vote_submitted", json!({"choice": "Too larg"})),
        event("vote_submitted", json!({"choice": ""})),
        // Wrong types.
        event("vote_submitted", json!({"choice": ["3"]})),
        event("vote_submitted", json!({"choice": true})),
        event("vote_submitted", json!({"choice": {"value": "3"}})),
        event("vote_submitted", json!({"choice": null})),
        event("vote_submitted", json!({})),
        event("vote_submitted", json!("3")),
        // Points that are not a point option.
        event("points_submitted", json!({"story_points": "Too large"})),
        event("points_submitted", json!({"story_points": "No idea"})),
        event("points_submitted", json!({"story_points": 4})),
        event("points_submitted", json!({"story_points": "4"})),
        event("points_submitted", json!({"story_points": [5]})),
        event("points_submitted", json!({})),
        // Stories that are not this session's.
        event(
            "next_story_requested",
            json!({"story_id": other.stories[0].id}),
        ),
        event("next_story_requested", json!({"story_id": 987_654_321})),
        event(
            "next_story_requested",
            json!({"story_id": session.stories[1].id.to_string()}),
        ),
        event("next_story_requested", json!({"story_id": 1.5})),
    ];
    for bad in cases {
        assert_rejected(&mut sender, &mut observer, bad, "invalid", active).await;
    }
    observer.expect_silence().await;

    // None of it changed anything.
    assert_eq!(server.active_story_id(session.id).await, Some(active));
    for story in server.stories(session.id).await {
        assert_eq!(
            story["story_points"],
            Value::Null,
            "no points were set: {story}"
        );
    }
    assert_eq!(server.active_story_id(other.id).await, None);
}

async fn vote_points_and_reset_without_active_story_get_no_active_story(backend: Backend) {
    let server = Server::start(backend).await;
    let sender = server.create_user("sender", Rights::VoterModerator).await;
    let observer = server.create_user("observer", Rights::Moderator).await;
    let session = server.create_session("Bad input", &[("B-1", "one")]).await;
    let mut clients = server
        .join_all(session.id, &[&sender, &observer], None)
        .await;

    for (event, data) in [
        ("vote_submitted", json!({"choice": "3"})),
        ("points_submitted", json!({"story_points": "3"})),
        ("points_submitted", json!({"story_points": 3})),
        ("reset_requested", json!({})),
    ] {
        clients[0].send_event(event, data).await;
        let frame = clients[0].next_frame().await;
        assert!(
            frame["event"] == "error" && frame["data"]["code"] == "no_active_story",
            "{event} without an active story must get no_active_story, got {frame}"
        );
        // The socket keeps working, and nothing else came first.
        clients[0].send_event("no_such_event", json!({})).await;
        clients[0].expect_error("unknown_event").await;
    }
    clients[1].expect_silence().await;
    for story in server.stories(session.id).await {
        assert_eq!(
            story["story_points"],
            Value::Null,
            "no points were set: {story}"
        );
    }

    // The session goes on.
    clients[0]
        .send_event(
            "next_story_requested",
            json!({"story_id": session.stories[0].id}),
        )
        .await;
    for client in clients.iter_mut() {
        client.expect_event("story_changed").await;
    }
}

async fn frame_over_64_kib_closes_with_1009(backend: Backend) {
    let (_server, _session, mut sender, mut observer) = active_room(backend).await;

    // Well below the limit: accepted (a heartbeat gets no answer), the socket stays open.
    let padded = |size: usize| {
        json!({"event": "heartbeat", "data": {"padding": "x".repeat(size)}}).to_string()
    };
    sender.send_text(padded(32 * 1024)).await;
    sender.send_event("no_such_event", json!({})).await;
    sender.expect_error("unknown_event").await;

    // Over 64 KiB: the server closes with 1009 (message too big).
    sender.send_text(padded(70 * 1024)).await;
    assert_eq!(sender.expect_close_code().await, 1009);

    // The sender's only socket is gone; the observer goes on.
    let data = observer.expect_event("participants_changed").await;
    let names: Vec<&Value> = data["participants"]
        .as_array()
        .unwrap_or_else(|| panic!("participants is an array: {data}"))
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert_eq!(names, [&json!("observer")], "the sender left: {data}");
    observer.send_event("reset_requested", json!({})).await;
    observer.expect_event("story_changed").await;
}

async fn flood_gets_rate_limited_then_close_1008(backend: Backend) {
    let server = Server::start(backend).await;
    let flooder = server.create_user("flooder", Rights::Voter).await;
    let other = server.create_user("other", Rights::VoterModerator).await;
    let session = server.create_session("Flood", &[("F-1", "one")]).await;
    let mut clients = server.join_all(session.id, &[&flooder, &other], None).await;
    let [f, o] = &mut clients[..] else {
        unreachable!("two clients")
    };

    let heartbeat = json!({"event": "heartbeat", "data": {}}).to_string();
    f.flood(vec![heartbeat; 200]).await;
    f.expect_error("rate_limited").await;
    assert_eq!(f.expect_close_code().await, 1008);

    // The other participant is unaffected: it sees the flooder leave and carries on.
    let data = o.expect_event("participants_changed").await;
    assert_participants(&data, &[&other]);
    o.send_event(
        "next_story_requested",
        json!({"story_id": session.stories[0].id}),
    )
    .await;
    o.expect_event("story_changed").await;
    o.send_event("vote_submitted", json!({"choice": "3"})).await;
    let data = o.expect_event("story_changed").await;
    assert_eq!(data["votes"], json!({"3": [other.voter()]}));
}
