//! `PokerSession`: the one actor that owns a live poker session — its active story and votes,
//! its members and their liveness. It handles one event at a time, database write included, so
//! every member sees one order, and it saves a change before announcing it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws::{CloseCode, CloseReason};
use bytestring::ByteString;
use poker_core::wire::server_frame;
use poker_core::{tally, ClientCommand, Deck, ErrorCode, Voter, WireError};
use poker_db::{live, DbConnection, DbError, LiveState, NextStory, Store, Story, VoteRow};
use serde_json::{json, Value};

use super::messages::*;
use super::registry::SessionRegistry;
use super::LiveConfig;

struct Member {
    user: Arc<SocketUser>,
    socket: Recipient<ToSocket>,
    last_seen: Instant,
}

/// The state loaded from storage when the actor starts.
struct Loaded {
    deck: Deck,
    secret_votes: bool,
    active: Option<Active>,
}

struct Active {
    story: Story,
    /// In the order first cast; a changed vote keeps its place.
    votes: Vec<VoteRow>,
}

/// The live actor of one poker session.
pub struct PokerSession {
    id: i64,
    store: Store,
    registry: Addr<SessionRegistry>,
    config: Arc<LiveConfig>,
    /// `None` until loaded, and if loading failed.
    state: Option<Loaded>,
    members: HashMap<ConnId, Member>,
    joins: u64,
    /// When `participants_changed` last went to everyone.
    participants_sent_at: Option<Instant>,
    /// A `participants_changed` is due at the end of the current window.
    participants_due: bool,
}

impl PokerSession {
    pub fn new(
        id: i64,
        store: Store,
        registry: Addr<SessionRegistry>,
        config: Arc<LiveConfig>,
    ) -> Self {
        PokerSession {
            id,
            store,
            registry,
            config,
            state: None,
            members: HashMap::new(),
            joins: 0,
            participants_sent_at: None,
            participants_due: false,
        }
    }

    /// Queues a write on the database writer, holding every other message back until it has
    /// committed; `then` runs with the result, and a failure is reported to `conn`.
    fn persist<T, W, F>(&mut self, ctx: &mut Context<Self>, conn: ConnId, work: W, then: F)
    where
        T: Send + 'static,
        W: Fn(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        F: FnOnce(&mut Self, T) + 'static,
    {
        let fut = self.store.write(work);
        ctx.wait(
            fut.into_actor(self)
                .map(move |result, act, _ctx| match result {
                    Ok(value) => then(act, value),
                    Err(e) => {
                        log::error!("session {}: storage failed: {e}", act.id);
                        act.refuse(
                            conn,
                            WireError::new(
                                ErrorCode::Unavailable,
                                "could not save the change; try again",
                            ),
                        );
                    }
                }),
        );
    }

    fn send(&self, conn: ConnId, frame: ByteString) {
        if let Some(member) = self.members.get(&conn) {
            member.socket.do_send(ToSocket::Frame(frame));
        }
    }

    fn broadcast(&self, frame: ByteString) {
        for member in self.members.values() {
            member.socket.do_send(ToSocket::Frame(frame.clone()));
        }
    }

    fn refuse(&self, conn: ConnId, error: WireError) {
        if let Some(member) = self.members.get(&conn) {
            log::info!(
                "session {}: refused an event of user {} ({}): {error}",
                self.id,
                member.user.id,
                member.user.name
            );
        }
        self.send(conn, error.to_frame().into());
    }

    /// Whether `user` may see the active story's votes (the secrecy rule of PROTOCOL.md).
    fn sees_votes(&self, user: &SocketUser) -> bool {
        let Some(state) = &self.state else {
            return false;
        };
        let voted = || {
            state
                .active
                .as_ref()
                .is_some_and(|a| a.votes.iter().any(|v| v.user_id == user.id))
        };
        !state.secret_votes || !user.can_vote || voted()
    }

    /// The `story_changed` frame, with or without the votes.
    fn story_frame(&self, with_votes: bool) -> Option<ByteString> {
        let state = self.state.as_ref()?;
        let active = state.active.as_ref()?;
        let voters: Vec<Voter> = active
            .votes
            .iter()
            .map(|v| Voter {
                id: v.user_id,
                name: v.username.clone(),
            })
            .collect();
        let votes = if with_votes {
            tally(
                &state.deck,
                voters
                    .iter()
                    .zip(active.votes.iter().map(|v| v.choice.as_str())),
            )
            .to_json()
        } else {
            json!({})
        };
        let data = json!({
            "id": active.story.id,
            "story_label": active.story.label(),
            "description": active.story.description,
            "votes": votes,
            "voters": voters,
        });
        Some(server_frame("story_changed", data).into())
    }

    /// Sends `story_changed` to everyone, each under the secrecy rule; each variant is built once.
    fn broadcast_story(&self) {
        let mut full = None;
        let mut hidden = None;
        for member in self.members.values() {
            let sees = self.sees_votes(&member.user);
            let slot = if sees { &mut full } else { &mut hidden };
            if slot.is_none() {
                *slot = self.story_frame(sees);
            }
            if let Some(frame) = slot {
                member.socket.do_send(ToSocket::Frame(frame.clone()));
            }
        }
    }

    fn participants_frame(&self) -> ByteString {
        let mut users: Vec<&SocketUser> = Vec::new();
        for member in self.members.values() {
            if !users.iter().any(|u| u.id == member.user.id) {
                users.push(&member.user);
            }
        }
        users.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let participants: Vec<Value> = users
            .iter()
            .map(|u| json!({"id": u.id, "name": u.name, "permissions": u.permissions()}))
            .collect();
        server_frame(
            "participants_changed",
            json!({ "participants": participants }),
        )
        .into()
    }

    fn stories_frame(stories: &[Story]) -> ByteString {
        let stories: Vec<Value> = stories
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "label": s.label(),
                    "story_points": s.story_points.as_deref().map(poker_core::deck::points_json),
                })
            })
            .collect();
        server_frame("stories_changed", json!({ "stories": stories })).into()
    }

    /// How long after one `participants_changed` to everyone the next may follow: 2 ms per
    /// member, at most 1 s. It bounds the frames a session sends per second (about 500), so a join
    /// storm of N users costs frames linear in N (one broadcast per join would be N²/2).
    fn participants_window(&self) -> Duration {
        Duration::from_millis(2 * self.members.len() as u64).min(Duration::from_secs(1))
    }

    /// Sends `participants_changed` to everyone now or, when one went out less than a window
    /// ago, once at the end of the window for every change in between.
    fn participants_changed(&mut self, ctx: &mut Context<Self>) {
        if self.participants_due {
            return;
        }
        let window = self.participants_window();
        match self.participants_sent_at.map(|at| at.elapsed()) {
            Some(elapsed) if elapsed < window => {
                self.participants_due = true;
                ctx.run_later(window - elapsed, |act, _| {
                    act.participants_due = false;
                    act.send_participants();
                });
            }
            _ => self.send_participants(),
        }
    }

    fn send_participants(&mut self) {
        self.participants_sent_at = Some(Instant::now());
        if !self.members.is_empty() {
            self.broadcast(self.participants_frame());
        }
    }

    fn has_user(&self, user_id: i64) -> bool {
        self.members.values().any(|m| m.user.id == user_id)
    }

    /// Removes sockets; those whose user has no socket left make one `participants_changed`.
    fn remove(&mut self, conns: &[ConnId], ctx: &mut Context<Self>) {
        let mut someone_left = false;
        for conn in conns {
            if let Some(member) = self.members.remove(conn) {
                log::info!(
                    "session {}: user {} ({}) left",
                    self.id,
                    member.user.id,
                    member.user.name
                );
                someone_left |= !self.has_user(member.user.id);
            }
        }
        if someone_left {
            self.participants_changed(ctx);
        }
        if self.members.is_empty() {
            self.registry.do_send(Idle {
                session_id: self.id,
                joins: self.joins,
            });
        }
    }

    /// Closes sockets that have been silent longer than the client timeout.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let timeout = self.config.client_timeout;
        let stale: Vec<ConnId> = self
            .members
            .iter()
            .filter(|(_, m)| m.last_seen.elapsed() > timeout)
            .map(|(conn, _)| *conn)
            .collect();
        if stale.is_empty() {
            return;
        }
        for conn in &stale {
            if let Some(member) = self.members.get(conn) {
                log::info!("session {}: user {} timed out", self.id, member.user.id);
                member.socket.do_send(ToSocket::Close(CloseReason {
                    code: CloseCode::Normal,
                    description: Some("client timeout: nothing received".into()),
                }));
            }
        }
        self.remove(&stale, ctx);
    }

    /// Closes every socket of a user (deleted while connected).
    fn close_user(&mut self, user_id: i64, ctx: &mut Context<Self>) {
        let conns: Vec<ConnId> = self
            .members
            .iter()
            .filter(|(_, m)| m.user.id == user_id)
            .map(|(conn, _)| *conn)
            .collect();
        for conn in &conns {
            if let Some(member) = self.members.get(conn) {
                member.socket.do_send(ToSocket::Close(CloseReason {
                    code: CloseCode::Policy,
                    description: Some("the account was deleted".into()),
                }));
            }
        }
        if !conns.is_empty() {
            self.remove(&conns, ctx);
        }
    }

    /// The session was deleted: everyone is sent away and disconnected.
    fn end_deleted(&mut self) {
        let url = self.config.end_redirect_url.clone();
        self.broadcast(
            server_frame(
                "poker_session_ended",
                json!({"poker_session_end_redirect_url": url}),
            )
            .into(),
        );
        for member in self.members.values() {
            member.socket.do_send(ToSocket::Close(CloseReason {
                code: CloseCode::Normal,
                description: Some("the session was deleted".into()),
            }));
        }
        let conns: Vec<ConnId> = self.members.keys().copied().collect();
        self.members.clear();
        self.state = None;
        if !conns.is_empty() {
            self.registry.do_send(Idle {
                session_id: self.id,
                joins: self.joins,
            });
        }
    }

    fn loaded(&mut self, state: LiveState) {
        self.state = Some(Loaded {
            deck: state.session.deck,
            secret_votes: state.session.secret_votes,
            active: state.active.map(|(story, votes)| Active { story, votes }),
        });
    }

    fn set_active(&mut self, story: Story, votes: Vec<VoteRow>) {
        if let Some(state) = &mut self.state {
            state.active = Some(Active { story, votes });
        }
    }

    fn command(&mut self, conn: ConnId, command: ClientCommand, ctx: &mut Context<Self>) {
        let Some(user) = self.members.get(&conn).map(|m| m.user.clone()) else {
            return;
        };
        let Some(state) = &self.state else {
            return self.refuse(
                conn,
                WireError::new(ErrorCode::Unavailable, "the session is not available"),
            );
        };
        let no_active = || {
            WireError::new(
                ErrorCode::NoActiveStory,
                "no story is active in this session",
            )
        };
        let session_id = self.id;
        match command {
            ClientCommand::Heartbeat => {}
            ClientCommand::VoteSubmitted { choice } => {
                let Some(active) = &state.active else {
                    return self.refuse(conn, no_active());
                };
                let Some(choice) = state.deck.choice(&choice) else {
                    return self.refuse(
                        conn,
                        WireError::new(
                            ErrorCode::Invalid,
                            format!("{choice} is not an option of this session's deck"),
                        ),
                    );
                };
                let story_id = active.story.id;
                let saved = choice.as_str().to_string();
                let user_id = user.id;
                self.persist(
                    ctx,
                    conn,
                    move |c| live::cast_vote(c, story_id, user_id, &saved),
                    move |act, ()| {
                        if let Some(active) = act.state.as_mut().and_then(|s| s.active.as_mut()) {
                            let choice = choice.as_str().to_string();
                            match active.votes.iter_mut().find(|v| v.user_id == user.id) {
                                Some(vote) => vote.choice = choice,
                                None => active.votes.push(VoteRow {
                                    user_id: user.id,
                                    username: user.name.clone(),
                                    choice,
                                }),
                            }
                        }
                        act.broadcast_story();
                    },
                );
            }
            ClientCommand::ResetRequested => {
                let Some(active) = &state.active else {
                    return self.refuse(conn, no_active());
                };
                let story_id = active.story.id;
                self.persist(
                    ctx,
                    conn,
                    move |c| live::clear_votes(c, story_id),
                    |act, ()| {
                        if let Some(active) = act.state.as_mut().and_then(|s| s.active.as_mut()) {
                            active.votes.clear();
                        }
                        act.broadcast_story();
                    },
                );
            }
            ClientCommand::PointsSubmitted { story_points } => {
                let Some(active) = &state.active else {
                    return self.refuse(conn, no_active());
                };
                let Some(points) = state.deck.story_points(&story_points) else {
                    return self.refuse(
                        conn,
                        WireError::new(
                            ErrorCode::Invalid,
                            format!("{story_points} is not a point option of this session's deck"),
                        ),
                    );
                };
                let story_id = active.story.id;
                let saved = points.as_str().to_string();
                self.persist(
                    ctx,
                    conn,
                    move |c| live::set_story_points(c, story_id, &saved),
                    move |act, stories| {
                        if let Some(active) = act.state.as_mut().and_then(|s| s.active.as_mut()) {
                            active.story.story_points = Some(points.as_str().to_string());
                        }
                        act.broadcast(
                            server_frame(
                                "story_points_submitted",
                                json!({"story_points": points.to_json()}),
                            )
                            .into(),
                        );
                        act.broadcast(Self::stories_frame(&stories));
                    },
                );
            }
            ClientCommand::NextStoryRequested {
                story_id: Some(story_id),
            } => {
                self.persist(
                    ctx,
                    conn,
                    move |c| live::activate_story(c, session_id, story_id),
                    move |act, found| match found {
                        Some((story, votes)) => {
                            act.set_active(story, votes);
                            act.broadcast_story();
                        }
                        None => act.refuse(
                            conn,
                            WireError::new(
                                ErrorCode::Invalid,
                                format!("story {story_id} is not a story of this session"),
                            ),
                        ),
                    },
                );
            }
            ClientCommand::NextStoryRequested { story_id: None } => {
                self.persist(
                    ctx,
                    conn,
                    move |c| live::advance(c, session_id),
                    |act, next| match next {
                        NextStory::Active(story, votes) => {
                            act.set_active(story, votes);
                            act.broadcast_story();
                        }
                        NextStory::Ended => {
                            if let Some(state) = &mut act.state {
                                state.active = None;
                            }
                            let url = act.config.end_redirect_url.clone();
                            act.broadcast(
                                server_frame(
                                    "poker_session_ended",
                                    json!({"poker_session_end_redirect_url": url}),
                                )
                                .into(),
                            );
                        }
                    },
                );
            }
        }
    }
}

impl Actor for PokerSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Members joining while the state loads wait in the mailbox.
        let store = self.store.clone();
        let id = self.id;
        let load = actix_web::web::block(move || store.live_state(id));
        ctx.wait(load.into_actor(self).map(|result, act, _| match result {
            Ok(Ok(Some(state))) => act.loaded(state),
            Ok(Ok(None)) => log::warn!("session {}: no longer exists", act.id),
            Ok(Err(e)) => log::error!("session {}: cannot load: {e}", act.id),
            Err(_) => log::error!("session {}: cannot load: shutting down", act.id),
        }));
        ctx.run_interval(self.config.sweep_interval(), |act, ctx| act.sweep(ctx));
    }
}

impl Handler<Join> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        self.joins += 1;
        if self.state.is_none() {
            msg.socket.do_send(ToSocket::Frame(
                WireError::new(
                    ErrorCode::Unavailable,
                    "this session cannot be opened right now",
                )
                .to_frame()
                .into(),
            ));
            msg.socket.do_send(ToSocket::Close(CloseReason {
                code: CloseCode::Error,
                description: Some("session unavailable".into()),
            }));
            if self.members.is_empty() {
                self.registry.do_send(Idle {
                    session_id: self.id,
                    joins: self.joins,
                });
            }
            return;
        }
        let first_socket = !self.has_user(msg.user.id);
        log::info!(
            "session {}: user {} ({}) joined",
            self.id,
            msg.user.id,
            msg.user.name
        );
        let conn = msg.conn;
        self.members.insert(
            conn,
            Member {
                user: msg.user,
                socket: msg.socket,
                last_seen: Instant::now(),
            },
        );
        if let Some(member) = self.members.get(&conn) {
            if let Some(frame) = self.story_frame(self.sees_votes(&member.user)) {
                self.send(conn, frame);
            }
        }
        if first_socket {
            self.participants_changed(ctx);
        } else {
            self.send(conn, self.participants_frame());
        }
    }
}

impl Handler<Leave> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        if self.members.contains_key(&msg.conn) {
            self.remove(&[msg.conn], ctx);
        }
    }
}

impl Handler<Touch> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Touch, _: &mut Context<Self>) {
        if let Some(member) = self.members.get_mut(&msg.conn) {
            member.last_seen = Instant::now();
        }
    }
}

impl Handler<Command> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: Command, ctx: &mut Context<Self>) {
        if let Some(member) = self.members.get_mut(&msg.conn) {
            member.last_seen = Instant::now();
        }
        self.command(msg.conn, msg.command, ctx);
    }
}

impl Handler<Stop> for PokerSession {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        if self.members.is_empty() {
            ctx.stop();
        }
    }
}

impl Handler<Changed> for PokerSession {
    type Result = ();

    fn handle(&mut self, change: Changed, ctx: &mut Context<Self>) {
        let id = self.id;
        let store = self.store.clone();
        match change {
            Changed::Stories => {
                let load = actix_web::web::block(move || store.stories(id));
                ctx.wait(load.into_actor(self).map(|result, act, _| match result {
                    Ok(Ok(stories)) => act.broadcast(Self::stories_frame(&stories)),
                    Ok(Err(e)) => log::error!("session {}: cannot load stories: {e}", act.id),
                    Err(_) => {}
                }));
            }
            Changed::UserRemoved(user_id) => self.close_user(user_id, ctx),
            Changed::Reload => {
                let load = actix_web::web::block(move || store.live_state(id));
                ctx.wait(load.into_actor(self).map(|result, act, _| match result {
                    Ok(Ok(Some(state))) => {
                        act.loaded(state);
                        act.broadcast_story();
                    }
                    Ok(Ok(None)) => act.end_deleted(),
                    Ok(Err(e)) => log::error!("session {}: cannot reload: {e}", act.id),
                    Err(_) => {}
                }));
            }
            Changed::Deleted => self.end_deleted(),
        }
    }
}
