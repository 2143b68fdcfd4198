//! Rights on the socket: every client event × voter only, moderator only, both, spectator. A
//! missing right gives the sender one `forbidden` error, changes nothing, and the socket stays
//! usable.

use serde_json::{json, Value};

use crate::support::{
    assert_story, assert_votes, Backend, Rights, Server, TestSession, TestUser, WsClient,
};

both_backends!(
    voter_is_forbidden_reset_points_and_next_story,
    moderator_without_vote_right_is_forbidden_to_vote,
    spectator_is_forbidden_every_event_that_needs_a_right,
    voter_and_moderator_may_send_every_event,
    heartbeat_needs_no_right,
);

/// Index of each role in [`Room::clients`].
const VOTER: usize = 0;
const MODERATOR: usize = 1;
const BOTH: usize = 2;
const SPECTATOR: usize = 3;

/// One user per role, all connected to a session of three stories whose first one is active.
struct Room {
    server: Server,
    session: TestSession,
    users: Vec<TestUser>,
    clients: Vec<WsClient>,
}

async fn room(backend: Backend) -> Room {
    let server = Server::start(backend).await;
    let users = vec![
        server.create_user("voter", Rights::Voter).await,
        server.create_user("moderator", Rights::Moderator).await,
        server.create_user("both", Rights::VoterModerator).await,
        server.create_user("spectator", Rights::Spectator).await,
    ];
    let session = server
        .create_session(
            "Rights",
            &[("R-1", "one"), ("R-2", "two"), ("R-3", "three")],
        )
        .await;
    let refs: Vec<&TestUser> = users.iter().collect();
    let mut clients = server.join_all(session.id, &refs, None).await;
    clients[MODERATOR]
        .send_event(
            "next_story_requested",
            json!({"story_id": session.stories[0].id}),
        )
        .await;
    for client in clients.iter_mut() {
        assert_story(
            &client.expect_event("story_changed").await,
            &session.stories[0],
        );
    }
    Room {
        server,
        session,
        users,
        clients,
    }
}

impl Room {
    /// `sender` sends a well-formed event it has no right for: it alone gets one `forbidden`
    /// error, nobody else gets anything, and its socket still answers afterwards.
    async fn assert_forbidden(&mut self, sender: usize, event: &str, data: Value) {
        self.clients[sender].send_event(event, data.clone()).await;
        self.clients[sender].expect_error("forbidden").await;
        // The socket still works, and nothing came between the error and the next answer.
        self.clients[sender]
            .send_event("heartbeat", json!({}))
            .await;
        self.clients[sender]
            .send_event("no_such_event", json!({}))
            .await;
        self.clients[sender].expect_error("unknown_event").await;
        let others = self
            .clients
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| *i != sender)
            .map(|(_, c)| c.expect_silence());
        futures_util::future::join_all(others).await;
    }

    /// Nothing changed: the first story is still active and no story has points.
    async fn assert_unchanged(&self) {
        assert_eq!(
            self.server.active_story_id(self.session.id).await,
            Some(self.session.stories[0].id),
            "the active story did not change"
        );
        for story in self.server.stories(self.session.id).await {
            assert_eq!(
                story["story_points"],
                Value::Null,
                "no points were set: {story}"
            );
        }
    }

    /// Everybody receives one `story_changed`; returns their data in client order.
    async fn expect_story_changed(&mut self) -> Vec<Value> {
        let mut all = Vec::new();
        for client in self.clients.iter_mut() {
            all.push(client.expect_event("story_changed").await);
        }
        all
    }
}

fn moderator_events(room: &Room) -> Vec<(&'static str, Value)> {
    vec![
        ("reset_requested", json!({})),
        ("points_submitted", json!({"story_points": "5"})),
        (
            "next_story_requested",
            json!({"story_id": room.session.stories[1].id}),
        ),
        ("next_story_requested", json!({"story_id": null})),
    ]
}

async fn voter_is_forbidden_reset_points_and_next_story(backend: Backend) {
    let mut room = room(backend).await;
    for (event, data) in moderator_events(&room) {
        room.assert_forbidden(VOTER, event, data).await;
    }
    room.assert_unchanged().await;

    // What the voter may do still works.
    room.clients[VOTER]
        .send_event("vote_submitted", json!({"choice": "3"}))
        .await;
    let views = room.expect_story_changed().await;
    let voter = room.users[VOTER].clone();
    assert_votes(&views[MODERATOR], json!({"3": [voter.voter()]}), &[&voter]);
}

async fn moderator_without_vote_right_is_forbidden_to_vote(backend: Backend) {
    let mut room = room(backend).await;
    room.assert_forbidden(MODERATOR, "vote_submitted", json!({"choice": "3"}))
        .await;
    room.assert_unchanged().await;

    // The refused vote was not recorded: the next vote is the only one.
    room.clients[VOTER]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    let views = room.expect_story_changed().await;
    let voter = room.users[VOTER].clone();
    assert_votes(&views[MODERATOR], json!({"5": [voter.voter()]}), &[&voter]);

    // What the moderator may do still works: reset, points, next story.
    room.clients[MODERATOR]
        .send_event("reset_requested", json!({}))
        .await;
    for data in room.expect_story_changed().await {
        assert_votes(&data, json!({}), &[]);
    }
    room.clients[MODERATOR]
        .send_event("points_submitted", json!({"story_points": 8}))
        .await;
    for client in room.clients.iter_mut() {
        assert_eq!(
            client.expect_event("story_points_submitted").await,
            json!({"story_points": 8})
        );
        client.expect_event("stories_changed").await;
    }
    room.clients[MODERATOR]
        .send_event(
            "next_story_requested",
            json!({"story_id": room.session.stories[1].id}),
        )
        .await;
    for data in room.expect_story_changed().await {
        assert_story(&data, &room.session.stories[1]);
    }
}

async fn spectator_is_forbidden_every_event_that_needs_a_right(backend: Backend) {
    let mut room = room(backend).await;
    room.assert_forbidden(SPECTATOR, "vote_submitted", json!({"choice": "3"}))
        .await;
    for (event, data) in moderator_events(&room) {
        room.assert_forbidden(SPECTATOR, event, data).await;
    }
    room.assert_unchanged().await;

    // No vote was recorded either: the next vote is the only one.
    room.clients[VOTER]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    let views = room.expect_story_changed().await;
    let voter = room.users[VOTER].clone();
    assert_votes(&views[SPECTATOR], json!({"5": [voter.voter()]}), &[&voter]);
}

async fn voter_and_moderator_may_send_every_event(backend: Backend) {
    let mut room = room(backend).await;
    let both = room.users[BOTH].clone();
    let stories = room.session.stories.clone();

    room.clients[BOTH]
        .send_event("vote_submitted", json!({"choice": "8"}))
        .await;
    let views = room.expect_story_changed().await;
    assert_votes(&views[BOTH], json!({"8": [both.voter()]}), &[&both]);

    room.clients[BOTH]
        .send_event("reset_requested", json!({}))
        .await;
    for data in room.expect_story_changed().await {
        assert_votes(&data, json!({}), &[]);
    }

    room.clients[BOTH]
        .send_event("points_submitted", json!({"story_points": "3"}))
        .await;
    for client in room.clients.iter_mut() {
        assert_eq!(
            client.expect_event("story_points_submitted").await,
            json!({"story_points": 3})
        );
        client.expect_event("stories_changed").await;
    }

    room.clients[BOTH]
        .send_event("next_story_requested", json!({"story_id": null}))
        .await;
    for data in room.expect_story_changed().await {
        assert_story(&data, &stories[1]);
    }

    room.clients[BOTH]
        .send_event("next_story_requested", json!({"story_id": stories[2].id}))
        .await;
    for data in room.expect_story_changed().await {
        assert_story(&data, &stories[2]);
    }

    room.clients[BOTH].send_event("heartbeat", json!({})).await;
    futures_util::future::join_all(room.clients.iter_mut().map(|c| c.expect_silence())).await;
}

async fn heartbeat_needs_no_right(backend: Backend) {
    let mut room = room(backend).await;
    for sender in [VOTER, MODERATOR, BOTH, SPECTATOR] {
        room.clients[sender]
            .send_event("heartbeat", json!({}))
            .await;
        // `data` may be omitted where it would be empty.
        room.clients[sender]
            .send_text(json!({"event": "heartbeat"}).to_string())
            .await;
    }
    // Nobody gets an answer to a heartbeat.
    futures_util::future::join_all(room.clients.iter_mut().map(|c| c.expect_silence())).await;
    room.assert_unchanged().await;
}
