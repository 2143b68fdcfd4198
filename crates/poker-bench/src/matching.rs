//! Matching deliveries to votes. A vote is sent at a known time; each member of the session sees
//! it when a `story_changed` lists the voter under the chosen option. Per-recipient latency is
//! send → that recipient's frame; whole-session latency is send → the last recipient's frame.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::stats::Latencies;

struct Pending {
    choice: String,
    sent: Instant,
    seen: Vec<bool>,
    remaining: usize,
    slowest: Duration,
}

/// The votes in flight in one session and the latencies of those delivered.
pub struct Tracker {
    recipients: usize,
    pending: HashMap<i64, Pending>,
    pub per_recipient: Latencies,
    pub whole_session: Latencies,
    /// Votes every recipient saw.
    pub delivered: u64,
    /// Votes replaced by the same voter's next vote before everyone saw them.
    pub superseded: u64,
}

impl Tracker {
    /// A tracker for a session of `recipients` sockets (the voter's own included).
    pub fn new(recipients: usize) -> Self {
        Tracker {
            recipients,
            pending: HashMap::new(),
            per_recipient: Latencies::new(),
            whole_session: Latencies::new(),
            delivered: 0,
            superseded: 0,
        }
    }

    /// Records that `voter` sent `choice` at `at` (call before sending).
    pub fn sent(&mut self, voter: i64, choice: &str, at: Instant) {
        let pending = Pending {
            choice: choice.to_string(),
            sent: at,
            seen: vec![false; self.recipients],
            remaining: self.recipients,
            slowest: Duration::ZERO,
        };
        if self.pending.insert(voter, pending).is_some() {
            self.superseded += 1;
        }
    }

    /// Takes a `story_changed` data object that recipient number `recipient` received at `at`.
    pub fn observe(&mut self, recipient: usize, data: &Value, at: Instant) {
        let Some(votes) = data.get("votes").and_then(Value::as_object) else {
            return;
        };
        for (option, voters) in votes {
            let Some(voters) = voters.as_array() else {
                continue;
            };
            for voter in voters {
                let Some(id) = voter.get("id").and_then(Value::as_i64) else {
                    continue;
                };
                let done = match self.pending.get_mut(&id) {
                    Some(p)
                        if p.choice == *option
                            && recipient < p.seen.len()
                            && !p.seen[recipient] =>
                    {
                        p.seen[recipient] = true;
                        p.remaining -= 1;
                        let latency = at.saturating_duration_since(p.sent);
                        self.per_recipient.record(latency);
                        p.slowest = p.slowest.max(latency);
                        p.remaining == 0
                    }
                    _ => false,
                };
                if done {
                    if let Some(p) = self.pending.remove(&id) {
                        self.whole_session.record(p.slowest);
                        self.delivered += 1;
                    }
                }
            }
        }
    }

    /// Votes still waiting for some recipient.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Starts new latency distributions (for the next stage of a ramp), keeping votes in flight.
    pub fn reset_stats(&mut self) {
        self.per_recipient = Latencies::new();
        self.whole_session = Latencies::new();
        self.delivered = 0;
        self.superseded = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn votes(entries: &[(&str, &[i64])]) -> Value {
        let mut map = serde_json::Map::new();
        for (option, ids) in entries {
            map.insert(
                option.to_string(),
                ids.iter()
                    .map(|id| json!({"id": id, "name": format!("u{id}")}))
                    .collect(),
            );
        }
        json!({ "votes": map })
    }

    #[test]
    fn a_vote_is_delivered_when_every_recipient_saw_it() {
        let t0 = Instant::now();
        let mut t = Tracker::new(3);
        t.sent(7, "5", t0);
        t.observe(0, &votes(&[("5", &[7])]), t0 + Duration::from_millis(2));
        t.observe(1, &votes(&[("5", &[7])]), t0 + Duration::from_millis(4));
        assert_eq!(t.delivered, 0);
        // The same recipient seeing it twice counts once.
        t.observe(1, &votes(&[("5", &[7])]), t0 + Duration::from_millis(5));
        t.observe(
            2,
            &votes(&[("5", &[7]), ("3", &[8])]),
            t0 + Duration::from_millis(9),
        );
        assert_eq!(t.delivered, 1);
        assert_eq!(t.in_flight(), 0);
        assert_eq!(t.per_recipient.count(), 3);
        let whole = t.whole_session.percentiles();
        assert!((whole.max - 9.0).abs() < 0.05, "{whole:?}");
    }

    #[test]
    fn an_old_choice_does_not_count_for_a_new_vote() {
        let t0 = Instant::now();
        let mut t = Tracker::new(1);
        t.sent(7, "8", t0);
        // A frame still showing the voter's previous choice.
        t.observe(0, &votes(&[("5", &[7])]), t0 + Duration::from_millis(1));
        assert_eq!(t.delivered, 0);
        t.observe(0, &votes(&[("8", &[7])]), t0 + Duration::from_millis(3));
        assert_eq!(t.delivered, 1);
    }

    #[test]
    fn a_newer_vote_supersedes_an_undelivered_one() {
        let t0 = Instant::now();
        let mut t = Tracker::new(2);
        t.sent(1, "1", t0);
        t.observe(0, &votes(&[("1", &[1])]), t0);
        t.sent(1, "2", t0 + Duration::from_millis(1));
        assert_eq!(t.superseded, 1);
        assert_eq!(t.in_flight(), 1);
        t.observe(0, &votes(&[("2", &[1])]), t0 + Duration::from_millis(2));
        t.observe(1, &votes(&[("2", &[1])]), t0 + Duration::from_millis(2));
        assert_eq!(t.delivered, 1);
    }

    #[test]
    fn frames_without_votes_are_ignored() {
        let mut t = Tracker::new(1);
        t.sent(1, "1", Instant::now());
        t.observe(0, &json!({"votes": {}}), Instant::now());
        t.observe(0, &json!({}), Instant::now());
        assert_eq!(t.in_flight(), 1);
    }
}
