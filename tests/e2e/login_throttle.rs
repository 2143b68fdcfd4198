//! Hostile logins: wrong passwords are throttled per username and per client address (429 with
//! `Retry-After`) without slowing anyone else, and a flood of logins is refused quickly (429 or
//! 503) instead of queueing argon2 work, while the server keeps answering.
//!
//! Clients bind their own loopback address (all of 127.0.0.0/8 is loopback on Linux), so one
//! test can be an attacker at 127.0.0.2 and a colleague at 127.0.0.1.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Backend, Rights, Server};

both_backends!(
    wrong_passwords_for_one_username_get_429_while_others_log_in_at_full_speed,
    wrong_passwords_from_one_address_get_429_for_every_username_from_it,
    a_login_flood_is_refused_quickly_and_the_server_stays_responsive,
);

/// What one login attempt got.
#[derive(Debug)]
struct Outcome {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
    took: Duration,
}

/// A client whose connections come from `address`.
fn client_from(address: &str) -> reqwest::Client {
    let address: IpAddr = address.parse().expect("a loopback address");
    reqwest::Client::builder()
        .no_proxy()
        .local_address(address)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("build a client with a local address")
}

async fn login(
    client: &reqwest::Client,
    server: &Server,
    username: &str,
    password: &str,
) -> Outcome {
    let started = Instant::now();
    let response = client
        .post(format!("{}/api/auth/login", server.base_url()))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("log in as {username}: the request failed: {e}"));
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("Retry-After is whole seconds: {v:?}"))
        });
    let body = response.json().await.unwrap_or(Value::Null);
    Outcome {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

fn assert_throttled(outcome: &Outcome, what: &str) {
    assert_eq!(outcome.status, 429, "{what}: {outcome:?}");
    assert_eq!(
        outcome.body["error"]["code"], "too_many_attempts",
        "{what}: {outcome:?}"
    );
    let retry_after = outcome
        .retry_after
        .unwrap_or_else(|| panic!("{what}: a 429 carries Retry-After: {outcome:?}"));
    assert!(
        (1..=900).contains(&retry_after),
        "{what}: Retry-After {retry_after}"
    );
}

async fn wrong_passwords_for_one_username_get_429_while_others_log_in_at_full_speed(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;

    let attacker = client_from("127.0.0.2");
    let colleague = client_from("127.0.0.1");
    let attack = async {
        let mut outcomes = Vec::new();
        for i in 0..20 {
            outcomes.push(login(&attacker, &server, "alice", &format!("guess-{i}")).await);
        }
        outcomes
    };
    let work = async {
        let mut outcomes = Vec::new();
        for _ in 0..10 {
            outcomes.push(login(&colleague, &server, "bob", &bob.password).await);
        }
        outcomes
    };
    let (attack, work) = tokio::join!(attack, work);

    // The first five are checked (and wrong); then every attempt is refused unchecked.
    for (i, outcome) in attack.iter().enumerate() {
        if i < 5 {
            assert_eq!(outcome.status, 401, "guess {i}: {outcome:?}");
        } else {
            assert_throttled(outcome, &format!("guess {i}"));
            assert!(
                outcome.took < Duration::from_millis(500),
                "a refused guess costs no argon2: {outcome:?}"
            );
        }
    }
    assert!(
        attack[5].retry_after.is_some_and(|s| s > 20),
        "{:?}",
        attack[5]
    );
    for (i, outcome) in work.iter().enumerate() {
        assert_eq!(
            outcome.status, 200,
            "bob's login {i} during the attack: {outcome:?}"
        );
        assert!(
            outcome.took < Duration::from_secs(2),
            "bob's login {i} is not slowed: {outcome:?}"
        );
    }

    // The lock is the username's: alice herself, from another address and with the right
    // password, waits too (README: "Hostile clients").
    let elsewhere = client_from("127.0.0.4");
    let outcome = login(&elsewhere, &server, "alice", &alice.password).await;
    assert_throttled(&outcome, "alice's right password while her name is locked");
    // Everyone else is unaffected, the attacker's address included (5 failures are far below
    // its own threshold).
    let outcome = login(&attacker, &server, "bob", &bob.password).await;
    assert_eq!(
        outcome.status, 200,
        "bob from the attacker's address: {outcome:?}"
    );
}

async fn wrong_passwords_from_one_address_get_429_for_every_username_from_it(backend: Backend) {
    let server = Server::start(backend).await;
    let bob = server.create_user("bob", Rights::Voter).await;

    let attacker = client_from("127.0.0.3");
    let mut outcomes = Vec::new();
    for i in 0..35 {
        // A fresh username each time, mostly unknown ones: the per-username rule never fires.
        let name = if i == 7 {
            "bob".to_string()
        } else {
            format!("nobody-{i}")
        };
        outcomes.push(login(&attacker, &server, &name, "wrong").await);
    }
    for (i, outcome) in outcomes.iter().enumerate() {
        if i < 30 {
            assert_eq!(outcome.status, 401, "attempt {i}: {outcome:?}");
        } else {
            assert_throttled(outcome, &format!("attempt {i} from a noisy address"));
        }
    }
    // From that address even a right password waits; from another it works at once.
    let outcome = login(&attacker, &server, "bob", &bob.password).await;
    assert_throttled(&outcome, "bob from the locked address");
    let outcome = login(&client_from("127.0.0.1"), &server, "bob", &bob.password).await;
    assert_eq!(outcome.status, 200, "bob from elsewhere: {outcome:?}");
}

async fn a_login_flood_is_refused_quickly_and_the_server_stays_responsive(backend: Backend) {
    let server = Server::start(backend).await;
    let bob = server.create_user("bob", Rights::Voter).await;

    // 300 logins at once from 30 addresses, each a different (unknown) name: the per-username
    // and per-address thresholds barely apply, so it is the bound on waiting argon2 work that
    // must refuse most of them, at once.
    let clients: Vec<reqwest::Client> = (0..30)
        .map(|i| client_from(&format!("127.0.1.{}", i + 1)))
        .collect();
    let started = Instant::now();
    let flood = futures_util::future::join_all((0..300).map(|i| {
        let client = &clients[i % clients.len()];
        let server = &server;
        async move { login(client, server, &format!("flood-{i}"), "wrong").await }
    }));
    let health = async {
        // Meanwhile the operations endpoint answers fast.
        let client = client_from("127.0.0.1");
        let mut slowest = Duration::ZERO;
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..20 {
            let asked = Instant::now();
            let status = client
                .get(format!("{}/healthz", server.base_url()))
                .send()
                .await
                .expect("GET /healthz during the flood")
                .status();
            assert_eq!(status, 200);
            slowest = slowest.max(asked.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        slowest
    };
    let (outcomes, slowest_health) = tokio::join!(flood, health);
    let took = started.elapsed();

    let count = |status: u16| outcomes.iter().filter(|o| o.status == status).count();
    let (checked, throttled, busy) = (count(401), count(429), count(503));
    assert_eq!(
        checked + throttled + busy,
        300,
        "every flood login is 401, 429 or 503: {:?}",
        outcomes
            .iter()
            .find(|o| ![401, 429, 503].contains(&o.status))
    );
    assert!(
        busy > 0,
        "the argon2 queue is bounded: {checked} checked, {throttled} throttled"
    );
    assert!(
        checked <= 200,
        "most of the flood is refused unchecked: {checked} checked"
    );
    for outcome in outcomes.iter().filter(|o| o.status == 503) {
        assert_eq!(outcome.body["error"]["code"], "unavailable", "{outcome:?}");
        assert_eq!(outcome.retry_after, Some(1), "{outcome:?}");
    }
    assert!(
        took < Duration::from_secs(20),
        "the flood is answered in seconds, not minutes: {took:?}"
    );
    assert!(
        slowest_health < Duration::from_secs(1),
        "/healthz stays fast during the flood: {slowest_health:?}"
    );

    // Afterwards logins work as usual.
    let outcome = login(&client_from("127.0.0.1"), &server, "bob", &bob.password).await;
    assert_eq!(outcome.status, 200, "bob after the flood: {outcome:?}");
}
