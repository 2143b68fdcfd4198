//! `SessionRegistry`: one per process. Maps a session id to its live `PokerSession` actor,
//! starting it on the first join and stopping it once it is empty and no join is on its way.
//!
//! A session actor runs on the thread (an HTTP worker's arbiter) of the socket whose join made
//! it live, not on threads of its own: a vote of a member on that thread reaches the session,
//! and the session's frames reach the members there, without waking another thread. Measured
//! (BENCHMARKS.md, "What each change bought"): a third fewer context switches per vote than
//! with two arbiters for sessions. A session never blocks its thread (its reads go to
//! `web::block`, its writes to the writer threads), so the sockets beside it are not held up.

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
    store: Store,
    config: Arc<LiveConfig>,
    cluster: Cluster,
    /// Set once the server is shutting down: no new joins.
    closing: bool,
}

impl SessionRegistry {
    pub fn new(store: Store, config: LiveConfig, cluster: Cluster) -> Self {
        SessionRegistry {
            sessions: HashMap::new(),
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
        // A session whose thread stopped (a worker that panicked and was restarted) is gone
        // with it: the next join starts it again, on the joining socket's thread.
        if self
            .sessions
            .get(&msg.session_id)
            .is_some_and(|entry| !entry.addr.connected())
        {
            log::warn!(
                "session {}: its actor stopped with its thread; starting it again",
                msg.session_id
            );
            self.sessions.remove(&msg.session_id);
        }
        let entry = self.sessions.entry(msg.session_id).or_insert_with(|| {
            let arbiter = &msg.arbiter;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::outbox::Outbox;
    use crate::live::testing::{sink, voter};
    use poker_core::Dialect;
    use std::time::Duration;

    fn connect(session_id: i64, conn: ConnId, arbiter: ArbiterHandle) -> Connect {
        Connect {
            session_id,
            conn,
            user: voter(1, "ann"),
            socket: sink(),
            outbox: Arc::new(Outbox::new(1 << 20)),
            dialect: Dialect::V2,
            arbiter,
        }
    }

    /// A session runs on the joining socket's thread; if that thread stops (a worker that
    /// panicked), the next join starts the session again instead of joining a dead actor.
    #[actix::test]
    async fn a_session_starts_on_the_joiners_thread_and_again_when_that_thread_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("registry.db").display());
        let store = Store::open(&url, 2, Duration::from_secs(5)).unwrap();
        let schedule = crate::webhooks::Schedule {
            attempts: 1,
            base: Duration::from_millis(10),
            timeout: Duration::from_secs(1),
        };
        let config = LiveConfig {
            client_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            end_redirect_url: "/".into(),
            socket_backlog_bytes: 1 << 20,
            webhooks: crate::webhooks::Webhooks::start(store.clone(), schedule, Vec::new()),
        };
        let registry = SessionRegistry::new(store, config, Cluster::alone()).start();

        let worker = Arbiter::new();
        let first = registry
            .send(connect(7, 1, worker.handle()))
            .await
            .unwrap()
            .expect("a session");
        assert!(first.connected());
        let again = registry
            .send(connect(7, 2, Arbiter::current()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, first, "one actor per session while it lives");

        worker.stop();
        worker.join().unwrap();
        assert!(!first.connected(), "the actor stopped with its thread");
        let restarted = registry
            .send(connect(7, 3, Arbiter::current()))
            .await
            .unwrap()
            .unwrap();
        assert!(
            restarted.connected(),
            "a join after the thread stopped finds a live session"
        );
        assert_ne!(restarted, first);
    }
}
