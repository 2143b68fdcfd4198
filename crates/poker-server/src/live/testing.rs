//! What the live actors' unit tests share: a socket that takes frames and drops them, and a
//! voter to join with.

use std::sync::Arc;

use actix::prelude::*;

use super::messages::{SocketLogin, SocketUser, ToSocket};

/// Stands for a socket: takes frames and drops them.
struct Sink;

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<ToSocket> for Sink {
    type Result = ();
    fn handle(&mut self, _: ToSocket, _: &mut Context<Self>) {}
}

/// A socket actor (started on the current arbiter) that drops what it is sent.
pub fn sink() -> Recipient<ToSocket> {
    Sink.start().recipient()
}

/// A user who may vote and not moderate, with a token hash of its own.
pub fn voter(id: i64, name: &str) -> Arc<SocketUser> {
    Arc::new(SocketUser {
        id,
        name: name.into(),
        can_vote: true,
        can_moderate: false,
        login: SocketLogin {
            token_hash: format!("token-{id}"),
            ..SocketLogin::default()
        },
    })
}
