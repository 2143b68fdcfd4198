//! The WebSocket handshake: identity (cookie, bearer header, `?token=`), unknown sessions and
//! the Origin check, all answered with an HTTP status before any upgrade.

use crate::support::{
    assert_participants, handshake_status, with_bearer, with_cookie, with_origin, Backend, Rights,
    Server, WsClient,
};

both_backends!(
    no_identity_is_refused_with_401_before_upgrade,
    invalid_token_is_refused_with_401,
    unknown_session_is_404,
    non_numeric_session_id_is_404,
    foreign_origin_is_refused_with_403,
    own_origin_is_allowed,
    bearer_header_authenticates,
    token_query_parameter_authenticates,
    login_cookie_authenticates,
    trailing_slash_is_optional,
);

async fn no_identity_is_refused_with_401_before_upgrade(backend: Backend) {
    let server = Server::start(backend).await;
    let session = server.create_session("Handshake", &[("H-1", "one")]).await;
    let request = server.ws_request(&server.ws_url(session.id));
    assert_eq!(handshake_status(request).await, 401);
}

async fn invalid_token_is_refused_with_401(backend: Backend) {
    let server = Server::start(backend).await;
    let session = server.create_session("Handshake", &[("H-1", "one")]).await;
    let url = server.ws_url(session.id);
    let request = with_bearer(server.ws_request(&url), "not-a-valid-token");
    assert_eq!(handshake_status(request).await, 401, "bad bearer token");
    let request = server.ws_request(&format!("{url}?token=not-a-valid-token"));
    assert_eq!(handshake_status(request).await, 401, "bad ?token=");
    let request = with_cookie(server.ws_request(&url), "sessionid=forged");
    assert_eq!(handshake_status(request).await, 401, "forged cookie");
}

async fn unknown_session_is_404(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("alice", Rights::Voter).await;
    let request = with_bearer(server.ws_request(&server.ws_url(987_654)), &user.token);
    assert_eq!(handshake_status(request).await, 404);
}

async fn non_numeric_session_id_is_404(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("alice", Rights::Voter).await;
    for id in ["abc", "1x", "-"] {
        let url = format!("ws://127.0.0.1:{}/ws/poker/{id}/", server.port());
        let request = with_bearer(server.ws_request(&url), &user.token);
        assert_eq!(handshake_status(request).await, 404, "session id {id:?}");
    }
}

async fn foreign_origin_is_refused_with_403(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("alice", Rights::Voter).await;
    let session = server.create_session("Handshake", &[("H-1", "one")]).await;
    for origin in ["http://evil.example", "https://127.0.0.1.evil.example"] {
        let request = with_origin(
            with_bearer(server.ws_request(&server.ws_url(session.id)), &user.token),
            origin,
        );
        assert_eq!(handshake_status(request).await, 403, "Origin {origin}");
    }
}

async fn own_origin_is_allowed(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("alice", Rights::Voter).await;
    let session = server.create_session("Handshake", &[("H-1", "one")]).await;
    let request = with_origin(
        with_bearer(server.ws_request(&server.ws_url(session.id)), &user.token),
        &server.base_url(),
    );
    let mut client = WsClient::connect(request, "alice")
        .await
        .unwrap_or_else(|e| panic!("the server's own Origin is allowed: {e}"));
    assert_participants(&client.expect_event("participants_changed").await, &[&user]);
}

async fn bearer_header_authenticates(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("alice", Rights::VoterModerator).await;
    let session = server.create_session("Handshake", &[("H-1", "one")]).await;
    let mut client = server.connect(session.id, &user).await;
    assert_participants(&client.expect_event("participants_changed").await, &[&user]);
}

async fn token_query_parameter_authenticates(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("alice", Rights::Moderator).await;
    let session = server.create_session("Handshake", &[("H-1", "one")]).await;
    let url = format!("{}?token={}", server.ws_url(session.id), user.token);
    let mut client = WsClient::connect(server.ws_request(&url), "alice")
        .await
        .unwrap_or_else(|e| panic!("?token= authenticates: {e}"));
    assert_participants(&client.expect_event("participants_changed").await, &[&user]);
}

async fn login_cookie_authenticates(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("alice", Rights::Spectator).await;
    let session = server.create_session("Handshake", &[("H-1", "one")]).await;
    let http = server.login(&user.username, &user.password).await;
    let cookie = http
        .cookie_header()
        .expect("the login answer sets a cookie");
    let request = with_cookie(server.ws_request(&server.ws_url(session.id)), &cookie);
    let mut client = WsClient::connect(request, "alice")
        .await
        .unwrap_or_else(|e| panic!("the login cookie authenticates: {e}"));
    assert_participants(&client.expect_event("participants_changed").await, &[&user]);
}

async fn trailing_slash_is_optional(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.create_user("alice", Rights::Voter).await;
    let session = server.create_session("Handshake", &[("H-1", "one")]).await;
    let url = format!("ws://127.0.0.1:{}/ws/poker/{}", server.port(), session.id);
    let request = with_bearer(server.ws_request(&url), &user.token);
    let mut client = WsClient::connect(request, "alice")
        .await
        .unwrap_or_else(|e| panic!("{url} (no trailing slash) connects: {e}"));
    assert_participants(&client.expect_event("participants_changed").await, &[&user]);
}
