//! Server processes the bench starts (the real server, the baseline) and their memory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A server process; killed on drop.
pub struct ServerProcess {
    child: Child,
    pub url: String,
    pub pid: u32,
    _dir: Option<PathBuf>,
}

impl ServerProcess {
    async fn start(mut cmd: Command, marker: &str, dir: Option<PathBuf>) -> Result<ServerProcess> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("start the server process")?;
        let pid = child.id().context("the server has a pid")?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(120), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split(marker).nth(1) {
                    return Some(format!("http://{}", rest.trim()));
                }
            }
            None
        })
        .await
        .context("the server did not start within 120 s")?
        .context("the server exited before listening")?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess {
            child,
            url,
            pid,
            _dir: dir,
        })
    }

    /// Starts the real server binary on `database_url` (a fresh SQLite file when `None`).
    pub async fn real(
        binary: &Path,
        database_url: Option<&str>,
        admin_password: &str,
    ) -> Result<ServerProcess> {
        Self::real_with(binary, database_url, admin_password, &[]).await
    }

    /// As [`ServerProcess::real`], with more environment for the server (`REDIS_URL`,
    /// `REDIS_PREFIX`, `CLIENT_TIMEOUT_SECS`, …). Without `REDIS_URL` among them, the process
    /// is alone whatever the bench's own environment says.
    pub async fn real_with(
        binary: &Path,
        database_url: Option<&str>,
        admin_password: &str,
        env: &[(&str, String)],
    ) -> Result<ServerProcess> {
        if !binary.exists() {
            bail!(
                "no server binary at {} (build it: cargo build --release)",
                binary.display()
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "poker-bench-{}-{}",
            std::process::id(),
            now_nanos()
        ));
        std::fs::create_dir_all(&dir)?;
        let url = match database_url {
            Some(url) => url.to_string(),
            None => format!("sqlite://{}/bench.db", dir.display()),
        };
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .current_dir(&dir)
            .env("DATABASE_URL", url)
            .env("BIND", "127.0.0.1:0")
            .env("ADMIN_PASSWORD", admin_password)
            // POKER_BENCH_SERVER_LOG (a RUST_LOG filter) shows more of the server's log.
            .env(
                "RUST_LOG",
                std::env::var("POKER_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("REDIS_URL")
            .env_remove("REDIS_PREFIX");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let process = Self::start(cmd, "planning-poker listening on http://", Some(dir)).await?;
        crate::guard::ensure_loopback(&process.url)?;
        Ok(process)
    }

    /// Starts `count` server processes on one database (PostgreSQL, for `count` > 1), each on a
    /// free loopback port, all with `env`. The first starts alone (it migrates the database and
    /// creates `admin`), then the others.
    pub async fn several(
        count: usize,
        binary: &Path,
        database_url: &str,
        admin_password: &str,
        env: &[(&str, String)],
    ) -> Result<Vec<ServerProcess>> {
        let mut processes = Vec::with_capacity(count);
        for _ in 0..count {
            processes.push(Self::real_with(binary, Some(database_url), admin_password, env).await?);
        }
        Ok(processes)
    }

    /// Stops the process with SIGTERM (a clean shutdown), or SIGKILL if it has not exited
    /// within `grace`. Nothing happens to a process that has already exited.
    pub async fn stop(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SAFETY: kill(2) on the pid of a child this process has not yet reaped.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }

    /// `kill -9`: the process gets no chance to clean up (no goodbye to Redis, no close
    /// frames). Returns the moment just before the signal was sent, once the process is gone.
    pub async fn kill9(&mut self) -> Result<std::time::Instant> {
        let at = std::time::Instant::now();
        // tokio's kill is SIGKILL on Unix.
        self.child.start_kill().context("send SIGKILL")?;
        self.child
            .wait()
            .await
            .context("wait for the killed process")?;
        Ok(at)
    }

    /// Starts the baseline server (this binary's `baseline-server` subcommand).
    pub async fn baseline() -> Result<ServerProcess> {
        let exe = std::env::current_exe().context("find the bench binary")?;
        let mut cmd = Command::new(exe);
        cmd.args(["baseline-server", "--bind", "127.0.0.1:0"]);
        Self::start(cmd, "baseline listening on http://", None).await
    }

    /// Resident memory of the process, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid)
    }

    /// CPU time the process has used, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.pid)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if let Some(dir) = &self._dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Resident memory of a process, in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// CPU time (user + system) a process has used so far, in seconds (Linux `/proc`).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks are 100 a second on Linux.
    Some((utime + stime) / 100.0)
}

/// Raises this process's open-file limit (children inherit it): to 65,536 where allowed (as
/// root, the hard limit too), else as far as the hard limit goes.
pub fn raise_fd_limit() -> u64 {
    const WANTED: u64 = 65_536;
    if rlimit::setrlimit(rlimit::Resource::NOFILE, WANTED, WANTED).is_ok() {
        return WANTED;
    }
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}
