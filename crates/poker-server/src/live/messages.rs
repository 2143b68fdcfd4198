//! The messages the live actors exchange.

use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws::CloseReason;
use bytestring::ByteString;
use poker_core::{ClientCommand, Permission};

use super::session::PokerSession;

/// Identifies one socket within the process.
pub type ConnId = u64;

/// The authenticated user behind a socket; rights come from here, never from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketUser {
    pub id: i64,
    pub name: String,
    pub can_vote: bool,
    pub can_moderate: bool,
}

impl SocketUser {
    pub fn has(&self, permission: Permission) -> bool {
        match permission {
            Permission::Vote => self.can_vote,
            Permission::Moderate => self.can_moderate,
        }
    }

    /// `["vote", "moderate"]`, as far as the user has them.
    pub fn permissions(&self) -> Vec<&'static str> {
        [Permission::Vote, Permission::Moderate]
            .into_iter()
            .filter(|p| self.has(*p))
            .map(Permission::as_str)
            .collect()
    }
}

/// To a participant: a frame to send (shared bytes), or close the socket.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub enum ToSocket {
    Frame(ByteString),
    Close(CloseReason),
}

/// To the registry: a socket wants into a session; answers with the session's actor.
#[derive(Message)]
#[rtype(result = "Addr<PokerSession>")]
pub struct Connect {
    pub session_id: i64,
    pub conn: ConnId,
    pub user: Arc<SocketUser>,
    pub socket: Recipient<ToSocket>,
}

/// To a session: a socket joins (forwarded by the registry, which counts them).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    pub conn: ConnId,
    pub user: Arc<SocketUser>,
    pub socket: Recipient<ToSocket>,
}

/// To a session: a socket has closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub conn: ConnId,
}

/// To a session: the socket is alive (it answered a ping or sent a heartbeat).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Touch {
    pub conn: ConnId,
}

/// To a session: a parsed client event from a socket whose user has the right for it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Command {
    pub conn: ConnId,
    pub command: ClientCommand,
}

/// To the registry, from a session with no members: stop me if no join is on its way.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Idle {
    pub session_id: i64,
    /// How many joins the session has received in all.
    pub joins: u64,
}

/// To a session, from the registry: stop (nobody joined since it went idle).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

/// Something changed outside the socket protocol (a REST call) that members must hear about.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum Changed {
    /// The list of stories, their order, labels or points: send `stories_changed`.
    Stories,
    /// The active story, its votes, the deck or the secrecy setting: reload, send `story_changed`.
    Reload,
    /// The session was deleted: send `poker_session_ended` and close the sockets.
    Deleted,
    /// A user was deleted: close their sockets.
    UserRemoved(i64),
}

/// To the registry: pass a change on to every live session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NotifyAll {
    pub change: Changed,
}

/// To the registry: pass a change on to the session's actor, if it is live.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Notify {
    pub session_id: i64,
    pub change: Changed,
}
