//! `Participant`: one actor per WebSocket. It owns the socket: it parses frames into commands,
//! enforces the size and rate limits, pings, and passes commands to its `PokerSession` (which
//! judges them by the user's current rights), whose frames it writes back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use actix_http::ws::Item;
use actix_web::web::{Bytes, BytesMut};
use actix_web_actors::ws::{self, CloseCode, CloseReason};
use poker_core::{ClientCommand, Dialect, ErrorCode, EventName, WireError};

use super::messages::*;
use super::outbox::Outbox;
use super::registry::SessionRegistry;
use super::session::PokerSession;
use super::LiveConfig;
use crate::metrics;

/// The largest frame (or message assembled from continuation frames) a client may send.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Frames a second a client may send, sustained.
const RATE_PER_SEC: f64 = 20.0;
/// Frames a client may send at once before the rate applies.
const BURST: f64 = 20.0;
/// Frames over the limit before the socket is closed with 1008.
const STRIKES_BEFORE_CLOSE: u32 = 20;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// A token bucket with strikes: over-limit frames are dropped, the first of a flood is answered
/// with `rate_limited`, and a flood that goes on closes the socket.
struct RateLimit {
    tokens: f64,
    last: Instant,
    strikes: u32,
}

enum RateVerdict {
    Allow,
    /// Drop the frame; `warn` on the first strike of a flood.
    Drop {
        warn: bool,
    },
    Close,
}

impl RateLimit {
    fn new() -> Self {
        RateLimit {
            tokens: BURST,
            last: Instant::now(),
            strikes: 0,
        }
    }

    fn check(&mut self, now: Instant) -> RateVerdict {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * RATE_PER_SEC).min(BURST);
        if self.tokens >= BURST {
            // A full bucket means the client calmed down: forgive earlier strikes.
            self.strikes = 0;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return RateVerdict::Allow;
        }
        self.strikes += 1;
        if self.strikes > STRIKES_BEFORE_CLOSE {
            RateVerdict::Close
        } else {
            RateVerdict::Drop {
                warn: self.strikes == 1,
            }
        }
    }
}

/// The actor behind one WebSocket.
pub struct Participant {
    conn: ConnId,
    session_id: i64,
    user: Arc<SocketUser>,
    registry: Addr<SessionRegistry>,
    session: Option<Addr<PokerSession>>,
    config: Arc<LiveConfig>,
    rate: RateLimit,
    last_touch: Instant,
    /// A message arriving in continuation frames: its bytes so far, and whether it is text.
    partial: Option<(BytesMut, bool)>,
    /// Shared with the session and the response body: the bound on unsent output.
    outbox: Arc<Outbox>,
    /// What the socket offered at the handshake: whether it gets `error` frames and our events.
    dialect: Dialect,
}

impl Participant {
    pub fn new(
        session_id: i64,
        user: SocketUser,
        registry: Addr<SessionRegistry>,
        config: Arc<LiveConfig>,
        outbox: Arc<Outbox>,
        dialect: Dialect,
    ) -> Self {
        Participant {
            conn: NEXT_CONN.fetch_add(1, Ordering::Relaxed),
            session_id,
            user: Arc::new(user),
            registry,
            session: None,
            config,
            rate: RateLimit::new(),
            last_touch: Instant::now(),
            partial: None,
            outbox,
            dialect,
        }
    }

    fn refuse(&self, ctx: &mut ws::WebsocketContext<Self>, event: &'static str, error: WireError) {
        log::info!(
            session = self.session_id,
            user = self.user.id,
            event = event,
            code = error.code.as_str(),
            request_id = self.user.login.request_id.as_deref().unwrap_or("-");
            "session {}: refused a frame of user {} ({}): {error}",
            self.session_id,
            self.user.id,
            self.user.name
        );
        metrics::event(event, error.code.as_str());
        // A client of the original's dialect has no `error` event: its mistake is dropped.
        if self.dialect == Dialect::V2 {
            metrics::frame_out();
            ctx.text(error.to_frame());
        }
    }

    fn close(&self, ctx: &mut ws::WebsocketContext<Self>, code: CloseCode, why: &str) {
        log::info!(
            session = self.session_id,
            user = self.user.id,
            close_code = u16::from(code),
            request_id = self.user.login.request_id.as_deref().unwrap_or("-");
            "session {}: closing the socket of user {}: {why}",
            self.session_id,
            self.user.id
        );
        ctx.close(Some(CloseReason {
            code,
            description: Some(why.to_string()),
        }));
        ctx.stop();
    }

    /// Tells the session the socket is alive, at most once per touch interval.
    fn touch(&mut self, force: bool) {
        if force || self.last_touch.elapsed() >= self.config.touch_interval() {
            self.last_touch = Instant::now();
            if let Some(session) = &self.session {
                session.do_send(Touch { conn: self.conn });
            }
        }
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let (event, data) = match EventName::parse_envelope(text) {
            Ok(parsed) => parsed,
            Err(e) => return self.refuse(ctx, metrics::NO_EVENT, e),
        };
        let parsed = event.parse_data(data);
        if let Ok(ClientCommand::Heartbeat) = parsed {
            metrics::event(event.as_str(), "ok");
            return self.touch(true);
        }
        // Rights are judged by the session, which keeps them current; it also judges them
        // before the data, so the parse error travels with the event.
        self.last_touch = Instant::now();
        match &self.session {
            Some(session) => session.do_send(Command {
                conn: self.conn,
                event,
                parsed,
            }),
            None => self.refuse(
                ctx,
                event.as_str(),
                WireError::new(ErrorCode::Unavailable, "not joined yet"),
            ),
        }
    }

    /// Handles a complete message (a single frame, or assembled continuation frames).
    fn on_message(&mut self, bytes: Bytes, is_text: bool, ctx: &mut ws::WebsocketContext<Self>) {
        if !is_text {
            return self.refuse(
                ctx,
                metrics::NO_EVENT,
                WireError::new(
                    ErrorCode::BadRequest,
                    "binary frames are not accepted; send JSON text",
                ),
            );
        }
        match std::str::from_utf8(&bytes) {
            Ok(text) => self.on_text(text, ctx),
            Err(_) => self.refuse(
                ctx,
                metrics::NO_EVENT,
                WireError::new(ErrorCode::BadRequest, "text frames must be UTF-8"),
            ),
        }
    }

    fn on_continuation(&mut self, item: Item, ctx: &mut ws::WebsocketContext<Self>) {
        let (chunk, first, last) = match item {
            Item::FirstText(b) => (b, Some(true), false),
            Item::FirstBinary(b) => (b, Some(false), false),
            Item::Continue(b) => (b, None, false),
            Item::Last(b) => (b, None, true),
        };
        if let Some(is_text) = first {
            self.partial = Some((BytesMut::new(), is_text));
        }
        let Some((buffer, _)) = self.partial.as_mut() else {
            return self.refuse(
                ctx,
                metrics::NO_EVENT,
                WireError::new(
                    ErrorCode::BadRequest,
                    "continuation frame without a first frame",
                ),
            );
        };
        if buffer.len() + chunk.len() > MAX_FRAME_BYTES {
            self.partial = None;
            return self.close(ctx, CloseCode::Size, "message over 64 KiB");
        }
        buffer.extend_from_slice(&chunk);
        if last {
            if let Some((buffer, is_text)) = self.partial.take() {
                self.on_message(buffer.freeze(), is_text, ctx);
            }
        }
    }
}

impl Actor for Participant {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::socket_opened();
        ctx.run_interval(self.config.ping_interval, |_, ctx| ctx.ping(b""));
        if let Some(expires_at) = self.user.login.expires_at {
            // The login the socket was opened with ends at its expiry (a guest's with their
            // invite, a cookie after LOGIN_DAYS): so does the socket.
            let left = expires_at.saturating_sub(chrono::Utc::now().timestamp());
            let left = std::time::Duration::from_secs(u64::try_from(left).unwrap_or(0));
            ctx.run_later(left, |act, ctx| {
                act.close(
                    ctx,
                    CloseCode::Other(super::session::CLOSE_LOGIN_ENDED),
                    "the login expired",
                )
            });
        }
        let connect = Connect {
            session_id: self.session_id,
            conn: self.conn,
            user: self.user.clone(),
            socket: ctx.address().recipient(),
            outbox: self.outbox.clone(),
            dialect: self.dialect,
            arbiter: Arbiter::current(),
        };
        // Frames that arrive before the session answers wait until it has.
        self.registry
            .send(connect)
            .into_actor(self)
            .map(|result, act, ctx| match result {
                Ok(Some(session)) => act.session = Some(session),
                Ok(None) | Err(_) => act.close(
                    ctx,
                    CloseCode::Away,
                    "the server is shutting down; reconnect",
                ),
            })
            .wait(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::socket_closed();
        if let Some(session) = &self.session {
            session.do_send(Leave { conn: self.conn });
        }
    }
}

impl Handler<ToSocket> for Participant {
    type Result = ();

    fn handle(&mut self, msg: ToSocket, ctx: &mut Self::Context) {
        match msg {
            // Counted as sent by the session, which also bounds what a socket may have unsent.
            ToSocket::Frame(frame) => ctx.text(frame),
            ToSocket::Close(reason) => {
                ctx.close(Some(reason));
                ctx.stop();
            }
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Participant {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let message = match item {
            Ok(message) => message,
            Err(ws::ProtocolError::Overflow) => {
                return self.close(ctx, CloseCode::Size, "frame over 64 KiB")
            }
            Err(e) => return self.close(ctx, CloseCode::Protocol, &format!("protocol error: {e}")),
        };
        match message {
            ws::Message::Ping(payload) => {
                ctx.pong(&payload);
                self.touch(false);
            }
            ws::Message::Pong(_) => self.touch(false),
            ws::Message::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
            ws::Message::Nop => {}
            ws::Message::Text(_) | ws::Message::Binary(_) | ws::Message::Continuation(_) => {
                metrics::frame_in();
                match self.rate.check(Instant::now()) {
                    RateVerdict::Allow => {}
                    RateVerdict::Drop { warn } => {
                        if warn {
                            self.refuse(
                                ctx,
                                metrics::NO_EVENT,
                                WireError::new(
                                    ErrorCode::RateLimited,
                                    "too many frames; slow down",
                                ),
                            );
                        }
                        return;
                    }
                    RateVerdict::Close => {
                        return self.close(ctx, CloseCode::Policy, "too many frames")
                    }
                }
                match message {
                    ws::Message::Text(text) => self.on_message(text.into_bytes(), true, ctx),
                    ws::Message::Binary(bytes) => self.on_message(bytes, false, ctx),
                    ws::Message::Continuation(item) => self.on_continuation(item, ctx),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_limit_allows_a_burst_then_warns_once_then_closes() {
        let mut rate = RateLimit::new();
        let now = Instant::now();
        for _ in 0..BURST as usize {
            assert!(matches!(rate.check(now), RateVerdict::Allow));
        }
        assert!(matches!(rate.check(now), RateVerdict::Drop { warn: true }));
        for _ in 1..STRIKES_BEFORE_CLOSE {
            assert!(matches!(rate.check(now), RateVerdict::Drop { warn: false }));
        }
        assert!(matches!(rate.check(now), RateVerdict::Close));
    }

    #[test]
    fn rate_limit_forgives_a_client_that_calms_down() {
        let mut rate = RateLimit::new();
        let start = Instant::now();
        for _ in 0..(BURST as usize + 5) {
            rate.check(start);
        }
        let later = start + Duration::from_secs(2);
        assert!(matches!(rate.check(later), RateVerdict::Allow));
        assert_eq!(rate.strikes, 0);
    }

    #[test]
    fn steady_twenty_a_second_is_fine() {
        let mut rate = RateLimit::new();
        let start = Instant::now();
        for i in 0..200u32 {
            let at = start + Duration::from_millis(50) * i;
            assert!(matches!(rate.check(at), RateVerdict::Allow), "frame {i}");
        }
    }
}
