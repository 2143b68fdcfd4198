//! The statements every live write runs, written out with a static query id so that diesel
//! prepares each once per connection and reuses it.
//!
//! Diesel's DSL gives `UPDATE … RETURNING` and SQLite's `INSERT … ON CONFLICT DO UPDATE` no
//! static query id, so it prepared both again for every vote: on SQLite that was a parse and
//! a plan (`sqlite3RunParser`, `yy_reduce`, name resolution) twice per vote, seen both in
//! `perf` and by counting `sqlite3LockAndPrepare` calls (one per statement per vote before,
//! once per connection now; BENCHMARKS.md says what it bought). SQLite's `BEGIN IMMEDIATE` and
//! `COMMIT`, sent as text before, are prepared once too. The SQL is the same as the DSL wrote,
//! in both dialects (the binds are `?` or `$n` as the backend wants).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::LoadQuery;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text};
use diesel::{OptionalExtension, PgConnection, QueryResult, RunQueryDsl, SqliteConnection};

use crate::DbConnection;

/// `UPDATE poker_sessions SET version = version + 1 WHERE id = ? RETURNING version`: the
/// session row's lock and one more version, or no row.
///
/// (A statement's SQL must not depend on its values: diesel keys its cache by the type alone,
/// so each form of a statement is a type of its own.)
#[derive(QueryId)]
pub struct BumpVersion {
    pub session_id: i64,
}

/// As [`BumpVersion`], only while `story_id` is the session's active story: `… WHERE id = ?
/// AND active_story_id = ? RETURNING version`.
#[derive(QueryId)]
pub struct BumpIfActive {
    pub session_id: i64,
    pub story_id: i64,
}

/// The SQL of both bumps.
fn walk_bump<'b, DB>(
    mut out: AstPass<'_, 'b, DB>,
    session_id: &'b i64,
    while_active: Option<&'b i64>,
) -> QueryResult<()>
where
    DB: Backend + HasSqlType<BigInt>,
    i64: ToSql<BigInt, DB>,
{
    out.push_sql("UPDATE poker_sessions SET version = version + 1 WHERE id = ");
    out.push_bind_param::<BigInt, _>(session_id)?;
    if let Some(story_id) = while_active {
        out.push_sql(" AND active_story_id = ");
        out.push_bind_param::<BigInt, _>(story_id)?;
    }
    out.push_sql(" RETURNING version");
    Ok(())
}

impl<DB> QueryFragment<DB> for BumpVersion
where
    DB: Backend + HasSqlType<BigInt>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        walk_bump(out, &self.session_id, None)
    }
}

impl<DB> QueryFragment<DB> for BumpIfActive
where
    DB: Backend + HasSqlType<BigInt>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        walk_bump(out, &self.session_id, Some(&self.story_id))
    }
}

impl Query for BumpVersion {
    type SqlType = BigInt;
}

impl Query for BumpIfActive {
    type SqlType = BigInt;
}

impl<Conn> RunQueryDsl<Conn> for BumpVersion {}

impl<Conn> RunQueryDsl<Conn> for BumpIfActive {}

/// Runs a bump on whichever database `conn` is: the new version, or `None` without a row.
pub fn new_version<Q>(conn: &mut DbConnection, bump: Q) -> QueryResult<Option<i64>>
where
    Q: LoadQuery<'static, SqliteConnection, i64> + LoadQuery<'static, PgConnection, i64>,
{
    match conn {
        DbConnection::Sqlite(sqlite) => bump.get_result(sqlite),
        DbConnection::Postgresql(pg) => bump.get_result(pg),
    }
    .optional()
}

/// `INSERT INTO votes (story_id, user_id, choice) VALUES (?, ?, ?) ON CONFLICT (story_id,
/// user_id) DO UPDATE SET choice = excluded.choice`: a user's vote, replacing theirs (it keeps
/// its row, so its place). SQLite's form; PostgreSQL runs the whole vote as one statement
/// (`live::CastVote`).
pub struct UpsertVote<'a> {
    pub story_id: i64,
    pub user_id: i64,
    pub choice: &'a str,
}

/// By hand: the derive cannot name the type with a `'static` lifetime.
impl QueryId for UpsertVote<'_> {
    type QueryId = UpsertVote<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for UpsertVote<'_>
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("INSERT INTO votes (story_id, user_id, choice) VALUES (");
        out.push_bind_param::<BigInt, _>(&self.story_id)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.choice)?;
        out.push_sql(") ON CONFLICT (story_id, user_id) DO UPDATE SET choice = excluded.choice");
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for UpsertVote<'_> {}

/// A statement of fixed text, as a type of its own per text (see [`BumpVersion`]).
macro_rules! fixed_statement {
    ($(#[$doc:meta])* $name:ident = $sql:literal) => {
        $(#[$doc])*
        #[derive(QueryId)]
        pub struct $name;

        impl<DB: Backend> QueryFragment<DB> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl<Conn> RunQueryDsl<Conn> for $name {}
    };
}

fixed_statement!(
    /// SQLite's write transaction, taking the write lock at once (a deferred `BEGIN` could fail
    /// to upgrade its lock halfway through a batch). Prepared once, not parsed for every batch.
    BeginImmediate = "BEGIN IMMEDIATE"
);
fixed_statement!(
    /// `COMMIT`, prepared once (SQLite; PostgreSQL sends it as a simple query, one round trip
    /// either way).
    Commit = "COMMIT"
);
