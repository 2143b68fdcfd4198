//! `ramp`: raises the total vote rate stage by stage until the whole-session p99 passes a
//! bound (or votes stop arriving); reports the highest rate held. Every member that may vote
//! votes (the moderator too, by default), each about once per its interval, jittered around it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::fanout::per_vote_ms;
use super::{activate, connect_all, vote_jittered, Counters, VotingResult};
use crate::stats::Latencies;
use crate::target::Target;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Config {
    pub sessions: usize,
    pub participants: usize,
    pub bound_ms: f64,
    pub stage_secs: u64,
    pub start_rate: f64,
    pub factor: f64,
    pub max_rate: f64,
    /// Each vote goes a random 0 .. 2 × jitter × interval after its tick (at most 0.45).
    #[serde(default)]
    pub jitter: f64,
    /// The moderator (member 0) may vote and does.
    #[serde(default)]
    pub moderator_votes: bool,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Stage {
    pub target_rate: f64,
    pub voting: VotingResult,
    pub held: bool,
    /// CPU time the server used during the stage, in seconds.
    #[serde(default)]
    pub server_cpu_secs: Option<f64>,
    /// `server_cpu_secs` per delivered vote, in milliseconds.
    #[serde(default)]
    pub cpu_ms_per_vote: Option<f64>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The highest vote rate (votes sent per second) whose whole-session p99 stayed under the bound.
    pub highest_rate_held: f64,
    pub stages: Vec<Stage>,
    /// Why the ramp stopped.
    pub stopped_because: String,
}

/// Votes a second one socket may send before the server's flood limit (20 frames a second,
/// PROTOCOL.md) would refuse them; a ramp that needs more must use more sessions.
pub const MAX_VOTES_PER_SOCKET: f64 = 15.0;

/// A stage holds when its whole-session p99 is under the bound and (nearly) every vote arrived.
pub fn held(voting: &VotingResult, bound_ms: f64) -> bool {
    voting.whole_session.count > 0
        && voting.whole_session.p99 <= bound_ms
        && voting.votes_delivered as f64 >= 0.99 * voting.votes_sent as f64
}

pub async fn run(
    target: &Target,
    config: &Config,
    cpu: impl Fn() -> Option<f64>,
) -> Result<Outcome> {
    let users = target
        .users_with(config.participants, true, config.moderator_votes)
        .await?;
    let plans = target.sessions(config.sessions, &users).await?;
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
    let sessions = Arc::new(sessions);
    let voters = sessions
        .iter()
        .map(|s| s.plan.members.iter().filter(|m| m.votes).count())
        .sum::<usize>()
        .max(1) as f64;
    let mut rate = config.start_rate;
    let mut stages = Vec::new();
    let mut highest_rate_held = 0.0;
    let mut stopped_because = format!("reached --max-rate {}", config.max_rate);
    while rate <= config.max_rate {
        if rate / voters > MAX_VOTES_PER_SOCKET {
            stopped_because = format!(
                "{rate:.0} votes/s would need {:.1} votes/s per socket, over the flood limit; use more --sessions",
                rate / voters
            );
            break;
        }
        let interval = Duration::from_secs_f64(voters / rate);
        let cpu_before = cpu();
        let voting = vote_jittered(
            &sessions,
            &counters,
            interval,
            config.jitter,
            Duration::from_secs(config.stage_secs),
            Duration::from_secs(3),
        )
        .await;
        let server_cpu_secs = cpu().zip(cpu_before).map(|(after, before)| after - before);
        let ok = held(&voting, config.bound_ms);
        eprintln!(
            "  ramp {:>8.0} votes/s target: sent {:>8.0}/s, whole-session p99 {:>8.2} ms, delivered {}/{} {}",
            rate,
            voting.votes_sent_per_sec,
            voting.whole_session.p99,
            voting.votes_delivered,
            voting.votes_sent,
            if ok { "held" } else { "NOT held" }
        );
        if ok {
            highest_rate_held = voting.votes_sent_per_sec;
        }
        let p99 = voting.whole_session.p99;
        stages.push(Stage {
            target_rate: rate,
            cpu_ms_per_vote: per_vote_ms(server_cpu_secs, &voting),
            server_cpu_secs,
            voting,
            held: ok,
        });
        if !ok {
            stopped_because = format!(
                "at {rate:.0} votes/s the whole-session p99 was {p99:.1} ms (bound {} ms) or votes went missing",
                config.bound_ms
            );
            break;
        }
        rate *= config.factor;
    }
    eprintln!("  ramp stopped: {stopped_because}");
    Ok(Outcome {
        highest_rate_held,
        stages,
        stopped_because,
    })
}
