//! The session among other server processes (only with `REDIS_URL`): its channel, and who is
//! here across processes.
//!
//! Presence: this process stores its members of the session in Redis (refreshed by the sweep,
//! with an expiry), tells the others on the session's channel when they change, and reads the
//! others' members when told (and at each sweep, in case a notice was lost). Participants are
//! the union. A process that dies stops refreshing; the first process whose sweep finds its
//! entry expired removes it (one process wins; see `poker_backplane`) and tells the others.
//! None of this holds the session's mailbox: Redis calls run beside the actor.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use poker_backplane::Inbound;

use super::PokerSession;
use crate::live::change::{Envelope, RemoteMember};
use crate::live::messages::{FromBackplane, SocketLogin, SocketUser};
use crate::metrics;

/// How long after a change of members (or a notice from another process) the store or read
/// happens: a join storm makes one of each, not one per join.
const PRESENCE_SETTLE: Duration = Duration::from_millis(20);

impl PokerSession {
    /// How long this process's entry stays live without a refresh: a dead process's members
    /// leave the others' lists within about half the client timeout plus a sweep.
    fn presence_ttl(&self) -> Duration {
        (self.config.client_timeout / 2).max(self.config.sweep_interval() * 2)
    }

    /// Subscribes to the session's channel before anything is loaded (see `started`).
    pub(super) fn subscribe(&mut self, ctx: &mut Context<Self>) {
        let Some(backplane) = self.cluster.backplane().cloned() else {
            return;
        };
        let addr = ctx.address();
        let handler: poker_backplane::Handler = Arc::new(move |inbound: Inbound| {
            addr.do_send(FromBackplane(inbound));
        });
        let channel = backplane.session_channel(self.id);
        let id = self.id;
        let subscribing = async move {
            let (subscription, confirmed) = backplane.subscribe(&channel, handler).await;
            metrics::backplane_subscriptions(backplane.subscriptions());
            if let Err(e) = confirmed {
                log::warn!("session {id}: not subscribed yet ({e}); polling the database");
            }
            subscription
        };
        // Bounded by the backplane's command timeout.
        ctx.wait(
            subscribing
                .into_actor(self)
                .map(|subscription, act, _| act.subscription = Some(subscription)),
        );
    }

    /// The actor stops: unsubscribe, and take this process's members out of the session.
    pub(super) fn leave_cluster(&mut self) {
        let Some(backplane) = self.cluster.backplane().cloned() else {
            return;
        };
        let subscription = self.subscription.take();
        let (cluster, id) = (self.cluster.clone(), self.id);
        actix_web::rt::spawn(async move {
            if let Some(subscription) = subscription {
                backplane.unsubscribe(subscription).await;
            }
            metrics::backplane_subscriptions(backplane.subscriptions());
            cluster.leave_now(id).await;
        });
    }

    /// This process's members changed: store them for the others, then tell them (soon, once
    /// for a burst of changes).
    pub(super) fn share_presence(&mut self, ctx: &mut Context<Self>) {
        if !self.cluster.is_shared() || self.presence_share_due {
            return;
        }
        self.presence_share_due = true;
        ctx.run_later(PRESENCE_SETTLE, |act, ctx| {
            act.presence_share_due = false;
            act.store_presence(true, ctx);
        });
    }

    /// This process's members, as stored for the others.
    fn local_members(&self) -> String {
        let mut members: Vec<RemoteMember> = Vec::new();
        for user in self.presence.users() {
            if !members.iter().any(|m| m.id == user.id) {
                members.push(RemoteMember::from(user));
            }
        }
        serde_json::to_string(&members).unwrap_or_else(|_| "[]".into())
    }

    /// Stores this process's members (or removes its entry when it has none); tells the others
    /// when `announce`, or when the entry had been lost (expired, or Redis restarted empty).
    fn store_presence(&mut self, announce: bool, ctx: &mut Context<Self>) {
        let Some(backplane) = self.cluster.backplane().cloned() else {
            return;
        };
        if !backplane.is_up() {
            return;
        }
        let (cluster, id, ttl) = (self.cluster.clone(), self.id, self.presence_ttl());
        let members = (!self.presence.is_empty()).then(|| self.local_members());
        ctx.spawn(
            async move {
                let stored = match &members {
                    Some(members) => backplane.put_presence(id, members, ttl).await,
                    None => backplane.remove_presence(id).await.map(|()| true),
                };
                match stored {
                    Ok(new) if new || announce => cluster.publish_presence(id),
                    Ok(_) => {}
                    Err(e) => log::debug!("session {id}: presence not stored: {e}"),
                }
            }
            .into_actor(self),
        );
    }

    /// Reads the other processes' members (soon, once for a burst of notices).
    fn read_presence_soon(&mut self, ctx: &mut Context<Self>) {
        if self.presence_read_due {
            return;
        }
        self.presence_read_due = true;
        ctx.run_later(PRESENCE_SETTLE, |act, ctx| {
            act.presence_read_due = false;
            act.read_presence(ctx);
        });
    }

    fn read_presence(&mut self, ctx: &mut Context<Self>) {
        let Some(backplane) = self.cluster.backplane().cloned() else {
            return;
        };
        let id = self.id;
        ctx.spawn(
            async move { backplane.read_presence(id).await }
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(processes) => {
                        let mut remote: Vec<SocketUser> = Vec::new();
                        for process in processes {
                            match serde_json::from_str::<Vec<RemoteMember>>(&process.members) {
                                Ok(members) => remote.extend(members.into_iter().map(Into::into)),
                                Err(e) => log::warn!(
                                    "session {id}: unreadable members of process {}: {e}",
                                    process.process
                                ),
                            }
                        }
                        act.set_remote(remote, ctx);
                    }
                    Err(e) => log::debug!("session {id}: presence not read: {e}"),
                }),
        );
    }

    /// The members of the other processes are now `remote`: members hear of it if the
    /// participants they see change.
    fn set_remote(&mut self, remote: Vec<SocketUser>, ctx: &mut Context<Self>) {
        self.remote = remote;
        if self.presence.is_empty() {
            return;
        }
        if self.participants_sent.as_ref() != Some(&self.participants_frame()) {
            self.participants_changed(ctx);
        }
    }

    /// At each sweep: refresh this process's entry, remove the entries of processes that died
    /// (telling the others, if this process was the one to remove them), and read the others.
    pub(super) fn presence_heartbeat(&mut self, ctx: &mut Context<Self>) {
        let Some(backplane) = self.cluster.backplane().cloned() else {
            return;
        };
        if !backplane.is_up() || self.presence.is_empty() {
            return;
        }
        self.store_presence(false, ctx);
        let (cluster, id) = (self.cluster.clone(), self.id);
        ctx.spawn(
            async move {
                match backplane.reap_presence(id).await {
                    Ok(dead) if !dead.is_empty() => {
                        log::info!(
                            "session {id}: process(es) {} stopped refreshing; their members left",
                            dead.join(", ")
                        );
                        cluster.publish_presence(id);
                    }
                    Ok(_) => {}
                    Err(e) => log::debug!("session {id}: presence not reaped: {e}"),
                }
            }
            .into_actor(self)
            .map(|(), act, ctx| act.read_presence(ctx)),
        );
    }
}

impl PokerSession {
    /// After a Redis outage, changes to users published meanwhile were missed: every member's
    /// login and rights are read again from the database.
    fn recheck_members(&mut self, ctx: &mut Context<Self>) {
        let mut logins: Vec<(i64, String)> = Vec::new();
        for user in self.presence.users() {
            let login = (user.id, user.login.token_hash.clone());
            if !logins.contains(&login) {
                logins.push(login);
            }
        }
        if logins.is_empty() {
            return;
        }
        let store = self.store.clone();
        let read = actix_web::web::block(move || {
            logins
                .into_iter()
                .map(|(id, hash)| {
                    let found = store.user_by_token(&hash);
                    (id, hash, found)
                })
                .collect::<Vec<_>>()
        });
        ctx.spawn(read.into_actor(self).map(|result, act, ctx| {
            let Ok(logins) = result else { return };
            for (user_id, hash, found) in logins {
                match found {
                    Ok(None) => act.end_logins(
                        user_id,
                        Some(&hash),
                        "the login ended while Redis was away",
                        ctx,
                    ),
                    Ok(Some(user)) => act.user_changed(
                        SocketUser {
                            id: user.id,
                            name: user.username,
                            can_vote: user.can_vote,
                            can_moderate: user.can_moderate,
                            login: SocketLogin::default(),
                        },
                        ctx,
                    ),
                    Err(e) => log::debug!("session {}: login not rechecked: {e}", act.id),
                }
            }
        }));
    }
}

impl Handler<FromBackplane> for PokerSession {
    type Result = ();

    fn handle(&mut self, msg: FromBackplane, ctx: &mut Context<Self>) {
        match msg.0 {
            Inbound::Resync => {
                // Redis was away: whatever was published meanwhile is lost. Reload, store this
                // process's members again (Redis may have restarted empty) and read the others.
                self.catch_up("resync", ctx);
                self.recheck_members(ctx);
                self.store_presence(true, ctx);
                self.read_presence(ctx);
            }
            Inbound::Message(text) => {
                let envelope = match Envelope::decode(&text) {
                    Ok(envelope) => envelope,
                    Err(e) => {
                        log::warn!("session {}: unreadable backplane message: {e}", self.id);
                        return;
                    }
                };
                let mine = envelope.origin() == self.cluster.process();
                match envelope {
                    Envelope::Change {
                        session,
                        version,
                        change,
                        ..
                    } if session == self.id => {
                        let outcome = self.deliver(version, change, ctx);
                        if !mine {
                            metrics::backplane_received(outcome);
                        }
                    }
                    Envelope::Presence { session, .. } if session == self.id && !mine => {
                        self.read_presence_soon(ctx);
                    }
                    Envelope::Deleted { session, .. } if session == self.id && !mine => {
                        self.end_deleted(ctx);
                    }
                    _ => {}
                }
            }
        }
    }
}
