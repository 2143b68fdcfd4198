//! Where planning-poker data lives: diesel schema and models, embedded migrations, and a
//! [`Store`] over an r2d2 pool that speaks SQLite (the embedded default) or PostgreSQL through
//! one code path, chosen by the database URL.

pub mod admin;
pub mod connection;
pub mod live;
pub mod models;
pub mod schema;
pub mod store;
pub mod writer;

pub use admin::{
    ExportRow, ReorderError, SessionPatch, StoryEdit, StoryPatch, StoryRemoval, UserPatch,
};
pub use connection::{DatabaseUrl, DbConnection};
pub use models::*;
pub use store::{Store, TokenKind};
pub use writer::Writer;

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

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => DbError::NotFound,
            other => DbError::Query(other.to_string()),
        }
    }
}
