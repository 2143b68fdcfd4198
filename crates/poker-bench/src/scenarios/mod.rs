//! The benchmark scenarios, and what they share: live sessions of connected members whose
//! frames feed a latency tracker, and voters that vote at a given rate.

pub mod cluster;
pub mod fanout;
pub mod idle;
pub mod join_storm;
pub mod logins;
pub mod ramp;
pub mod rest_under_load;
pub mod slow_reader;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures_util::{stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use crate::client::Conn;
use crate::matching::Tracker;
use crate::stats::{Latencies, Percentiles};
use crate::target::{SessionPlan, Target};

/// The options of the default deck that voters cycle through (consecutive votes always differ).
pub const CHOICES: [&str; 8] = ["1", "2", "3", "5", "8", "13", "21", "34"];

/// Counters shared by every socket of a run.
#[derive(Default)]
pub struct Counters {
    pub frames: AtomicU64,
    pub errors: AtomicU64,
    pub story_frames: AtomicU64,
}

/// A session whose members are connected.
pub struct LiveSession {
    pub plan: SessionPlan,
    pub conns: Vec<Conn>,
    pub tracker: Arc<Mutex<Tracker>>,
    /// The last choice each voter sent (member index → choice).
    pub last_choice: Mutex<Vec<Option<&'static str>>>,
    /// Every `participants_changed` each member received.
    pub presence: Arc<Mutex<PresenceLog>>,
}

/// The `participants_changed` frames of a session's members: for each member, when each came
/// and the names it listed (they are rare: joins and leaves, so all are kept).
#[derive(Default)]
pub struct PresenceLog {
    pub frames: Vec<Vec<(Instant, BTreeSet<String>)>>,
}

impl PresenceLog {
    fn new(members: usize) -> Self {
        PresenceLog {
            frames: vec![Vec::new(); members],
        }
    }

    fn observe(&mut self, member: usize, data: &Value, at: Instant) {
        let names = data["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        if let Some(frames) = self.frames.get_mut(member) {
            frames.push((at, names));
        }
    }
}

/// Connects every member of every plan (at most `parallel` handshakes at once).
pub async fn connect_all(
    target: &Target,
    plans: Vec<SessionPlan>,
    counters: &Arc<Counters>,
    heartbeat: Option<Duration>,
    parallel: usize,
    connect_times: &mut Latencies,
) -> Result<Vec<LiveSession>> {
    connect_spread(
        &[target],
        plans,
        counters,
        heartbeat,
        parallel,
        connect_times,
    )
    .await
}

/// As [`connect_all`], with the members spread over several processes of one deployment:
/// member `i` of every session connects to `targets[i % targets.len()]`.
pub async fn connect_spread(
    targets: &[&Target],
    plans: Vec<SessionPlan>,
    counters: &Arc<Counters>,
    heartbeat: Option<Duration>,
    parallel: usize,
    connect_times: &mut Latencies,
) -> Result<Vec<LiveSession>> {
    if targets.is_empty() {
        bail!("no target to connect to");
    }
    let mut jobs = Vec::new();
    let mut sessions = Vec::new();
    for plan in plans {
        let tracker = Arc::new(Mutex::new(Tracker::new(plan.members.len())));
        let presence = Arc::new(Mutex::new(PresenceLog::new(plan.members.len())));
        for (index, member) in plan.members.iter().enumerate() {
            jobs.push((
                sessions.len(),
                index,
                targets[index % targets.len()].ws_url(plan.id, member),
                tracker.clone(),
                presence.clone(),
            ));
        }
        let voters = plan.members.len();
        sessions.push(LiveSession {
            plan,
            conns: Vec::new(),
            tracker,
            last_choice: Mutex::new(vec![None; voters]),
            presence,
        });
    }
    let results: Vec<_> = stream::iter(jobs)
        .map(|(session, index, url, tracker, presence)| {
            let counters = counters.clone();
            async move {
                let on_frame = move |text: &str, at: Instant| {
                    counters.frames.fetch_add(1, Ordering::Relaxed);
                    // Cheap checks first: most frames need no parsing.
                    if text.contains("\"story_changed\"") {
                        counters.story_frames.fetch_add(1, Ordering::Relaxed);
                        if let Ok(frame) = serde_json::from_str::<Value>(text) {
                            if let Ok(mut t) = tracker.lock() {
                                t.observe(index, &frame["data"], at);
                            }
                        }
                    } else if text.contains("\"participants_changed\"") {
                        if let Ok(frame) = serde_json::from_str::<Value>(text) {
                            if let Ok(mut p) = presence.lock() {
                                p.observe(index, &frame["data"], at);
                            }
                        }
                    } else if text.contains("\"event\":\"error\"") {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                };
                (session, index, Conn::open(&url, heartbeat, on_frame).await)
            }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    let mut failures = 0;
    let mut slots: Vec<Vec<Option<Conn>>> = sessions
        .iter()
        .map(|s| (0..s.plan.members.len()).map(|_| None).collect())
        .collect();
    for (session, index, conn) in results {
        match conn {
            Ok(conn) => {
                connect_times.record(conn.connect_time);
                slots[session][index] = Some(conn);
            }
            Err(e) => {
                failures += 1;
                if failures <= 3 {
                    eprintln!("connect failed: {e:#}");
                }
            }
        }
    }
    if failures > 0 {
        bail!("{failures} connections failed");
    }
    for (session, conns) in sessions.iter_mut().zip(slots) {
        session.conns = conns.into_iter().flatten().collect();
    }
    Ok(sessions)
}

/// Makes each session's story active (its first member moderates) and waits until every member
/// has seen it.
pub async fn activate(sessions: &[LiveSession], counters: &Counters) -> Result<()> {
    let before = counters.story_frames.load(Ordering::Relaxed);
    let expected: u64 = sessions.iter().map(|s| s.conns.len() as u64).sum();
    for s in sessions {
        s.conns[0].send("next_story_requested", json!({"story_id": s.plan.story_id}));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while counters.story_frames.load(Ordering::Relaxed) - before < expected {
        if Instant::now() > deadline {
            bail!("the stories did not become active within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// What one period of voting measured.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct VotingResult {
    pub per_recipient: Percentiles,
    pub whole_session: Percentiles,
    pub votes_sent: u64,
    pub votes_delivered: u64,
    pub votes_undelivered: u64,
    /// Of `votes_undelivered`: votes the same voter's next vote replaced before every member
    /// saw them (slower than the gap between two votes), rather than never arriving.
    #[serde(default)]
    pub votes_superseded: u64,
    pub votes_sent_per_sec: f64,
    pub votes_delivered_per_sec: f64,
    pub frames_per_sec: f64,
    pub errors: u64,
    pub seconds: f64,
}

/// Every voter of every session votes once per `interval` for `duration` (start times spread
/// evenly), then waits up to `drain` for deliveries.
pub async fn vote(
    sessions: &Arc<Vec<LiveSession>>,
    counters: &Arc<Counters>,
    interval: Duration,
    duration: Duration,
    drain: Duration,
) -> VotingResult {
    vote_jittered(sessions, counters, interval, 0.0, duration, drain).await
}

/// As [`vote`], each vote sent a random `0 .. 2 × jitter × interval` after its tick (`jitter`
/// at most 0.45): the votes of a voter come `interval` apart on average, give or take
/// `jitter × interval`, and voters do not keep the phase they started with. Every member that
/// may vote votes (a voting moderator too).
pub async fn vote_jittered(
    sessions: &Arc<Vec<LiveSession>>,
    counters: &Arc<Counters>,
    interval: Duration,
    jitter: f64,
    duration: Duration,
    drain: Duration,
) -> VotingResult {
    let jitter = jitter.clamp(0.0, 0.45);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    for s in sessions.iter() {
        if let Ok(mut t) = s.tracker.lock() {
            t.reset_stats();
        }
    }
    let frames_before = counters.frames.load(Ordering::Relaxed);
    let errors_before = counters.errors.load(Ordering::Relaxed);
    let sent = Arc::new(AtomicU64::new(0));
    let voters: Vec<(usize, usize)> = sessions
        .iter()
        .enumerate()
        .flat_map(|(s, live)| {
            live.plan
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.votes)
                .map(move |(i, _)| (s, i))
        })
        .collect();
    let total = voters.len().max(1);
    let started = Instant::now();
    let end = tokio::time::Instant::now() + duration;
    let mut tasks = Vec::new();
    for (n, (s, i)) in voters.into_iter().enumerate() {
        let sessions = sessions.clone();
        let sent = sent.clone();
        let offset = interval.mul_f64(n as f64 / total as f64);
        let mut random = SplitMix(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        tasks.push(tokio::spawn(async move {
            let live = &sessions[s];
            let user_id = live.plan.members[i].user_id;
            let mut ticker =
                tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut round = 0usize;
            loop {
                let tick = ticker.tick().await;
                if tick >= end {
                    break;
                }
                if jitter > 0.0 {
                    let delay = interval.mul_f64(2.0 * jitter * random.unit());
                    tokio::time::sleep_until(tick + delay).await;
                }
                let choice = CHOICES[(round + i) % CHOICES.len()];
                round += 1;
                if let Ok(mut t) = live.tracker.lock() {
                    t.sent(user_id, choice, Instant::now());
                }
                if live.conns[i].send("vote_submitted", json!({"choice": choice})) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut last) = live.last_choice.lock() {
                        last[i] = Some(choice);
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let voting = started.elapsed();
    let drain_until = Instant::now() + drain;
    while Instant::now() < drain_until
        && sessions
            .iter()
            .any(|s| s.tracker.lock().is_ok_and(|t| t.in_flight() > 0))
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut per_recipient = Latencies::new();
    let mut whole_session = Latencies::new();
    let (mut delivered, mut undelivered, mut superseded) = (0, 0, 0);
    for s in sessions.iter() {
        if let Ok(t) = s.tracker.lock() {
            per_recipient.merge(&t.per_recipient);
            whole_session.merge(&t.whole_session);
            delivered += t.delivered;
            undelivered += t.in_flight() as u64 + t.superseded;
            superseded += t.superseded;
        }
    }
    let seconds = voting.as_secs_f64().max(0.001);
    let votes_sent = sent.load(Ordering::Relaxed);
    VotingResult {
        per_recipient: per_recipient.percentiles(),
        whole_session: whole_session.percentiles(),
        votes_sent,
        votes_delivered: delivered,
        votes_undelivered: undelivered,
        votes_superseded: superseded,
        votes_sent_per_sec: votes_sent as f64 / seconds,
        votes_delivered_per_sec: delivered as f64 / seconds,
        frames_per_sec: (counters.frames.load(Ordering::Relaxed) - frames_before) as f64 / seconds,
        errors: counters.errors.load(Ordering::Relaxed) - errors_before,
        seconds,
    }
}

/// A small, fast pseudo-random generator (splitmix64): jitter needs no more.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    /// Seeded from the clock: every run draws differently.
    pub(crate) fn from_clock() -> SplitMix {
        SplitMix(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        )
    }

    /// A number in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// On the real server: how many voters' last votes are stored as they were sent.
pub async fn check_persisted(target: &Target, sessions: &[LiveSession]) -> Result<(u64, u64)> {
    let (mut ok, mut total) = (0, 0);
    for s in sessions {
        let stored = target.persisted_votes(s.plan.story_id).await?;
        let last = s.last_choice.lock().map(|l| l.clone()).unwrap_or_default();
        for (i, choice) in last.iter().enumerate() {
            if let Some(choice) = choice {
                total += 1;
                if stored.get(&s.plan.members[i].user_id).map(String::as_str) == Some(*choice) {
                    ok += 1;
                }
            }
        }
    }
    Ok((ok, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_uniform_in_the_unit_interval() {
        let mut random = SplitMix(42);
        let draws: Vec<f64> = (0..10_000).map(|_| random.unit()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let low = draws.iter().filter(|x| **x < 0.25).count();
        assert!((2_200..2_800).contains(&low), "{low}");
    }

    #[test]
    fn a_presence_frame_is_kept_with_its_names() {
        let mut log = PresenceLog::new(2);
        let at = Instant::now();
        log.observe(
            1,
            &json!({"participants": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}),
            at,
        );
        log.observe(5, &json!({"participants": []}), at);
        assert!(log.frames[0].is_empty());
        assert_eq!(log.frames[1].len(), 1);
        let names: Vec<&str> = log.frames[1][0].1.iter().map(String::as_str).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
