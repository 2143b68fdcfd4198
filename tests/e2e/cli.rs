//! The command line as a newcomer meets it: `--help`, the first start (generated admin password,
//! default SQLite file under `data/`), `user create`, `demo`, and `--config`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_planning-poker");
const LISTENING: &str = "planning-poker listening on http://";

/// The binary with none of the server's settings inherited from the environment.
fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for key in [
        "DATABASE_URL",
        "BIND",
        "ADMIN_PASSWORD",
        "REDIS_URL",
        "COOKIE_KEY",
        "POKER_PASSWORD",
        "SESSION_END_REDIRECT_URL",
        "CLIENT_TIMEOUT_SECS",
        "PING_INTERVAL_SECS",
    ] {
        cmd.env_remove(key);
    }
    cmd
}

/// Runs a command to completion and returns (success, stdout, stderr).
async fn run(mut cmd: Command) -> (bool, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the command finishes within 60 s")
        .expect("run the binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A server started by a test; killed on drop.
struct Serving {
    _child: Child,
    base: String,
    /// What it printed before it was listening.
    printed: Vec<String>,
}

async fn serve(mut cmd: Command) -> Serving {
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawn the server");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.split(LISTENING).nth(1) {
                return format!("http://{}", rest.trim());
            }
            printed.push(line);
        }
        panic!("the server exited before listening; it printed {printed:?}");
    })
    .await
    .expect("the server listens within 60 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Serving {
        _child: child,
        base,
        printed,
    }
}

async fn login(base: &str, username: &str, password: &str) -> Option<Value> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let reply = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login request");
    if reply.status() != 200 {
        return None;
    }
    let me: Value = client
        .get(format!("{base}/api/auth/me"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    Some(me)
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pp-cli-")
        .tempdir()
        .expect("temporary directory")
}

#[tokio::test(flavor = "multi_thread")]
async fn help_explains_every_command() {
    let dir = tempdir();
    let mut cmd = command(dir.path());
    cmd.arg("--help");
    let (ok, out, _) = run(cmd).await;
    assert!(ok, "--help succeeds");
    for word in ["serve", "user", "demo", "copy-data", "--config"] {
        assert!(out.contains(word), "--help mentions {word}: {out}");
    }
    let mut cmd = command(dir.path());
    cmd.args(["user", "create", "--help"]);
    let (ok, out, _) = run(cmd).await;
    assert!(ok, "user create --help succeeds");
    for word in ["--vote", "--moderate", "--admin", "--password"] {
        assert!(
            out.contains(word),
            "user create --help mentions {word}: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn version_names_the_version_and_the_commit_built_from() {
    let dir = tempdir();
    let mut cmd = command(dir.path());
    cmd.arg("--version");
    let (ok, out, _) = run(cmd).await;
    assert!(ok, "--version succeeds");
    // The commit as git tells it now; cargo rebuilds the binary whenever HEAD moves.
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let commit = std::env::var("POKER_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or(commit);
    assert_eq!(
        out.trim(),
        format!(
            "planning-poker {} (commit {commit})",
            env!("CARGO_PKG_VERSION")
        ),
        "--version prints the version and the commit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn first_start_uses_sqlite_under_data_and_prints_the_admin_password_once() {
    let dir = tempdir();
    let mut cmd = command(dir.path());
    cmd.env("BIND", "127.0.0.1:0");
    let server = serve(cmd).await;
    assert!(
        dir.path().join("data/planning-poker.db").exists(),
        "the default database file is data/planning-poker.db"
    );
    let line = server
        .printed
        .iter()
        .find(|l| l.contains("admin /"))
        .unwrap_or_else(|| panic!("the generated password is printed: {:?}", server.printed));
    let password = line
        .split("admin / ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a password after 'admin / '")
        .to_string();
    let me = login(&server.base, "admin", &password)
        .await
        .expect("the printed password logs admin in");
    assert_eq!(me["permissions"], json!(["vote", "moderate", "admin"]));
    drop(server);

    let mut again = command(dir.path());
    again.env("BIND", "127.0.0.1:0");
    let server = serve(again).await;
    assert!(
        !server.printed.iter().any(|l| l.contains("admin /")),
        "the password is printed only on the first start: {:?}",
        server.printed
    );
    assert!(
        login(&server.base, "admin", &password).await.is_some(),
        "the same password still works"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn user_create_adds_users_with_chosen_rights() {
    let dir = tempdir();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let mut cmd = command(dir.path());
    cmd.env("DATABASE_URL", &db).args([
        "user",
        "create",
        "alice",
        "--vote",
        "--password",
        "alice-pw",
    ]);
    let (ok, out, err) = run(cmd).await;
    assert!(ok, "user create succeeds: {out} {err}");

    let mut cmd = command(dir.path());
    cmd.env("DATABASE_URL", &db)
        .args(["user", "create", "mod", "--moderate"]);
    let (ok, out, err) = run(cmd).await;
    assert!(ok, "user create with a generated password succeeds: {err}");
    let generated = out
        .split("password: ")
        .nth(1)
        .map(str::trim)
        .expect("the generated password is printed")
        .to_string();

    let mut cmd = command(dir.path());
    cmd.env("DATABASE_URL", &db)
        .args(["user", "create", "alice", "--password", "x"]);
    let (ok, _, err) = run(cmd).await;
    assert!(!ok, "a duplicate username fails");
    assert!(err.contains("exists"), "and says why: {err}");

    let mut cmd = command(dir.path());
    cmd.env("DATABASE_URL", &db)
        .env("BIND", "127.0.0.1:0")
        .env("ADMIN_PASSWORD", "admin-pw");
    let server = serve(cmd).await;
    let alice = login(&server.base, "alice", "alice-pw")
        .await
        .expect("alice logs in");
    assert_eq!(alice["permissions"], json!(["vote"]));
    let moderator = login(&server.base, "mod", &generated)
        .await
        .expect("mod logs in with the printed password");
    assert_eq!(moderator["permissions"], json!(["moderate"]));
    // The users existed before the first start, so no admin was created by it.
    assert!(
        login(&server.base, "admin", "admin-pw").await.is_none(),
        "admin is only created on an empty database"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_fills_in_a_session_ready_to_play() {
    let dir = tempdir();
    let db = format!("sqlite://{}/demo.db", dir.path().display());
    let mut cmd = command(dir.path());
    cmd.env("DATABASE_URL", &db)
        .env("ADMIN_PASSWORD", "admin-pw")
        .arg("demo");
    let (ok, out, err) = run(cmd).await;
    assert!(ok, "demo succeeds: {err}");
    let session_id: i64 = out
        .split("Demo session ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("demo names its session: {out}"));
    let password_of = |name: &str| -> String {
        out.lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("demo prints {name}'s password: {out}"))
            .to_string()
    };

    let mut cmd = command(dir.path());
    cmd.env("DATABASE_URL", &db).env("BIND", "127.0.0.1:0");
    let server = serve(cmd).await;
    let carol = login(&server.base, "carol", &password_of("carol"))
        .await
        .expect("carol logs in");
    assert_eq!(carol["permissions"], json!(["moderate"]));
    for voter in ["alice", "bob"] {
        let me = login(&server.base, voter, &password_of(voter))
            .await
            .expect("voters log in");
        assert_eq!(me["permissions"], json!(["vote"]));
    }
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    client
        .post(format!("{}/api/auth/login", server.base))
        .json(&json!({"username": "carol", "password": password_of("carol")}))
        .send()
        .await
        .expect("login");
    let session: Value = client
        .get(format!("{}/api/sessions/{session_id}", server.base))
        .send()
        .await
        .expect("get session")
        .json()
        .await
        .expect("json");
    assert_eq!(
        session["stories"].as_array().map(Vec::len),
        Some(4),
        "the demo session has four stories: {session}"
    );
    assert!(
        login(&server.base, "admin", "admin-pw").await.is_some(),
        "demo on an empty database also creates admin"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_file_sits_between_the_defaults_and_the_environment() {
    let dir = tempdir();
    let file = dir.path().join("poker.toml");
    let db = format!("sqlite://{}/from-file.db", dir.path().display());
    std::fs::write(
        &file,
        format!(
            "database_url = \"{db}\"\nbind = \"127.0.0.1:1\"\nadmin_password = \"from-file\"\n"
        ),
    )
    .expect("write the config file");
    let mut cmd = command(dir.path());
    // The environment overrides the file's bind; the file's database and password stay.
    cmd.env("BIND", "127.0.0.1:0")
        .arg("--config")
        .arg(&file)
        .arg("serve");
    let server = serve(cmd).await;
    assert!(
        dir.path().join("from-file.db").exists(),
        "the file's database_url is used"
    );
    assert!(
        login(&server.base, "admin", "from-file").await.is_some(),
        "the file's admin_password is used"
    );

    let mut cmd = command(dir.path());
    cmd.arg("--config").arg(dir.path().join("missing.toml"));
    let (ok, _, err) = run(cmd).await;
    assert!(!ok, "a missing config file is an error");
    assert!(err.contains("missing.toml"), "naming the file: {err}");
}
