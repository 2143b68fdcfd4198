//! `GET /api/sessions/{id}/export` (PROTOCOL.md section 3, ours): the session's stories as CSV
//! with their points and vote counts.

use serde_json::json;

use crate::support::admin::{activate, cast, csv_field, id_of, parse_csv, AdminHttp};
use crate::support::{Backend, Rights, Server};

both_backends!(
    export_is_csv_with_points_and_vote_counts_in_story_order,
    export_of_a_session_without_stories_is_the_header_only,
    export_round_trips_what_was_imported,
    export_shows_the_size_on_a_tshirt_session,
    export_is_401_anonymous_and_fine_for_spectators,
);

const HEADER: [&str; 5] = [
    "ticket_number",
    "title",
    "description",
    "story_points",
    "votes",
];

/// Exports the session as the given client; checks the status, content type and header row,
/// and returns the data rows.
async fn export(http: &crate::support::Http, session_id: i64) -> Vec<Vec<String>> {
    let reply = http
        .get_text(&format!("/api/sessions/{session_id}/export"))
        .await;
    assert_eq!(reply.status, 200, "export: {}", reply.text);
    let content_type = reply.content_type.unwrap_or_default();
    assert!(
        content_type.starts_with("text/csv"),
        "the export is text/csv, got {content_type:?}"
    );
    let mut records = parse_csv(&reply.text);
    assert!(
        !records.is_empty(),
        "the export has a header: {:?}",
        reply.text
    );
    let header = records.remove(0);
    assert_eq!(header, HEADER, "the header row");
    for record in &records {
        assert_eq!(record.len(), 5, "five columns in every row: {record:?}");
    }
    records
}

fn row(fields: [&str; 5]) -> Vec<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

async fn export_is_csv_with_points_and_vote_counts_in_story_order(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let session = server.create_session("Sprint", &[]).await;
    let mut stories = Vec::new();
    for (ticket, title, description) in [
        ("S-1", "Login", "<p>Users log in</p>"),
        ("S-2", "", ""),
        ("S-3", "Quote \"this\", please", "line one\nline two"),
    ] {
        let story = admin
            .post(
                &format!("/api/sessions/{}/stories", session.id),
                json!({"ticket_number": ticket, "title": title, "description": description}),
            )
            .await
            .expect_status(201, "create a story");
        stories.push(id_of(&story));
    }
    // Order: S-3, S-1, S-2.
    admin
        .put_json(
            &format!("/api/sessions/{}/stories/order", session.id),
            json!({"story_ids": [stories[2], stories[0], stories[1]]}),
        )
        .await
        .expect_status(200, "reorder");
    // S-1: two votes and 5 points; S-2: one vote; S-3: nothing.
    let mut clients = server
        .join_all(session.id, &[&moderator, &alice, &bob], None)
        .await;
    activate(&mut clients, 0, stories[0]).await;
    cast(&mut clients, 1, "5").await;
    cast(&mut clients, 2, "8").await;
    clients[0]
        .send_event("points_submitted", json!({"story_points": 5}))
        .await;
    drain_points_frames(&mut clients).await;
    activate(&mut clients, 0, stories[1]).await;
    cast(&mut clients, 2, "No idea").await;

    let rows = export(&server.as_user(&alice), session.id).await;
    assert_eq!(
        rows,
        vec![
            row([
                "S-3",
                "Quote \"this\", please",
                "line one\nline two",
                "",
                "0"
            ]),
            row(["S-1", "Login", "<p>Users log in</p>", "5", "2"]),
            row(["S-2", "", "", "", "1"]),
        ]
    );
}

/// Drains the frames that points cause (`story_points_submitted`, then `stories_changed`).
async fn drain_points_frames(clients: &mut [crate::support::WsClient]) {
    crate::support::admin::expect_on_all(clients, "story_points_submitted").await;
    crate::support::admin::expect_on_all(clients, "stories_changed").await;
}

async fn export_of_a_session_without_stories_is_the_header_only(backend: Backend) {
    let server = Server::start(backend).await;
    let session = server.create_session("Empty", &[]).await;
    let rows = export(&server.admin().await, session.id).await;
    assert!(rows.is_empty(), "no rows: {rows:?}");
    // Stories of other sessions do not leak in.
    server.create_session("Other", &[("O-1", "other")]).await;
    let rows = export(&server.admin().await, session.id).await;
    assert!(rows.is_empty(), "no rows: {rows:?}");
}

async fn export_round_trips_what_was_imported(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let stories = [
        ("R-1", "Comma, inside", "<p>a, b</p>"),
        ("R-2", "Quotes \"inside\"", "She said \"no\""),
        ("R-3", "", "first\nsecond"),
        ("R-4", "Ümlauts and émojis 🎲", "<strong>bold</strong>"),
    ];
    let mut csv = String::from("ticket_number,title,description\n");
    for (ticket, title, description) in stories {
        csv.push_str(&format!(
            "{},{},{}\n",
            csv_field(ticket),
            csv_field(title),
            csv_field(description)
        ));
    }
    admin
        .post_raw(
            &format!("/api/sessions/{}/stories/import", session.id),
            &csv,
            "text/csv",
        )
        .await
        .expect_status(201, "import");
    let rows = export(&admin, session.id).await;
    let expected: Vec<Vec<String>> = stories
        .iter()
        .map(|(t, ti, d)| row([t, ti, d, "", "0"]))
        .collect();
    assert_eq!(rows, expected);
}

async fn export_shows_the_size_on_a_tshirt_session(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = id_of(
        &server
            .create_session_with_deck("Sizes", "2025-01-01", Some(json!("tshirt")))
            .await,
    );
    let story = id_of(&server.add_story(session, "T-1", "shirt").await);
    server.add_story(session, "T-2", "").await;
    admin
        .patch_json(
            &format!("/api/stories/{story}"),
            json!({"story_points": "XL"}),
        )
        .await
        .expect_status(200, "point T-1");
    let rows = export(&admin, session).await;
    assert_eq!(
        rows,
        vec![
            row(["T-1", "shirt", "", "XL", "0"]),
            row(["T-2", "", "", "", "0"]),
        ]
    );
}

async fn export_is_401_anonymous_and_fine_for_spectators(backend: Backend) {
    let server = Server::start(backend).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let path = format!("/api/sessions/{}/export", session.id);
    let reply = server.http().get_text(&path).await;
    assert_eq!(reply.status, 401, "anonymous export: {}", reply.text);
    let reply = server.http_with_token("bogus").get_text(&path).await;
    assert_eq!(reply.status, 401, "export with a bad token: {}", reply.text);
    let rows = export(&server.as_user(&spectator), session.id).await;
    assert_eq!(
        rows,
        vec![row(["S-1", "one", "What S-1 is about", "", "0"])]
    );
}
