//! Rights and logins take effect at once on open sockets: an administrator's change of a user's
//! rights or name reaches every live session (`participants_changed`, and the very next event
//! is judged by the new rights), and a login that ends (logout, new password, deleted user,
//! revoked token) closes the sockets opened with it with 4001.

use serde_json::{json, Value};

use crate::support::admin::AdminHttp;
use crate::support::{
    assert_participants, start_story, with_cookie, Backend, Http, Rights, Server, TestUser,
    WsClient,
};

both_backends!(
    revoking_the_vote_right_takes_effect_on_the_next_event,
    granting_rights_and_renaming_show_at_once_in_every_session,
    logout_closes_the_sockets_of_that_login_only,
    a_new_password_closes_every_socket_of_the_user,
    deleting_a_user_closes_their_sockets_with_4001,
    a_revoked_bearer_token_closes_its_sockets,
);

/// `permissions` of the participant named `name` in a `participants_changed`.
fn permissions_of(data: &Value, name: &str) -> Value {
    data["participants"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == name))
        .map(|p| p["permissions"].clone())
        .unwrap_or_else(|| panic!("{name} is listed: {data}"))
}

async fn patch_user(admin: &Http, user: &TestUser, body: Value) {
    admin
        .patch_json(&format!("/api/users/{}", user.id), body)
        .await
        .expect_status(200, "change the user");
}

/// A session with an active story and the given users connected (first one moderates).
async fn connected(server: &Server, users: &[&TestUser]) -> (i64, Vec<WsClient>) {
    let session = server.create_session("Rights", &[("R-1", "one")]).await;
    let mut clients = server.join_all(session.id, users, None).await;
    start_story(&mut clients, 0, session.stories[0].id).await;
    (session.id, clients)
}

async fn revoking_the_vote_right_takes_effect_on_the_next_event(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mo", Rights::Moderator).await;
    let voter = server.create_user("vera", Rights::Voter).await;
    let (_, mut clients) = connected(&server, &[&moderator, &voter]).await;
    let admin = server.admin().await;

    patch_user(&admin, &voter, json!({"can_vote": false})).await;
    for client in clients.iter_mut() {
        let data = client.expect_event("participants_changed").await;
        assert_eq!(permissions_of(&data, "vera"), json!([]), "{data}");
    }
    // Losing the right to vote makes her a spectator, who sees every vote: her view of the
    // story follows her rights.
    let data = clients[1].expect_event("story_changed").await;
    assert_eq!(data["votes"], json!({}), "no votes yet: {data}");
    // The very next event after the PATCH answered is judged by the new rights.
    clients[1]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    clients[1].expect_error("forbidden").await;
    clients[0].expect_silence().await;

    patch_user(&admin, &voter, json!({"can_vote": true})).await;
    for client in clients.iter_mut() {
        let data = client.expect_event("participants_changed").await;
        assert_eq!(permissions_of(&data, "vera"), json!(["vote"]), "{data}");
    }
    clients[1].expect_event("story_changed").await;
    clients[1]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    for client in clients.iter_mut() {
        let data = client.expect_event("story_changed").await;
        assert_eq!(data["voters"][0]["name"], "vera", "{data}");
    }
}

async fn granting_rights_and_renaming_show_at_once_in_every_session(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mo", Rights::Moderator).await;
    let spectator = server.create_user("sam", Rights::Spectator).await;
    let (_, mut first) = connected(&server, &[&moderator, &spectator]).await;
    let (_, mut second) = connected(&server, &[&moderator, &spectator]).await;
    let admin = server.admin().await;

    patch_user(
        &admin,
        &spectator,
        json!({"username": "samantha", "can_moderate": true}),
    )
    .await;
    for client in first.iter_mut().chain(second.iter_mut()) {
        let data = client.expect_event("participants_changed").await;
        assert_eq!(
            permissions_of(&data, "samantha"),
            json!(["moderate"]),
            "{data}"
        );
        assert!(
            data["participants"]
                .as_array()
                .is_some_and(|l| l.iter().all(|p| p["name"] != "sam")),
            "the old name is gone: {data}"
        );
    }
    // She may moderate now, at once.
    first[1].send_event("reset_requested", json!({})).await;
    for client in first.iter_mut() {
        client.expect_event("story_changed").await;
    }
    // A change that touches neither name nor rights sends nothing.
    patch_user(&admin, &spectator, json!({"can_moderate": true})).await;
    for client in first.iter_mut().chain(second.iter_mut()) {
        client.expect_silence().await;
    }
}

async fn logout_closes_the_sockets_of_that_login_only(backend: Backend) {
    let server = Server::start(backend).await;
    let voter = server.create_user("vera", Rights::Voter).await;
    let other = server.create_user("otto", Rights::Voter).await;
    let session = server.create_session("Logout", &[("L-1", "")]).await;

    // Vera twice: once through a login cookie, once with her bearer token.
    let browser = server.login("vera", &voter.password).await;
    let cookie = browser.cookie_header().expect("a login cookie");
    let mut by_cookie = WsClient::connect(
        with_cookie(server.ws_request(&server.ws_url(session.id)), &cookie),
        "vera (cookie)",
    )
    .await
    .expect("connect with the cookie");
    by_cookie.expect_event("participants_changed").await;
    let mut by_token = server.connect(session.id, &voter).await;
    by_token.expect_event("participants_changed").await;
    let mut otto = server.connect(session.id, &other).await;
    otto.expect_event("participants_changed").await;
    by_cookie.expect_event("participants_changed").await;
    by_token.expect_event("participants_changed").await;

    browser
        .post("/api/auth/logout", json!({}))
        .await
        .expect_status(204, "log out");
    assert_eq!(
        by_cookie.expect_close_code().await,
        4001,
        "the login behind the socket ended"
    );
    // Her other socket and everyone else stay; she is still present through it.
    by_token.send_event("heartbeat", json!({})).await;
    by_token.expect_silence().await;
    otto.expect_silence().await;
    // The same cookie cannot open a socket again.
    let status = crate::support::handshake_status(with_cookie(
        server.ws_request(&server.ws_url(session.id)),
        &cookie,
    ))
    .await;
    assert_eq!(status, 401, "the ended login cannot reconnect");
}

async fn a_new_password_closes_every_socket_of_the_user(backend: Backend) {
    let server = Server::start(backend).await;
    let voter = server.create_user("vera", Rights::Voter).await;
    let other = server.create_user("otto", Rights::VoterModerator).await;
    let (_, mut clients) = connected(&server, &[&other, &voter]).await;
    let admin = server.admin().await;

    patch_user(&admin, &voter, json!({"password": "a-whole-new-secret"})).await;
    assert_eq!(clients[1].expect_close_code().await, 4001);
    let data = clients[0].expect_event("participants_changed").await;
    assert_participants(&data, &[&other]);
    // Every login of hers ended with it, her bearer token too.
    server
        .http_with_token(&voter.token)
        .get("/api/auth/me")
        .await
        .expect_error(401, "the old token after a new password");
    server.login("vera", "a-whole-new-secret").await;
}

async fn deleting_a_user_closes_their_sockets_with_4001(backend: Backend) {
    let server = Server::start(backend).await;
    let voter = server.create_user("vera", Rights::Voter).await;
    let other = server.create_user("otto", Rights::VoterModerator).await;
    let (_, mut clients) = connected(&server, &[&other, &voter]).await;
    server
        .admin()
        .await
        .delete_at(&format!("/api/users/{}", voter.id))
        .await
        .expect_status(204, "delete vera");
    assert_eq!(clients[1].expect_close_code().await, 4001);
    let data = clients[0].expect_event("participants_changed").await;
    assert_participants(&data, &[&other]);
}

async fn a_revoked_bearer_token_closes_its_sockets(backend: Backend) {
    let server = Server::start(backend).await;
    let voter = server.create_user("vera", Rights::Voter).await;
    let session = server.create_session("Revoke", &[("V-1", "")]).await;
    // A second token for a script; revoking it (logging out with it) leaves the first.
    let script_token = server.new_token(&voter).await;
    let script_user = TestUser {
        token: script_token.clone(),
        ..voter.clone()
    };
    let mut script = server.connect(session.id, &script_user).await;
    script.expect_event("participants_changed").await;
    let mut person = server.connect(session.id, &voter).await;
    person.expect_event("participants_changed").await;

    server
        .http_with_token(&script_token)
        .post("/api/auth/logout", json!({}))
        .await
        .expect_status(204, "revoke the script's token");
    assert_eq!(script.expect_close_code().await, 4001);
    person.send_event("heartbeat", json!({})).await;
    person.expect_silence().await;
    server
        .http_with_token(&voter.token)
        .get("/api/auth/me")
        .await
        .expect_status(200, "the other token still works");
}
