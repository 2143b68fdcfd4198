//! Where planning-poker data lives: diesel schema and models, embedded migrations, and a
//! [`Store`] over an r2d2 pool that speaks SQLite (the embedded default) or PostgreSQL through
//! one code path, chosen by the database URL.

pub mod admin;
pub mod connection;
pub mod copy;
pub mod django;
pub mod hooks;
pub mod invites;
pub mod live;
pub mod models;
mod prepared;
pub mod schema;
pub mod store;
pub mod writer;

pub use admin::{
    ExportRow, ReorderError, SessionPatch, StoryEdit, StoryPatch, StoryRemoval, UserPatch,
};
pub use connection::{DatabaseUrl, DbConnection};
pub use hooks::{Delivery, DeliveryUpdate, NewDelivery, PendingDelivery, Webhook, WebhookTarget};
pub use models::*;
pub use store::{Store, TokenKind};
pub use writer::{WriteShape, Writer};

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("bad database URL: {0}")]
    BadUrl(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("query failed: {0}")]
    Query(String),
}

impl DbError {
    /// Whether the database could not be reached (or could not say whether a write committed):
    /// worth retrying later, and reported to clients as `unavailable`, not as a server bug.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Unavailable(_) | DbError::Connect(_))
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => DbError::NotFound,
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => DbError::Unavailable(info.message().to_string()),
            Error::DatabaseError(_, info) if is_outage(info.message()) => {
                DbError::Unavailable(info.message().to_string())
            }
            // A connection whose transaction state is unknown: treat like a lost connection.
            Error::BrokenTransactionManager => {
                DbError::Unavailable("the connection's transaction state is broken".into())
            }
            other => DbError::Query(other.to_string()),
        }
    }
}

/// Messages of faults outside the server: PostgreSQL shutting down or terminating the backend
/// (SQLSTATE 57P01-57P03, which diesel reports as `Unknown`), SQLite's lock held elsewhere past
/// the busy timeout, or a file the database cannot read or write.
fn is_outage(message: &str) -> bool {
    const MARKERS: &[&str] = &[
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "the database system is",
        "could not connect",
        "connection to server",
        "database is locked",
        "database table is locked",
        "disk i/o error",
        "unable to open database file",
        "database or disk is full",
        "attempt to write a readonly database",
    ];
    let message = message.to_ascii_lowercase();
    MARKERS.iter().any(|marker| message.contains(marker))
}
