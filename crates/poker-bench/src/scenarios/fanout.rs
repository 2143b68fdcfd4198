//! `fanout`: S sessions × P participants (one moderator, the rest voters); every voter votes
//! every interval; each vote's latency is measured to every member.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::{activate, check_persisted, connect_all, vote, Counters, VotingResult};
use crate::stats::Latencies;
use crate::target::{Kind, Target};

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Config {
    pub sessions: usize,
    pub participants: usize,
    pub interval_ms: u64,
    pub duration_secs: u64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Outcome {
    pub voting: VotingResult,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    /// Voters whose last vote is stored as sent, of all voters (real server only).
    pub persisted: Option<(u64, u64)>,
    /// CPU time the server used while votes were cast, in seconds.
    pub server_cpu_secs: Option<f64>,
}

pub async fn run(
    target: &Target,
    config: &Config,
    rss: impl Fn() -> Option<u64>,
    cpu: impl Fn() -> Option<f64>,
) -> Result<Outcome> {
    let users = target.users(config.participants, true).await?;
    let plans = target.sessions(config.sessions, &users).await?;
    let rss_before_kib = rss();
    let counters = Arc::new(Counters::default());
    let mut connect_times = Latencies::new();
    let sessions = connect_all(
        target,
        plans,
        &counters,
        Some(Duration::from_secs(20)),
        64,
        &mut connect_times,
    )
    .await?;
    activate(&sessions, &counters).await?;
    let sessions = Arc::new(sessions);
    let cpu_before = cpu();
    let voting = vote(
        &sessions,
        &counters,
        Duration::from_millis(config.interval_ms),
        Duration::from_secs(config.duration_secs),
        Duration::from_secs(5),
    )
    .await;
    let server_cpu_secs = cpu().zip(cpu_before).map(|(after, before)| after - before);
    let rss_after_kib = rss();
    let persisted = if target.kind == Kind::Server {
        Some(check_persisted(target, &sessions).await?)
    } else {
        None
    };
    Ok(Outcome {
        voting,
        rss_before_kib,
        rss_after_kib,
        persisted,
        server_cpu_secs,
    })
}
