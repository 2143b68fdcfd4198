//! Guests by invite link: a session's invites (kept as the SHA-256 of their secret, like
//! tokens) and the guest users they let in, each scoped to the invite's session.

use diesel::prelude::*;

use crate::models::User;
use crate::schema::{guests, invites, poker_sessions, tokens, users};
use crate::store::{conflict, now, write_tx};
use crate::{DbError, Store};

/// The most guests one invite lets in: a link that leaked makes at most this many users.
pub const MAX_GUESTS_PER_INVITE: i64 = 100;

/// The `Conflict` of [`Store::join_invite`] for an invite that let in all its guests (the
/// other `Conflict` is a taken name).
pub const INVITE_FULL: &str = "this invite has let in its 100 guests; ask for a new one";

/// What a guest may do in the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteRole {
    Voter,
    Spectator,
}

impl InviteRole {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteRole::Voter => "voter",
            InviteRole::Spectator => "spectator",
        }
    }

    pub fn parse(s: &str) -> Option<InviteRole> {
        match s {
            "voter" => Some(InviteRole::Voter),
            "spectator" => Some(InviteRole::Spectator),
            _ => None,
        }
    }
}

/// An invite to one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub session_id: i64,
    pub role: InviteRole,
    pub created_by: Option<i64>,
    /// Seconds since 1970.
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// How many guests came in through it.
    pub guests: i64,
}

impl Invite {
    /// Whether it still lets people in at `now` (seconds since 1970).
    pub fn is_open(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// What it takes to create an invite (the secret already hashed).
#[derive(Debug, Clone)]
pub struct NewInvite {
    pub session_id: i64,
    pub token_hash: String,
    pub role: InviteRole,
    pub created_by: Option<i64>,
    pub expires_at: i64,
}

type InviteRow = (i64, i64, String, Option<i64>, i64, i64, Option<i64>);

fn invite_columns() -> (
    invites::id,
    invites::session_id,
    invites::role,
    invites::created_by,
    invites::created_at,
    invites::expires_at,
    invites::revoked_at,
) {
    (
        invites::id,
        invites::session_id,
        invites::role,
        invites::created_by,
        invites::created_at,
        invites::expires_at,
        invites::revoked_at,
    )
}

fn to_invite(row: InviteRow, guests: i64) -> Invite {
    let (id, session_id, role, created_by, created_at, expires_at, revoked_at) = row;
    Invite {
        id,
        session_id,
        // Written by `create_invite` only; a hand-edited row lets nobody vote.
        role: InviteRole::parse(&role).unwrap_or(InviteRole::Spectator),
        created_by,
        created_at,
        expires_at,
        revoked_at,
        guests,
    }
}

fn guest_count(conn: &mut crate::DbConnection, invite_id: i64) -> Result<i64, DbError> {
    Ok(guests::table
        .filter(guests::invite_id.eq(invite_id))
        .count()
        .get_result(conn)?)
}

/// A login found by its token (see [`Store::login_by_token`]).
#[derive(Debug, Clone)]
pub struct Login {
    pub user: User,
    /// For a guest: the one session they may see.
    pub guest_session: Option<i64>,
    /// When the login ends (seconds since 1970); `None`: never (a bearer token).
    pub expires_at: Option<i64>,
}

impl Store {
    /// Creates an invite; `NotFound` when the session does not exist.
    pub fn create_invite(&self, new: &NewInvite) -> Result<Invite, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let exists: i64 = poker_sessions::table
                .find(new.session_id)
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(DbError::NotFound);
            }
            let created_at = now();
            let id: i64 = diesel::insert_into(invites::table)
                .values((
                    invites::session_id.eq(new.session_id),
                    invites::token_hash.eq(&new.token_hash),
                    invites::role.eq(new.role.as_str()),
                    invites::created_by.eq(new.created_by),
                    invites::created_at.eq(created_at),
                    invites::expires_at.eq(new.expires_at),
                ))
                .returning(invites::id)
                .get_result(conn)?;
            Ok(Invite {
                id,
                session_id: new.session_id,
                role: new.role,
                created_by: new.created_by,
                created_at,
                expires_at: new.expires_at,
                revoked_at: None,
                guests: 0,
            })
        })
    }

    /// A session's invites, newest first.
    pub fn invites(&self, session_id: i64) -> Result<Vec<Invite>, DbError> {
        let conn = &mut *self.conn()?;
        let rows: Vec<InviteRow> = invites::table
            .filter(invites::session_id.eq(session_id))
            .order(invites::id.desc())
            .select(invite_columns())
            .load(conn)?;
        rows.into_iter()
            .map(|row| {
                let guests = guest_count(conn, row.0)?;
                Ok(to_invite(row, guests))
            })
            .collect()
    }

    /// The invite whose secret hashes to `token_hash`, open or not.
    pub fn invite_by_token(&self, token_hash: &str) -> Result<Option<Invite>, DbError> {
        let conn = &mut *self.conn()?;
        let row: Option<InviteRow> = invites::table
            .filter(invites::token_hash.eq(token_hash))
            .select(invite_columns())
            .first(conn)
            .optional()?;
        match row {
            Some(row) => {
                let guests = guest_count(conn, row.0)?;
                Ok(Some(to_invite(row, guests)))
            }
            None => Ok(None),
        }
    }

    /// Revokes an invite of a session: nobody else comes in with it, and every login of its
    /// guests ends. The guests' ids (whose sockets the caller closes); `NotFound` when the
    /// session has no such invite. Revoking twice changes nothing more.
    pub fn revoke_invite(&self, session_id: i64, invite_id: i64) -> Result<Vec<i64>, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let found: i64 = invites::table
                .filter(invites::id.eq(invite_id))
                .filter(invites::session_id.eq(session_id))
                .count()
                .get_result(conn)?;
            if found == 0 {
                return Err(DbError::NotFound);
            }
            diesel::update(
                invites::table
                    .find(invite_id)
                    .filter(invites::revoked_at.is_null()),
            )
            .set(invites::revoked_at.eq(Some(now())))
            .execute(conn)?;
            let guest_ids: Vec<i64> = guests::table
                .filter(guests::invite_id.eq(invite_id))
                .select(guests::user_id)
                .load(conn)?;
            diesel::delete(tokens::table.filter(tokens::user_id.eq_any(&guest_ids)))
                .execute(conn)?;
            Ok(guest_ids)
        })
    }

    /// Lets a guest in through an open invite: a user named `username` (who can vote if the
    /// invite says so, with a password that matches nothing), scoped to the invite's session,
    /// and a login token for them (kept as `token_hash`, ending at `token_expires`).
    /// `Conflict` when the name is taken or the invite has let in [`MAX_GUESTS_PER_INVITE`]
    /// guests; `NotFound` when the invite is not open any more.
    pub fn join_invite(
        &self,
        invite_id: i64,
        username: &str,
        token_hash: &str,
        token_expires: i64,
    ) -> Result<(User, i64), DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let row: Option<InviteRow> = invites::table
                .find(invite_id)
                .select(invite_columns())
                .first(conn)
                .optional()?;
            let invite = row.map(|r| to_invite(r, 0)).ok_or(DbError::NotFound)?;
            if !invite.is_open(now()) {
                return Err(DbError::NotFound);
            }
            if guest_count(conn, invite.id)? >= MAX_GUESTS_PER_INVITE {
                return Err(DbError::Conflict(INVITE_FULL.to_string()));
            }
            let can_vote = invite.role == InviteRole::Voter;
            let id: i64 = diesel::insert_into(users::table)
                .values((
                    users::username.eq(username),
                    // No password logs in as a guest: their login is the invite's.
                    users::password_hash.eq("!guest"),
                    users::can_vote.eq(can_vote),
                    users::can_moderate.eq(false),
                    users::is_admin.eq(false),
                    users::created_at.eq(now()),
                ))
                .returning(users::id)
                .get_result(conn)
                .map_err(|e| conflict(e, "this name is taken; pick another"))?;
            diesel::insert_into(guests::table)
                .values((
                    guests::user_id.eq(id),
                    guests::invite_id.eq(invite.id),
                    guests::session_id.eq(invite.session_id),
                ))
                .execute(conn)?;
            diesel::insert_into(tokens::table)
                .values((
                    tokens::user_id.eq(id),
                    tokens::token_hash.eq(token_hash),
                    tokens::kind.eq("login"),
                    tokens::created_at.eq(now()),
                    tokens::expires_at.eq(Some(token_expires)),
                ))
                .execute(conn)?;
            let user = User {
                id,
                username: username.to_string(),
                can_vote,
                can_moderate: false,
                is_admin: false,
            };
            Ok((user, invite.session_id))
        })
    }

    /// The user a login token belongs to (unexpired), with the one session they may see if they
    /// are a guest and when the login ends (seconds since 1970; `None`: never): one query, as
    /// every request that presents a token asks it.
    pub fn login_by_token(&self, token_hash: &str) -> Result<Option<Login>, DbError> {
        let found: Option<(User, Option<i64>, Option<i64>)> = tokens::table
            .inner_join(users::table.left_join(guests::table))
            .filter(tokens::token_hash.eq(token_hash))
            .filter(
                tokens::expires_at
                    .is_null()
                    .or(tokens::expires_at.gt(now())),
            )
            .select((
                User::as_select(),
                guests::session_id.nullable(),
                tokens::expires_at,
            ))
            .first(&mut *self.conn()?)
            .optional()?;
        Ok(found.map(|(user, guest_session, expires_at)| Login {
            user,
            guest_session,
            expires_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_is_open_until_it_expires_or_is_revoked() {
        let invite = Invite {
            id: 1,
            session_id: 2,
            role: InviteRole::Voter,
            created_by: None,
            created_at: 100,
            expires_at: 200,
            revoked_at: None,
            guests: 0,
        };
        assert!(invite.is_open(199));
        assert!(!invite.is_open(200));
        let revoked = Invite {
            revoked_at: Some(150),
            ..invite
        };
        assert!(!revoked.is_open(160));
        assert!(INVITE_FULL.contains(&MAX_GUESTS_PER_INVITE.to_string()));
        for role in [InviteRole::Voter, InviteRole::Spectator] {
            assert_eq!(InviteRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(InviteRole::parse("admin"), None);
    }
}
