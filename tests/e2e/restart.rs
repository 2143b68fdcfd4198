//! A restart on the same database: the active story, its votes and the points are still there.

use serde_json::json;

use crate::support::{assert_participants, assert_story, assert_votes, Backend, Rights, Server};

both_backends!(active_story_votes_and_points_survive_a_restart);

async fn active_story_votes_and_points_survive_a_restart(backend: Backend) {
    let mut server = Server::start(backend).await;
    let moderator = server.create_user("moderator", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let session = server
        .create_session("Restart", &[("R-1", "one"), ("R-2", "two")])
        .await;
    let s = &session.stories;

    let mut clients = server
        .join_all(session.id, &[&moderator, &alice, &bob], None)
        .await;
    // R-1 gets points, then R-2 becomes active and gets two votes.
    for (event, data) in [
        ("next_story_requested", json!({"story_id": s[0].id})),
        ("points_submitted", json!({"story_points": "13"})),
        ("next_story_requested", json!({"story_id": s[1].id})),
    ] {
        clients[0].send_event(event, data).await;
        for client in clients.iter_mut() {
            if event == "points_submitted" {
                client.expect_event("story_points_submitted").await;
                client.expect_event("stories_changed").await;
            } else {
                client.expect_event("story_changed").await;
            }
        }
    }
    for (i, choice) in [(1, "5"), (2, "8")] {
        clients[i]
            .send_event("vote_submitted", json!({"choice": choice}))
            .await;
        for client in clients.iter_mut() {
            client.expect_event("story_changed").await;
        }
    }
    let votes = json!({"5": [alice.voter()], "8": [bob.voter()]});
    drop(clients);

    server.restart().await;

    // Fresh logins and tokens on the new process.
    let mut moderator = moderator;
    moderator.token = server.new_token(&moderator).await;
    let mut alice = alice;
    alice.token = server.new_token(&alice).await;

    let mut m = server.connect(session.id, &moderator).await;
    let data = m.expect_event("story_changed").await;
    assert_story(&data, &s[1]);
    assert_votes(&data, votes.clone(), &[&alice, &bob]);
    assert_participants(&m.expect_event("participants_changed").await, &[&moderator]);

    // alice voted before the restart, so she sees the votes too.
    let mut a = server.connect(session.id, &alice).await;
    let data = a.expect_event("story_changed").await;
    assert_story(&data, &s[1]);
    assert_votes(&data, votes, &[&alice, &bob]);
    assert_participants(
        &a.expect_event("participants_changed").await,
        &[&moderator, &alice],
    );

    assert_eq!(server.active_story_id(session.id).await, Some(s[1].id));
    let stories = server.stories(session.id).await;
    assert!(
        stories[0]["story_points"] == json!(13) || stories[0]["story_points"] == json!("13"),
        "R-1 kept its points over the restart: {}",
        stories[0]
    );
    assert_eq!(stories[1]["story_points"], json!(null));
}
