//! `poker-bench`: runs a scenario against the baseline and the real server, back to back (in
//! paired runs), and prints each figure beside the other with their ratio (and writes JSON
//! with `--json`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use poker_bench::process::raise_fd_limit;
use poker_bench::runner::{self, BaselineLaunch, Scenario, Setup};
use poker_bench::scenarios::{
    cluster, fanout, idle, join_storm, logins, ramp, rest_under_load, slow_reader,
};
use poker_bench::target::Kind;
use serde_json::json;

/// What `--help` says about vote secrecy (the same as every header line).
const SECRECY_HELP: &str = "Vote secrecy: every scenario that creates sessions creates them \
with secret_votes: false (checked in the server's answer), as the baseline has no secrecy: \
every member is entitled to every vote, and a vote counts as delivered when all members \
(the voter and the moderator included) have it.";

/// Load generator and benchmark for planning-poker (loopback targets only).
#[derive(Parser)]
#[command(version, about, after_help = SECRECY_HELP)]
struct Cli {
    /// Which servers to measure; `both` runs the baseline, then the real server (each run).
    #[arg(long, value_enum, default_value_t = Against::Both, global = true)]
    against: Against,
    /// The real server's binary, started on a fresh database for every measurement.
    /// Default: `planning-poker` beside this binary.
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// Use an already running real server instead of starting one (memory needs --server-pid;
    /// every run then measures that same server and its database).
    #[arg(long, global = true)]
    server_url: Option<String>,
    /// The pid of the server at --server-url, to read its memory and CPU.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// The `admin` password of the real server.
    #[arg(long, default_value = "bench-admin-password", global = true)]
    admin_password: String,
    /// PostgreSQL admin URL (loopback), e.g. postgres://postgres@127.0.0.1:5432/postgres: any
    /// database its user may connect to and create databases from. Every start of the real
    /// server gets a fresh database pp_bench_<scenario>_<unique>, created through it and
    /// dropped afterwards. Without it: a fresh SQLite file for every start.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Also write the results as JSON to this file (every run's outcomes and the summary).
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
    /// S sessions × P participants; every member that may vote votes about every interval
    /// (the moderator too, by default), jittered; optionally REST reads meanwhile.
    #[command(after_help = SECRECY_HELP)]
    Fanout(FanoutArgs),
    /// C idle connections with heartbeats: memory per connection, connect time, probe latency.
    #[command(after_help = SECRECY_HELP)]
    Idle(IdleArgs),
    /// N users join one session at once: frames received and time to a full participants list.
    #[command(after_help = SECRECY_HELP)]
    JoinStorm(StormArgs),
    /// Raise the vote rate until the whole-session p99 passes a bound; `--svg` plots it.
    #[command(after_help = SECRECY_HELP)]
    Ramp(RampArgs),
    /// The fan-out, then again with a client per session that never reads: latency should hold.
    #[command(after_help = SECRECY_HELP)]
    SlowReader(SlowReaderArgs),
    /// The fan-out twice on one server: without REST traffic, then with GET /api/sessions/{id}
    /// at --rest-rate; the fan-out p99 should move by at most 10 %.
    #[command(after_help = SECRECY_HELP)]
    RestUnderLoad(RestUnderLoadArgs),
    /// N users each log in once over REST: the server's resident memory before and after, and
    /// the logins' latency. Real server only: the baseline has no accounts.
    Logins(LoginsArgs),
    /// The fan-out on one process, then with each session's members spread over two processes
    /// sharing Redis (PostgreSQL; needs --database-url and --redis-url); then `kill -9` of one
    /// and the time until the other's members see its members leave. Real server only.
    #[command(after_help = SECRECY_HELP)]
    Cluster(ClusterArgs),
    /// Run the in-memory baseline server (used by the bench itself).
    #[command(hide = true)]
    BaselineServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: String,
    },
}

/// How votes are sent: shared by the scenarios built on the fan-out.
#[derive(Args, Clone)]
struct VotingArgs {
    /// Each vote goes a random 0 .. 2 × jitter × interval after its tick (at most 0.45): votes
    /// come about an interval apart, not in lockstep.
    #[arg(long, default_value_t = 0.25)]
    jitter: f64,
    /// Whether the moderator (member 0, who may vote and moderate) votes too.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    moderator_votes: bool,
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
    #[command(flatten)]
    voting: VotingArgs,
    /// Paired runs (baseline, then server, each freshly started); figures are medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// GET /api/sessions/{id} requests a second from a separate client while votes flow
    /// (0: none); its latency and errors are reported.
    #[arg(long, default_value_t = 0.0)]
    rest_rate: f64,
}

#[derive(Args)]
struct RestUnderLoadArgs {
    #[arg(short, long, default_value_t = 100)]
    sessions: usize,
    #[arg(short, long, default_value_t = 10)]
    participants: usize,
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Of each phase (without REST, then with).
    #[arg(long, default_value_t = 15)]
    duration_secs: u64,
    #[command(flatten)]
    voting: VotingArgs,
    /// Paired runs, each measuring both phases on the baseline, then on the server.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// GET /api/sessions/{id} requests a second (random session of the run) in the second
    /// phase, as the admin on the server (the baseline answers from memory, no accounts).
    #[arg(long, default_value_t = 100.0)]
    rest_rate: f64,
}

#[derive(Args)]
struct LoginsArgs {
    /// Users created, then each logged in once.
    #[arg(short, long, default_value_t = 1000)]
    users: usize,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Wait this long after the last login before reading the server's memory.
    #[arg(long, default_value_t = 2)]
    settle_secs: u64,
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
    /// Paired runs (baseline, then server, each freshly started).
    #[arg(long, default_value_t = 1)]
    runs: usize,
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
    #[command(flatten)]
    voting: VotingArgs,
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
    /// Each vote goes a random 0 .. 2 × jitter × its socket's interval after its tick.
    #[arg(long, default_value_t = 0.25)]
    jitter: f64,
    /// Whether the moderator (member 0) votes too.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    moderator_votes: bool,
    /// Paired runs (baseline, then server, each freshly started).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Write an SVG plot of whole-session p50 and p99 per stage against the achieved vote
    /// rate, baseline and server (log scales, the bound as a line). With several runs the
    /// median run (by highest rate held) is drawn fully and the others faintly.
    #[arg(long)]
    svg: Option<PathBuf>,
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

fn fanout_config(
    sessions: usize,
    participants: usize,
    interval_ms: u64,
    duration_secs: u64,
    voting: &VotingArgs,
    rest_rate: f64,
) -> fanout::Config {
    fanout::Config {
        sessions,
        participants,
        interval_ms,
        duration_secs,
        jitter: voting.jitter,
        moderator_votes: voting.moderator_votes,
        rest_rate,
    }
}

async fn run(cli: &Cli) -> Result<()> {
    let fds = raise_fd_limit();
    if let Command::Cluster(a) = &cli.command {
        return run_cluster(cli, a).await;
    }
    let (scenario, runs) = match &cli.command {
        Command::Fanout(a) => (
            Scenario::Fanout(fanout_config(
                a.sessions,
                a.participants,
                a.interval_ms,
                a.duration_secs,
                &a.voting,
                a.rest_rate,
            )),
            a.runs,
        ),
        Command::RestUnderLoad(a) => {
            if a.rest_rate <= 0.0 {
                bail!("rest-under-load needs a --rest-rate above 0");
            }
            (
                Scenario::RestUnderLoad(rest_under_load::Config {
                    fanout: fanout_config(
                        a.sessions,
                        a.participants,
                        a.interval_ms,
                        a.duration_secs,
                        &a.voting,
                        a.rest_rate,
                    ),
                }),
                a.runs,
            )
        }
        Command::Idle(a) => {
            if a.connections as u64 + 256 > fds {
                bail!("{} connections need more open files than this process may have ({fds}); raise `ulimit -n`", a.connections);
            }
            (
                Scenario::Idle(idle::Config {
                    connections: a.connections,
                    participants: a.participants,
                    probe_sessions: a.probe_sessions,
                    probe_secs: a.probe_secs,
                }),
                1,
            )
        }
        Command::JoinStorm(a) => (
            Scenario::JoinStorm(join_storm::Config {
                users: a.users.clone(),
                timeout_secs: a.timeout_secs,
            }),
            1,
        ),
        Command::Ramp(a) => (
            Scenario::Ramp(ramp::Config {
                sessions: a.sessions,
                participants: a.participants,
                bound_ms: a.bound_ms,
                stage_secs: a.stage_secs,
                start_rate: a.start_rate,
                factor: a.factor,
                max_rate: a.max_rate,
                jitter: a.jitter,
                moderator_votes: a.moderator_votes,
            }),
            a.runs,
        ),
        Command::SlowReader(a) => (
            Scenario::SlowReader(slow_reader::Config {
                sessions: a.sessions,
                participants: a.participants,
                interval_ms: a.interval_ms,
                duration_secs: a.duration_secs,
                description_bytes: a.description_bytes,
            }),
            a.runs,
        ),
        Command::Logins(a) => {
            if cli.against == Against::Baseline {
                bail!("logins: the baseline has no accounts; run it against the server");
            }
            (
                Scenario::Logins(logins::Config {
                    users: a.users,
                    parallel: a.parallel,
                    settle_secs: a.settle_secs,
                }),
                1,
            )
        }
        Command::Cluster(_) => unreachable!("handled above"),
        Command::BaselineServer { .. } => unreachable!("handled in main"),
    };
    if cli.server_url.is_some() && cli.database_url.is_some() {
        bail!("--database-url is for servers the bench starts; drop it with --server-url");
    }
    let setup = Setup {
        kinds: match cli.against {
            Against::Both => vec![Kind::Baseline, Kind::Server],
            Against::Baseline => vec![Kind::Baseline],
            Against::Server => vec![Kind::Server],
        },
        server_bin: match &cli.server_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("planning-poker"),
        },
        server_url: cli.server_url.clone(),
        server_pid: cli.server_pid,
        admin_password: cli.admin_password.clone(),
        database_url: cli.database_url.clone(),
        baseline: BaselineLaunch::Process,
    };
    eprintln!("{}", scenario.title());
    let report = runner::run(&setup, &scenario, runs).await?;
    runner::print(&setup, &scenario, &report);
    if let Command::Ramp(a) = &cli.command {
        if let Some(path) = &a.svg {
            runner::write_ramp_svg(&report, a.bound_ms, path)?;
            eprintln!("wrote {}", path.display());
        }
    }
    if let Some(path) = &cli.json {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&runner::json(&setup, &report))?,
        )
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
        jitter: a.voting.jitter,
        moderator_votes: a.voting.moderator_votes,
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
