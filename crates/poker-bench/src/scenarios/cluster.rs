//! `cluster`: the fan-out with each session's members spread over two server processes that
//! share live sessions through Redis, against the same fan-out on one process, in one
//! invocation; then the presence convergence after `kill -9` of one of the two.
//!
//! Each run is a pair of phases (plus, optionally, a first phase without Redis), every phase on
//! a fresh PostgreSQL database and a fresh `REDIS_PREFIX`, with the same settings:
//!
//! - **one process + Redis**: one `planning-poker` with `REDIS_URL`, so it pays the
//!   backplane's costs (a version per change, a publish per change, presence in Redis) exactly
//!   as each process of the pair does. What differs in the pair is only that members are spread.
//! - **two processes + Redis**: member `i` of every session connects to process `i % 2` (the
//!   moderator, member 0, to the first). A vote is counted as delivered when every member, on
//!   both processes, has a `story_changed` listing it.
//! - optionally first, **one process, no Redis**: what the backplane itself costs.
//!
//! The measurement is the fan-out's own: [`connect_spread`], [`vote_jittered`] (the tracker of
//! `matching.rs`, the histograms of `stats.rs`). Sessions are made with `secret_votes: false`
//! (as for `fanout`), so every member is entitled to see every vote and all are counted.
//!
//! After the pair's voting, with both processes still up, the second is killed with SIGKILL
//! and each member on the first keeps sending heartbeats; the convergence time of a session is
//! the time from the kill until every one of its members on the surviving process has received
//! a `participants_changed` that no longer lists any member of the killed process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::VotingResult;
use super::{activate, check_persisted, connect_spread, vote_jittered, Counters, LiveSession};
use crate::guard::ensure_loopback;
use crate::pg::FreshDatabase;
use crate::process::{cpu_seconds, ServerProcess};
use crate::report;
pub use crate::stats::Spread;
use crate::stats::{Latencies, Percentiles};
use crate::target::Target;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub sessions: usize,
    pub participants: usize,
    pub interval_ms: u64,
    pub duration_secs: u64,
    /// Paired runs (each: one process, then two).
    pub runs: usize,
    /// `CLIENT_TIMEOUT_SECS` of every process in every phase (presence expiry follows it).
    pub client_timeout_secs: u64,
    /// Each vote is sent a random 0 .. 2 × jitter × interval after its tick.
    pub jitter: f64,
    /// The moderator (member 0) may vote and does.
    pub moderator_votes: bool,
    /// Also run one process without Redis first in each run.
    pub without_redis_phase: bool,
}

/// Where the processes come from and what they use.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The `planning-poker` binary.
    pub binary: PathBuf,
    /// A PostgreSQL URL through which a fresh database is created for each phase.
    pub database_url: String,
    pub redis_url: String,
    pub admin_password: String,
}

/// One phase of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub processes: usize,
    pub redis: bool,
    pub voting: VotingResult,
    /// CPU time of every server process of the phase, summed, while votes were cast.
    pub server_cpu_secs: Option<f64>,
    /// `server_cpu_secs` per delivered vote, in milliseconds.
    pub cpu_ms_per_vote: Option<f64>,
    /// Voters whose last vote is stored as sent, of all voters.
    pub persisted: (u64, u64),
    /// What the processes' `/metrics` counted while votes were cast, summed over processes:
    /// the backplane's counters (messages published, received in order or early, reloads)
    /// and the database writes' count and total seconds.
    #[serde(default)]
    pub server_counts: BTreeMap<String, f64>,
}

/// The metrics a phase reads before and after voting.
const METRICS: &[&str] = &[
    "poker_backplane_published_total",
    "poker_backplane_received_total",
    "poker_backplane_reloads_total",
    "poker_db_write_seconds_sum",
    "poker_db_write_seconds_count",
];

/// The sum over `targets` of their metrics.
async fn metrics_sum(targets: &[Target]) -> BTreeMap<String, f64> {
    let mut sum = BTreeMap::new();
    for target in targets {
        if let Ok(m) = target.metrics(METRICS).await {
            for (key, value) in m {
                *sum.entry(key).or_insert(0.0) += value;
            }
        }
    }
    sum
}

impl Phase {
    /// A counter's change while voting (0 when the server never counted it).
    pub fn count(&self, key: &str) -> f64 {
        self.server_counts.get(key).copied().unwrap_or(0.0)
    }

    /// The mean time of a database write while voting, in milliseconds.
    pub fn mean_db_write_ms(&self) -> Option<f64> {
        let n = self.count("poker_db_write_seconds_count");
        (n > 0.0).then(|| self.count("poker_db_write_seconds_sum") * 1000.0 / n)
    }
}

/// Presence convergence after `kill -9` of the second process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Presence {
    pub client_timeout_secs: u64,
    pub sessions: usize,
    /// Sessions where every member on the surviving process saw the killed members leave.
    pub converged: usize,
    /// Of those, sessions whose list then held exactly the surviving members.
    pub exact: usize,
    /// Per session (over converged sessions): from the kill until its last surviving member
    /// saw the leave, in milliseconds.
    pub per_session: Option<Spread>,
    /// The same per surviving member.
    pub per_member: Percentiles,
    /// Sockets on the surviving process that closed meanwhile (they should not).
    pub survivors_closed: usize,
}

/// Two processes ÷ one process (both with Redis).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratios {
    pub whole_session_p50: Option<f64>,
    pub whole_session_p99: Option<f64>,
    pub per_recipient_p99: Option<f64>,
    pub cpu_per_vote: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub run: usize,
    /// In order: [one process, no Redis,] one process + Redis, two processes + Redis.
    pub phases: Vec<Phase>,
    pub ratios: Ratios,
    pub presence: Presence,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub whole_session_p99_ratio: Option<Spread>,
    pub whole_session_p50_ratio: Option<Spread>,
    pub per_recipient_p99_ratio: Option<Spread>,
    pub cpu_per_vote_ratio: Option<Spread>,
    /// Over runs, of each run's per-session median.
    pub presence_median_ms: Option<Spread>,
    /// The largest per-session convergence time of any run.
    pub presence_max_ms: Option<f64>,
    /// The target: cross-process whole-session p99 ≤ 2 × the single-process one (median of
    /// the runs' ratios).
    pub target_met: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub runs: Vec<Run>,
    pub summary: Summary,
}

/// The phases of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Alone,
    One,
    Two,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Alone => "one process, no Redis",
            Kind::One => "one process + Redis",
            Kind::Two => "two processes + Redis",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Kind::Alone => "alone",
            Kind::One => "one",
            Kind::Two => "two",
        }
    }

    fn processes(self) -> usize {
        if self == Kind::Two {
            2
        } else {
            1
        }
    }
}

pub async fn run(setup: &Setup, config: &Config) -> Result<Outcome> {
    ensure_loopback(&setup.database_url).context("--database-url")?;
    ensure_loopback(&setup.redis_url).context("--redis-url")?;
    if !setup.binary.exists() {
        bail!(
            "no server binary at {} (build it: cargo build --release -p planning-poker)",
            setup.binary.display()
        );
    }
    if config.participants < 2 {
        bail!("members are spread over two processes: --participants must be at least 2");
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let run_id = format!("{}_{:x}", std::process::id(), stamp % 0xffff_ffff);
    let mut runs = Vec::new();
    for r in 1..=config.runs.max(1) {
        let mut kinds = vec![Kind::One, Kind::Two];
        if config.without_redis_phase {
            kinds.insert(0, Kind::Alone);
        }
        let mut phases = Vec::new();
        let mut presence = None;
        for kind in kinds {
            eprintln!("== run {r}/{}: {} ==", config.runs.max(1), kind.name());
            let prefix = format!("pp_bench_{run_id}_{r}_{}", kind.tag());
            let (phase, p) = run_phase(setup, config, kind, &prefix).await?;
            eprintln!(
                "  whole-session p50 {:.2} ms, p99 {:.2} ms; delivered {}/{}; errors {}; CPU {:.3} ms/vote",
                phase.voting.whole_session.p50,
                phase.voting.whole_session.p99,
                phase.voting.votes_delivered,
                phase.voting.votes_sent,
                phase.voting.errors,
                phase.cpu_ms_per_vote.unwrap_or(f64::NAN),
            );
            if let Some(p) = &p {
                let s = p.per_session.unwrap_or(Spread {
                    median: f64::NAN,
                    min: f64::NAN,
                    max: f64::NAN,
                });
                eprintln!(
                    "  presence after kill -9: {}/{} sessions converged, per session median {:.0} ms, max {:.0} ms",
                    p.converged, p.sessions, s.median, s.max
                );
            }
            phases.push(phase);
            presence = presence.or(p);
        }
        let find = |name: &str| phases.iter().find(|p| p.name == name);
        let (one, two) = (
            find(Kind::One.name()).context("the one-process phase ran")?,
            find(Kind::Two.name()).context("the two-process phase ran")?,
        );
        let ratio = |a: f64, b: f64| (a > 0.0).then(|| b / a);
        let ratios = Ratios {
            whole_session_p50: ratio(one.voting.whole_session.p50, two.voting.whole_session.p50),
            whole_session_p99: ratio(one.voting.whole_session.p99, two.voting.whole_session.p99),
            per_recipient_p99: ratio(one.voting.per_recipient.p99, two.voting.per_recipient.p99),
            cpu_per_vote: one
                .cpu_ms_per_vote
                .zip(two.cpu_ms_per_vote)
                .and_then(|(a, b)| ratio(a, b)),
        };
        runs.push(Run {
            run: r,
            phases,
            ratios,
            presence: presence.context("the presence was measured")?,
        });
    }
    let spread = |f: fn(&Run) -> Option<f64>| {
        let values: Vec<f64> = runs.iter().filter_map(f).collect();
        Spread::of(&values)
    };
    let whole_session_p99_ratio = spread(|r| r.ratios.whole_session_p99);
    let summary = Summary {
        whole_session_p99_ratio,
        whole_session_p50_ratio: spread(|r| r.ratios.whole_session_p50),
        per_recipient_p99_ratio: spread(|r| r.ratios.per_recipient_p99),
        cpu_per_vote_ratio: spread(|r| r.ratios.cpu_per_vote),
        presence_median_ms: spread(|r| r.presence.per_session.map(|s| s.median)),
        presence_max_ms: runs
            .iter()
            .filter_map(|r| r.presence.per_session.map(|s| s.max))
            .reduce(f64::max),
        target_met: whole_session_p99_ratio.is_some_and(|s| s.median <= 2.0),
    };
    Ok(Outcome { runs, summary })
}

/// One phase on a fresh database and prefix: start the processes, set up, connect, vote; for
/// the pair, then kill the second process and measure presence.
async fn run_phase(
    setup: &Setup,
    config: &Config,
    kind: Kind,
    prefix: &str,
) -> Result<(Phase, Option<Presence>)> {
    let database = FreshDatabase::create(&setup.database_url, kind.tag()).await?;
    let client_timeout = Duration::from_secs(config.client_timeout_secs.max(1));
    let mut env = vec![("CLIENT_TIMEOUT_SECS", client_timeout.as_secs().to_string())];
    if kind != Kind::Alone {
        env.push(("REDIS_URL", setup.redis_url.clone()));
        env.push(("REDIS_PREFIX", prefix.to_string()));
    }
    let mut processes = ServerProcess::several(
        kind.processes(),
        &setup.binary,
        &database.url,
        &setup.admin_password,
        &env,
    )
    .await?;
    let mut targets = Vec::new();
    for process in &processes {
        targets.push(Target::server(&process.url, &setup.admin_password).await?);
    }
    let users = targets[0]
        .users_with(config.participants, true, config.moderator_votes)
        .await?;
    let plans = targets[0].sessions(config.sessions, &users).await?;
    let counters = Arc::new(Counters::default());
    // Heartbeats well inside the client timeout: the moderator may not vote, and nobody votes
    // while presence is measured.
    let heartbeat = (client_timeout / 3).max(Duration::from_millis(500));
    let refs: Vec<&Target> = targets.iter().collect();
    let sessions = connect_spread(
        &refs,
        plans,
        &counters,
        Some(heartbeat),
        64,
        &mut Latencies::new(),
    )
    .await?;
    // Everyone listed everywhere before voting: presence crossing processes must not be
    // measured as part of the votes' fan-out.
    await_everyone_listed(&sessions, Duration::from_secs(30)).await?;
    activate(&sessions, &counters).await?;
    let sessions = Arc::new(sessions);
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    let cpu = || -> Option<f64> { pids.iter().map(|pid| cpu_seconds(*pid)).sum() };
    let metrics_before = metrics_sum(&targets).await;
    let cpu_before = cpu();
    let voting = vote_jittered(
        &sessions,
        &counters,
        Duration::from_millis(config.interval_ms),
        config.jitter,
        Duration::from_secs(config.duration_secs),
        Duration::from_secs(5),
    )
    .await;
    let server_cpu_secs = cpu().zip(cpu_before).map(|(after, before)| after - before);
    let server_counts = metrics_sum(&targets)
        .await
        .into_iter()
        .map(|(key, after)| {
            let before = metrics_before.get(&key).copied().unwrap_or(0.0);
            (key, after - before)
        })
        .collect();
    let persisted = check_persisted(&targets[0], &sessions).await?;
    let cpu_ms_per_vote = server_cpu_secs
        .filter(|_| voting.votes_delivered > 0)
        .map(|s| s * 1000.0 / voting.votes_delivered as f64);
    let presence = if kind == Kind::Two {
        Some(kill_and_measure(&mut processes[1], &sessions, client_timeout).await?)
    } else {
        None
    };
    // Close the sockets, then stop the processes cleanly (SIGTERM: each removes its members
    // from Redis at once, so the run leaves little under its prefix), then drop the database.
    drop(sessions);
    for process in processes.iter_mut() {
        process.stop(Duration::from_secs(10)).await;
    }
    drop(processes);
    drop(database);
    Ok((
        Phase {
            name: kind.name().to_string(),
            processes: kind.processes(),
            redis: kind != Kind::Alone,
            voting,
            server_cpu_secs,
            cpu_ms_per_vote,
            persisted,
            server_counts,
        },
        presence,
    ))
}

/// Waits until every member's latest `participants_changed` lists every member of its session.
async fn await_everyone_listed(sessions: &[LiveSession], within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let missing = sessions
            .iter()
            .filter(|s| {
                let everyone: BTreeSet<&str> =
                    s.plan.members.iter().map(|m| m.name.as_str()).collect();
                let log = s.presence.lock().expect("the presence log");
                !log.frames.iter().all(|frames| {
                    frames.last().is_some_and(|(_, names)| {
                        names.iter().map(String::as_str).collect::<BTreeSet<_>>() == everyone
                    })
                })
            })
            .count();
        if missing == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{missing} sessions did not list all their members everywhere within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Kills `victim` (the second process: members with odd indices) with SIGKILL and waits until
/// every member on the surviving process has a `participants_changed` without any of them, or
/// twice the client timeout plus 5 s.
async fn kill_and_measure(
    victim: &mut ServerProcess,
    sessions: &[LiveSession],
    client_timeout: Duration,
) -> Result<Presence> {
    let killed_at = victim.kill9().await?;
    let deadline = killed_at + client_timeout * 2 + Duration::from_secs(5);
    // Per session: per surviving member, when the leave arrived and whether the list was then
    // exactly the survivors.
    type Seen = Vec<Option<(Duration, bool)>>;
    let survivors = |s: &LiveSession| -> Vec<usize> {
        (0..s.plan.members.len()).filter(|i| i % 2 == 0).collect()
    };
    let observe = |s: &LiveSession| -> Seen {
        let killed: BTreeSet<&str> = s
            .plan
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, m)| m.name.as_str())
            .collect();
        let kept: BTreeSet<&str> = s
            .plan
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, m)| m.name.as_str())
            .collect();
        let log = s.presence.lock().expect("the presence log");
        survivors(s)
            .into_iter()
            .map(|i| {
                log.frames[i]
                    .iter()
                    .find(|(at, names)| {
                        *at >= killed_at && names.iter().all(|n| !killed.contains(n.as_str()))
                    })
                    .map(|(at, names)| {
                        let exact =
                            names.iter().map(String::as_str).collect::<BTreeSet<_>>() == kept;
                        (at.duration_since(killed_at), exact)
                    })
            })
            .collect()
    };
    let mut seen: Vec<Seen>;
    loop {
        seen = sessions.iter().map(observe).collect();
        let done = seen.iter().flatten().all(Option::is_some);
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut per_member = Latencies::new();
    let mut per_session = Vec::new();
    let mut exact = 0;
    for session in &seen {
        for t in session.iter().flatten() {
            per_member.record(t.0);
        }
        if session.iter().all(Option::is_some) {
            let slowest = session
                .iter()
                .flatten()
                .map(|t| t.0)
                .max()
                .unwrap_or_default();
            per_session.push(slowest.as_secs_f64() * 1000.0);
            if session.iter().flatten().all(|t| t.1) {
                exact += 1;
            }
        }
    }
    let survivors_closed = sessions
        .iter()
        .map(|s| {
            survivors(s)
                .into_iter()
                .filter(|i| !s.conns[*i].is_open())
                .count()
        })
        .sum();
    let spread = Spread::of(&per_session);
    Ok(Presence {
        client_timeout_secs: client_timeout.as_secs(),
        sessions: sessions.len(),
        converged: per_session.len(),
        exact,
        per_session: spread,
        per_member: per_member.percentiles(),
        survivors_closed,
    })
}

/// A figure for one process without Redis, one with, and two.
type ThreeColumns = (String, Option<f64>, Option<f64>, Option<f64>);

/// The human report: each run's phases side by side, presence, and the summary over runs.
pub fn print(config: &Config, outcome: &Outcome) {
    let cell = |v: Option<f64>| match v {
        None => "—".to_string(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    };
    println!(
        "\ncluster: {} sessions × {} participants (member i on process i % 2), a vote per voter \
         every {} ms ± {:.0} % for {} s, moderator {}; PostgreSQL; CLIENT_TIMEOUT_SECS={}; \
         secret votes off (every member counted)",
        config.sessions,
        config.participants,
        config.interval_ms,
        config.jitter.clamp(0.0, 0.45) * 100.0,
        config.duration_secs,
        if config.moderator_votes {
            "votes too"
        } else {
            "does not vote"
        },
        config.client_timeout_secs
    );
    for run in &outcome.runs {
        let phase = |k: Kind| run.phases.iter().find(|p| p.name == k.name());
        let (alone, one, two) = (phase(Kind::Alone), phase(Kind::One), phase(Kind::Two));
        let mut rows: Vec<ThreeColumns> = Vec::new();
        let pair = report::voting_rows(one.map(|p| &p.voting), two.map(|p| &p.voting));
        let solo = report::voting_rows(alone.map(|p| &p.voting), None);
        let per =
            |f: fn(&Phase) -> Option<f64>| (alone.and_then(f), one.and_then(f), two.and_then(f));
        for (i, row) in pair.into_iter().enumerate() {
            let a = solo.get(i).and_then(|r| r.baseline);
            let undelivered = row.figure == "votes not delivered to everyone";
            rows.push((row.figure, a, row.baseline, row.server));
            if undelivered {
                let (a, b, c) = per(|p| Some(p.voting.votes_superseded as f64));
                rows.push(("… overtaken by the voter's next vote".into(), a, b, c));
            }
        }
        for (name, (a, b, c)) in [
            (
                "server CPU while voting, all processes (s)",
                per(|p| p.server_cpu_secs),
            ),
            (
                "server CPU per delivered vote (ms)",
                per(|p| p.cpu_ms_per_vote),
            ),
            (
                "database writes while voting",
                per(|p| Some(p.count("poker_db_write_seconds_count"))),
            ),
            ("database write, mean (ms)", per(Phase::mean_db_write_ms)),
            (
                "backplane: messages published",
                per(|p| Some(p.count("poker_backplane_published_total{outcome=\"ok\"}"))),
            ),
            (
                "backplane: received and applied",
                per(|p| Some(p.count("poker_backplane_received_total{outcome=\"applied\"}"))),
            ),
            (
                "backplane: received early (waited for one)",
                per(|p| Some(p.count("poker_backplane_received_total{outcome=\"buffered\"}"))),
            ),
            (
                "backplane: reloads (gap, stale, check)",
                per(|p| {
                    Some(
                        p.server_counts
                            .iter()
                            .filter(|(k, _)| k.starts_with("poker_backplane_reloads_total"))
                            .map(|(_, v)| v)
                            .fold(0.0, |a, b| a + b),
                    )
                }),
            ),
            ("last votes persisted", per(|p| Some(p.persisted.0 as f64))),
            ("voters", per(|p| Some(p.persisted.1 as f64))),
        ] {
            rows.push((name.to_string(), a, b, c));
        }
        println!("\nrun {}", run.run);
        println!(
            "{:<44} {:>12} {:>12} {:>12} {:>10}",
            "figure", "1, no Redis", "1 + Redis", "2 + Redis", "2 ÷ 1"
        );
        println!("{}", "-".repeat(94));
        for (figure, a, b, c) in rows {
            let ratio = match (b, c) {
                (Some(b), Some(c)) if b > 0.0 => format!("{:.2}×", c / b),
                _ => "—".to_string(),
            };
            println!(
                "{figure:<44} {:>12} {:>12} {:>12} {ratio:>10}",
                cell(a),
                cell(b),
                cell(c)
            );
        }
        let p = &run.presence;
        match p.per_session {
            Some(s) => println!(
                "presence after kill -9 of process 2: {}/{} sessions converged ({} with exactly the \
                 survivors listed); per session median {:.0} ms, min {:.0} ms, max {:.0} ms; per \
                 member p50 {:.0} ms, max {:.0} ms; survivors' sockets closed: {}",
                p.converged,
                p.sessions,
                p.exact,
                s.median,
                s.min,
                s.max,
                p.per_member.p50,
                p.per_member.max,
                p.survivors_closed
            ),
            None => println!(
                "presence after kill -9 of process 2: no session converged within 2 × {} s + 5 s",
                p.client_timeout_secs
            ),
        }
    }
    let s = &outcome.summary;
    let spread = |x: Option<Spread>, unit: &str| match x {
        Some(x) => format!(
            "median {:.2}{unit} (min {:.2}{unit}, max {:.2}{unit})",
            x.median, x.min, x.max
        ),
        None => "—".to_string(),
    };
    println!(
        "\nsummary over {} runs (two processes ÷ one process, both with Redis):",
        outcome.runs.len()
    );
    for run in &outcome.runs {
        let r = &run.ratios;
        println!(
            "  run {}: whole-session p99 {}, p50 {}, per-recipient p99 {}, CPU per vote {}",
            run.run,
            r.whole_session_p99
                .map_or("—".into(), |x| format!("{x:.2}×")),
            r.whole_session_p50
                .map_or("—".into(), |x| format!("{x:.2}×")),
            r.per_recipient_p99
                .map_or("—".into(), |x| format!("{x:.2}×")),
            r.cpu_per_vote.map_or("—".into(), |x| format!("{x:.2}×")),
        );
    }
    println!(
        "  whole-session p99 ratio: {}",
        spread(s.whole_session_p99_ratio, "×")
    );
    println!(
        "  whole-session p50 ratio: {}",
        spread(s.whole_session_p50_ratio, "×")
    );
    println!(
        "  per-recipient p99 ratio: {}",
        spread(s.per_recipient_p99_ratio, "×")
    );
    println!(
        "  CPU per vote ratio:      {}",
        spread(s.cpu_per_vote_ratio, "×")
    );
    println!(
        "  target (median whole-session p99 ratio ≤ 2×): {}",
        if s.target_met { "met" } else { "MISSED" }
    );
    println!(
        "  presence convergence after kill -9 (CLIENT_TIMEOUT_SECS={}): per-session median {}; \
         max over all sessions and runs {}",
        config.client_timeout_secs,
        spread(s.presence_median_ms, " ms"),
        s.presence_max_ms
            .map_or("—".into(), |x| format!("{x:.0} ms"))
    );
}
