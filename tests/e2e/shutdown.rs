//! Stopping the server for real: SIGTERM (and SIGINT) closes every socket with 1001 and exits
//! within 10 s, and the next process shows the same state; SIGKILL under load loses no vote that
//! any client saw.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{start_story, Backend, Rights, Server, TestUser, WsClient};

both_backends!(
    sigterm_closes_every_socket_with_1001_and_the_next_process_has_the_same_state,
    sigint_stops_the_server_like_sigterm,
    sigkill_under_load_loses_no_vote_that_anyone_saw,
);

async fn stop_gracefully(signal: &str, backend: Backend) {
    let mut server = Server::start(backend).await;
    let moderator = server.create_user("mo", Rights::Moderator).await;
    let voters = server.create_users("v", 3, Rights::Voter).await;
    let session = server
        .create_session("Stop", &[("S-1", "one"), ("S-2", "two")])
        .await;
    let mut users: Vec<&TestUser> = vec![&moderator];
    users.extend(voters.iter());
    let mut clients = server.join_all(session.id, &users, None).await;
    start_story(&mut clients, 0, session.stories[1].id).await;
    for (i, choice) in [(1, "3"), (2, "5")] {
        clients[i]
            .send_event("vote_submitted", json!({ "choice": choice }))
            .await;
        for client in clients.iter_mut() {
            client.expect_event("story_changed").await;
        }
    }
    // One more vote goes out just before the signal: it is either answered and stored, or
    // never announced; never announced and lost.
    clients[3]
        .send_event("vote_submitted", json!({"choice": "8"}))
        .await;
    let signalled = Instant::now();
    server.signal(signal);

    for client in clients.iter_mut() {
        let code = loop {
            match client.next_message_or_close(Duration::from_secs(10)).await {
                Closing::Frame(frame) => assert_eq!(
                    frame["event"], "story_changed",
                    "only the last vote's frame may come before the close: {frame}"
                ),
                Closing::Closed(code) => break code,
            }
        };
        assert_eq!(
            code,
            Some(1001),
            "{}: closed with 1001 (going away)",
            client.name
        );
    }
    let status = server.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "a clean exit: {status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "stopped within 10 s ({:?})",
        signalled.elapsed()
    );

    server.start_again().await;
    let mut moderator = moderator;
    moderator.token = server.new_token(&moderator).await;
    let mut again = server.connect(session.id, &moderator).await;
    let data = again.expect_event("story_changed").await;
    assert_eq!(
        data["id"],
        json!(session.stories[1].id),
        "the same active story"
    );
    let names: Vec<&str> = data["voters"]
        .as_array()
        .expect("voters")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(
        names.starts_with(&["v0", "v1"]),
        "the votes before the signal are there: {data}"
    );
}

async fn sigterm_closes_every_socket_with_1001_and_the_next_process_has_the_same_state(
    backend: Backend,
) {
    stop_gracefully("TERM", backend).await;
}

async fn sigint_stops_the_server_like_sigterm(backend: Backend) {
    stop_gracefully("INT", backend).await;
}

/// What a socket yields while the server stops.
enum Closing {
    Frame(Value),
    Closed(Option<u16>),
}

trait NextOrClose {
    async fn next_message_or_close(&mut self, within: Duration) -> Closing;
}

impl NextOrClose for WsClient {
    async fn next_message_or_close(&mut self, within: Duration) -> Closing {
        match self.next_raw(within).await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(close))) => {
                Closing::Closed(close.map(|c| u16::from(c.code)))
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                Closing::Frame(serde_json::from_str(text.as_str()).expect("frames are JSON"))
            }
            Some(Ok(other)) => panic!("{}: unexpected {other:?}", self.name),
            Some(Err(e)) => panic!("{}: the socket failed instead of closing: {e}", self.name),
            None => panic!("{}: not closed within {within:?}", self.name),
        }
    }
}

/// How many voters vote at once, and for how long, before the kill.
const VOTERS: usize = 30;
const LOAD: Duration = Duration::from_millis(2500);

/// The deck's options, voted round and round: consecutive votes of a voter always differ.
const CHOICES: [&str; 8] = ["1", "2", "3", "5", "8", "13", "21", "34"];

async fn sigkill_under_load_loses_no_vote_that_anyone_saw(backend: Backend) {
    let mut server = Server::start(backend).await;
    let moderator = server.create_user("mo", Rights::Moderator).await;
    let voters = server.create_users("load", VOTERS, Rights::Voter).await;
    // Two sessions, so that several run at once.
    let mut sessions = Vec::new();
    for name in ["Kill A", "Kill B"] {
        let session = server.create_session(name, &[("K-1", "one")]).await;
        let mut m = server.connect(session.id, &moderator).await;
        m.expect_event("participants_changed").await;
        m.send_event(
            "next_story_requested",
            json!({"story_id": session.stories[0].id}),
        )
        .await;
        m.expect_event("story_changed").await;
        sessions.push((session, m));
    }

    // Each voter votes in a closed loop (the next vote once the last one is announced to it),
    // paced by the harness at 10 frames a second: up to 300 votes a second in all. Each
    // records what it sent and the last choice of its own that any story_changed showed it.
    let stop_at = Instant::now() + LOAD;
    let tasks: Vec<_> = voters
        .iter()
        .enumerate()
        .map(|(i, voter)| {
            let session_id = sessions[i % 2].0.id;
            let request = crate::support::with_bearer(
                server.ws_request(&server.ws_url(session_id)),
                &voter.token,
            );
            let name = voter.username.clone();
            tokio::spawn(async move {
                let mut ws = WsClient::connect(request, &name).await.expect("connect");
                let mut sent: Vec<&'static str> = Vec::new();
                let mut acked: Option<usize> = None;
                let mut n = i;
                while Instant::now() < stop_at {
                    let choice = CHOICES[n % CHOICES.len()];
                    n += 1;
                    ws.send_event("vote_submitted", json!({ "choice": choice }))
                        .await;
                    sent.push(choice);
                    // Wait for the frame showing this vote (others' frames come too).
                    let deadline = Instant::now() + Duration::from_secs(5);
                    loop {
                        let Some(frame) = ws.frame_within(Duration::from_millis(500)).await else {
                            assert!(Instant::now() < deadline, "{name}: the vote is announced");
                            continue;
                        };
                        if frame["event"] != "story_changed" {
                            continue;
                        }
                        let mine = frame["data"]["votes"][choice]
                            .as_array()
                            .is_some_and(|v| v.iter().any(|u| u["name"] == name.as_str()));
                        if mine {
                            acked = Some(sent.len() - 1);
                            break;
                        }
                    }
                }
                // One more vote, not waited for: it may or may not be committed at the kill.
                let choice = CHOICES[n % CHOICES.len()];
                ws.send_event("vote_submitted", json!({ "choice": choice }))
                    .await;
                sent.push(choice);
                (name, session_id, sent, acked, ws)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("a voter task"));
    }
    let votes_sent: usize = results.iter().map(|r| r.2.len()).sum();
    eprintln!(
        "{votes_sent} votes in {LOAD:?} ({:.0}/s)",
        votes_sent as f64 / LOAD.as_secs_f64()
    );
    assert!(votes_sent > VOTERS * 5, "a real load: {votes_sent} votes");

    // SIGKILL while the last votes are in flight.
    server.restart().await;

    let mut moderator = moderator;
    moderator.token = server.new_token(&moderator).await;
    let mut stored: HashMap<String, String> = HashMap::new();
    for (session, _) in &sessions {
        let mut m = server.connect(session.id, &moderator).await;
        let data = m.expect_event("story_changed").await;
        assert_eq!(
            data["id"],
            json!(session.stories[0].id),
            "the same active story"
        );
        for (choice, voters) in data["votes"].as_object().expect("votes") {
            for voter in voters.as_array().expect("a list of voters") {
                let name = voter["name"].as_str().expect("a name").to_string();
                assert!(
                    stored.insert(name.clone(), choice.clone()).is_none(),
                    "{name} has one vote"
                );
            }
        }
    }
    for (name, _, sent, acked, _) in &results {
        let acked = acked.unwrap_or_else(|| panic!("{name} saw at least one vote of theirs"));
        let stored = stored
            .get(name)
            .unwrap_or_else(|| panic!("{name}'s vote, seen before the kill, was kept"));
        // The last vote announced, or one sent after it (committed but not yet announced).
        assert!(
            sent[acked..].iter().any(|c| c == stored),
            "{name}: stored {stored}, but the last vote announced was {} (sent after it: {:?})",
            sent[acked],
            &sent[acked + 1..]
        );
    }
}
