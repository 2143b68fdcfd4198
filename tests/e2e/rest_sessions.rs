//! Poker sessions over REST (PROTOCOL.md section 3, `/api/sessions`): reading one with its
//! stories, the list and its `open` filter, editing, deleting, validation and rights.

use serde_json::{json, Value};

use crate::support::admin::{activate, expect_invalid, id_of, ids, AdminHttp};
use crate::support::{Backend, Rights, Server};

both_backends!(
    get_session_shows_its_stories_in_order_and_the_active_story,
    session_list_counts_unpokered_stories,
    open_filter_lists_only_sessions_with_unpokered_stories,
    open_filter_with_a_bad_value_is_422,
    patch_session_changes_only_the_given_fields,
    patch_session_validation_errors_name_the_field,
    create_session_validation_errors_name_the_field,
    create_session_takes_secret_votes,
    session_names_of_200_characters_are_fine,
    delete_session_is_204_and_the_session_is_gone,
    session_reads_are_401_anonymous_and_fine_for_spectators,
    session_writes_are_401_anonymous_and_403_for_non_admins,
    unknown_session_is_404_on_every_session_endpoint,
);

async fn get_session_shows_its_stories_in_order_and_the_active_story(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let session = server
        .create_session("Sprint", &[("S-1", "one"), ("S-2", ""), ("S-3", "three")])
        .await;
    let path = format!("/api/sessions/{}", session.id);
    let got = server
        .as_user(&spectator)
        .get(&path)
        .await
        .expect_status(200, "GET the session as a spectator");
    assert_eq!(got["id"], session.id);
    assert_eq!(got["name"], "Sprint");
    assert_eq!(got["poker_date"], "2025-03-14");
    assert_eq!(got["active_story_id"], Value::Null);
    assert!(got["deck"]["points"].is_array() && got["deck"]["others"].is_array());
    let expected: Vec<i64> = session.stories.iter().map(|s| s.id).collect();
    assert_eq!(ids(&got["stories"]), expected, "stories in order: {got}");
    let labels: Vec<&Value> = got["stories"]
        .as_array()
        .expect("checked")
        .iter()
        .map(|s| &s["label"])
        .collect();
    assert_eq!(
        labels,
        [&json!("S-1: one"), &json!("S-2"), &json!("S-3: three")]
    );

    // Reordered, the session shows the new order.
    let admin = server.admin().await;
    let order = vec![expected[2], expected[0], expected[1]];
    admin
        .put_json(
            &format!("/api/sessions/{}/stories/order", session.id),
            json!({"story_ids": order}),
        )
        .await
        .expect_status(200, "reorder");
    let got = admin.get(&path).await.expect_status(200, "GET again");
    assert_eq!(ids(&got["stories"]), order);

    // With a story active, the session says which.
    let mut clients = server.join_all(session.id, &[&moderator], None).await;
    activate(&mut clients, 0, expected[1]).await;
    let got = admin.get(&path).await.expect_status(200, "GET again");
    assert_eq!(got["active_story_id"], expected[1]);
}

/// The sessions of a listing by name.
fn by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("the session list is an array: {list}"))
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("session {name} is listed: {list}"))
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("the session list is an array: {list}"))
        .iter()
        .map(|s| s["name"].as_str().expect("a name").to_string())
        .collect()
}

/// Creates "done" (all pointed), "half" (one of two pointed), "empty" (no stories) and
/// "fresh" (three unpointed), with different dates.
async fn sessions_in_various_states(server: &Server) {
    let admin = server.admin().await;
    for (name, date, stories, pointed) in [
        ("done", "2025-01-01", 2, 2),
        ("half", "2025-02-01", 2, 1),
        ("empty", "2025-03-01", 0, 0),
        ("fresh", "2024-12-01", 3, 0),
    ] {
        let session = server.create_session_with_deck(name, date, None).await;
        let id = id_of(&session);
        for i in 0..stories {
            let story = server.add_story(id, &format!("{name}-{i}"), "").await;
            if i < pointed {
                admin
                    .patch_json(
                        &format!("/api/stories/{}", id_of(&story)),
                        json!({"story_points": 3}),
                    )
                    .await
                    .expect_status(200, "point a story");
            }
        }
    }
}

async fn session_list_counts_unpokered_stories(backend: Backend) {
    let server = Server::start(backend).await;
    sessions_in_various_states(&server).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let list = server
        .as_user(&spectator)
        .get("/api/sessions")
        .await
        .expect_status(200, "list the sessions");
    assert_eq!(names(&list), ["empty", "half", "done", "fresh"]);
    for (name, count) in [("done", 0), ("half", 1), ("empty", 0), ("fresh", 3)] {
        let session = by_name(&list, name);
        assert_eq!(
            session["unpokered_stories"], count,
            "unpokered_stories of {name}: {session}"
        );
        assert!(session["deck"].is_object(), "a listed session: {session}");
        assert!(session["active_story_id"].is_null(), "{session}");
    }
    let explicit = server
        .as_user(&spectator)
        .get("/api/sessions?open=false")
        .await
        .expect_status(200, "list with open=false");
    assert_eq!(explicit, list, "open=false lists everything");
}

async fn open_filter_lists_only_sessions_with_unpokered_stories(backend: Backend) {
    let server = Server::start(backend).await;
    sessions_in_various_states(&server).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let list = server
        .as_user(&voter)
        .get("/api/sessions?open=true")
        .await
        .expect_status(200, "list open sessions");
    assert_eq!(
        names(&list),
        ["half", "fresh"],
        "only sessions with stories without points, newest first"
    );
    assert_eq!(by_name(&list, "half")["unpokered_stories"], 1);
    assert_eq!(by_name(&list, "fresh")["unpokered_stories"], 3);

    // Pointing the last story of "half" closes it.
    let admin = server.admin().await;
    let half = by_name(&list, "half")["id"].as_i64().expect("an id");
    let stories = server.stories(half).await;
    let open_story = stories
        .iter()
        .find(|s| s["story_points"].is_null())
        .expect("half has an unpointed story");
    admin
        .patch_json(
            &format!("/api/stories/{}", id_of(open_story)),
            json!({"story_points": "8"}),
        )
        .await
        .expect_status(200, "point it");
    let list = admin
        .get("/api/sessions?open=true")
        .await
        .expect_status(200, "list open sessions again");
    assert_eq!(names(&list), ["fresh"]);
}

async fn open_filter_with_a_bad_value_is_422(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    for value in ["banana", "yes", "2"] {
        expect_invalid(
            admin.get(&format!("/api/sessions?open={value}")).await,
            "open",
            &format!("GET /api/sessions?open={value}"),
        );
    }
}

async fn patch_session_changes_only_the_given_fields(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server
        .create_session("Sprint", &[("S-1", "one"), ("S-2", "two")])
        .await;
    let path = format!("/api/sessions/{}", session.id);
    let original = admin.get(&path).await.expect_status(200, "GET");

    let renamed = admin
        .patch_json(&path, json!({"name": "Sprint 2"}))
        .await
        .expect_status(200, "rename");
    assert_eq!(renamed["name"], "Sprint 2");
    for field in [
        "poker_date",
        "deck",
        "secret_votes",
        "active_story_id",
        "stories",
    ] {
        assert_eq!(renamed[field], original[field], "{field} untouched");
    }

    let redated = admin
        .patch_json(&path, json!({"poker_date": "2026-01-31"}))
        .await
        .expect_status(200, "new date");
    assert_eq!(redated["poker_date"], "2026-01-31");
    assert_eq!(redated["name"], "Sprint 2");

    let redecked = admin
        .patch_json(&path, json!({"deck": "tshirt"}))
        .await
        .expect_status(200, "new deck");
    assert_eq!(
        redecked["deck"],
        json!({
            "points": ["XS", "S", "M", "L", "XL", "XXL"],
            "others": ["Too large", "No idea"],
            "label_keys": {"Too large": "too_large", "No idea": "no_idea"},
        })
    );
    let custom = admin
        .patch_json(
            &path,
            json!({"deck": {"points": ["small", "big"], "others": ["?"]}}),
        )
        .await
        .expect_status(200, "custom deck");
    assert_eq!(
        custom["deck"],
        json!({"points": ["small", "big"], "others": ["?"], "label_keys": {}})
    );

    let open = admin
        .patch_json(&path, json!({"secret_votes": false}))
        .await
        .expect_status(200, "votes not secret");
    assert_eq!(open["secret_votes"], false);

    let all = admin
        .patch_json(
            &path,
            json!({"name": "Final", "poker_date": "2026-02-01", "deck": "default", "secret_votes": true}),
        )
        .await
        .expect_status(200, "everything at once");
    assert_eq!(all["name"], "Final");
    assert_eq!(all["poker_date"], "2026-02-01");
    assert_eq!(all["deck"], original["deck"]);
    assert_eq!(all["secret_votes"], true);
    assert_eq!(all["stories"], original["stories"], "the stories stay");

    let got = admin.get(&path).await.expect_status(200, "GET after PATCH");
    assert_eq!(got, all, "GET shows what PATCH answered");
}

async fn patch_session_validation_errors_name_the_field(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let path = format!("/api/sessions/{}", session.id);
    let before = admin.get(&path).await.expect_status(200, "GET");
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "n".repeat(201)}), "name"),
        (json!({"name": 42}), "name"),
        (json!({"poker_date": "2025-02-30"}), "poker_date"),
        (json!({"poker_date": "yesterday"}), "poker_date"),
        (json!({"poker_date": 20250101}), "poker_date"),
        (json!({"deck": "bogus"}), "deck"),
        (json!({"deck": {"points": []}}), "deck"),
        (json!({"secret_votes": "no"}), "secret_votes"),
        (json!({"secret_votes": 0}), "secret_votes"),
        // One bad field spoils the whole patch.
        (
            json!({"name": "Renamed", "poker_date": "never"}),
            "poker_date",
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

async fn create_session_validation_errors_name_the_field(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let cases = [
        (json!({"poker_date": "2025-01-01"}), "name"),
        (json!({"name": "", "poker_date": "2025-01-01"}), "name"),
        (json!({"name": " \t ", "poker_date": "2025-01-01"}), "name"),
        (
            json!({"name": "n".repeat(201), "poker_date": "2025-01-01"}),
            "name",
        ),
        (json!({"name": 7, "poker_date": "2025-01-01"}), "name"),
        (json!({"name": "Sprint"}), "poker_date"),
        (json!({"name": "Sprint", "poker_date": null}), "poker_date"),
        (
            json!({"name": "Sprint", "poker_date": 20250101}),
            "poker_date",
        ),
        (
            json!({"name": "Sprint", "poker_date": "2025-1-1x"}),
            "poker_date",
        ),
        (
            json!({"name": "Sprint", "poker_date": "2025-01-01", "deck": 3}),
            "deck",
        ),
        (
            json!({"name": "Sprint", "poker_date": "2025-01-01", "secret_votes": "no"}),
            "secret_votes",
        ),
    ];
    for (body, field) in cases {
        expect_invalid(
            admin.post("/api/sessions", body.clone()).await,
            field,
            &format!("POST /api/sessions {body}"),
        );
    }
    let list = admin.get("/api/sessions").await.expect_status(200, "list");
    assert_eq!(list, json!([]), "no refused session was created");
}

/// `secret_votes` on create (PROTOCOL.md: `{"name", "poker_date", "deck"?, "secret_votes"?}`):
/// kept as given, `true` when absent, and what the session then does.
async fn create_session_takes_secret_votes(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let open = admin
        .post(
            "/api/sessions",
            json!({"name": "Open", "poker_date": "2026-03-01", "secret_votes": false}),
        )
        .await
        .expect_status(201, "create with secret_votes false");
    assert_eq!(open["secret_votes"], false, "{open}");
    let stored = admin
        .get(&format!("/api/sessions/{}", id_of(&open)))
        .await
        .expect_status(200, "GET the open session");
    assert_eq!(stored["secret_votes"], false, "{stored}");
    let default = admin
        .post(
            "/api/sessions",
            json!({"name": "Default", "poker_date": "2026-03-01"}),
        )
        .await
        .expect_status(201, "create without secret_votes");
    assert_eq!(default["secret_votes"], true, "{default}");
}

async fn session_names_of_200_characters_are_fine(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let name = "é".repeat(200);
    let session = admin
        .post(
            "/api/sessions",
            json!({"name": name, "poker_date": "2025-01-01"}),
        )
        .await
        .expect_status(201, "a 200-character name");
    assert_eq!(session["name"], name);
    let renamed = admin
        .patch_json(
            &format!("/api/sessions/{}", id_of(&session)),
            json!({"name": "x".repeat(200)}),
        )
        .await
        .expect_status(200, "rename to 200 characters");
    assert_eq!(renamed["name"], "x".repeat(200));
}

async fn delete_session_is_204_and_the_session_is_gone(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let kept = server.create_session("Kept", &[("K-1", "")]).await;
    let session = server.create_session("Doomed", &[("D-1", "")]).await;
    let path = format!("/api/sessions/{}", session.id);
    let reply = admin.delete_at(&path).await;
    assert_eq!(reply.body, Value::Null, "204 has no body");
    reply.expect_status(204, "DELETE the session");

    admin.get(&path).await.expect_error(404, "GET it again");
    admin
        .delete_at(&path)
        .await
        .expect_error(404, "DELETE it again");
    admin
        .patch_json(&path, json!({"name": "Back"}))
        .await
        .expect_error(404, "PATCH it");
    admin
        .get(&format!("{path}/stories"))
        .await
        .expect_error(404, "its stories");
    admin
        .get(&format!("{path}/export"))
        .await
        .expect_error(404, "its export");
    let list = admin.get("/api/sessions").await.expect_status(200, "list");
    assert_eq!(ids(&list), [kept.id], "only the other session is listed");
}

async fn session_reads_are_401_anonymous_and_fine_for_spectators(backend: Backend) {
    let server = Server::start(backend).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let session = server.create_session("Sprint", &[("S-1", "")]).await;
    let paths = [
        "/api/sessions".to_string(),
        "/api/sessions?open=true".to_string(),
        format!("/api/sessions/{}", session.id),
        format!("/api/sessions/{}/stories", session.id),
    ];
    for path in &paths {
        server
            .http()
            .get(path)
            .await
            .expect_error(401, &format!("anonymous GET {path}"));
        server
            .http_with_token("not-a-token")
            .get(path)
            .await
            .expect_error(401, &format!("GET {path} with a bad token"));
        server
            .as_user(&spectator)
            .get(path)
            .await
            .expect_status(200, &format!("spectator GET {path}"));
    }
}

async fn session_writes_are_401_anonymous_and_403_for_non_admins(backend: Backend) {
    let server = Server::start(backend).await;
    let boss = server.create_user("boss", Rights::VoterModerator).await;
    let session = server.create_session("Sprint", &[]).await;
    let path = format!("/api/sessions/{}", session.id);
    let body = json!({"name": "Hijacked"});
    server
        .http()
        .patch_json(&path, body.clone())
        .await
        .expect_error(401, "anonymous PATCH");
    server
        .http()
        .delete_at(&path)
        .await
        .expect_error(401, "anonymous DELETE");
    for (how, http) in [
        ("cookie", server.login("boss", &boss.password).await),
        ("token", server.as_user(&boss)),
    ] {
        http.patch_json(&path, body.clone())
            .await
            .expect_error(403, &format!("non-admin PATCH ({how})"));
        http.delete_at(&path)
            .await
            .expect_error(403, &format!("non-admin DELETE ({how})"));
        http.post(
            "/api/sessions",
            json!({"name": "Mine", "poker_date": "2025-01-01"}),
        )
        .await
        .expect_error(403, &format!("non-admin POST ({how})"));
    }
    let got = server.get_session(session.id).await;
    assert_eq!(got["name"], "Sprint", "the refused calls changed nothing");
}

async fn unknown_session_is_404_on_every_session_endpoint(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    for id in ["424242", "abc", "0", "-1", "1.5"] {
        let path = format!("/api/sessions/{id}");
        admin
            .get(&path)
            .await
            .expect_error(404, &format!("GET {path}"));
        admin
            .patch_json(&path, json!({"name": "x"}))
            .await
            .expect_error(404, &format!("PATCH {path}"));
        admin
            .delete_at(&path)
            .await
            .expect_error(404, &format!("DELETE {path}"));
        admin
            .get(&format!("{path}/stories"))
            .await
            .expect_error(404, &format!("GET {path}/stories"));
        admin
            .post(&format!("{path}/stories"), json!({"ticket_number": "X"}))
            .await
            .expect_error(404, &format!("POST {path}/stories"));
        admin
            .put_json(&format!("{path}/stories/order"), json!({"story_ids": []}))
            .await
            .expect_error(404, &format!("PUT {path}/stories/order"));
        admin
            .post_raw(&format!("{path}/stories/import"), "X-1,t,d\n", "text/csv")
            .await
            .expect_error(404, &format!("POST {path}/stories/import"));
        admin
            .get(&format!("{path}/export"))
            .await
            .expect_error(404, &format!("GET {path}/export"));
    }
}
