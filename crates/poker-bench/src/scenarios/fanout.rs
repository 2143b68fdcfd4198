//! `fanout`: S sessions × P participants (member 0 moderates, and by default votes too); every
//! member that may vote votes about once per interval (jittered); each vote's latency is
//! measured to every member. Optionally a REST client reads sessions meanwhile.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::VotingResult;
use super::{activate, check_persisted, connect_all, vote_jittered, Counters, LiveSession};
use crate::rest::{RestLoad, RestResult};
use crate::stats::Latencies;
use crate::target::{Kind, Target};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub sessions: usize,
    pub participants: usize,
    pub interval_ms: u64,
    pub duration_secs: u64,
    /// Each vote goes a random 0 .. 2 × jitter × interval after its tick (at most 0.45).
    #[serde(default)]
    pub jitter: f64,
    /// The moderator (member 0) may vote and does.
    #[serde(default)]
    pub moderator_votes: bool,
    /// `GET /api/sessions/{id}` requests a second while the votes flow (0: none).
    #[serde(default)]
    pub rest_rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub voting: VotingResult,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    /// Voters whose last vote is stored as sent, of all voters (real server only).
    pub persisted: Option<(u64, u64)>,
    /// CPU time the server used while votes were cast, in seconds.
    pub server_cpu_secs: Option<f64>,
    /// `server_cpu_secs` per delivered vote, in milliseconds.
    #[serde(default)]
    pub cpu_ms_per_vote: Option<f64>,
    /// The REST client's figures, with `rest_rate` > 0.
    #[serde(default)]
    pub rest: Option<RestResult>,
}

/// Connected, active sessions ready to vote.
pub struct Prepared {
    pub sessions: Arc<Vec<LiveSession>>,
    pub counters: Arc<Counters>,
    /// The server's memory after the users logged in and the sessions exist, before sockets.
    pub rss_before_kib: Option<u64>,
}

/// Creates the users and sessions, connects every member and starts each session's story.
pub async fn prepare(
    target: &Target,
    config: &Config,
    rss: &impl Fn() -> Option<u64>,
) -> Result<Prepared> {
    let users = target
        .users_with(config.participants, true, config.moderator_votes)
        .await?;
    let plans = target.sessions(config.sessions, &users).await?;
    let rss_before_kib = rss();
    let counters = Arc::new(Counters::default());
    let sessions = connect_all(
        target,
        plans,
        &counters,
        Some(Duration::from_secs(20)),
        64,
        &mut Latencies::new(),
    )
    .await?;
    activate(&sessions, &counters).await?;
    Ok(Prepared {
        sessions: Arc::new(sessions),
        counters,
        rss_before_kib,
    })
}

/// One period of voting, what it cost the server, and the REST client's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    pub voting: VotingResult,
    pub server_cpu_secs: Option<f64>,
    pub cpu_ms_per_vote: Option<f64>,
    pub rest: Option<RestResult>,
}

/// Votes for the configured duration, with `rest_rate` REST requests a second meanwhile.
pub async fn phase(
    target: &Target,
    prepared: &Prepared,
    config: &Config,
    rest_rate: f64,
    cpu: &impl Fn() -> Option<f64>,
) -> Phase {
    let ids: Vec<i64> = prepared.sessions.iter().map(|s| s.plan.id).collect();
    let rest = (rest_rate > 0.0).then(|| RestLoad::start(target, ids, rest_rate));
    let cpu_before = cpu();
    let voting = vote_jittered(
        &prepared.sessions,
        &prepared.counters,
        Duration::from_millis(config.interval_ms),
        config.jitter,
        Duration::from_secs(config.duration_secs),
        Duration::from_secs(5),
    )
    .await;
    let server_cpu_secs = cpu().zip(cpu_before).map(|(after, before)| after - before);
    let rest = match rest {
        Some(load) => Some(load.finish().await),
        None => None,
    };
    Phase {
        cpu_ms_per_vote: per_vote_ms(server_cpu_secs, &voting),
        voting,
        server_cpu_secs,
        rest,
    }
}

/// CPU seconds per delivered vote, in milliseconds.
pub fn per_vote_ms(cpu_secs: Option<f64>, voting: &VotingResult) -> Option<f64> {
    cpu_secs
        .filter(|_| voting.votes_delivered > 0)
        .map(|s| s * 1000.0 / voting.votes_delivered as f64)
}

pub async fn run(
    target: &Target,
    config: &Config,
    rss: impl Fn() -> Option<u64>,
    cpu: impl Fn() -> Option<f64>,
) -> Result<Outcome> {
    let prepared = prepare(target, config, &rss).await?;
    let phase = phase(target, &prepared, config, config.rest_rate, &cpu).await;
    let rss_after_kib = rss();
    let persisted = if target.kind == Kind::Server {
        Some(check_persisted(target, &prepared.sessions).await?)
    } else {
        None
    };
    Ok(Outcome {
        voting: phase.voting,
        rss_before_kib: prepared.rss_before_kib,
        rss_after_kib,
        persisted,
        server_cpu_secs: phase.server_cpu_secs,
        cpu_ms_per_vote: phase.cpu_ms_per_vote,
        rest: phase.rest,
    })
}
