//! What deletions take with them, seen over REST: a session's stories stay (unassigned), a
//! story's votes go and it stops being active, a user's votes go; nothing is left dangling,
//! not even for a new object that happens to get the old id.

use serde_json::{json, Value};

use crate::support::admin::{activate, cast, expect_on_all, id_of, ids, parse_csv, AdminHttp};
use crate::support::{assert_votes, Backend, Rights, Server};

both_backends!(
    deleting_a_session_keeps_its_stories_unassigned_with_their_votes_and_points,
    deleting_a_story_removes_its_votes_and_clears_the_active_story,
    deleting_a_user_removes_their_votes_and_nothing_else,
);

async fn deleting_a_session_keeps_its_stories_unassigned_with_their_votes_and_points(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let kept = server.create_session("Kept", &[("K-1", "kept")]).await;
    let session = server
        .create_session("Doomed", &[("D-1", "one"), ("D-2", "two")])
        .await;
    let (d1, d2) = (session.stories[0].id, session.stories[1].id);
    let mut clients = server
        .join_all(session.id, &[&moderator, &alice, &bob], None)
        .await;
    activate(&mut clients, 0, d1).await;
    cast(&mut clients, 1, "5").await;
    cast(&mut clients, 2, "8").await;
    clients[0]
        .send_event("points_submitted", json!({"story_points": 5}))
        .await;
    expect_on_all(&mut clients, "story_points_submitted").await;
    expect_on_all(&mut clients, "stories_changed").await;
    activate(&mut clients, 0, d2).await;
    cast(&mut clients, 1, "3").await;

    admin
        .delete_at(&format!("/api/sessions/{}", session.id))
        .await
        .expect_status(204, "delete the session");
    drop(clients);

    let story = server.story(d1).await;
    assert_eq!(
        story["poker_session_id"],
        Value::Null,
        "unassigned: {story}"
    );
    assert_eq!(story["label"], "D-1: one");
    assert_eq!(story["story_points"], 5, "the points stay: {story}");
    let story = server.story(d2).await;
    assert_eq!(
        story["poker_session_id"],
        Value::Null,
        "unassigned: {story}"
    );
    // Their votes stay with them, and nothing is secret without a session.
    for user in [&moderator, &alice, &bob] {
        assert_votes(
            &server.votes_as(user, d1).await,
            json!({"5": [alice.voter()], "8": [bob.voter()]}),
            &[&alice, &bob],
        );
        assert_votes(
            &server.votes_as(user, d2).await,
            json!({"3": [alice.voter()]}),
            &[&alice],
        );
    }
    // The other session is untouched.
    assert_eq!(
        ids(&Value::Array(server.stories(kept.id).await)),
        [kept.stories[0].id]
    );
    // An unassigned story can join another session, votes and all.
    admin
        .patch_json(
            &format!("/api/stories/{d1}"),
            json!({"poker_session_id": kept.id}),
        )
        .await
        .expect_status(200, "adopt D-1");
    assert_eq!(
        ids(&Value::Array(server.stories(kept.id).await)),
        [kept.stories[0].id, d1]
    );
    let export = admin
        .get_text(&format!("/api/sessions/{}/export", kept.id))
        .await;
    let rows = parse_csv(&export.text);
    assert_eq!(rows[2][0], "D-1", "{rows:?}");
    assert_eq!(rows[2][3], "5", "{rows:?}");
    assert_eq!(rows[2][4], "2", "{rows:?}");
}

async fn deleting_a_story_removes_its_votes_and_clears_the_active_story(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let session = server
        .create_session("Sprint", &[("S-1", "one"), ("S-2", "two")])
        .await;
    let (s1, s2) = (session.stories[0].id, session.stories[1].id);
    let mut clients = server
        .join_all(session.id, &[&moderator, &alice], None)
        .await;
    activate(&mut clients, 0, s1).await;
    cast(&mut clients, 1, "2").await;
    // S-2, the newest story, is active with a vote when it is deleted.
    activate(&mut clients, 0, s2).await;
    cast(&mut clients, 1, "13").await;
    assert_eq!(server.active_story_id(session.id).await, Some(s2));

    admin
        .delete_at(&format!("/api/stories/{s2}"))
        .await
        .expect_status(204, "delete the active story");
    let got = server.get_session(session.id).await;
    assert_eq!(
        got["active_story_id"],
        Value::Null,
        "no active story: {got}"
    );
    assert_eq!(ids(&got["stories"]), [s1]);
    admin
        .get(&format!("/api/stories/{s2}/votes"))
        .await
        .expect_error(404, "the votes of the deleted story");
    // The other story keeps its vote.
    assert_votes(
        &server.votes_as(&moderator, s1).await,
        json!({"2": [alice.voter()]}),
        &[&alice],
    );
    let rows = parse_csv(
        &admin
            .get_text(&format!("/api/sessions/{}/export", session.id))
            .await
            .text,
    );
    assert_eq!(rows.len(), 2, "header and S-1 only: {rows:?}");
    assert_eq!(rows[1][4], "1", "{rows:?}");

    // A new story (which may get the old id back) starts without votes.
    let new = id_of(&server.add_story(session.id, "S-3", "three").await);
    assert_eq!(
        server.votes_as(&moderator, new).await,
        json!({"votes": {}, "voters": [], "abstained": [], "revealed": false}),
        "no vote of the deleted story reappears"
    );
    for data in expect_on_all(&mut clients, "stories_changed").await {
        // The deletion's list (without S-2); the creation's comes next.
        assert_eq!(data["stories"].as_array().map(Vec::len), Some(1), "{data}");
    }
    expect_on_all(&mut clients, "stories_changed").await;
    activate(&mut clients, 0, new).await;
    assert_eq!(
        server.votes_as(&moderator, new).await,
        json!({"votes": {}, "voters": [], "abstained": [], "revealed": false})
    );
}

async fn deleting_a_user_removes_their_votes_and_nothing_else(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let story = session.stories[0].id;
    let mut clients = server
        .join_all(session.id, &[&moderator, &alice, &bob], None)
        .await;
    activate(&mut clients, 0, story).await;
    cast(&mut clients, 1, "5").await;
    cast(&mut clients, 2, "5").await;
    let bob_ws = clients.remove(2);

    // bob, the newest user, goes.
    admin
        .delete_at(&format!("/api/users/{}", bob.id))
        .await
        .expect_status(204, "delete bob");
    drop(bob_ws);
    assert_votes(
        &server.votes_as(&moderator, story).await,
        json!({"5": [alice.voter()]}),
        &[&alice],
    );
    assert_votes(
        &server.votes_as(&alice, story).await,
        json!({"5": [alice.voter()]}),
        &[&alice],
    );
    // The story, its session and the other users are all still there.
    assert_eq!(server.story(story).await["label"], "S-1: one");
    assert_eq!(server.active_story_id(session.id).await, Some(story));
    let users = admin.get("/api/users").await.expect_status(200, "users");
    let mut names: Vec<&str> = users
        .as_array()
        .expect("an array")
        .iter()
        .map(|u| u["username"].as_str().expect("a name"))
        .collect();
    names.sort();
    assert_eq!(names, ["admin", "alice", "mod"]);

    // A new user (who may get bob's id back) has voted nowhere.
    let newbie = server.create_user("newbie", Rights::Voter).await;
    let votes = server.votes_as(&moderator, story).await;
    assert_votes(&votes, json!({"5": [alice.voter()]}), &[&alice]);
    // newbie may vote and has not: the votes stay hidden from them.
    let votes = server.votes_as(&newbie, story).await;
    assert_votes(&votes, json!({}), &[&alice]);
}
