//! Many people joining at once: everyone ends up with the full participants list, and the
//! `participants_changed` frames stay far below one broadcast per join (N(N+1)/2 frames).

use std::time::Duration;

use futures_util::future::join_all;

use crate::support::{Backend, Rights, Server, WsClient};

both_backends!(everyone_joining_at_once_gets_the_full_list_without_a_frame_per_join);

const USERS: usize = 50;

/// Reads frames until a `participants_changed` lists everyone; returns how many such frames came.
async fn frames_until_complete(mut client: WsClient) -> usize {
    let mut seen = 0;
    loop {
        let frame = client.next_frame_within(Duration::from_secs(20)).await;
        if frame["event"] == "participants_changed" {
            seen += 1;
            if frame["data"]["participants"].as_array().map(Vec::len) == Some(USERS) {
                return seen;
            }
        }
    }
}

async fn everyone_joining_at_once_gets_the_full_list_without_a_frame_per_join(backend: Backend) {
    let server = Server::start(backend).await;
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(
            server
                .create_user(&format!("storm-{i:02}"), Rights::Voter)
                .await,
        );
    }
    let session = server.create_session("storm", &[("S-1", "")]).await;
    let clients = join_all(users.iter().map(|u| server.connect(session.id, u))).await;
    let counts = join_all(clients.into_iter().map(frames_until_complete)).await;
    let total: usize = counts.iter().sum();
    let one_per_join = USERS * (USERS + 1) / 2;
    assert!(
        total <= one_per_join / 2,
        "{total} participants_changed frames for {USERS} joins; one broadcast per join would be {one_per_join}"
    );
}
