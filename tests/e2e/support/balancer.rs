//! The production topology on loopback: Debian's HAProxy running `deploy/haproxy.cfg`, the very
//! file the compose stack mounts into its balancer (addresses come from the environment, as
//! there), in front of two real server processes on one PostgreSQL database.
//!
//! HAProxy must be installed (`scripts/ensure-deps.sh` installs Debian's package); without it the
//! tests that start a [`Balancer`] fail and say so.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::{Backend, Server, ServerOptions};

const HAPROXY: &str = "/usr/sbin/haproxy";
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg");

/// HAProxy in the foreground (`-db`) with `deploy/haproxy.cfg`; killed when dropped.
pub struct Balancer {
    _child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Balancer {
    /// Starts HAProxy in front of the two servers, with `env` added to its environment (the
    /// config's own variables), and waits until it accepts connections.
    pub async fn start(app1: &Server, app2: &Server, env: &[(&str, &str)]) -> Balancer {
        assert!(
            Path::new(HAPROXY).exists(),
            "{HAPROXY} is missing: run scripts/ensure-deps.sh (it installs Debian's haproxy), \
             or ./scripts/test.sh which calls it"
        );
        // HAProxy cannot report a port it picked itself: it gets one found free.
        let port = super::free_port();
        let mut cmd = Command::new(HAPROXY);
        cmd.args(["-db", "-f", CONFIG])
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("APP1_ADDR", format!("127.0.0.1:{}", app1.port()))
            .env("APP2_ADDR", format!("127.0.0.1:{}", app2.port()))
            .env_remove("HAPROXY_CLIENT_KEEP_ALIVE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("spawn haproxy");
        // Its log (one line a request) shows with a failing test's output, and is kept.
        let log = Arc::new(Mutex::new(Vec::new()));
        forward_lines(child.stdout.take().expect("stdout is piped"), log.clone());
        forward_lines(child.stderr.take().expect("stderr is piped"), log.clone());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            if let Some(status) = child.try_wait().expect("poll haproxy") {
                panic!("haproxy exited ({status}) before listening; its log is above");
            }
            assert!(
                Instant::now() < deadline,
                "haproxy did not listen on 127.0.0.1:{port} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Balancer {
            _child: child,
            port,
            log,
        }
    }

    /// Every line HAProxy printed so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("the log is not poisoned").clone()
    }

    /// The port HAProxy listens on (loopback).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`: the balancer's address, the one a newcomer opens.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self, session_id: i64) -> String {
        format!("ws://127.0.0.1:{}/ws/poker/{session_id}/", self.port)
    }
}

/// Copies a child's output to the test's, line by line, prefixed `[haproxy]`, and into `kept`.
fn forward_lines(output: impl AsyncRead + Unpin + Send + 'static, kept: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[haproxy] {line}");
            kept.lock().expect("the log is not poisoned").push(line);
        }
    });
}

/// Two servers named `replica-1` and `replica-2` on one PostgreSQL database, and HAProxy in
/// front of them (`haproxy_env` added to its environment).
pub async fn stack(
    options: ServerOptions,
    haproxy_env: &[(&str, &str)],
) -> (Server, Server, Balancer) {
    let app1 = Server::start_with(
        Backend::Postgres,
        ServerOptions {
            instance_name: Some("replica-1"),
            ..options.clone()
        },
    )
    .await;
    let app2 = Server::start_sharing(
        &app1,
        ServerOptions {
            instance_name: Some("replica-2"),
            ..options
        },
    )
    .await;
    let balancer = Balancer::start(&app1, &app2, haproxy_env).await;
    (app1, app2, balancer)
}
