//! Presence and liveness: a participant is a user with at least one open socket; silent sockets
//! are closed after the client timeout.

use std::time::Duration;

use serde_json::json;

use crate::support::{assert_participants, assert_story, Backend, Rights, Server, ServerOptions};

both_backends!(
    second_socket_of_a_user_gets_participants_changed_alone,
    closing_one_of_two_sockets_of_a_user_sends_nothing,
    closing_the_last_socket_of_a_user_sends_participants_changed_to_all,
    heartbeats_keep_a_socket_alive_without_pongs,
    pongs_keep_a_reading_socket_alive_without_heartbeats,
    silent_socket_is_closed_after_the_client_timeout,
);

/// A short client timeout, with pings more often than that.
fn short_timeout() -> ServerOptions {
    ServerOptions {
        client_timeout_secs: Some("1.0"),
        ping_interval_secs: Some("0.3"),
        ..ServerOptions::default()
    }
}

async fn second_socket_of_a_user_gets_participants_changed_alone(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Moderator).await;
    let session = server.create_session("Presence", &[("P-1", "one")]).await;
    let story = &session.stories[0];
    let mut clients = server.join_all(session.id, &[&alice, &bob], None).await;
    clients[1]
        .send_event("next_story_requested", json!({"story_id": story.id}))
        .await;
    for client in clients.iter_mut() {
        client.expect_event("story_changed").await;
    }

    // alice opens a second socket: it gets the story, then the participants, alone.
    let mut second = server.connect(session.id, &alice).await;
    assert_story(&second.expect_event("story_changed").await, story);
    let data = second.expect_event("participants_changed").await;
    assert_participants(&data, &[&alice, &bob]);
    second.expect_silence().await;
    for client in clients.iter_mut() {
        client.expect_silence().await;
    }

    // Both of alice's sockets receive what goes to all.
    clients[1].send_event("reset_requested", json!({})).await;
    for client in clients.iter_mut().chain(std::iter::once(&mut second)) {
        assert_story(&client.expect_event("story_changed").await, story);
    }
}

async fn closing_one_of_two_sockets_of_a_user_sends_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Moderator).await;
    let session = server.create_session("Presence", &[("P-1", "one")]).await;
    let mut clients = server.join_all(session.id, &[&alice, &bob], None).await;
    let mut second = server.connect(session.id, &alice).await;
    second.expect_event("participants_changed").await;

    second.close().await;
    for client in clients.iter_mut() {
        client.expect_silence().await;
    }

    // alice is still a participant (once), as the next join shows everybody.
    let carol = server.create_user("carol", Rights::Spectator).await;
    let mut c = server.connect(session.id, &carol).await;
    assert_participants(
        &c.expect_event("participants_changed").await,
        &[&alice, &bob, &carol],
    );
    for client in clients.iter_mut() {
        assert_participants(
            &client.expect_event("participants_changed").await,
            &[&alice, &bob, &carol],
        );
    }
}

async fn closing_the_last_socket_of_a_user_sends_participants_changed_to_all(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Moderator).await;
    let carol = server.create_user("carol", Rights::Spectator).await;
    let session = server.create_session("Presence", &[("P-1", "one")]).await;
    let mut clients = server
        .join_all(session.id, &[&alice, &bob, &carol], None)
        .await;
    let mut second = server.connect(session.id, &alice).await;
    second.expect_event("participants_changed").await;

    second.close().await;
    let first = clients.remove(0);
    first.close().await;
    for client in clients.iter_mut() {
        assert_participants(
            &client.expect_event("participants_changed").await,
            &[&bob, &carol],
        );
        client.expect_silence().await;
    }
}

async fn heartbeats_keep_a_socket_alive_without_pongs(backend: Backend) {
    let server = Server::start_with(backend, short_timeout()).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Moderator).await;
    let session = server.create_session("Liveness", &[("L-1", "one")]).await;
    let mut clients = server.join_all(session.id, &[&alice, &bob], None).await;
    let [a, b] = &mut clients[..] else {
        unreachable!("two clients")
    };

    // alice only writes heartbeats (never reads, so never answers a ping) for 3 s; bob keeps
    // himself alive and sees nobody leave.
    tokio::join!(
        a.heartbeats_only(Duration::from_secs(3)),
        b.expect_silence_with_heartbeats(Duration::from_secs(3)),
    );

    // alice's socket is still open and answers.
    a.send_event("no_such_event", json!({})).await;
    a.expect_error("unknown_event").await;
}

async fn pongs_keep_a_reading_socket_alive_without_heartbeats(backend: Backend) {
    let server = Server::start_with(backend, short_timeout()).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Moderator).await;
    let session = server.create_session("Liveness", &[("L-1", "one")]).await;
    let mut clients = server.join_all(session.id, &[&alice, &bob], None).await;
    let [a, b] = &mut clients[..] else {
        unreachable!("two clients")
    };

    // alice sends no frame of her own, but keeps reading, so the client answers every ping.
    tokio::join!(
        a.expect_silence_for(Duration::from_secs(3)),
        b.expect_silence_with_heartbeats(Duration::from_secs(3)),
    );

    a.send_event("no_such_event", json!({})).await;
    a.expect_error("unknown_event").await;
}

async fn silent_socket_is_closed_after_the_client_timeout(backend: Backend) {
    let server = Server::start_with(backend, short_timeout()).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Moderator).await;
    let session = server.create_session("Liveness", &[("L-1", "one")]).await;
    let mut clients = server.join_all(session.id, &[&bob, &alice], None).await;
    let [b, a] = &mut clients[..] else {
        unreachable!("two clients")
    };

    // alice's socket is neither read nor written: no frame, no pong. The server drops it and
    // bob (who keeps himself alive) sees her leave.
    let data = b
        .expect_event_with_heartbeats("participants_changed", Duration::from_secs(15))
        .await;
    assert_participants(&data, &[&bob]);
    a.expect_closed_by_server_within(Duration::from_secs(5))
        .await;
}
