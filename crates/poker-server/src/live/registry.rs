//! `SessionRegistry`: one per process. Maps a session id to its live `PokerSession` actor,
//! starting it on the first join and stopping it once it is empty and no join is on its way.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use poker_db::Store;

use super::change::Envelope;
use super::cluster::Cluster;
use super::messages::*;
use super::session::PokerSession;
use super::LiveConfig;
use crate::metrics;

struct Entry {
    addr: Addr<PokerSession>,
    /// Joins forwarded to the actor; compared with the count in `Idle` to avoid stopping a
    /// session that a socket is just joining.
    joins: u64,
}

/// The process-wide directory of live sessions.
pub struct SessionRegistry {
    sessions: HashMap<i64, Entry>,
    /// Session actors are spread over these threads.
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    store: Store,
    config: Arc<LiveConfig>,
    cluster: Cluster,
    /// Set once the server is shutting down: no new joins.
    closing: bool,
}

impl SessionRegistry {
    /// A registry whose session actors run on `threads` arbiters of their own.
    pub fn new(store: Store, config: LiveConfig, cluster: Cluster, threads: usize) -> Self {
        let arbiters = (0..threads.max(1))
            .map(|_| Arbiter::new().handle())
            .collect();
        SessionRegistry {
            sessions: HashMap::new(),
            arbiters,
            next_arbiter: 0,
            store,
            config: Arc::new(config),
            cluster,
            closing: false,
        }
    }
}

impl Actor for SessionRegistry {
    type Context = Context<Self>;

    /// With other processes: hears their changes to users on the channel for all sessions,
    /// and keeps the backplane's gauges current.
    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(backplane) = self.cluster.backplane().cloned() else {
            return;
        };
        let addr = ctx.address();
        let process = backplane.process().to_string();
        let handler: poker_backplane::Handler = Arc::new(move |inbound| {
            if let poker_backplane::Inbound::Message(text) = inbound {
                match Envelope::decode(&text) {
                    Ok(Envelope::Users { origin, change }) if origin != process => {
                        addr.do_send(NotifyAll { change });
                    }
                    Ok(_) => {}
                    Err(e) => log::warn!("backplane: unreadable message for all sessions: {e}"),
                }
            }
        });
        let subscribing = backplane.clone();
        actix_web::rt::spawn(async move {
            let (_, confirmed) = subscribing
                .subscribe(&subscribing.all_channel(), handler)
                .await;
            if let Err(e) = confirmed {
                log::warn!("backplane: not subscribed to changes for all sessions yet: {e}");
            }
        });
        ctx.run_interval(std::time::Duration::from_secs(1), move |_, _| {
            metrics::backplane_up(backplane.is_up());
            metrics::backplane_subscriptions(backplane.subscriptions());
        });
    }
}

impl Handler<Connect> for SessionRegistry {
    type Result = MessageResult<Connect>;

    fn handle(&mut self, msg: Connect, ctx: &mut Context<Self>) -> Self::Result {
        if self.closing {
            return MessageResult(None);
        }
        let entry = self.sessions.entry(msg.session_id).or_insert_with(|| {
            let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
            self.next_arbiter = self.next_arbiter.wrapping_add(1);
            let (id, store, config, registry, cluster) = (
                msg.session_id,
                self.store.clone(),
                self.config.clone(),
                ctx.address(),
                self.cluster.clone(),
            );
            let addr = PokerSession::start_in_arbiter(arbiter, move |_| {
                PokerSession::new(id, store, registry, config, cluster)
            });
            log::debug!("session {id}: live");
            Entry { addr, joins: 0 }
        });
        entry.joins += 1;
        entry.addr.do_send(Join {
            conn: msg.conn,
            user: msg.user,
            socket: msg.socket,
            outbox: msg.outbox,
            dialect: msg.dialect,
        });
        MessageResult(Some(entry.addr.clone()))
    }
}

impl Handler<Idle> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Idle, _: &mut Context<Self>) {
        if self
            .sessions
            .get(&msg.session_id)
            .is_some_and(|e| e.joins == msg.joins)
        {
            if let Some(entry) = self.sessions.remove(&msg.session_id) {
                entry.addr.do_send(Stop);
                log::debug!("session {}: no longer live", msg.session_id);
            }
        }
    }
}

impl Handler<Notify> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Notify, _: &mut Context<Self>) {
        if let Some(entry) = self.sessions.get(&msg.session_id) {
            entry.addr.do_send(Versioned {
                version: msg.version,
                change: msg.change,
            });
        }
    }
}

impl Handler<NotifyDeleted> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, msg: NotifyDeleted, _: &mut Context<Self>) {
        if let Some(entry) = self.sessions.get(&msg.session_id) {
            entry.addr.do_send(Deleted);
        }
    }
}

impl Handler<GoingAway> for SessionRegistry {
    type Result = ResponseFuture<()>;

    /// Refuses new joins, then asks every session to close its sockets with 1001 and answers
    /// once all have (each after its write in flight, if any, was answered).
    fn handle(&mut self, _: GoingAway, _: &mut Context<Self>) -> Self::Result {
        self.closing = true;
        let asked: Vec<_> = self
            .sessions
            .values()
            .map(|entry| entry.addr.send(GoingAway))
            .collect();
        Box::pin(async move {
            for answer in asked {
                let _ = answer.await;
            }
        })
    }
}

impl Handler<NotifyAll> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, msg: NotifyAll, _: &mut Context<Self>) {
        for entry in self.sessions.values() {
            entry.addr.do_send(msg.change.clone());
        }
    }
}
