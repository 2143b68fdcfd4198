//! `idle`: C connections across sessions of P, each sending heartbeats; memory per connection,
//! connect time, and the fan-out latency of probe votes while they are all connected.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::{activate, connect_all, vote, Counters, VotingResult};
use crate::stats::{Latencies, Percentiles};
use crate::target::Target;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Config {
    pub connections: usize,
    pub participants: usize,
    pub probe_sessions: usize,
    pub probe_secs: u64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Outcome {
    pub connections: usize,
    pub connect_time: Percentiles,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub kib_per_connection: Option<f64>,
    pub probe: VotingResult,
    pub still_open: usize,
}

pub async fn run(
    target: &Target,
    config: &Config,
    rss: impl Fn() -> Option<u64>,
) -> Result<Outcome> {
    let participants = config.participants.max(2);
    let sessions = config.connections.div_ceil(participants);
    let users = target.users(participants, true).await?;
    let mut plans = target.sessions(sessions, &users).await?;
    // The last session takes the remainder, so exactly `connections` sockets open.
    let remainder = config.connections - (sessions - 1) * participants;
    if let Some(last) = plans.last_mut() {
        last.members.truncate(remainder.max(1));
    }
    // Memory per connection is the slope between half and all of the connections, so fixed
    // costs (thread stacks, caches, the password hasher's blocks) do not count.
    let counters = Arc::new(Counters::default());
    let mut connect_times = Latencies::new();
    let second = plans.split_off(plans.len() / 2);
    let half: usize = plans.iter().map(|p| p.members.len()).sum();
    let rss_before_kib = rss();
    let mut live = connect_all(
        target,
        plans,
        &counters,
        Some(Duration::from_secs(20)),
        128,
        &mut connect_times,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_half_kib = rss();
    live.extend(
        connect_all(
            target,
            second,
            &counters,
            Some(Duration::from_secs(20)),
            128,
            &mut connect_times,
        )
        .await?,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_kib = rss();
    let kib_per_connection = match (rss_half_kib, rss_after_kib) {
        (Some(half_kib), Some(after)) if config.connections > half => {
            Some(after.saturating_sub(half_kib) as f64 / (config.connections - half) as f64)
        }
        _ => None,
    };
    // Probe: a few full sessions vote once a second per voter while everyone stays connected.
    let (probes, rest): (Vec<_>, Vec<_>) = live
        .into_iter()
        .enumerate()
        .partition(|(i, s)| *i < config.probe_sessions && s.conns.len() == participants);
    let probes: Vec<_> = probes.into_iter().map(|(_, s)| s).collect();
    activate(&probes, &counters).await?;
    let probes = Arc::new(probes);
    let probe = vote(
        &probes,
        &counters,
        Duration::from_secs(1),
        Duration::from_secs(config.probe_secs),
        Duration::from_secs(5),
    )
    .await;
    let still_open = probes
        .iter()
        .chain(rest.iter().map(|(_, s)| s))
        .flat_map(|s| s.conns.iter())
        .filter(|c| c.is_open())
        .count();
    Ok(Outcome {
        connections: config.connections,
        connect_time: connect_times.percentiles(),
        rss_before_kib,
        rss_after_kib,
        kib_per_connection,
        probe,
        still_open,
    })
}
