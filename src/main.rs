//! `planning-poker`: parse the command line, load the settings, call into the crates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use poker_db::DatabaseUrl;
use poker_server::setup::{self, Rights};
use poker_server::{open_store, Settings};
use secrecy::ExposeSecret;

/// The version and the git commit of the build (see build.rs), for `--version`.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("POKER_GIT_COMMIT"),
    ")"
);

/// A realtime planning-poker server (WebSocket + REST, SQLite or PostgreSQL).
#[derive(Parser)]
#[command(version = VERSION, about)]
struct Cli {
    /// A TOML file of settings, read after config/default.toml and before the environment.
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default). On an empty database, creates the user `admin`.
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Add a demo session with four stories and three users (passwords printed) to try at once.
    Demo,
    /// Copy every row (users, tokens, sessions, stories, votes, settings) from one database to
    /// an empty other, keeping ids: e.g. from SQLite to PostgreSQL. Stop the servers first.
    CopyData(CopyData),
    /// Bring users (with their passwords and rights), poker sessions, stories and votes over
    /// from a database of the Django original; running it again changes nothing.
    ImportDjango(ImportDjango),
}

#[derive(Args)]
struct CopyData {
    /// The database to copy from, opened read-only: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, value_name = "URL")]
    from: String,
    /// The empty database to copy to (migrated first); the configured DATABASE_URL if not given.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
}

#[derive(Args)]
struct ImportDjango {
    /// The Django database (opened read-only): sqlite:///path/to/db.sqlite3 or
    /// postgres://user:password@host:port/db.
    url: String,
    /// Print what would be imported, and write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is generated and printed unless given.
    Create(CreateUser),
}

#[derive(Args)]
struct CreateUser {
    /// The login name (1–150 characters).
    username: String,
    /// The password; read from POKER_PASSWORD if set, else generated and printed.
    #[arg(long, env = "POKER_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// May vote.
    #[arg(long)]
    vote: bool,
    /// May moderate (reset votes, set points, move between stories).
    #[arg(long)]
    moderate: bool,
    /// May manage users, sessions and stories over the REST API.
    #[arg(long)]
    admin: bool,
}

fn main() -> ExitCode {
    // Room for many sockets: raise the soft open-file limit to the hard limit.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: cannot raise the open-file limit: {e}");
    }
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut redactor = settings.redactor();
    // copy-data's URLs are secrets too: a driver's error may quote them.
    if let Some(Command::CopyData(args)) = &cli.command {
        for url in std::iter::once(&args.from).chain(&args.to) {
            redactor = redactor.with_url(url);
        }
    }
    poker_server::logging::init(settings.log_format, redactor.clone());
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new()
            .block_on(poker_server::serve(settings))
            .map_err(|e| e.to_string()),
        Command::User(UserCommand::Create(args)) => create_user(&settings, args),
        Command::Demo => demo(&settings),
        Command::CopyData(args) => copy_data(&settings, args),
        Command::ImportDjango(args) => import_django(&settings, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", redactor.redact(&e));
            ExitCode::FAILURE
        }
    }
}

fn create_user(settings: &Settings, args: CreateUser) -> Result<(), String> {
    let store = open_store(settings).map_err(|e| e.to_string())?;
    let (password, generated) = match args.password {
        Some(p) => (p, false),
        None => (setup::generate_password(), true),
    };
    let rights = Rights {
        can_vote: args.vote,
        can_moderate: args.moderate,
        is_admin: args.admin,
    };
    let user = setup::create_user(&store, &args.username, &password, rights)?;
    if generated {
        println!(
            "Created user {} (id {}) with password: {password}",
            user.username, user.id
        );
    } else {
        println!("Created user {} (id {})", user.username, user.id);
    }
    Ok(())
}

fn demo(settings: &Settings) -> Result<(), String> {
    let store = open_store(settings).map_err(|e| e.to_string())?;
    setup::ensure_admin(&store, settings.admin_password.expose_secret())?;
    let demo = setup::demo(&store)?;
    println!(
        "Demo session {} is ready, with four stories. Users:",
        demo.session_id
    );
    for (name, password, role) in &demo.users {
        println!("  {name:<12} {password}  ({role})");
    }
    println!("Start the server, log in as carol to moderate and as alice and bob to vote;");
    println!(
        "their sockets go to ws://{}/ws/poker/{}/",
        settings.bind, demo.session_id
    );
    Ok(())
}

fn copy_data(settings: &Settings, args: CopyData) -> Result<(), String> {
    let from = DatabaseUrl::parse(&args.from).map_err(|e| format!("--from: {e}"))?;
    let to = match &args.to {
        Some(url) => DatabaseUrl::parse(url).map_err(|e| format!("--to: {e}"))?,
        None => DatabaseUrl::parse(settings.database_url.expose_secret())
            .map_err(|e| format!("--to (DATABASE_URL): {e}"))?,
    };
    let report = poker_db::copy::copy_data(&from, &to).map_err(|e| e.to_string())?;
    println!("{report}");
    Ok(())
}

fn import_django(settings: &Settings, args: ImportDjango) -> Result<(), String> {
    let store = open_store(settings).map_err(|e| e.to_string())?;
    let summary = poker_db::django::import(
        &args.url,
        &store,
        args.dry_run,
        &poker_server::api::stories::sanitize_description,
    )
    .map_err(|e| e.to_string())?;
    print!("{summary}");
    Ok(())
}
