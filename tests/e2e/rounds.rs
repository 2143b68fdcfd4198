//! Rounds (README, "Reveal and abstaining"): the session's reveal rule, `reveal_requested`,
//! the server's own reveal once every present voter is done, and `abstain`; over sockets and
//! REST, with the secrecy enforced on the server.

use serde_json::{json, Value};

use crate::support::admin::{activate, expect_all_quiet, expect_on_all, AdminHttp};
use crate::support::{Backend, Rights, Server, TestSession, TestUser, WsClient};

both_backends!(
    a_new_session_reveals_after_ones_own_vote_as_before,
    under_moderator_reveal_no_voter_sees_a_vote_until_the_moderator_reveals,
    the_server_reveals_once_every_present_voter_is_done,
    auto_reveal_can_be_turned_off,
    the_last_voter_leaving_reveals_the_round,
    an_abstention_counts_as_done_and_ends_with_the_round,
    a_vote_takes_back_an_abstention_and_the_other_way_round,
    rounds_need_their_rights_and_an_active_story,
    the_reveal_rule_is_checked_over_rest,
    the_original_dialect_gets_the_new_fields_but_no_error_frames,
    scripts_reveal_a_round_over_rest,
);

/// A session of two voters and a moderator who cannot vote, sockets joined, the first story
/// active; `reveal` and `auto_reveal` as given.
struct Table {
    server: Server,
    session: TestSession,
    /// alice (voter), bob (voter), mia (moderator).
    users: Vec<TestUser>,
    clients: Vec<WsClient>,
}

const ALICE: usize = 0;
const BOB: usize = 1;
const MIA: usize = 2;

async fn table(backend: Backend, settings: Value) -> Table {
    let server = Server::start(backend).await;
    let users = vec![
        server.create_user("alice", Rights::Voter).await,
        server.create_user("bob", Rights::Voter).await,
        server.create_user("mia", Rights::Moderator).await,
    ];
    let session = server
        .create_session("Rounds", &[("R-1", "First"), ("R-2", "Second")])
        .await;
    if settings != json!({}) {
        server
            .admin()
            .await
            .patch_json(&format!("/api/sessions/{}", session.id), settings)
            .await
            .expect_status(200, "set the reveal rule");
    }
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

fn moderator_reveal() -> Value {
    json!({"reveal": "moderator"})
}

/// The names in a list of `{"id", "name"}`.
fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list of people: {list}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Sends `event` with `data` from the socket at `from`; every socket gets `story_changed`, and
/// this returns what each saw.
async fn send_and_see(table: &mut Table, from: usize, event: &str, data: Value) -> Vec<Value> {
    table.clients[from].send_event(event, data).await;
    expect_on_all(&mut table.clients, "story_changed").await
}

async fn a_new_session_reveals_after_ones_own_vote_as_before(backend: Backend) {
    let mut t = table(backend, json!({})).await;
    let session = t.server.get_session(t.session.id).await;
    assert_eq!(session["reveal"], "after_own_vote");
    assert_eq!(session["auto_reveal"], true);
    let seen = send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "5"})).await;
    assert_eq!(seen[ALICE]["votes"], json!({"5": [t.users[ALICE].voter()]}));
    assert_eq!(seen[BOB]["votes"], json!({}), "bob has not voted yet");
    assert_eq!(seen[MIA]["votes"]["5"], json!([t.users[ALICE].voter()]));
    for frame in &seen {
        assert_eq!(frame["revealed"], false);
        assert_eq!(frame["abstained"], json!([]));
    }
    // Everyone voted: nothing more is sent under this rule (no reveal of its own).
    let seen = send_and_see(&mut t, BOB, "vote_submitted", json!({"choice": "8"})).await;
    assert_eq!(seen[BOB]["revealed"], false);
    assert_eq!(names(&seen[BOB]["voters"]), ["alice", "bob"]);
    expect_all_quiet(&mut t.clients).await;
}

async fn under_moderator_reveal_no_voter_sees_a_vote_until_the_moderator_reveals(backend: Backend) {
    let mut t = table(
        backend,
        json!({"reveal": "moderator", "auto_reveal": false}),
    )
    .await;
    let seen = send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "5"})).await;
    assert_eq!(
        seen[ALICE]["votes"],
        json!({}),
        "not even her own vote's group"
    );
    assert_eq!(seen[BOB]["votes"], json!({}));
    assert_eq!(
        names(&seen[BOB]["voters"]),
        ["alice"],
        "face-down cards: who voted is seen by all"
    );
    assert_eq!(
        seen[MIA]["votes"],
        json!({"5": [t.users[ALICE].voter()]}),
        "the moderator, who cannot vote, sees the votes"
    );
    // Nor over REST.
    let story = t.session.stories[0].id;
    let rest = t.server.votes_as(&t.users[ALICE], story).await;
    assert_eq!(rest["votes"], json!({}));
    assert_eq!(rest["revealed"], false);

    let seen = send_and_see(&mut t, MIA, "reveal_requested", json!({})).await;
    for frame in &seen {
        assert_eq!(frame["revealed"], true);
        assert_eq!(frame["votes"], json!({"5": [t.users[ALICE].voter()]}));
    }
    let rest = t.server.votes_as(&t.users[BOB], story).await;
    assert_eq!(rest["votes"]["5"], json!([t.users[ALICE].voter()]));
    assert_eq!(rest["revealed"], true);
    // A vote after the reveal is seen by all at once.
    let seen = send_and_see(&mut t, BOB, "vote_submitted", json!({"choice": "8"})).await;
    assert_eq!(seen[ALICE]["votes"]["8"], json!([t.users[BOB].voter()]));
    // Asking again changes nothing: the moderator alone hears how things stand.
    t.clients[MIA]
        .send_event("reveal_requested", json!({}))
        .await;
    let again = t.clients[MIA].expect_event("story_changed").await;
    assert_eq!(again["revealed"], true);
    expect_all_quiet(&mut t.clients).await;

    // A reset starts the round again, hidden.
    let seen = send_and_see(&mut t, MIA, "reset_requested", json!({})).await;
    for frame in &seen {
        assert_eq!(frame["revealed"], false);
        assert_eq!(frame["voters"], json!([]));
    }
    let seen = send_and_see(&mut t, BOB, "vote_submitted", json!({"choice": "3"})).await;
    assert_eq!(seen[BOB]["votes"], json!({}));
}

async fn the_server_reveals_once_every_present_voter_is_done(backend: Backend) {
    let mut t = table(backend, moderator_reveal()).await;
    let seen = send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "5"})).await;
    assert_eq!(seen[ALICE]["revealed"], false);
    // bob is the last voter: his vote, then the reveal, each a story_changed to everyone.
    let seen = send_and_see(&mut t, BOB, "vote_submitted", json!({"choice": "8"})).await;
    assert_eq!(seen[BOB]["revealed"], false);
    assert_eq!(seen[BOB]["votes"], json!({}));
    let revealed = expect_on_all(&mut t.clients, "story_changed").await;
    for frame in &revealed {
        assert_eq!(frame["revealed"], true);
        assert_eq!(
            frame["votes"],
            json!({"5": [t.users[ALICE].voter()], "8": [t.users[BOB].voter()]})
        );
    }
    expect_all_quiet(&mut t.clients).await;
    // It is stored: a socket that joins now sees the round revealed.
    let mut late = t.server.connect(t.session.id, &t.users[ALICE]).await;
    let frame = late.expect_event("story_changed").await;
    assert_eq!(frame["revealed"], true);
    assert_eq!(frame["votes"]["8"], json!([t.users[BOB].voter()]));
}

async fn auto_reveal_can_be_turned_off(backend: Backend) {
    let mut t = table(
        backend,
        json!({"reveal": "moderator", "auto_reveal": false}),
    )
    .await;
    send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "5"})).await;
    let seen = send_and_see(&mut t, BOB, "vote_submitted", json!({"choice": "8"})).await;
    assert_eq!(seen[ALICE]["votes"], json!({}));
    expect_all_quiet(&mut t.clients).await;
}

async fn the_last_voter_leaving_reveals_the_round(backend: Backend) {
    let mut t = table(backend, moderator_reveal()).await;
    send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "13"})).await;
    // bob, who has not voted, leaves: alice is the one voter present, and she is done.
    let bob = t.clients.remove(BOB);
    bob.close().await;
    let mut seen_reveal = Vec::new();
    for client in t.clients.iter_mut() {
        let mut frames = Vec::new();
        for _ in 0..2 {
            frames.push(client.next_frame().await);
        }
        let events: Vec<&str> = frames
            .iter()
            .map(|f| f["event"].as_str().unwrap_or_default())
            .collect();
        assert!(
            events.contains(&"participants_changed") && events.contains(&"story_changed"),
            "{}: bob leaving, then the reveal: {frames:?}",
            client.name
        );
        seen_reveal.extend(frames.into_iter().filter(|f| f["event"] == "story_changed"));
    }
    for frame in seen_reveal {
        assert_eq!(frame["data"]["revealed"], true);
        assert_eq!(
            frame["data"]["votes"]["13"],
            json!([t.users[ALICE].voter()])
        );
    }
}

async fn an_abstention_counts_as_done_and_ends_with_the_round(backend: Backend) {
    let mut t = table(backend, moderator_reveal()).await;
    let seen = send_and_see(&mut t, BOB, "abstain", json!({})).await;
    for frame in &seen {
        assert_eq!(frame["abstained"], json!([t.users[BOB].voter()]));
        assert_eq!(frame["voters"], json!([]), "an abstention is not a vote");
        assert_eq!(frame["revealed"], false);
    }
    // alice votes: everyone present is done, and the server reveals.
    send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "2"})).await;
    let revealed = expect_on_all(&mut t.clients, "story_changed").await;
    for frame in &revealed {
        assert_eq!(frame["revealed"], true);
        assert_eq!(frame["votes"], json!({"2": [t.users[ALICE].voter()]}));
        assert_eq!(frame["abstained"], json!([t.users[BOB].voter()]));
    }
    let story = t.session.stories[0].id;
    let rest = t.server.votes_as(&t.users[ALICE], story).await;
    assert_eq!(rest["abstained"], json!([t.users[BOB].voter()]));
    // The moderator's reset ends the round: the abstention goes with the votes.
    let seen = send_and_see(&mut t, MIA, "reset_requested", json!({})).await;
    for frame in &seen {
        assert_eq!(frame["abstained"], json!([]));
        assert_eq!(frame["revealed"], false);
    }
    // The next story starts without it, too.
    activate(&mut t.clients, MIA, t.session.stories[1].id).await;
    send_and_see(&mut t, BOB, "abstain", json!({})).await;
    let back = json!({"story_id": t.session.stories[0].id});
    let seen = send_and_see(&mut t, MIA, "next_story_requested", back).await;
    assert_eq!(
        seen[ALICE]["abstained"],
        json!([]),
        "the first story's round was reset"
    );
}

async fn a_vote_takes_back_an_abstention_and_the_other_way_round(backend: Backend) {
    let mut t = table(backend, json!({})).await;
    let seen = send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "5"})).await;
    assert_eq!(names(&seen[MIA]["voters"]), ["alice"]);
    let seen = send_and_see(&mut t, ALICE, "abstain", json!({})).await;
    assert_eq!(seen[MIA]["voters"], json!([]));
    assert_eq!(seen[MIA]["votes"], json!({}));
    assert_eq!(names(&seen[MIA]["abstained"]), ["alice"]);
    // Under after_own_vote an abstainer is done: she sees the others' votes.
    let seen = send_and_see(&mut t, BOB, "vote_submitted", json!({"choice": "8"})).await;
    assert_eq!(seen[ALICE]["votes"], json!({"8": [t.users[BOB].voter()]}));
    // Abstaining twice keeps one entry; voting takes it back.
    send_and_see(&mut t, ALICE, "abstain", json!({})).await;
    let seen = send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "3"})).await;
    assert_eq!(seen[MIA]["abstained"], json!([]));
    assert_eq!(names(&seen[MIA]["voters"]), ["bob", "alice"]);
    // What the sockets showed is what is stored.
    let story = t.session.stories[0].id;
    let rest = t.server.votes_as(&t.users[MIA], story).await;
    assert_eq!(rest["abstained"], json!([]));
    assert_eq!(names(&rest["voters"]), ["bob", "alice"]);
}

async fn rounds_need_their_rights_and_an_active_story(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let sam = server.create_user("sam", Rights::Spectator).await;
    let session = server.create_session("Rights", &[("X-1", "")]).await;
    let mut clients = server
        .join_all(session.id, &[&alice, &mia, &sam], None)
        .await;
    // No story yet.
    clients[0].send_event("abstain", json!({})).await;
    clients[0].expect_error("no_active_story").await;
    clients[1].send_event("reveal_requested", json!({})).await;
    clients[1].expect_error("no_active_story").await;
    activate(&mut clients, 1, session.stories[0].id).await;
    // A voter cannot reveal; a moderator who cannot vote, or a spectator, cannot abstain.
    clients[0].send_event("reveal_requested", json!({})).await;
    clients[0].expect_error("forbidden").await;
    clients[1].send_event("abstain", json!({})).await;
    clients[1].expect_error("forbidden").await;
    clients[2].send_event("abstain", json!({})).await;
    clients[2].expect_error("forbidden").await;
    expect_all_quiet(&mut clients).await;
    let rest = server.votes_as(&mia, session.stories[0].id).await;
    assert_eq!(rest["abstained"], json!([]));
    assert_eq!(rest["revealed"], false);
}

async fn the_reveal_rule_is_checked_over_rest(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let created = admin
        .post(
            "/api/sessions",
            json!({"name": "M", "poker_date": "2026-12-01", "reveal": "moderator", "auto_reveal": false}),
        )
        .await
        .expect_status(201, "create with a reveal rule");
    assert_eq!(created["reveal"], "moderator");
    assert_eq!(created["auto_reveal"], false);
    let path = format!("/api/sessions/{}", created["id"]);
    for (body, field) in [
        (json!({"reveal": "sometimes"}), "reveal"),
        (json!({"reveal": 1}), "reveal"),
        (json!({"reveal": "Moderator"}), "reveal"),
        (json!({"auto_reveal": "yes"}), "auto_reveal"),
    ] {
        let error = admin
            .patch_json(&path, body.clone())
            .await
            .expect_error(422, &format!("PATCH {body}"));
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let created_bad = admin
        .post(
            "/api/sessions",
            json!({"name": "B", "poker_date": "2026-12-01", "reveal": "never"}),
        )
        .await
        .expect_error(422, "create with a bad reveal rule");
    assert_eq!(created_bad["field"], "reveal");
    let after = admin.get(&path).await.expect_status(200, "GET");
    assert_eq!(
        after["reveal"], "moderator",
        "refused patches changed nothing"
    );
    let patched = admin
        .patch_json(
            &path,
            json!({"reveal": "after_own_vote", "auto_reveal": true}),
        )
        .await
        .expect_status(200, "PATCH the rule");
    assert_eq!(patched["reveal"], "after_own_vote");
    assert_eq!(patched["auto_reveal"], true);
    // Voters may not change it.
    let alice = server.create_user("alice", Rights::Voter).await;
    server
        .as_user(&alice)
        .patch_json(&path, json!({"reveal": "moderator"}))
        .await
        .expect_error(403, "a voter changes the rule");
}

async fn the_original_dialect_gets_the_new_fields_but_no_error_frames(backend: Backend) {
    let mut t = table(backend, moderator_reveal()).await;
    let carl = t.server.create_user("carl", Rights::Voter).await;
    let mut original = t.server.connect_original(t.session.id, &carl, false).await;
    let frame = original.expect_event("story_changed").await;
    assert_eq!(frame["revealed"], false);
    original.expect_event("participants_changed").await;
    expect_on_all(&mut t.clients, "participants_changed").await;
    // Its refused events are only logged.
    original.send_event("reveal_requested", json!({})).await;
    original.expect_silence().await;
    original.send_event("abstain", json!({})).await;
    let frame = original.expect_event("story_changed").await;
    assert_eq!(frame["abstained"], json!([carl.voter()]));
    expect_on_all(&mut t.clients, "story_changed").await;
}

async fn scripts_reveal_a_round_over_rest(backend: Backend) {
    let mut t = table(
        backend,
        json!({"reveal": "moderator", "auto_reveal": false}),
    )
    .await;
    send_and_see(&mut t, ALICE, "vote_submitted", json!({"choice": "5"})).await;
    let path = format!("/api/sessions/{}/reveal", t.session.id);
    t.server
        .as_user(&t.users[BOB])
        .post(&path, json!({}))
        .await
        .expect_error(403, "a voter reveals");
    expect_all_quiet(&mut t.clients).await;
    let mia = t.server.as_user(&t.users[MIA]);
    let answer = mia
        .post(&path, json!({}))
        .await
        .expect_status(200, "the moderator reveals over REST");
    assert_eq!(answer["revealed"], true);
    for frame in expect_on_all(&mut t.clients, "story_changed").await {
        assert_eq!(frame["revealed"], true);
        assert_eq!(frame["votes"], json!({"5": [t.users[ALICE].voter()]}));
    }
    // Again: nothing changes, nothing is sent.
    mia.post(&path, json!({}))
        .await
        .expect_status(200, "revealed already");
    expect_all_quiet(&mut t.clients).await;
    let idle = t.server.create_session("Idle", &[("I-1", "")]).await;
    mia.post(&format!("/api/sessions/{}/reveal", idle.id), json!({}))
        .await
        .expect_error(409, "no active story");
    mia.post("/api/sessions/424242/reveal", json!({}))
        .await
        .expect_error(404, "no such session");
}
