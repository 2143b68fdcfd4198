//! REST changes reach the open sockets of a session live (PROTOCOL.md section 3, last
//! paragraph): `stories_changed` when stories are added, removed, reordered or re-pointed,
//! `story_changed` when the active story is edited, `poker_session_ended` when the session goes.

use serde_json::{json, Value};

use crate::support::admin::{
    activate, cast, expect_all_quiet, expect_on_all, frame_story_ids, id_of, ids, AdminHttp,
};
use crate::support::{assert_votes, Backend, Rights, Server, TestUser, WsClient, FRAME_TIMEOUT};

both_backends!(
    creating_a_story_sends_stories_changed,
    importing_stories_sends_one_stories_changed,
    reordering_sends_stories_changed_in_the_new_order,
    deleting_a_story_sends_stories_changed,
    deleting_the_active_story_sends_stories_changed_and_clears_it,
    pointing_a_story_over_rest_sends_stories_changed,
    editing_the_active_storys_title_sends_story_changed_and_stories_changed,
    editing_the_active_storys_description_sends_story_changed_only,
    editing_a_story_that_is_not_active_sends_only_what_the_list_shows,
    moving_a_story_sends_stories_changed_to_both_sessions,
    moving_the_active_story_away_clears_it,
    deleting_a_session_ends_it_for_its_sockets,
    changes_to_another_session_do_not_reach_this_one,
    refused_changes_send_nothing,
    story_changed_after_an_edit_keeps_each_recipients_secrecy,
    turning_secret_votes_off_reveals_the_votes_live,
);

/// A session with three stories and a moderator, a voter and a spectator connected.
struct Room {
    server: Server,
    session_id: i64,
    stories: Vec<i64>,
    users: Vec<TestUser>,
    clients: Vec<WsClient>,
}

async fn room(backend: Backend) -> Room {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let session = server
        .create_session(
            "Sprint",
            &[("S-1", "one"), ("S-2", "two"), ("S-3", "three")],
        )
        .await;
    let clients = server
        .join_all(session.id, &[&moderator, &voter, &spectator], None)
        .await;
    Room {
        session_id: session.id,
        stories: session.stories.iter().map(|s| s.id).collect(),
        users: vec![moderator, voter, spectator],
        clients,
        server,
    }
}

/// Checks a `stories_changed` frame against the stories over REST: same ids, labels and
/// points, in the same order.
async fn assert_matches_rest(server: &Server, session_id: i64, data: &Value) {
    let rest: Vec<Value> = server
        .stories(session_id)
        .await
        .iter()
        .map(|s| json!({"id": s["id"], "label": s["label"], "story_points": s["story_points"]}))
        .collect();
    let sent: Vec<Value> = data["stories"]
        .as_array()
        .unwrap_or_else(|| panic!("stories_changed has a stories array: {data}"))
        .iter()
        .map(|s| json!({"id": s["id"], "label": s["label"], "story_points": s["story_points"]}))
        .collect();
    assert_eq!(sent, rest, "stories_changed lists the stories as REST does");
}

async fn creating_a_story_sends_stories_changed(backend: Backend) {
    let Room {
        server,
        session_id,
        stories,
        mut clients,
        ..
    } = room(backend).await;
    let created = server.add_story(session_id, "S-4", "four").await;
    for data in expect_on_all(&mut clients, "stories_changed").await {
        let mut expected = stories.clone();
        expected.push(id_of(&created));
        assert_eq!(frame_story_ids(&data), expected, "{data}");
        assert_eq!(data["stories"][3]["label"], "S-4: four");
        assert_eq!(data["stories"][3]["story_points"], Value::Null);
        assert_matches_rest(&server, session_id, &data).await;
    }
    expect_all_quiet(&mut clients).await;
}

async fn importing_stories_sends_one_stories_changed(backend: Backend) {
    let Room {
        server,
        session_id,
        stories,
        mut clients,
        ..
    } = room(backend).await;
    let admin = server.admin().await;
    let created = admin
        .post_raw(
            &format!("/api/sessions/{session_id}/stories/import"),
            "I-1,imported one,\nI-2,,\n",
            "text/csv",
        )
        .await
        .expect_status(201, "import CSV");
    let mut expected = stories.clone();
    expected.extend(ids(&created));
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(frame_story_ids(&data), expected, "{data}");
        assert_eq!(data["stories"][3]["label"], "I-1: imported one");
        assert_eq!(data["stories"][4]["label"], "I-2");
    }
    expect_all_quiet(&mut clients).await;

    let created = admin
        .post(
            &format!("/api/sessions/{session_id}/stories/import"),
            json!([{"ticket_number": "I-3"}]),
        )
        .await
        .expect_status(201, "import JSON");
    expected.extend(ids(&created));
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(frame_story_ids(&data), expected, "{data}");
        assert_matches_rest(&server, session_id, &data).await;
    }
    expect_all_quiet(&mut clients).await;
}

async fn reordering_sends_stories_changed_in_the_new_order(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        mut clients,
        ..
    } = room(backend).await;
    let order = vec![s[2], s[0], s[1]];
    server
        .admin()
        .await
        .put_json(
            &format!("/api/sessions/{session_id}/stories/order"),
            json!({"story_ids": order}),
        )
        .await
        .expect_status(200, "reorder");
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(frame_story_ids(&data), order, "{data}");
        assert_eq!(data["stories"][0]["label"], "S-3: three");
        assert_matches_rest(&server, session_id, &data).await;
    }
    expect_all_quiet(&mut clients).await;
}

async fn deleting_a_story_sends_stories_changed(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        mut clients,
        ..
    } = room(backend).await;
    server
        .admin()
        .await
        .delete_at(&format!("/api/stories/{}", s[1]))
        .await
        .expect_status(204, "delete S-2");
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(frame_story_ids(&data), [s[0], s[2]], "{data}");
    }
    expect_all_quiet(&mut clients).await;
    assert_eq!(server.active_story_id(session_id).await, None);
}

async fn deleting_the_active_story_sends_stories_changed_and_clears_it(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        mut clients,
        ..
    } = room(backend).await;
    activate(&mut clients, 0, s[1]).await;
    cast(&mut clients, 1, "3").await;
    server
        .admin()
        .await
        .delete_at(&format!("/api/stories/{}", s[1]))
        .await
        .expect_status(204, "delete the active story");
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(frame_story_ids(&data), [s[0], s[2]], "{data}");
    }
    expect_all_quiet(&mut clients).await;
    assert_eq!(server.active_story_id(session_id).await, None);
    // With no active story, a vote has nothing to go to.
    clients[1]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    clients[1].expect_error("no_active_story").await;
    // And the session goes on.
    activate(&mut clients, 0, s[2]).await;
}

async fn pointing_a_story_over_rest_sends_stories_changed(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        mut clients,
        ..
    } = room(backend).await;
    let admin = server.admin().await;
    admin
        .patch_json(
            &format!("/api/stories/{}", s[1]),
            json!({"story_points": "13"}),
        )
        .await
        .expect_status(200, "point S-2");
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(frame_story_ids(&data), s, "{data}");
        assert_eq!(data["stories"][1]["story_points"], 13, "a number: {data}");
        assert_eq!(data["stories"][0]["story_points"], Value::Null);
        assert_matches_rest(&server, session_id, &data).await;
    }
    expect_all_quiet(&mut clients).await;

    // Clearing them is a change too.
    admin
        .patch_json(
            &format!("/api/stories/{}", s[1]),
            json!({"story_points": null}),
        )
        .await
        .expect_status(200, "clear the points");
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(data["stories"][1]["story_points"], Value::Null, "{data}");
    }
    expect_all_quiet(&mut clients).await;

    // On a T-shirt session the points are strings.
    admin
        .patch_json(
            &format!("/api/sessions/{session_id}"),
            json!({"deck": "tshirt"}),
        )
        .await
        .expect_status(200, "switch to T-shirt sizes");
    for client in clients.iter_mut() {
        crate::support::admin::drain(client).await;
    }
    admin
        .patch_json(
            &format!("/api/stories/{}", s[0]),
            json!({"story_points": "M"}),
        )
        .await
        .expect_status(200, "point S-1 with a size");
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(data["stories"][0]["story_points"], "M", "a string: {data}");
    }
    expect_all_quiet(&mut clients).await;
}

async fn editing_the_active_storys_title_sends_story_changed_and_stories_changed(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        mut clients,
        ..
    } = room(backend).await;
    activate(&mut clients, 0, s[0]).await;
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/stories/{}", s[0]),
            json!({"title": "renamed", "ticket_number": "S-100"}),
        )
        .await
        .expect_status(200, "rename the active story");
    for data in expect_on_all(&mut clients, "story_changed").await {
        assert_eq!(data["id"], s[0]);
        assert_eq!(data["story_label"], "S-100: renamed", "{data}");
        assert_eq!(data["description"], "What S-1 is about", "{data}");
    }
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(data["stories"][0]["label"], "S-100: renamed", "{data}");
        assert_matches_rest(&server, session_id, &data).await;
    }
    expect_all_quiet(&mut clients).await;
}

async fn editing_the_active_storys_description_sends_story_changed_only(backend: Backend) {
    let Room {
        server,
        stories: s,
        mut clients,
        ..
    } = room(backend).await;
    activate(&mut clients, 0, s[1]).await;
    let story = server
        .admin()
        .await
        .patch_json(
            &format!("/api/stories/{}", s[1]),
            json!({"description": "<p>New <em>text</em></p><script>alert(1)</script>"}),
        )
        .await
        .expect_status(200, "new description for the active story");
    assert_eq!(story["description"], "<p>New <em>text</em></p>");
    for data in expect_on_all(&mut clients, "story_changed").await {
        assert_eq!(data["id"], s[1]);
        assert_eq!(data["story_label"], "S-2: two");
        assert_eq!(
            data["description"], "<p>New <em>text</em></p>",
            "the sanitized description: {data}"
        );
    }
    // The list shows no description: nothing more.
    expect_all_quiet(&mut clients).await;
}

async fn editing_a_story_that_is_not_active_sends_only_what_the_list_shows(backend: Backend) {
    let Room {
        server,
        stories: s,
        mut clients,
        ..
    } = room(backend).await;
    activate(&mut clients, 0, s[0]).await;
    let admin = server.admin().await;
    admin
        .patch_json(
            &format!("/api/stories/{}", s[2]),
            json!({"description": "quiet"}),
        )
        .await
        .expect_status(200, "describe S-3");
    expect_all_quiet(&mut clients).await;
    admin
        .patch_json(&format!("/api/stories/{}", s[2]), json!({"title": "loud"}))
        .await
        .expect_status(200, "retitle S-3");
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(data["stories"][2]["label"], "S-3: loud", "{data}");
    }
    expect_all_quiet(&mut clients).await;
}

async fn moving_a_story_sends_stories_changed_to_both_sessions(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        users,
        mut clients,
    } = room(backend).await;
    let other = server.create_session("Other", &[("O-1", "")]).await;
    let mut others = server.join_all(other.id, &[&users[0]], None).await;
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/stories/{}", s[0]),
            json!({"poker_session_id": other.id}),
        )
        .await
        .expect_status(200, "move S-1 to the other session");
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(frame_story_ids(&data), [s[1], s[2]], "{data}");
        assert_matches_rest(&server, session_id, &data).await;
    }
    let data = others[0].expect_event("stories_changed").await;
    assert_eq!(
        frame_story_ids(&data),
        [other.stories[0].id, s[0]],
        "{data}"
    );
    expect_all_quiet(&mut clients).await;
    expect_all_quiet(&mut others).await;

    // Unassigning reaches the session it leaves.
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/stories/{}", s[0]),
            json!({"poker_session_id": null}),
        )
        .await
        .expect_status(200, "unassign S-1");
    let data = others[0].expect_event("stories_changed").await;
    assert_eq!(frame_story_ids(&data), [other.stories[0].id], "{data}");
    expect_all_quiet(&mut clients).await;
    expect_all_quiet(&mut others).await;
}

async fn moving_the_active_story_away_clears_it(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        mut clients,
        ..
    } = room(backend).await;
    let other = server.create_session("Other", &[]).await;
    activate(&mut clients, 0, s[1]).await;
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/stories/{}", s[1]),
            json!({"poker_session_id": other.id}),
        )
        .await
        .expect_status(200, "move the active story away");
    assert_eq!(
        server.active_story_id(session_id).await,
        None,
        "the session no longer points at a story it does not have"
    );
    assert_eq!(server.active_story_id(other.id).await, None);
    for client in clients.iter_mut() {
        let frames = crate::support::admin::drain(client).await;
        let last = frames
            .iter()
            .rfind(|f| f["event"] == "stories_changed")
            .unwrap_or_else(|| panic!("{}: a stories_changed arrives: {frames:?}", client.name));
        assert_eq!(frame_story_ids(&last["data"]), [s[0], s[2]]);
        assert!(
            frames
                .iter()
                .all(|f| f["event"] == "stories_changed" || f["event"] == "story_changed"),
            "{}: only story frames: {frames:?}",
            client.name
        );
    }
    clients[1]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    clients[1].expect_error("no_active_story").await;
}

async fn deleting_a_session_ends_it_for_its_sockets(backend: Backend) {
    let Room {
        server,
        session_id,
        mut clients,
        ..
    } = room(backend).await;
    server
        .admin()
        .await
        .delete_at(&format!("/api/sessions/{session_id}"))
        .await
        .expect_status(204, "delete the session");
    for data in expect_on_all(&mut clients, "poker_session_ended").await {
        assert_eq!(data, json!({"poker_session_end_redirect_url": "/"}));
    }
    for client in clients.iter_mut() {
        client.expect_closed_by_server_within(FRAME_TIMEOUT).await;
    }
    // No new socket gets in.
    let status = crate::support::handshake_status(crate::support::with_bearer(
        server.ws_request(&server.ws_url(session_id)),
        &server.create_user("newcomer", Rights::Voter).await.token,
    ))
    .await;
    assert_eq!(status, 404, "the deleted session has no socket");
}

async fn changes_to_another_session_do_not_reach_this_one(backend: Backend) {
    let Room {
        server,
        mut clients,
        ..
    } = room(backend).await;
    let admin = server.admin().await;
    let other = server
        .create_session("Other", &[("O-1", ""), ("O-2", "")])
        .await;
    let (o1, o2) = (other.stories[0].id, other.stories[1].id);
    server.add_story(other.id, "O-3", "").await;
    admin
        .put_json(
            &format!("/api/sessions/{}/stories/order", other.id),
            json!({"story_ids": [o2, o1, id_of(&server.stories(other.id).await[2])]}),
        )
        .await
        .expect_status(200, "reorder the other session");
    admin
        .patch_json(
            &format!("/api/stories/{o1}"),
            json!({"story_points": 5, "title": "x"}),
        )
        .await
        .expect_status(200, "edit a story of the other session");
    admin
        .delete_at(&format!("/api/stories/{o2}"))
        .await
        .expect_status(204, "delete a story of the other session");
    admin
        .patch_json(
            &format!("/api/sessions/{}", other.id),
            json!({"deck": "tshirt"}),
        )
        .await
        .expect_status(200, "change the other session's deck");
    admin
        .delete_at(&format!("/api/sessions/{}", other.id))
        .await
        .expect_status(204, "delete the other session");
    expect_all_quiet(&mut clients).await;
}

async fn refused_changes_send_nothing(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        mut clients,
        users,
    } = room(backend).await;
    let admin = server.admin().await;
    let import = format!("/api/sessions/{session_id}/stories/import");
    admin
        .post_raw(&import, "A-1,a,\n,b,\n", "text/csv")
        .await
        .expect_error(422, "import with a bad row");
    admin
        .post_raw(&import, "A-1,a,\n", "text/plain")
        .await
        .expect_error(415, "import as text/plain");
    admin
        .put_json(
            &format!("/api/sessions/{session_id}/stories/order"),
            json!({"story_ids": [s[0]]}),
        )
        .await
        .expect_error(422, "a partial order");
    admin
        .patch_json(
            &format!("/api/stories/{}", s[0]),
            json!({"story_points": "4"}),
        )
        .await
        .expect_error(422, "points not in the deck");
    admin
        .post(
            &format!("/api/sessions/{session_id}/stories"),
            json!({"ticket_number": ""}),
        )
        .await
        .expect_error(422, "a story without a ticket");
    server
        .as_user(&users[0])
        .delete_at(&format!("/api/stories/{}", s[0]))
        .await
        .expect_error(403, "a moderator deletes a story");
    expect_all_quiet(&mut clients).await;
    assert_eq!(ids(&Value::Array(server.stories(session_id).await)), s);
}

async fn story_changed_after_an_edit_keeps_each_recipients_secrecy(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        users,
        mut clients,
    } = room(backend).await;
    let late = server.create_user("late", Rights::Voter).await;
    let mut late_ws = server.connect(session_id, &late).await;
    late_ws.expect_event("participants_changed").await;
    expect_on_all(&mut clients, "participants_changed").await;
    clients.push(late_ws);
    activate(&mut clients, 0, s[0]).await;
    cast(&mut clients, 1, "8").await;
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/stories/{}", s[0]),
            json!({"description": "edited"}),
        )
        .await
        .expect_status(200, "edit the active story");
    let seen = expect_on_all(&mut clients, "story_changed").await;
    let voter = &users[1];
    let full = json!({"8": [voter.voter()]});
    // mod, voter (voted) and spectator see the vote; late (may vote, has not) does not.
    for data in &seen[..3] {
        assert_eq!(data["description"], "edited");
        assert_votes(data, full.clone(), &[voter]);
    }
    assert_votes(&seen[3], json!({}), &[voter]);
    expect_all_quiet(&mut clients).await;
}

async fn turning_secret_votes_off_reveals_the_votes_live(backend: Backend) {
    let Room {
        server,
        session_id,
        stories: s,
        users,
        mut clients,
    } = room(backend).await;
    let late = server.create_user("late", Rights::Voter).await;
    let mut late_ws = server.connect(session_id, &late).await;
    late_ws.expect_event("participants_changed").await;
    expect_on_all(&mut clients, "participants_changed").await;
    clients.push(late_ws);
    activate(&mut clients, 0, s[0]).await;
    let seen = cast(&mut clients, 1, "8").await;
    assert_votes(&seen[3], json!({}), &[&users[1]]);

    server
        .admin()
        .await
        .patch_json(
            &format!("/api/sessions/{session_id}"),
            json!({"secret_votes": false}),
        )
        .await
        .expect_status(200, "turn secret votes off");
    let data = clients[3].expect_event("story_changed").await;
    assert_votes(&data, json!({"8": [users[1].voter()]}), &[&users[1]]);
}
