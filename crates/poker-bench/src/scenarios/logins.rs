//! `logins`: the real server's resident memory after N users have each logged in once over
//! REST (`POST /api/auth/login`), before any socket, and the logins' latency. The baseline has
//! no accounts, so there is nothing to compare: this runs against the real server only.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures_util::{stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::rest::Tally;
use crate::stats::Percentiles;
use crate::target::{Kind, Target};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Users created, each then logging in once.
    pub users: usize,
    /// Logins in flight at once.
    pub parallel: usize,
    /// How long to wait after the last login before reading the memory.
    pub settle_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub users: usize,
    /// Logins answered with 200.
    pub logins_ok: u64,
    /// Logins answered otherwise or failed in transport.
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: Percentiles,
    pub logins_per_sec: f64,
    /// The server's memory at the start (after the bench's admin login only).
    pub rss_start_kib: Option<u64>,
    /// After the users were created (each creation hashes a password), before the logins.
    pub rss_before_kib: Option<u64>,
    /// After the logins and `settle_secs`.
    pub rss_after_kib: Option<u64>,
    /// CPU time the server used for the logins, in seconds.
    pub server_cpu_secs: Option<f64>,
    /// `server_cpu_secs` per successful login, in milliseconds.
    pub cpu_ms_per_login: Option<f64>,
}

pub async fn run(
    target: &Target,
    config: &Config,
    rss: impl Fn() -> Option<u64>,
    cpu: impl Fn() -> Option<f64>,
) -> Result<Outcome> {
    if target.kind == Kind::Baseline {
        bail!("the baseline has no accounts: logins runs against the real server only");
    }
    let rss_start_kib = rss();
    let names = target.create_voters(config.users).await?;
    let rss_before_kib = rss();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let cpu_before = cpu();
    let started = Instant::now();
    stream::iter(names)
        .for_each_concurrent(config.parallel.max(1), |name| {
            let tally = tally.clone();
            async move {
                let at = Instant::now();
                let answer = target.login(&name).await;
                let took = at.elapsed();
                if let Ok(mut t) = tally.lock() {
                    match answer {
                        Ok(200) => {
                            t.ok += 1;
                            t.latency.record(took);
                        }
                        Ok(status) => t.error(format!("login of {name}: {status}")),
                        Err(e) => t.error(format!("login of {name}: {e:#}")),
                    }
                }
            }
        })
        .await;
    let seconds = started.elapsed().as_secs_f64().max(0.001);
    let server_cpu_secs = cpu().zip(cpu_before).map(|(after, before)| after - before);
    tokio::time::sleep(Duration::from_secs(config.settle_secs)).await;
    let rss_after_kib = rss();
    let t = tally
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default();
    eprintln!(
        "  logins: {} ok, {} errors; p50 {:.1} ms, p99 {:.1} ms; memory {} → {} → {} KiB",
        t.ok,
        t.errors,
        t.latency.percentiles().p50,
        t.latency.percentiles().p99,
        rss_start_kib.unwrap_or(0),
        rss_before_kib.unwrap_or(0),
        rss_after_kib.unwrap_or(0)
    );
    Ok(Outcome {
        users: config.users,
        logins_ok: t.ok,
        errors: t.errors,
        first_error: t.first_error,
        latency: t.latency.percentiles(),
        logins_per_sec: t.ok as f64 / seconds,
        rss_start_kib,
        rss_before_kib,
        rss_after_kib,
        cpu_ms_per_login: server_cpu_secs
            .filter(|_| t.ok > 0)
            .map(|s| s * 1000.0 / t.ok as f64),
        server_cpu_secs,
    })
}
