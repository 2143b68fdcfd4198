//! `GET /api/stories/{id}/votes` (PROTOCOL.md section 3): the votes as `story_changed` shows
//! them, under the same secrecy rule while the story is active.

use serde_json::{json, Value};

use crate::support::admin::{activate, cast, AdminHttp};
use crate::support::{assert_votes, vote_keys, Backend, Rights, Server, TestUser, WsClient};

both_backends!(
    votes_of_a_story_without_votes_are_empty,
    votes_endpoint_answers_what_story_changed_shows_each_caller,
    voters_who_have_not_voted_see_only_the_voters_of_the_active_story,
    votes_are_visible_to_all_once_the_story_is_no_longer_active,
    votes_are_visible_to_all_when_secret_votes_is_off,
);

/// `{"votes", "voters"}` of a `story_changed` data object.
fn votes_part(data: &Value) -> Value {
    json!({
        "votes": data["votes"], "voters": data["voters"],
        "abstained": data["abstained"], "revealed": data["revealed"],
    })
}

async fn votes_of_a_story_without_votes_are_empty(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let session = server.create_session("Sprint", &[("S-1", "")]).await;
    let story = session.stories[0].id;
    for user in [&moderator, &voter] {
        let votes = server.votes_as(user, story).await;
        assert_eq!(
            votes,
            json!({"votes": {}, "voters": [], "abstained": [], "revealed": false}),
            "{}",
            user.username
        );
    }
    // The same while it is active.
    let mut clients = server.join_all(session.id, &[&moderator], None).await;
    activate(&mut clients, 0, story).await;
    for user in [&moderator, &voter] {
        let votes = server.votes_as(user, story).await;
        assert_eq!(
            votes,
            json!({"votes": {}, "voters": [], "abstained": [], "revealed": false}),
            "{}",
            user.username
        );
    }
}

/// Six users in a session whose first story is active: alice votes 8, bob and carol "No idea";
/// dora (voter and moderator) does not vote.
struct Table {
    server: Server,
    users: Vec<TestUser>,
    session_id: i64,
    story: i64,
    /// The last `story_changed` each socket saw, in the order of `users`.
    last: Vec<Value>,
    /// The open sockets, in the order of `users` (mod is index 4).
    clients: Vec<WsClient>,
}

async fn voted_table(backend: Backend) -> Table {
    let server = Server::start(backend).await;
    let mut users = Vec::new();
    for (name, rights) in [
        ("alice", Rights::Voter),
        ("bob", Rights::Voter),
        ("carol", Rights::Voter),
        ("dora", Rights::VoterModerator),
        ("mod", Rights::Moderator),
        ("spec", Rights::Spectator),
    ] {
        users.push(server.create_user(name, rights).await);
    }
    let session = server
        .create_session("Sprint", &[("S-1", "one"), ("S-2", "two")])
        .await;
    let story = session.stories[0].id;
    let refs: Vec<&TestUser> = users.iter().collect();
    let mut clients = server.join_all(session.id, &refs, None).await;
    activate(&mut clients, 4, story).await;
    cast(&mut clients, 0, "8").await;
    cast(&mut clients, 1, "No idea").await;
    let last = cast(&mut clients, 2, "No idea").await;
    Table {
        server,
        users,
        session_id: session.id,
        story,
        last,
        clients,
    }
}

async fn votes_endpoint_answers_what_story_changed_shows_each_caller(backend: Backend) {
    let Table {
        server,
        users,
        story,
        last,
        ..
    } = voted_table(backend).await;
    for (user, frame) in users.iter().zip(&last) {
        let votes = server.votes_as(user, story).await;
        assert_eq!(
            votes,
            votes_part(frame),
            "{} gets over REST what their socket showed",
            user.username
        );
    }
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    let votes = server.votes_as(&users[4], story).await;
    assert_votes(
        &votes,
        json!({"No idea": [bob.voter(), carol.voter()], "8": [alice.voter()]}),
        &[alice, bob, carol],
    );
    assert_eq!(vote_keys(&votes), ["No idea", "8"], "most votes first");
}

async fn voters_who_have_not_voted_see_only_the_voters_of_the_active_story(backend: Backend) {
    let Table {
        server,
        users,
        story,
        ..
    } = voted_table(backend).await;
    let (alice, bob, carol, dora, moderator, spectator) = (
        &users[0], &users[1], &users[2], &users[3], &users[4], &users[5],
    );
    let full = json!({"No idea": [bob.voter(), carol.voter()], "8": [alice.voter()]});
    for user in [alice, bob, carol, moderator, spectator] {
        let votes = server.votes_as(user, story).await;
        assert_votes(&votes, full.clone(), &[alice, bob, carol]);
    }
    // dora may vote and has not: the voters, not the votes.
    let votes = server.votes_as(dora, story).await;
    assert_votes(&votes, json!({}), &[alice, bob, carol]);
    // So is the admin (who may vote), with a cookie too.
    let votes = server
        .admin()
        .await
        .get(&format!("/api/stories/{story}/votes"))
        .await
        .expect_status(200, "the admin's view");
    assert_votes(&votes, json!({}), &[alice, bob, carol]);
}

async fn votes_are_visible_to_all_once_the_story_is_no_longer_active(backend: Backend) {
    let Table {
        server,
        users,
        session_id,
        story,
        mut clients,
        ..
    } = voted_table(backend).await;
    let (alice, bob, carol, dora) = (&users[0], &users[1], &users[2], &users[3]);
    // The moderator moves on to the second story.
    let next = server.stories(session_id).await[1]["id"]
        .as_i64()
        .expect("an id");
    activate(&mut clients, 4, next).await;
    assert_eq!(server.active_story_id(session_id).await, Some(next));

    let votes = server.votes_as(dora, story).await;
    assert_votes(
        &votes,
        json!({"No idea": [bob.voter(), carol.voter()], "8": [alice.voter()]}),
        &[alice, bob, carol],
    );
}

async fn votes_are_visible_to_all_when_secret_votes_is_off(backend: Backend) {
    let Table {
        server,
        users,
        session_id,
        story,
        ..
    } = voted_table(backend).await;
    let (alice, bob, carol, dora) = (&users[0], &users[1], &users[2], &users[3]);
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/sessions/{session_id}"),
            json!({"secret_votes": false}),
        )
        .await
        .expect_status(200, "turn secret votes off");
    let votes = server.votes_as(dora, story).await;
    assert_votes(
        &votes,
        json!({"No idea": [bob.voter(), carol.voter()], "8": [alice.voter()]}),
        &[alice, bob, carol],
    );
}
