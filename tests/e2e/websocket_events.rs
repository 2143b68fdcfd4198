//! The WebSocket events of PROTOCOL.md section 2: connect order, story changes, votes and their
//! secrecy, resets, points and the end of a session.

use serde_json::json;

use crate::support::{
    assert_participants, assert_story, assert_votes, vote_keys, Backend, Rights, Server,
    ServerOptions, WsClient,
};

both_backends!(
    connect_without_active_story_sends_only_participants_changed,
    connect_with_active_story_sends_story_changed_first_then_participants_changed,
    participants_are_sorted_by_name_with_their_permissions,
    next_story_by_id_sends_story_changed_to_all,
    next_story_null_picks_the_first_unpointed_story_after_the_active_one,
    next_story_null_does_not_go_back_to_earlier_unpointed_stories,
    next_story_null_with_none_left_ends_the_session,
    session_end_redirect_url_is_configurable,
    vote_sends_story_changed_to_all_and_hides_votes_from_voters_who_have_not_voted,
    votes_are_ordered_most_votes_first_and_voters_in_vote_order,
    revote_replaces_the_previous_vote,
    reset_deletes_the_votes_for_everyone,
    points_are_announced_then_the_story_list,
);

/// Reads one frame of the same event on every client and returns their data.
async fn expect_all(clients: &mut [WsClient], event: &str) -> Vec<serde_json::Value> {
    let mut data = Vec::new();
    for client in clients.iter_mut() {
        data.push(client.expect_event(event).await);
    }
    data
}

/// Asserts that none of the clients receives anything.
async fn expect_all_silent(clients: &mut [WsClient]) {
    futures_util::future::join_all(clients.iter_mut().map(|c| c.expect_silence())).await;
}

async fn connect_without_active_story_sends_only_participants_changed(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Moderator).await;
    let session = server
        .create_session("Sprint 1", &[("PP-1", "One"), ("PP-2", "Two")])
        .await;

    let mut a = server.connect(session.id, &alice).await;
    let data = a.expect_event("participants_changed").await;
    assert_participants(&data, &[&alice]);
    a.expect_silence().await;

    let mut b = server.connect(session.id, &bob).await;
    let data = b.expect_event("participants_changed").await;
    assert_participants(&data, &[&alice, &bob]);
    let data = a.expect_event("participants_changed").await;
    assert_participants(&data, &[&alice, &bob]);
    // Exactly one participants_changed per join, and nothing else.
    a.expect_silence().await;
    b.expect_silence().await;
}

async fn connect_with_active_story_sends_story_changed_first_then_participants_changed(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Moderator).await;
    let carol = server.create_user("carol", Rights::Spectator).await;
    let session = server
        .create_session("Sprint 1", &[("PP-1", "One"), ("PP-2", "Two")])
        .await;
    let story = &session.stories[1];

    let mut clients = server.join_all(session.id, &[&bob, &carol], None).await;
    clients[0]
        .send_event("next_story_requested", json!({"story_id": story.id}))
        .await;
    for data in expect_all(&mut clients, "story_changed").await {
        assert_story(&data, story);
    }

    let mut a = server.connect(session.id, &alice).await;
    let data = a.expect_event("story_changed").await;
    assert_story(&data, story);
    assert_votes(&data, json!({}), &[]);
    let data = a.expect_event("participants_changed").await;
    assert_participants(&data, &[&alice, &bob, &carol]);
    for data in expect_all(&mut clients, "participants_changed").await {
        assert_participants(&data, &[&alice, &bob, &carol]);
    }
    // The story went to the newcomer alone; one participants_changed each.
    a.expect_silence().await;
    expect_all_silent(&mut clients).await;
}

async fn participants_are_sorted_by_name_with_their_permissions(backend: Backend) {
    let server = Server::start(backend).await;
    // Created in an order that is not the name order.
    let zed = server.create_user("zed", Rights::Voter).await;
    let mia = server.create_user("mia", Rights::VoterModerator).await;
    let bob = server.create_user("bob", Rights::Spectator).await;
    let kim = server.create_user("kim", Rights::Moderator).await;
    let session = server.create_session("Sprint 1", &[("PP-1", "One")]).await;

    // join_all checks every participants_changed along the way.
    let mut clients = server
        .join_all(session.id, &[&zed, &mia, &bob, &kim], None)
        .await;
    expect_all_silent(&mut clients).await;

    // Spelled out once: bob [], kim [moderate], mia [vote, moderate], zed [vote].
    let late = server.create_user("amy", Rights::Voter).await;
    let mut amy = server.connect(session.id, &late).await;
    let data = amy.expect_event("participants_changed").await;
    assert_eq!(
        data["participants"],
        json!([
            {"id": late.id, "name": "amy", "permissions": ["vote"]},
            {"id": bob.id, "name": "bob", "permissions": []},
            {"id": kim.id, "name": "kim", "permissions": ["moderate"]},
            {"id": mia.id, "name": "mia", "permissions": ["vote", "moderate"]},
            {"id": zed.id, "name": "zed", "permissions": ["vote"]},
        ]),
        "participants sorted by name, each with id, name and permissions"
    );
}

async fn next_story_by_id_sends_story_changed_to_all(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("moderator", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let session = server
        .create_session("Sprint 1", &[("PP-1", "First story"), ("PP-2", "")])
        .await;
    let (first, untitled) = (&session.stories[0], &session.stories[1]);
    assert_eq!(untitled.label, "PP-2");

    let mut clients = server
        .join_all(session.id, &[&moderator, &voter], None)
        .await;

    clients[0]
        .send_event("next_story_requested", json!({"story_id": untitled.id}))
        .await;
    for data in expect_all(&mut clients, "story_changed").await {
        assert_story(&data, untitled);
        assert_votes(&data, json!({}), &[]);
    }
    assert_eq!(server.active_story_id(session.id).await, Some(untitled.id));

    clients[0]
        .send_event("next_story_requested", json!({"story_id": first.id}))
        .await;
    for data in expect_all(&mut clients, "story_changed").await {
        assert_story(&data, first);
        assert_eq!(data["story_label"], "PP-1: First story");
        assert_votes(&data, json!({}), &[]);
    }
    assert_eq!(server.active_story_id(session.id).await, Some(first.id));
    expect_all_silent(&mut clients).await;
}

/// Makes `story_id` active and gives it points, draining the frames on every client.
async fn point_story(clients: &mut [WsClient], moderator: usize, story_id: i64, points: &str) {
    clients[moderator]
        .send_event("next_story_requested", json!({"story_id": story_id}))
        .await;
    expect_all(clients, "story_changed").await;
    clients[moderator]
        .send_event("points_submitted", json!({"story_points": points}))
        .await;
    expect_all(clients, "story_points_submitted").await;
    expect_all(clients, "stories_changed").await;
}

async fn next_story_null_picks_the_first_unpointed_story_after_the_active_one(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("moderator", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let session = server
        .create_session(
            "Sprint 1",
            &[("S-1", "a"), ("S-2", "b"), ("S-3", "c"), ("S-4", "d")],
        )
        .await;
    let s = &session.stories;

    let mut clients = server
        .join_all(session.id, &[&moderator, &voter], None)
        .await;
    // S-3 gets points; then the active story is S-2.
    point_story(&mut clients, 0, s[2].id, "3").await;
    clients[0]
        .send_event("next_story_requested", json!({"story_id": s[1].id}))
        .await;
    expect_all(&mut clients, "story_changed").await;

    // After S-2, S-3 has points: S-4 comes next.
    clients[0]
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    for data in expect_all(&mut clients, "story_changed").await {
        assert_story(&data, &s[3]);
        assert_votes(&data, json!({}), &[]);
    }
    assert_eq!(server.active_story_id(session.id).await, Some(s[3].id));
    expect_all_silent(&mut clients).await;
}

async fn next_story_null_does_not_go_back_to_earlier_unpointed_stories(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("moderator", Rights::Moderator).await;
    let session = server
        .create_session("Sprint 1", &[("S-1", "a"), ("S-2", "b"), ("S-3", "c")])
        .await;
    let s = &session.stories;
    let mut clients = server.join_all(session.id, &[&moderator], None).await;

    // With no active story, null starts with the first story without points.
    clients[0]
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    assert_story(&clients[0].expect_event("story_changed").await, &s[0]);

    // Jump to the last story; S-1 and S-2 have no points, but they come before it.
    clients[0]
        .send_event("next_story_requested", json!({"story_id": s[2].id}))
        .await;
    assert_story(&clients[0].expect_event("story_changed").await, &s[2]);
    clients[0]
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    let data = clients[0].expect_event("poker_session_ended").await;
    assert_eq!(data, json!({"poker_session_end_redirect_url": "/"}));
    assert_eq!(server.active_story_id(session.id).await, None);
}

async fn next_story_null_with_none_left_ends_the_session(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("moderator", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let session = server
        .create_session("Sprint 1", &[("S-1", "a"), ("S-2", "b")])
        .await;
    let s = &session.stories;
    let mut clients = server
        .join_all(session.id, &[&moderator, &voter], None)
        .await;

    for (story, points) in [(&s[0], "5"), (&s[1], "8")] {
        clients[0]
            .send_event("next_story_requested", json!({"story_id": null}))
            .await;
        for data in expect_all(&mut clients, "story_changed").await {
            assert_story(&data, story);
        }
        clients[0]
            .send_event("points_submitted", json!({"story_points": points}))
            .await;
        expect_all(&mut clients, "story_points_submitted").await;
        expect_all(&mut clients, "stories_changed").await;
    }

    clients[0]
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    for data in expect_all(&mut clients, "poker_session_ended").await {
        assert_eq!(data, json!({"poker_session_end_redirect_url": "/"}));
    }
    expect_all_silent(&mut clients).await;
    assert_eq!(server.active_story_id(session.id).await, None);

    // A newcomer sees no story any more.
    let latecomer = server.create_user("latecomer", Rights::Voter).await;
    let mut late = server.connect(session.id, &latecomer).await;
    let data = late.expect_event("participants_changed").await;
    assert_participants(&data, &[&moderator, &voter, &latecomer]);
}

async fn session_end_redirect_url_is_configurable(backend: Backend) {
    let options = ServerOptions {
        session_end_redirect_url: Some("/sessions/finished"),
        ..ServerOptions::default()
    };
    let server = Server::start_with(backend, options).await;
    let moderator = server.create_user("moderator", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let session = server.create_session("Sprint 1", &[("S-1", "a")]).await;
    let mut clients = server
        .join_all(session.id, &[&moderator, &voter], None)
        .await;

    point_story(&mut clients, 0, session.stories[0].id, "2").await;
    clients[0]
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    for data in expect_all(&mut clients, "poker_session_ended").await {
        assert_eq!(
            data,
            json!({"poker_session_end_redirect_url": "/sessions/finished"})
        );
    }
    assert_eq!(server.active_story_id(session.id).await, None);
}

async fn vote_sends_story_changed_to_all_and_hides_votes_from_voters_who_have_not_voted(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let dora = server.create_user("dora", Rights::VoterModerator).await;
    let mod_ = server.create_user("mod", Rights::Moderator).await;
    let spec = server.create_user("spec", Rights::Spectator).await;
    let session = server.create_session("Sprint 1", &[("S-1", "a")]).await;
    let story = &session.stories[0];

    let mut clients = server
        .join_all(session.id, &[&alice, &bob, &dora, &mod_, &spec], None)
        .await;
    let [a, b, d, m, s] = &mut clients[..] else {
        unreachable!("five clients")
    };
    m.send_event("next_story_requested", json!({"story_id": story.id}))
        .await;
    for c in [&mut *a, &mut *b, &mut *d, &mut *m, &mut *s] {
        assert_story(&c.expect_event("story_changed").await, story);
    }

    // alice votes: she, the moderator and the spectator see the vote; bob and dora (who can vote
    // and have not) see only that alice voted.
    a.send_event("vote_submitted", json!({"choice": "8"})).await;
    let full = json!({"8": [alice.voter()]});
    for c in [&mut *a, &mut *m, &mut *s] {
        let data = c.expect_event("story_changed").await;
        assert_story(&data, story);
        assert_votes(&data, full.clone(), &[&alice]);
    }
    for c in [&mut *b, &mut *d] {
        let data = c.expect_event("story_changed").await;
        assert_story(&data, story);
        assert_votes(&data, json!({}), &[&alice]);
    }

    // bob votes: now he sees everything, dora still nothing.
    b.send_event("vote_submitted", json!({"choice": "No idea"}))
        .await;
    let full = json!({"8": [alice.voter()], "No idea": [bob.voter()]});
    for c in [&mut *a, &mut *b, &mut *m, &mut *s] {
        let data = c.expect_event("story_changed").await;
        assert_votes(&data, full.clone(), &[&alice, &bob]);
    }
    let data = d.expect_event("story_changed").await;
    assert_votes(&data, json!({}), &[&alice, &bob]);

    // dora votes: everybody sees everything.
    d.send_event("vote_submitted", json!({"choice": "8"})).await;
    let full = json!({"8": [alice.voter(), dora.voter()], "No idea": [bob.voter()]});
    for c in [&mut *a, &mut *b, &mut *d, &mut *m, &mut *s] {
        let data = c.expect_event("story_changed").await;
        assert_votes(&data, full.clone(), &[&alice, &bob, &dora]);
        assert_eq!(vote_keys(&data), ["8", "No idea"], "most votes first");
    }
    expect_all_silent(&mut clients).await;
}

async fn votes_are_ordered_most_votes_first_and_voters_in_vote_order(backend: Backend) {
    let server = Server::start(backend).await;
    let a = server.create_user("a", Rights::Voter).await;
    let b = server.create_user("b", Rights::Voter).await;
    let c = server.create_user("c", Rights::Voter).await;
    let d = server.create_user("d", Rights::Voter).await;
    let m = server.create_user("m", Rights::Moderator).await;
    let session = server.create_session("Sprint 1", &[("S-1", "a")]).await;
    let story = &session.stories[0];

    let mut clients = server
        .join_all(session.id, &[&m, &a, &b, &c, &d], None)
        .await;
    clients[0]
        .send_event("next_story_requested", json!({"story_id": story.id}))
        .await;
    expect_all(&mut clients, "story_changed").await;

    // d, then a, then b, then c vote: 13 gets three votes, 1 (first in the deck) one.
    let order: [(usize, &str); 4] = [(4, "13"), (1, "1"), (2, "13"), (3, "13")];
    let mut moderator_view = json!(null);
    for (i, choice) in order {
        clients[i]
            .send_event("vote_submitted", json!({"choice": choice}))
            .await;
        moderator_view = expect_all(&mut clients, "story_changed").await[0].clone();
    }
    let data = moderator_view;
    assert_votes(
        &data,
        json!({"13": [d.voter(), b.voter(), c.voter()], "1": [a.voter()]}),
        &[&d, &a, &b, &c],
    );
    assert_eq!(
        vote_keys(&data),
        ["13", "1"],
        "options with most votes first"
    );
    assert_eq!(
        data["votes"]["13"],
        json!([d.voter(), b.voter(), c.voter()]),
        "voters of an option in the order they voted"
    );
}

async fn revote_replaces_the_previous_vote(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let m = server.create_user("m", Rights::Moderator).await;
    let session = server.create_session("Sprint 1", &[("S-1", "a")]).await;
    let mut clients = server.join_all(session.id, &[&m, &alice, &bob], None).await;
    clients[0]
        .send_event(
            "next_story_requested",
            json!({"story_id": session.stories[0].id}),
        )
        .await;
    expect_all(&mut clients, "story_changed").await;

    for (i, choice) in [(1, "8"), (2, "8")] {
        clients[i]
            .send_event("vote_submitted", json!({"choice": choice}))
            .await;
        expect_all(&mut clients, "story_changed").await;
    }
    clients[1]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    for data in expect_all(&mut clients, "story_changed").await {
        assert_eq!(
            data["votes"],
            json!({"8": [bob.voter()], "5": [alice.voter()]}),
            "alice's new vote replaced her old one: {data}"
        );
        let voters = data["voters"]
            .as_array()
            .unwrap_or_else(|| panic!("voters is an array: {data}"));
        assert_eq!(voters.len(), 2, "each voter once: {data}");
        assert!(voters.contains(&alice.voter()) && voters.contains(&bob.voter()));
    }
    expect_all_silent(&mut clients).await;
}

async fn reset_deletes_the_votes_for_everyone(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let m = server.create_user("m", Rights::Moderator).await;
    let session = server.create_session("Sprint 1", &[("S-1", "a")]).await;
    let story = &session.stories[0];
    let mut clients = server.join_all(session.id, &[&m, &alice, &bob], None).await;
    clients[0]
        .send_event("next_story_requested", json!({"story_id": story.id}))
        .await;
    expect_all(&mut clients, "story_changed").await;
    for (i, choice) in [(1, "3"), (2, "5")] {
        clients[i]
            .send_event("vote_submitted", json!({"choice": choice}))
            .await;
        expect_all(&mut clients, "story_changed").await;
    }

    clients[0].send_event("reset_requested", json!({})).await;
    for data in expect_all(&mut clients, "story_changed").await {
        assert_story(&data, story);
        assert_votes(&data, json!({}), &[]);
    }

    // Voting starts over: bob, who voted before the reset, sees nothing until he votes again.
    clients[1]
        .send_event("vote_submitted", json!({"choice": "2"}))
        .await;
    let full = json!({"2": [alice.voter()]});
    assert_votes(
        &clients[0].expect_event("story_changed").await,
        full.clone(),
        &[&alice],
    );
    assert_votes(
        &clients[1].expect_event("story_changed").await,
        full,
        &[&alice],
    );
    assert_votes(
        &clients[2].expect_event("story_changed").await,
        json!({}),
        &[&alice],
    );
    expect_all_silent(&mut clients).await;
}

async fn points_are_announced_then_the_story_list(backend: Backend) {
    let server = Server::start(backend).await;
    let m = server.create_user("m", Rights::Moderator).await;
    let v = server.create_user("v", Rights::Voter).await;
    let session = server
        .create_session("Sprint 1", &[("S-1", "a"), ("S-2", "b"), ("S-3", "")])
        .await;
    let s = &session.stories;
    let mut clients = server.join_all(session.id, &[&m, &v], None).await;
    clients[0]
        .send_event("next_story_requested", json!({"story_id": s[1].id}))
        .await;
    expect_all(&mut clients, "story_changed").await;

    for (sent, points) in [(json!("5"), 5), (json!(8), 8)] {
        clients[0]
            .send_event("points_submitted", json!({"story_points": sent}))
            .await;
        for data in expect_all(&mut clients, "story_points_submitted").await {
            assert_eq!(data, json!({"story_points": points}));
        }
        for data in expect_all(&mut clients, "stories_changed").await {
            let stories = data["stories"]
                .as_array()
                .unwrap_or_else(|| panic!("stories_changed has a stories array: {data}"));
            let got: Vec<_> = stories
                .iter()
                .map(|st| json!({"id": st["id"], "label": st["label"], "story_points": st["story_points"]}))
                .collect();
            assert_eq!(
                got,
                vec![
                    json!({"id": s[0].id, "label": "S-1: a", "story_points": null}),
                    json!({"id": s[1].id, "label": "S-2: b", "story_points": points}),
                    json!({"id": s[2].id, "label": "S-3", "story_points": null}),
                ],
                "stories_changed lists the stories in order with their points"
            );
        }
        expect_all_silent(&mut clients).await;

        let stories = server.stories(session.id).await;
        let pointed = stories
            .iter()
            .find(|st| st["id"] == json!(s[1].id))
            .unwrap_or_else(|| panic!("the story is listed over REST: {stories:?}"));
        // The REST form of points is not pinned down beyond "the points": a number or its text.
        assert!(
            pointed["story_points"] == json!(points)
                || pointed["story_points"] == json!(points.to_string()),
            "REST shows the story's points {points}: {pointed}"
        );
    }
    // Points do not move the active story.
    assert_eq!(server.active_story_id(session.id).await, Some(s[1].id));
}
