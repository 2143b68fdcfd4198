//! poker-bench end to end against the real server: short runs of its scenarios, checking that
//! every vote is accounted for and persisted (no timing is asserted).

use poker_bench::runner::{self, BaselineLaunch, Scenario, Setup};
use poker_bench::scenarios::{cluster, fanout, idle, join_storm, logins, ramp, rest_under_load};
use poker_bench::target::{Kind, Target};

use crate::support::{Backend, Server, ADMIN_PASSWORD};

both_backends!(
    short_bench_runs_account_for_every_vote,
    paired_runs_with_voting_moderators_account_for_every_vote,
    rest_under_load_reads_sessions_without_errors,
    logins_report_the_servers_memory
);

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
        jitter: 0.0,
        moderator_votes: false,
        rest_rate: 0.0,
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

/// What the paired runs start: the baseline on a thread of this process (the bench binary is
/// not built for these tests), the real server as `poker-bench` starts it: on a fresh SQLite
/// file, or on PostgreSQL on a fresh database created through `TEST_DATABASE_URL` (the
/// `--database-url` path) for every start.
fn setup(backend: Backend) -> Setup {
    Setup {
        kinds: vec![Kind::Baseline, Kind::Server],
        server_bin: env!("CARGO_BIN_EXE_planning-poker").into(),
        server_url: None,
        server_pid: None,
        admin_password: ADMIN_PASSWORD.to_string(),
        database_url: match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(std::env::var("TEST_DATABASE_URL").expect(
                "TEST_DATABASE_URL at run time, e.g. postgres://postgres@127.0.0.1:5432/test",
            )),
        },
        baseline: BaselineLaunch::InThread,
    }
}

/// On PostgreSQL, every server start ran on a database of its own, and none is left.
async fn assert_databases_dropped(backend: Backend, report: &runner::Report) {
    let names: Vec<Option<String>> = report
        .runs
        .iter()
        .map(|r| r.server_database.clone())
        .collect();
    if backend == Backend::Sqlite {
        assert!(
            names.iter().all(Option::is_none),
            "no PostgreSQL database on SQLite"
        );
        return;
    }
    let names: Vec<String> = names
        .into_iter()
        .map(|n| n.expect("each server start had a fresh database"))
        .collect();
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        names.len(),
        "a database per start: {names:?}"
    );
    let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    for name in names {
        let url = admin_url.clone();
        let exists = tokio::task::spawn_blocking({
            let name = name.clone();
            move || poker_bench::pg::database_exists(&url, &name)
        })
        .await
        .expect("the query ran")
        .expect("pg_database can be read");
        assert!(!exists, "{name} was dropped after its run");
    }
}

/// Every vote reached every member or was overtaken by its voter's next vote (which did):
/// none lost, none refused.
fn assert_accounted(what: &str, voting: &poker_bench::scenarios::VotingResult) {
    assert_eq!(
        voting.votes_undelivered, voting.votes_superseded,
        "{what}: no vote lost: {voting:?}"
    );
    assert_eq!(
        voting.votes_delivered + voting.votes_superseded,
        voting.votes_sent,
        "{what}: every vote accounted for: {voting:?}"
    );
    assert_eq!(voting.errors, 0, "{what}: no error frames: {voting:?}");
}

fn small_fanout(rest_rate: f64) -> fanout::Config {
    fanout::Config {
        sessions: 2,
        participants: 3,
        interval_ms: 250,
        duration_secs: 2,
        jitter: 0.25,
        moderator_votes: true,
        rest_rate,
    }
}

/// `fanout --runs 2` with jittered votes and voting moderators: two paired runs, each on fresh
/// processes; on both servers every member's votes (the moderator's too) are accounted for and
/// stored, and the summary has medians and the median of the per-run ratios.
async fn paired_runs_with_voting_moderators_account_for_every_vote(backend: Backend) {
    let _alone = ONE_BENCH_AT_A_TIME.lock().await;
    let setup = setup(backend);
    let scenario = Scenario::Fanout(small_fanout(0.0));
    let report = runner::run(&setup, &scenario, 2)
        .await
        .unwrap_or_else(|e| panic!("fanout runs: {e:#}"));
    runner::print(&setup, &scenario, &report);
    assert!(
        report.title.contains("secret votes off"),
        "{}",
        report.title
    );
    assert_eq!(report.runs.len(), 2);
    for run in &report.runs {
        for kind in [Kind::Baseline, Kind::Server] {
            let outcome: fanout::Outcome = run
                .outcome(kind)
                .unwrap_or_else(|| panic!("run {}: {} measured", run.run, kind.name()));
            let what = format!("run {} {}", run.run, kind.name());
            // 2 sessions × 3 voters (the moderator votes too) × ~8 rounds.
            assert!(
                outcome.voting.votes_sent >= 30,
                "{what}: the moderators voted too: {:?}",
                outcome.voting
            );
            assert_accounted(&what, &outcome.voting);
            assert!(
                outcome.voting.per_recipient.count >= outcome.voting.votes_delivered * 3,
                "{what}: each delivered vote measured at each of the 3 members"
            );
            if kind == Kind::Server {
                assert_eq!(
                    outcome.persisted,
                    Some((6, 6)),
                    "{what}: each voter's last vote is stored, the moderators' too"
                );
                assert!(outcome.cpu_ms_per_vote.is_some(), "{what}: CPU per vote");
            }
        }
    }
    let row = |figure: &str| {
        report
            .summary
            .iter()
            .find(|r| r.figure == figure)
            .unwrap_or_else(|| panic!("a summary row {figure}"))
    };
    let p99 = row("whole-session latency p99 (ms)");
    let (b, s, r) = (
        p99.baseline.expect("baseline median"),
        p99.server.expect("server median"),
        p99.ratio.expect("median of the ratios"),
    );
    assert!(b.min <= b.median && b.median <= b.max, "{b:?}");
    assert!(s.min <= s.median && s.median <= s.max, "{s:?}");
    assert!(r.min <= r.median && r.median <= r.max, "{r:?}");
    assert!(row("server CPU per delivered vote (ms)").server.is_some());
    let json = runner::json(&setup, &report);
    assert_eq!(
        json["runs"].as_array().map(Vec::len),
        Some(2),
        "every run in the JSON"
    );
    assert_databases_dropped(backend, &report).await;
}

/// `rest-under-load`: both phases on both servers, REST requests answered while the votes
/// flow, none failing, and nothing lost.
async fn rest_under_load_reads_sessions_without_errors(backend: Backend) {
    let _alone = ONE_BENCH_AT_A_TIME.lock().await;
    let setup = setup(backend);
    let scenario = Scenario::RestUnderLoad(rest_under_load::Config {
        fanout: small_fanout(20.0),
    });
    let report = runner::run(&setup, &scenario, 1)
        .await
        .unwrap_or_else(|e| panic!("rest-under-load runs: {e:#}"));
    runner::print(&setup, &scenario, &report);
    let run = &report.runs[0];
    for kind in [Kind::Baseline, Kind::Server] {
        let outcome: rest_under_load::Outcome = run.outcome(kind).expect("measured");
        let what = kind.name();
        assert!(
            outcome.quiet.rest.is_none(),
            "{what}: no REST in the first phase"
        );
        let rest = outcome
            .loaded
            .rest
            .as_ref()
            .expect("REST in the second phase");
        // 20 a second for ~2 s.
        assert!(rest.ok >= 20, "{what}: REST requests answered: {rest:?}");
        assert_eq!(rest.errors, 0, "{what}: no REST errors: {rest:?}");
        assert_eq!(rest.latency.count, rest.ok);
        assert_accounted(&format!("{what} without REST"), &outcome.quiet.voting);
        assert_accounted(&format!("{what} with REST"), &outcome.loaded.voting);
        assert!(outcome.p99_ratio.is_some() && outcome.p50_ratio.is_some());
    }
    assert!(report
        .summary
        .iter()
        .any(|r| r.figure == "whole-session p99 with REST ÷ without" && r.server.is_some()));
    assert_databases_dropped(backend, &report).await;
}

/// `logins`: the server only (the baseline has no accounts), every login answered, and the
/// server's memory read before and after.
async fn logins_report_the_servers_memory(backend: Backend) {
    let _alone = ONE_BENCH_AT_A_TIME.lock().await;
    let setup = setup(backend);
    let scenario = Scenario::Logins(logins::Config {
        users: 20,
        parallel: 8,
        settle_secs: 0,
    });
    let report = runner::run(&setup, &scenario, 1)
        .await
        .unwrap_or_else(|e| panic!("logins runs: {e:#}"));
    runner::print(&setup, &scenario, &report);
    let run = &report.runs[0];
    assert!(run.baseline.is_none(), "the baseline has no accounts");
    let outcome: logins::Outcome = run.outcome(Kind::Server).expect("measured");
    assert_eq!((outcome.logins_ok, outcome.errors), (20, 0), "{outcome:?}");
    assert_eq!(outcome.latency.count, 20);
    for rss in [
        outcome.rss_start_kib,
        outcome.rss_before_kib,
        outcome.rss_after_kib,
    ] {
        assert!(rss.is_some_and(|kib| kib > 0), "memory read: {outcome:?}");
    }
    assert_databases_dropped(backend, &report).await;
}

/// `ramp --svg`: a short ramp on both servers writes a plot with a line per percentile and
/// server, and the bound.
#[tokio::test(flavor = "multi_thread")]
async fn a_short_ramp_writes_its_svg_plot() {
    let _alone = ONE_BENCH_AT_A_TIME.lock().await;
    let setup = setup(Backend::Sqlite);
    let config = ramp::Config {
        sessions: 2,
        participants: 3,
        bound_ms: 50.0,
        stage_secs: 1,
        start_rate: 10.0,
        factor: 2.0,
        max_rate: 40.0,
        jitter: 0.25,
        moderator_votes: true,
    };
    let scenario = Scenario::Ramp(config.clone());
    let report = runner::run(&setup, &scenario, 1)
        .await
        .unwrap_or_else(|e| panic!("ramp runs: {e:#}"));
    runner::print(&setup, &scenario, &report);
    for kind in [Kind::Baseline, Kind::Server] {
        let outcome: ramp::Outcome = report.runs[0].outcome(kind).expect("measured");
        assert!(!outcome.stages.is_empty(), "{}: stages ran", kind.name());
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("ramp.svg");
    runner::write_ramp_svg(&report, config.bound_ms, &path).expect("the plot is written");
    let svg = std::fs::read_to_string(&path).expect("the plot exists");
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("<polyline").count(),
        4,
        "baseline and server, p50 and p99 each: {svg}"
    );
    for label in ["baseline p50", "baseline p99", "server p50", "server p99"] {
        assert!(svg.contains(&format!("data-label=\"{label}\"")), "{label}");
    }
    assert!(svg.contains("bound 50 ms"));
}
