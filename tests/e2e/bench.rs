//! poker-bench end to end against the real server: short runs of its scenarios, checking that
//! every vote is accounted for and persisted (no timing is asserted).

use poker_bench::scenarios::{cluster, fanout, idle, join_storm};
use poker_bench::target::Target;

use crate::support::{Backend, Server, ADMIN_PASSWORD};

both_backends!(short_bench_runs_account_for_every_vote);

/// The bench runs of this file take turns: each loads the two cores with servers and clients,
/// and one beside another would measure the other's load (votes slower than their interval).
static ONE_BENCH_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `poker-bench cluster` for a few seconds: both phases of a run (one process, two), every vote
/// delivered to every member on both processes, and a presence convergence after `kill -9`
/// within the client timeout (plus slack). No latency is asserted.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(postgres_tests, redis_tests)),
    ignore = "TEST_DATABASE_URL and TEST_REDIS_URL not both set: the cluster scenario needs \
              PostgreSQL and Redis"
)]
async fn a_short_cluster_run_measures_both_phases_and_presence() {
    let _alone = ONE_BENCH_AT_A_TIME.lock().await;
    let setup = cluster::Setup {
        binary: env!("CARGO_BIN_EXE_planning-poker").into(),
        database_url: std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL at run time, e.g. postgres://postgres@127.0.0.1:5432/test"),
        redis_url: std::env::var("TEST_REDIS_URL")
            .expect("TEST_REDIS_URL at run time, e.g. redis://127.0.0.1:6379/"),
        admin_password: ADMIN_PASSWORD.to_string(),
    };
    let config = cluster::Config {
        sessions: 3,
        participants: 4,
        interval_ms: 400,
        duration_secs: 2,
        runs: 1,
        client_timeout_secs: 3,
        jitter: 0.25,
        moderator_votes: true,
        without_redis_phase: false,
    };
    let outcome = cluster::run(&setup, &config)
        .await
        .unwrap_or_else(|e| panic!("cluster runs: {e:#}"));
    cluster::print(&config, &outcome);
    let run = &outcome.runs[0];
    let names: Vec<&str> = run.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["one process + Redis", "two processes + Redis"],
        "both phases ran"
    );
    for phase in &run.phases {
        let voting = &phase.voting;
        // 3 sessions × 4 voters (the moderator votes too) × ~5 rounds.
        assert!(voting.votes_sent >= 40, "{}: {voting:?}", phase.name);
        assert!(voting.votes_delivered > 0, "{}: {voting:?}", phase.name);
        // How many votes are overtaken by the voter's next one (slower than the interval) is a
        // matter of speed, which the benchmark measures and tests do not: on a loaded machine
        // running a debug build it varies. What must hold is that none is lost.
        assert_eq!(
            voting.votes_undelivered, voting.votes_superseded,
            "{}: nothing lost: each vote reached every member or was overtaken: {voting:?}",
            phase.name
        );
        assert_eq!(voting.errors, 0, "{}: no error frames", phase.name);
        assert!(
            voting.per_recipient.count >= voting.votes_delivered * 4,
            "{}: each delivered vote measured at each of the 4 members",
            phase.name
        );
        assert_eq!(
            phase.persisted,
            (12, 12),
            "{}: last votes stored",
            phase.name
        );
        assert!(phase.server_cpu_secs.is_some(), "{}: CPU read", phase.name);
    }
    assert!(run.ratios.whole_session_p99.is_some());
    let presence = &run.presence;
    assert_eq!(
        (
            presence.converged,
            presence.exact,
            presence.survivors_closed
        ),
        (3, 3, 0),
        "every session's survivors saw exactly the killed members leave: {presence:?}"
    );
    let slowest = presence.per_session.expect("a convergence figure").max;
    assert!(
        slowest <= 3_000.0 + 2_000.0,
        "a killed process's members leave within the client timeout (3 s) + slack: {presence:?}"
    );
}

async fn short_bench_runs_account_for_every_vote(backend: Backend) {
    let _alone = ONE_BENCH_AT_A_TIME.lock().await;
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
    // Every vote reached every member, or (on a loaded machine, slower than the 250 ms between
    // two votes of one voter) was replaced by that voter's next vote, which did: none is lost.
    assert_eq!(
        voting.votes_undelivered, voting.votes_superseded,
        "no vote lost: {voting:?}"
    );
    assert_eq!(
        voting.votes_delivered + voting.votes_superseded,
        voting.votes_sent,
        "every vote accounted for: {voting:?}"
    );
    assert_eq!(voting.errors, 0);
    assert!(
        voting.per_recipient.count >= voting.votes_delivered * 3
            && voting.per_recipient.count <= voting.votes_sent * 3,
        "each delivered vote measured at each of the 3 members: {voting:?}"
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
