//! One connection type for both databases, a pool of them, and the embedded migrations.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::DbError;

/// SQLite or PostgreSQL, behind one diesel connection type so every query is written once.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A parsed `DATABASE_URL`: the scheme picks the backend. Its `Debug` hides a password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file: `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
    /// A PostgreSQL URL, passed to libpq as given.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&without_password(url))
                .finish(),
        }
    }
}

/// `scheme://user:password@host/db` with the password replaced by `***`.
pub(crate) fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Initializes OpenSSL, which libpq uses for TLS to PostgreSQL, without its exit handler.
///
/// Left to itself, libpq's first TLS connection initializes OpenSSL with an `atexit` handler
/// that frees OpenSSL's global state when the process exits, while other threads (the writer,
/// the pool's) may still be in a TLS call on their connection: the process then aborts on its
/// way out ("double free or corruption", SIGABRT) after a clean stop. Seen in the SIGTERM test
/// on PostgreSQL, whose server on 127.0.0.1 offers TLS. The first initialization decides, so
/// this runs before every connection (`openssl_sys::init` runs once, with
/// `OPENSSL_INIT_NO_ATEXIT`); the operating system reclaims the memory at exit anyway.
fn openssl_without_exit_handler() {
    openssl_sys::init();
}

impl DatabaseUrl {
    /// Parses a database URL; the scheme must be `sqlite:` or `postgres:`/`postgresql:`.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(DbError::BadUrl(format!("{url:?} names no SQLite file")));
            }
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else {
            Err(DbError::BadUrl(format!(
                "{url:?}: expected sqlite://PATH or postgres://user:pass@host:port/db"
            )))
        }
    }

    /// The backend's name, for logs and `/readyz`.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }

    /// Opens one connection of the right variant, set up for this server; no step of it waits
    /// longer than `timeout` (a lock held elsewhere, a host that does not answer).
    pub fn connect(&self, timeout: Duration) -> Result<DbConnection, DbError> {
        match self {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(|e| DbError::Connect(format!("SQLite {}: {e}", path.display())))?;
                // WAL lets readers work beside the writer; the busy timeout makes writers queue
                // instead of failing; foreign keys are off by default in SQLite.
                // The busy timeout goes first so that pool connections opening together queue
                // for the lock that switching to WAL takes.
                // Checkpoints run on a thread of their own (see `checkpointer`), not inside
                // whichever commit crosses the threshold: that commit would stall for an fsync.
                // A lock held past the busy timeout is an outage (`database is locked`), so a
                // write fails within `timeout` instead of stalling its session.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 0;",
                    timeout.as_millis()
                ))?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                openssl_without_exit_handler();
                diesel::PgConnection::establish(&with_libpq_timeouts(url, timeout))
                    .map(DbConnection::Postgresql)
                    .map_err(|e| DbError::Connect(format!("PostgreSQL: {}", e.to_string().trim())))
            }
        }
    }

    /// The URL as it may be printed: a PostgreSQL password replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => without_password(url),
        }
    }

    /// Opens one connection that cannot write: SQLite opens the file with `mode=ro` (a missing
    /// file is an error, not a new empty database) and `query_only`; PostgreSQL makes every
    /// transaction of the session read-only. For reading a database that is not ours to change
    /// (the source of `copy-data`).
    pub fn connect_read_only(&self, timeout: Duration) -> Result<DbConnection, DbError> {
        match self {
            DatabaseUrl::Sqlite(path) => {
                if !path.is_file() {
                    return Err(DbError::Connect(format!(
                        "SQLite {}: no such file",
                        path.display()
                    )));
                }
                let uri = format!("file:{}?mode=ro", uri_escaped(&path.to_string_lossy()));
                let mut conn = diesel::SqliteConnection::establish(&uri)
                    .map_err(|e| DbError::Connect(format!("SQLite {}: {e}", path.display())))?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA query_only = ON;",
                    timeout.as_millis()
                ))?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(_) => {
                let mut conn = self.connect(timeout)?;
                conn.batch_execute("SET default_transaction_read_only = on")?;
                Ok(conn)
            }
        }
    }

    /// The versions of the migrations built into this binary for this URL's backend, oldest
    /// first, as `__diesel_schema_migrations` records them.
    pub fn embedded_migrations(&self) -> Result<Vec<String>, DbError> {
        use diesel::migration::MigrationSource;
        let versions = match self {
            DatabaseUrl::Sqlite(_) => MigrationSource::<diesel::sqlite::Sqlite>::migrations(
                &SQLITE_MIGRATIONS,
            )
            .map(|list| {
                list.iter()
                    .map(|m| m.name().version().to_string())
                    .collect::<Vec<_>>()
            }),
            DatabaseUrl::Postgres(_) => {
                MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS).map(|list| {
                    list.iter()
                        .map(|m| m.name().version().to_string())
                        .collect::<Vec<_>>()
                })
            }
        };
        let mut versions = versions.map_err(|e| DbError::Migration(e.to_string()))?;
        versions.sort();
        Ok(versions)
    }

    /// Creates the SQLite file's folder if needed and applies the pending migrations.
    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        if let DatabaseUrl::Sqlite(path) = self {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DbError::Connect(format!("cannot create folder {}: {e}", dir.display()))
                })?;
            }
        }
        let names = |applied: Vec<diesel::migration::MigrationVersion<'_>>| {
            applied.iter().map(|v| v.to_string()).collect::<Vec<_>>()
        };
        match self.connect(Duration::from_secs(30))? {
            DbConnection::Sqlite(mut conn) => {
                conn.run_pending_migrations(SQLITE_MIGRATIONS).map(names)
            }
            DbConnection::Postgresql(mut conn) => {
                conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(names)
            }
        }
        .map_err(|e| DbError::Migration(e.to_string()))
    }
}

/// A path as the path part of a SQLite `file:` URI: `%`, `?` and `#` would otherwise start an
/// escape, the query or the fragment.
fn uri_escaped(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// Adds libpq's own timeouts to a PostgreSQL URL unless it sets them: `connect_timeout` bounds
/// opening a connection (a host that accepts nothing, or answers nothing), and TCP keepalives
/// with `tcp_user_timeout` notice a peer that vanished from the network under an open
/// connection. A peer that still acknowledges but never answers (a stuck proxy) is caught above
/// libpq, by the writer's deadlines and the server's request timeouts.
fn with_libpq_timeouts(url: &str, timeout: Duration) -> String {
    let secs = timeout.as_secs().max(1);
    let params = [
        ("connect_timeout", secs.to_string()),
        ("keepalives", "1".to_string()),
        ("keepalives_idle", secs.to_string()),
        ("keepalives_interval", "1".to_string()),
        ("keepalives_count", "3".to_string()),
        ("tcp_user_timeout", (secs * 2000).to_string()),
    ];
    let mut out = url.to_string();
    for (name, value) in params {
        if !url.contains(&format!("{name}=")) {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{name}={value}"));
        }
    }
    out
}

/// WAL frames (pages written) past which a checkpoint also restarts the WAL: about 64 MiB at
/// SQLite's 4-KiB pages (its own automatic checkpoint runs at 1,000 frames).
pub(crate) const WAL_RESTART_FRAMES: i64 = 16384;

/// What `PRAGMA wal_checkpoint` reports: frames in the WAL and frames copied into the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub(crate) struct Checkpoint {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub busy: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub log: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub checkpointed: i32,
}

/// One round of the checkpoint thread. PASSIVE copies what it can without blocking readers or
/// the writer. Under steady writes that never lets the WAL be reused: a new frame arrives while
/// the checkpoint runs, so the WAL is never wholly copied and writers never wrap to its start,
/// and it grew by ~10 MB a second in a fan-out (200 MB in 20 s). Past `restart_past` frames
/// ([`WAL_RESTART_FRAMES`] on the server), a RESTART checkpoint follows: it waits for the
/// writer's lock (the busy timeout), copies the few frames the passive one left, and makes the
/// next write start the WAL again from its beginning; the live writer waits that long, a few
/// milliseconds. The file keeps its size, bounded by the threshold plus a second's writes:
/// overwriting it is cheaper than growing it again (TRUNCATE, which empties it, cost the
/// fan-out's p99 ~0.3 ms). Returns what the last checkpoint reported.
pub(crate) fn checkpoint(
    conn: &mut diesel::SqliteConnection,
    restart_past: i64,
) -> Result<Checkpoint, DbError> {
    let passive: Checkpoint =
        diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)?;
    if i64::from(passive.log) <= restart_past {
        return Ok(passive);
    }
    Ok(diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result(conn)?)
}

/// For SQLite: a thread that checkpoints the WAL into the database file every `every` (see
/// [`checkpoint`]), so the WAL stays small without any write waiting for a checkpoint.
pub fn start_checkpointer(url: &DatabaseUrl, every: Duration) -> Result<(), DbError> {
    if !matches!(url, DatabaseUrl::Sqlite(_)) {
        return Ok(());
    }
    let DbConnection::Sqlite(mut conn) = url.connect(Duration::from_secs(5))? else {
        unreachable!("a SQLite URL opens a SQLite connection");
    };
    std::thread::Builder::new()
        .name("poker-db-checkpoint".into())
        .spawn(move || {
            let mut failing = false;
            loop {
                std::thread::sleep(every);
                match checkpoint(&mut conn, WAL_RESTART_FRAMES) {
                    // Logged once per stretch of failures, not once a second.
                    Err(e) if !failing => {
                        log::warn!("WAL checkpoint failed: {e}");
                        failing = true;
                    }
                    Err(_) => {}
                    Ok(_) => failing = false,
                }
            }
        })
        .map_err(|e| DbError::Connect(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

/// The r2d2 manager: opens connections of the variant the URL names, set up as
/// [`DatabaseUrl::connect`] does (diesel's own `ConnectionManager` would skip the PRAGMAs and
/// libpq timeouts), and judges them as diesel's manager does.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    timeout: Duration,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.url.connect(self.timeout)
    }

    /// Run on every checkout: a connection the database dropped (a restart, a failover,
    /// `pg_terminate_backend`) fails here and is replaced, instead of failing the request.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        diesel::r2d2::R2D2Connection::ping(conn).map_err(DbError::from)
    }

    /// On return: a connection left inside a transaction, or whose transaction manager gave
    /// up, is dropped.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// Logs connection failures of the pool once per outage, not once per attempt.
#[derive(Debug, Default)]
struct OutageLog {
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl r2d2::HandleError<DbError> for OutageLog {
    fn handle_error(&self, error: DbError) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.is_none_or(|at| at.elapsed() > Duration::from_secs(30)) {
            log::error!("database pool: {error}");
            *last = Some(std::time::Instant::now());
        }
    }
}

/// A pool of connections to one database.
pub type Pool = r2d2::Pool<Manager>;

/// Builds a pool; it fails if the database cannot be reached within `timeout`, which also
/// bounds every checkout later (a request then fails with `unavailable` instead of waiting).
pub fn pool(url: &DatabaseUrl, max_size: u32, timeout: Duration) -> Result<Pool, DbError> {
    r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(timeout)
        .test_on_check_out(true)
        .error_handler(Box::new(OutageLog::default()))
        .build(Manager {
            url: url.clone(),
            timeout,
        })
        .map_err(|e| DbError::Connect(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/pp.db").unwrap(),
            DatabaseUrl::Sqlite("data/pp.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/poker.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/poker.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(),
            "postgres"
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        let secret = DatabaseUrl::parse("postgres://poker:s3cret@db:5432/poker").unwrap();
        let shown = format!("{secret:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("poker:***@db:5432/poker"),
            "{shown}"
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    /// Under writes that never pause, the WAL stays bounded: a passive checkpoint alone never
    /// finds it wholly copied, so writers never wrap to its start (it grew to 200 MB in a 20-s
    /// fan-out); the RESTART past the threshold makes them.
    #[test]
    fn the_wal_stays_bounded_under_writes_that_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("wal.db"));
        let wal = dir.path().join("wal.db-wal");
        let mut writer = url.connect(Duration::from_secs(5)).unwrap();
        writer
            .batch_execute("CREATE TABLE filler (data BLOB)")
            .unwrap();
        let DbConnection::Sqlite(mut checkpointer) = url.connect(Duration::from_secs(5)).unwrap()
        else {
            unreachable!()
        };
        // A row of 1,000 bytes a write, a write every ~100 µs (a busy server's pace, with the
        // gaps between writes in which a checkpoint can take the lock): ~50 MB through the WAL
        // (a frame a write, and the pages above it now and then).
        const WRITES: usize = 8_000;
        let writing = std::thread::spawn(move || {
            for _ in 0..WRITES {
                writer
                    .batch_execute("INSERT INTO filler VALUES (randomblob(1000))")
                    .unwrap();
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        let (mut largest, mut restarts) = (0, 0);
        while !writing.is_finished() {
            let done = checkpoint(&mut checkpointer, 256).unwrap();
            restarts += usize::from(done.log > 256 && done.busy == 0);
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            std::thread::sleep(Duration::from_millis(10));
        }
        writing.join().unwrap();
        assert!(restarts > 0, "the WAL never passed the threshold");
        // 256 frames are 1 MiB; what is written between two checkpoints comes on top.
        assert!(
            largest < 16 << 20,
            "the WAL grew to {largest} bytes of the ~50 MB written"
        );
        let rows: i64 =
            diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM filler")
                .get_result(&mut checkpointer)
                .unwrap();
        assert_eq!(rows, WRITES as i64);
    }
}
