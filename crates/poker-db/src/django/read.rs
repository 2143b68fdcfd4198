//! Reading a database of the Django original, read-only: the tables its 1.0.3 migrations create
//! (and Django's `auth` and `contenttypes`), loaded whole in one read snapshot.

use std::time::Duration;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Nullable, Text};

use super::ImportError;
use crate::connection::{without_password, DatabaseUrl, DbConnection};

/// The tables an import reads; a database without any of them is not the original's.
pub const REQUIRED_TABLES: &[&str] = &[
    "auth_user",
    "auth_group",
    "auth_user_groups",
    "auth_permission",
    "auth_user_user_permissions",
    "auth_group_permissions",
    "django_content_type",
    "planning_poker_pokersession",
    "planning_poker_story",
    "planning_poker_vote",
];

/// A row of `auth_user`, as far as an import needs it.
#[derive(Debug, Clone, QueryableByName)]
pub struct DjangoUser {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub username: String,
    /// Django's stored hash: `pbkdf2_sha256$…`, or `!…` for an unusable password.
    #[diesel(sql_type = Text)]
    pub password: String,
    #[diesel(sql_type = Bool)]
    pub is_superuser: bool,
    #[diesel(sql_type = Bool)]
    pub is_active: bool,
}

/// A `planning_poker.vote` or `planning_poker.moderate` permission a user holds, directly or
/// through one of their groups.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DjangoRight {
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Text)]
    pub codename: String,
}

/// A row of `planning_poker_pokersession`.
#[derive(Debug, Clone, QueryableByName)]
pub struct DjangoSession {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Date)]
    pub poker_date: NaiveDate,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub active_story_id: Option<i64>,
}

/// A row of `planning_poker_story`; `sort_order` is the `_order` column that Django's
/// `order_with_respect_to = 'poker_session'` keeps.
#[derive(Debug, Clone, QueryableByName)]
pub struct DjangoStory {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub ticket_number: String,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub description: String,
    /// A `PositiveSmallIntegerField`: one of 1 2 3 5 8 13 21 34, or NULL.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub story_points: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub poker_session_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub sort_order: Option<i64>,
}

/// A row of `planning_poker_vote`.
#[derive(Debug, Clone, QueryableByName)]
pub struct DjangoVote {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub story_id: i64,
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Text)]
    pub choice: String,
}

/// Everything an import reads from the original, each kind ordered by id (stories by session,
/// `_order`, id).
#[derive(Debug, Clone, Default)]
pub struct DjangoData {
    pub users: Vec<DjangoUser>,
    pub rights: Vec<DjangoRight>,
    pub sessions: Vec<DjangoSession>,
    pub stories: Vec<DjangoStory>,
    pub votes: Vec<DjangoVote>,
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// `path` as the path of a SQLite `file:` URI (which gives `?`, `#` and `%` a meaning).
fn sqlite_uri_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

/// Opens the original's database so that nothing can be written through the connection: a
/// SQLite file with `mode=ro` (and `query_only`), PostgreSQL with read-only transactions.
pub fn open_read_only(url: &str) -> Result<DbConnection, ImportError> {
    // Not the parser's own message: it repeats the URL, password and all.
    let parsed = DatabaseUrl::parse(url).map_err(|_| {
        ImportError::Source(format!(
            "{}: expected sqlite:///path/to/db.sqlite3 or postgres://user:password@host:port/db",
            without_password(url)
        ))
    })?;
    match parsed {
        DatabaseUrl::Sqlite(path) => {
            if !path.is_file() {
                return Err(ImportError::Source(format!(
                    "no SQLite database file at {}",
                    path.display()
                )));
            }
            let uri = format!("file:{}?mode=ro", sqlite_uri_path(&path.to_string_lossy()));
            let mut conn = diesel::SqliteConnection::establish(&uri)
                .map_err(|e| ImportError::Source(format!("cannot open {}: {e}", path.display())))?;
            conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;")
                .map_err(|e| ImportError::Source(format!("{}: {e}", path.display())))?;
            Ok(DbConnection::Sqlite(conn))
        }
        DatabaseUrl::Postgres(_) => {
            let mut conn = parsed
                .connect(Duration::from_secs(30))
                .map_err(|e| ImportError::Source(e.to_string()))?;
            conn.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                .map_err(|e| ImportError::Source(format!("{}: {e}", without_password(url))))?;
            Ok(conn)
        }
    }
}

/// The tables of [`REQUIRED_TABLES`] that the database lacks.
fn missing_tables(conn: &mut DbConnection) -> Result<Vec<&'static str>, diesel::result::Error> {
    let query = match conn {
        DbConnection::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')",
        DbConnection::Postgresql(_) => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = ANY (current_schemas(false))"
        }
    };
    let present: Vec<TableName> = diesel::sql_query(query).load(conn)?;
    Ok(REQUIRED_TABLES
        .iter()
        .copied()
        .filter(|table| !present.iter().any(|p| p.name == *table))
        .collect())
}

/// Rights through the `planning_poker` app's permissions, held directly or through a group.
const RIGHTS: &str = "\
    SELECT CAST(up.user_id AS BIGINT) AS user_id, CAST(p.codename AS TEXT) AS codename \
    FROM auth_user_user_permissions up \
    JOIN auth_permission p ON p.id = up.permission_id \
    JOIN django_content_type ct ON ct.id = p.content_type_id \
    WHERE ct.app_label = 'planning_poker' AND p.codename IN ('vote', 'moderate') \
    UNION \
    SELECT CAST(ug.user_id AS BIGINT) AS user_id, CAST(p.codename AS TEXT) AS codename \
    FROM auth_user_groups ug \
    JOIN auth_group_permissions gp ON gp.group_id = ug.group_id \
    JOIN auth_permission p ON p.id = gp.permission_id \
    JOIN django_content_type ct ON ct.id = p.content_type_id \
    WHERE ct.app_label = 'planning_poker' AND p.codename IN ('vote', 'moderate')";

fn load_all(conn: &mut DbConnection) -> Result<DjangoData, diesel::result::Error> {
    let users = diesel::sql_query(
        "SELECT CAST(id AS BIGINT) AS id, CAST(username AS TEXT) AS username, \
         CAST(password AS TEXT) AS password, is_superuser, is_active \
         FROM auth_user ORDER BY id",
    )
    .load(conn)?;
    let rights = diesel::sql_query(RIGHTS).load(conn)?;
    let sessions = diesel::sql_query(
        "SELECT CAST(id AS BIGINT) AS id, CAST(name AS TEXT) AS name, poker_date, \
         CAST(active_story_id AS BIGINT) AS active_story_id \
         FROM planning_poker_pokersession ORDER BY id",
    )
    .load(conn)?;
    let stories = diesel::sql_query(
        "SELECT CAST(id AS BIGINT) AS id, CAST(ticket_number AS TEXT) AS ticket_number, \
         CAST(title AS TEXT) AS title, CAST(description AS TEXT) AS description, \
         CAST(story_points AS BIGINT) AS story_points, \
         CAST(poker_session_id AS BIGINT) AS poker_session_id, \
         CAST(_order AS BIGINT) AS sort_order \
         FROM planning_poker_story ORDER BY poker_session_id, _order, id",
    )
    .load(conn)?;
    let votes = diesel::sql_query(
        "SELECT CAST(id AS BIGINT) AS id, CAST(story_id AS BIGINT) AS story_id, \
         CAST(user_id AS BIGINT) AS user_id, CAST(choice AS TEXT) AS choice \
         FROM planning_poker_vote ORDER BY id",
    )
    .load(conn)?;
    Ok(DjangoData {
        users,
        rights,
        sessions,
        stories,
        votes,
    })
}

/// Reads everything an import needs, in one read-only snapshot; refuses a database that lacks
/// the original's tables.
pub fn read(conn: &mut DbConnection, url: &str) -> Result<DjangoData, ImportError> {
    let shown = without_password(url);
    let failed = |e: diesel::result::Error| ImportError::Source(format!("{shown}: {e}"));
    let missing = missing_tables(conn).map_err(failed)?;
    if !missing.is_empty() {
        return Err(ImportError::NotDjango(format!(
            "{shown} is not a database of the Django planning-poker: it has no table {} \
             (expected the tables of its migrations and of django.contrib.auth; run \
             `manage.py migrate` there first if it is new)",
            missing.join(", ")
        )));
    }
    // One snapshot: a Django server still running cannot make the rows disagree.
    let begin = match conn {
        DbConnection::Sqlite(_) => "BEGIN",
        DbConnection::Postgresql(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    conn.batch_execute(begin).map_err(failed)?;
    let data = load_all(conn);
    let ended = conn.batch_execute("ROLLBACK");
    let data = data.map_err(failed)?;
    ended.map_err(failed)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_escaped_for_uris() {
        assert_eq!(sqlite_uri_path("/tmp/a b.db"), "/tmp/a b.db");
        assert_eq!(sqlite_uri_path("/tmp/what?#%.db"), "/tmp/what%3f%23%25.db");
    }
}
