//! `POST /api/sessions/{id}/stories/import` (PROTOCOL.md section 3, ours): CSV or a JSON array
//! appended in order, all or nothing, with its content types and size limit.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::admin::{expect_invalid, id_of, ids, send_too_large, AdminHttp};
use crate::support::{Backend, Rights, Server};

both_backends!(
    csv_import_with_a_header_appends_the_stories_in_order,
    csv_import_without_a_header_with_crlf_and_a_charset,
    json_import_appends_the_stories_in_order,
    csv_import_is_all_or_nothing,
    json_import_is_all_or_nothing,
    import_with_another_content_type_is_415,
    empty_import_is_422,
    import_over_2_mib_is_413,
    imports_under_2_mib_are_accepted,
    import_is_401_anonymous_and_403_for_non_admins,
);

fn import_path(session_id: i64) -> String {
    format!("/api/sessions/{session_id}/stories/import")
}

/// (ticket_number, title, description) of each story of a list.
fn fields(list: &Value) -> Vec<(String, String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list of stories: {list}"))
        .iter()
        .map(|s| {
            let text = |f: &str| {
                s[f].as_str()
                    .unwrap_or_else(|| panic!("{f} is a string: {s}"))
                    .to_string()
            };
            (text("ticket_number"), text("title"), text("description"))
        })
        .collect()
}

fn triples(expected: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

async fn csv_import_with_a_header_appends_the_stories_in_order(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server
        .create_session("Sprint", &[("E-1", "existing")])
        .await;
    let csv = "ticket_number,title,description\n\
               IMP-1,First,<p>one</p>\n\
               IMP-2,\"Second, with a comma\",\"He said \"\"hi\"\"\"\n\
               IMP-3,,\"two\nlines\"\n\
               IMP-4\n";
    let created = admin
        .post_raw(&import_path(session.id), csv, "text/csv")
        .await
        .expect_status(201, "import CSV");
    let expected = triples(&[
        ("IMP-1", "First", "<p>one</p>"),
        ("IMP-2", "Second, with a comma", "He said \"hi\""),
        ("IMP-3", "", "two\nlines"),
        ("IMP-4", "", ""),
    ]);
    assert_eq!(fields(&created), expected, "the created stories in order");
    for story in created.as_array().expect("checked") {
        assert_eq!(story["poker_session_id"], session.id, "{story}");
        assert_eq!(story["story_points"], Value::Null, "{story}");
        assert!(story["id"].is_i64(), "{story}");
    }
    assert_eq!(created[0]["label"], "IMP-1: First");
    assert_eq!(created[2]["label"], "IMP-3");

    let listed = Value::Array(server.stories(session.id).await);
    let mut order = vec![session.stories[0].id];
    order.extend(ids(&created));
    assert_eq!(ids(&listed), order, "appended after the existing story");
    assert_eq!(
        &listed.as_array().expect("a list")[1..],
        created.as_array().expect("a list")
    );
}

async fn csv_import_without_a_header_with_crlf_and_a_charset(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let created = admin
        .post_raw(
            &import_path(session.id),
            "A-1,Alpha,\r\nA-2,Beta,<em>b</em>\r\n\"A-3\",\"Gamma\",\"c\"",
            "text/csv; charset=utf-8",
        )
        .await
        .expect_status(201, "import CSV without a header");
    assert_eq!(
        fields(&created),
        triples(&[
            ("A-1", "Alpha", ""),
            ("A-2", "Beta", "<em>b</em>"),
            ("A-3", "Gamma", "c")
        ])
    );
    assert_eq!(
        ids(&Value::Array(server.stories(session.id).await)),
        ids(&created)
    );
}

async fn json_import_appends_the_stories_in_order(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server
        .create_session("Sprint", &[("E-1", ""), ("E-2", "")])
        .await;
    let body = json!([
        {"ticket_number": "J-1", "title": "One", "description": "<p>first</p>"},
        {"ticket_number": "J-2"},
        {"ticket_number": "J-3", "title": "Three"},
        {"ticket_number": "J-4", "description": "only a description"},
    ]);
    let created = admin
        .send_raw(
            Method::POST,
            &import_path(session.id),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
        .expect_status(201, "import JSON");
    assert_eq!(
        fields(&created),
        triples(&[
            ("J-1", "One", "<p>first</p>"),
            ("J-2", "", ""),
            ("J-3", "Three", ""),
            ("J-4", "", "only a description"),
        ])
    );
    let listed = ids(&Value::Array(server.stories(session.id).await));
    let mut order = vec![session.stories[0].id, session.stories[1].id];
    order.extend(ids(&created));
    assert_eq!(listed, order);
    // The reqwest JSON helper (application/json) works the same.
    let more = admin
        .post(&import_path(session.id), json!([{"ticket_number": "J-5"}]))
        .await
        .expect_status(201, "import JSON again");
    assert_eq!(fields(&more), triples(&[("J-5", "", "")]));
}

async fn csv_import_is_all_or_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("E-1", "")]).await;
    let long = "t".repeat(201);
    let mut many = String::from("ticket_number,title,description\n");
    for i in 0..200 {
        many.push_str(&format!("OK-{i},fine,fine\n"));
    }
    many.push_str(",no ticket,\n");
    let cases = [
        (
            "ticket_number,title,description\nA-1,a,\n,missing ticket,\nA-3,c,\n".to_string(),
            "[1].ticket_number",
        ),
        (
            "A-1,a,\n   ,blank ticket,\n".to_string(),
            "[1].ticket_number",
        ),
        (format!("A-1,a,\nA-2,b,\nA-3,{long},\n"), "[2].title"),
        (format!("{long},a,\n"), "[0].ticket_number"),
        (many, "[200].ticket_number"),
    ];
    for (csv, field) in cases {
        expect_invalid(
            admin
                .post_raw(&import_path(session.id), &csv, "text/csv")
                .await,
            field,
            &format!("import a CSV with a bad row ({field})"),
        );
    }
    let listed = ids(&Value::Array(server.stories(session.id).await));
    assert_eq!(listed, [session.stories[0].id], "nothing was created");
}

async fn json_import_is_all_or_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("E-1", "")]).await;
    let cases = [
        (
            json!([{"ticket_number": "A"}, {"title": "no ticket"}]),
            "[1].ticket_number",
        ),
        (
            json!([{"ticket_number": "A"}, {"ticket_number": ""}]),
            "[1].ticket_number",
        ),
        (
            json!([{"ticket_number": "A"}, {"ticket_number": "B", "title": 5}]),
            "[1].title",
        ),
        (json!([{"ticket_number": 7}]), "[0].ticket_number"),
        (
            json!([{"ticket_number": "A"}, {"ticket_number": "B"}, {"ticket_number": "C", "title": "t".repeat(201)}]),
            "[2].title",
        ),
        (
            json!([{"ticket_number": "A", "description": ["x"]}]),
            "[0].description",
        ),
    ];
    for (body, field) in cases {
        expect_invalid(
            admin.post(&import_path(session.id), body.clone()).await,
            field,
            &format!("import {body}"),
        );
    }
    // A row that is not an object: the error points at the row.
    let error = admin
        .post(
            &import_path(session.id),
            json!([{"ticket_number": "A"}, "B"]),
        )
        .await
        .expect_error(422, "import a row that is a string");
    assert!(
        error["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("[1]")),
        "the error names row [1]: {error}"
    );
    let listed = ids(&Value::Array(server.stories(session.id).await));
    assert_eq!(listed, [session.stories[0].id], "nothing was created");
}

async fn import_with_another_content_type_is_415(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let path = import_path(session.id);
    for content_type in [
        Some("text/plain"),
        Some("application/xml"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/html"),
        None,
    ] {
        let error = admin
            .send_raw(
                Method::POST,
                &path,
                content_type,
                b"A-1,Alpha,desc\n".to_vec(),
            )
            .await
            .expect_error(415, &format!("import as {content_type:?}"));
        assert_eq!(error["code"], "unsupported_media_type", "{error}");
    }
    assert!(
        server.stories(session.id).await.is_empty(),
        "nothing created"
    );
}

async fn empty_import_is_422(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let path = import_path(session.id);
    for csv in ["", "\n", "ticket_number,title,description\n", "\n\n,,\n"] {
        let error = admin
            .post_raw(&path, csv, "text/csv")
            .await
            .expect_error(422, &format!("import the CSV {csv:?}"));
        assert_eq!(error["code"], "invalid", "{error}");
    }
    let error = admin
        .post(&path, json!([]))
        .await
        .expect_error(422, "import an empty JSON array");
    assert_eq!(error["code"], "invalid", "{error}");
    assert!(
        server.stories(session.id).await.is_empty(),
        "nothing created"
    );
}

async fn import_over_2_mib_is_413(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let path = import_path(session.id);
    let row = format!("BIG,title,{}\n", "d".repeat(1000));
    let csv = row.repeat(2 * 1024 * 1024 / row.len() + 2);
    assert!(csv.len() > 2 * 1024 * 1024);
    let error = send_too_large(&admin, Method::POST, &path, "text/csv", csv.into_bytes())
        .await
        .expect_error(413, "import a CSV over 2 MiB");
    assert_eq!(error["code"], "payload_too_large", "{error}");
    let rows: Vec<Value> = (0..2200)
        .map(|i| json!({"ticket_number": format!("J-{i}"), "description": "d".repeat(1000)}))
        .collect();
    let body = Value::Array(rows).to_string();
    assert!(body.len() > 2 * 1024 * 1024);
    send_too_large(
        &admin,
        Method::POST,
        &path,
        "application/json",
        body.into_bytes(),
    )
    .await
    .expect_error(413, "import JSON over 2 MiB");
    assert!(
        server.stories(session.id).await.is_empty(),
        "nothing created"
    );
}

async fn imports_under_2_mib_are_accepted(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let mut csv = String::new();
    for i in 0..500 {
        csv.push_str(&format!("L-{i:03},title {i},{}\n", "x".repeat(3980)));
    }
    assert!(csv.len() < 2 * 1024 * 1024 && csv.len() > 1900 * 1024);
    let created = admin
        .post_raw(&import_path(session.id), &csv, "text/csv")
        .await
        .expect_status(201, "import a CSV just under 2 MiB");
    assert_eq!(created.as_array().map(Vec::len), Some(500));
    let listed = server.stories(session.id).await;
    assert_eq!(listed.len(), 500);
    assert_eq!(listed[0]["ticket_number"], "L-000");
    assert_eq!(listed[499]["ticket_number"], "L-499");
    assert_eq!(id_of(&listed[499]), id_of(&created[499]));

    // A JSON import may be far larger than the 256 KiB of other JSON bodies.
    let rows: Vec<Value> = (0..300)
        .map(|i| json!({"ticket_number": format!("J-{i:03}"), "description": "y".repeat(3500)}))
        .collect();
    let body = Value::Array(rows).to_string();
    assert!(body.len() > 1024 * 1024);
    let created = admin
        .send_raw(
            Method::POST,
            &import_path(session.id),
            Some("application/json"),
            body.into_bytes(),
        )
        .await
        .expect_status(201, "import 1 MiB of JSON");
    assert_eq!(created.as_array().map(Vec::len), Some(300));
    assert_eq!(server.stories(session.id).await.len(), 800);
}

async fn import_is_401_anonymous_and_403_for_non_admins(backend: Backend) {
    let server = Server::start(backend).await;
    let boss = server.create_user("boss", Rights::VoterModerator).await;
    let session = server.create_session("Sprint", &[]).await;
    let path = import_path(session.id);
    server
        .http()
        .post_raw(&path, "A-1,a,\n", "text/csv")
        .await
        .expect_error(401, "anonymous CSV import");
    server
        .http()
        .post(&path, json!([{"ticket_number": "A-1"}]))
        .await
        .expect_error(401, "anonymous JSON import");
    for (how, http) in [
        ("cookie", server.login("boss", &boss.password).await),
        ("token", server.as_user(&boss)),
    ] {
        http.post_raw(&path, "A-1,a,\n", "text/csv")
            .await
            .expect_error(403, &format!("non-admin CSV import ({how})"));
        http.post(&path, json!([{"ticket_number": "A-1"}]))
            .await
            .expect_error(403, &format!("non-admin JSON import ({how})"));
    }
    assert!(
        server.stories(session.id).await.is_empty(),
        "nothing created"
    );
}
