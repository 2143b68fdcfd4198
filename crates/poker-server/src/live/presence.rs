//! Who is in a live session: its sockets (members), their users and liveness, and when the
//! next `participants_changed` may go out. Bookkeeping only; the session actor runs the timers
//! and sends the frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Recipient;
use poker_core::Dialect;

use super::messages::{ConnId, SocketUser, ToSocket};
use super::outbox::Outbox;

/// One socket in the session.
pub struct Member {
    pub user: Arc<SocketUser>,
    pub socket: Recipient<ToSocket>,
    pub outbox: Arc<Outbox>,
    pub last_seen: Instant,
    /// Whether the socket gets the **(ours)** events.
    pub dialect: Dialect,
}

/// What to do about a change of participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// Send `participants_changed` to everyone now.
    Now,
    /// One is already due at the end of the window; it will cover this change.
    AlreadyDue,
    /// Send one after this long; it covers every change until then.
    After(Duration),
}

/// The members of one session.
#[derive(Default)]
pub struct Presence {
    members: HashMap<ConnId, Member>,
    /// When `participants_changed` last went to everyone.
    announced_at: Option<Instant>,
    /// A `participants_changed` is due at the end of the current window.
    due: bool,
}

impl Presence {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn get(&self, conn: ConnId) -> Option<&Member> {
        self.members.get(&conn)
    }

    pub fn members(&self) -> impl Iterator<Item = (ConnId, &Member)> {
        self.members.iter().map(|(conn, m)| (*conn, m))
    }

    /// The users present (a user with several sockets appears once per socket).
    pub fn users(&self) -> impl Iterator<Item = &SocketUser> {
        self.members.values().map(|m| &*m.user)
    }

    pub fn has_user(&self, user_id: i64) -> bool {
        self.members.values().any(|m| m.user.id == user_id)
    }

    /// The sockets of members for whom `pick` holds.
    pub fn conns_where(&self, pick: impl Fn(&Member) -> bool) -> Vec<ConnId> {
        self.members
            .iter()
            .filter(|(_, m)| pick(m))
            .map(|(conn, _)| *conn)
            .collect()
    }

    /// Adds a socket; true when it is its user's first in the session.
    pub fn join(&mut self, conn: ConnId, member: Member) -> bool {
        let first = !self.has_user(member.user.id);
        self.members.insert(conn, member);
        first
    }

    /// Removes sockets and returns them; the flag says whether some user has no socket left
    /// (which calls for `participants_changed`).
    pub fn leave(&mut self, conns: &[ConnId]) -> (Vec<Member>, bool) {
        let mut gone = Vec::new();
        for conn in conns {
            if let Some(member) = self.members.remove(conn) {
                gone.push(member);
            }
        }
        let someone_left = gone.iter().any(|m| !self.has_user(m.user.id));
        (gone, someone_left)
    }

    /// The socket sent something: it is alive.
    pub fn touch(&mut self, conn: ConnId, now: Instant) {
        if let Some(member) = self.members.get_mut(&conn) {
            member.last_seen = now;
        }
    }

    /// Sockets silent for longer than `timeout`.
    pub fn silent(&self, timeout: Duration, now: Instant) -> Vec<ConnId> {
        self.conns_where(|m| now.duration_since(m.last_seen) > timeout)
    }

    /// Replaces the user of every socket of `user.id`; the old user of one of them, if any.
    pub fn update_user(&mut self, user: &SocketUser) -> Option<Arc<SocketUser>> {
        let mut old = None;
        for member in self.members.values_mut().filter(|m| m.user.id == user.id) {
            let updated = SocketUser {
                login: member.user.login.clone(),
                ..user.clone()
            };
            old = Some(std::mem::replace(&mut member.user, Arc::new(updated)));
        }
        old
    }

    /// How long after one `participants_changed` to everyone the next may follow: 2 ms per
    /// member, at most 1 s. It bounds the frames a session sends per second (about 500), so a
    /// join storm of N users costs frames linear in N (one broadcast per join would be N²/2).
    fn window(&self) -> Duration {
        Duration::from_millis(2 * self.members.len() as u64).min(Duration::from_secs(1))
    }

    /// Decides when to announce a change of participants.
    pub fn announce(&mut self, now: Instant) -> Announce {
        if self.due {
            return Announce::AlreadyDue;
        }
        let window = self.window();
        match self.announced_at.map(|at| now.duration_since(at)) {
            Some(elapsed) if elapsed < window => {
                self.due = true;
                Announce::After(window - elapsed)
            }
            _ => Announce::Now,
        }
    }

    /// Records that `participants_changed` went to everyone.
    pub fn announced(&mut self, now: Instant) {
        self.announced_at = Some(now);
        self.due = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::testing::{sink, voter};

    fn member(id: i64, name: &str, at: Instant) -> Member {
        Member {
            user: voter(id, name),
            socket: sink(),
            outbox: Arc::new(Outbox::new(1024)),
            dialect: Dialect::V2,
            last_seen: at,
        }
    }

    #[actix::test]
    async fn a_users_first_socket_joins_and_last_socket_leaves() {
        let now = Instant::now();
        let mut p = Presence::default();
        assert!(p.join(1, member(10, "ann", now)));
        assert!(!p.join(2, member(10, "ann", now)), "a second socket of ann");
        assert!(p.join(3, member(11, "bob", now)));
        let (gone, someone_left) = p.leave(&[1]);
        assert_eq!(gone.len(), 1);
        assert!(!someone_left, "ann still has a socket");
        let (_, someone_left) = p.leave(&[2, 99]);
        assert!(someone_left);
        assert!(!p.has_user(10) && p.has_user(11));
    }

    #[actix::test]
    async fn silent_sockets_are_found_and_touching_keeps_them() {
        let start = Instant::now();
        let mut p = Presence::default();
        p.join(1, member(10, "ann", start));
        p.join(2, member(11, "bob", start));
        let later = start + Duration::from_secs(61);
        p.touch(2, start + Duration::from_secs(30));
        assert_eq!(p.silent(Duration::from_secs(60), later), vec![1]);
    }

    #[actix::test]
    async fn updating_a_user_keeps_each_sockets_login() {
        let now = Instant::now();
        let mut p = Presence::default();
        p.join(1, member(10, "ann", now));
        let renamed = SocketUser {
            id: 10,
            name: "anna".into(),
            can_vote: false,
            can_moderate: true,
            login: crate::live::messages::SocketLogin::default(),
        };
        let old = p.update_user(&renamed).expect("ann was present");
        assert_eq!(old.name, "ann");
        let now_user = &p.get(1).unwrap().user;
        assert_eq!(now_user.name, "anna");
        assert!(!now_user.can_vote && now_user.can_moderate);
        assert_eq!(now_user.login.token_hash, "token-10");
        assert!(p.update_user(&SocketUser { id: 99, ..renamed }).is_none());
    }

    #[actix::test]
    async fn announcements_are_coalesced_within_the_window() {
        let start = Instant::now();
        let mut p = Presence::default();
        for i in 0..100 {
            p.join(i, member(i as i64, "u", start));
        }
        assert_eq!(p.announce(start), Announce::Now);
        p.announced(start);
        // 100 members: a window of 200 ms.
        let soon = start + Duration::from_millis(50);
        assert_eq!(
            p.announce(soon),
            Announce::After(Duration::from_millis(150))
        );
        assert_eq!(p.announce(soon), Announce::AlreadyDue);
        p.announced(start + Duration::from_millis(200));
        assert_eq!(
            p.announce(start + Duration::from_millis(401)),
            Announce::Now
        );
    }
}
