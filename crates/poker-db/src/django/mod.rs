//! `planning-poker import-django URL`: brings the users, poker sessions, stories and votes of a
//! database of the Django original (rheinwerk-verlag's `planning-poker`, as its 1.0.3 migrations
//! create it, on SQLite or PostgreSQL) into ours.
//!
//! - [`read`] opens the original's database read-only and loads its tables in one snapshot;
//! - [`map`] says how its rows become ours (rights, decks, points, order);
//! - [`write`] writes them in one transaction, recording each row it brought in
//!   `django_imports`, so that a second run recognises them and changes nothing.

pub mod map;
pub mod read;
pub mod write;

use std::fmt;

use crate::{DbError, Store};

pub use read::DjangoData;

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The original's database could not be opened or read.
    #[error("the Django database: {0}")]
    Source(String),
    /// The URL names a database without the original's tables.
    #[error("{0}")]
    NotDjango(String),
    /// Our database failed; nothing was written.
    #[error("this server's database: {0}; nothing was imported")]
    Target(#[from] DbError),
}

/// The kinds of rows an import brings, as named in `django_imports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    User,
    Session,
    Story,
    Vote,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Session => "session",
            Kind::Story => "story",
            Kind::Vote => "vote",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Session => "poker sessions",
            Kind::Story => "stories",
            Kind::Vote => "votes",
        }
    }
}

/// What happened to the rows of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindSummary {
    /// What was brought over, one line each (for users and sessions, printed).
    pub imported: Vec<String>,
    /// Rows a former run brought over: left as they are.
    pub already_imported: usize,
    /// Rows not brought over, each with the reason.
    pub skipped: Vec<String>,
    /// Rows brought over with something to know about them.
    pub notes: Vec<String>,
}

/// What an import did (or, on a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub dry_run: bool,
    pub users: KindSummary,
    pub sessions: KindSummary,
    pub stories: KindSummary,
    pub votes: KindSummary,
}

impl Summary {
    pub fn kind(&self, kind: Kind) -> &KindSummary {
        match kind {
            Kind::User => &self.users,
            Kind::Session => &self.sessions,
            Kind::Story => &self.stories,
            Kind::Vote => &self.votes,
        }
    }

    pub(crate) fn kind_mut(&mut self, kind: Kind) -> &mut KindSummary {
        match kind {
            Kind::User => &mut self.users,
            Kind::Session => &mut self.sessions,
            Kind::Story => &mut self.stories,
            Kind::Vote => &mut self.votes,
        }
    }

    /// How many rows were (or would be) brought over, of every kind.
    pub fn imported(&self) -> usize {
        [Kind::User, Kind::Session, Kind::Story, Kind::Vote]
            .iter()
            .map(|k| self.kind(*k).imported.len())
            .sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run {
            "to import"
        } else {
            "imported"
        };
        for kind in [Kind::User, Kind::Session, Kind::Story, Kind::Vote] {
            let summary = self.kind(kind);
            writeln!(
                f,
                "{}: {} {verb}, {} already imported, {} skipped",
                kind.plural(),
                summary.imported.len(),
                summary.already_imported,
                summary.skipped.len()
            )?;
            if matches!(kind, Kind::User | Kind::Session) {
                for line in &summary.imported {
                    writeln!(f, "  + {line}")?;
                }
            }
            for line in &summary.skipped {
                writeln!(f, "  skipped {line}")?;
            }
            for line in &summary.notes {
                writeln!(f, "  note: {line}")?;
            }
        }
        if self.imported() == 0 {
            writeln!(f, "Nothing new to import.")?;
        }
        if self.dry_run {
            writeln!(f, "Dry run: nothing was written.")?;
        }
        Ok(())
    }
}

/// Imports the Django original's database at `source_url` into `target`, in one transaction;
/// with `dry_run`, the same work is rolled back and the summary says what it would do.
/// `sanitize` cleans story descriptions (HTML in the original, rendered as it is there) as the
/// REST API does on every write.
pub fn import(
    source_url: &str,
    target: &Store,
    dry_run: bool,
    sanitize: &dyn Fn(&str) -> String,
) -> Result<Summary, ImportError> {
    let mut source = read::open_read_only(source_url)?;
    let data = read::read(&mut source, source_url)?;
    drop(source);
    let conn = &mut *target.conn()?;
    write::write(conn, &data, dry_run, sanitize)
}
