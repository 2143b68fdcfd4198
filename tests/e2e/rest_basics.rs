//! The REST basics of PROTOCOL.md section 3: login, identity, tokens, users, sessions, stories
//! and the error format.

use serde_json::{json, Value};

use crate::support::{Backend, Rights, Server, ADMIN_PASSWORD};

both_backends!(
    login_answers_the_user_and_sets_a_cookie,
    wrong_credentials_are_401,
    me_without_identity_is_401,
    logout_ends_the_login,
    token_works_as_bearer_on_rest,
    admin_creates_and_lists_users_without_passwords,
    duplicate_username_is_409,
    empty_username_is_422_naming_the_field,
    non_admin_is_403_on_admin_endpoints,
    anonymous_is_401_on_admin_endpoints,
    admin_creates_a_session_with_the_default_deck,
    bad_poker_date_is_422_naming_the_field,
    sessions_are_listed_newest_poker_date_first,
    unknown_session_is_404,
    stories_are_appended_last_and_listed_in_order,
    malformed_json_is_400,
);

/// The `permissions` of a user object, sorted (the order is not part of the contract).
fn permissions(user: &Value) -> Vec<String> {
    let mut permissions: Vec<String> = user["permissions"]
        .as_array()
        .unwrap_or_else(|| panic!("a user has a permissions array: {user}"))
        .iter()
        .map(|p| {
            p.as_str()
                .unwrap_or_else(|| panic!("permissions are strings: {user}"))
                .to_string()
        })
        .collect();
    permissions.sort();
    permissions
}

/// Checks the fields of a user object.
fn assert_user(user: &Value, username: &str, flags: (bool, bool, bool), expected: &[&str]) {
    let (can_vote, can_moderate, is_admin) = flags;
    assert!(user["id"].is_i64(), "a user has an integer id: {user}");
    assert_eq!(user["username"], username, "username: {user}");
    assert_eq!(user["can_vote"], can_vote, "can_vote: {user}");
    assert_eq!(user["can_moderate"], can_moderate, "can_moderate: {user}");
    assert_eq!(user["is_admin"], is_admin, "is_admin: {user}");
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(permissions(user), expected, "permissions: {user}");
    assert_no_password(user);
}

fn assert_no_password(user: &Value) {
    let object = user
        .as_object()
        .unwrap_or_else(|| panic!("a user is an object: {user}"));
    assert!(
        !object
            .keys()
            .any(|k| k.contains("password") || k.contains("hash")),
        "a user never carries its password: {user}"
    );
}

/// The deck's options as text (numbers and strings alike).
fn options(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a deck list is an array: {list}"))
        .iter()
        .map(|o| match o {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

async fn login_answers_the_user_and_sets_a_cookie(backend: Backend) {
    let server = Server::start(backend).await;
    let http = server.http();
    let body = http
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await
        .expect_status(200, "log in as admin");
    assert_user(
        &body["user"],
        "admin",
        (true, true, true),
        &["vote", "moderate", "admin"],
    );
    assert!(
        http.cookie_header().is_some(),
        "the login answer sets a cookie"
    );

    // /me answers the user object itself, not wrapped.
    let me = http
        .get("/api/auth/me")
        .await
        .expect_status(200, "GET /api/auth/me");
    assert_eq!(me, body["user"], "/me is the logged-in user");
}

async fn wrong_credentials_are_401(backend: Backend) {
    let server = Server::start(backend).await;
    let http = server.http();
    for (username, password) in [
        ("admin", "wrong password"),
        ("admin", ""),
        ("nobody", ADMIN_PASSWORD),
    ] {
        http.post(
            "/api/auth/login",
            json!({"username": username, "password": password}),
        )
        .await
        .expect_error(401, &format!("log in as {username} with a wrong password"));
    }
    assert!(http.cookie_header().is_none(), "no login cookie was set");
    http.get("/api/auth/me")
        .await
        .expect_error(401, "GET /api/auth/me after failed logins");
}

async fn me_without_identity_is_401(backend: Backend) {
    let server = Server::start(backend).await;
    server
        .http()
        .get("/api/auth/me")
        .await
        .expect_error(401, "GET /api/auth/me without identity");
    server
        .http_with_token("no-such-token")
        .get("/api/auth/me")
        .await
        .expect_error(401, "GET /api/auth/me with a bad token");
}

async fn logout_ends_the_login(backend: Backend) {
    let server = Server::start(backend).await;
    let http = server.admin().await;
    let cookie = http.cookie_header().expect("logged in with a cookie");
    http.get("/api/auth/me")
        .await
        .expect_status(200, "GET /api/auth/me while logged in");
    http.post("/api/auth/logout", json!({}))
        .await
        .expect_status(204, "POST /api/auth/logout");
    http.get("/api/auth/me")
        .await
        .expect_error(401, "GET /api/auth/me after logout");

    // The old cookie value no longer works either (the login ended on the server).
    let replay = server.http();
    let reply = replay.get_with_cookie("/api/auth/me", &cookie).await;
    reply.expect_error(401, "GET /api/auth/me replaying the logged-out cookie");
}

async fn token_works_as_bearer_on_rest(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("scripter", Rights::Voter).await;
    let http = server.login(&user.username, &user.password).await;
    let body = http
        .post("/api/auth/tokens", json!({}))
        .await
        .expect_status(201, "POST /api/auth/tokens");
    let token = body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("the answer is {{\"token\": \"...\"}}: {body}"));
    assert!(!token.is_empty(), "the token is not empty");

    let me = server
        .http_with_token(token)
        .get("/api/auth/me")
        .await
        .expect_status(200, "GET /api/auth/me with the bearer token");
    assert_user(&me, "scripter", (true, false, false), &["vote"]);

    server
        .http()
        .post("/api/auth/tokens", json!({}))
        .await
        .expect_error(401, "POST /api/auth/tokens without identity");
}

async fn admin_creates_and_lists_users_without_passwords(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let carol = admin
        .post(
            "/api/users",
            json!({"username": "carol", "password": "carol-pw-1", "can_vote": true}),
        )
        .await
        .expect_status(201, "create carol");
    assert_user(&carol, "carol", (true, false, false), &["vote"]);
    let dan = admin
        .post(
            "/api/users",
            json!({"username": "dan", "password": "dan-pw-12"}),
        )
        .await
        .expect_status(201, "create dan with the default flags");
    assert_user(&dan, "dan", (false, false, false), &[]);
    let eve = admin
        .post(
            "/api/users",
            json!({
                "username": "eve", "password": "eve-pw-123",
                "can_vote": true, "can_moderate": true, "is_admin": true,
            }),
        )
        .await
        .expect_status(201, "create eve");
    assert_user(
        &eve,
        "eve",
        (true, true, true),
        &["vote", "moderate", "admin"],
    );
    let mod_ = admin
        .post(
            "/api/users",
            json!({"username": "mo", "password": "mo-pw-1234", "can_moderate": true}),
        )
        .await
        .expect_status(201, "create mo");
    assert_user(&mod_, "mo", (false, true, false), &["moderate"]);

    let list = admin
        .get("/api/users")
        .await
        .expect_status(200, "GET /api/users");
    let list = list
        .as_array()
        .unwrap_or_else(|| panic!("GET /api/users is an array: {list}"));
    let mut names: Vec<&str> = list
        .iter()
        .map(|u| {
            assert_no_password(u);
            u["username"]
                .as_str()
                .unwrap_or_else(|| panic!("a user has a username: {u}"))
        })
        .collect();
    names.sort();
    assert_eq!(names, ["admin", "carol", "dan", "eve", "mo"]);
    let listed_carol = list
        .iter()
        .find(|u| u["username"] == "carol")
        .expect("carol is listed");
    assert_eq!(listed_carol, &carol, "the list shows the created user");

    // The new users can log in with their passwords.
    server.login("carol", "carol-pw-1").await;
    server.login("dan", "dan-pw-12").await;
}

async fn duplicate_username_is_409(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let body = json!({"username": "carol", "password": "carol-pw-1"});
    admin
        .post("/api/users", body.clone())
        .await
        .expect_status(201, "create carol");
    admin
        .post("/api/users", body)
        .await
        .expect_error(409, "create carol again");
    admin
        .post(
            "/api/users",
            json!({"username": "admin", "password": "another-pw"}),
        )
        .await
        .expect_error(409, "create a second admin");
}

async fn empty_username_is_422_naming_the_field(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let error = admin
        .post(
            "/api/users",
            json!({"username": "", "password": "some-password"}),
        )
        .await
        .expect_error(422, "create a user with an empty username");
    assert_eq!(
        error["field"], "username",
        "the error names the field: {error}"
    );
    let error = admin
        .post(
            "/api/users",
            json!({"username": "x".repeat(151), "password": "some-password"}),
        )
        .await
        .expect_error(422, "create a user with a 151-character username");
    assert_eq!(
        error["field"], "username",
        "the error names the field: {error}"
    );
}

async fn non_admin_is_403_on_admin_endpoints(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server
        .create_user("moderator", Rights::VoterModerator)
        .await;
    let http = server.login(&user.username, &user.password).await;
    http.post(
        "/api/users",
        json!({"username": "mallory", "password": "mallory-pw"}),
    )
    .await
    .expect_error(403, "a non-admin creates a user");
    http.get("/api/users")
        .await
        .expect_error(403, "a non-admin lists users");
    http.post(
        "/api/sessions",
        json!({"name": "Nope", "poker_date": "2025-01-01"}),
    )
    .await
    .expect_error(403, "a non-admin creates a session");
    let session = server.create_session("Sprint", &[]).await;
    http.post(
        &format!("/api/sessions/{}/stories", session.id),
        json!({"ticket_number": "X-1"}),
    )
    .await
    .expect_error(403, "a non-admin creates a story");
    // The same with the bearer token.
    server
        .http_with_token(&user.token)
        .post(
            "/api/users",
            json!({"username": "mallory", "password": "mallory-pw"}),
        )
        .await
        .expect_error(403, "a non-admin creates a user with a token");
}

async fn anonymous_is_401_on_admin_endpoints(backend: Backend) {
    let server = Server::start(backend).await;
    let http = server.http();
    http.post(
        "/api/users",
        json!({"username": "mallory", "password": "mallory-pw"}),
    )
    .await
    .expect_error(401, "create a user without identity");
    http.get("/api/users")
        .await
        .expect_error(401, "list users without identity");
    http.post(
        "/api/sessions",
        json!({"name": "Nope", "poker_date": "2025-01-01"}),
    )
    .await
    .expect_error(401, "create a session without identity");
    http.get("/api/sessions")
        .await
        .expect_error(401, "list sessions without identity");
}

async fn admin_creates_a_session_with_the_default_deck(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = admin
        .post(
            "/api/sessions",
            json!({"name": "Sprint 42", "poker_date": "2025-06-30"}),
        )
        .await
        .expect_status(201, "create a session");
    assert!(
        session["id"].is_i64(),
        "a session has an integer id: {session}"
    );
    assert_eq!(session["name"], "Sprint 42");
    assert_eq!(session["poker_date"], "2025-06-30");
    assert_eq!(session["active_story_id"], Value::Null);
    assert_eq!(
        options(&session["deck"]["points"]),
        ["1", "2", "3", "5", "8", "13", "21", "34"],
        "the default deck's point options: {session}"
    );
    assert_eq!(
        options(&session["deck"]["others"]),
        ["Too large", "No idea"],
        "the default deck's other options: {session}"
    );
    assert_eq!(session["secret_votes"], true);
    assert_eq!(session["stories"], json!([]));

    let id = session["id"].as_i64().expect("checked above");
    let got = admin
        .get(&format!("/api/sessions/{id}"))
        .await
        .expect_status(200, "GET the session");
    assert_eq!(got, session, "GET answers the created session");
}

async fn bad_poker_date_is_422_naming_the_field(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    for date in ["2025-13-01", "2025-02-30", "30.06.2025", "tomorrow", ""] {
        let error = admin
            .post(
                "/api/sessions",
                json!({"name": "Sprint", "poker_date": date}),
            )
            .await
            .expect_error(422, &format!("create a session dated {date:?}"));
        assert_eq!(
            error["field"], "poker_date",
            "the error names the field: {error}"
        );
    }
}

async fn sessions_are_listed_newest_poker_date_first(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    for (name, date) in [
        ("middle", "2024-05-01"),
        ("newest", "2025-01-15"),
        ("oldest", "2023-12-31"),
    ] {
        admin
            .post("/api/sessions", json!({"name": name, "poker_date": date}))
            .await
            .expect_status(201, &format!("create session {name}"));
    }
    let list = admin
        .get("/api/sessions")
        .await
        .expect_status(200, "GET /api/sessions");
    let names: Vec<&Value> = list
        .as_array()
        .unwrap_or_else(|| panic!("GET /api/sessions is an array: {list}"))
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(
        names,
        [&json!("newest"), &json!("middle"), &json!("oldest")]
    );

    // Any logged-in user may list them.
    let user = server.create_user("spectator", Rights::Spectator).await;
    let list = server
        .http_with_token(&user.token)
        .get("/api/sessions")
        .await
        .expect_status(200, "GET /api/sessions as a spectator");
    assert_eq!(list.as_array().map(Vec::len), Some(3));
}

async fn unknown_session_is_404(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    admin
        .get("/api/sessions/987654")
        .await
        .expect_error(404, "GET an unknown session");
    admin
        .get("/api/sessions/987654/stories")
        .await
        .expect_error(404, "GET the stories of an unknown session");
    admin
        .post(
            "/api/sessions/987654/stories",
            json!({"ticket_number": "X-1"}),
        )
        .await
        .expect_error(404, "POST a story to an unknown session");
}

async fn stories_are_appended_last_and_listed_in_order(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = admin
        .post(
            "/api/sessions",
            json!({"name": "Sprint", "poker_date": "2025-02-02"}),
        )
        .await
        .expect_status(201, "create a session");
    let id = session["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a session has an integer id: {session}"));

    let mut created = Vec::new();
    for (body, label) in [
        (
            json!({"ticket_number": "T-1", "title": "Login", "description": "Users log in"}),
            "T-1: Login",
        ),
        (json!({"ticket_number": "T-2"}), "T-2"),
        (json!({"ticket_number": "T-3", "title": ""}), "T-3"),
    ] {
        let story = admin
            .post(&format!("/api/sessions/{id}/stories"), body.clone())
            .await
            .expect_status(201, &format!("create story {body}"));
        assert!(story["id"].is_i64(), "a story has an integer id: {story}");
        assert_eq!(story["poker_session_id"], id, "{story}");
        assert_eq!(story["ticket_number"], body["ticket_number"], "{story}");
        assert_eq!(story["label"], label, "{story}");
        assert_eq!(story["story_points"], Value::Null, "{story}");
        assert!(
            story["position"].is_number(),
            "a story has a position: {story}"
        );
        assert!(story["title"].is_string(), "title is a string: {story}");
        assert!(
            story["description"].is_string(),
            "description is a string: {story}"
        );
        created.push(story);
    }
    assert_eq!(created[0]["title"], "Login");
    assert_eq!(created[0]["description"], "Users log in");
    assert_eq!(created[1]["title"], "");
    let positions: Vec<f64> = created
        .iter()
        .map(|s| s["position"].as_f64().expect("checked above"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "each new story is appended last: {positions:?}"
    );

    let list = admin
        .get(&format!("/api/sessions/{id}/stories"))
        .await
        .expect_status(200, "list the stories");
    assert_eq!(list, Value::Array(created.clone()), "stories in order");

    let session = admin
        .get(&format!("/api/sessions/{id}"))
        .await
        .expect_status(200, "GET the session");
    let ids: Vec<&Value> = session["stories"]
        .as_array()
        .unwrap_or_else(|| panic!("the session has its stories: {session}"))
        .iter()
        .map(|s| &s["id"])
        .collect();
    let expected: Vec<&Value> = created.iter().map(|s| &s["id"]).collect();
    assert_eq!(ids, expected, "the session's stories in order");
    assert_eq!(session["active_story_id"], Value::Null);
}

async fn malformed_json_is_400(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    admin
        .post_raw("/api/sessions", "{\"name\": \"x\",", "application/json")
        .await
        .expect_error(400, "POST /api/sessions with malformed JSON");
    admin
        .post_raw("/api/users", "not json", "application/json")
        .await
        .expect_error(400, "POST /api/users with malformed JSON");
    server
        .http()
        .post_raw("/api/auth/login", "{", "application/json")
        .await
        .expect_error(400, "POST /api/auth/login with malformed JSON");
}
