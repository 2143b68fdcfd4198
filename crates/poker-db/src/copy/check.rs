//! The checks around a copy: both databases at this binary's schema version, an empty target
//! before, and the same number of rows per table after.

use std::time::Duration;

use diesel::prelude::*;

use super::error::{CopyError, Side};
use super::tables::{for_table, CopyTable, TABLES};
use crate::{DatabaseUrl, DbConnection};

/// The migrations `__diesel_schema_migrations` says were applied, oldest first. Read with a
/// plain SELECT: diesel's own harness would first try to create the table, which a read-only
/// source refuses.
fn applied_migrations(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    const QUERY: &str = "SELECT version FROM __diesel_schema_migrations ORDER BY version";
    let rows: Vec<Version> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(QUERY).load(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(QUERY).load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.version).collect())
}

/// Refuses a database whose applied migrations are not exactly this binary's: the copy reads
/// and writes every column this binary knows, so both ends must have exactly those.
pub(crate) fn same_schema_version(
    side: Side,
    url: &DatabaseUrl,
    conn: &mut DbConnection,
) -> Result<(), CopyError> {
    let ours = url.embedded_migrations().map_err(|e| side.db(e))?;
    let found = applied_migrations(conn).map_err(|e| CopyError::NotOurs {
        side,
        message: e.to_string(),
    })?;
    if found == ours {
        return Ok(());
    }
    let newer = found.iter().any(|v| !ours.contains(v));
    let advice = match (side, newer) {
        (_, true) => {
            "it was written by a newer planning-poker; run copy-data from that version instead"
        }
        (Side::Source, false) => {
            "start this version's server on it once (it applies the migrations when it \
             starts), stop it, then copy"
        }
        (Side::Target, false) => "its migrations could not be brought up to date",
    };
    let last = |list: &[String]| list.last().cloned().unwrap_or_else(|| "none".to_string());
    Err(CopyError::SchemaVersion {
        side,
        found: last(&found),
        ours: last(&ours),
        advice,
    })
}

fn count<T: CopyTable>(conn: &mut DbConnection, side: Side) -> Result<i64, CopyError> {
    T::count(conn).map_err(side.failed(format!("counting the rows of {}", T::NAME)))
}

/// The rows of every table, in [`TABLES`] order.
pub(crate) fn counts(conn: &mut DbConnection, side: Side) -> Result<Vec<i64>, CopyError> {
    TABLES
        .iter()
        .map(|table| for_table!(*table, count(conn, side)))
        .collect()
}

/// Refuses a target with any row in any of our tables, naming the first such table.
pub(crate) fn target_is_empty(conn: &mut DbConnection) -> Result<(), CopyError> {
    for (table, rows) in TABLES.iter().zip(counts(conn, Side::Target)?) {
        if rows > 0 {
            return Err(CopyError::TargetNotEmpty { table, rows });
        }
    }
    Ok(())
}

/// Before the target is migrated: refuses a target that already holds rows in any of our
/// tables that exist, so that a refused target is not even migrated (an older one of ours
/// would be). A table that does not exist yet holds nothing. [`target_is_empty`], inside the
/// transaction, is the check that counts.
pub(crate) fn target_has_no_rows_yet(to: &DatabaseUrl, timeout: Duration) -> Result<(), CopyError> {
    if let DatabaseUrl::Sqlite(path) = to {
        if !path.exists() {
            return Ok(());
        }
    }
    let mut conn = to.connect(timeout).map_err(|e| Side::Target.db(e))?;
    for table in TABLES {
        if let Ok(rows) = for_table!(*table, count(&mut conn, Side::Target)) {
            if rows > 0 {
                return Err(CopyError::TargetNotEmpty { table, rows });
            }
        }
    }
    Ok(())
}

/// After the copy, before the commit: the target has as many rows per table as the source's
/// snapshot had.
pub(crate) fn same_counts(source: &[i64], target: &mut DbConnection) -> Result<(), CopyError> {
    let target = counts(target, Side::Target)?;
    for ((table, &source_rows), &target) in TABLES.iter().zip(source).zip(&target) {
        if source_rows != target {
            return Err(CopyError::CountMismatch {
                table,
                source_rows,
                target,
            });
        }
    }
    Ok(())
}
