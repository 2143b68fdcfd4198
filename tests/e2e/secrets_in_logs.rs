//! Secrets never reach the logs: the server runs with `RUST_LOG=debug`, an admin password, a
//! cookie key and (PostgreSQL) a password inside `DATABASE_URL`, is used a little (a token, an
//! invite link opened and joined, a webhook's generated secret), and nothing it printed on
//! stdout or stderr contains any of them. A refused database URL is redacted too.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use crate::support::Backend;

both_backends!(secrets_appear_in_no_log_line);

const BIN: &str = env!("CARGO_BIN_EXE_planning-poker");
const LISTENING: &str = "planning-poker listening on http://";
const ADMIN_PASSWORD: &str = "Adm1n-pw-never-logged";
const DB_PASSWORD: &str = "s3cret-pw";
/// Base64 of 64 bytes.
const COOKIE_KEY: &str =
    "CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW+yBFao+02f4jSG2St9wBJg==";

/// Collects every line a stream prints.
fn collect(stream: impl AsyncRead + Unpin + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            into.lock().expect("the log is not poisoned").push(line);
        }
    });
}

/// The binary with a clean environment (nothing of the caller's settings) and `RUST_LOG=debug`.
fn command(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env("RUST_LOG", "debug")
        .env("BIND", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for key in [
        "REDIS_URL",
        "ALLOWED_ORIGINS",
        "COOKIE_SECURE",
        "LOGIN_DAYS",
        "DATABASE_POOL_SIZE",
        "TRUSTED_PROXIES",
    ] {
        cmd.env_remove(key);
    }
    cmd
}

/// A fresh PostgreSQL database (dropped afterwards) and its URL carrying [`DB_PASSWORD`]; the
/// test server's trust authentication ignores the password, which is the point: it only has
/// to be there to be leaked.
struct PgDb {
    admin: String,
    name: String,
}

impl PgDb {
    fn create() -> (PgDb, String) {
        use diesel::{Connection, RunQueryDsl};
        let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL is set");
        let name = format!("pp_e2e_secrets_{}", std::process::id());
        let mut conn = diesel::PgConnection::establish(&admin).expect("connect to PostgreSQL");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .expect("drop an old database");
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .expect("create the database");
        let mut url = reqwest::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        url.set_password(Some(DB_PASSWORD))
            .expect("the URL can carry a password");
        (PgDb { admin, name }, url.to_string())
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.admin) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

fn assert_no_secret(lines: &[String], secrets: &[&str], what: &str) {
    for line in lines {
        for secret in secrets {
            assert!(
                !line.contains(secret),
                "{what}: a secret appears in the output: {line}"
            );
        }
    }
}

async fn secrets_appear_in_no_log_line(backend: Backend) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_pg, database_url) = match backend {
        Backend::Sqlite => (None, format!("sqlite://{}/poker.db", dir.path().display())),
        Backend::Postgres => {
            let (db, url) = PgDb::create();
            (Some(db), url)
        }
    };
    let cookie_key = COOKIE_KEY.to_string();

    let mut cmd = command(dir.path());
    cmd.arg("serve")
        .env("DATABASE_URL", &database_url)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("COOKIE_KEY", &cookie_key);
    let mut child = cmd.spawn().expect("spawn the server");
    let output = Arc::new(Mutex::new(Vec::new()));
    collect(
        child.stderr.take().expect("stderr is piped"),
        output.clone(),
    );
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await.expect("read stdout") {
            output.lock().expect("not poisoned").push(line.clone());
            if let Some(rest) = line.split(LISTENING).nth(1) {
                return format!("http://{}", rest.trim());
            }
        }
        panic!("the server exited before listening: {:?}", output.lock());
    })
    .await
    .expect("the server listens within 60 s");
    collect(stdout.into_inner(), output.clone());

    // Use it a little: logins right and wrong, a token, a socket handshake with the token.
    let client = reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .build()
        .expect("a client");
    for password in ["wrong-guess", ADMIN_PASSWORD] {
        client
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"username": "admin", "password": password}))
            .send()
            .await
            .expect("a login is answered");
    }
    let token: serde_json::Value = client
        .post(format!("{base}/api/auth/tokens"))
        .send()
        .await
        .expect("a token")
        .json()
        .await
        .expect("a token as JSON");
    let token = token["token"].as_str().expect("a token string").to_string();
    let status = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz")
        .status();
    assert_eq!(status, 200);
    let _ = client
        .get(format!("{base}/api/sessions?token={token}"))
        .send()
        .await;
    // An invite link, opened and used (its secret is in the paths), and a webhook's secret.
    let session: serde_json::Value = client
        .post(format!("{base}/api/sessions"))
        .json(&json!({"name": "Sprint", "poker_date": "2026-12-03"}))
        .send()
        .await
        .expect("a session")
        .json()
        .await
        .expect("a session as JSON");
    let invite: serde_json::Value = client
        .post(format!("{base}/api/sessions/{}/invites", session["id"]))
        .json(&json!({}))
        .send()
        .await
        .expect("an invite")
        .json()
        .await
        .expect("an invite as JSON");
    let invite = invite["token"]
        .as_str()
        .expect("an invite token")
        .to_string();
    let guest = reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .build()
        .expect("a guest's client");
    for path in [format!("/join/{invite}"), format!("/api/invites/{invite}")] {
        let status = guest
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("the invite link is answered")
            .status();
        assert_eq!(status, 200, "{path}");
    }
    let joined = guest
        .post(format!("{base}/api/invites/{invite}/join"))
        .json(&json!({"name": "Gustav"}))
        .send()
        .await
        .expect("a guest joins")
        .status();
    assert_eq!(joined, 201);
    let hook: serde_json::Value = client
        .post(format!("{base}/api/webhooks"))
        .json(&json!({"url": "http://127.0.0.1:9/hook"}))
        .send()
        .await
        .expect("a webhook")
        .json()
        .await
        .expect("a webhook as JSON");
    let hook_secret = hook["secret"]
        .as_str()
        .expect("a generated secret")
        .to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = child.kill().await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let lines = output.lock().expect("not poisoned").clone();
    assert!(
        lines.iter().any(|l| l.contains("DEBUG")),
        "the server logged at debug level: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/api/invites/{token}/join")),
        "the join's access line names the path with its secret left out: {lines:?}"
    );
    let mut secrets = vec![
        ADMIN_PASSWORD,
        cookie_key.as_str(),
        token.as_str(),
        invite.as_str(),
        hook_secret.as_str(),
    ];
    if backend == Backend::Postgres {
        secrets.push(DB_PASSWORD);
    }
    assert_no_secret(&lines, &secrets, "a server at debug level");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_database_url_is_reported_without_its_password() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for url in [
        format!("mysql://root:{DB_PASSWORD}@127.0.0.1/poker"),
        // Nothing listens on port 1: the connection error is reported, the password not.
        format!("postgres://postgres:{DB_PASSWORD}@127.0.0.1:1/poker?connect_timeout=2"),
    ] {
        let mut cmd = command(dir.path());
        cmd.arg("serve").env("DATABASE_URL", &url);
        let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
            .await
            .expect("the server gives up within 60 s")
            .expect("run the binary");
        assert!(!out.status.success(), "{url} cannot be served");
        let lines: Vec<String> = [out.stdout, out.stderr]
            .iter()
            .flat_map(|o| {
                String::from_utf8_lossy(o)
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(
            lines.iter().any(|l| l.contains("error")),
            "{url}: the failure is reported: {lines:?}"
        );
        assert_no_secret(&lines, &[DB_PASSWORD], &url);
    }
}
