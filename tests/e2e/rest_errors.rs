//! The REST error contract across every endpoint (PROTOCOL.md section 3): 401 without identity,
//! 403 without the right, 404 for ids that are not ids, 400 for malformed JSON, 413 for bodies
//! over 256 KiB, 415 for bodies that are not JSON; always `{"error": {"code", "message"}}`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::admin::{id_of, send_too_large, AdminHttp};
use crate::support::{Backend, Http, Reply, Rights, Server};

both_backends!(
    every_admin_endpoint_is_401_anonymous_and_403_for_everyone_else,
    every_read_endpoint_is_401_anonymous_and_fine_for_any_user,
    ids_that_are_not_positive_integers_are_404,
    json_endpoints_refuse_other_content_types_with_415,
    json_bodies_over_256_kib_are_413,
    a_json_body_under_256_kib_is_accepted,
    malformed_json_is_400_with_a_readable_message_everywhere,
);

/// Sends `method path` with a JSON body (or none for GET/DELETE).
async fn call(http: &Http, method: &Method, path: &str, body: &Value) -> Reply {
    match *method {
        Method::GET => http.get(path).await,
        Method::DELETE => http.delete_at(path).await,
        _ => {
            http.send_raw(
                method.clone(),
                path,
                Some("application/json"),
                body.to_string().into_bytes(),
            )
            .await
        }
    }
}

/// The objects the endpoint tables point at.
struct Fixture {
    user: i64,
    session: i64,
    story: i64,
    second_story: i64,
}

async fn fixture(server: &Server) -> Fixture {
    let session = server
        .create_session("Sprint", &[("S-1", "one"), ("S-2", "two")])
        .await;
    let user = server.create_user("target", Rights::Voter).await;
    Fixture {
        user: user.id,
        session: session.id,
        story: session.stories[0].id,
        second_story: session.stories[1].id,
    }
}

/// Every admin-only endpoint with a body that would otherwise succeed.
fn admin_endpoints(f: &Fixture) -> Vec<(Method, String, Value)> {
    let (u, s, st) = (f.user, f.session, f.story);
    vec![
        (Method::GET, "/api/users".into(), Value::Null),
        (
            Method::POST,
            "/api/users".into(),
            json!({"username": "mallory", "password": "mallory-pw"}),
        ),
        (Method::GET, format!("/api/users/{u}"), Value::Null),
        (
            Method::PATCH,
            format!("/api/users/{u}"),
            json!({"is_admin": true}),
        ),
        (Method::DELETE, format!("/api/users/{u}"), Value::Null),
        (
            Method::POST,
            "/api/sessions".into(),
            json!({"name": "Mine", "poker_date": "2025-01-01"}),
        ),
        (
            Method::PATCH,
            format!("/api/sessions/{s}"),
            json!({"name": "Mine"}),
        ),
        (Method::DELETE, format!("/api/sessions/{s}"), Value::Null),
        (
            Method::POST,
            format!("/api/sessions/{s}/stories"),
            json!({"ticket_number": "X-1"}),
        ),
        (
            Method::PUT,
            format!("/api/sessions/{s}/stories/order"),
            json!({"story_ids": []}),
        ),
        (
            Method::POST,
            format!("/api/sessions/{s}/stories/import"),
            json!([{"ticket_number": "X-1"}]),
        ),
        (
            Method::PATCH,
            format!("/api/stories/{st}"),
            json!({"title": "mine"}),
        ),
        (Method::DELETE, format!("/api/stories/{st}"), Value::Null),
    ]
}

async fn every_admin_endpoint_is_401_anonymous_and_403_for_everyone_else(backend: Backend) {
    let server = Server::start(backend).await;
    let f = fixture(&server).await;
    let boss = server.create_user("boss", Rights::VoterModerator).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let before_users = server
        .admin()
        .await
        .get("/api/users")
        .await
        .expect_status(200, "users");
    let before_session = server.get_session(f.session).await;

    let anonymous = [
        ("anonymous", server.http()),
        ("a bad token", server.http_with_token("not-a-real-token")),
    ];
    let refused = [
        (
            "a voter-moderator (cookie)",
            server.login("boss", &boss.password).await,
        ),
        ("a voter-moderator (token)", server.as_user(&boss)),
        ("a spectator", server.as_user(&spectator)),
    ];
    for (method, path, body) in admin_endpoints(&f) {
        for (who, http) in &anonymous {
            call(http, &method, &path, &body)
                .await
                .expect_error(401, &format!("{method} {path} as {who}"));
        }
        for (who, http) in &refused {
            let error = call(http, &method, &path, &body)
                .await
                .expect_error(403, &format!("{method} {path} as {who}"));
            assert_eq!(error["code"], "forbidden", "{error}");
        }
    }
    let admin = server.admin().await;
    assert_eq!(
        admin.get("/api/users").await.expect_status(200, "users"),
        before_users,
        "no refused call changed a user"
    );
    assert_eq!(
        server.get_session(f.session).await,
        before_session,
        "no refused call changed the session or its stories"
    );
}

async fn every_read_endpoint_is_401_anonymous_and_fine_for_any_user(backend: Backend) {
    let server = Server::start(backend).await;
    let f = fixture(&server).await;
    let spectator = server.create_user("spec", Rights::Spectator).await;
    let (s, st) = (f.session, f.story);
    let reads = [
        "/api/auth/me".to_string(),
        "/api/sessions".to_string(),
        "/api/sessions?open=true".to_string(),
        format!("/api/sessions/{s}"),
        format!("/api/sessions/{s}/stories"),
        format!("/api/sessions/{s}/export"),
        format!("/api/stories/{st}"),
        format!("/api/stories/{st}/votes"),
    ];
    for path in &reads {
        let reply = server.http().get(path).await;
        let error = reply.expect_error(401, &format!("anonymous GET {path}"));
        assert_eq!(error["code"], "unauthorized", "{error}");
        server
            .http_with_token("not-a-real-token")
            .get(path)
            .await
            .expect_error(401, &format!("GET {path} with a bad token"));
        server
            .as_user(&spectator)
            .get(path)
            .await
            .expect_status(200, &format!("spectator GET {path}"));
        server
            .login("spec", &spectator.password)
            .await
            .get(path)
            .await
            .expect_status(200, &format!("spectator GET {path} with a cookie"));
    }
    for path in ["/api/auth/tokens", "/api/auth/logout"] {
        server
            .http()
            .post(path, json!({}))
            .await
            .expect_error(401, &format!("anonymous POST {path}"));
    }
    // The document is for anyone.
    server
        .http()
        .get("/api/openapi.json")
        .await
        .expect_status(200, "anonymous GET /api/openapi.json");
}

async fn ids_that_are_not_positive_integers_are_404(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    fixture(&server).await;
    for bad in [
        "abc",
        "0",
        "-1",
        "1.5",
        "1e3",
        "0x1",
        "99999999999999999999",
        "%20",
    ] {
        for (method, path) in [
            (Method::GET, format!("/api/users/{bad}")),
            (Method::PATCH, format!("/api/users/{bad}")),
            (Method::DELETE, format!("/api/users/{bad}")),
            (Method::GET, format!("/api/sessions/{bad}")),
            (Method::PATCH, format!("/api/sessions/{bad}")),
            (Method::DELETE, format!("/api/sessions/{bad}")),
            (Method::GET, format!("/api/sessions/{bad}/stories")),
            (Method::POST, format!("/api/sessions/{bad}/stories")),
            (Method::PUT, format!("/api/sessions/{bad}/stories/order")),
            (Method::GET, format!("/api/sessions/{bad}/export")),
            (Method::GET, format!("/api/stories/{bad}")),
            (Method::PATCH, format!("/api/stories/{bad}")),
            (Method::DELETE, format!("/api/stories/{bad}")),
            (Method::GET, format!("/api/stories/{bad}/votes")),
        ] {
            let body = match method {
                Method::POST => json!({"ticket_number": "X-1"}),
                Method::PUT => json!({"story_ids": []}),
                _ => json!({}),
            };
            let error = call(&admin, &method, &path, &body)
                .await
                .expect_error(404, &format!("{method} {path}"));
            assert_eq!(error["code"], "not_found", "{error}");
        }
        admin
            .post_raw(
                &format!("/api/sessions/{bad}/stories/import"),
                "X-1,,\n",
                "text/csv",
            )
            .await
            .expect_error(404, &format!("import into session {bad}"));
    }
}

/// Every endpoint that takes a JSON object, with a body it would accept.
fn json_endpoints(f: &Fixture) -> Vec<(Method, String, Value)> {
    let (u, s, st) = (f.user, f.session, f.story);
    vec![
        (
            Method::POST,
            "/api/auth/login".into(),
            json!({"username": "admin", "password": crate::support::ADMIN_PASSWORD}),
        ),
        (
            Method::POST,
            "/api/users".into(),
            json!({"username": "newbie", "password": "newbie-pw"}),
        ),
        (
            Method::PATCH,
            format!("/api/users/{u}"),
            json!({"can_moderate": true}),
        ),
        (
            Method::POST,
            "/api/sessions".into(),
            json!({"name": "New", "poker_date": "2025-01-01"}),
        ),
        (
            Method::PATCH,
            format!("/api/sessions/{s}"),
            json!({"name": "Renamed"}),
        ),
        (
            Method::PUT,
            format!("/api/sessions/{s}/stories/order"),
            json!({"story_ids": [f.second_story, st]}),
        ),
        (
            Method::POST,
            format!("/api/sessions/{s}/stories"),
            json!({"ticket_number": "N-1"}),
        ),
        (
            Method::PATCH,
            format!("/api/stories/{st}"),
            json!({"title": "renamed"}),
        ),
    ]
}

async fn json_endpoints_refuse_other_content_types_with_415(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let f = fixture(&server).await;
    let before = server.get_session(f.session).await;
    for (method, path, body) in json_endpoints(&f) {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("text/csv"),
            None,
        ] {
            let error = admin
                .send_raw(
                    method.clone(),
                    &path,
                    content_type,
                    body.to_string().into_bytes(),
                )
                .await
                .expect_error(415, &format!("{method} {path} as {content_type:?}"));
            assert_eq!(error["code"], "unsupported_media_type", "{error}");
        }
        // With a charset it is still JSON.
        let reply = admin
            .send_raw(
                method.clone(),
                &path,
                Some("application/json; charset=utf-8"),
                body.to_string().into_bytes(),
            )
            .await;
        assert!(
            reply.status == 200 || reply.status == 201,
            "{method} {path} as application/json; charset=utf-8: {} {}",
            reply.status,
            reply.body
        );
    }
    let after = server.get_session(f.session).await;
    assert_eq!(after["name"], "Renamed", "only the JSON calls took effect");
    assert_eq!(
        after["stories"].as_array().map(Vec::len),
        Some(before["stories"].as_array().map_or(0, Vec::len) + 1)
    );
}

async fn json_bodies_over_256_kib_are_413(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let f = fixture(&server).await;
    let before = server.get_session(f.session).await;
    let filler = "x".repeat(300 * 1024);
    for (method, path, mut body) in json_endpoints(&f) {
        body["padding"] = json!(filler);
        let error = send_too_large(
            &admin,
            method.clone(),
            &path,
            "application/json",
            body.to_string().into_bytes(),
        )
        .await
        .expect_error(413, &format!("{method} {path} with 300 KiB"));
        assert_eq!(error["code"], "payload_too_large", "{error}");
    }
    // A big description is refused as a whole, too.
    send_too_large(
        &admin,
        Method::PATCH,
        &format!("/api/stories/{}", f.story),
        "application/json",
        json!({"description": "d".repeat(257 * 1024)})
            .to_string()
            .into_bytes(),
    )
    .await
    .expect_error(413, "a 257 KiB description");
    assert_eq!(
        server.get_session(f.session).await,
        before,
        "nothing changed"
    );
}

async fn a_json_body_under_256_kib_is_accepted(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let f = fixture(&server).await;
    let description = format!("<p>{}</p>", "d".repeat(250 * 1024));
    let story = admin
        .patch_json(
            &format!("/api/stories/{}", f.story),
            json!({"description": description}),
        )
        .await
        .expect_status(200, "a 250 KiB description");
    assert_eq!(story["description"], description);
    let created = admin
        .post(
            &format!("/api/sessions/{}/stories", f.session),
            json!({"ticket_number": "BIG", "description": description}),
        )
        .await
        .expect_status(201, "a new story with a 250 KiB description");
    assert_eq!(
        server.story(id_of(&created)).await["description"],
        description
    );
}

async fn malformed_json_is_400_with_a_readable_message_everywhere(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let f = fixture(&server).await;
    for (method, path, _) in json_endpoints(&f) {
        for body in ["{", "not json", "{\"name\": }", "{\"a\": 1,}", "", "\u{1}"] {
            let error = admin
                .send_raw(method.clone(), &path, Some("application/json"), body.into())
                .await
                .expect_error(400, &format!("{method} {path} with {body:?}"));
            assert_eq!(error["code"], "bad_request", "{error}");
            let message = error["message"].as_str().expect("checked");
            assert!(
                message.contains("JSON") && message.len() < 300,
                "{method} {path}: a short message that says the JSON is wrong: {message:?}"
            );
        }
    }
    // A JSON import is held to the same standard.
    let error = admin
        .send_raw(
            Method::POST,
            &format!("/api/sessions/{}/stories/import", f.session),
            Some("application/json"),
            b"[{\"ticket_number\": ".to_vec(),
        )
        .await
        .expect_error(400, "a malformed JSON import");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("JSON")),
        "{error}"
    );
}
