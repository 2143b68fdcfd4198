//! Prometheus metrics (PROTOCOL.md section 4), through the `metrics` facade: the actors record,
//! `GET /metrics` renders. Every metric is described here, once; README's "Metrics" lists them.
//!
//! Recording without an installed recorder (unit tests) does nothing.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The `event` label of a frame refused before its event name was known (malformed JSON, a
/// binary frame, a flood).
pub const NO_EVENT: &str = "none";

const SOCKETS_OPEN: &str = "poker_sockets_open";
const SESSIONS_LIVE: &str = "poker_sessions_live";
const FRAMES_IN: &str = "poker_frames_in_total";
const FRAMES_OUT: &str = "poker_frames_out_total";
const EVENTS: &str = "poker_events_total";
const DB_WRITE: &str = "poker_db_write_seconds";
const SLOW_SOCKETS: &str = "poker_sockets_closed_not_reading_total";
const BACKPLANE_UP: &str = "poker_backplane_up";
const BACKPLANE_SUBSCRIPTIONS: &str = "poker_backplane_subscriptions";
const BACKPLANE_PUBLISHED: &str = "poker_backplane_published_total";
const BACKPLANE_RECEIVED: &str = "poker_backplane_received_total";
const BACKPLANE_RELOADS: &str = "poker_backplane_reloads_total";
const WEBHOOK_DELIVERIES: &str = "poker_webhook_deliveries_total";

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(DB_WRITE.into()),
                    &[
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0, 10.0,
                    ],
                )
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| e.to_string())?;
            describe();
            // Histograms are folded in by upkeep; without the exporter's own HTTP listener, it
            // is ours to run.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("poker-metrics".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .map_err(|e| e.to_string())?;
            Ok(handle)
        })
        .clone()
}

fn describe() {
    describe_gauge!(SOCKETS_OPEN, "WebSockets open now.");
    describe_gauge!(
        SESSIONS_LIVE,
        "Poker sessions with a live actor (someone connected) now."
    );
    describe_counter!(FRAMES_IN, "Data frames received from clients.");
    describe_counter!(
        FRAMES_OUT,
        "Frames handed to sockets for clients (events and error frames)."
    );
    describe_counter!(
        EVENTS,
        "Client events by name (`none` when the frame named none) and outcome: `ok` or the \
         error code sent back."
    );
    describe_histogram!(
        DB_WRITE,
        metrics::Unit::Seconds,
        "Time from queueing a live write to its commit (or failure), per write."
    );
    describe_counter!(
        SLOW_SOCKETS,
        "Sockets closed with 1013 because their client did not read."
    );
    describe_gauge!(
        BACKPLANE_UP,
        "1 while Redis (the backplane shared with other processes) answers, 0 while it does not; \
         absent when REDIS_URL is not set."
    );
    describe_gauge!(
        BACKPLANE_SUBSCRIPTIONS,
        "Redis channels this process is subscribed to: one per live session, plus one for all."
    );
    describe_counter!(
        BACKPLANE_PUBLISHED,
        "Messages published to other processes, by outcome (`ok` or `failed`)."
    );
    describe_counter!(
        BACKPLANE_RECEIVED,
        "Versioned changes received from the backplane, by outcome: `applied`, `duplicate` \
         (already applied), `buffered` (arrived before an earlier one)."
    );
    describe_counter!(
        BACKPLANE_RELOADS,
        "Live sessions reloaded from the database to catch up, by reason: `gap` (a change never \
         arrived), `stale` (a write found the active story had moved on), `version_check` (the \
         periodic check found a newer version), `resync` (Redis came back)."
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook deliveries that came to an end, by outcome: `delivered` (a 2xx answer), \
         `failed` (every attempt spent), `dropped` (too many under way, or the event queue was \
         full)."
    );
    // Present from the start, at zero, so a scrape before any traffic shows every name.
    gauge!(SOCKETS_OPEN).set(0.0);
    gauge!(SESSIONS_LIVE).set(0.0);
    counter!(FRAMES_IN).absolute(0);
    counter!(FRAMES_OUT).absolute(0);
    counter!(SLOW_SOCKETS).absolute(0);
}

pub fn socket_opened() {
    gauge!(SOCKETS_OPEN).increment(1.0);
}

pub fn socket_closed() {
    gauge!(SOCKETS_OPEN).decrement(1.0);
}

pub fn session_started() {
    gauge!(SESSIONS_LIVE).increment(1.0);
}

pub fn session_stopped() {
    gauge!(SESSIONS_LIVE).decrement(1.0);
}

pub fn frame_in() {
    counter!(FRAMES_IN).increment(1);
}

pub fn frame_out() {
    counter!(FRAMES_OUT).increment(1);
}

/// One client event and what became of it (`ok` or an error code).
pub fn event(event: &'static str, outcome: &'static str) {
    counter!(EVENTS, "event" => event, "outcome" => outcome).increment(1);
}

pub fn db_write(took: Duration) {
    histogram!(DB_WRITE).record(took.as_secs_f64());
}

pub fn slow_socket_closed() {
    counter!(SLOW_SOCKETS).increment(1);
}

pub fn backplane_up(up: bool) {
    gauge!(BACKPLANE_UP).set(if up { 1.0 } else { 0.0 });
}

pub fn backplane_subscriptions(count: usize) {
    gauge!(BACKPLANE_SUBSCRIPTIONS).set(count as f64);
}

pub fn backplane_published(ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    counter!(BACKPLANE_PUBLISHED, "outcome" => outcome).increment(1);
}

/// `applied`, `duplicate` or `buffered`.
pub fn backplane_received(outcome: &'static str) {
    counter!(BACKPLANE_RECEIVED, "outcome" => outcome).increment(1);
}

/// `gap`, `version_check` or `resync`.
pub fn backplane_reload(reason: &'static str) {
    counter!(BACKPLANE_RELOADS, "reason" => reason).increment(1);
}

/// A webhook delivery ended: `delivered`, `failed` or `dropped`.
pub fn webhook_delivery(outcome: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}
