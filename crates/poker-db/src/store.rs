//! The store: every query the server makes, over a pool, written once for both backends.
//!
//! All methods block; the server calls them off its async threads (`web::block`).

use diesel::connection::SimpleConnection;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::connection::{pool, DatabaseUrl, DbConnection, Pool};
use crate::models::*;
use crate::schema::*;
use crate::writer::WriteShape;
use crate::DbError;

/// The kind of a stored token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Behind the login cookie.
    Login,
    /// A bearer token for scripts.
    Api,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Login => "login",
            TokenKind::Api => "api",
        }
    }
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    url: DatabaseUrl,
    writer: crate::writer::Writer,
    timeout: std::time::Duration,
}

type Conn = r2d2::PooledConnection<crate::connection::Manager>;

/// Runs `f` in a write transaction. SQLite's is `BEGIN IMMEDIATE`, so concurrent writers wait on
/// the busy timeout instead of failing when a read lock cannot be upgraded.
pub(crate) fn write_tx<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    if matches!(conn, DbConnection::Sqlite(_)) {
        conn.batch_execute("BEGIN IMMEDIATE")?;
        match f(conn) {
            Ok(value) => {
                conn.batch_execute("COMMIT")?;
                Ok(value)
            }
            Err(e) => {
                if let Err(rollback) = conn.batch_execute("ROLLBACK") {
                    log::error!("rollback failed: {rollback}");
                }
                Err(e)
            }
        }
    } else {
        conn.transaction(f)
    }
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn conflict(e: DieselError, what: &str) -> DbError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            DbError::Conflict(what.to_string())
        }
        other => other.into(),
    }
}

impl Store {
    /// Opens the database named by `url`, applying pending migrations first. `timeout` bounds
    /// every wait for the database: connecting, a pool checkout, SQLite's lock.
    pub fn open(url: &str, pool_size: u32, timeout: std::time::Duration) -> Result<Store, DbError> {
        let url = DatabaseUrl::parse(url)?;
        let applied = url.migrate()?;
        for name in applied {
            log::info!("applied migration {name}");
        }
        let pool = pool(&url, pool_size, timeout)?;
        let writer = crate::writer::Writer::start(&url, timeout)?;
        crate::connection::start_checkpointer(&url, std::time::Duration::from_secs(1))?;
        Ok(Store {
            pool,
            url,
            writer,
            timeout,
        })
    }

    pub(crate) fn conn(&self) -> Result<Conn, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Queues a write of live session `session_id` on the group-committing writer; answers
    /// after commit.
    /// The write may be replayed after a rollback, so it must depend only on what it captured.
    pub fn write<T, F>(
        &self,
        session_id: i64,
        work: F,
    ) -> impl std::future::Future<Output = Result<T, DbError>> + Send + 'static
    where
        T: Send + 'static,
        F: Fn(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        self.writer.write(session_id, WriteShape::Statements, work)
    }

    /// As [`Store::write`], for a write that is one SQL statement on PostgreSQL (such as
    /// [`crate::live::cast_vote`]): alone in its batch, it commits in one round trip.
    pub fn write_statement<T, F>(
        &self,
        session_id: i64,
        work: F,
    ) -> impl std::future::Future<Output = Result<T, DbError>> + Send + 'static
    where
        T: Send + 'static,
        F: Fn(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        self.writer
            .write(session_id, WriteShape::SingleStatement, work)
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.url.backend()
    }

    /// How long to wait for a live write before counting it as failed, outcome unknown.
    pub fn write_deadline(&self) -> std::time::Duration {
        self.writer.deadline()
    }

    /// Why the live writes cannot be saved right now, if they cannot: a writer thread without
    /// a database, or dead or stalled and being replaced.
    pub fn writer_problem(&self) -> Option<String> {
        self.writer
            .health()
            .into_iter()
            .enumerate()
            .find_map(|(i, state)| match state {
                crate::writer::SlotState::Up => None,
                crate::writer::SlotState::Down(why) => Some(format!("writer {i}: {why}")),
            })
    }

    /// How many writer threads were restarted (died) or replaced (stalled) since the start.
    pub fn writer_restarts(&self) -> u64 {
        self.writer.restarts()
    }

    /// Answers when the database does, and can take writes: on SQLite, when the write lock
    /// can be had (another process may hold it).
    pub fn ping(&self) -> Result<(), DbError> {
        let conn = &mut *self.conn()?;
        match conn {
            DbConnection::Sqlite(_) => {
                conn.batch_execute("PRAGMA busy_timeout = 500")?;
                let probe = conn.batch_execute("BEGIN IMMEDIATE; ROLLBACK;");
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}",
                    self.timeout.as_millis()
                ))?;
                probe.map_err(DbError::from)
            }
            DbConnection::Postgresql(_) => conn.batch_execute("SELECT 1").map_err(DbError::from),
        }
    }

    // ---- users ----

    pub fn count_users(&self) -> Result<i64, DbError> {
        Ok(users::table
            .select(count_star())
            .first(&mut *self.conn()?)?)
    }

    /// Creates a user; `Conflict` when the username is taken.
    pub fn create_user(&self, new: &NewUser) -> Result<User, DbError> {
        let conn = &mut *self.conn()?;
        let id: i64 = diesel::insert_into(users::table)
            .values((
                users::username.eq(&new.username),
                users::password_hash.eq(&new.password_hash),
                users::can_vote.eq(new.can_vote),
                users::can_moderate.eq(new.can_moderate),
                users::is_admin.eq(new.is_admin),
                users::created_at.eq(now()),
            ))
            .returning(users::id)
            .get_result(conn)
            .map_err(|e| conflict(e, "a user with this username exists"))?;
        Ok(User {
            id,
            username: new.username.clone(),
            can_vote: new.can_vote,
            can_moderate: new.can_moderate,
            is_admin: new.is_admin,
        })
    }

    pub fn list_users(&self) -> Result<Vec<User>, DbError> {
        Ok(users::table
            .order(users::id)
            .select(User::as_select())
            .load(&mut *self.conn()?)?)
    }

    pub fn user(&self, id: i64) -> Result<Option<User>, DbError> {
        Ok(users::table
            .find(id)
            .select(User::as_select())
            .first(&mut *self.conn()?)
            .optional()?)
    }

    /// The user and password hash for a login attempt.
    pub fn credentials(&self, username: &str) -> Result<Option<UserCredentials>, DbError> {
        Ok(users::table
            .filter(users::username.eq(username))
            .select(UserCredentials::as_select())
            .first(&mut *self.conn()?)
            .optional()?)
    }

    /// Replaces a user's password hash with `new`, but only while it is still `old`: the login
    /// that upgrades a hash brought from the Django original must not undo a password that an
    /// administrator changed meanwhile. Whether the hash was replaced.
    pub fn replace_password_hash(
        &self,
        user_id: i64,
        old: &str,
        new: &str,
    ) -> Result<bool, DbError> {
        let changed = diesel::update(
            users::table
                .filter(users::id.eq(user_id))
                .filter(users::password_hash.eq(old)),
        )
        .set(users::password_hash.eq(new))
        .execute(&mut *self.conn()?)?;
        Ok(changed == 1)
    }

    // ---- tokens ----

    pub fn insert_token(
        &self,
        user_id: i64,
        token_hash: &str,
        kind: TokenKind,
        expires_at: Option<i64>,
    ) -> Result<(), DbError> {
        diesel::insert_into(tokens::table)
            .values((
                tokens::user_id.eq(user_id),
                tokens::token_hash.eq(token_hash),
                tokens::kind.eq(kind.as_str()),
                tokens::created_at.eq(now()),
                tokens::expires_at.eq(expires_at),
            ))
            .execute(&mut *self.conn()?)?;
        Ok(())
    }

    /// The user a token belongs to, if the token exists and has not expired.
    pub fn user_by_token(&self, token_hash: &str) -> Result<Option<User>, DbError> {
        Ok(tokens::table
            .inner_join(users::table)
            .filter(tokens::token_hash.eq(token_hash))
            .filter(
                tokens::expires_at
                    .is_null()
                    .or(tokens::expires_at.gt(now())),
            )
            .select(User::as_select())
            .first(&mut *self.conn()?)
            .optional()?)
    }

    pub fn delete_token(&self, token_hash: &str) -> Result<(), DbError> {
        diesel::delete(tokens::table.filter(tokens::token_hash.eq(token_hash)))
            .execute(&mut *self.conn()?)?;
        Ok(())
    }

    // ---- settings ----

    /// A stored server setting, created with `make()` the first time it is asked for.
    pub fn setting_or_insert(
        &self,
        key: &str,
        make: impl FnOnce() -> String,
    ) -> Result<String, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let existing: Option<String> = settings::table
                .find(key)
                .select(settings::value)
                .first(conn)
                .optional()?;
            if let Some(value) = existing {
                return Ok(value);
            }
            let value = make();
            diesel::insert_into(settings::table)
                .values((settings::key.eq(key), settings::value.eq(&value)))
                .execute(conn)?;
            Ok(value)
        })
    }

    // ---- poker sessions ----

    pub fn create_session(&self, new: &NewSession) -> Result<PokerSession, DbError> {
        let deck = serde_json::to_string(&new.deck).map_err(|e| DbError::Query(e.to_string()))?;
        let id: i64 = diesel::insert_into(poker_sessions::table)
            .values((
                poker_sessions::name.eq(&new.name),
                poker_sessions::poker_date.eq(new.poker_date),
                poker_sessions::deck.eq(deck),
                poker_sessions::secret_votes.eq(new.secret_votes),
                poker_sessions::reveal.eq(new.reveal.as_str()),
                poker_sessions::auto_reveal.eq(new.auto_reveal),
                poker_sessions::timer_reveals.eq(new.timer_reveals),
                poker_sessions::created_at.eq(now()),
            ))
            .returning(poker_sessions::id)
            .get_result(&mut *self.conn()?)?;
        Ok(PokerSession {
            id,
            name: new.name.clone(),
            poker_date: new.poker_date,
            active_story_id: None,
            deck: new.deck.clone(),
            secret_votes: new.secret_votes,
            reveal: new.reveal,
            auto_reveal: new.auto_reveal,
            timer: None,
            timer_reveals: new.timer_reveals,
        })
    }

    pub fn session(&self, id: i64) -> Result<Option<PokerSession>, DbError> {
        Ok(session_row(&mut *self.conn()?, id)?.map(PokerSession::from))
    }

    /// Sessions, newest poker date first; with `open_only`, only those with stories left to estimate.
    pub fn list_sessions(&self, open_only: bool) -> Result<Vec<SessionSummary>, DbError> {
        let conn = &mut *self.conn()?;
        let rows: Vec<SessionRow> = poker_sessions::table
            .order((poker_sessions::poker_date.desc(), poker_sessions::id.desc()))
            .select(SessionRow::as_select())
            .load(conn)?;
        let counts: Vec<(Option<i64>, i64)> = stories::table
            .filter(stories::story_points.is_null())
            .filter(stories::poker_session_id.is_not_null())
            .group_by(stories::poker_session_id)
            .select((stories::poker_session_id, count_star()))
            .load(conn)?;
        let count_of = |id: i64| {
            counts
                .iter()
                .find(|(s, _)| *s == Some(id))
                .map_or(0, |(_, n)| *n)
        };
        Ok(rows
            .into_iter()
            .map(|row| {
                let unpokered_stories = count_of(row.id);
                SessionSummary {
                    session: row.into(),
                    unpokered_stories,
                }
            })
            .filter(|s| !open_only || s.unpokered_stories > 0)
            .collect())
    }

    // ---- stories ----

    /// Appends a story to a session, with the session's new version; `NotFound` when the
    /// session does not exist.
    pub fn create_story(
        &self,
        session_id: i64,
        new: &NewStory,
    ) -> Result<(Story, SessionVersion), DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let version = bumped(conn, session_id)?;
            Ok((append_story(conn, session_id, new)?, version))
        })
    }

    /// A session's stories in order.
    pub fn stories(&self, session_id: i64) -> Result<Vec<Story>, DbError> {
        session_stories(&mut *self.conn()?, session_id)
    }

    pub fn story(&self, id: i64) -> Result<Option<Story>, DbError> {
        Ok(stories::table
            .find(id)
            .select(Story::as_select())
            .first(&mut *self.conn()?)
            .optional()?)
    }

    // ---- the live session ----

    /// The session with its active story and that story's votes, as a live session starts from.
    pub fn live_state(&self, session_id: i64) -> Result<Option<LiveState>, DbError> {
        let conn = &mut *self.conn()?;
        // The row first: its version is then no newer than anything read after it.
        let Some(row) = session_row(conn, session_id)? else {
            return Ok(None);
        };
        let version = row.version;
        let session = PokerSession::from(row);
        let active = match session.active_story_id {
            Some(story_id) => {
                let story: Option<Story> = stories::table
                    .find(story_id)
                    .select(Story::as_select())
                    .first(conn)
                    .optional()?;
                match story {
                    Some(story) => Some((
                        story,
                        story_votes(conn, story_id)?,
                        story_round(conn, story_id)?,
                    )),
                    None => None,
                }
            }
            None => None,
        };
        Ok(Some(LiveState {
            session,
            version,
            active,
        }))
    }

    /// A session's version (changes counted so far); `None` when it does not exist.
    pub fn session_version(&self, session_id: i64) -> Result<Option<i64>, DbError> {
        Ok(poker_sessions::table
            .find(session_id)
            .select(poker_sessions::version)
            .first(&mut *self.conn()?)
            .optional()?)
    }

    /// A story's round: revealed or not, and who abstained.
    pub fn round(&self, story_id: i64) -> Result<StoryRound, DbError> {
        story_round(&mut *self.conn()?, story_id)
    }

    /// A story's votes in the order they were first cast, with voter names.
    pub fn votes(&self, story_id: i64) -> Result<Vec<VoteRow>, DbError> {
        story_votes(&mut *self.conn()?, story_id)
    }
}

/// Locks the session's row and counts one change (see `live`): `NotFound` when it does not
/// exist. REST edits call it before touching anything else of the session.
pub(crate) fn bumped(conn: &mut DbConnection, session_id: i64) -> Result<SessionVersion, DbError> {
    let version = crate::live::bump_version(conn, session_id)?.ok_or(DbError::NotFound)?;
    Ok(SessionVersion {
        session_id,
        version,
    })
}

pub(crate) fn session_row(conn: &mut DbConnection, id: i64) -> Result<Option<SessionRow>, DbError> {
    Ok(poker_sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn session_stories(
    conn: &mut DbConnection,
    session_id: i64,
) -> Result<Vec<Story>, DbError> {
    Ok(stories::table
        .filter(stories::poker_session_id.eq(session_id))
        .order((stories::position.asc(), stories::id.asc()))
        .select(Story::as_select())
        .load(conn)?)
}

pub(crate) fn story_votes(conn: &mut DbConnection, story_id: i64) -> Result<Vec<VoteRow>, DbError> {
    let rows: Vec<(i64, String, String)> = votes::table
        .inner_join(users::table)
        .filter(votes::story_id.eq(story_id))
        .order(votes::id.asc())
        .select((votes::user_id, users::username, votes::choice))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user_id, username, choice)| VoteRow {
            user_id,
            username,
            choice,
        })
        .collect())
}

pub(crate) fn story_round(conn: &mut DbConnection, story_id: i64) -> Result<StoryRound, DbError> {
    let revealed: Option<bool> = stories::table
        .find(story_id)
        .select(stories::revealed)
        .first(conn)
        .optional()?;
    let rows: Vec<(i64, String)> = abstentions::table
        .inner_join(users::table)
        .filter(abstentions::story_id.eq(story_id))
        .order(abstentions::id.asc())
        .select((abstentions::user_id, users::username))
        .load(conn)?;
    Ok(StoryRound {
        revealed: revealed.unwrap_or(false),
        abstained: rows
            .into_iter()
            .map(|(user_id, username)| Abstention { user_id, username })
            .collect(),
    })
}

/// Inserts a story after the session's last one.
pub(crate) fn append_story(
    conn: &mut DbConnection,
    session_id: i64,
    new: &NewStory,
) -> Result<Story, DbError> {
    let last: Option<i64> = stories::table
        .filter(stories::poker_session_id.eq(session_id))
        .select(max(stories::position))
        .first(conn)?;
    let position = last.map_or(0, |p| p + 1);
    let id: i64 = diesel::insert_into(stories::table)
        .values((
            stories::poker_session_id.eq(Some(session_id)),
            stories::position.eq(position),
            stories::ticket_number.eq(&new.ticket_number),
            stories::title.eq(&new.title),
            stories::description.eq(&new.description),
        ))
        .returning(stories::id)
        .get_result(conn)?;
    Ok(Story {
        id,
        poker_session_id: Some(session_id),
        position,
        ticket_number: new.ticket_number.clone(),
        title: new.title.clone(),
        description: new.description.clone(),
        story_points: None,
    })
}

/// Makes `story_id` the session's active story; a new round, so any countdown stops.
pub(crate) fn set_active(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: Option<i64>,
) -> Result<(), DbError> {
    diesel::update(poker_sessions::table.find(session_id))
        .set((
            poker_sessions::active_story_id.eq(story_id),
            poker_sessions::timer_ends_at.eq(None::<i64>),
            poker_sessions::timer_seconds.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}
