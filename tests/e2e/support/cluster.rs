//! Several server processes sharing live sessions through Redis: the machine's Redis (from
//! `TEST_REDIS_URL`, each test under a prefix of its own) or a private `redis-server` that a
//! test starts on a free port, to stop and start it again.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::admin::AdminHttp;
use super::{unique_suffix, Backend, Server, ServerOptions};

/// The machine's Redis, for tests that do not stop it. Panics with the fix when unset (the
/// tests that call it are ignored unless `TEST_REDIS_URL` was set at build time).
pub fn machine_redis() -> (String, String) {
    let url = std::env::var("TEST_REDIS_URL").expect(
        "TEST_REDIS_URL must be set at run time for the tests of several processes, e.g. \
         redis://127.0.0.1:6379/",
    );
    (url, format!("e2e{}", unique_suffix()))
}

/// The password of a [`PrivateRedis`] (as the compose stack's Redis, it requires one).
const PRIVATE_REDIS_PASSWORD: &str = "e2e-redis-secret";

/// A `redis-server` of the test's own, on a free loopback port, keeping nothing on disk, with a
/// password.
pub struct PrivateRedis {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        let port = super::free_port();
        let dir = tempfile::Builder::new()
            .prefix("pp-redis-")
            .tempdir()
            .expect("create a directory for redis-server");
        let mut redis = PrivateRedis {
            port,
            child: None,
            dir,
        };
        redis.spawn().await;
        redis
    }

    /// `REDIS_URL` and `REDIS_PREFIX` for the servers.
    pub fn redis(&self) -> (String, String) {
        (
            format!("redis://:{PRIVATE_REDIS_PASSWORD}@127.0.0.1:{}/", self.port),
            "poker".into(),
        )
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--requirepass", PRIVATE_REDIS_PASSWORD])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect(
                "start redis-server (Debian's redis-server package; scripts/ensure-deps.sh \
                 installs it)",
            );
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server answers on port {} within 10 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills Redis (`SIGKILL`: nothing is kept, as a crash or a restarted container).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis-server");
        }
    }

    /// Starts Redis again on the same port, empty.
    pub async fn start_again(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

/// `count` server processes on one fresh PostgreSQL database, sharing live sessions through
/// `redis`; `options` apply to each (their `redis` is replaced).
pub async fn start_processes(
    count: usize,
    redis: (String, String),
    options: ServerOptions,
) -> Vec<Server> {
    let options = ServerOptions {
        redis: Some(redis),
        ..options
    };
    let first = Server::start_with(Backend::Postgres, options.clone()).await;
    let mut servers = vec![first];
    for _ in 1..count {
        let next = Server::start_sharing(&servers[0], options.clone()).await;
        servers.push(next);
    }
    servers
}

/// The value of one series of a process's own `/metrics` (0 when absent), asked of it directly
/// rather than through a balancer.
pub async fn metric(server: &Server, series: &str) -> f64 {
    let text = server.http().get_text("/metrics").await.text;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}
