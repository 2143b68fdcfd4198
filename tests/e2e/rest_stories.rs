//! Stories over REST (PROTOCOL.md section 3, `/api/sessions/{id}/stories` and
//! `/api/stories/{id}`): reading, creating, editing, points, moving between sessions,
//! reordering, deleting, validation and rights.

use serde_json::{json, Value};

use crate::support::admin::{expect_invalid, id_of, ids, AdminHttp};
use crate::support::{Backend, Rights, Server};

both_backends!(
    get_story_answers_it_to_any_logged_in_user,
    unknown_story_is_404_on_every_story_endpoint,
    create_story_validation_errors_name_the_field,
    ticket_numbers_and_titles_of_200_characters_are_fine,
    patch_story_changes_only_the_given_fields_and_the_label,
    patch_story_points_accepts_point_options_and_null,
    patch_story_points_rejects_anything_else,
    patch_story_validation_errors_name_the_field,
    moving_a_story_appends_it_last_in_the_other_session,
    unassigning_a_story_and_bringing_it_back,
    moving_to_an_unknown_session_is_422,
    reorder_puts_the_stories_in_the_given_order,
    reorder_must_list_exactly_the_sessions_stories,
    delete_story_is_204_and_removes_it_from_its_session,
    story_reads_are_401_anonymous_and_fine_for_spectators,
    story_writes_are_401_anonymous_and_403_for_non_admins,
);

async fn get_story_answers_it_to_any_logged_in_user(backend: Backend) {
    let server = Server::start(backend).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let session = server.create_session("Sprint", &[]).await;
    let created = server
        .admin()
        .await
        .post(
            &format!("/api/sessions/{}/stories", session.id),
            json!({"ticket_number": "PP-7", "title": "Export", "description": "<p>CSV</p>"}),
        )
        .await
        .expect_status(201, "create a story");
    let got = server
        .as_user(&spectator)
        .get(&format!("/api/stories/{}", id_of(&created)))
        .await
        .expect_status(200, "GET the story as a spectator");
    assert_eq!(got, created, "GET answers the created story");
    assert_eq!(got["poker_session_id"], session.id);
    assert_eq!(got["ticket_number"], "PP-7");
    assert_eq!(got["title"], "Export");
    assert_eq!(got["label"], "PP-7: Export");
    assert_eq!(got["description"], "<p>CSV</p>");
    assert_eq!(got["story_points"], Value::Null);
}

async fn unknown_story_is_404_on_every_story_endpoint(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    for id in ["777777", "abc", "0", "-2", "2e3"] {
        let path = format!("/api/stories/{id}");
        admin
            .get(&path)
            .await
            .expect_error(404, &format!("GET {path}"));
        admin
            .patch_json(&path, json!({"title": "x"}))
            .await
            .expect_error(404, &format!("PATCH {path}"));
        admin
            .delete_at(&path)
            .await
            .expect_error(404, &format!("DELETE {path}"));
        admin
            .get(&format!("{path}/votes"))
            .await
            .expect_error(404, &format!("GET {path}/votes"));
    }
}

async fn create_story_validation_errors_name_the_field(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let path = format!("/api/sessions/{}/stories", session.id);
    let cases = [
        (json!({}), "ticket_number"),
        (json!({"title": "no ticket"}), "ticket_number"),
        (json!({"ticket_number": ""}), "ticket_number"),
        (json!({"ticket_number": "   "}), "ticket_number"),
        (json!({"ticket_number": null}), "ticket_number"),
        (json!({"ticket_number": "t".repeat(201)}), "ticket_number"),
        (json!({"ticket_number": 12}), "ticket_number"),
        (
            json!({"ticket_number": "A-1", "title": "t".repeat(201)}),
            "title",
        ),
        (json!({"ticket_number": "A-1", "title": 5}), "title"),
        (json!({"ticket_number": "A-1", "title": ["x"]}), "title"),
        (
            json!({"ticket_number": "A-1", "description": 5}),
            "description",
        ),
        (
            json!({"ticket_number": "A-1", "description": {"html": "<p>"}}),
            "description",
        ),
    ];
    for (body, field) in cases {
        expect_invalid(
            admin.post(&path, body.clone()).await,
            field,
            &format!("POST {path} {body}"),
        );
    }
    assert!(
        server.stories(session.id).await.is_empty(),
        "nothing created"
    );
}

async fn ticket_numbers_and_titles_of_200_characters_are_fine(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let (ticket, title) = ("T".repeat(200), "ü".repeat(200));
    let story = admin
        .post(
            &format!("/api/sessions/{}/stories", session.id),
            json!({"ticket_number": ticket, "title": title}),
        )
        .await
        .expect_status(201, "200-character ticket number and title");
    assert_eq!(story["ticket_number"], ticket);
    assert_eq!(story["title"], title);
    assert_eq!(story["label"], format!("{ticket}: {title}"));
}

async fn patch_story_changes_only_the_given_fields_and_the_label(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let path = format!("/api/stories/{}", session.stories[0].id);
    let original = admin.get(&path).await.expect_status(200, "GET");

    let story = admin
        .patch_json(&path, json!({"title": "Uno"}))
        .await
        .expect_status(200, "new title");
    assert_eq!(story["title"], "Uno");
    assert_eq!(story["label"], "S-1: Uno");
    for field in [
        "id",
        "ticket_number",
        "description",
        "story_points",
        "position",
        "poker_session_id",
    ] {
        assert_eq!(story[field], original[field], "{field} untouched");
    }
    let story = admin
        .patch_json(&path, json!({"ticket_number": "S-100"}))
        .await
        .expect_status(200, "new ticket number");
    assert_eq!(story["label"], "S-100: Uno");
    let story = admin
        .patch_json(&path, json!({"title": ""}))
        .await
        .expect_status(200, "empty title");
    assert_eq!(story["label"], "S-100", "an empty title leaves the ticket");
    let story = admin
        .patch_json(
            &path,
            json!({"description": "<p>Now with <em>details</em></p>"}),
        )
        .await
        .expect_status(200, "new description");
    assert_eq!(story["description"], "<p>Now with <em>details</em></p>");
    assert_eq!(story["label"], "S-100");
    let story = admin
        .patch_json(&path, json!({"description": ""}))
        .await
        .expect_status(200, "empty description");
    assert_eq!(story["description"], "");
    let story = admin
        .patch_json(
            &path,
            json!({"ticket_number": "S-2", "title": "Two", "description": "d", "story_points": 8}),
        )
        .await
        .expect_status(200, "everything at once");
    assert_eq!(story["label"], "S-2: Two");
    assert_eq!(story["description"], "d");
    assert_eq!(story["story_points"], 8);
    assert_eq!(story["position"], original["position"]);
    assert_eq!(admin.get(&path).await.expect_status(200, "GET"), story);
    // The session's list shows the same.
    assert_eq!(server.stories(session.id).await, vec![story]);
}

async fn patch_story_points_accepts_point_options_and_null(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let path = format!("/api/stories/{}", session.stories[0].id);
    for (raw, stored) in [
        (json!("5"), json!(5)),
        (json!(13), json!(13)),
        (json!("34"), json!(34)),
        (json!(1), json!(1)),
    ] {
        let story = admin
            .patch_json(&path, json!({"story_points": raw}))
            .await
            .expect_status(200, &format!("points {raw}"));
        assert_eq!(story["story_points"], stored, "points {raw}: {story}");
        assert_eq!(
            admin.get(&path).await.expect_status(200, "GET")["story_points"],
            stored
        );
    }
    // Another field leaves the points alone; null clears them.
    let story = admin
        .patch_json(&path, json!({"title": "still pointed"}))
        .await
        .expect_status(200, "title only");
    assert_eq!(story["story_points"], 1);
    let story = admin
        .patch_json(&path, json!({"story_points": null}))
        .await
        .expect_status(200, "clear the points");
    assert_eq!(story["story_points"], Value::Null);
    assert_eq!(
        admin.get(&path).await.expect_status(200, "GET")["story_points"],
        Value::Null
    );
}

async fn patch_story_points_rejects_anything_else(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let path = format!("/api/stories/{}", session.stories[0].id);
    admin
        .patch_json(&path, json!({"story_points": 3}))
        .await
        .expect_status(200, "points 3");
    for bad in [
        json!("4"),
        json!(4),
        json!(0),
        json!(-5),
        json!(2.5),
        json!("Too large"),
        json!("No idea"),
        json!("M"),
        json!(""),
        json!(true),
        json!([5]),
        json!({"points": 5}),
    ] {
        expect_invalid(
            admin.patch_json(&path, json!({"story_points": bad})).await,
            "story_points",
            &format!("points {bad}"),
        );
    }
    assert_eq!(
        admin.get(&path).await.expect_status(200, "GET")["story_points"],
        3,
        "refused points changed nothing"
    );
}

async fn patch_story_validation_errors_name_the_field(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let path = format!("/api/stories/{}", session.stories[0].id);
    let before = admin.get(&path).await.expect_status(200, "GET");
    let cases = [
        (json!({"ticket_number": ""}), "ticket_number"),
        (json!({"ticket_number": "  "}), "ticket_number"),
        (json!({"ticket_number": "t".repeat(201)}), "ticket_number"),
        (json!({"ticket_number": 5}), "ticket_number"),
        (json!({"title": "t".repeat(201)}), "title"),
        (json!({"title": 5}), "title"),
        (json!({"title": false}), "title"),
        (json!({"description": 5}), "description"),
        (json!({"description": ["<p>"]}), "description"),
        (json!({"poker_session_id": "one"}), "poker_session_id"),
        (json!({"poker_session_id": 1.5}), "poker_session_id"),
        (json!({"poker_session_id": 0}), "poker_session_id"),
        // One bad field spoils the whole patch.
        (
            json!({"title": "fine", "ticket_number": ""}),
            "ticket_number",
        ),
        (
            json!({"title": "fine", "story_points": "4"}),
            "story_points",
        ),
    ];
    for (body, field) in cases {
        expect_invalid(
            admin.patch_json(&path, body.clone()).await,
            field,
            &format!("PATCH {path} {body}"),
        );
    }
    let after = admin.get(&path).await.expect_status(200, "GET again");
    assert_eq!(after, before, "refused patches changed nothing");
}

async fn moving_a_story_appends_it_last_in_the_other_session(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let from = server
        .create_session("From", &[("F-1", ""), ("F-2", ""), ("F-3", "")])
        .await;
    let to = server
        .create_session("To", &[("T-1", ""), ("T-2", "")])
        .await;
    let moved = from.stories[1].id;
    let story = admin
        .patch_json(
            &format!("/api/stories/{moved}"),
            json!({"poker_session_id": to.id}),
        )
        .await
        .expect_status(200, "move F-2");
    assert_eq!(story["poker_session_id"], to.id);

    let to_ids = ids(&Value::Array(server.stories(to.id).await));
    assert_eq!(
        to_ids,
        [to.stories[0].id, to.stories[1].id, moved],
        "appended last"
    );
    let from_ids = ids(&Value::Array(server.stories(from.id).await));
    assert_eq!(
        from_ids,
        [from.stories[0].id, from.stories[2].id],
        "gone from the old one"
    );
    let session = server.get_session(to.id).await;
    assert_eq!(ids(&session["stories"]), to_ids);

    // A story added afterwards still comes after it.
    let later = id_of(&server.add_story(to.id, "T-3", "").await);
    let to_ids = ids(&Value::Array(server.stories(to.id).await));
    assert_eq!(to_ids.last(), Some(&later));
    assert_eq!(to_ids[2], moved);

    // Moving to the session it is in changes nothing.
    let story = admin
        .patch_json(
            &format!("/api/stories/{moved}"),
            json!({"poker_session_id": to.id}),
        )
        .await
        .expect_status(200, "move to the same session");
    assert_eq!(story["poker_session_id"], to.id);
    assert_eq!(ids(&Value::Array(server.stories(to.id).await)), to_ids);
}

async fn unassigning_a_story_and_bringing_it_back(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server
        .create_session("Sprint", &[("S-1", ""), ("S-2", "")])
        .await;
    let path = format!("/api/stories/{}", session.stories[0].id);
    let story = admin
        .patch_json(&path, json!({"poker_session_id": null}))
        .await
        .expect_status(200, "unassign");
    assert_eq!(story["poker_session_id"], Value::Null);
    assert_eq!(
        admin.get(&path).await.expect_status(200, "GET")["poker_session_id"],
        Value::Null
    );
    assert_eq!(
        ids(&Value::Array(server.stories(session.id).await)),
        [session.stories[1].id]
    );
    // An unassigned story can still be edited.
    admin
        .patch_json(&path, json!({"title": "orphan"}))
        .await
        .expect_status(200, "edit the unassigned story");
    let story = admin
        .patch_json(&path, json!({"poker_session_id": session.id}))
        .await
        .expect_status(200, "bring it back");
    assert_eq!(story["poker_session_id"], session.id);
    assert_eq!(
        ids(&Value::Array(server.stories(session.id).await)),
        [session.stories[1].id, session.stories[0].id],
        "it comes back last"
    );
}

async fn moving_to_an_unknown_session_is_422(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("S-1", "")]).await;
    let path = format!("/api/stories/{}", session.stories[0].id);
    for target in [json!(999999), json!(-4)] {
        expect_invalid(
            admin
                .patch_json(&path, json!({"poker_session_id": target}))
                .await,
            "poker_session_id",
            &format!("move to session {target}"),
        );
    }
    let story = admin.get(&path).await.expect_status(200, "GET");
    assert_eq!(story["poker_session_id"], session.id, "the story stayed");
}

async fn reorder_puts_the_stories_in_the_given_order(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server
        .create_session(
            "Sprint",
            &[("S-1", ""), ("S-2", ""), ("S-3", ""), ("S-4", "")],
        )
        .await;
    let s: Vec<i64> = session.stories.iter().map(|s| s.id).collect();
    let path = format!("/api/sessions/{}/stories/order", session.id);
    for order in [
        vec![s[3], s[1], s[0], s[2]],
        vec![s[0], s[1], s[2], s[3]],
        vec![s[2], s[3], s[0], s[1]],
    ] {
        let answer = admin
            .put_json(&path, json!({"story_ids": order}))
            .await
            .expect_status(200, &format!("reorder to {order:?}"));
        assert_eq!(ids(&answer), order, "the answer lists the new order");
        let listed = Value::Array(server.stories(session.id).await);
        assert_eq!(ids(&listed), order, "the list is in the new order");
        assert_eq!(listed, answer, "the answer is the list");
        let positions: Vec<i64> = listed
            .as_array()
            .expect("an array")
            .iter()
            .map(|s| s["position"].as_i64().expect("a position"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }
    // New stories still come last.
    let new = id_of(&server.add_story(session.id, "S-5", "").await);
    let listed = ids(&Value::Array(server.stories(session.id).await));
    assert_eq!(listed, [s[2], s[3], s[0], s[1], new]);
}

async fn reorder_must_list_exactly_the_sessions_stories(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server
        .create_session("Sprint", &[("S-1", ""), ("S-2", ""), ("S-3", "")])
        .await;
    let other = server.create_session("Other", &[("O-1", "")]).await;
    let s: Vec<i64> = session.stories.iter().map(|s| s.id).collect();
    let foreign = other.stories[0].id;
    let path = format!("/api/sessions/{}/stories/order", session.id);
    for body in [
        json!({"story_ids": [s[0], s[1]]}),
        json!({"story_ids": [s[0], s[1], s[2], foreign]}),
        json!({"story_ids": [s[0], s[1], foreign]}),
        json!({"story_ids": [s[0], s[1], s[1]]}),
        json!({"story_ids": [s[0], s[1], s[2], s[2]]}),
        json!({"story_ids": [s[0], s[1], 999999]}),
        json!({"story_ids": []}),
        json!({"story_ids": null}),
        json!({}),
        json!({"story_ids": "1,2,3"}),
    ] {
        expect_invalid(
            admin.put_json(&path, body.clone()).await,
            "story_ids",
            &format!("PUT {path} {body}"),
        );
    }
    // Ids as strings: the error may point into the list (`story_ids[0]`).
    let body = json!({"story_ids": [s[0].to_string(), s[1].to_string(), s[2].to_string()]});
    let error = admin
        .put_json(&path, body.clone())
        .await
        .expect_error(422, &format!("PUT {path} {body}"));
    assert!(
        error["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("story_ids")),
        "the error names story_ids: {error}"
    );
    assert_eq!(
        ids(&Value::Array(server.stories(session.id).await)),
        s,
        "order unchanged"
    );
    assert_eq!(server.story(foreign).await["poker_session_id"], other.id);
}

async fn delete_story_is_204_and_removes_it_from_its_session(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server
        .create_session("Sprint", &[("S-1", ""), ("S-2", ""), ("S-3", "")])
        .await;
    let s: Vec<i64> = session.stories.iter().map(|s| s.id).collect();
    let path = format!("/api/stories/{}", s[1]);
    let reply = admin.delete_at(&path).await;
    assert_eq!(reply.body, Value::Null, "204 has no body");
    reply.expect_status(204, "DELETE S-2");
    admin
        .get(&path)
        .await
        .expect_error(404, "GET the deleted story");
    admin
        .delete_at(&path)
        .await
        .expect_error(404, "DELETE it again");
    admin
        .patch_json(&path, json!({"title": "back"}))
        .await
        .expect_error(404, "PATCH it");
    assert_eq!(
        ids(&Value::Array(server.stories(session.id).await)),
        [s[0], s[2]]
    );
    assert_eq!(
        ids(&server.get_session(session.id).await["stories"]),
        [s[0], s[2]]
    );
    // The order still works without it.
    admin
        .put_json(
            &format!("/api/sessions/{}/stories/order", session.id),
            json!({"story_ids": [s[2], s[0]]}),
        )
        .await
        .expect_status(200, "reorder what is left");
}

async fn story_reads_are_401_anonymous_and_fine_for_spectators(backend: Backend) {
    let server = Server::start(backend).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let session = server.create_session("Sprint", &[("S-1", "")]).await;
    let story = session.stories[0].id;
    for path in [
        format!("/api/stories/{story}"),
        format!("/api/stories/{story}/votes"),
        format!("/api/sessions/{}/stories", session.id),
    ] {
        server
            .http()
            .get(&path)
            .await
            .expect_error(401, &format!("anonymous GET {path}"));
        for user in [&spectator, &voter] {
            server
                .as_user(user)
                .get(&path)
                .await
                .expect_status(200, &format!("{} GET {path}", user.username));
        }
    }
}

async fn story_writes_are_401_anonymous_and_403_for_non_admins(backend: Backend) {
    let server = Server::start(backend).await;
    let boss = server.create_user("boss", Rights::VoterModerator).await;
    let session = server
        .create_session("Sprint", &[("S-1", "one"), ("S-2", "two")])
        .await;
    let s: Vec<i64> = session.stories.iter().map(|s| s.id).collect();
    let story_path = format!("/api/stories/{}", s[0]);
    let list_path = format!("/api/sessions/{}/stories", session.id);
    let order_path = format!("{list_path}/order");
    let anonymous = server.http();
    let clients = [
        (401, "anonymous", anonymous),
        (
            403,
            "non-admin cookie",
            server.login("boss", &boss.password).await,
        ),
        (403, "non-admin token", server.as_user(&boss)),
    ];
    for (status, who, http) in &clients {
        http.post(&list_path, json!({"ticket_number": "X-1"}))
            .await
            .expect_error(*status, &format!("{who} POST {list_path}"));
        http.patch_json(&story_path, json!({"title": "mine"}))
            .await
            .expect_error(*status, &format!("{who} PATCH {story_path}"));
        http.patch_json(&story_path, json!({"story_points": 5}))
            .await
            .expect_error(*status, &format!("{who} points over REST"));
        http.delete_at(&story_path)
            .await
            .expect_error(*status, &format!("{who} DELETE {story_path}"));
        http.put_json(&order_path, json!({"story_ids": [s[1], s[0]]}))
            .await
            .expect_error(*status, &format!("{who} PUT {order_path}"));
    }
    let stories = Value::Array(server.stories(session.id).await);
    assert_eq!(ids(&stories), s, "nothing changed");
    assert_eq!(stories[0]["title"], "one");
    assert_eq!(stories[0]["story_points"], Value::Null);
}
