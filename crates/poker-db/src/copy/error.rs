//! What can stop a copy, each with what to do about it. Every database error reaches here
//! through [`Side::failed`], which names the database and the step it failed at.

use crate::DbError;

/// Which of the two databases a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Source => "source (--from)",
            Side::Target => "target (--to)",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{side}: {message}")]
    Url { side: Side, message: String },
    #[error("the source and the target are the same database")]
    SameDatabase,
    #[error("{side}: cannot connect: {message}")]
    Connect { side: Side, message: String },
    #[error(
        "{side} has no planning-poker tables (no __diesel_schema_migrations): {message}; \
         is it a planning-poker database?"
    )]
    NotOurs { side: Side, message: String },
    #[error("{side} is at schema version {found}, this binary at {ours}: {advice}")]
    SchemaVersion {
        side: Side,
        found: String,
        ours: String,
        advice: &'static str,
    },
    #[error("{side}: migration failed: {0}", side = Side::Target)]
    Migration(String),
    #[error(
        "the target is not empty: table {table} has {rows} row(s); copy-data only fills an \
         empty database (nothing was written)"
    )]
    TargetNotEmpty { table: &'static str, rows: i64 },
    #[error(
        "after copying, table {table} has {target} row(s) on the target but {source_rows} on \
         the source; nothing was written"
    )]
    CountMismatch {
        table: &'static str,
        source_rows: i64,
        target: i64,
    },
    /// A database error at a step of the copy; whatever had been written to the target in its
    /// transaction was rolled back (migrations aside: they ran before, in their own).
    #[error("{side}: {step} failed: {message} (no row was written to the target)")]
    Query {
        side: Side,
        step: String,
        message: String,
    },
}

/// Errors of the target's transaction itself (BEGIN, COMMIT): every other database error is
/// mapped where it happens, with its step.
impl From<diesel::result::Error> for CopyError {
    fn from(e: diesel::result::Error) -> Self {
        Side::Target.failed("the transaction (BEGIN or COMMIT)")(e)
    }
}

impl Side {
    /// Maps a database error at `step` (e.g. "copying votes") into a [`CopyError`].
    pub(crate) fn failed(
        self,
        step: impl Into<String>,
    ) -> impl FnOnce(diesel::result::Error) -> CopyError {
        let step = step.into();
        move |e| CopyError::Query {
            side: self,
            step,
            message: e.to_string(),
        }
    }

    /// Maps a storage error (opening, migrating) into a [`CopyError`].
    pub(crate) fn db(self, e: DbError) -> CopyError {
        match e {
            DbError::BadUrl(message) => CopyError::Url {
                side: self,
                message,
            },
            DbError::Connect(message) | DbError::Unavailable(message) => CopyError::Connect {
                side: self,
                message,
            },
            DbError::Migration(message) => CopyError::Migration(message),
            other => CopyError::Query {
                side: self,
                step: "opening".into(),
                message: other.to_string(),
            },
        }
    }
}
