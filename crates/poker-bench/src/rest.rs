//! REST under load: a client of its own that sends `GET /api/sessions/{id}` at a fixed rate
//! (open loop: a slow answer does not delay the next request) while the votes flow.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::{JoinHandle, JoinSet};

use crate::scenarios::SplitMix;
use crate::stats::{Latencies, Percentiles};
use crate::target::Target;

/// Requests still unanswered beyond which the client stops sending (and counts the skipped
/// ones as errors) rather than pile up connections without bound.
const MAX_IN_FLIGHT: usize = 256;

/// What the REST client measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestResult {
    /// The rate asked for, requests per second.
    pub rate: f64,
    /// Requests answered with 200.
    pub ok: u64,
    /// Requests answered otherwise, failed in transport, or not sent because too many were
    /// unanswered.
    pub errors: u64,
    /// From each request's scheduled time to the end of its answer (answered ones).
    pub latency: Percentiles,
    pub requests_per_sec: f64,
    pub seconds: f64,
    /// The first error, to say what went wrong.
    pub first_error: Option<String>,
}

/// A running REST client; [`RestLoad::finish`] stops it and says what it measured.
pub struct RestLoad {
    stop: Arc<AtomicBool>,
    task: JoinHandle<RestResult>,
}

/// Answers counted by a REST client: latencies of the good ones, errors, the first error.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) latency: Latencies,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
}

impl Tally {
    pub(crate) fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

impl RestLoad {
    /// Starts `rate` requests a second for a random session of `session_ids` each.
    pub fn start(target: &Target, session_ids: Vec<i64>, rate: f64) -> RestLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let target = Arc::new(target.clone());
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default();
            let tally = Arc::new(Mutex::new(Tally::default()));
            let mut random = SplitMix::from_clock();
            let mut in_flight = JoinSet::new();
            let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
            let mut ticker = tokio::time::interval(period);
            let started = Instant::now();
            while !flag.load(Ordering::Relaxed) && !session_ids.is_empty() {
                let scheduled = ticker.tick().await.into_std();
                while in_flight.try_join_next().is_some() {}
                if in_flight.len() >= MAX_IN_FLIGHT {
                    if let Ok(mut t) = tally.lock() {
                        t.error(format!("over {MAX_IN_FLIGHT} requests unanswered"));
                    }
                    continue;
                }
                let index = (random.unit() * session_ids.len() as f64) as usize;
                let id = session_ids[index.min(session_ids.len() - 1)];
                let (target, http, tally) = (target.clone(), http.clone(), tally.clone());
                in_flight.spawn(async move {
                    let answer = target.get_session(&http, id).await;
                    let latency = scheduled.elapsed();
                    if let Ok(mut t) = tally.lock() {
                        match answer {
                            Ok(200) => {
                                t.ok += 1;
                                t.latency.record(latency);
                            }
                            Ok(status) => t.error(format!("GET /api/sessions/{id}: {status}")),
                            Err(e) => t.error(format!("GET /api/sessions/{id}: {e:#}")),
                        }
                    }
                });
            }
            let seconds = started.elapsed().as_secs_f64().max(0.001);
            while in_flight.join_next().await.is_some() {}
            let t = tally
                .lock()
                .map(|mut t| std::mem::take(&mut *t))
                .unwrap_or_default();
            RestResult {
                rate,
                ok: t.ok,
                errors: t.errors,
                latency: t.latency.percentiles(),
                requests_per_sec: (t.ok + t.errors) as f64 / seconds,
                seconds,
                first_error: t.first_error,
            }
        });
        RestLoad { stop, task }
    }

    /// Stops sending, waits for the answers still due, and reports.
    pub async fn finish(self) -> RestResult {
        self.stop.store(true, Ordering::Relaxed);
        let rate = 0.0;
        self.task.await.unwrap_or(RestResult {
            rate,
            ok: 0,
            errors: 1,
            latency: Percentiles::default(),
            requests_per_sec: 0.0,
            seconds: 0.0,
            first_error: Some("the REST client task failed".into()),
        })
    }
}
