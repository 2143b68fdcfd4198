//! Paired runs: each run measures the baseline, then the real server, each on a process
//! started for it (and the real server on a database created for it), and sets the figures
//! side by side; over several runs, every figure's median and range, and the median of the
//! per-run ratios server ÷ baseline (what a target is judged on: each pair shares the
//! machine's state of the moment, so the ratio of a pair is steadier than either figure).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::baseline::InThread;
use crate::pg::FreshDatabase;
use crate::process::ServerProcess;
use crate::report::{self, mib, Row};
use crate::rest::RestResult;
use crate::scenarios::VotingResult;
use crate::scenarios::{fanout, idle, join_storm, logins, ramp, rest_under_load, slow_reader};
use crate::stats::{Percentiles, Spread};
use crate::svg;
use crate::target::{Kind, Target};

/// How the bench treats vote secrecy, for every header line and `--help`.
pub const SECRECY: &str = "secret votes off (sessions are created with secret_votes: false, as \
    the baseline has no secrecy): every member is entitled to every vote, and a vote counts as \
    delivered when all members have it";

/// How the baseline is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineLaunch {
    /// A process of its own: this binary's hidden `baseline-server` command.
    Process,
    /// A thread of this process (tests, where the bench binary is not built); its memory and
    /// CPU are not reported.
    InThread,
}

/// What the runs start and where.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The servers measured, in order (the baseline first).
    pub kinds: Vec<Kind>,
    /// The real server's binary.
    pub server_bin: PathBuf,
    /// An already running real server instead (every run then uses it).
    pub server_url: Option<String>,
    pub server_pid: Option<u32>,
    pub admin_password: String,
    /// A PostgreSQL URL through which each start of the real server gets a fresh database,
    /// dropped afterwards; `None`: a fresh SQLite file per start.
    pub database_url: Option<String>,
    pub baseline: BaselineLaunch,
}

/// A measured server: its target, a way to read its memory and CPU, and what it runs on.
pub struct Measured {
    pub target: Target,
    pub pid: Option<u32>,
    /// The fresh PostgreSQL database's name.
    pub database: Option<String>,
    // Dropped in this order: the process, then its database.
    process: Option<ServerProcess>,
    in_thread: Option<InThread>,
    fresh: Option<FreshDatabase>,
}

impl Measured {
    pub fn rss(&self) -> impl Fn() -> Option<u64> + '_ {
        move || self.pid.and_then(crate::process::rss_kib)
    }

    pub fn cpu(&self) -> impl Fn() -> Option<f64> + '_ {
        move || self.pid.and_then(crate::process::cpu_seconds)
    }

    /// Ends the server (before its database is dropped, so nothing of it logs the drop).
    async fn finish(mut self) {
        if let Some(process) = self.process.as_mut() {
            let _ = process.kill9().await;
        }
        drop(self.process.take());
        drop(self.in_thread.take());
        if let Some(fresh) = self.fresh.take() {
            // Dropping connects and drops the database: blocking work.
            let _ = tokio::task::spawn_blocking(move || drop(fresh)).await;
        }
    }
}

/// Starts the server of `kind` for one measurement of `scenario`.
pub async fn start(setup: &Setup, kind: Kind, scenario: &str) -> Result<Measured> {
    match kind {
        Kind::Baseline => match setup.baseline {
            BaselineLaunch::Process => {
                let process = ServerProcess::baseline().await?;
                Ok(Measured {
                    target: Target::baseline(&process.url)?,
                    pid: Some(process.pid),
                    database: None,
                    process: Some(process),
                    in_thread: None,
                    fresh: None,
                })
            }
            BaselineLaunch::InThread => {
                let baseline = InThread::start().context("start the baseline in a thread")?;
                Ok(Measured {
                    target: Target::baseline(&baseline.url)?,
                    pid: None,
                    database: None,
                    process: None,
                    in_thread: Some(baseline),
                    fresh: None,
                })
            }
        },
        Kind::Server => {
            if let Some(url) = &setup.server_url {
                return Ok(Measured {
                    target: Target::server(url, &setup.admin_password).await?,
                    pid: setup.server_pid,
                    database: None,
                    process: None,
                    in_thread: None,
                    fresh: None,
                });
            }
            let fresh = match &setup.database_url {
                Some(url) => Some(
                    FreshDatabase::create(url, scenario)
                        .await
                        .context("--database-url: create a fresh database")?,
                ),
                None => None,
            };
            let process = ServerProcess::real(
                &setup.server_bin,
                fresh.as_ref().map(|f| f.url.as_str()),
                &setup.admin_password,
            )
            .await?;
            let target = Target::server(&process.url, &setup.admin_password).await?;
            Ok(Measured {
                target,
                pid: Some(process.pid),
                database: fresh.as_ref().map(|f| f.name.clone()),
                process: Some(process),
                in_thread: None,
                fresh,
            })
        }
    }
}

/// A scenario the runner can repeat.
#[derive(Debug, Clone)]
pub enum Scenario {
    Fanout(fanout::Config),
    Ramp(ramp::Config),
    SlowReader(slow_reader::Config),
    RestUnderLoad(rest_under_load::Config),
    Idle(idle::Config),
    JoinStorm(join_storm::Config),
    Logins(logins::Config),
}

/// One paired run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run: usize,
    pub baseline: Option<Value>,
    pub server: Option<Value>,
    /// The fresh PostgreSQL database the server ran on (dropped afterwards).
    pub server_database: Option<String>,
    pub table: Vec<Row>,
}

impl RunRecord {
    /// The outcome measured on `kind`, as the scenario's type.
    pub fn outcome<T: serde::de::DeserializeOwned>(&self, kind: Kind) -> Option<T> {
        let v = match kind {
            Kind::Baseline => self.baseline.as_ref(),
            Kind::Server => self.server.as_ref(),
        }?;
        serde_json::from_value(v.clone()).ok()
    }
}

/// A figure over all runs.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    pub figure: String,
    pub baseline: Option<Spread>,
    pub server: Option<Spread>,
    /// Over the runs' ratios server ÷ baseline.
    pub ratio: Option<Spread>,
}

/// Everything the runs measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub title: String,
    pub config: Value,
    pub runs: Vec<RunRecord>,
    pub summary: Vec<SummaryRow>,
}

impl Scenario {
    /// The command's name.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Fanout(_) => "fanout",
            Scenario::Ramp(_) => "ramp",
            Scenario::SlowReader(_) => "slow-reader",
            Scenario::RestUnderLoad(_) => "rest-under-load",
            Scenario::Idle(_) => "idle",
            Scenario::JoinStorm(_) => "join-storm",
            Scenario::Logins(_) => "logins",
        }
    }

    fn config(&self) -> Value {
        match self {
            Scenario::Fanout(c) => json!(c),
            Scenario::Ramp(c) => json!(c),
            Scenario::SlowReader(c) => json!(c),
            Scenario::RestUnderLoad(c) => json!(c),
            Scenario::Idle(c) => json!(c),
            Scenario::JoinStorm(c) => json!(c),
            Scenario::Logins(c) => json!(c),
        }
    }

    /// Whether the scenario means anything on the baseline.
    fn has_baseline(&self) -> bool {
        !matches!(self, Scenario::Logins(_))
    }

    /// The header line: what was measured and how votes are counted.
    pub fn title(&self) -> String {
        let pattern = |c: &fanout::Config| {
            format!(
                "a vote per voter every {} ms ± {:.0} % for {} s, moderator {}",
                c.interval_ms,
                c.jitter.clamp(0.0, 0.45) * 100.0,
                c.duration_secs,
                if c.moderator_votes {
                    "votes too"
                } else {
                    "does not vote"
                }
            )
        };
        let head = match self {
            Scenario::Fanout(c) => {
                let rest = if c.rest_rate > 0.0 {
                    format!(", GET /api/sessions/{{id}} {} a second meanwhile", c.rest_rate)
                } else {
                    String::new()
                };
                format!(
                    "fanout: {} sessions × {} participants, {}{rest}",
                    c.sessions,
                    c.participants,
                    pattern(c)
                )
            }
            Scenario::Ramp(c) => format!(
                "ramp: {} sessions × {} participants, from {} votes/s ×{} per {} s stage until \
                 the whole-session p99 passes {} ms, each socket's votes ± {:.0} % around its \
                 interval, moderator {}",
                c.sessions,
                c.participants,
                c.start_rate,
                c.factor,
                c.stage_secs,
                c.bound_ms,
                c.jitter.clamp(0.0, 0.45) * 100.0,
                if c.moderator_votes {
                    "votes too"
                } else {
                    "does not vote"
                }
            ),
            Scenario::SlowReader(c) => format!(
                "slow-reader: {} sessions × {} participants, a vote per voter every {} ms for {} s, \
                 twice: all reading, then one socket per session not reading ({} B stories)",
                c.sessions, c.participants, c.interval_ms, c.duration_secs, c.description_bytes
            ),
            Scenario::RestUnderLoad(c) => format!(
                "rest-under-load: {} sessions × {} participants, {}, twice on one server: \
                 without REST, then with GET /api/sessions/{{id}} {} a second",
                c.fanout.sessions,
                c.fanout.participants,
                pattern(&c.fanout),
                c.fanout.rest_rate
            ),
            Scenario::Idle(c) => format!(
                "idle: {} connections in sessions of {}, probe votes in {} sessions",
                c.connections, c.participants, c.probe_sessions
            ),
            Scenario::JoinStorm(_) => "join-storm: N users join one session at once".to_string(),
            Scenario::Logins(c) => {
                return format!(
                    "logins: {} users each log in once (POST /api/auth/login), {} at a time; \
                     the server only (the baseline has no accounts); no sessions, no sockets",
                    c.users, c.parallel
                )
            }
        };
        format!("{head}; {SECRECY}")
    }

    async fn measure(&self, m: &Measured) -> Result<Value> {
        let t = &m.target;
        Ok(match self {
            Scenario::Fanout(c) => json!(fanout::run(t, c, m.rss(), m.cpu()).await?),
            Scenario::Ramp(c) => json!(ramp::run(t, c, m.cpu()).await?),
            Scenario::SlowReader(c) => json!(slow_reader::run(t, c).await?),
            Scenario::RestUnderLoad(c) => json!(rest_under_load::run(t, c, m.cpu()).await?),
            Scenario::Idle(c) => json!(idle::run(t, c, m.rss()).await?),
            Scenario::JoinStorm(c) => json!(join_storm::run(t, c).await?),
            Scenario::Logins(c) => json!(logins::run(t, c, m.rss(), m.cpu()).await?),
        })
    }

    /// The figures of one run, baseline beside server.
    pub fn rows(&self, b: Option<&Value>, s: Option<&Value>) -> Result<Vec<Row>> {
        Ok(match self {
            Scenario::Fanout(_) => fanout_rows(parse(b)?.as_ref(), parse(s)?.as_ref()),
            Scenario::Ramp(c) => ramp_rows(c, parse(b)?.as_ref(), parse(s)?.as_ref()),
            Scenario::SlowReader(_) => slow_reader_rows(parse(b)?.as_ref(), parse(s)?.as_ref()),
            Scenario::RestUnderLoad(_) => {
                rest_under_load_rows(parse(b)?.as_ref(), parse(s)?.as_ref())
            }
            Scenario::Idle(_) => idle_rows(parse(b)?.as_ref(), parse(s)?.as_ref()),
            Scenario::JoinStorm(_) => join_storm_rows(parse(b)?.as_ref(), parse(s)?.as_ref()),
            Scenario::Logins(_) => logins_rows(parse(s)?.as_ref()),
        })
    }

    /// The figures named in each run's one-line summary (prefixes of row names; the ramp's
    /// names its bound).
    fn key_figures(&self) -> &'static [&'static str] {
        match self {
            Scenario::Fanout(_) => &[
                "whole-session latency p50 (ms)",
                "whole-session latency p99 (ms)",
                "server CPU per delivered vote (ms)",
            ],
            Scenario::Ramp(_) => &["highest votes/s"],
            Scenario::SlowReader(_) => &[
                "all reading: whole-session latency p99 (ms)",
                "one not reading per session: whole-session latency p99 (ms)",
            ],
            Scenario::RestUnderLoad(_) => &[
                "whole-session p99 with REST ÷ without",
                "whole-session p50 with REST ÷ without",
                "REST GET /api/sessions/{id} latency p99 (ms)",
            ],
            Scenario::Idle(_) | Scenario::JoinStorm(_) | Scenario::Logins(_) => &[],
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> Result<Option<T>> {
    v.map(|v| serde_json::from_value(v.clone()).map_err(anyhow::Error::from))
        .transpose()
}

/// Runs `scenario` `runs` times, each run against every kind of `setup` in order.
pub async fn run(setup: &Setup, scenario: &Scenario, runs: usize) -> Result<Report> {
    let kinds: Vec<Kind> = setup
        .kinds
        .iter()
        .copied()
        .filter(|k| *k == Kind::Server || scenario.has_baseline())
        .collect();
    if kinds.is_empty() {
        bail!(
            "{}: the baseline has no accounts; run it against the server",
            scenario.name()
        );
    }
    let runs = runs.max(1);
    let mut records = Vec::new();
    for r in 1..=runs {
        let mut record = RunRecord {
            run: r,
            baseline: None,
            server: None,
            server_database: None,
            table: Vec::new(),
        };
        for &kind in &kinds {
            eprintln!("== run {r}/{runs}: {} ==", kind.name());
            let measured = start(setup, kind, scenario.name()).await?;
            let database = measured.database.clone();
            let outcome = scenario.measure(&measured).await;
            measured.finish().await;
            let outcome = outcome.with_context(|| format!("run {r}, {}", kind.name()))?;
            match kind {
                Kind::Baseline => record.baseline = Some(outcome),
                Kind::Server => {
                    record.server = Some(outcome);
                    record.server_database = database;
                }
            }
        }
        record.table = scenario.rows(record.baseline.as_ref(), record.server.as_ref())?;
        records.push(record);
    }
    let summary = summarize(&records);
    Ok(Report {
        scenario: scenario.name().to_string(),
        title: scenario.title(),
        config: scenario.config(),
        runs: records,
        summary,
    })
}

/// Each figure over the runs (in the order of the first run that has it).
pub fn summarize(runs: &[RunRecord]) -> Vec<SummaryRow> {
    let mut figures: Vec<&str> = Vec::new();
    for run in runs {
        for row in &run.table {
            if !figures.contains(&row.figure.as_str()) {
                figures.push(&row.figure);
            }
        }
    }
    figures
        .into_iter()
        .map(|figure| {
            let rows: Vec<&Row> = runs
                .iter()
                .filter_map(|r| r.table.iter().find(|row| row.figure == figure))
                .collect();
            let over = |f: &dyn Fn(&Row) -> Option<f64>| {
                Spread::of(&rows.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
            };
            SummaryRow {
                figure: figure.to_string(),
                baseline: over(&|r| r.baseline),
                server: over(&|r| r.server),
                ratio: over(&|r| r.ratio()),
            }
        })
        .collect()
}

fn spread_cell(s: Option<Spread>, unit: &str) -> String {
    let v = |x: f64| {
        if x.abs() >= 1000.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        }
    };
    match s {
        None => "—".to_string(),
        Some(s) if s.min == s.max => format!("{}{unit}", v(s.median)),
        Some(s) => format!("{}{unit} ({}–{})", v(s.median), v(s.min), v(s.max)),
    }
}

/// Where the real server's data lived, for the header.
pub fn storage(setup: &Setup) -> &'static str {
    match (&setup.server_url, &setup.database_url) {
        (Some(_), _) => "the running server at --server-url (every run uses it)",
        (None, Some(_)) => "PostgreSQL: a fresh database per server start, dropped afterwards",
        (None, None) => "SQLite: a fresh file per server start",
    }
}

/// The human report: one run as a plain table; several as medians and ranges.
pub fn print(setup: &Setup, scenario: &Scenario, report: &Report) {
    if report.runs.len() == 1 {
        report::print(&report.title, &report.runs[0].table);
        println!("server: {}", storage(setup));
    } else {
        println!("\n{}", report.title);
        println!(
            "{} paired runs, each the baseline then the server, every one freshly started \
             (server: {}); each figure is the median (min–max) over the runs, the ratio the \
             median (min–max) of the runs' own ratios server ÷ baseline",
            report.runs.len(),
            storage(setup)
        );
        println!(
            "{:<52} {:>24} {:>24} {:>22}",
            "figure", "baseline", "server", "ratio"
        );
        println!("{}", "-".repeat(125));
        for row in &report.summary {
            println!(
                "{:<52} {:>24} {:>24} {:>22}",
                row.figure,
                spread_cell(row.baseline, ""),
                spread_cell(row.server, ""),
                spread_cell(row.ratio, "×")
            );
        }
        let keys = scenario.key_figures();
        if !keys.is_empty() {
            println!("\nper run (baseline / server = ratio):");
            for run in &report.runs {
                let parts: Vec<String> = run
                    .table
                    .iter()
                    .filter(|row| keys.iter().any(|k| row.figure.starts_with(k)))
                    .map(|row| {
                        let cell = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.2}"));
                        format!(
                            "{} {} / {} = {}",
                            row.figure,
                            cell(row.baseline),
                            cell(row.server),
                            row.ratio().map_or("—".into(), |r| format!("{r:.2}×"))
                        )
                    })
                    .collect();
                println!("  run {}: {}", run.run, parts.join("; "));
            }
        }
    }
    if let Scenario::RestUnderLoad(_) = scenario {
        let row = report
            .summary
            .iter()
            .find(|r| r.figure == "whole-session p99 with REST ÷ without");
        if let Some(s) = row.and_then(|r| r.server) {
            println!(
                "target (REST must not move the server's fan-out p99 by more than 10 %, median \
                 over runs): {:.2}× — {}",
                s.median,
                if s.median <= 1.10 { "met" } else { "MISSED" }
            );
        }
    }
}

/// The JSON document: the setup, every run's outcomes and table, and the summary.
pub fn json(setup: &Setup, report: &Report) -> Value {
    json!({
        "scenario": report.scenario,
        "title": report.title,
        "config": report.config,
        "secret_votes": false,
        "vote_secrecy": SECRECY,
        "setup": {
            "against": setup.kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
            "server": storage(setup),
            "runs": report.runs.len(),
        },
        "machine": {"cores": std::thread::available_parallelism().map_or(0, |n| n.get())},
        "runs": report.runs,
        "summary": report.summary,
    })
}

/// The ramp's plot of `report` (a `ramp` report): whole-session p50 and p99 against the
/// achieved rate of each stage, baseline in blue, server in red; the median run (by highest
/// rate held) drawn fully, the other runs faintly.
pub fn ramp_svg(report: &Report, bound_ms: f64) -> String {
    let mut series = Vec::new();
    let mut medians = Vec::new();
    for (kind, colour) in [(Kind::Baseline, "#1f77b4"), (Kind::Server, "#d62728")] {
        let outcomes: Vec<(usize, ramp::Outcome)> = report
            .runs
            .iter()
            .filter_map(|r| r.outcome::<ramp::Outcome>(kind).map(|o| (r.run, o)))
            .collect();
        if outcomes.is_empty() {
            continue;
        }
        let mut by_rate: Vec<&(usize, ramp::Outcome)> = outcomes.iter().collect();
        by_rate.sort_by(|a, b| a.1.highest_rate_held.total_cmp(&b.1.highest_rate_held));
        let median = by_rate[(by_rate.len() - 1) / 2].0;
        medians.push(format!("{} run {median}", kind.name()));
        // Faint runs first, so the median run is drawn on top.
        let mut ordered: Vec<&(usize, ramp::Outcome)> = outcomes.iter().collect();
        ordered.sort_by_key(|(run, _)| *run == median);
        for (run, outcome) in ordered {
            let faint = *run != median;
            for (q, dashed, pick) in [
                (
                    "p50",
                    true,
                    (|p: &Percentiles| p.p50) as fn(&Percentiles) -> f64,
                ),
                ("p99", false, |p: &Percentiles| p.p99),
            ] {
                let label = if faint {
                    format!("{} {q} (run {run})", kind.name())
                } else {
                    format!("{} {q}", kind.name())
                };
                series.push(svg::Series {
                    label,
                    colour,
                    dashed,
                    faint,
                    points: outcome
                        .stages
                        .iter()
                        .map(|s| {
                            (
                                s.voting.votes_sent_per_sec,
                                pick(&s.voting.whole_session),
                                s.held,
                            )
                        })
                        .collect(),
                });
            }
        }
    }
    let runs = report.runs.len();
    let title = if runs > 1 {
        format!(
            "ramp: whole-session latency per stage ({runs} runs; drawn: {})",
            medians.join(", ")
        )
    } else {
        "ramp: whole-session latency per stage".to_string()
    };
    svg::ramp_plot(&title, &series, bound_ms)
}

/// Writes [`ramp_svg`] to `path`.
pub fn write_ramp_svg(report: &Report, bound_ms: f64, path: &Path) -> Result<()> {
    std::fs::write(path, ramp_svg(report, bound_ms))
        .with_context(|| format!("write {}", path.display()))
}

/// How many voters' last votes the real server stored, of all voters.
fn persisted_rows(persisted: Option<(u64, u64)>) -> Vec<Row> {
    persisted
        .map(|(ok, total)| {
            vec![
                Row::new("last votes persisted (of voters)", None, Some(ok as f64)),
                Row::new("voters", None, Some(total as f64)),
            ]
        })
        .unwrap_or_default()
}

fn rest_rows(b: Option<&RestResult>, s: Option<&RestResult>) -> Vec<Row> {
    let mut rows = Vec::new();
    if b.is_none() && s.is_none() {
        return rows;
    }
    for row in report::percentile_rows(
        "REST GET /api/sessions/{id} latency",
        b.map(|r| &r.latency),
        s.map(|r| &r.latency),
    ) {
        if !row.figure.contains("p99.9") {
            rows.push(row);
        }
    }
    let pick = |f: fn(&RestResult) -> f64| (b.map(f), s.map(f));
    for (name, (b, s)) in [
        ("REST requests answered 200", pick(|r| r.ok as f64)),
        ("REST errors", pick(|r| r.errors as f64)),
        ("REST requests per second", pick(|r| r.requests_per_sec)),
    ] {
        rows.push(Row::new(name, b, s));
    }
    rows
}

fn fanout_rows(b: Option<&fanout::Outcome>, s: Option<&fanout::Outcome>) -> Vec<Row> {
    let mut rows = report::voting_rows(b.map(|o| &o.voting), s.map(|o| &o.voting));
    let pick = |f: fn(&fanout::Outcome) -> Option<f64>| (b.and_then(f), s.and_then(f));
    for (name, (b, s)) in [
        (
            "server memory before (MiB)",
            pick(|o| mib(o.rss_before_kib)),
        ),
        ("server memory after (MiB)", pick(|o| mib(o.rss_after_kib))),
        ("server CPU while voting (s)", pick(|o| o.server_cpu_secs)),
        (
            "server CPU per delivered vote (ms)",
            pick(|o| o.cpu_ms_per_vote),
        ),
    ] {
        rows.push(Row::new(name, b, s));
    }
    rows.extend(persisted_rows(s.and_then(|o| o.persisted)));
    rows.extend(rest_rows(
        b.and_then(|o| o.rest.as_ref()),
        s.and_then(|o| o.rest.as_ref()),
    ));
    rows
}

fn ramp_rows(c: &ramp::Config, b: Option<&ramp::Outcome>, s: Option<&ramp::Outcome>) -> Vec<Row> {
    let last_held = |o: &ramp::Outcome| o.stages.iter().rfind(|st| st.held).cloned();
    let pick = |f: &dyn Fn(&ramp::Outcome) -> Option<f64>| (b.and_then(f), s.and_then(f));
    let mut rows = Vec::new();
    for (name, (b, s)) in [
        (
            format!("highest votes/s with whole-session p99 < {} ms", c.bound_ms),
            pick(&|o| Some(o.highest_rate_held)),
        ),
        (
            "whole-session p99 at the highest rate held (ms)".to_string(),
            pick(&|o| last_held(o).map(|st| st.voting.whole_session.p99)),
        ),
        (
            "server CPU per delivered vote at that rate (ms)".to_string(),
            pick(&|o| last_held(o).and_then(|st| st.cpu_ms_per_vote)),
        ),
        (
            "stages run".to_string(),
            pick(&|o| Some(o.stages.len() as f64)),
        ),
    ] {
        rows.push(Row::new(name, b, s));
    }
    rows
}

fn slow_reader_rows(
    b: Option<&slow_reader::Outcome>,
    s: Option<&slow_reader::Outcome>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    type Pick = fn(&slow_reader::Outcome) -> VotingResult;
    let phases: [(&str, Pick); 2] = [
        ("all reading", |o| o.steady.clone()),
        ("one not reading per session", |o| {
            o.with_slow_readers.clone()
        }),
    ];
    for (label, pick) in phases {
        let (bv, sv) = (b.map(pick), s.map(pick));
        for row in report::voting_rows(bv.as_ref(), sv.as_ref()) {
            rows.push(Row::new(
                format!("{label}: {}", row.figure),
                row.baseline,
                row.server,
            ));
        }
    }
    let pick = |f: fn(&slow_reader::Outcome) -> usize| (b.map(f), s.map(f));
    for (name, (b, s)) in [
        ("slow sockets closed with 1013", pick(|o| o.closed_1013)),
        ("slow sockets reset (no close frame)", pick(|o| o.reset)),
        ("slow sockets still open at the end", pick(|o| o.still_open)),
    ] {
        rows.push(Row::new(name, b.map(|v| v as f64), s.map(|v| v as f64)));
    }
    rows
}

fn rest_under_load_rows(
    b: Option<&rest_under_load::Outcome>,
    s: Option<&rest_under_load::Outcome>,
) -> Vec<Row> {
    type O = rest_under_load::Outcome;
    let pick = |f: &dyn Fn(&O) -> Option<f64>| (b.and_then(f), s.and_then(f));
    let both = |f: fn(&VotingResult) -> u64| {
        move |o: &O| Some((f(&o.quiet.voting) + f(&o.loaded.voting)) as f64)
    };
    let mut rows = Vec::new();
    for (name, (b, s)) in [
        (
            "without REST: whole-session latency p50 (ms)",
            pick(&|o| Some(o.quiet.voting.whole_session.p50)),
        ),
        (
            "without REST: whole-session latency p99 (ms)",
            pick(&|o| Some(o.quiet.voting.whole_session.p99)),
        ),
        (
            "with REST: whole-session latency p50 (ms)",
            pick(&|o| Some(o.loaded.voting.whole_session.p50)),
        ),
        (
            "with REST: whole-session latency p99 (ms)",
            pick(&|o| Some(o.loaded.voting.whole_session.p99)),
        ),
        (
            "whole-session p99 with REST ÷ without",
            pick(&|o| o.p99_ratio),
        ),
        (
            "whole-session p50 with REST ÷ without",
            pick(&|o| o.p50_ratio),
        ),
        (
            "without REST: server CPU per delivered vote (ms)",
            pick(&|o| o.quiet.cpu_ms_per_vote),
        ),
        (
            "with REST: server CPU per delivered vote (ms)",
            pick(&|o| o.loaded.cpu_ms_per_vote),
        ),
        ("votes sent (both phases)", pick(&both(|v| v.votes_sent))),
        (
            "votes not delivered to everyone (both phases)",
            pick(&both(|v| v.votes_undelivered)),
        ),
        ("error frames (both phases)", pick(&both(|v| v.errors))),
    ] {
        rows.push(Row::new(name, b, s));
    }
    rows.extend(persisted_rows(s.and_then(|o| o.persisted)));
    rows.extend(rest_rows(
        b.and_then(|o| o.loaded.rest.as_ref()),
        s.and_then(|o| o.loaded.rest.as_ref()),
    ));
    rows
}

#[derive(serde::Deserialize)]
struct IdleView {
    connections: usize,
    connect_time: Percentiles,
    kib_per_connection: Option<f64>,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    probe: VotingResult,
    still_open: usize,
}

fn idle_rows(b: Option<&IdleView>, s: Option<&IdleView>) -> Vec<Row> {
    let pick = |f: fn(&IdleView) -> Option<f64>| (b.and_then(f), s.and_then(f));
    let mut rows = Vec::new();
    for (name, (b, s)) in [
        ("connections", pick(|o| Some(o.connections as f64))),
        ("still open at the end", pick(|o| Some(o.still_open as f64))),
        (
            "server memory per connection (KiB)",
            pick(|o| o.kib_per_connection),
        ),
        (
            "server memory before (MiB)",
            pick(|o| mib(o.rss_before_kib)),
        ),
        ("server memory after (MiB)", pick(|o| mib(o.rss_after_kib))),
    ] {
        rows.push(Row::new(name, b, s));
    }
    rows.extend(report::percentile_rows(
        "connect time",
        b.map(|o| &o.connect_time),
        s.map(|o| &o.connect_time),
    ));
    rows.extend(report::voting_rows(
        b.map(|o| &o.probe),
        s.map(|o| &o.probe),
    ));
    rows
}

fn join_storm_rows(b: Option<&join_storm::Outcome>, s: Option<&join_storm::Outcome>) -> Vec<Row> {
    let storm = |o: Option<&join_storm::Outcome>, n: usize| {
        o.and_then(|o| o.storms.iter().find(|x| x.users == n).cloned())
    };
    let sizes: Vec<usize> = b
        .or(s)
        .map(|o| o.storms.iter().map(|x| x.users).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    for n in sizes {
        let (bs, ss) = (storm(b, n), storm(s, n));
        let pick = |f: fn(&join_storm::Storm) -> f64| (bs.as_ref().map(f), ss.as_ref().map(f));
        for (name, (b, s)) in [
            ("frames received", pick(|x| x.frames_received as f64)),
            ("frames per user", pick(|x| x.frames_per_user)),
            (
                "all complete after, max (ms)",
                pick(|x| x.complete_after.max),
            ),
            ("clients incomplete", pick(|x| x.incomplete_clients as f64)),
        ] {
            rows.push(Row::new(format!("N={n}: {name}"), b, s));
        }
    }
    rows
}

fn logins_rows(s: Option<&logins::Outcome>) -> Vec<Row> {
    let pick = |f: fn(&logins::Outcome) -> Option<f64>| s.and_then(f);
    let mut rows = Vec::new();
    for (name, value) in [
        ("users", pick(|o| Some(o.users as f64))),
        ("logins answered 200", pick(|o| Some(o.logins_ok as f64))),
        ("login errors", pick(|o| Some(o.errors as f64))),
    ] {
        rows.push(Row::new(name, None, value));
    }
    rows.extend(report::percentile_rows(
        "login latency",
        None,
        s.map(|o| &o.latency),
    ));
    for (name, value) in [
        ("logins per second", pick(|o| Some(o.logins_per_sec))),
        (
            "server memory at the start (MiB)",
            pick(|o| mib(o.rss_start_kib)),
        ),
        (
            "server memory after creating the users (MiB)",
            pick(|o| mib(o.rss_before_kib)),
        ),
        (
            "server memory after the logins (MiB)",
            pick(|o| mib(o.rss_after_kib)),
        ),
        ("server CPU per login (ms)", pick(|o| o.cpu_ms_per_login)),
    ] {
        rows.push(Row::new(name, None, value));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: usize, rows: &[(&str, Option<f64>, Option<f64>)]) -> RunRecord {
        RunRecord {
            run: n,
            baseline: None,
            server: None,
            server_database: None,
            table: rows.iter().map(|(f, b, s)| Row::new(*f, *b, *s)).collect(),
        }
    }

    #[test]
    fn the_summary_is_the_median_of_each_figure_and_of_the_runs_ratios() {
        let runs = [
            run(
                1,
                &[
                    ("p99", Some(1.0), Some(3.0)),
                    ("only server", None, Some(5.0)),
                ],
            ),
            run(2, &[("p99", Some(2.0), Some(2.0))]),
            run(
                3,
                &[
                    ("p99", Some(4.0), Some(6.0)),
                    ("only server", None, Some(7.0)),
                ],
            ),
        ];
        let summary = summarize(&runs);
        assert_eq!(summary.len(), 2);
        let p99 = &summary[0];
        assert_eq!(p99.figure, "p99");
        assert_eq!(
            p99.baseline.map(|s| (s.median, s.min, s.max)),
            Some((2.0, 1.0, 4.0))
        );
        assert_eq!(
            p99.server.map(|s| (s.median, s.min, s.max)),
            Some((3.0, 2.0, 6.0))
        );
        // Ratios 3, 1, 1.5: their median, not the ratio of the medians (3 ÷ 2).
        assert_eq!(
            p99.ratio.map(|s| (s.median, s.min, s.max)),
            Some((1.5, 1.0, 3.0))
        );
        let only = &summary[1];
        assert_eq!(only.baseline, None);
        assert_eq!(only.ratio, None);
        assert_eq!(only.server.map(|s| s.median), Some(6.0));
    }

    #[test]
    fn every_title_says_how_secrecy_is_treated() {
        let fanout = fanout::Config {
            sessions: 1,
            participants: 2,
            interval_ms: 1000,
            duration_secs: 1,
            jitter: 0.25,
            moderator_votes: true,
            rest_rate: 0.0,
        };
        let scenarios = [
            Scenario::Fanout(fanout.clone()),
            Scenario::RestUnderLoad(rest_under_load::Config { fanout }),
            Scenario::Idle(idle::Config {
                connections: 1,
                participants: 1,
                probe_sessions: 1,
                probe_secs: 1,
            }),
            Scenario::JoinStorm(join_storm::Config {
                users: vec![1],
                timeout_secs: 1,
            }),
        ];
        for s in scenarios {
            assert!(s.title().contains("secret votes off"), "{}", s.title());
            assert!(s.title().contains("all members"), "{}", s.title());
        }
        let logins = Scenario::Logins(logins::Config {
            users: 1,
            parallel: 1,
            settle_secs: 0,
        });
        assert!(logins.title().contains("baseline has no accounts"));
    }
}
