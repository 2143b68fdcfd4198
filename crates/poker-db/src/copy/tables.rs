//! The tables `copy-data` copies, in the order their foreign keys allow, each with a row type
//! that holds every column of `schema.rs`.
//!
//! The row types are loaded with each table's default selection (all of its columns, in the
//! order of `schema.rs`): a column added to `schema.rs` and not here fails to compile, and
//! `tests::every_table_and_column_of_the_schema_is_copied` fails for a table added to
//! `schema.rs` or the migrations but not to [`TABLES`].

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::schema::{
    abstentions, django_imports, guests, invites, poker_sessions, settings, stories, tokens, users,
    votes, webhook_deliveries, webhooks,
};
use crate::DbConnection;

/// Every table of our schema, in copy order: a table comes after the tables it refers to
/// (`poker_sessions.active_story_id` is the one cycle; see `copy::run`).
pub const TABLES: &[&str] = &[
    Users::NAME,
    Tokens::NAME,
    Sessions::NAME,
    Stories::NAME,
    Votes::NAME,
    Abstentions::NAME,
    Settings::NAME,
    DjangoImports::NAME,
    Invites::NAME,
    Guests::NAME,
    Webhooks::NAME,
    WebhookDeliveries::NAME,
];

/// Tables whose `id` comes from a sequence (BIGSERIAL on PostgreSQL, AUTOINCREMENT on SQLite).
pub const WITH_ID_SEQUENCE: &[&str] = &[
    Users::NAME,
    Tokens::NAME,
    Sessions::NAME,
    Stories::NAME,
    Votes::NAME,
    Abstentions::NAME,
    Invites::NAME,
    Webhooks::NAME,
    WebhookDeliveries::NAME,
];

/// The most bind parameters one INSERT may carry: PostgreSQL allows 65,535 and SQLite (since
/// 3.32) 32,766; staying well under both leaves room for any build's lower limit.
const MAX_BIND_PARAMETERS: usize = 10_000;
/// The most rows one INSERT carries, however narrow the table.
const MAX_BATCH_ROWS: usize = 1_000;

/// One table as the copy sees it: read in pages ordered by its key, written in batches.
pub(crate) trait CopyTable {
    const NAME: &'static str;
    /// How many columns a row binds when inserted.
    const COLUMNS: usize;
    type Key: Clone;
    type Row: std::fmt::Debug;

    fn key(row: &Self::Row) -> Self::Key;
    fn count(conn: &mut DbConnection) -> QueryResult<i64>;
    /// Up to `limit` rows whose key is greater than `after`, in key order.
    fn page(
        conn: &mut DbConnection,
        after: Option<&Self::Key>,
        limit: i64,
    ) -> QueryResult<Vec<Self::Row>>;
    fn insert(conn: &mut DbConnection, rows: &[Self::Row]) -> QueryResult<usize>;

    /// A reference the row cannot carry yet when inserted (it points at a later table): taken
    /// out of the row, and returned as (this row's id, the referenced id) to be set afterwards.
    fn hold_back(_row: &mut Self::Row) -> Option<(i64, i64)> {
        None
    }

    /// Rows per read page and per INSERT, under every bind-parameter limit.
    fn batch_rows() -> usize {
        (MAX_BIND_PARAMETERS / Self::COLUMNS).min(MAX_BATCH_ROWS)
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    password_hash: String,
    can_vote: bool,
    can_moderate: bool,
    is_admin: bool,
    created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = tokens, treat_none_as_default_value = false)]
pub(crate) struct TokenRow {
    id: i64,
    user_id: i64,
    token_hash: String,
    kind: String,
    created_at: i64,
    expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = poker_sessions, treat_none_as_default_value = false)]
pub(crate) struct SessionRow {
    pub(crate) id: i64,
    name: String,
    poker_date: NaiveDate,
    /// Written as NULL first and set once the stories exist (see `copy::run`).
    pub(crate) active_story_id: Option<i64>,
    deck: String,
    secret_votes: bool,
    created_at: i64,
    version: i64,
    reveal: String,
    auto_reveal: bool,
    timer_ends_at: Option<i64>,
    timer_seconds: Option<i64>,
    timer_reveals: bool,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = stories, treat_none_as_default_value = false)]
pub(crate) struct StoryRow {
    id: i64,
    poker_session_id: Option<i64>,
    position: i64,
    ticket_number: String,
    title: String,
    description: String,
    story_points: Option<String>,
    revealed: bool,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = votes, treat_none_as_default_value = false)]
pub(crate) struct VoteRow {
    id: i64,
    story_id: i64,
    user_id: i64,
    choice: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = abstentions, treat_none_as_default_value = false)]
pub(crate) struct AbstentionRow {
    id: i64,
    story_id: i64,
    user_id: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = settings, treat_none_as_default_value = false)]
pub(crate) struct SettingRow {
    key: String,
    value: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = invites, treat_none_as_default_value = false)]
pub(crate) struct InviteRow {
    id: i64,
    session_id: i64,
    token_hash: String,
    role: String,
    created_by: Option<i64>,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = guests, treat_none_as_default_value = false)]
pub(crate) struct GuestRow {
    user_id: i64,
    invite_id: i64,
    session_id: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = django_imports, treat_none_as_default_value = false)]
pub(crate) struct DjangoImportRow {
    kind: String,
    django_id: i64,
    our_id: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = webhooks, treat_none_as_default_value = false)]
pub(crate) struct WebhookRow {
    id: i64,
    url: String,
    session_id: Option<i64>,
    /// Copied as it is: the new database signs with it.
    secret: String,
    created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub(crate) struct WebhookDeliveryRow {
    id: i64,
    webhook_id: i64,
    event_id: String,
    event: String,
    session_id: Option<i64>,
    payload: String,
    status: String,
    attempts: i64,
    status_code: Option<i64>,
    error: Option<String>,
    attempt_log: String,
    created_at: i64,
    updated_at: i64,
}

/// A [`CopyTable`] for a table keyed by `id`: the same five functions, only names differ.
macro_rules! id_table {
    ($marker:ident, $table:ident, $row:ident, $columns:expr) => {
        id_table!($marker, $table, $row, $columns, hold_back(_row) { None });
    };
    ($marker:ident, $table:ident, $row:ident, $columns:expr, hold_back($r:ident) $hold:block) => {
        pub(crate) struct $marker;

        impl CopyTable for $marker {
            const NAME: &'static str = stringify!($table);
            const COLUMNS: usize = $columns;
            type Key = i64;
            type Row = $row;

            fn key(row: &$row) -> i64 {
                row.id
            }

            fn count(conn: &mut DbConnection) -> QueryResult<i64> {
                $table::table.count().get_result(conn)
            }

            fn page(
                conn: &mut DbConnection,
                after: Option<&i64>,
                limit: i64,
            ) -> QueryResult<Vec<$row>> {
                $table::table
                    .filter($table::id.gt(after.copied().unwrap_or(i64::MIN)))
                    .order($table::id)
                    .limit(limit)
                    .load(conn)
            }

            fn insert(conn: &mut DbConnection, rows: &[$row]) -> QueryResult<usize> {
                // A multi-row INSERT is each backend's own statement (diesel's MultiConnection
                // has none of its own).
                match conn {
                    DbConnection::Sqlite(c) => {
                        diesel::insert_into($table::table).values(rows).execute(c)
                    }
                    DbConnection::Postgresql(c) => {
                        diesel::insert_into($table::table).values(rows).execute(c)
                    }
                }
            }

            fn hold_back($r: &mut $row) -> Option<(i64, i64)> {
                $hold
            }
        }
    };
}

id_table!(Users, users, UserRow, 7);
id_table!(Tokens, tokens, TokenRow, 6);
// A session's active story is inserted after the stories (they refer to their session).
id_table!(Sessions, poker_sessions, SessionRow, 13, hold_back(row) {
    row.active_story_id.take().map(|story| (row.id, story))
});
id_table!(Stories, stories, StoryRow, 8);
id_table!(Votes, votes, VoteRow, 4);
id_table!(Abstentions, abstentions, AbstentionRow, 3);
id_table!(Invites, invites, InviteRow, 8);

/// Guests, keyed by their user's id.
pub(crate) struct Guests;

impl CopyTable for Guests {
    const NAME: &'static str = "guests";
    const COLUMNS: usize = 3;
    type Key = i64;
    type Row = GuestRow;

    fn key(row: &GuestRow) -> i64 {
        row.user_id
    }

    fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        guests::table.count().get_result(conn)
    }

    fn page(
        conn: &mut DbConnection,
        after: Option<&i64>,
        limit: i64,
    ) -> QueryResult<Vec<GuestRow>> {
        guests::table
            .filter(guests::user_id.gt(after.copied().unwrap_or(i64::MIN)))
            .order(guests::user_id)
            .limit(limit)
            .load(conn)
    }

    fn insert(conn: &mut DbConnection, rows: &[GuestRow]) -> QueryResult<usize> {
        match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(guests::table).values(rows).execute(c),
            DbConnection::Postgresql(c) => {
                diesel::insert_into(guests::table).values(rows).execute(c)
            }
        }
    }
}
id_table!(Webhooks, webhooks, WebhookRow, 5);
id_table!(
    WebhookDeliveries,
    webhook_deliveries,
    WebhookDeliveryRow,
    13
);

pub(crate) struct Settings;

impl CopyTable for Settings {
    const NAME: &'static str = "settings";
    const COLUMNS: usize = 2;
    type Key = String;
    type Row = SettingRow;

    fn key(row: &SettingRow) -> String {
        row.key.clone()
    }

    fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        settings::table.count().get_result(conn)
    }

    fn page(
        conn: &mut DbConnection,
        after: Option<&String>,
        limit: i64,
    ) -> QueryResult<Vec<SettingRow>> {
        let query = settings::table
            .order(settings::key)
            .limit(limit)
            .into_boxed();
        match after {
            Some(after) => query.filter(settings::key.gt(after)).load(conn),
            None => query.load(conn),
        }
    }

    fn insert(conn: &mut DbConnection, rows: &[SettingRow]) -> QueryResult<usize> {
        match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(settings::table).values(rows).execute(c),
            DbConnection::Postgresql(c) => {
                diesel::insert_into(settings::table).values(rows).execute(c)
            }
        }
    }
}

/// What `import-django` brought (see `crate::django`), keyed by (kind, Django's id).
pub(crate) struct DjangoImports;

impl CopyTable for DjangoImports {
    const NAME: &'static str = "django_imports";
    const COLUMNS: usize = 3;
    type Key = (String, i64);
    type Row = DjangoImportRow;

    fn key(row: &DjangoImportRow) -> (String, i64) {
        (row.kind.clone(), row.django_id)
    }

    fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        django_imports::table.count().get_result(conn)
    }

    fn page(
        conn: &mut DbConnection,
        after: Option<&(String, i64)>,
        limit: i64,
    ) -> QueryResult<Vec<DjangoImportRow>> {
        let query = django_imports::table
            .order((django_imports::kind, django_imports::django_id))
            .limit(limit)
            .into_boxed();
        match after {
            // Rows after (kind, id) in key order: a later kind, or the same kind and a later id.
            Some((kind, id)) => query
                .filter(
                    django_imports::kind
                        .gt(kind.clone())
                        .or(django_imports::kind
                            .eq(kind.clone())
                            .and(django_imports::django_id.gt(*id))),
                )
                .load(conn),
            None => query.load(conn),
        }
    }

    fn insert(conn: &mut DbConnection, rows: &[DjangoImportRow]) -> QueryResult<usize> {
        match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(django_imports::table)
                .values(rows)
                .execute(c),
            DbConnection::Postgresql(c) => diesel::insert_into(django_imports::table)
                .values(rows)
                .execute(c),
        }
    }
}

/// Calls `$f::<T>($args)` for the table named `$name`: the one place a table's name turns into
/// its [`CopyTable`], so that adding a table means adding it here and to [`TABLES`].
macro_rules! for_table {
    ($name:expr, $f:ident ( $($args:expr),* )) => {
        match $name {
            "users" => $f::<$crate::copy::tables::Users>($($args),*),
            "tokens" => $f::<$crate::copy::tables::Tokens>($($args),*),
            "poker_sessions" => $f::<$crate::copy::tables::Sessions>($($args),*),
            "stories" => $f::<$crate::copy::tables::Stories>($($args),*),
            "votes" => $f::<$crate::copy::tables::Votes>($($args),*),
            "abstentions" => $f::<$crate::copy::tables::Abstentions>($($args),*),
            "settings" => $f::<$crate::copy::tables::Settings>($($args),*),
            "django_imports" => $f::<$crate::copy::tables::DjangoImports>($($args),*),
            "invites" => $f::<$crate::copy::tables::Invites>($($args),*),
            "guests" => $f::<$crate::copy::tables::Guests>($($args),*),
            "webhooks" => $f::<$crate::copy::tables::Webhooks>($($args),*),
            "webhook_deliveries" => $f::<$crate::copy::tables::WebhookDeliveries>($($args),*),
            other => unreachable!("{other} is not in TABLES"),
        }
    };
}
pub(crate) use for_table;

/// Every row of a table, each as its `Debug` text, sorted: what [`super::dump`] compares.
pub(crate) fn rows_as_text<T: CopyTable>(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = T::page(conn, after.as_ref(), T::batch_rows() as i64)?;
        let Some(last) = page.last() else { break };
        after = Some(T::key(last));
        out.extend(page.iter().map(|row| format!("{row:?}")));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The column names a table's default selection reads (and so the row type holds).
    fn selected_columns<T: CopyTable>() -> Vec<String> {
        let sql = match T::NAME {
            "users" => {
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(&users::table.limit(1)).to_string()
            }
            "tokens" => diesel::debug_query::<diesel::sqlite::Sqlite, _>(&tokens::table.limit(1))
                .to_string(),
            "poker_sessions" => {
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(&poker_sessions::table.limit(1))
                    .to_string()
            }
            "stories" => diesel::debug_query::<diesel::sqlite::Sqlite, _>(&stories::table.limit(1))
                .to_string(),
            "votes" => {
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(&votes::table.limit(1)).to_string()
            }
            "abstentions" => {
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(&abstentions::table.limit(1))
                    .to_string()
            }
            "settings" => {
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(&settings::table.limit(1))
                    .to_string()
            }
            "invites" => diesel::debug_query::<diesel::sqlite::Sqlite, _>(&invites::table.limit(1))
                .to_string(),
            "guests" => diesel::debug_query::<diesel::sqlite::Sqlite, _>(&guests::table.limit(1))
                .to_string(),
            "django_imports" => {
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(&django_imports::table.limit(1))
                    .to_string()
            }
            "webhooks" => {
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(&webhooks::table.limit(1))
                    .to_string()
            }
            "webhook_deliveries" => diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                &webhook_deliveries::table.limit(1),
            )
            .to_string(),
            other => panic!("no query for {other}"),
        };
        // SELECT `users`.`id`, `users`.`username`, ... FROM `users` -- binds: []
        let list = sql
            .strip_prefix("SELECT ")
            .and_then(|rest| rest.split(" FROM ").next())
            .unwrap_or_else(|| panic!("unexpected SQL {sql}"));
        list.split(", ")
            .map(|column| {
                column
                    .rsplit('.')
                    .next()
                    .unwrap_or(column)
                    .trim_matches('`')
                    .to_string()
            })
            .collect()
    }

    fn columns_of(name: &str) -> Vec<String> {
        for_table!(name, selected_columns())
    }

    /// The tables `schema.rs` declares, read from its text.
    fn schema_tables() -> Vec<String> {
        let text = include_str!("../schema.rs");
        let mut tables = Vec::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() == "diesel::table! {" {
                // Doc comments and attributes may come before the table's name.
                let declaration = lines
                    .by_ref()
                    .find(|l| !l.trim().starts_with("///") && !l.trim().starts_with("#["))
                    .expect("a table after diesel::table!");
                let name = declaration.trim().split([' ', '(']).next().expect("a name");
                tables.push(name.to_string());
            }
        }
        tables
    }

    #[test]
    fn every_table_and_column_of_the_schema_is_copied() {
        let mut declared = schema_tables();
        assert!(declared.len() >= 6, "schema.rs was read: {declared:?}");
        declared.sort();
        let mut copied: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        copied.sort();
        assert_eq!(
            declared, copied,
            "every table of schema.rs must be in copy::tables::TABLES (and for_table!)"
        );

        // And every table and column the migrations create, on a freshly migrated database.
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = crate::DatabaseUrl::Sqlite(dir.path().join("schema.db"));
        url.migrate().expect("migrate");
        let DbConnection::Sqlite(mut conn) = url
            .connect(std::time::Duration::from_secs(5))
            .expect("connect")
        else {
            unreachable!("a SQLite URL")
        };
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let mut created: Vec<String> = diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
        )
        .load::<Name>(&mut conn)
        .expect("list the tables")
        .into_iter()
        .map(|n| n.name)
        .collect();
        created.sort();
        assert_eq!(
            created, copied,
            "the migrations' tables are the copied ones"
        );
        for table in TABLES {
            let mut in_database: Vec<String> =
                diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                    .load::<Name>(&mut conn)
                    .expect("list the columns")
                    .into_iter()
                    .map(|n| n.name)
                    .collect();
            in_database.sort();
            let mut read = columns_of(table);
            assert_eq!(
                read.len(),
                for_table!(*table, batch_and_columns()).1,
                "COLUMNS of {table}"
            );
            read.sort();
            assert_eq!(in_database, read, "every column of {table} is copied");
        }
    }

    #[test]
    fn batches_stay_under_the_bind_parameter_limits() {
        for table in TABLES {
            let (rows, columns) = for_table!(*table, batch_and_columns());
            assert!(
                rows >= 1 && rows * columns <= MAX_BIND_PARAMETERS,
                "{table}"
            );
        }
    }

    fn batch_and_columns<T: CopyTable>() -> (usize, usize) {
        (T::batch_rows(), T::COLUMNS)
    }
}
