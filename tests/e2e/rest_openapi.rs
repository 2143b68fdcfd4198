//! `GET /api/openapi.json` (PROTOCOL.md section 3, ours): an OpenAPI 3.1 document that lists
//! every endpoint of the table, and lists nothing the server does not route.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::admin::{catch_all_404, expect_routed, id_of, AdminHttp};
use crate::support::{Backend, Rights, Server};

both_backends!(
    openapi_document_is_served_to_anyone_as_openapi_3_1,
    openapi_lists_every_endpoint_of_the_protocol_table,
    every_operation_the_document_lists_is_routed,
    openapi_documents_path_parameters_and_resolves_every_ref,
);

/// PROTOCOL.md section 3's table, one (method, path) per row and method, path parameters as
/// `{id}`.
const PROTOCOL_TABLE: &[(&str, &str)] = &[
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("post", "/api/auth/tokens"),
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("get", "/api/users/{id}"),
    ("patch", "/api/users/{id}"),
    ("delete", "/api/users/{id}"),
    ("get", "/api/sessions"),
    ("post", "/api/sessions"),
    ("get", "/api/sessions/{id}"),
    ("patch", "/api/sessions/{id}"),
    ("delete", "/api/sessions/{id}"),
    ("get", "/api/sessions/{id}/stories"),
    ("post", "/api/sessions/{id}/stories"),
    ("put", "/api/sessions/{id}/stories/order"),
    ("get", "/api/stories/{id}"),
    ("patch", "/api/stories/{id}"),
    ("delete", "/api/stories/{id}"),
    ("get", "/api/stories/{id}/votes"),
    ("post", "/api/sessions/{id}/stories/import"),
    ("get", "/api/sessions/{id}/export"),
    ("get", "/api/openapi.json"),
    // README, "Webhooks" (ours).
    ("get", "/api/webhooks"),
    ("post", "/api/webhooks"),
    ("get", "/api/webhooks/{id}"),
    ("delete", "/api/webhooks/{id}"),
    ("get", "/api/webhooks/{id}/deliveries"),
    // README, "Quick rounds", "Reveal and abstaining", "Timer" (ours).
    ("post", "/api/sessions/{id}/quick-round"),
    ("post", "/api/sessions/{id}/reveal"),
    ("post", "/api/sessions/{id}/timer"),
    ("delete", "/api/sessions/{id}/timer"),
    // README, "Guests by invite link" (ours).
    ("post", "/api/sessions/{id}/invites"),
    ("get", "/api/sessions/{id}/invites"),
    ("delete", "/api/sessions/{id}/invites/{invite_id}"),
    ("get", "/api/invites/{token}"),
    ("post", "/api/invites/{token}/join"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(server: &Server) -> Value {
    let reply = server.http().get_text("/api/openapi.json").await;
    assert_eq!(reply.status, 200, "GET /api/openapi.json: {}", reply.text);
    assert!(
        reply
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/json")),
        "the document is JSON: {:?}",
        reply.content_type
    );
    serde_json::from_str(&reply.text)
        .unwrap_or_else(|e| panic!("the document is valid JSON ({e}): {}", reply.text))
}

/// Every (method, path) the document lists.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("the document has a paths object: {doc}"));
    let mut operations = Vec::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("the path item {path} is an object"));
        for method in item.keys().filter(|k| METHODS.contains(&k.as_str())) {
            operations.push((method.clone(), path.clone()));
        }
    }
    operations
}

async fn openapi_document_is_served_to_anyone_as_openapi_3_1(backend: Backend) {
    let server = Server::start(backend).await;
    let doc = document(&server).await;
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "OpenAPI 3.1, got {version:?}");
    assert!(
        doc["info"]["title"].is_string(),
        "info.title: {}",
        doc["info"]
    );
    assert!(
        doc["info"]["version"].is_string(),
        "info.version: {}",
        doc["info"]
    );
    // Logged in, the answer is the same document.
    let user = server.create_user("spec", Rights::Spectator).await;
    let again = server
        .as_user(&user)
        .get("/api/openapi.json")
        .await
        .expect_status(200, "GET the document with a token");
    assert_eq!(again, doc);
    // Each operation says what it answers.
    for (method, path) in operations(&doc) {
        let responses = &doc["paths"][&path][&method]["responses"];
        assert!(
            responses.as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents its responses: {responses}"
        );
    }
}

async fn openapi_lists_every_endpoint_of_the_protocol_table(backend: Backend) {
    let server = Server::start(backend).await;
    let doc = document(&server).await;
    let listed = operations(&doc);
    let missing: Vec<String> = PROTOCOL_TABLE
        .iter()
        .filter(|(m, p)| !listed.iter().any(|(lm, lp)| lm == m && lp == p))
        .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "the document lacks {missing:?}; it lists {listed:?}"
    );
}

async fn every_operation_the_document_lists_is_routed(backend: Backend) {
    let server = Server::start(backend).await;
    let doc = document(&server).await;
    let admin_user = server.admin().await;
    let token = admin_user
        .post("/api/auth/tokens", json!({}))
        .await
        .expect_status(201, "an admin token")["token"]
        .as_str()
        .expect("a token")
        .to_string();
    let admin = server.http_with_token(&token);

    // The detector works: a path nobody routes gets the catch-all answer.
    let reply = admin.get("/api/no-such-endpoint").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body, catch_all_404(), "the catch-all 404 body");

    // Things that exist, and throwaway ones for the DELETEs.
    let session = server.create_session("Kept", &[("K-1", "kept")]).await;
    let story = session.stories[0].id;
    let user = server.create_user("kept", Rights::Voter).await;
    let doomed_session = server.create_session("Doomed", &[]).await.id;
    let doomed_story = id_of(&server.add_story(session.id, "D-1", "doomed").await);
    let doomed_user = server.create_user("doomed", Rights::Voter).await.id;

    let fill = |path: &str, delete: bool| -> String {
        let (user_id, session_id, story_id) = if delete {
            (doomed_user, doomed_session, doomed_story)
        } else {
            (user.id, session.id, story)
        };
        let id = if path.starts_with("/api/users/") {
            user_id
        } else if path.starts_with("/api/stories/") {
            story_id
        } else {
            session_id
        };
        let mut filled = String::new();
        let mut rest = path;
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .unwrap_or_else(|| panic!("a closed parameter in {path}"))
                + start;
            filled.push_str(&rest[..start]);
            let name = &rest[start + 1..end];
            let value = match name {
                "path" | "file" | "filename" => "app.css".to_string(),
                _ => id.to_string(),
            };
            filled.push_str(&value);
            rest = &rest[end + 1..];
        }
        filled.push_str(rest);
        filled
    };

    let mut operations = operations(&doc);
    assert!(!operations.is_empty(), "the document lists operations");
    // Harmless calls first, then logging out (on a login of its own), then the deletions.
    operations.sort_by_key(|(method, path)| {
        (
            method == "delete",
            path == "/api/auth/logout",
            path.clone(),
            method.clone(),
        )
    });
    for (method, path) in operations {
        let delete = method == "delete";
        let url = fill(&path, delete);
        let what = format!("{} {path} (as {url})", method.to_uppercase());
        let http = if path == "/api/auth/logout" {
            server.admin().await
        } else {
            server.http_with_token(&token)
        };
        let method = Method::from_bytes(method.to_uppercase().as_bytes())
            .unwrap_or_else(|e| panic!("{what}: a method ({e})"));
        let reply = match method {
            Method::GET | Method::DELETE | Method::HEAD | Method::OPTIONS | Method::TRACE => {
                http.send_raw(method, &url, None, Vec::new()).await
            }
            _ => {
                http.send_raw(method, &url, Some("application/json"), b"{}".to_vec())
                    .await
            }
        };
        expect_routed(&reply, &what);
    }
    // The deletions did happen (they were real routes, not the catch-all).
    let admin = server.admin().await;
    admin
        .get(&format!("/api/users/{doomed_user}"))
        .await
        .expect_error(404, "the throwaway user is gone");
    admin
        .get(&format!("/api/sessions/{doomed_session}"))
        .await
        .expect_error(404, "the throwaway session is gone");
    admin
        .get(&format!("/api/stories/{doomed_story}"))
        .await
        .expect_error(404, "the throwaway story is gone");
    admin
        .get(&format!("/api/stories/{story}"))
        .await
        .expect_status(200, "the kept story is still there");
}

/// Every `$ref` string anywhere in `value`.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    if let Some(target) = inner.as_str() {
                        found.push(target.to_string());
                    }
                }
                refs(inner, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, found)),
        _ => {}
    }
}

async fn openapi_documents_path_parameters_and_resolves_every_ref(backend: Backend) {
    let server = Server::start(backend).await;
    let doc = document(&server).await;
    for (method, path) in operations(&doc) {
        let operation = &doc["paths"][&path][&method];
        let mut parameters: Vec<&Value> = Vec::new();
        for list in [&doc["paths"][&path]["parameters"], &operation["parameters"]] {
            parameters.extend(list.as_array().into_iter().flatten());
        }
        let mut rest = path.as_str();
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').expect("a closed parameter") + start;
            let name = &rest[start + 1..end];
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path"),
                "{method} {path} documents its path parameter {name}: {operation}"
            );
            rest = &rest[end + 1..];
        }
    }
    let list = &doc["paths"]["/api/sessions"]["get"]["parameters"];
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|p| p["name"] == "open" && p["in"] == "query")),
        "GET /api/sessions documents ?open: {list}"
    );
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(
        !found.is_empty(),
        "the document describes its bodies with schemas"
    );
    for target in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("a local reference: {target}"));
        assert!(
            doc.pointer(pointer).is_some(),
            "the reference {target} resolves within the document"
        );
    }
}
