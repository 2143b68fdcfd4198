//! Deeply nested and huge JSON, as WebSocket frames and as REST bodies: a clear error each
//! (`bad_request`, 413, close 1009), never a stack overflow, and the server goes on answering.

use std::time::Duration;

use serde_json::json;

use crate::support::{Backend, Rights, Server};

both_backends!(
    deeply_nested_frames_get_bad_request_and_the_session_goes_on,
    deeply_nested_rest_bodies_get_400_and_the_server_goes_on,
    a_body_over_the_limit_gets_413,
);

/// Nested JSON texts under `size` bytes: arrays, objects, and nesting inside a real event.
fn nested(size: usize) -> Vec<(&'static str, String)> {
    let arrays = "[".repeat(size);
    let objects = "{\"a\":".repeat(size / 5);
    let closed = format!("{}{}", "[".repeat(size / 2 - 10), "]".repeat(size / 2 - 10));
    let inside = format!(
        "{{\"event\": \"vote_submitted\", \"data\": {{\"choice\": {}}}}}",
        closed
    );
    vec![
        ("unclosed arrays", arrays),
        ("unclosed objects", objects),
        ("balanced arrays", closed),
        ("arrays inside an event", inside),
    ]
}

async fn deeply_nested_frames_get_bad_request_and_the_session_goes_on(backend: Backend) {
    let server = Server::start(backend).await;
    let sender = server.create_user("sender", Rights::VoterModerator).await;
    let observer = server.create_user("observer", Rights::Moderator).await;
    let session = server.create_session("Nesting", &[("N-1", "one")]).await;
    let mut clients = server
        .join_all(session.id, &[&sender, &observer], None)
        .await;
    let story = session.stories[0].id;
    clients[1]
        .send_event("next_story_requested", json!({"story_id": story}))
        .await;
    for client in clients.iter_mut() {
        client.expect_event("story_changed").await;
    }
    let (sender, observer) = clients.split_at_mut(1);
    let (sender, observer) = (&mut sender[0], &mut observer[0]);

    // Under the 64 KiB frame limit, so only the parser's depth limit stands in the way.
    for (what, text) in nested(60_000) {
        assert!(text.len() < 64 * 1024, "{what} is {} bytes", text.len());
        sender.send_text(text).await;
        let error = sender.expect_error("bad_request").await;
        assert!(error["message"].is_string(), "{what}: {error}");
        // The socket and the session go on: a vote reaches both members.
        sender
            .send_event("vote_submitted", json!({"choice": "3"}))
            .await;
        for client in [&mut *sender, &mut *observer] {
            let data = client.expect_event("story_changed").await;
            assert_eq!(data["id"], json!(story), "after {what}: {data}");
        }
    }
    observer.expect_silence().await;
}

/// A raw request with the admin's bearer token.
async fn send_raw(
    client: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: String,
    body: String,
) -> (u16, serde_json::Value) {
    let response = client
        .request(method, url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .expect("the request is answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn deeply_nested_rest_bodies_get_400_and_the_server_goes_on(backend: Backend) {
    let server = Server::start(backend).await;
    let token = {
        let reply = server
            .admin()
            .await
            .post("/api/auth/tokens", json!({}))
            .await
            .expect_status(201, "an admin token");
        reply["token"].as_str().expect("a token").to_string()
    };
    let session = server.create_session("Nesting", &[("N-1", "one")]).await;
    let story = session.stories[0].id;
    let base = server.base_url();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    use reqwest::Method;
    let endpoints = [
        (Method::POST, format!("{base}/api/auth/login")),
        (Method::POST, format!("{base}/api/users")),
        (Method::POST, format!("{base}/api/sessions")),
        (Method::PATCH, format!("{base}/api/sessions/{}", session.id)),
        (
            Method::POST,
            format!("{base}/api/sessions/{}/stories", session.id),
        ),
        (
            Method::PUT,
            format!("{base}/api/sessions/{}/stories/order", session.id),
        ),
        (Method::PATCH, format!("{base}/api/stories/{story}")),
        (
            Method::POST,
            format!("{base}/api/sessions/{}/stories/import", session.id),
        ),
    ];
    for (method, url) in &endpoints {
        for (what, body) in nested(100_000) {
            let (status, reply) =
                send_raw(&client, &token, method.clone(), url.clone(), body).await;
            assert_eq!(status, 400, "{what} to {method} {url}: {reply}");
            assert_eq!(
                reply["error"]["code"], "bad_request",
                "{what} to {url}: {reply}"
            );
        }
        // Still answering, and still right.
        server
            .http()
            .get("/healthz")
            .await
            .expect_status(200, "after nested bodies");
    }
    let stories = server.stories(session.id).await;
    assert_eq!(stories.len(), 1, "nothing was created: {stories:?}");
}

async fn a_body_over_the_limit_gets_413(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let huge = json!({"name": "x".repeat(300 * 1024), "poker_date": "2025-01-01"});
    let error = admin
        .post("/api/sessions", huge)
        .await
        .expect_error(413, "a 300 KiB body");
    assert_eq!(error["code"], "payload_too_large", "{error}");
    // A huge nested body is refused for its size before any parsing.
    let nested = "[".repeat(1024 * 1024);
    let error = admin
        .post_raw("/api/sessions", &nested, "application/json")
        .await
        .expect_error(413, "a 1 MiB nested body");
    assert_eq!(error["code"], "payload_too_large", "{error}");
    admin
        .get("/api/sessions")
        .await
        .expect_status(200, "the server goes on after 413s");
}
