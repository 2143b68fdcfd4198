//! `planning-poker copy-data`: copies every row of our tables from one database to an empty
//! other (SQLite or PostgreSQL, either way), keeping ids, in one transaction on the target.
//!
//! - [`tables`]: the tables, their order and row types;
//! - this module: the copy itself;
//! - [`check`]: schema versions, an empty target, the counts after;
//! - [`error`]: what can stop it.
//!
//! The source is opened read-only and read in one snapshot (a read transaction), so the copy is
//! consistent even if something else writes to it meanwhile. The target is migrated first, then
//! filled in one transaction: a failure anywhere leaves it as empty as it was.

mod check;
mod error;
pub(crate) mod tables;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

pub use error::{CopyError, Side};
use tables::{for_table, rows_as_text, CopyTable, TABLES, WITH_ID_SEQUENCE};

use crate::schema::poker_sessions;
use crate::{DatabaseUrl, DbConnection};

/// How long opening either database may take, and a lock may be waited for.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Both URLs as they may be printed (no password).
    pub from: String,
    pub to: String,
    /// Migrations applied to the target before the copy.
    pub migrated: Vec<String>,
    pub tables: Vec<TableReport>,
}

/// One table of a [`CopyReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: i64,
    /// For tables with an id sequence: the id the target gives its next row.
    pub next_id: Option<i64>,
}

impl CopyReport {
    pub fn rows(&self, table: &str) -> Option<i64> {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .map(|t| t.rows)
    }
}

impl std::fmt::Display for CopyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Copied {} to {}", self.from, self.to)?;
        if !self.migrated.is_empty() {
            writeln!(f, "  (target migrated first: {})", self.migrated.join(", "))?;
        }
        writeln!(f, "  {:<16} {:>10}  {:>10}", "table", "rows", "next id")?;
        for t in &self.tables {
            let next = t.next_id.map(|n| n.to_string()).unwrap_or_default();
            writeln!(f, "  {:<16} {:>10}  {:>10}", t.table, t.rows, next)?;
        }
        let total: i64 = self.tables.iter().map(|t| t.rows).sum();
        writeln!(f, "  {:<16} {:>10}", "total", total)?;
        write!(
            f,
            "Row counts checked: the target has as many rows per table as the source."
        )
    }
}

/// Copies every row of our tables from `from` to `to` (see the module's documentation).
pub fn copy_data(from: &DatabaseUrl, to: &DatabaseUrl) -> Result<CopyReport, CopyError> {
    if same_database(from, to) {
        return Err(CopyError::SameDatabase);
    }
    let mut source = from
        .connect_read_only(TIMEOUT)
        .map_err(|e| Side::Source.db(e))?;
    check::same_schema_version(Side::Source, from, &mut source)?;

    check::target_has_no_rows_yet(to, TIMEOUT)?;
    let migrated = to.migrate().map_err(|e| Side::Target.db(e))?;
    let mut target = to.connect(TIMEOUT).map_err(|e| Side::Target.db(e))?;
    check::same_schema_version(Side::Target, to, &mut target)?;

    // One snapshot of the source for the counts and every page.
    let begin = match source {
        DbConnection::Sqlite(_) => "BEGIN",
        DbConnection::Postgresql(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    source
        .batch_execute(begin)
        .map_err(Side::Source.failed("starting a read transaction"))?;
    let copied = target.transaction(|target| fill(&mut source, target));
    // Read-only: ending it changes nothing, whatever happened.
    let _ = source.batch_execute("ROLLBACK");
    Ok(CopyReport {
        from: from.redacted(),
        to: to.redacted(),
        migrated,
        tables: copied?,
    })
}

/// Inside the target's transaction: refuse a non-empty target, copy, set the held-back
/// references and the id sequences, compare the counts.
fn fill(
    source: &mut DbConnection,
    target: &mut DbConnection,
) -> Result<Vec<TableReport>, CopyError> {
    check::target_is_empty(target)?;
    let source_counts = check::counts(source, Side::Source)?;
    let mut held_back = Vec::new();
    let mut tables = Vec::new();
    for table in TABLES {
        let rows = for_table!(*table, copy_table(source, target, &mut held_back))?;
        log::info!("copied {rows} rows of {table}");
        tables.push(TableReport {
            table,
            rows: rows as i64,
            next_id: None,
        });
    }
    // Only poker_sessions holds a reference back (its active story).
    for (session, story) in held_back {
        diesel::update(poker_sessions::table.find(session))
            .set(poker_sessions::active_story_id.eq(Some(story)))
            .execute(target)
            .map_err(Side::Target.failed("setting the sessions' active stories"))?;
    }
    for report in &mut tables {
        if WITH_ID_SEQUENCE.contains(&report.table) {
            report.next_id = Some(advance_sequence(source, target, report.table)?);
        }
    }
    check::same_counts(&source_counts, target)?;
    Ok(tables)
}

/// Copies one table page by page; returns the rows written.
fn copy_table<T: CopyTable>(
    source: &mut DbConnection,
    target: &mut DbConnection,
    held_back: &mut Vec<(i64, i64)>,
) -> Result<usize, CopyError> {
    let batch = T::batch_rows() as i64;
    let mut after = None;
    let mut written = 0;
    loop {
        let mut page = T::page(source, after.as_ref(), batch)
            .map_err(Side::Source.failed(format!("reading {}", T::NAME)))?;
        let Some(last) = page.last() else {
            return Ok(written);
        };
        after = Some(T::key(last));
        held_back.extend(page.iter_mut().filter_map(T::hold_back));
        written += T::insert(target, &page)
            .map_err(Side::Target.failed(format!("copying {}", T::NAME)))?;
    }
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn number(conn: &mut DbConnection, sql: &str) -> QueryResult<i64> {
    let row: Number = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).get_result(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(sql).get_result(c)?,
    };
    Ok(row.n)
}

/// Sets the target's id sequence of `table` so that its next row gets an id past every copied
/// one, and past every id the source ever gave (a deleted row's id is not given again, as on
/// the source). `table` is one of [`WITH_ID_SEQUENCE`], never user input. Returns the next id.
fn advance_sequence(
    source: &mut DbConnection,
    target: &mut DbConnection,
    table: &str,
) -> Result<i64, CopyError> {
    let source_last = match source {
        DbConnection::Sqlite(_) => format!(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0) AS n"
        ),
        // NULL while the sequence was never used.
        DbConnection::Postgresql(_) => format!(
            "SELECT COALESCE((SELECT last_value FROM pg_sequences \
             WHERE format('%I.%I', schemaname, sequencename) \
             = pg_get_serial_sequence('{table}', 'id')), 0) AS n"
        ),
    };
    let source_last = number(source, &source_last)
        .map_err(Side::Source.failed(format!("reading the id sequence of {table}")))?;
    let step = format!("advancing the id sequence of {table}");
    let max_id = number(
        target,
        &format!("SELECT COALESCE(MAX(id), 0) AS n FROM {table}"),
    )
    .map_err(Side::Target.failed(step.clone()))?;
    let last = source_last.max(max_id);
    if last > 0 {
        match target {
            DbConnection::Sqlite(c) => {
                // Inserting explicit ids already moved it to the largest; this covers the
                // source's deleted rows past it, and a table left empty.
                let updated = diesel::sql_query(format!(
                    "UPDATE sqlite_sequence SET seq = MAX(seq, {last}) WHERE name = '{table}'"
                ))
                .execute(c)
                .map_err(Side::Target.failed(step.clone()))?;
                if updated == 0 {
                    diesel::sql_query(format!(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES ('{table}', {last})"
                    ))
                    .execute(c)
                    .map_err(Side::Target.failed(step.clone()))?;
                }
            }
            // is_called = true: the next nextval() answers last + 1.
            DbConnection::Postgresql(c) => {
                diesel::sql_query(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last}, true)"
                ))
                .execute(c)
                .map_err(Side::Target.failed(step.clone()))?;
            }
        }
    }
    Ok(last + 1)
}

/// Whether both URLs name one database (the copy would find its target non-empty, or copy an
/// empty database onto itself).
fn same_database(a: &DatabaseUrl, b: &DatabaseUrl) -> bool {
    match (a, b) {
        (DatabaseUrl::Sqlite(a), DatabaseUrl::Sqlite(b)) => {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
        }
        (DatabaseUrl::Postgres(a), DatabaseUrl::Postgres(b)) => a == b,
        _ => false,
    }
}

/// Every row of every table of `url`, each as the text of its typed row, sorted, per table in
/// [`TABLES`] order: two databases with equal dumps hold the same data, whatever their backend.
/// Opened read-only. For tests and for checking a copy by hand.
pub fn dump(url: &DatabaseUrl) -> Result<Vec<(&'static str, Vec<String>)>, CopyError> {
    let mut conn = url
        .connect_read_only(TIMEOUT)
        .map_err(|e| Side::Source.db(e))?;
    TABLES
        .iter()
        .map(|table| {
            for_table!(*table, rows_as_text(&mut conn))
                .map(|rows| (*table, rows))
                .map_err(Side::Source.failed(format!("reading {table}")))
        })
        .collect()
}
