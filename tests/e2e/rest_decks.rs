//! Session decks (PROTOCOL.md sections 1 and 3, ours): presets and custom decks, their
//! validation, and votes and points checked against the session's deck, over REST and socket.

use serde_json::{json, Value};

use crate::support::admin::{
    activate, cast, drain, expect_invalid, expect_on_all, id_of, AdminHttp,
};
use crate::support::{assert_votes, Backend, Rights, Server};

both_backends!(
    sessions_can_be_created_with_each_preset_deck,
    sessions_can_be_created_with_a_custom_deck,
    bad_decks_are_422_naming_the_deck,
    tshirt_votes_and_points_are_checked_against_the_deck,
    numeric_decks_send_points_as_numbers,
    story_points_over_rest_follow_the_sessions_deck,
    a_new_deck_applies_to_the_next_votes,
);

async fn sessions_can_be_created_with_each_preset_deck(backend: Backend) {
    let server = Server::start(backend).await;
    let others = json!(["Too large", "No idea"]);
    for (preset, points) in [
        (
            "default",
            json!(["1", "2", "3", "5", "8", "13", "21", "34"]),
        ),
        (
            "fibonacci",
            json!(["0", "1", "2", "3", "5", "8", "13", "21", "34", "55", "89"]),
        ),
        ("tshirt", json!(["XS", "S", "M", "L", "XL", "XXL"])),
        (
            "powers_of_two",
            json!(["0", "1", "2", "4", "8", "16", "32", "64"]),
        ),
    ] {
        let session = server
            .create_session_with_deck(preset, "2025-01-01", Some(json!(preset)))
            .await;
        let expected = json!({"points": points, "others": others, "label_keys": {"Too large": "too_large", "No idea": "no_idea"}});
        assert_eq!(session["deck"], expected, "the {preset} deck");
        let got = server.get_session(id_of(&session)).await;
        assert_eq!(got["deck"], expected, "the stored {preset} deck");
    }
}

async fn sessions_can_be_created_with_a_custom_deck(backend: Backend) {
    let server = Server::start(backend).await;
    let deck = json!({"points": ["½", "1", "2", "3"], "others": ["?", "☕"]});
    let session = server
        .create_session_with_deck("Custom", "2025-01-01", Some(deck.clone()))
        .await;
    // A custom deck's options are shown as typed: no label keys.
    let shown = json!({"points": ["½", "1", "2", "3"], "others": ["?", "☕"], "label_keys": {}});
    assert_eq!(session["deck"], shown);
    assert_eq!(server.get_session(id_of(&session)).await["deck"], shown);

    // Without others, there are none.
    let session = server
        .create_session_with_deck(
            "Points only",
            "2025-01-01",
            Some(json!({"points": ["S", "M", "L"]})),
        )
        .await;
    assert_eq!(
        session["deck"],
        json!({"points": ["S", "M", "L"], "others": [], "label_keys": {}})
    );
}

async fn bad_decks_are_422_naming_the_deck(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let too_many: Vec<String> = (0..41).map(|i| format!("o{i}")).collect();
    for deck in [
        json!("bogus"),
        json!(""),
        json!(5),
        json!(true),
        json!(["1", "2"]),
        json!({"points": []}),
        json!({"others": ["?"]}),
        json!({"points": ["1", "1"]}),
        json!({"points": ["1", "2"], "others": ["2"]}),
        json!({"points": [""]}),
        json!({"points": ["  "]}),
        json!({"points": ["x".repeat(21)]}),
        json!({"points": too_many}),
        json!({"points": "1,2,3"}),
    ] {
        expect_invalid(
            admin
                .post(
                    "/api/sessions",
                    json!({"name": "Bad deck", "poker_date": "2025-01-01", "deck": deck}),
                )
                .await,
            "deck",
            &format!("create a session with the deck {deck}"),
        );
        expect_invalid(
            admin
                .patch_json(
                    &format!("/api/sessions/{}", session.id),
                    json!({"deck": deck}),
                )
                .await,
            "deck",
            &format!("give a session the deck {deck}"),
        );
    }
    let list = admin.get("/api/sessions").await.expect_status(200, "list");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "nothing created");
    assert_eq!(
        server.get_session(session.id).await["deck"]["points"],
        json!(["1", "2", "3", "5", "8", "13", "21", "34"]),
        "the deck is unchanged"
    );
}

async fn tshirt_votes_and_points_are_checked_against_the_deck(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let session = server
        .create_session_with_deck("Sizes", "2025-01-01", Some(json!("tshirt")))
        .await;
    let session_id = id_of(&session);
    let story = id_of(&server.add_story(session_id, "T-1", "shirt").await);
    let mut clients = server
        .join_all(session_id, &[&moderator, &voter], None)
        .await;
    activate(&mut clients, 0, story).await;

    // A number is not a T-shirt size.
    for bad in [json!("5"), json!(5), json!("m"), json!("XXXL")] {
        clients[1]
            .send_event("vote_submitted", json!({"choice": bad}))
            .await;
        clients[1].expect_error("invalid").await;
    }
    let seen = cast(&mut clients, 1, "M").await;
    assert_votes(&seen[0], json!({"M": [voter.voter()]}), &[&voter]);
    let seen = cast(&mut clients, 1, "No idea").await;
    assert_votes(&seen[0], json!({"No idea": [voter.voter()]}), &[&voter]);

    // Points: a size, but not a non-point option, and not a number.
    for bad in [json!("No idea"), json!("5"), json!(3)] {
        clients[0]
            .send_event("points_submitted", json!({"story_points": bad}))
            .await;
        clients[0].expect_error("invalid").await;
    }
    clients[0]
        .send_event("points_submitted", json!({"story_points": "M"}))
        .await;
    for data in expect_on_all(&mut clients, "story_points_submitted").await {
        assert_eq!(data, json!({"story_points": "M"}), "a size stays a string");
    }
    for data in expect_on_all(&mut clients, "stories_changed").await {
        assert_eq!(data["stories"][0]["story_points"], "M", "{data}");
    }
    assert_eq!(server.story(story).await["story_points"], "M");
}

async fn numeric_decks_send_points_as_numbers(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let session = server
        .create_session_with_deck("Fib", "2025-01-01", Some(json!("fibonacci")))
        .await;
    let session_id = id_of(&session);
    let first = id_of(&server.add_story(session_id, "F-1", "").await);
    let second = id_of(&server.add_story(session_id, "F-2", "").await);
    let mut clients = server.join_all(session_id, &[&moderator], None).await;
    activate(&mut clients, 0, first).await;
    clients[0]
        .send_event("points_submitted", json!({"story_points": "55"}))
        .await;
    assert_eq!(
        clients[0].expect_event("story_points_submitted").await,
        json!({"story_points": 55})
    );
    let data = clients[0].expect_event("stories_changed").await;
    assert_eq!(data["stories"][0]["story_points"], 55, "{data}");
    assert_eq!(data["stories"][1]["story_points"], Value::Null, "{data}");

    activate(&mut clients, 0, second).await;
    clients[0]
        .send_event("points_submitted", json!({"story_points": 0}))
        .await;
    assert_eq!(
        clients[0].expect_event("story_points_submitted").await,
        json!({"story_points": 0})
    );
    clients[0].expect_event("stories_changed").await;
    assert_eq!(server.story(first).await["story_points"], 55);
    assert_eq!(server.story(second).await["story_points"], 0);
}

async fn story_points_over_rest_follow_the_sessions_deck(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let sizes = id_of(
        &server
            .create_session_with_deck("Sizes", "2025-01-01", Some(json!("tshirt")))
            .await,
    );
    let powers = id_of(
        &server
            .create_session_with_deck("Powers", "2025-01-01", Some(json!("powers_of_two")))
            .await,
    );
    let shirt = id_of(&server.add_story(sizes, "T-1", "").await);
    let power = id_of(&server.add_story(powers, "P-1", "").await);
    let shirt_path = format!("/api/stories/{shirt}");
    let power_path = format!("/api/stories/{power}");

    let story = admin
        .patch_json(&shirt_path, json!({"story_points": "XL"}))
        .await
        .expect_status(200, "point a T-shirt story");
    assert_eq!(story["story_points"], "XL");
    for bad in [json!("5"), json!(5), json!("No idea"), json!("xl")] {
        expect_invalid(
            admin
                .patch_json(&shirt_path, json!({"story_points": bad}))
                .await,
            "story_points",
            &format!("T-shirt points {bad}"),
        );
    }
    for (raw, stored) in [(json!("64"), json!(64)), (json!(16), json!(16))] {
        let story = admin
            .patch_json(&power_path, json!({"story_points": raw}))
            .await
            .expect_status(200, &format!("powers-of-two points {raw}"));
        assert_eq!(story["story_points"], stored, "numbers travel as numbers");
    }
    for bad in [json!("3"), json!(3), json!("M"), json!("Too large")] {
        expect_invalid(
            admin
                .patch_json(&power_path, json!({"story_points": bad}))
                .await,
            "story_points",
            &format!("powers-of-two points {bad}"),
        );
    }
    assert_eq!(server.story(shirt).await["story_points"], "XL");
    assert_eq!(server.story(power).await["story_points"], 16);
}

async fn a_new_deck_applies_to_the_next_votes(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let voter = server.create_user("voter", Rights::Voter).await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let story = session.stories[0].id;
    let mut clients = server
        .join_all(session.id, &[&moderator, &voter], None)
        .await;
    activate(&mut clients, 0, story).await;
    clients[1]
        .send_event("vote_submitted", json!({"choice": "M"}))
        .await;
    clients[1].expect_error("invalid").await;

    server
        .admin()
        .await
        .patch_json(
            &format!("/api/sessions/{}", session.id),
            json!({"deck": "tshirt"}),
        )
        .await
        .expect_status(200, "switch to T-shirt sizes");
    // The live session may show the active story again; nothing else.
    for client in clients.iter_mut() {
        for frame in drain(client).await {
            assert_eq!(frame["event"], "story_changed", "{frame}");
            assert_eq!(frame["data"]["id"], story, "{frame}");
        }
    }
    let seen = cast(&mut clients, 1, "M").await;
    assert_votes(&seen[0], json!({"M": [voter.voter()]}), &[&voter]);
    clients[1]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    clients[1].expect_error("invalid").await;
}
