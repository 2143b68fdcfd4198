//! `poker-bench`: runs a scenario against the baseline and the real server, back to back, and
//! prints each figure beside the other with their ratio (and writes JSON with `--json`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use poker_bench::process::{raise_fd_limit, ServerProcess};
use poker_bench::report::{self, mib, Row};
use poker_bench::scenarios::{cluster, fanout, idle, join_storm, ramp, slow_reader};
use poker_bench::target::{Kind, Target};
use serde_json::{json, Value};

/// Load generator and benchmark for planning-poker (loopback targets only).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Which servers to measure; `both` runs the baseline, then the real server.
    #[arg(long, value_enum, default_value_t = Against::Both, global = true)]
    against: Against,
    /// The real server's binary, started on a fresh SQLite database (or --database-url).
    /// Default: `planning-poker` beside this binary.
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// Use an already running real server instead of starting one (memory needs --server-pid).
    #[arg(long, global = true)]
    server_url: Option<String>,
    /// The pid of the server at --server-url, to read its memory.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// The `admin` password of the real server.
    #[arg(long, default_value = "bench-admin-password", global = true)]
    admin_password: String,
    /// Database for the real server the bench starts (e.g. a fresh PostgreSQL database).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Stop (with an error) if the whole run takes longer than this.
    #[arg(long, default_value_t = 1800, global = true)]
    max_runtime_secs: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Against {
    Both,
    Baseline,
    Server,
}

#[derive(Subcommand)]
enum Command {
    /// S sessions × P participants; every voter votes every interval.
    Fanout(FanoutArgs),
    /// C idle connections with heartbeats: memory per connection, connect time, probe latency.
    Idle(IdleArgs),
    /// N users join one session at once: frames received and time to a full participants list.
    JoinStorm(StormArgs),
    /// Raise the vote rate until the whole-session p99 passes a bound.
    Ramp(RampArgs),
    /// The fan-out, then again with a client per session that never reads: latency should hold.
    SlowReader(SlowReaderArgs),
    /// The fan-out on one process, then with each session's members spread over two processes
    /// sharing Redis (PostgreSQL; needs --database-url and --redis-url); then `kill -9` of one
    /// and the time until the other's members see its members leave. Real server only.
    Cluster(ClusterArgs),
    /// Run the in-memory baseline server (used by the bench itself).
    #[command(hide = true)]
    BaselineServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: String,
    },
}

#[derive(Args)]
struct FanoutArgs {
    #[arg(short, long, default_value_t = 100)]
    sessions: usize,
    #[arg(short, long, default_value_t = 10)]
    participants: usize,
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
}

#[derive(Args)]
struct SlowReaderArgs {
    #[arg(short, long, default_value_t = 10)]
    sessions: usize,
    #[arg(short, long, default_value_t = 10)]
    participants: usize,
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
    /// Large enough that a client that does not read falls past the kernel's socket buffers
    /// (several MiB on loopback) and the server's bound within the run.
    #[arg(long, default_value_t = 32_768)]
    description_bytes: usize,
}

#[derive(Args)]
struct ClusterArgs {
    /// Redis shared by the processes (loopback only); every phase uses a fresh REDIS_PREFIX.
    #[arg(long)]
    redis_url: String,
    #[arg(short, long, default_value_t = 100)]
    sessions: usize,
    #[arg(short, long, default_value_t = 10)]
    participants: usize,
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    #[arg(long, default_value_t = 15)]
    duration_secs: u64,
    /// Paired runs (one process, then two), each phase on a fresh database.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// CLIENT_TIMEOUT_SECS of every process; a killed process's members leave within it.
    #[arg(long, default_value_t = 10)]
    client_timeout_secs: u64,
    /// Each vote goes a random 0 .. 2 × jitter × interval after its tick (at most 0.45).
    #[arg(long, default_value_t = 0.25)]
    jitter: f64,
    /// Whether the moderator (member 0) votes too.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    moderator_votes: bool,
    /// Skip the phase of one process without Redis.
    #[arg(long)]
    skip_no_redis: bool,
}

#[derive(Args)]
struct IdleArgs {
    #[arg(short, long, default_value_t = 20_000)]
    connections: usize,
    #[arg(short, long, default_value_t = 10)]
    participants: usize,
    #[arg(long, default_value_t = 5)]
    probe_sessions: usize,
    #[arg(long, default_value_t = 10)]
    probe_secs: u64,
}

#[derive(Args)]
struct StormArgs {
    /// Storm sizes, comma-separated; several show how the frame count grows.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000")]
    users: Vec<usize>,
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

#[derive(Args)]
struct RampArgs {
    #[arg(short, long, default_value_t = 20)]
    sessions: usize,
    #[arg(short, long, default_value_t = 10)]
    participants: usize,
    #[arg(long, default_value_t = 50.0)]
    bound_ms: f64,
    #[arg(long, default_value_t = 5)]
    stage_secs: u64,
    #[arg(long, default_value_t = 100.0)]
    start_rate: f64,
    #[arg(long, default_value_t = 1.5)]
    factor: f64,
    #[arg(long, default_value_t = 100_000.0)]
    max_rate: f64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::BaselineServer { bind } = &cli.command {
        return Ok(actix_web::rt::System::new().block_on(poker_bench::baseline::serve(bind))?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let limit = Duration::from_secs(cli.max_runtime_secs);
        tokio::time::timeout(limit, run(&cli))
            .await
            .with_context(|| format!("the run took longer than {} s", cli.max_runtime_secs))?
    })
}

/// A measured server: its target and a way to read its memory.
struct Measured {
    target: Target,
    /// Keeps the server the bench started running (it is killed when this is dropped).
    _process: Option<ServerProcess>,
    pid: Option<u32>,
}

impl Measured {
    fn rss(&self) -> impl Fn() -> Option<u64> + '_ {
        move || self.pid.and_then(poker_bench::process::rss_kib)
    }

    fn cpu(&self) -> impl Fn() -> Option<f64> + '_ {
        move || self.pid.and_then(poker_bench::process::cpu_seconds)
    }
}

async fn start(cli: &Cli, kind: Kind) -> Result<Measured> {
    match kind {
        Kind::Baseline => {
            let process = ServerProcess::baseline().await?;
            Ok(Measured {
                target: Target::baseline(&process.url)?,
                pid: Some(process.pid),
                _process: Some(process),
            })
        }
        Kind::Server => {
            if let Some(url) = &cli.server_url {
                return Ok(Measured {
                    target: Target::server(url, &cli.admin_password).await?,
                    _process: None,
                    pid: cli.server_pid,
                });
            }
            let binary = match &cli.server_bin {
                Some(path) => path.clone(),
                None => std::env::current_exe()?.with_file_name("planning-poker"),
            };
            let process =
                ServerProcess::real(&binary, cli.database_url.as_deref(), &cli.admin_password)
                    .await?;
            let target = Target::server(&process.url, &cli.admin_password).await?;
            Ok(Measured {
                target,
                pid: Some(process.pid),
                _process: Some(process),
            })
        }
    }
}

async fn run(cli: &Cli) -> Result<()> {
    let fds = raise_fd_limit();
    if let Command::Cluster(a) = &cli.command {
        return run_cluster(cli, a).await;
    }
    let kinds: Vec<Kind> = match cli.against {
        Against::Both => vec![Kind::Baseline, Kind::Server],
        Against::Baseline => vec![Kind::Baseline],
        Against::Server => vec![Kind::Server],
    };
    if let Command::Idle(args) = &cli.command {
        if args.connections as u64 + 256 > fds {
            bail!("{} connections need more open files than this process may have ({fds}); raise `ulimit -n`", args.connections);
        }
    }
    let mut results: Vec<(Kind, Value)> = Vec::new();
    let mut config = Value::Null;
    for kind in kinds {
        eprintln!("== {} ==", kind.name());
        let measured = start(cli, kind).await?;
        let target = &measured.target;
        let outcome = match &cli.command {
            Command::Fanout(a) => {
                let c = fanout::Config {
                    sessions: a.sessions,
                    participants: a.participants,
                    interval_ms: a.interval_ms,
                    duration_secs: a.duration_secs,
                };
                config = json!(c);
                json!(fanout::run(target, &c, measured.rss(), measured.cpu()).await?)
            }
            Command::Idle(a) => {
                let c = idle::Config {
                    connections: a.connections,
                    participants: a.participants,
                    probe_sessions: a.probe_sessions,
                    probe_secs: a.probe_secs,
                };
                config = json!(c);
                json!(idle::run(target, &c, measured.rss()).await?)
            }
            Command::JoinStorm(a) => {
                let c = join_storm::Config {
                    users: a.users.clone(),
                    timeout_secs: a.timeout_secs,
                };
                config = json!(c);
                json!(join_storm::run(target, &c).await?)
            }
            Command::Ramp(a) => {
                let c = ramp::Config {
                    sessions: a.sessions,
                    participants: a.participants,
                    bound_ms: a.bound_ms,
                    stage_secs: a.stage_secs,
                    start_rate: a.start_rate,
                    factor: a.factor,
                    max_rate: a.max_rate,
                };
                config = json!(c);
                json!(ramp::run(target, &c).await?)
            }
            Command::SlowReader(a) => {
                let c = slow_reader::Config {
                    sessions: a.sessions,
                    participants: a.participants,
                    interval_ms: a.interval_ms,
                    duration_secs: a.duration_secs,
                    description_bytes: a.description_bytes,
                };
                config = json!(c);
                json!(slow_reader::run(target, &c).await?)
            }
            Command::Cluster(_) => unreachable!("handled in run_cluster"),
            Command::BaselineServer { .. } => unreachable!("handled in main"),
        };
        results.push((kind, outcome));
        drop(measured);
    }
    let get = |kind: Kind| {
        results
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| v.clone())
    };
    let (b, s) = (get(Kind::Baseline), get(Kind::Server));
    let (title, rows) = table(&cli.command, b.as_ref(), s.as_ref())?;
    report::print(&title, &rows);
    if let Some(path) = &cli.json {
        let doc = json!({
            "scenario": title,
            "config": config,
            "machine": {"cores": std::thread::available_parallelism().map_or(0, |n| n.get())},
            "baseline": b,
            "server": s,
            "table": rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `cluster` measures the real server against itself (one process, then two), so it starts
/// its own processes and has no baseline.
async fn run_cluster(cli: &Cli, a: &ClusterArgs) -> Result<()> {
    if cli.server_url.is_some() {
        bail!("cluster starts its own server processes: drop --server-url");
    }
    if cli.against == Against::Baseline {
        bail!("cluster compares the real server with itself: there is no baseline run");
    }
    let database_url = cli.database_url.clone().context(
        "cluster needs --database-url postgres://… (a fresh database is created through it for each phase)",
    )?;
    let binary = match &cli.server_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("planning-poker"),
    };
    let setup = cluster::Setup {
        binary,
        database_url,
        redis_url: a.redis_url.clone(),
        admin_password: cli.admin_password.clone(),
    };
    let config = cluster::Config {
        sessions: a.sessions,
        participants: a.participants,
        interval_ms: a.interval_ms,
        duration_secs: a.duration_secs,
        runs: a.runs,
        client_timeout_secs: a.client_timeout_secs,
        jitter: a.jitter,
        moderator_votes: a.moderator_votes,
        without_redis_phase: !a.skip_no_redis,
    };
    let outcome = cluster::run(&setup, &config).await?;
    cluster::print(&config, &outcome);
    if let Some(path) = &cli.json {
        let doc = json!({
            "scenario": "cluster",
            "config": config,
            "machine": {"cores": std::thread::available_parallelism().map_or(0, |n| n.get())},
            "outcome": outcome,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> Result<Option<T>> {
    v.map(|v| serde_json::from_value(v.clone()).map_err(anyhow::Error::from))
        .transpose()
}

fn table(command: &Command, b: Option<&Value>, s: Option<&Value>) -> Result<(String, Vec<Row>)> {
    Ok(match command {
        Command::Fanout(a) => {
            let (b, s): (Option<FanoutView>, Option<FanoutView>) = (parse(b)?, parse(s)?);
            let mut rows =
                report::voting_rows(b.as_ref().map(|o| &o.voting), s.as_ref().map(|o| &o.voting));
            rows.push(Row::new(
                "server memory before (MiB)",
                mib(b.as_ref().and_then(|o| o.rss_before_kib)),
                mib(s.as_ref().and_then(|o| o.rss_before_kib)),
            ));
            rows.push(Row::new(
                "server memory after (MiB)",
                mib(b.as_ref().and_then(|o| o.rss_after_kib)),
                mib(s.as_ref().and_then(|o| o.rss_after_kib)),
            ));
            rows.push(Row::new(
                "server CPU while voting (s)",
                b.as_ref().and_then(|o| o.server_cpu_secs),
                s.as_ref().and_then(|o| o.server_cpu_secs),
            ));
            if let Some((ok, total)) = s.as_ref().and_then(|o| o.persisted) {
                rows.push(Row::new(
                    "last votes persisted (of voters)",
                    None,
                    Some(ok as f64),
                ));
                rows.push(Row::new("voters", None, Some(total as f64)));
            }
            (
                format!(
                    "fanout: {} sessions × {} participants, a vote per voter every {} ms for {} s",
                    a.sessions, a.participants, a.interval_ms, a.duration_secs
                ),
                rows,
            )
        }
        Command::Idle(a) => {
            let (b, s): (Option<IdleView>, Option<IdleView>) = (parse(b)?, parse(s)?);
            let mut rows = vec![
                Row::new(
                    "connections",
                    b.as_ref().map(|o| o.connections as f64),
                    s.as_ref().map(|o| o.connections as f64),
                ),
                Row::new(
                    "still open at the end",
                    b.as_ref().map(|o| o.still_open as f64),
                    s.as_ref().map(|o| o.still_open as f64),
                ),
                Row::new(
                    "server memory per connection (KiB)",
                    b.as_ref().and_then(|o| o.kib_per_connection),
                    s.as_ref().and_then(|o| o.kib_per_connection),
                ),
                Row::new(
                    "server memory before (MiB)",
                    mib(b.as_ref().and_then(|o| o.rss_before_kib)),
                    mib(s.as_ref().and_then(|o| o.rss_before_kib)),
                ),
                Row::new(
                    "server memory after (MiB)",
                    mib(b.as_ref().and_then(|o| o.rss_after_kib)),
                    mib(s.as_ref().and_then(|o| o.rss_after_kib)),
                ),
            ];
            rows.extend(report::percentile_rows(
                "connect time",
                b.as_ref().map(|o| &o.connect_time),
                s.as_ref().map(|o| &o.connect_time),
            ));
            rows.extend(report::voting_rows(
                b.as_ref().map(|o| &o.probe),
                s.as_ref().map(|o| &o.probe),
            ));
            (
                format!(
                    "idle: {} connections in sessions of {}, probe votes in {} sessions",
                    a.connections, a.participants, a.probe_sessions
                ),
                rows,
            )
        }
        Command::JoinStorm(_) => {
            let (b, s): (Option<join_storm::Outcome>, Option<join_storm::Outcome>) =
                (parse(b)?, parse(s)?);
            let storms = |o: &Option<join_storm::Outcome>, n: usize| {
                o.as_ref()
                    .and_then(|o| o.storms.iter().find(|x| x.users == n).cloned())
            };
            let sizes: Vec<usize> = b
                .as_ref()
                .or(s.as_ref())
                .map(|o| o.storms.iter().map(|x| x.users).collect())
                .unwrap_or_default();
            let mut rows = Vec::new();
            for n in sizes {
                let (bs, ss) = (storms(&b, n), storms(&s, n));
                rows.push(Row::new(
                    format!("N={n}: frames received"),
                    bs.as_ref().map(|x| x.frames_received as f64),
                    ss.as_ref().map(|x| x.frames_received as f64),
                ));
                rows.push(Row::new(
                    format!("N={n}: frames per user"),
                    bs.as_ref().map(|x| x.frames_per_user),
                    ss.as_ref().map(|x| x.frames_per_user),
                ));
                rows.push(Row::new(
                    format!("N={n}: all complete after, max (ms)"),
                    bs.as_ref().map(|x| x.complete_after.max),
                    ss.as_ref().map(|x| x.complete_after.max),
                ));
                rows.push(Row::new(
                    format!("N={n}: clients incomplete"),
                    bs.as_ref().map(|x| x.incomplete_clients as f64),
                    ss.as_ref().map(|x| x.incomplete_clients as f64),
                ));
            }
            (
                "join-storm: N users join one session at once".to_string(),
                rows,
            )
        }
        Command::Ramp(a) => {
            let (b, s): (Option<ramp::Outcome>, Option<ramp::Outcome>) = (parse(b)?, parse(s)?);
            let rows = vec![Row::new(
                format!("highest votes/s with whole-session p99 < {} ms", a.bound_ms),
                b.as_ref().map(|o| o.highest_rate_held),
                s.as_ref().map(|o| o.highest_rate_held),
            )];
            (
                format!(
                    "ramp: {} sessions × {} participants, ×{} per {} s stage",
                    a.sessions, a.participants, a.factor, a.stage_secs
                ),
                rows,
            )
        }
        Command::SlowReader(a) => {
            let (b, s): (Option<slow_reader::Outcome>, Option<slow_reader::Outcome>) =
                (parse(b)?, parse(s)?);
            let mut rows = Vec::new();
            for (label, pick) in [
                (
                    "all reading",
                    (|o: &slow_reader::Outcome| o.steady.clone()) as fn(&_) -> _,
                ),
                ("one not reading per session", |o: &slow_reader::Outcome| {
                    o.with_slow_readers.clone()
                }),
            ] {
                let (bv, sv) = (b.as_ref().map(pick), s.as_ref().map(pick));
                for row in report::voting_rows(bv.as_ref(), sv.as_ref()) {
                    rows.push(Row::new(
                        format!("{label}: {}", row.figure),
                        row.baseline,
                        row.server,
                    ));
                }
            }
            rows.push(Row::new(
                "slow sockets closed with 1013",
                b.as_ref().map(|o| o.closed_1013 as f64),
                s.as_ref().map(|o| o.closed_1013 as f64),
            ));
            rows.push(Row::new(
                "slow sockets reset (no close frame)",
                b.as_ref().map(|o| o.reset as f64),
                s.as_ref().map(|o| o.reset as f64),
            ));
            rows.push(Row::new(
                "slow sockets still open at the end",
                b.as_ref().map(|o| o.still_open as f64),
                s.as_ref().map(|o| o.still_open as f64),
            ));
            (
                format!(
                    "slow-reader: {} sessions × {} participants, a vote per voter every {} ms for {} s, \
                     twice: all reading, then one socket per session not reading ({} B stories)",
                    a.sessions, a.participants, a.interval_ms, a.duration_secs, a.description_bytes
                ),
                rows,
            )
        }
        Command::Cluster(_) => unreachable!("handled in run_cluster"),
        Command::BaselineServer { .. } => unreachable!("handled in main"),
    })
}

#[derive(serde::Deserialize)]
struct FanoutView {
    voting: poker_bench::scenarios::VotingResult,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    persisted: Option<(u64, u64)>,
    server_cpu_secs: Option<f64>,
}

#[derive(serde::Deserialize)]
struct IdleView {
    connections: usize,
    connect_time: poker_bench::stats::Percentiles,
    kib_per_connection: Option<f64>,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    probe: poker_bench::scenarios::VotingResult,
    still_open: usize,
}
