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

/// A parsed `DATABASE_URL`: the scheme picks the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file: `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
    /// A PostgreSQL URL, passed to libpq as given.
    Postgres(String),
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

    /// Opens one connection of the right variant, set up for this server.
    pub fn connect(&self) -> Result<DbConnection, DbError> {
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
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 0;",
                )?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Postgresql)
                .map_err(|e| DbError::Connect(format!("PostgreSQL: {e}"))),
        }
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
        match self.connect()? {
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

/// For SQLite: a thread that checkpoints the WAL into the database file every `every`, so the
/// WAL stays small without any write waiting for a checkpoint.
pub fn start_checkpointer(url: &DatabaseUrl, every: Duration) -> Result<(), DbError> {
    if !matches!(url, DatabaseUrl::Sqlite(_)) {
        return Ok(());
    }
    let mut conn = url.connect()?;
    std::thread::Builder::new()
        .name("poker-db-checkpoint".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            // PASSIVE: copies what it can without blocking readers or the writer.
            if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                log::warn!("WAL checkpoint failed: {e}");
            }
        })
        .map_err(|e| DbError::Connect(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

/// The r2d2 manager: opens connections of the variant the URL names.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.url.connect()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// A pool of connections to one database.
pub type Pool = r2d2::Pool<Manager>;

/// Builds a pool; it fails at once if the database cannot be reached.
pub fn pool(url: &DatabaseUrl, max_size: u32) -> Result<Pool, DbError> {
    r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        .test_on_check_out(false)
        .build(Manager { url: url.clone() })
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
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }
}
