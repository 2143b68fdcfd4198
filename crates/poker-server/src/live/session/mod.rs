//! `PokerSession`: the one actor that owns a live poker session — its active story and votes,
//! its members and their liveness. It handles one event at a time, database write included, so
//! every member sees one order, and it saves a change before announcing it.
//!
//! This file holds the actor's state, its delivery to members and its dealings with storage
//! (loading, saving, and reloading after a failure); `commands.rs` holds what each client event
//! does; presence and frames live in `super::presence` and `super::frames`.
//!
//! Versions: every change committed to the session has a version (see `super::change`); the
//! actor applies changes in version order whoever made them (`ordering.rs`), so several server
//! processes sharing the session through Redis show one order (`sharing.rs` holds the dealings
//! with the other processes: presence and what the backplane delivers).
//!
//! Storage faults: when a write fails or its outcome is unknown (a timeout, a lost COMMIT), the
//! state is put aside as *suspect* and reloaded from the database before the next command, so
//! memory never disagrees with what is stored; members get the stored state if it differs. While
//! the database is known to be down, commands are refused at once with `unavailable` instead of
//! each waiting for a timeout.

mod commands;
mod ordering;
mod sharing;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws::{CloseCode, CloseReason};
use bytestring::ByteString;
use poker_core::{Deck, Dialect, ErrorCode, RevealMode, Secrecy, ServerEvent, Viewer, WireError};
use poker_db::{DbConnection, DbError, Store, Story, StoryRound, Timer, VoteRow};

use super::change::SessionChange;
use super::cluster::Cluster;
use super::frames;
use super::messages::*;
use super::presence::{Announce, Member, Presence};
use super::registry::SessionRegistry;
use super::LiveConfig;
use crate::metrics;

/// How often a session whose state is suspect tries to reload it.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// Stands for the server itself where a write needs a socket to answer: no socket has this id,
/// so what would be said to it goes nowhere (the write is logged and counted as always).
const SERVER: ConnId = 0;

/// Close code for a socket whose login ended (PROTOCOL.md "Close codes").
pub const CLOSE_LOGIN_ENDED: u16 = 4001;

/// The session as stored: what the actor knows between events.
#[derive(Debug, Clone, PartialEq)]
struct Loaded {
    /// The session's version when it was read (what was read after it may be newer).
    version: i64,
    deck: Deck,
    secret_votes: bool,
    reveal: RevealMode,
    auto_reveal: bool,
    /// The round's countdown while it runs (a run-out one is forgotten, see `timer_ran_out`).
    timer: Option<Timer>,
    timer_reveals: bool,
    active: Option<Active>,
    /// The session's stories in order (for `stories_changed` and comparing after a reload).
    stories: Vec<Story>,
}

#[derive(Debug, Clone, PartialEq)]
struct Active {
    story: Story,
    /// In the order first cast; a changed vote keeps its place.
    votes: Vec<VoteRow>,
    /// Revealed or not, and who abstained.
    round: StoryRound,
}

impl Active {
    /// Whether this user has voted or abstained on the story.
    fn is_done(&self, user_id: i64) -> bool {
        self.votes.iter().any(|v| v.user_id == user_id)
            || self.round.abstained.iter().any(|a| a.user_id == user_id)
    }
}

/// The live actor of one poker session.
pub struct PokerSession {
    id: i64,
    store: Store,
    registry: Addr<SessionRegistry>,
    config: Arc<LiveConfig>,
    /// `None` until loaded, and while it must be reloaded.
    state: Option<Loaded>,
    /// What the state was before a failed or uncertain write, to compare with after reloading.
    suspect: Option<Loaded>,
    presence: Presence,
    joins: u64,
    /// This process among the others that may share the session.
    cluster: Cluster,
    /// The version of the last change applied to `state`.
    version: i64,
    /// Changes that arrived before an earlier one, by version.
    pending: BTreeMap<i64, SessionChange>,
    /// Client events that came while changes were pending, in order.
    deferred: std::collections::VecDeque<Command>,
    /// Runs out when a missing change has been waited for long enough.
    gap_timer: Option<SpawnHandle>,
    /// When the version was last compared with the database's.
    version_checked: Instant,
    /// The members of other processes (the participants are the union).
    remote: Vec<SocketUser>,
    /// The last `participants_changed` sent to everyone, to tell whether a change elsewhere
    /// changes what members see.
    participants_sent: Option<ByteString>,
    /// The subscription to the session's channel, while there is one.
    subscription: Option<poker_backplane::Subscription>,
    /// A presence update or read is already scheduled.
    presence_share_due: bool,
    presence_read_due: bool,
    /// Runs out with the round's countdown.
    timer_due: Option<SpawnHandle>,
}

/// Loads what the actor keeps of a session; `None` when the session no longer exists.
fn load(store: &Store, id: i64) -> Result<Option<Loaded>, DbError> {
    let Some(state) = store.live_state(id)? else {
        return Ok(None);
    };
    let stories = store.stories(id)?;
    Ok(Some(Loaded {
        version: state.version,
        deck: state.session.deck,
        secret_votes: state.session.secret_votes,
        reveal: state.session.reveal,
        auto_reveal: state.session.auto_reveal,
        // A countdown that ran out while no process held the session is over.
        timer: state
            .session
            .timer
            .filter(|t| t.ends_at > chrono::Utc::now().timestamp_millis()),
        timer_reveals: state.session.timer_reveals,
        active: state.active.map(|(story, votes, round)| Active {
            story,
            votes,
            round,
        }),
        stories,
    }))
}

/// What became of a reload.
enum Reloaded {
    Loaded(Box<Loaded>),
    Gone,
    Failed(String),
}

impl PokerSession {
    pub fn new(
        id: i64,
        store: Store,
        registry: Addr<SessionRegistry>,
        config: Arc<LiveConfig>,
        cluster: Cluster,
    ) -> Self {
        PokerSession {
            id,
            store,
            registry,
            config,
            state: None,
            suspect: None,
            presence: Presence::default(),
            joins: 0,
            cluster,
            version: 0,
            pending: BTreeMap::new(),
            deferred: std::collections::VecDeque::new(),
            gap_timer: None,
            version_checked: Instant::now(),
            remote: Vec::new(),
            participants_sent: None,
            subscription: None,
            presence_share_due: false,
            presence_read_due: false,
            timer_due: None,
        }
    }

    // ---- delivery ----

    /// Hands a frame to one socket; a socket past its unsent-output bound is dropped from the
    /// session instead (its connection then closes it with 1013).
    fn send(&mut self, conn: ConnId, frame: ByteString, ctx: &mut Context<Self>) {
        let Some(member) = self.presence.get(conn) else {
            return;
        };
        if member.outbox.queued(frame.len()) {
            member.socket.do_send(ToSocket::Frame(frame));
            metrics::frame_out();
        } else {
            self.drop_not_reading(&[conn], ctx);
        }
    }

    /// Hands a frame to several sockets (the same bytes to each).
    fn send_to(&mut self, conns: &[ConnId], frame: &ByteString, ctx: &mut Context<Self>) {
        let mut overflowed = Vec::new();
        for conn in conns {
            let Some(member) = self.presence.get(*conn) else {
                continue;
            };
            if member.outbox.queued(frame.len()) {
                member.socket.do_send(ToSocket::Frame(frame.clone()));
                metrics::frame_out();
            } else {
                overflowed.push(*conn);
            }
        }
        if !overflowed.is_empty() {
            self.drop_not_reading(&overflowed, ctx);
        }
    }

    /// Sends an event to every member whose dialect has it (our events only to `poker.v2`).
    fn broadcast(&mut self, event: &ServerEvent, ctx: &mut Context<Self>) {
        let conns: Vec<ConnId> = self
            .presence
            .members()
            .filter(|(_, m)| m.dialect.receives(event))
            .map(|(c, _)| c)
            .collect();
        self.send_to(&conns, &frames::encode(event), ctx);
    }

    fn drop_not_reading(&mut self, conns: &[ConnId], ctx: &mut Context<Self>) {
        for conn in conns {
            if let Some(member) = self.presence.get(*conn) {
                log::warn!(
                    session = self.id,
                    user = member.user.id,
                    unsent_bytes = member.outbox.unsent();
                    "session {}: user {} ({}) does not read its socket ({} bytes unsent); \
                     closing it with 1013",
                    self.id,
                    member.user.id,
                    member.user.name,
                    member.outbox.unsent()
                );
                metrics::slow_socket_closed();
                // Reaches the socket only if its actor still runs; the connection sends the
                // close frame in place of the backlog either way.
                member.socket.do_send(ToSocket::Close(CloseReason {
                    code: CloseCode::Again,
                    description: Some("not reading: too much unsent output".into()),
                }));
            }
        }
        self.remove(conns, ctx);
    }

    /// Answers a refused event with an `error` frame, to a socket of the `poker.v2` dialect; a
    /// client of the original's has no such event, and its mistake is only logged.
    fn refuse(&mut self, conn: ConnId, event: &str, error: WireError, ctx: &mut Context<Self>) {
        let Some(member) = self.presence.get(conn) else {
            return;
        };
        log::info!(
            session = self.id,
            user = member.user.id,
            event = event,
            code = error.code.as_str(),
            request_id = member.user.login.request_id.as_deref().unwrap_or("-");
            "session {}: refused an event of user {} ({}): {error}",
            self.id,
            member.user.id,
            member.user.name
        );
        let event = ServerEvent::Error(error);
        if member.dialect.receives(&event) {
            self.send(conn, frames::encode(&event), ctx);
        }
    }

    fn unavailable(&mut self, conn: ConnId, event: &str, ctx: &mut Context<Self>) {
        self.refuse(
            conn,
            event,
            WireError::new(
                ErrorCode::Unavailable,
                "the database is unavailable; the change was not saved, try again shortly",
            ),
            ctx,
        );
    }

    /// Whether this user may see the active story's votes now.
    fn sees_votes(&self, user: &SocketUser) -> bool {
        let Some(state) = &self.state else {
            return false;
        };
        let Some(active) = &state.active else {
            return false;
        };
        let secrecy = Secrecy {
            secret_votes: state.secret_votes,
            reveal: state.reveal,
            revealed: active.round.revealed,
        };
        // The active story is the one whose votes go out: "is active" holds by construction.
        secrecy.shows_votes(
            true,
            Viewer {
                can_vote: user.can_vote,
                done: active.is_done(user.id),
            },
        )
    }

    /// The `story_changed` frame of the active story, with or without the votes.
    fn story_frame(&self, with_votes: bool) -> Option<ByteString> {
        let state = self.state.as_ref()?;
        let active = state.active.as_ref()?;
        Some(frames::encode(&frames::story_changed(
            &state.deck,
            &active.story,
            &active.votes,
            &active.round,
            with_votes,
        )))
    }

    /// Sends `story_changed` to the given sockets, each under the secrecy rule; each of the two
    /// variants is built at most once.
    fn send_story(&mut self, conns: &[ConnId], ctx: &mut Context<Self>) {
        let (mut seeing, mut blind) = (Vec::new(), Vec::new());
        for conn in conns {
            if let Some(member) = self.presence.get(*conn) {
                if self.sees_votes(&member.user) {
                    seeing.push(*conn);
                } else {
                    blind.push(*conn);
                }
            }
        }
        for (conns, with_votes) in [(seeing, true), (blind, false)] {
            if conns.is_empty() {
                continue;
            }
            if let Some(frame) = self.story_frame(with_votes) {
                self.send_to(&conns, &frame, ctx);
            }
        }
    }

    /// Sends `story_changed` to everyone.
    fn broadcast_story(&mut self, ctx: &mut Context<Self>) {
        let conns: Vec<ConnId> = self.presence.members().map(|(c, _)| c).collect();
        self.send_story(&conns, ctx);
    }

    fn broadcast_stories(&mut self, ctx: &mut Context<Self>) {
        if let Some(state) = &self.state {
            let event = frames::stories_changed(&state.stories);
            self.broadcast(&event, ctx);
        }
    }

    // ---- the countdown ----

    /// Sets (or clears) the round's countdown, schedules its end, and tells everyone.
    fn set_timer(&mut self, timer: Option<Timer>, ctx: &mut Context<Self>) {
        let Some(state) = &mut self.state else {
            return;
        };
        let before = std::mem::replace(&mut state.timer, timer);
        self.schedule_timer(ctx);
        match timer {
            Some(timer) => self.broadcast(&frames::timer_started(&timer), ctx),
            None if before.is_some() => self.broadcast(&ServerEvent::TimerStopped {}, ctx),
            None => {}
        }
    }

    /// Schedules the end of the state's countdown (and forgets an earlier schedule).
    fn schedule_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.timer_due.take() {
            ctx.cancel_future(handle);
        }
        let Some(timer) = self.state.as_ref().and_then(|s| s.timer) else {
            return;
        };
        let left = timer.ends_at - chrono::Utc::now().timestamp_millis();
        let wait = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        self.timer_due = Some(ctx.run_later(wait, move |act, ctx| {
            act.timer_due = None;
            act.timer_ran_out(timer, ctx);
        }));
    }

    /// The countdown ran out: everyone here hears `timer_ended` (each process tells its own
    /// members at the same moment), and the round is revealed if the session says so (the
    /// first process to write it does; for the others the write finds it revealed).
    fn timer_ran_out(&mut self, timer: Timer, ctx: &mut Context<Self>) {
        let Some(state) = &mut self.state else {
            return;
        };
        if state.timer != Some(timer) {
            return;
        }
        state.timer = None;
        let reveal =
            state.timer_reveals && state.active.as_ref().is_some_and(|a| !a.round.revealed);
        log::info!(session = self.id; "session {}: the countdown ran out", self.id);
        self.broadcast(&ServerEvent::TimerEnded {}, ctx);
        if reveal {
            self.server_reveal(SERVER, "timer_ended", ctx);
        }
    }

    /// Sends a running countdown to a socket that just joined.
    fn send_timer(&mut self, conn: ConnId, ctx: &mut Context<Self>) {
        let Some(timer) = self.state.as_ref().and_then(|s| s.timer) else {
            return;
        };
        let event = frames::timer_started(&timer);
        if self
            .presence
            .get(conn)
            .is_some_and(|m| m.dialect.receives(&event))
        {
            self.send(conn, frames::encode(&event), ctx);
        }
    }

    // ---- presence ----

    /// Sends `participants_changed` to everyone now or, when one went out less than a window
    /// ago, once at the end of the window for every change in between.
    fn participants_changed(&mut self, ctx: &mut Context<Self>) {
        match self.presence.announce(Instant::now()) {
            Announce::Now => self.send_participants(ctx),
            Announce::AlreadyDue => {}
            Announce::After(wait) => {
                ctx.run_later(wait, |act, ctx| act.send_participants(ctx));
            }
        }
    }

    /// `participants_changed` as of now: the members of this process and of the others.
    fn participants_frame(&self) -> ByteString {
        frames::encode(&frames::participants_changed(
            self.presence.users().chain(self.remote.iter()),
        ))
    }

    fn send_participants(&mut self, ctx: &mut Context<Self>) {
        self.presence.announced(Instant::now());
        if !self.presence.is_empty() {
            let frame = self.participants_frame();
            let conns: Vec<ConnId> = self.presence.members().map(|(c, _)| c).collect();
            self.send_to(&conns, &frame, ctx);
            self.participants_sent = Some(frame);
        }
    }

    /// Removes sockets; those whose user has no socket left make one `participants_changed`.
    fn remove(&mut self, conns: &[ConnId], ctx: &mut Context<Self>) {
        let (gone, someone_left) = self.presence.leave(conns);
        for member in &gone {
            log::info!(
                session = self.id,
                user = member.user.id,
                request_id = member.user.login.request_id.as_deref().unwrap_or("-");
                "session {}: user {} ({}) left",
                self.id,
                member.user.id,
                member.user.name
            );
        }
        if someone_left {
            self.participants_changed(ctx);
            self.share_presence(ctx);
            // The one voter everyone waited for may have gone.
            if let Some(conn) = conns.first() {
                self.auto_reveal(*conn, ctx);
            }
        }
        if !gone.is_empty() && self.presence.is_empty() {
            self.registry.do_send(Idle {
                session_id: self.id,
                joins: self.joins,
            });
        }
    }

    /// Closes sockets with `code` and removes them.
    fn close(&mut self, conns: &[ConnId], code: CloseCode, why: &str, ctx: &mut Context<Self>) {
        for conn in conns {
            if let Some(member) = self.presence.get(*conn) {
                member.socket.do_send(ToSocket::Close(CloseReason {
                    code,
                    description: Some(why.to_string()),
                }));
            }
        }
        if !conns.is_empty() {
            self.remove(conns, ctx);
        }
    }

    /// Closes sockets that have been silent longer than the client timeout.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let stale = self
            .presence
            .silent(self.config.client_timeout, Instant::now());
        for conn in &stale {
            if let Some(member) = self.presence.get(*conn) {
                log::info!(
                    session = self.id,
                    user = member.user.id;
                    "session {}: user {} timed out", self.id, member.user.id
                );
            }
        }
        self.close(
            &stale,
            CloseCode::Normal,
            "client timeout: nothing received",
            ctx,
        );
    }

    /// A user's name or rights changed: every socket of theirs judges by the new ones, everyone
    /// sees them in `participants_changed`, and their own view of the votes follows the rights.
    pub(super) fn user_changed(&mut self, user: SocketUser, ctx: &mut Context<Self>) {
        let Some(old) = self.presence.update_user(&user) else {
            return;
        };
        log::info!(
            "session {}: user {} ({}) now has rights {:?}",
            self.id,
            user.id,
            user.name,
            user.permissions()
        );
        if old.name != user.name || old.permissions() != user.permissions() {
            self.participants_changed(ctx);
            self.share_presence(ctx);
        }
        if self.sees_votes(&old) != self.sees_votes(&user) {
            let conns = self.presence.conns_where(|m| m.user.id == user.id);
            self.send_story(&conns, ctx);
        }
    }

    /// Logins ended: the sockets of `user_id` (of one login, its token's hash, or all) close
    /// with 4001.
    fn end_logins(
        &mut self,
        user_id: i64,
        token_hash: Option<&str>,
        why: &str,
        ctx: &mut Context<Self>,
    ) {
        let conns = self.presence.conns_where(|m| {
            m.user.id == user_id && token_hash.is_none_or(|t| t == m.user.login.token_hash)
        });
        if !conns.is_empty() {
            log::info!(
                session = self.id,
                user = user_id;
                "session {}: closing {} socket(s) of user {user_id}: {why}",
                self.id,
                conns.len()
            );
        }
        self.close(
            &conns,
            CloseCode::Other(CLOSE_LOGIN_ENDED),
            &format!("login ended: {why}"),
            ctx,
        );
    }

    /// The session was deleted: everyone is sent away and disconnected.
    fn end_deleted(&mut self, ctx: &mut Context<Self>) {
        let event = frames::session_ended(&self.config.end_redirect_url);
        self.broadcast(&event, ctx);
        let conns: Vec<ConnId> = self.presence.members().map(|(c, _)| c).collect();
        self.close(&conns, CloseCode::Normal, "the session was deleted", ctx);
        self.state = None;
    }

    // ---- storage ----

    /// Queues a write on the database writer, holding every other message back until it has
    /// committed or failed (within the writer's deadline); `then` runs with the result and may
    /// still refuse the event. A failure is reported to `conn` and makes the state suspect.
    fn persist<T, W, F>(
        &mut self,
        ctx: &mut Context<Self>,
        conn: ConnId,
        event: &'static str,
        work: W,
        then: F,
    ) where
        T: Send + 'static,
        W: Fn(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        F: FnOnce(&mut Self, T, &mut Context<Self>) -> Result<(), WireError> + 'static,
    {
        let write = self.store.write(self.id, work);
        self.persist_with(ctx, conn, event, write, then);
    }

    /// As [`Self::persist`], for a write already queued: a vote comes here with
    /// [`Store::write_statement`] (one statement on PostgreSQL, one round trip).
    fn persist_with<T, F>(
        &mut self,
        ctx: &mut Context<Self>,
        conn: ConnId,
        event: &'static str,
        write: impl std::future::Future<Output = Result<T, DbError>> + 'static,
        then: F,
    ) where
        T: Send + 'static,
        F: FnOnce(&mut Self, T, &mut Context<Self>) -> Result<(), WireError> + 'static,
    {
        let started = Instant::now();
        let deadline = self.store.write_deadline();
        let write = actix_web::rt::time::timeout(deadline, write);
        ctx.wait(write.into_actor(self).map(move |result, act, ctx| {
            metrics::db_write(started.elapsed());
            let result = result.unwrap_or_else(|_| {
                Err(DbError::Unavailable(format!(
                    "no answer from the database within {deadline:?}"
                )))
            });
            match result {
                Ok(value) => match then(act, value, ctx) {
                    Ok(()) => metrics::event(event, "ok"),
                    Err(refusal) => {
                        metrics::event(event, refusal.code.as_str());
                        act.refuse(conn, event, refusal, ctx);
                    }
                },
                Err(e) => {
                    log::error!(
                        session = act.id,
                        event = event;
                        "session {}: could not save {event}: {e}", act.id
                    );
                    metrics::event(event, ErrorCode::Unavailable.as_str());
                    act.suspect_state(ctx);
                    act.unavailable(conn, event, ctx);
                }
            }
        }));
    }

    /// After a failed or uncertain write, or to catch up: forget the state until it is
    /// reloaded. The reload reads every committed change, so pending ones are dropped, and
    /// events that waited for them go on (they wait for the reload instead).
    fn suspect_state(&mut self, ctx: &mut Context<Self>) {
        if let Some(state) = self.state.take() {
            self.suspect = Some(state);
        }
        self.pending.clear();
        if !self.deferred.is_empty() {
            ctx.notify(RunDeferred);
        }
    }

    /// Applies a reload. With `announce`, members hear about anything that differs from what
    /// they were last sent (after a failure: the write that failed may have committed after all).
    fn apply_reload(&mut self, reloaded: Reloaded, announce: bool, ctx: &mut Context<Self>) {
        match reloaded {
            Reloaded::Loaded(state) => {
                let before = self.suspect.take().or_else(|| self.state.take());
                let story_differs = before
                    .as_ref()
                    .is_none_or(|b| b.active != state.active || b.deck != state.deck);
                let stories_differ = before.as_ref().is_some_and(|b| b.stories != state.stories);
                let timer_before = before.as_ref().and_then(|b| b.timer);
                let timer_after = state.timer;
                // The session ran out of stories meanwhile: what members would have heard.
                let ended = before.as_ref().is_some_and(|b| b.active.is_some())
                    && state.active.is_none()
                    && state.stories.iter().all(|s| s.story_points.is_some());
                self.version = state.version;
                self.state = Some(*state);
                self.schedule_timer(ctx);
                if announce && before.is_some() {
                    log::info!(
                        "session {}: state reloaded from the database (version {})",
                        self.id,
                        self.version
                    );
                    if story_differs {
                        self.broadcast_story(ctx);
                    }
                    if stories_differ {
                        self.broadcast_stories(ctx);
                    }
                    if timer_before != timer_after {
                        match timer_after {
                            Some(timer) => self.broadcast(&frames::timer_started(&timer), ctx),
                            None => self.broadcast(&ServerEvent::TimerStopped {}, ctx),
                        }
                    }
                    if ended {
                        let event = frames::session_ended(&self.config.end_redirect_url);
                        self.broadcast(&event, ctx);
                    }
                }
                // What the load contains is dropped; what is newer applies in order.
                self.drain(ctx);
            }
            Reloaded::Gone => {
                log::warn!("session {}: no longer exists", self.id);
                self.suspect = None;
                self.end_deleted(ctx);
            }
            Reloaded::Failed(why) => {
                log::warn!("session {}: cannot load: {why}", self.id);
                self.suspect_state(ctx);
            }
        }
    }

    /// Reloads the state from the database, holding other messages back meanwhile (bounded by
    /// the database deadline), then runs `then` with whether the state is loaded.
    fn reload<F>(&mut self, ctx: &mut Context<Self>, announce: bool, then: F)
    where
        F: FnOnce(&mut Self, bool, &mut Context<Self>) + 'static,
    {
        let (store, id) = (self.store.clone(), self.id);
        let deadline = self.store.write_deadline();
        let work =
            actix_web::rt::time::timeout(deadline, actix_web::web::block(move || load(&store, id)));
        ctx.wait(work.into_actor(self).map(move |result, act, ctx| {
            let reloaded = match result {
                Ok(Ok(Ok(Some(state)))) => Reloaded::Loaded(Box::new(state)),
                Ok(Ok(Ok(None))) => Reloaded::Gone,
                Ok(Ok(Err(e))) => Reloaded::Failed(e.to_string()),
                Ok(Err(_)) => Reloaded::Failed("the server is shutting down".into()),
                Err(_) => Reloaded::Failed(format!("no answer within {deadline:?}")),
            };
            act.apply_reload(reloaded, announce, ctx);
            let loaded = act.state.is_some();
            then(act, loaded, ctx);
        }));
    }

    /// Runs `then` once the state is loaded (reloading it first if it is suspect), or at once
    /// with `false` when the database is known to be down.
    fn with_state<F>(&mut self, ctx: &mut Context<Self>, then: F)
    where
        F: FnOnce(&mut Self, bool, &mut Context<Self>) + 'static,
    {
        if self.state.is_some() {
            return then(self, true, ctx);
        }
        if let Some(problem) = self.store.writer_problem() {
            log::debug!("session {}: not reloading yet: {problem}", self.id);
            return then(self, false, ctx);
        }
        self.reload(ctx, true, then);
    }

    /// Something changed in storage behind the actor's back (a REST call): reload, then let
    /// `then` tell members what they need to hear. If the database is down, the state stays
    /// suspect and the periodic reload tells them once it is back.
    fn refresh<F>(&mut self, ctx: &mut Context<Self>, then: F)
    where
        F: FnOnce(&mut Self, &mut Context<Self>) + 'static,
    {
        self.suspect_state(ctx);
        if self.store.writer_problem().is_some() {
            return;
        }
        self.reload(ctx, false, move |act, loaded, ctx| {
            if loaded {
                then(act, ctx);
            }
        });
    }
}

impl Actor for PokerSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        metrics::session_started();
        // Subscribe first, then load: a change committed in between arrives on the channel and
        // is dropped if the load already has it. Members joining meanwhile wait in the mailbox.
        self.subscribe(ctx);
        self.reload(ctx, false, |_, _, _| {});
        ctx.run_interval(self.config.sweep_interval(), |act, ctx| {
            act.sweep(ctx);
            act.presence_heartbeat(ctx);
        });
        // A suspect state is reloaded as soon as the database answers, and members get the
        // stored state even if nobody sends anything.
        ctx.run_interval(RELOAD_EVERY, |act, ctx| {
            if act.state.is_none() && !act.presence.is_empty() {
                act.with_state(ctx, |_, _, _| {});
            }
            act.check_version(ctx);
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        metrics::session_stopped();
        self.leave_cluster();
    }
}

impl Handler<Join> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        self.joins += 1;
        self.with_state(ctx, move |act, loaded, ctx| {
            if !loaded {
                let error = WireError::new(
                    ErrorCode::Unavailable,
                    "this session cannot be opened right now; try again shortly",
                );
                let event = ServerEvent::Error(error);
                if msg.dialect.receives(&event) {
                    msg.socket.do_send(ToSocket::Frame(frames::encode(&event)));
                }
                msg.socket.do_send(ToSocket::Close(CloseReason {
                    code: CloseCode::Error,
                    description: Some("session unavailable".into()),
                }));
                if act.presence.is_empty() {
                    act.registry.do_send(Idle {
                        session_id: act.id,
                        joins: act.joins,
                    });
                }
                return;
            }
            log::info!(
                session = act.id,
                user = msg.user.id,
                dialect = if msg.dialect == Dialect::V2 { "poker.v2" } else { "original" },
                request_id = msg.user.login.request_id.as_deref().unwrap_or("-");
                "session {}: user {} ({}) joined",
                act.id,
                msg.user.id,
                msg.user.name
            );
            let conn = msg.conn;
            let elsewhere = act.remote.iter().any(|u| u.id == msg.user.id);
            let first_socket = act.presence.join(
                conn,
                Member {
                    user: msg.user,
                    socket: msg.socket,
                    outbox: msg.outbox,
                    last_seen: Instant::now(),
                    dialect: msg.dialect,
                },
            );
            act.send_story(&[conn], ctx);
            act.send_timer(conn, ctx);
            if first_socket {
                act.share_presence(ctx);
            }
            if first_socket && !elsewhere {
                act.participants_changed(ctx);
            } else {
                let frame = act.participants_frame();
                act.send(conn, frame, ctx);
            }
        });
    }
}

impl Handler<Leave> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        if self.presence.get(msg.conn).is_some() {
            self.remove(&[msg.conn], ctx);
        }
    }
}

impl Handler<Touch> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Touch, _: &mut Context<Self>) {
        self.presence.touch(msg.conn, Instant::now());
    }
}

impl Handler<Command> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Command, ctx: &mut Context<Self>) {
        self.presence.touch(msg.conn, Instant::now());
        if !self.pending.is_empty() || !self.deferred.is_empty() {
            // The state is behind a change that came early: judged now, the event would be
            // judged by an old state. It waits (in order) until the change before it came.
            self.deferred.push_back(msg);
            return;
        }
        self.command(msg.conn, msg.event, msg.parsed, ctx);
    }
}

impl Handler<RunDeferred> for PokerSession {
    type Result = ();

    /// Runs the first event that waited for the state to catch up; the next one runs after it
    /// (after its write, which holds the mailbox).
    fn handle(&mut self, _: RunDeferred, ctx: &mut Context<Self>) {
        if !self.pending.is_empty() {
            return;
        }
        if let Some(msg) = self.deferred.pop_front() {
            self.command(msg.conn, msg.event, msg.parsed, ctx);
        }
        if !self.deferred.is_empty() {
            ctx.notify(RunDeferred);
        }
    }
}

/// To a session, from itself: run the next event that waited for the state to catch up.
#[derive(Message)]
#[rtype(result = "()")]
struct RunDeferred;

impl Handler<Stop> for PokerSession {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        if self.presence.is_empty() {
            ctx.stop();
        }
    }
}

impl Handler<GoingAway> for PokerSession {
    type Result = ResponseFuture<()>;

    /// Runs after any write in flight has been answered (writes hold the mailbox back). Answers
    /// once the other processes were told that this one's members left.
    fn handle(&mut self, _: GoingAway, ctx: &mut Context<Self>) -> Self::Result {
        let conns: Vec<ConnId> = self.presence.members().map(|(c, _)| c).collect();
        self.close(
            &conns,
            CloseCode::Away,
            "the server is shutting down; reconnect",
            ctx,
        );
        Box::pin(self.cluster.clone().leave_now(self.id))
    }
}

impl Handler<Versioned> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Versioned, ctx: &mut Context<Self>) {
        let _ = self.deliver(msg.version, msg.change, ctx);
    }
}

impl Handler<Deleted> for PokerSession {
    type Result = ();

    fn handle(&mut self, _: Deleted, ctx: &mut Context<Self>) {
        self.end_deleted(ctx);
    }
}

impl Handler<Changed> for PokerSession {
    type Result = ();

    fn handle(&mut self, change: Changed, ctx: &mut Context<Self>) {
        match change {
            Changed::User {
                id,
                name,
                can_vote,
                can_moderate,
            } => self.user_changed(
                SocketUser {
                    id,
                    name,
                    can_vote,
                    can_moderate,
                    login: SocketLogin::default(),
                },
                ctx,
            ),
            Changed::LoginsEnded {
                user_id,
                token_hash,
                why,
            } => self.end_logins(user_id, token_hash.as_deref(), &why, ctx),
        }
    }
}
