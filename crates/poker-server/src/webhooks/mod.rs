//! Webhooks (README, "Webhooks"): events of sessions POSTed, signed, to the URLs an admin
//! registered, on a background task so that no session ever waits for a receiver.
//!
//! An event is fired once, by the process that committed its change (a session actor's
//! `committed`, a REST handler), never where changes are only applied: with Redis every process
//! applies every change. [`Webhooks::fire`] only puts the event on a bounded queue; the worker
//! reads the session's hooks, records a delivery for each and runs its attempts as a task of
//! its own, retrying with exponential backoff until [`Schedule::attempts`] are spent.
//!
//! Every attempt is recorded, so a delivery whose process stopped (a restart, a crash) is not
//! lost: [`resume`] looks for deliveries left `pending` past their next attempt's time, takes
//! each over in the database (one process wins) and goes on with the attempts it had left.

pub mod sign;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::web;
use poker_db::{DeliveryUpdate, NewDelivery, Store, WebhookTarget};
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub use sign::{EventKind, Schedule};

/// Events waiting for the worker; past this, new ones are dropped (and logged).
const QUEUE: usize = 1024;

/// Deliveries being attempted at once; past this, new ones are recorded as `dropped`.
pub const MAX_IN_FLIGHT: usize = 512;

/// `User-Agent` of every delivery.
const USER_AGENT: &str = concat!("planning-poker/", env!("CARGO_PKG_VERSION"), " (webhooks)");

/// One event to send to the hooks of its session.
#[derive(Debug)]
struct Event {
    kind: EventKind,
    session_id: i64,
    data: Value,
    at: chrono::DateTime<chrono::Utc>,
}

/// Where events are fired; cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    queue: mpsc::Sender<Event>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhooks({} queued)", QUEUE - self.queue.capacity())
    }
}

impl Webhooks {
    /// Starts the worker on the current runtime.
    /// `roots`: certificates https receivers may be signed by, besides the public roots.
    pub fn start(store: Store, schedule: Schedule, roots: Vec<reqwest::Certificate>) -> Webhooks {
        let (queue, events) = mpsc::channel(QUEUE);
        let mut builder = reqwest::Client::builder();
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
        let client = builder
            .user_agent(USER_AGENT)
            // A redirect is an answer other than 2xx: the receiver said where, not that it took it.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(schedule.timeout)
            .build();
        match client {
            Ok(client) => {
                let in_flight = Arc::new(AtomicUsize::new(0));
                actix_web::rt::spawn(resume(
                    store.clone(),
                    client.clone(),
                    schedule,
                    in_flight.clone(),
                ));
                actix_web::rt::spawn(run(events, store, client, schedule, in_flight));
            }
            // Without a client nothing can be sent; the queue fills and events are dropped.
            Err(e) => log::error!("webhooks are off: cannot build an HTTP client: {e}"),
        }
        Webhooks { queue }
    }

    /// Queues an event of `session_id` for its hooks; never waits.
    pub fn fire(&self, kind: EventKind, session_id: i64, data: Value) {
        let event = Event {
            kind,
            session_id,
            data,
            at: chrono::Utc::now(),
        };
        if let Err(e) = self.queue.try_send(event) {
            crate::metrics::webhook_delivery("dropped");
            log::warn!(
                session = session_id;
                "webhooks: event {} dropped, the queue is {}",
                kind.as_str(),
                match e {
                    mpsc::error::TrySendError::Full(_) => "full",
                    mpsc::error::TrySendError::Closed(_) => "closed",
                }
            );
        }
    }
}

/// `data` of `points_set`.
pub fn points_set(story: &poker_db::Story, points: &str) -> Value {
    json!({"story": {"id": story.id, "label": story.label(), "story_points": points}})
}

/// `data` of `stories_imported`.
pub fn stories_imported(stories: &[poker_db::Story]) -> Value {
    json!({"count": stories.len(), "stories": story_list(stories)})
}

/// `data` of `session_ended`, read by the worker: the session's stories and their points.
fn session_ended(stories: &[poker_db::Story]) -> Value {
    json!({"stories": story_list(stories)})
}

fn story_list(stories: &[poker_db::Story]) -> Vec<Value> {
    stories
        .iter()
        .map(|s| json!({"id": s.id, "label": s.label(), "story_points": s.story_points}))
        .collect()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The worker: one event at a time, each delivery a task of its own.
async fn run(
    mut events: mpsc::Receiver<Event>,
    store: Store,
    client: reqwest::Client,
    schedule: Schedule,
    in_flight: Arc<AtomicUsize>,
) {
    while let Some(event) = events.recv().await {
        let (read, session_id, kind) = (store.clone(), event.session_id, event.kind);
        let found = web::block(move || -> Result<_, poker_db::DbError> {
            let targets = read.webhook_targets(session_id)?;
            if targets.is_empty() {
                return Ok(None);
            }
            let name = read.session(session_id)?.map(|s| s.name);
            let stories = match kind {
                EventKind::SessionEnded => Some(read.stories(session_id)?),
                _ => None,
            };
            Ok(Some((targets, name, stories)))
        })
        .await;
        let (targets, name, stories) = match found {
            Ok(Ok(Some(found))) => found,
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => {
                log::warn!(session = session_id; "webhooks: event {} lost: {e}", kind.as_str());
                continue;
            }
            // The blocking pool is gone: the server is stopping.
            Err(_) => return,
        };
        let data = match stories {
            Some(stories) => session_ended(&stories),
            None => event.data,
        };
        let event_id = sign::new_event_id();
        let body = json!({
            "id": event_id,
            "event": kind.as_str(),
            "created_at": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "session": {"id": session_id, "name": name},
            "data": data,
        })
        .to_string();
        let body: Arc<str> = body.into();
        for target in targets {
            let full = in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT;
            let status = if full { "dropped" } else { "pending" };
            let (write, id_for_log, body_for_log) = (store.clone(), event_id.clone(), body.clone());
            let webhook_id = target.id;
            let recorded = web::block(move || {
                write.insert_delivery(&NewDelivery {
                    webhook_id,
                    event_id: &id_for_log,
                    event: kind.as_str(),
                    session_id: Some(session_id),
                    payload: &body_for_log,
                    status,
                    now_ms: now_ms(),
                })
            })
            .await;
            let delivery_id = match recorded {
                Ok(Ok(id)) => id,
                Ok(Err(e)) => {
                    log::warn!(session = session_id; "webhooks: delivery to hook {webhook_id} lost: {e}");
                    continue;
                }
                Err(_) => return,
            };
            if full {
                crate::metrics::webhook_delivery("dropped");
                log::warn!(
                    session = session_id;
                    "webhooks: delivery {delivery_id} to hook {webhook_id} dropped: \
                     {MAX_IN_FLIGHT} deliveries are under way"
                );
                continue;
            }
            let attempts = Attempts {
                store: store.clone(),
                client: client.clone(),
                schedule,
                target,
                delivery_id,
                event: kind.as_str().into(),
                event_id: event_id.clone(),
                body: body.clone(),
                first: 1,
                log: Vec::new(),
            };
            attempts.spawn(&in_flight);
        }
    }
}

/// How often a process looks for deliveries left by a stopped one (and how soon after it
/// starts: a restarted process takes over its own predecessor's).
const RESUME_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Pending deliveries read at a time.
const RESUME_BATCH: i64 = 100;

/// Goes on with deliveries that a stopped process left pending (see [`Schedule::abandoned`]):
/// each is taken over in the database first, so that of several processes only one sends it.
async fn resume(
    store: Store,
    client: reqwest::Client,
    schedule: Schedule,
    in_flight: Arc<AtomicUsize>,
) {
    loop {
        actix_web::rt::time::sleep(RESUME_EVERY).await;
        let read = store.clone();
        let pending = match web::block(move || read.pending_deliveries(RESUME_BATCH)).await {
            Ok(Ok(pending)) => pending,
            Ok(Err(e)) => {
                log::debug!("webhooks: pending deliveries not read: {e}");
                continue;
            }
            // The blocking pool is gone: the server is stopping.
            Err(_) => return,
        };
        let now = now_ms();
        for pending in pending {
            let delivery = pending.delivery;
            if !schedule.abandoned(delivery.attempts, delivery.updated_at, now) {
                continue;
            }
            if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                break;
            }
            let (claim, id) = (store.clone(), delivery.id);
            let (attempts, updated_at) = (delivery.attempts, delivery.updated_at);
            let claimed =
                web::block(move || claim.claim_delivery(id, attempts, updated_at, now_ms())).await;
            match claimed {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => continue,
                Ok(Err(e)) => {
                    log::debug!("webhooks: delivery {id} not taken over: {e}");
                    continue;
                }
                Err(_) => return,
            }
            log::info!(
                session = delivery.session_id.unwrap_or(0);
                "webhooks: delivery {id} of {} to hook {} taken over after {attempts} attempts \
                 (the process making them stopped)",
                delivery.event,
                pending.target.id
            );
            let log = match serde_json::from_str::<Value>(&delivery.attempt_log) {
                Ok(Value::Array(log)) => log,
                _ => Vec::new(),
            };
            Attempts {
                store: store.clone(),
                client: client.clone(),
                schedule,
                target: pending.target,
                delivery_id: id,
                event: delivery.event.into(),
                event_id: delivery.event_id,
                body: delivery.payload.into(),
                first: u32::try_from(attempts.saturating_add(1)).unwrap_or(u32::MAX),
                log,
            }
            .spawn(&in_flight);
        }
    }
}

/// One delivery's attempts, from attempt `first` on (1, or the next one of a delivery taken
/// over), `log` holding those made before.
struct Attempts {
    store: Store,
    client: reqwest::Client,
    schedule: Schedule,
    target: WebhookTarget,
    delivery_id: i64,
    /// The event's name (`X-Poker-Event`).
    event: Arc<str>,
    event_id: String,
    body: Arc<str>,
    first: u32,
    log: Vec<Value>,
}

impl Attempts {
    /// Runs them as a task of their own, counted in `in_flight` while they last.
    fn spawn(self, in_flight: &Arc<AtomicUsize>) {
        in_flight.fetch_add(1, Ordering::Relaxed);
        let in_flight = in_flight.clone();
        actix_web::rt::spawn(async move {
            self.run().await;
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }

    async fn run(self) {
        let mut log = self.log.clone();
        let last_attempt = self.schedule.attempts.max(1);
        if self.first > last_attempt {
            // Taken over with no attempt left (WEBHOOK_ATTEMPTS was lowered meanwhile).
            self.record(
                "failed",
                self.first - 1,
                None,
                Some("no attempt left"),
                &log,
            )
            .await;
            crate::metrics::webhook_delivery("failed");
            return;
        }
        for n in self.first..=last_attempt {
            // A delivery taken over is overdue already: its first attempt here is made at once.
            if n > self.first || self.first == 1 {
                actix_web::rt::time::sleep(self.schedule.wait_before(n)).await;
            }
            let at = chrono::Utc::now();
            let (status_code, error) = self.attempt(at.timestamp()).await;
            let delivered = error.is_none();
            log.push(json!({
                "attempt": n,
                "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "status_code": status_code,
                "error": error,
            }));
            let last = delivered || n >= last_attempt;
            let status = match (delivered, last) {
                (true, _) => "delivered",
                (false, true) => "failed",
                (false, false) => "pending",
            };
            self.record(status, n, status_code, error.as_deref(), &log)
                .await;
            if last {
                crate::metrics::webhook_delivery(status);
                if !delivered {
                    log::warn!(
                        "webhooks: delivery {} of {} to hook {} failed after {n} attempts",
                        self.delivery_id,
                        self.event,
                        self.target.id
                    );
                }
                return;
            }
        }
    }

    /// Writes the delivery's state after `attempts` attempts down.
    async fn record(
        &self,
        status: &'static str,
        attempts: u32,
        status_code: Option<u16>,
        error: Option<&str>,
        log: &[Value],
    ) {
        let (store, id) = (self.store.clone(), self.delivery_id);
        let attempt_log = Value::Array(log.to_vec()).to_string();
        let error = error.map(str::to_string);
        let saved = web::block(move || {
            store.update_delivery(
                id,
                &DeliveryUpdate {
                    status,
                    attempts: i64::from(attempts),
                    status_code: status_code.map(i64::from),
                    error: error.as_deref(),
                    attempt_log: &attempt_log,
                    now_ms: now_ms(),
                },
            )
        })
        .await;
        if let Ok(Err(e)) = saved {
            log::warn!("webhooks: delivery {id}: attempt {attempts} not recorded: {e}");
        }
    }

    /// One POST: the status code if there was an answer, and what went wrong unless it was 2xx.
    async fn attempt(&self, timestamp: i64) -> (Option<u16>, Option<String>) {
        let signature = sign::signature(&self.target.secret, timestamp, &self.body);
        let sent = self
            .client
            .post(&self.target.url)
            .timeout(self.schedule.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Poker-Event", &*self.event)
            .header("X-Poker-Delivery", &self.event_id)
            .header("X-Poker-Signature", signature)
            .body(self.body.to_string())
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => (Some(answer.status().as_u16()), None),
            Ok(answer) => {
                let code = answer.status().as_u16();
                (Some(code), Some(format!("answered {code}")))
            }
            Err(e) if e.is_timeout() => (
                None,
                Some(format!(
                    "no answer within {} ms",
                    self.schedule.timeout.as_millis()
                )),
            ),
            Err(e) => (None, Some(describe(&e.without_url()))),
        }
    }
}

/// An error with its causes (`error sending request: … connection refused`).
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
