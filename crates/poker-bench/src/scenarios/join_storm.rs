//! `join-storm`: N users join one session at once. Counts the frames all clients receive (it
//! must grow linearly with N) and the time until each has the full participants list.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::client::Conn;
use crate::stats::{Latencies, Percentiles};
use crate::target::Target;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Config {
    pub users: Vec<usize>,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Storm {
    pub users: usize,
    pub frames_received: u64,
    pub frames_per_user: f64,
    /// From the start of the storm until a client has seen all N participants.
    pub complete_after: Percentiles,
    pub incomplete_clients: usize,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Outcome {
    pub storms: Vec<Storm>,
}

/// Whether a frame is a `participants_changed` listing `n` participants. Cheap checks first:
/// in a storm every client sees many large frames, and parsing them all would make the bench,
/// not the server, the bottleneck.
pub fn lists_all(text: &str, n: usize) -> bool {
    // Every participant takes more than 30 bytes (`{"id":1,"name":"u1","permissions":[]}`).
    if text.len() < n * 30 || !text.contains("\"participants_changed\"") {
        return false;
    }
    if text.matches("\"permissions\"").count() != n {
        return false;
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["data"]["participants"].as_array().map(Vec::len))
        == Some(n)
}

async fn storm(target: &Target, n: usize, timeout: Duration) -> Result<Storm> {
    let users = target.users(n, false).await?;
    let plan = target.sessions(1, &users).await?.remove(0);
    let frames = Arc::new(AtomicU64::new(0));
    let done: Arc<Mutex<Latencies>> = Arc::new(Mutex::new(Latencies::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for member in &plan.members {
        let url = target.ws_url(plan.id, member);
        let (frames, done) = (frames.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut complete = false;
            let on_frame = move |text: &str, at: Instant| {
                frames.fetch_add(1, Ordering::Relaxed);
                if !complete && lists_all(text, n) {
                    complete = true;
                    if let Ok(mut d) = done.lock() {
                        d.record(at - start);
                    }
                }
            };
            Conn::open(&url, Some(Duration::from_secs(20)), on_frame).await
        }));
    }
    let mut conns = Vec::new();
    for task in tasks {
        if let Ok(Ok(conn)) = task.await {
            conns.push(conn);
        }
    }
    let deadline = Instant::now() + timeout;
    while done.lock().map_or(0, |d| d.count()) < n as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let late frames land so the count is complete.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let complete = done.lock().map(|d| d.clone()).unwrap_or_default();
    let frames_received = frames.load(Ordering::Relaxed);
    drop(conns);
    Ok(Storm {
        users: n,
        frames_received,
        frames_per_user: frames_received as f64 / n as f64,
        complete_after: complete.percentiles(),
        incomplete_clients: n - complete.count() as usize,
    })
}

pub async fn run(target: &Target, config: &Config) -> Result<Outcome> {
    let mut storms = Vec::new();
    for &n in &config.users {
        let result = storm(target, n, Duration::from_secs(config.timeout_secs)).await?;
        eprintln!(
            "  join-storm N={n}: {} frames ({:.1} per user), complete p99 {:.0} ms, {} incomplete",
            result.frames_received,
            result.frames_per_user,
            result.complete_after.p99,
            result.incomplete_clients
        );
        storms.push(result);
    }
    Ok(Outcome { storms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_a_complete_participants_list() {
        let frame = r#"{"type":"send_json","event":"participants_changed","data":{"participants":[{"id":1,"name":"u1","permissions":[]},{"id":2,"name":"u2","permissions":[]}]}}"#;
        assert!(lists_all(frame, 2));
        assert!(!lists_all(frame, 3));
        assert!(!lists_all(r#"{"event":"story_changed","data":{}}"#, 0));
    }
}
