//! poker-bench end to end against the real server: short runs of its scenarios, checking that
//! every vote is accounted for and persisted (no timing is asserted).

use poker_bench::scenarios::{fanout, idle, join_storm};
use poker_bench::target::Target;

use crate::support::{Backend, Server, ADMIN_PASSWORD};

both_backends!(short_bench_runs_account_for_every_vote);

async fn short_bench_runs_account_for_every_vote(backend: Backend) {
    let server = Server::start(backend).await;
    let target = Target::server(&server.base_url(), ADMIN_PASSWORD)
        .await
        .expect("the bench logs in as admin");

    let config = fanout::Config {
        sessions: 2,
        participants: 3,
        interval_ms: 250,
        duration_secs: 2,
    };
    let outcome = fanout::run(&target, &config, || None, || None)
        .await
        .expect("fanout runs");
    let voting = &outcome.voting;
    assert!(
        voting.votes_sent >= 8,
        "2 sessions × 2 voters × ~8 rounds: {voting:?}"
    );
    assert_eq!(
        voting.votes_delivered, voting.votes_sent,
        "every vote reached every member: {voting:?}"
    );
    assert_eq!(voting.votes_undelivered, 0);
    assert_eq!(voting.errors, 0);
    assert_eq!(
        voting.per_recipient.count,
        voting.votes_sent * 3,
        "each vote measured at each of the 3 members"
    );
    assert_eq!(
        outcome.persisted,
        Some((4, 4)),
        "each voter's last vote is stored"
    );

    let config = join_storm::Config {
        users: vec![6],
        timeout_secs: 20,
    };
    let outcome = join_storm::run(&target, &config)
        .await
        .expect("join-storm runs");
    assert_eq!(
        outcome.storms[0].incomplete_clients, 0,
        "everyone saw the full participants list"
    );

    let config = idle::Config {
        connections: 12,
        participants: 4,
        probe_sessions: 1,
        probe_secs: 1,
    };
    let outcome = idle::run(&target, &config, || None)
        .await
        .expect("idle runs");
    assert_eq!(outcome.connect_time.count, 12);
    assert_eq!(outcome.still_open, 12, "no idle connection was dropped");
    assert_eq!(outcome.probe.votes_delivered, outcome.probe.votes_sent);
}
