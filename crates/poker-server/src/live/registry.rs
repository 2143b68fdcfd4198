//! `SessionRegistry`: one per process. Maps a session id to its live `PokerSession` actor,
//! starting it on the first join and stopping it once it is empty and no join is on its way.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use poker_db::Store;

use super::messages::*;
use super::session::PokerSession;
use super::LiveConfig;

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
    /// Set once the server is shutting down: no new joins.
    closing: bool,
}

impl SessionRegistry {
    /// A registry whose session actors run on `threads` arbiters of their own.
    pub fn new(store: Store, config: LiveConfig, threads: usize) -> Self {
        let arbiters = (0..threads.max(1))
            .map(|_| Arbiter::new().handle())
            .collect();
        SessionRegistry {
            sessions: HashMap::new(),
            arbiters,
            next_arbiter: 0,
            store,
            config: Arc::new(config),
            closing: false,
        }
    }
}

impl Actor for SessionRegistry {
    type Context = Context<Self>;
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
            let (id, store, config, registry) = (
                msg.session_id,
                self.store.clone(),
                self.config.clone(),
                ctx.address(),
            );
            let addr = PokerSession::start_in_arbiter(arbiter, move |_| {
                PokerSession::new(id, store, registry, config)
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
            entry.addr.do_send(msg.change);
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
