//! Quick rounds (README, "Quick rounds"): a round without a story, over the socket and REST;
//! the server adds a story named by the time at the end of the list and starts it, and its
//! votes and points are kept like any other's.

use serde_json::json;

use crate::support::admin::{cast, expect_on_all, frame_story_ids, AdminHttp};
use crate::support::{Backend, Rights, Server};

both_backends!(
    a_moderator_starts_a_quick_round_on_the_socket_and_it_is_kept,
    a_quick_round_may_be_named_and_the_name_is_checked,
    a_quick_round_over_rest_reaches_the_sockets,
);

/// `Quick round HH:MM`, as the server names one.
fn is_named_by_the_time(label: &str) -> bool {
    let Some(time) = label.strip_prefix("Quick round ") else {
        return false;
    };
    let bytes = time.as_bytes();
    bytes.len() == 5 && bytes[2] == b':' && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit())
}

async fn a_moderator_starts_a_quick_round_on_the_socket_and_it_is_kept(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Quick", &[("Q-1", "Planned")]).await;
    let mut clients = server.join_all(session.id, &[&alice, &mia], None).await;

    clients[1]
        .send_event("quick_round_requested", json!({}))
        .await;
    let story = expect_on_all(&mut clients, "story_changed").await;
    let label = story[0]["story_label"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(is_named_by_the_time(&label), "named by the time: {label:?}");
    let new_id = story[0]["id"].as_i64().expect("an id");
    let listed = expect_on_all(&mut clients, "stories_changed").await;
    for list in &listed {
        assert_eq!(
            frame_story_ids(list),
            [session.stories[0].id, new_id],
            "at the end of the list"
        );
    }
    // Its votes and points are kept like any other story's.
    cast(&mut clients, 0, "8").await;
    clients[1]
        .send_event("points_submitted", json!({"story_points": "8"}))
        .await;
    expect_on_all(&mut clients, "story_points_submitted").await;
    expect_on_all(&mut clients, "stories_changed").await;
    let stories = server.stories(session.id).await;
    assert_eq!(stories.len(), 2);
    assert_eq!(stories[1]["ticket_number"], label);
    assert_eq!(stories[1]["story_points"], 8);
    let votes = server.votes_as(&mia, new_id).await;
    assert_eq!(votes["votes"], json!({"8": [alice.voter()]}));
    assert_eq!(server.active_story_id(session.id).await, Some(new_id));

    // Only a moderator may start one.
    clients[0]
        .send_event("quick_round_requested", json!({}))
        .await;
    clients[0].expect_error("forbidden").await;
    assert_eq!(
        server.stories(session.id).await.len(),
        2,
        "nothing was added"
    );
}

async fn a_quick_round_may_be_named_and_the_name_is_checked(backend: Backend) {
    let server = Server::start(backend).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Named", &[]).await;
    let mut clients = server.join_all(session.id, &[&mia], None).await;
    let client = &mut clients[0];
    for bad in [
        json!({"ticket_number": ""}),
        json!({"ticket_number": 7}),
        json!({"ticket_number": "x".repeat(201)}),
    ] {
        client
            .send_event("quick_round_requested", bad.clone())
            .await;
        client.expect_error("invalid").await;
    }
    assert!(
        server.stories(session.id).await.is_empty(),
        "nothing was added"
    );
    client
        .send_event(
            "quick_round_requested",
            json!({"ticket_number": "Spike: caching"}),
        )
        .await;
    let story = client.expect_event("story_changed").await;
    assert_eq!(story["story_label"], "Spike: caching");
    client.expect_event("stories_changed").await;
}

async fn a_quick_round_over_rest_reaches_the_sockets(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Rest", &[("R-1", "")]).await;
    let mut clients = server.join_all(session.id, &[&alice], None).await;
    let path = format!("/api/sessions/{}/quick-round", session.id);

    // A voter may not; an unknown session is 404; a bad name is 422 and adds nothing.
    server
        .as_user(&alice)
        .post(&path, json!({}))
        .await
        .expect_error(403, "a voter starts a quick round");
    server
        .as_user(&mia)
        .post("/api/sessions/999999/quick-round", json!({}))
        .await
        .expect_error(404, "a quick round in no session");
    let error = server
        .as_user(&mia)
        .post(&path, json!({"ticket_number": ""}))
        .await
        .expect_error(422, "an empty name");
    assert_eq!(error["field"], "ticket_number");
    clients[0].expect_silence().await;

    // Without a body, as a script would call it.
    let created = server
        .as_user(&mia)
        .send_raw(reqwest::Method::POST, &path, None, Vec::new())
        .await
        .expect_status(201, "a quick round without a body");
    let label = created["label"].as_str().unwrap_or_default().to_string();
    assert!(is_named_by_the_time(&label), "{label:?}");
    let story = clients[0].expect_event("story_changed").await;
    assert_eq!(story["id"], created["id"]);
    let list = clients[0].expect_event("stories_changed").await;
    assert_eq!(
        frame_story_ids(&list).last(),
        created["id"].as_i64().as_ref()
    );
    // With a name, as JSON.
    let named = server
        .as_user(&mia)
        .post(&path, json!({"ticket_number": "Hotfix"}))
        .await
        .expect_status(201, "a named quick round");
    assert_eq!(named["label"], "Hotfix");
    assert_eq!(
        server.active_story_id(session.id).await,
        named["id"].as_i64()
    );
}
