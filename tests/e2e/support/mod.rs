//! The harness: starts the `planning-poker` binary on a fresh database (SQLite or PostgreSQL) and
//! drives it over REST (reqwest) and WebSocket (tokio-tungstenite), as PROTOCOL.md describes.

pub mod admin;
pub mod balancer;
pub mod browser;
pub mod cluster;
pub mod django;
pub mod proxy;

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use poker_bench::pg::FreshDatabase;
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::header::{
    AUTHORIZATION, COOKIE, ORIGIN, SEC_WEBSOCKET_PROTOCOL,
};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generates, for each scenario `async fn name(backend: Backend)` of the calling module, the
/// tests `sqlite::name` and `postgres::name`; the latter is ignored (with its reason) unless
/// `TEST_DATABASE_URL` was set when the tests were built.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                #[cfg_attr(
                    not(postgres_tests),
                    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
                )]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            )+
        }
    };
}

/// The password the server gives the `admin` user it creates on an empty database.
pub const ADMIN_PASSWORD: &str = "e2e-admin-secret";
/// How long to wait for a frame that must come.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a socket must stay quiet to count as "nothing arrived".
pub const SILENCE: Duration = Duration::from_millis(300);
/// How long the server may take to print its listening line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// What the server prints when it is ready.
const LISTENING: &str = "planning-poker listening on http://";

/// The database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Settings a scenario may change; `None` keeps the server's default.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub client_timeout_secs: Option<&'static str>,
    pub ping_interval_secs: Option<&'static str>,
    pub session_end_redirect_url: Option<&'static str>,
    pub database_timeout_secs: Option<&'static str>,
    pub socket_backlog_bytes: Option<&'static str>,
    /// PostgreSQL only: the server reaches its database at this address (a fault proxy's)
    /// instead of the one in `TEST_DATABASE_URL`.
    pub database_via: Option<std::net::SocketAddr>,
    /// Share live sessions through this Redis (`REDIS_URL`), under this prefix.
    pub redis: Option<(String, String)>,
    pub version_check_secs: Option<&'static str>,
    pub keep_alive_secs: Option<&'static str>,
    /// `INSTANCE_NAME` (`X-Served-By`); unset, the server names itself after the host.
    pub instance_name: Option<&'static str>,
    /// `ALLOWED_ORIGINS`: WebSocket origins allowed besides the server's own host.
    pub allowed_origins: Option<String>,
    /// `WEBHOOK_ATTEMPTS`, `WEBHOOK_RETRY_BASE_MS`, `WEBHOOK_TIMEOUT_SECS`.
    pub webhook_attempts: Option<&'static str>,
    /// `WEBHOOK_CA_FILE`: a PEM file of certificates https receivers may be signed by.
    pub webhook_ca_file: Option<String>,
    pub webhook_retry_base_ms: Option<&'static str>,
    pub webhook_timeout_secs: Option<&'static str>,
}

/// A name no other test (in this or another run) uses at the same time.
fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A loopback port free at the moment of asking, for a process the test starts (a balancer, a
/// browser driver, a server of a cluster). Another process may take it before that one binds
/// it; the callers that can tell (chromedriver exiting at once) ask again.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// A PostgreSQL database created for one test through `TEST_DATABASE_URL`, and dropped (with
/// any connection left) afterwards: the bench's own fresh databases.
pub async fn create_pg_database() -> FreshDatabase {
    let admin_url = std::env::var("TEST_DATABASE_URL").expect(
        "TEST_DATABASE_URL must be set at run time for the PostgreSQL tests, e.g. \
         postgres://postgres@127.0.0.1:5432/test",
    );
    FreshDatabase::create(&admin_url, &format!("e2e_{}", unique_suffix()))
        .await
        .unwrap_or_else(|e| panic!("cannot create a database through TEST_DATABASE_URL: {e:#}"))
}

/// A running server on its own database. The process is killed when this is dropped.
pub struct Server {
    options: ServerOptions,
    database_url: String,
    child: Option<Child>,
    port: u16,
    /// The server's working directory (and the SQLite file).
    _dir: tempfile::TempDir,
    /// Dropped after the process is killed (see `Drop`).
    _postgres: Option<FreshDatabase>,
}

impl Server {
    /// Starts a server with default settings on a fresh database.
    pub async fn start(backend: Backend) -> Server {
        Server::start_with(backend, ServerOptions::default()).await
    }

    /// Starts a server with the given settings on a fresh database.
    pub async fn start_with(backend: Backend, options: ServerOptions) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("pp-e2e-")
            .tempdir()
            .expect("create a temporary directory for the server");
        let (database_url, postgres) = match backend {
            Backend::Sqlite => {
                let path = dir.path().join("poker.db");
                let path = path.to_str().expect("the temporary path is UTF-8");
                // An absolute path: sqlite:// followed by /tmp/...
                (format!("sqlite://{path}"), None)
            }
            Backend::Postgres => {
                let db = create_pg_database().await;
                (db.url.clone(), Some(db))
            }
        };
        let mut server = Server {
            options,
            database_url,
            child: None,
            port: 0,
            _dir: dir,
            _postgres: postgres,
        };
        server.spawn().await;
        server
    }

    /// Starts a server on a database the caller made (and keeps until this server is dropped),
    /// such as the target of a `copy-data`.
    pub async fn start_on_database(database_url: String) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("pp-e2e-")
            .tempdir()
            .expect("create a temporary directory for the server");
        let mut server = Server {
            options: ServerOptions::default(),
            database_url,
            child: None,
            port: 0,
            _dir: dir,
            _postgres: None,
        };
        server.spawn().await;
        server
    }

    /// Starts another server process on the database of `first` (PostgreSQL), as a second
    /// replica behind a balancer would run. `first` must outlive it (it owns the database).
    pub async fn start_sharing(first: &Server, options: ServerOptions) -> Server {
        assert!(
            first.database_url.starts_with("postgres"),
            "processes share a PostgreSQL database, not SQLite"
        );
        let dir = tempfile::Builder::new()
            .prefix("pp-e2e-")
            .tempdir()
            .expect("create a temporary directory for the server");
        let mut server = Server {
            options,
            database_url: first.database_url.clone(),
            child: None,
            port: 0,
            _dir: dir,
            _postgres: None,
        };
        server.spawn().await;
        server
    }

    /// The database URL the server process gets (through the fault proxy, if any).
    fn server_database_url(&self) -> String {
        match self.options.database_via {
            Some(via) if self.database_url.starts_with("postgres") => {
                let mut url =
                    reqwest::Url::parse(&self.database_url).expect("the database URL parses");
                url.set_host(Some(&via.ip().to_string()))
                    .expect("the proxy's host is valid");
                url.set_port(Some(via.port()))
                    .expect("the proxy's port is valid");
                url.to_string()
            }
            _ => self.database_url.clone(),
        }
    }

    async fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_planning-poker"));
        cmd.arg("serve")
            .current_dir(self._dir.path())
            .env("DATABASE_URL", self.server_database_url())
            .env("BIND", "127.0.0.1:0")
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (key, value) in [
            ("CLIENT_TIMEOUT_SECS", self.options.client_timeout_secs),
            ("PING_INTERVAL_SECS", self.options.ping_interval_secs),
            (
                "SESSION_END_REDIRECT_URL",
                self.options.session_end_redirect_url,
            ),
            ("DATABASE_TIMEOUT_SECS", self.options.database_timeout_secs),
            ("SOCKET_BACKLOG_BYTES", self.options.socket_backlog_bytes),
            ("VERSION_CHECK_SECS", self.options.version_check_secs),
            ("KEEP_ALIVE_SECS", self.options.keep_alive_secs),
            ("INSTANCE_NAME", self.options.instance_name),
            ("WEBHOOK_ATTEMPTS", self.options.webhook_attempts),
            ("WEBHOOK_RETRY_BASE_MS", self.options.webhook_retry_base_ms),
            ("WEBHOOK_TIMEOUT_SECS", self.options.webhook_timeout_secs),
        ] {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        // Settings the tests rely on being at their defaults, whatever the environment says.
        match &self.options.redis {
            Some((url, prefix)) => cmd.env("REDIS_URL", url).env("REDIS_PREFIX", prefix),
            None => cmd.env_remove("REDIS_URL").env_remove("REDIS_PREFIX"),
        };
        match &self.options.webhook_ca_file {
            Some(path) => cmd.env("WEBHOOK_CA_FILE", path),
            None => cmd.env_remove("WEBHOOK_CA_FILE"),
        };
        match &self.options.allowed_origins {
            Some(origins) => cmd.env("ALLOWED_ORIGINS", origins),
            None => cmd.env_remove("ALLOWED_ORIGINS"),
        };
        for key in [
            "COOKIE_KEY",
            "COOKIE_SECURE",
            "LOGIN_DAYS",
            "DATABASE_POOL_SIZE",
            "TRUSTED_PROXIES",
        ] {
            cmd.env_remove(key);
        }
        let mut child = cmd.spawn().expect("spawn the planning-poker binary");
        let stdout = child.stdout.take().expect("the child's stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(STARTUP_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("read the server's stdout") {
                if let Some(rest) = line.split(LISTENING).nth(1) {
                    let port = rest
                        .rsplit_once(':')
                        .map(|(_, port)| port.trim().trim_end_matches('/'))
                        .and_then(|port| port.parse::<u16>().ok())
                        .unwrap_or_else(|| panic!("no port in the listening line {line:?}"));
                    return Some(port);
                }
                eprintln!("[server stdout] {line}");
            }
            None
        })
        .await
        .unwrap_or_else(|_| panic!("the server did not print {LISTENING:?} within 60 s"));
        let Some(port) = port else {
            let status = child.wait().await.expect("wait for the server");
            panic!("the server exited ({status}) before printing {LISTENING:?}");
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[server stdout] {line}");
            }
        });
        self.port = port;
        self.child = Some(child);
    }

    /// Kills the process, waits for it, and starts a new one on the same database.
    pub async fn restart(&mut self) {
        let mut child = self.child.take().expect("the server is running");
        child.kill().await.expect("kill the server");
        self.spawn().await;
    }

    /// Starts the server again after it exited (or was killed), on the same database.
    pub async fn start_again(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        self.spawn().await;
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`) to the server process.
    pub fn signal(&self, signal: &str) {
        let pid = self
            .child
            .as_ref()
            .and_then(|c| c.id())
            .expect("the server is running");
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Waits for the server process to exit, for at most `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("the server was started");
        tokio::time::timeout(within, child.wait())
            .await
            .unwrap_or_else(|_| panic!("the server did not exit within {within:?}"))
            .expect("wait for the server")
    }

    /// The SQLite file of a SQLite server.
    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self._dir.path().join("poker.db")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's `DATABASE_URL`.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// `http://127.0.0.1:PORT` (also the server's own Origin).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:PORT/ws/poker/{id}/`.
    pub fn ws_url(&self, session_id: i64) -> String {
        format!("ws://127.0.0.1:{}/ws/poker/{session_id}/", self.port)
    }

    /// A REST client without identity (it keeps cookies).
    pub fn http(&self) -> Http {
        Http::new(self.base_url(), None)
    }

    /// A REST client that authenticates with `Authorization: Bearer <token>`.
    pub fn http_with_token(&self, token: &str) -> Http {
        Http::new(self.base_url(), Some(token.to_string()))
    }

    /// A REST client logged in (cookie) as the given user.
    pub async fn login(&self, username: &str, password: &str) -> Http {
        let http = self.http();
        let reply = http
            .post(
                "/api/auth/login",
                json!({"username": username, "password": password}),
            )
            .await;
        reply.expect_status(200, &format!("log in as {username}"));
        http
    }

    /// A REST client logged in as `admin`.
    pub async fn admin(&self) -> Http {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates `count` users named `{prefix}{i}` (i from 0) with the given rights.
    pub async fn create_users(&self, prefix: &str, count: usize, rights: Rights) -> Vec<TestUser> {
        let mut users = Vec::with_capacity(count);
        for i in 0..count {
            users.push(self.create_user(&format!("{prefix}{i}"), rights).await);
        }
        users
    }

    /// Creates a user with the given rights and gets a bearer token for it.
    pub async fn create_user(&self, username: &str, rights: Rights) -> TestUser {
        let (can_vote, can_moderate) = rights.flags();
        let password = format!("pw-{username}-123");
        let user = self
            .admin()
            .await
            .post(
                "/api/users",
                json!({
                    "username": username,
                    "password": password,
                    "can_vote": can_vote,
                    "can_moderate": can_moderate,
                    "is_admin": false,
                }),
            )
            .await
            .expect_status(201, &format!("create user {username}"));
        let id = user["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("the created user has an integer id: {user}"));
        let mut user = TestUser {
            id,
            username: username.to_string(),
            password,
            rights,
            token: String::new(),
        };
        user.token = self.new_token(&user).await;
        user
    }

    /// Logs the user in and creates a fresh bearer token.
    pub async fn new_token(&self, user: &TestUser) -> String {
        let reply = self
            .login(&user.username, &user.password)
            .await
            .post("/api/auth/tokens", json!({}))
            .await
            .expect_status(201, &format!("create a token for {}", user.username));
        reply["token"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("POST /api/auth/tokens answers {{\"token\": \"...\"}}: {reply}")
            })
            .to_string()
    }

    /// Creates a session (default deck) with stories given as (ticket_number, title).
    pub async fn create_session(&self, name: &str, stories: &[(&str, &str)]) -> TestSession {
        let admin = self.admin().await;
        let session = admin
            .post(
                "/api/sessions",
                json!({"name": name, "poker_date": "2025-03-14"}),
            )
            .await
            .expect_status(201, &format!("create session {name}"));
        let id = session["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("the created session has an integer id: {session}"));
        let mut created = Vec::new();
        for (ticket_number, title) in stories {
            let story = admin
                .post(
                    &format!("/api/sessions/{id}/stories"),
                    json!({
                        "ticket_number": ticket_number,
                        "title": title,
                        "description": format!("What {ticket_number} is about"),
                    }),
                )
                .await
                .expect_status(201, &format!("create story {ticket_number}"));
            created.push(TestStory {
                id: story["id"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("the created story has an integer id: {story}")),
                label: if title.is_empty() {
                    ticket_number.to_string()
                } else {
                    format!("{ticket_number}: {title}")
                },
                description: story["description"]
                    .as_str()
                    .unwrap_or_else(|| panic!("the created story has a description: {story}"))
                    .to_string(),
            });
        }
        TestSession {
            id,
            stories: created,
        }
    }

    /// `GET /api/sessions/{id}` as admin.
    pub async fn get_session(&self, id: i64) -> Value {
        self.admin()
            .await
            .get(&format!("/api/sessions/{id}"))
            .await
            .expect_status(200, &format!("get session {id}"))
    }

    /// The session's `active_story_id` over REST.
    pub async fn active_story_id(&self, id: i64) -> Option<i64> {
        let session = self.get_session(id).await;
        match &session["active_story_id"] {
            Value::Null => None,
            Value::Number(n) => n.as_i64(),
            other => panic!("active_story_id is an integer or null, got {other}"),
        }
    }

    /// The session's stories over REST, in order.
    pub async fn stories(&self, id: i64) -> Vec<Value> {
        let stories = self
            .admin()
            .await
            .get(&format!("/api/sessions/{id}/stories"))
            .await
            .expect_status(200, &format!("list the stories of session {id}"));
        stories
            .as_array()
            .unwrap_or_else(|| panic!("GET /api/sessions/{id}/stories is an array: {stories}"))
            .clone()
    }

    /// A WebSocket handshake request for the session, without any identity, offering the
    /// subprotocol `poker.v2` (our events, as our web UI asks for them).
    pub fn ws_request(&self, url: &str) -> Request {
        let mut request = self.ws_request_original(url);
        request
            .headers_mut()
            .insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("poker.v2"));
        request
    }

    /// A handshake request as a client of the original writes it: no subprotocol, so the
    /// socket gets only the original's four events.
    pub fn ws_request_original(&self, url: &str) -> Request {
        url.into_client_request()
            .unwrap_or_else(|e| panic!("{url} is a valid WebSocket URL: {e}"))
    }

    /// Opens a socket on the session as the user (bearer token). Reads nothing.
    pub async fn connect(&self, session_id: i64, user: &TestUser) -> WsClient {
        let request = with_bearer(self.ws_request(&self.ws_url(session_id)), &user.token);
        WsClient::connect(request, &user.username)
            .await
            .unwrap_or_else(|e| panic!("{} connects to session {session_id}: {e}", user.username))
    }

    /// Opens a socket as a client of the original does: on the original's path
    /// `/poker/{id}/` or ours, offering no subprotocol. Reads nothing.
    pub async fn connect_original(
        &self,
        session_id: i64,
        user: &TestUser,
        original_path: bool,
    ) -> WsClient {
        let url = if original_path {
            format!("ws://127.0.0.1:{}/poker/{session_id}/", self.port())
        } else {
            self.ws_url(session_id)
        };
        let request = with_bearer(self.ws_request_original(&url), &user.token);
        WsClient::connect(request, &user.username)
            .await
            .unwrap_or_else(|e| panic!("{} connects to {url}: {e}", user.username))
    }

    /// Connects the users one after another, checking and consuming the frames each join
    /// produces: the newcomer's `story_changed` (when `active_story` is set) and
    /// `participants_changed`, and exactly one `participants_changed` on every earlier socket.
    pub async fn join_all(
        &self,
        session_id: i64,
        users: &[&TestUser],
        active_story: Option<i64>,
    ) -> Vec<WsClient> {
        let mut clients: Vec<WsClient> = Vec::new();
        for (i, user) in users.iter().enumerate() {
            let mut client = self.connect(session_id, user).await;
            if let Some(story_id) = active_story {
                let story = client.expect_event("story_changed").await;
                assert_eq!(
                    story["id"],
                    json!(story_id),
                    "story_changed on connect: {story}"
                );
            }
            let present = &users[..=i];
            let data = client.expect_event("participants_changed").await;
            assert_participants(&data, present);
            for other in clients.iter_mut() {
                let data = other.expect_event("participants_changed").await;
                assert_participants(&data, present);
            }
            clients.push(client);
        }
        clients
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Kill the process before its database goes away (fields drop after this).
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    }
}

/// The rights of a user created for a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rights {
    Voter,
    Moderator,
    VoterModerator,
    Spectator,
}

impl Rights {
    /// (can_vote, can_moderate)
    pub fn flags(self) -> (bool, bool) {
        match self {
            Rights::Voter => (true, false),
            Rights::Moderator => (false, true),
            Rights::VoterModerator => (true, true),
            Rights::Spectator => (false, false),
        }
    }

    /// The `permissions` of a participant with these rights.
    pub fn permissions(self) -> Value {
        match self {
            Rights::Voter => json!(["vote"]),
            Rights::Moderator => json!(["moderate"]),
            Rights::VoterModerator => json!(["vote", "moderate"]),
            Rights::Spectator => json!([]),
        }
    }
}

/// A user created for a test, with a bearer token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub rights: Rights,
    pub token: String,
}

impl TestUser {
    /// The user as `votes` and `voters` show them.
    pub fn voter(&self) -> Value {
        json!({"id": self.id, "name": self.username})
    }
}

/// A session created for a test.
#[derive(Debug, Clone)]
pub struct TestSession {
    pub id: i64,
    pub stories: Vec<TestStory>,
}

/// A story as created, with the label and description the server must show.
#[derive(Debug, Clone)]
pub struct TestStory {
    pub id: i64,
    pub label: String,
    pub description: String,
}

/// Checks a `participants_changed` data object against the users present: sorted by name,
/// each once, with id, name and permissions.
/// Makes `story_id` the active story: the client at `moderator` asks, and every client gets
/// the `story_changed`.
pub async fn start_story(clients: &mut [WsClient], moderator: usize, story_id: i64) {
    clients[moderator]
        .send_event("next_story_requested", json!({ "story_id": story_id }))
        .await;
    for client in clients.iter_mut() {
        client.expect_event("story_changed").await;
    }
}

pub fn assert_participants(data: &Value, present: &[&TestUser]) {
    let got: Vec<Value> = data["participants"]
        .as_array()
        .unwrap_or_else(|| panic!("participants_changed has a participants array: {data}"))
        .iter()
        .map(|p| json!({"id": p["id"], "name": p["name"], "permissions": p["permissions"]}))
        .collect();
    let mut expected: Vec<&TestUser> = present.to_vec();
    expected.sort_by(|a, b| a.username.cmp(&b.username));
    expected.dedup_by_key(|u| u.id);
    let expected: Vec<Value> = expected
        .iter()
        .map(|u| json!({"id": u.id, "name": u.username, "permissions": u.rights.permissions()}))
        .collect();
    assert_eq!(
        Value::Array(got),
        Value::Array(expected),
        "participants_changed lists the present users once each, sorted by name: {data}"
    );
}

/// Checks the story part of a `story_changed` data object.
pub fn assert_story(data: &Value, story: &TestStory) {
    assert_eq!(data["id"], json!(story.id), "story_changed id: {data}");
    assert_eq!(
        data["story_label"],
        json!(story.label),
        "story_changed story_label: {data}"
    );
    assert_eq!(
        data["description"],
        json!(story.description),
        "story_changed description: {data}"
    );
}

/// Checks `votes` (content, regardless of key order) and `voters` (in order) of `story_changed`.
pub fn assert_votes(data: &Value, votes: Value, voters: &[&TestUser]) {
    assert!(
        data["votes"].is_object(),
        "story_changed votes is an object: {data}"
    );
    assert_eq!(data["votes"], votes, "story_changed votes: {data}");
    let voters: Vec<Value> = voters.iter().map(|u| u.voter()).collect();
    assert_eq!(
        data["voters"],
        Value::Array(voters),
        "story_changed voters: {data}"
    );
}

/// The keys of `votes`, in the order the server sent them.
pub fn vote_keys(data: &Value) -> Vec<String> {
    data["votes"]
        .as_object()
        .unwrap_or_else(|| panic!("story_changed votes is an object: {data}"))
        .keys()
        .cloned()
        .collect()
}

/// Adds `Authorization: Bearer <token>` to a handshake request.
pub fn with_bearer(mut request: Request, token: &str) -> Request {
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is a valid header"),
    );
    request
}

/// Adds an `Origin` header to a handshake request.
pub fn with_origin(mut request: Request, origin: &str) -> Request {
    request.headers_mut().insert(
        ORIGIN,
        HeaderValue::from_str(origin).expect("an origin is a valid header"),
    );
    request
}

/// Adds a `Cookie` header to a handshake request.
pub fn with_cookie(mut request: Request, cookie: &str) -> Request {
    request.headers_mut().insert(
        COOKIE,
        HeaderValue::from_str(cookie).expect("a cookie is a valid header"),
    );
    request
}

/// The HTTP status of a refused WebSocket handshake.
pub async fn handshake_status(request: Request) -> u16 {
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => panic!("the WebSocket handshake was accepted, expected a refusal"),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("the handshake failed without an HTTP answer: {e}"),
    }
}

/// A header's value as text; empty when it is missing or not text.
fn header_text(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The answer to a REST request: the status and the JSON body (`null` when empty; a string
/// when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The `X-Served-By` header: which server process answered.
    pub fn served_by(&self) -> String {
        header_text(&self.headers, "x-served-by")
    }

    /// Asserts the status and returns the body.
    pub fn expect_status(self, status: u16, what: &str) -> Value {
        assert_eq!(
            self.status, status,
            "{what}: expected HTTP {status}, got {} with body {}",
            self.status, self.body
        );
        self.body
    }

    /// Asserts an error answer `{"error": {"code", "message", "field"?}}` and returns `error`.
    pub fn expect_error(self, status: u16, what: &str) -> Value {
        let body = self.expect_status(status, what);
        let error = &body["error"];
        assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{what}: the error body is {{\"error\": {{\"code\", \"message\"}}}}, got {body}"
        );
        error.clone()
    }
}

/// A REST client bound to one server.
pub struct Http {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

impl Http {
    /// A client of the server (or balancer) at `base` (`http://HOST:PORT`), with a bearer token
    /// if given.
    pub fn new(base: String, token: Option<String>) -> Http {
        let jar = Arc::new(Jar::default());
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .cookie_provider(jar.clone());
        if let Some(token) = token {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                    .expect("a token is a valid header"),
            );
            builder = builder.default_headers(headers);
        }
        Http {
            client: builder.build().expect("build the HTTP client"),
            jar,
            base,
        }
    }

    /// The `Cookie` header this client would send to the server, if it holds cookies.
    pub fn cookie_header(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).expect("the base URL is valid");
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().expect("cookies are ASCII").to_string())
    }

    async fn send(&self, what: String, request: reqwest::RequestBuilder) -> Reply {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: the request failed: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body failed: {e}"));
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(format!("GET {path}"), self.client.get(self.url(path)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(
            format!("POST {path}"),
            self.client.post(self.url(path)).json(&body),
        )
        .await
    }

    /// GETs with an explicit `Cookie` header (meant for a client with no cookies of its own).
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Reply {
        self.send(
            format!("GET {path} (with a cookie)"),
            self.client
                .get(self.url(path))
                .header(reqwest::header::COOKIE, cookie),
        )
        .await
    }

    /// POSTs a raw body with the given content type.
    pub async fn post_raw(&self, path: &str, body: &str, content_type: &str) -> Reply {
        self.send(
            format!("POST {path}"),
            self.client
                .post(self.url(path))
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body.to_string()),
        )
        .await
    }
}

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One WebSocket connection to a poker session.
pub struct WsClient {
    /// Who this is, for failure messages.
    pub name: String,
    /// The handshake answer's `X-Served-By`: the server process the socket is on.
    pub served_by: String,
    /// The subprotocol the server agreed to (`Sec-WebSocket-Protocol`), empty for none.
    pub subprotocol: String,
    ws: Stream,
    /// When the latest frames were sent (see [`PACE`]).
    sent: std::collections::VecDeque<tokio::time::Instant>,
}

/// At most this many frames per second leave one socket through the ordinary send methods:
/// half the server's limit of 20, so only [`WsClient::flood`] ever trips it.
const PACE: usize = 10;

impl WsClient {
    /// Performs the handshake.
    pub async fn connect(request: Request, name: &str) -> Result<WsClient, tungstenite::Error> {
        let (ws, response) = tokio_tungstenite::connect_async(request).await?;
        Ok(WsClient {
            name: name.to_string(),
            served_by: header_text(response.headers(), "x-served-by"),
            subprotocol: header_text(response.headers(), "sec-websocket-protocol"),
            ws,
            sent: std::collections::VecDeque::new(),
        })
    }

    /// Connects over a socket whose receive buffer is only `recv_buffer` bytes, so that a test
    /// that stops reading from it soon leaves the server with output it cannot send.
    pub async fn connect_small_buffer(
        request: Request,
        name: &str,
        recv_buffer: u32,
    ) -> Result<WsClient, tungstenite::Error> {
        let uri = request.uri().clone();
        let host = uri.host().unwrap_or("127.0.0.1");
        let port = uri.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((host, port))
            .await
            .map_err(tungstenite::Error::Io)?
            .next()
            .ok_or_else(|| tungstenite::Error::Url(tungstenite::error::UrlError::NoHostName))?;
        let socket = tokio::net::TcpSocket::new_v4().map_err(tungstenite::Error::Io)?;
        socket
            .set_recv_buffer_size(recv_buffer)
            .map_err(tungstenite::Error::Io)?;
        let stream = socket.connect(addr).await.map_err(tungstenite::Error::Io)?;
        let (ws, response) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await?;
        Ok(WsClient {
            name: name.to_string(),
            served_by: header_text(response.headers(), "x-served-by"),
            subprotocol: header_text(response.headers(), "sec-websocket-protocol"),
            ws,
            sent: std::collections::VecDeque::new(),
        })
    }

    /// Sends `{"event": NAME, "data": DATA}`.
    pub async fn send_event(&mut self, event: &str, data: Value) {
        self.send_text(json!({"event": event, "data": data}).to_string())
            .await;
    }

    /// Waits, if needed, so that this socket sends at most [`PACE`] frames in any second.
    async fn pace(&mut self) {
        let now = tokio::time::Instant::now();
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= PACE {
            let oldest = self.sent.pop_front().expect("PACE is above 0");
            tokio::time::sleep_until(oldest + Duration::from_secs(1)).await;
        }
        self.sent.push_back(tokio::time::Instant::now());
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, text: String) {
        self.pace().await;
        let name = self.name.clone();
        self.ws
            .send(Message::text(text))
            .await
            .unwrap_or_else(|e| panic!("{name}: sending a text frame failed: {e}"));
    }

    /// Sends one binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.pace().await;
        let name = self.name.clone();
        self.ws
            .send(Message::binary(bytes))
            .await
            .unwrap_or_else(|e| panic!("{name}: sending a binary frame failed: {e}"));
    }

    /// Queues the frames and flushes them at once, with no pacing; stops at the first write
    /// error (the server may close the socket meanwhile). Returns how many were written.
    pub async fn flood(&mut self, frames: Vec<String>) -> usize {
        let mut sent = 0;
        for frame in frames {
            if self.ws.feed(Message::text(frame)).await.is_err() {
                return sent;
            }
            sent += 1;
        }
        let _ = self.ws.flush().await;
        sent
    }

    /// The next message other than ping/pong, within `within`.
    async fn next_message(&mut self, within: Duration) -> Option<Result<Message, String>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Err("the stream ended".to_string())),
                Ok(Some(Err(e))) => return Some(Err(e.to_string())),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)))) => {}
                Ok(Some(Ok(message))) => return Some(Ok(message)),
            }
        }
    }

    fn parse_frame(&self, message: Message) -> Value {
        let name = &self.name;
        match message {
            Message::Text(text) => {
                let frame: Value = serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("{name}: a server frame is not JSON ({e}): {text}"));
                assert_eq!(
                    frame["type"], "send_json",
                    "{name}: server frames are {{\"type\": \"send_json\", ...}}: {frame}"
                );
                assert!(
                    frame["event"].is_string() && frame["data"].is_object(),
                    "{name}: server frames have a string event and an object data: {frame}"
                );
                frame
            }
            Message::Close(close) => panic!("{name}: the server closed the socket: {close:?}"),
            other => panic!("{name}: unexpected non-text frame from the server: {other:?}"),
        }
    }

    /// The next frame `{"type", "event", "data"}`, within `within`.
    pub async fn next_frame_within(&mut self, within: Duration) -> Value {
        match self.next_message(within).await {
            None => panic!("{}: no frame arrived within {within:?}", self.name),
            Some(Err(e)) => panic!("{}: the socket failed: {e}", self.name),
            Some(Ok(message)) => self.parse_frame(message),
        }
    }

    /// The next frame, within [`FRAME_TIMEOUT`].
    pub async fn next_frame(&mut self) -> Value {
        self.next_frame_within(FRAME_TIMEOUT).await
    }

    /// The data of the next frame, which must be `event`.
    /// The next message that is not a ping or pong (a close included), or `None` within
    /// `within`.
    pub async fn next_raw(&mut self, within: Duration) -> Option<Result<Message, String>> {
        self.next_message(within).await
    }

    /// The next frame within `within`, or `None` if none came (a close or failure panics).
    pub async fn frame_within(&mut self, within: Duration) -> Option<Value> {
        match self.next_message(within).await {
            None => None,
            Some(Err(e)) => panic!("{}: the socket failed: {e}", self.name),
            Some(Ok(message)) => Some(self.parse_frame(message)),
        }
    }

    /// Waits for a frame of `event`, skipping others, for at most `within`.
    pub async fn find_event(&mut self, event: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.frame_within(left).await {
                Some(frame) if frame["event"] == event => return frame["data"].clone(),
                Some(_) => {}
                None => panic!("{}: no {event} frame within {within:?}", self.name),
            }
        }
    }

    pub async fn expect_event(&mut self, event: &str) -> Value {
        let frame = self.next_frame().await;
        assert_eq!(
            frame["event"], event,
            "{}: expected a {event} frame, got {frame}",
            self.name
        );
        frame["data"].clone()
    }

    /// The next frame must be an `error` with this code (and a message).
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let data = self.expect_event("error").await;
        assert_eq!(
            data["code"], code,
            "{}: expected an error with code {code}, got {data}",
            self.name
        );
        assert!(
            data["message"].is_string(),
            "{}: an error frame has a message: {data}",
            self.name
        );
        data
    }

    /// Asserts that no frame arrives within [`SILENCE`].
    pub async fn expect_silence(&mut self) {
        self.expect_silence_for(SILENCE).await;
    }

    /// Asserts that no frame arrives within `duration` (the socket is read, so pings are
    /// answered meanwhile).
    pub async fn expect_silence_for(&mut self, duration: Duration) {
        if let Some(message) = self.next_message(duration).await {
            panic!(
                "{}: expected no frame for {duration:?}, got {message:?}",
                self.name
            );
        }
    }

    /// Like [`expect_silence_for`](Self::expect_silence_for), while sending a heartbeat every
    /// 300 ms so the socket stays alive under a short client timeout.
    pub async fn expect_silence_with_heartbeats(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        let mut tick = tokio::time::interval(Duration::from_millis(300));
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tick.tick() => self.send_event("heartbeat", json!({})).await,
                message = self.ws.next() => match message {
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    other => panic!(
                        "{}: expected no frame for {duration:?}, got {other:?}",
                        self.name
                    ),
                },
            }
        }
    }

    /// The data of the next frame, which must be `event`, waiting up to `within` while sending
    /// a heartbeat every 300 ms.
    pub async fn expect_event_with_heartbeats(&mut self, event: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        let mut tick = tokio::time::interval(Duration::from_millis(300));
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    panic!("{}: no {event} frame within {within:?}", self.name)
                }
                _ = tick.tick() => self.send_event("heartbeat", json!({})).await,
                message = self.ws.next() => match message {
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(message)) => {
                        let frame = self.parse_frame(message);
                        assert_eq!(
                            frame["event"], event,
                            "{}: expected a {event} frame, got {frame}",
                            self.name
                        );
                        return frame["data"].clone();
                    }
                    other => panic!("{}: the socket failed: {other:?}", self.name),
                },
            }
        }
    }

    /// Sends a heartbeat every 300 ms for `duration` without reading the socket (so pings
    /// stay unanswered).
    pub async fn heartbeats_only(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        while tokio::time::Instant::now() < deadline {
            self.send_event("heartbeat", json!({})).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The next thing must be a close frame from the server (no text frame before it).
    pub async fn expect_close(&mut self) -> Option<CloseFrame> {
        match self.next_message(FRAME_TIMEOUT).await {
            None => panic!(
                "{}: the server did not close within {FRAME_TIMEOUT:?}",
                self.name
            ),
            Some(Err(e)) => panic!("{}: the socket failed before a close frame: {e}", self.name),
            Some(Ok(Message::Close(close))) => close,
            Some(Ok(other)) => panic!("{}: expected a close frame, got {other:?}", self.name),
        }
    }

    /// The close code the server closed with (the next thing must be a close frame).
    pub async fn expect_close_code(&mut self) -> u16 {
        let name = self.name.clone();
        let close = self.expect_close().await;
        u16::from(
            close
                .unwrap_or_else(|| panic!("{name}: the close frame carries no code"))
                .code,
        )
    }

    /// The server must end the connection (close frame, end of stream or reset) within
    /// `within`; no text frame may arrive first.
    pub async fn expect_closed_by_server_within(&mut self, within: Duration) {
        match self.next_message(within).await {
            None => panic!("{}: the server did not close within {within:?}", self.name),
            Some(Err(_)) | Some(Ok(Message::Close(_))) => {}
            Some(Ok(other)) => panic!("{}: expected the close, got {other:?}", self.name),
        }
    }

    /// Closes the socket normally and waits until the server has answered the close.
    pub async fn close(mut self) {
        let name = self.name.clone();
        self.ws
            .close(None)
            .await
            .unwrap_or_else(|e| panic!("{name}: sending the close frame failed: {e}"));
        loop {
            match self.next_message(FRAME_TIMEOUT).await {
                None => panic!("{name}: the server did not answer the close"),
                Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Frames already on their way are fine to drop.
                Some(Ok(_)) => {}
            }
        }
    }
}
