//! The messages the live actors exchange.

use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws::CloseReason;
use bytestring::ByteString;
use poker_core::{ClientCommand, Dialect, EventName, Permission, WireError};

use super::change::SessionChange;
use super::outbox::Outbox;
use super::session::PokerSession;

/// Identifies one socket within the process.
pub type ConnId = u64;

/// The authenticated user behind a socket; rights come from here, never from the client. The
/// session keeps it current: an administrator's change replaces it (see [`Changed::User`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketUser {
    pub id: i64,
    pub name: String,
    pub can_vote: bool,
    pub can_moderate: bool,
    /// What the socket was opened with; kept when the user's rights or name change.
    pub login: SocketLogin,
}

/// What one socket was opened with, as opposed to who its user is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketLogin {
    /// The stored hash of the token (login cookie or bearer token) that opened the socket:
    /// when that login ends, the socket is closed with 4001.
    pub token_hash: String,
    /// When that login expires (seconds since 1970; `None`: never): the socket is closed with
    /// 4001 then, as when it ends otherwise.
    pub expires_at: Option<i64>,
    /// The id of the socket's upgrade request, on the session's lines about this socket.
    pub request_id: Option<Arc<str>>,
}

impl SocketUser {
    pub fn has(&self, permission: Permission) -> bool {
        match permission {
            Permission::Vote => self.can_vote,
            Permission::Moderate => self.can_moderate,
        }
    }

    /// `["vote", "moderate"]`, as far as the user has them.
    pub fn permissions(&self) -> Vec<Permission> {
        [Permission::Vote, Permission::Moderate]
            .into_iter()
            .filter(|p| self.has(*p))
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

/// To the registry: a socket wants into a session; answers with the session's actor, or
/// `None` when the server is shutting down.
#[derive(Message)]
#[rtype(result = "Option<Addr<PokerSession>>")]
pub struct Connect {
    pub session_id: i64,
    pub conn: ConnId,
    pub user: Arc<SocketUser>,
    pub socket: Recipient<ToSocket>,
    pub outbox: Arc<Outbox>,
    pub dialect: Dialect,
    /// The thread of the joining socket: where a session not yet live is started.
    pub arbiter: actix::ArbiterHandle,
}

/// To a session: a socket joins (forwarded by the registry, which counts them).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    pub conn: ConnId,
    pub user: Arc<SocketUser>,
    pub socket: Recipient<ToSocket>,
    /// What the socket has been handed and not yet sent; the session stops at its bound.
    pub outbox: Arc<Outbox>,
    /// Whether the socket gets the **(ours)** events.
    pub dialect: Dialect,
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

/// To a session: a client event, with its data parsed or the reason it could not be. The
/// session judges the user's right first (with the rights it keeps current), then the data.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Command {
    pub conn: ConnId,
    pub event: EventName,
    pub parsed: Result<ClientCommand, WireError>,
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

/// A change to users that every live session must hear about (from a REST call of any
/// process; see [`super::change::Envelope::Users`]).
#[derive(Message, Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Changed {
    /// A user's name or rights changed: their sockets' next events are judged by these, and
    /// `participants_changed` shows them.
    User {
        id: i64,
        name: String,
        can_vote: bool,
        can_moderate: bool,
    },
    /// Logins ended (logout, new password, user deleted): close their sockets with 4001.
    LoginsEnded {
        user_id: i64,
        /// One login (the token's hash), or `None` for every login of the user.
        token_hash: Option<String>,
        why: String,
    },
}

/// To a session: a committed change with the session's version after it, from its own write,
/// a REST call, or another process. Applied in version order.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Versioned {
    pub version: i64,
    pub change: SessionChange,
}

/// To a session: it was deleted; send `poker_session_ended` and close the sockets.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Deleted;

/// To a session: what the backplane heard on its channel.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct FromBackplane(pub poker_backplane::Inbound);

/// To the registry, then every session: the server is stopping; close every socket with 1001
/// once the write in flight (if any) has committed. Answers when every session has.
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoingAway;

/// To the registry: pass a change on to every live session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NotifyAll {
    pub change: Changed,
}

/// To the registry: pass a committed change on to the session's actor, if it is live here.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Notify {
    pub session_id: i64,
    pub version: i64,
    pub change: SessionChange,
}

/// To the registry: a session was deleted; tell its actor, if it is live here.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NotifyDeleted {
    pub session_id: i64,
}
