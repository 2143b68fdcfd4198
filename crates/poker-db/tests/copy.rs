//! `copy::copy_data` between real databases: SQLite to SQLite always; SQLite to PostgreSQL and
//! PostgreSQL to SQLite when `TEST_DATABASE_URL` was set at build time (each test makes a
//! database of its own on that server and drops it afterwards; without it they show up as
//! *ignored, TEST_DATABASE_URL not set*). Every row is compared, in every table.

#![cfg_attr(not(postgres_tests), allow(dead_code, unused_imports))]

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use poker_db::copy::{copy_data, dump, CopyError, CopyReport};
use poker_db::{DatabaseUrl, NewSession, NewStory, NewUser, Store, TokenKind};

const TIMEOUT: Duration = Duration::from_secs(10);

/// How many voters and stories the source gets: 40 × 60 = 2,400 votes, more than one batch.
const VOTERS: usize = 40;
const STORIES: usize = 60;

/// A text of some 200 KB with what tends to break copies: quotes, backslashes, newlines, tabs,
/// letters outside ASCII and outside the Basic Multilingual Plane.
fn long_text() -> String {
    "Line 'one' \\ \"two\"\n\tdrei: äöü ß — 漢字 🂡 ✓ ½\r\n".repeat(4_000)
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Fills a migrated database with rows in every table, in plain SQL both backends take:
/// NULLs where columns allow them, unicode, a long text, a story without session, an active
/// story, and the newest user deleted (so that the id sequence is past the largest id).
fn populate(url: &DatabaseUrl) {
    url.migrate().expect("migrate the source");
    let mut conn = url.connect(TIMEOUT).expect("connect to the source");
    let mut sql = String::from(
        "INSERT INTO users (username, password_hash, can_vote, can_moderate, is_admin, created_at) \
         VALUES ('admin', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdC1zYWx0$aGFzaC1oYXNoLWhhc2g', \
         TRUE, TRUE, TRUE, 1700000000), \
         ('zoë 🂡 O''Brien', '$pbkdf2-sha256$x', TRUE, FALSE, FALSE, 1700000001);\n",
    );
    for i in 0..VOTERS {
        sql.push_str(&format!(
            "INSERT INTO users (username, password_hash, can_vote, can_moderate, is_admin, \
             created_at) VALUES ('voter{i}', 'hash-{i}', TRUE, {}, FALSE, {});\n",
            i % 7 == 0,
            1_700_000_100 + i
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO users (username, password_hash, can_vote, can_moderate, is_admin, created_at) \
         VALUES ('gone', 'x', FALSE, FALSE, FALSE, 1);\n\
         DELETE FROM users WHERE username = 'gone';\n\
         INSERT INTO tokens (user_id, token_hash, kind, created_at, expires_at) VALUES \
         (1, 'sha256-of-a-bearer-token', 'api', 1700000005, NULL), \
         (2, 'sha256-of-a-login-cookie', 'login', 1700000006, 1900000000);\n\
         INSERT INTO poker_sessions (name, poker_date, active_story_id, deck, secret_votes, \
         created_at, version) VALUES \
         ({}, '2026-12-02', NULL, '[\"1\",\"2\",\"3\",\"5\",\"8\",\"13\",\"?\"]', TRUE, 1700000010, 42), \
         ('open votes', '1999-12-31', NULL, '[\"S\",\"M\",\"L\"]', FALSE, 1700000011, 0);\n",
        quoted("Sprint 1 — ünïcödé ✓ 'quoted'"),
    ));
    for i in 0..STORIES {
        let points = match i % 4 {
            0 => "NULL".to_string(),
            1 => "'13'".to_string(),
            2 => "'½'".to_string(),
            _ => "'?'".to_string(),
        };
        sql.push_str(&format!(
            "INSERT INTO stories (poker_session_id, position, ticket_number, title, description, \
             story_points) VALUES (1, {}, 'T-{i}', {}, {}, {points});\n",
            i * 10,
            quoted(&format!("Story {i} – ü")),
            quoted(&format!("What T-{i} is about")),
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO stories (poker_session_id, position, ticket_number, title, description, \
         story_points) VALUES (NULL, 0, 'ORPHAN', '', {}, NULL), (2, 0, 'S-1', '', '', '5');\n\
         UPDATE poker_sessions SET active_story_id = 3 WHERE id = 1;\n\
         INSERT INTO votes (story_id, user_id, choice) \
         SELECT s.id, u.id, CAST((s.id + u.id) % 13 AS TEXT) FROM stories s, users u \
         WHERE s.poker_session_id = 1 AND u.username LIKE 'voter%';\n\
         INSERT INTO votes (story_id, user_id, choice) VALUES ({}, 2, '☕');\n\
         INSERT INTO settings (key, value) VALUES ('cookie_key', 'Y29va2llLWtleS0xMjM0NTY3ODkw'), \
         ('ünï', {});\n\
         UPDATE poker_sessions SET reveal = 'moderator', auto_reveal = FALSE WHERE id = 2;\n\
         UPDATE stories SET revealed = TRUE WHERE id = 2;\n\
         INSERT INTO abstentions (story_id, user_id) VALUES (3, 1), (2, 1);\n\
         INSERT INTO django_imports (kind, django_id, our_id) VALUES \
         ('user', 7, 1), ('user', 12, 2), ('story', 7, 3), ('vote', 1, 1);\n\
         INSERT INTO invites (session_id, token_hash, role, created_by, created_at, expires_at, \
         revoked_at) VALUES (1, 'sha256-of-an-invite', 'voter', 1, 1700000020, 1900000000, NULL), \
         (2, 'sha256-of-a-revoked-invite', 'spectator', NULL, 1700000021, 1900000000, 1700000022);\n\
         INSERT INTO guests (user_id, invite_id, session_id) VALUES (2, 1, 1);\n\
         INSERT INTO webhooks (url, session_id, secret, created_at) VALUES \
         ('http://hooks.example/all', NULL, 'whsec-ünï', 1700000020), \
         ('https://hooks.example/one', 1, 'whsec-2', 1700000021);\n\
         INSERT INTO webhook_deliveries (webhook_id, event_id, event, session_id, payload, status, \
         attempts, status_code, error, attempt_log, created_at, updated_at) VALUES \
         (1, 'evt_1', 'points_set', 1, '{{\"event\": \"points_set\"}}', 'delivered', 2, 200, NULL, \
         '[{{\"at\": 1700000030000, \"status_code\": 500}}]', 1700000030000, 1700000031000), \
         (2, 'evt_2', 'session_ended', 1, '{{}}', 'failed', 5, NULL, 'connection refused', '[]', \
         1700000032000, 1700000033000);\n",
        quoted(&long_text()),
        STORIES + 2,
        quoted("value with\na newline and 'quotes'"),
    ));
    conn.batch_execute(&sql).expect("populate the source");
}

fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> DatabaseUrl {
    DatabaseUrl::Sqlite(dir.path().join(name))
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pp-copy-")
        .tempdir()
        .expect("a temporary folder")
}

fn rows_of(dump: &[(&'static str, Vec<String>)], table: &str) -> usize {
    dump.iter()
        .find(|(t, _)| *t == table)
        .map_or(0, |(_, rows)| rows.len())
}

/// The checks every successful copy must pass: every row equal, the report's counts, and a
/// target that takes new rows (ids past every copied one and past the deleted user).
fn check_copy(from: &DatabaseUrl, to: &DatabaseUrl, report: &CopyReport) {
    let source = dump(from).expect("read the source");
    let target = dump(to).expect("read the target");
    for ((table, source_rows), (_, target_rows)) in source.iter().zip(&target) {
        assert_eq!(
            source_rows.len(),
            target_rows.len(),
            "rows of {table} on the target"
        );
        for (s, t) in source_rows.iter().zip(target_rows) {
            assert_eq!(s, t, "a row of {table} differs");
        }
        assert_eq!(
            report.rows(table),
            Some(source_rows.len() as i64),
            "the report's count of {table}"
        );
    }
    assert_eq!(rows_of(&target, "users"), VOTERS + 2);
    assert_eq!(rows_of(&target, "votes"), VOTERS * STORIES + 1);
    assert_eq!(rows_of(&target, "stories"), STORIES + 2);
    let all = format!("{target:?}");
    for expected in [
        "zoë 🂡 O'Brien",
        "active_story_id: Some(3)",
        "active_story_id: None",
        "poker_session_id: None",
        "story_points: None",
        "story_points: Some(\\\"½\\\")",
        "expires_at: None",
        "expires_at: Some(1900000000)",
        "poker_date: 1999-12-31",
        "secret_votes: false",
        "version: 42",
        "choice: \\\"☕\\\"",
        "Y29va2llLWtleS0xMjM0NTY3ODkw",
    ] {
        assert!(all.contains(expected), "{expected} is on the target");
    }
    let long = format!("{:?}", long_text());
    assert!(
        target[3].1.iter().any(|row| row.contains(&long)),
        "the long description arrived whole"
    );
    println!("{report}");

    // The target goes on from there: new ids past every copied one (and the deleted user's).
    let users = report.tables.iter().find(|t| t.table == "users").unwrap();
    let gone_id = VOTERS as i64 + 3;
    assert_eq!(users.next_id, Some(gone_id + 1), "past the deleted user");
    let store = Store::open(&url_text(to), 2, TIMEOUT).expect("open the target");
    let user = store
        .create_user(&NewUser {
            username: "newcomer".into(),
            password_hash: "h".into(),
            can_vote: true,
            can_moderate: false,
            is_admin: false,
        })
        .expect("a new user on the target");
    assert_eq!(user.id, gone_id + 1);
    store
        .insert_token(user.id, "new-token", TokenKind::Api, None)
        .expect("a new token");
    let session = store
        .create_session(&NewSession {
            name: "after the move".into(),
            poker_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            deck: Default::default(),
            secret_votes: true,
            reveal: Default::default(),
            auto_reveal: true,
            timer_reveals: true,
        })
        .expect("a new session on the target");
    assert_eq!(session.id, 3);
    let (story, _) = store
        .create_story(
            session.id,
            &NewStory {
                ticket_number: "N-1".into(),
                title: String::new(),
                description: String::new(),
            },
        )
        .expect("a new story on the target");
    assert_eq!(story.id, STORIES as i64 + 3);
    // And what was copied reads as the server reads it.
    let old = store
        .credentials("zoë 🂡 O'Brien")
        .expect("read")
        .expect("the old user");
    assert_eq!(old.password_hash, "$pbkdf2-sha256$x");
    assert_eq!(
        store
            .user_by_token("sha256-of-a-bearer-token")
            .expect("read")
            .map(|u| u.username),
        Some("admin".to_string())
    );
    let live = store.live_state(1).expect("read").expect("session 1");
    assert_eq!(live.version, 42);
    let (active, votes, round) = live.active.expect("an active story");
    assert_eq!(active.id, 3);
    assert_eq!(votes.len(), VOTERS);
    assert_eq!(
        round.abstained.len(),
        1,
        "the abstention on the active story"
    );
    let open = store.session(2).expect("read").expect("session 2");
    assert_eq!(open.reveal, poker_core::RevealMode::Moderator);
    assert!(!open.auto_reveal);
    assert!(store.round(2).expect("read").revealed);
}

fn url_text(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres(url) => url.clone(),
    }
}

fn is_empty(url: &DatabaseUrl) -> bool {
    dump(url)
        .expect("read the target")
        .iter()
        .all(|(_, rows)| rows.is_empty())
}

#[test]
fn sqlite_to_sqlite_copies_every_row_and_the_target_goes_on() {
    let dir = tempdir();
    let (from, to) = (sqlite_url(&dir, "from.db"), sqlite_url(&dir, "to.db"));
    populate(&from);
    let before = dump(&from).expect("read the source");
    let report = copy_data(&from, &to).expect("copy");
    assert!(!report.migrated.is_empty(), "the new target was migrated");
    assert_eq!(
        dump(&from).expect("read the source"),
        before,
        "source unchanged"
    );
    check_copy(&from, &to, &report);
}

#[test]
fn a_target_with_any_row_is_refused_and_left_as_it_was() {
    let dir = tempdir();
    let (from, to) = (sqlite_url(&dir, "from.db"), sqlite_url(&dir, "to.db"));
    populate(&from);
    to.migrate().expect("migrate the target");
    to.connect(TIMEOUT)
        .expect("connect")
        .batch_execute("INSERT INTO settings (key, value) VALUES ('cookie_key', 'mine')")
        .expect("one row in the target");
    let before = dump(&to).expect("read the target");
    let refused = copy_data(&from, &to).expect_err("a non-empty target is refused");
    assert!(
        matches!(
            refused,
            CopyError::TargetNotEmpty {
                table: "settings",
                rows: 1
            }
        ),
        "{refused:?}"
    );
    let message = refused.to_string();
    assert!(
        message.contains("not empty") && message.contains("settings"),
        "{message}"
    );
    assert_eq!(dump(&to).expect("read the target"), before);

    // One of ours a migration behind, with a row: refused before it is migrated.
    to.connect(TIMEOUT)
        .expect("connect")
        .batch_execute(
            "DELETE FROM __diesel_schema_migrations WHERE version = \
             (SELECT MAX(version) FROM __diesel_schema_migrations)",
        )
        .expect("forget the last migration");
    let refused = copy_data(&from, &to).expect_err("an older non-empty target is refused");
    assert!(
        matches!(
            refused,
            CopyError::TargetNotEmpty {
                table: "settings",
                ..
            }
        ),
        "refused before migrating it: {refused:?}"
    );
}

/// A target whose `settings` refuses every insert: the copy fails after the tables before it
/// (most of them) were written, and the target is left empty.
fn refuse_settings(conn: &mut poker_db::DbConnection) {
    let sql = match conn {
        poker_db::DbConnection::Sqlite(_) => {
            "CREATE TRIGGER refuse BEFORE INSERT ON settings \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        }
        poker_db::DbConnection::Postgresql(_) => {
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
             CREATE TRIGGER refuse BEFORE INSERT ON settings \
             FOR EACH ROW EXECUTE FUNCTION refuse();"
        }
    };
    conn.batch_execute(sql).expect("create the trigger");
}

fn a_failure_at_the_last_table_rolls_everything_back(from: &DatabaseUrl, to: &DatabaseUrl) {
    to.migrate().expect("migrate the target");
    refuse_settings(&mut to.connect(TIMEOUT).expect("connect"));
    let failed = copy_data(from, to).expect_err("the copy fails at settings");
    let message = failed.to_string();
    assert!(
        message.contains("copying settings")
            && message.contains("refused by the test")
            && message.contains("no row was written"),
        "{message}"
    );
    assert!(is_empty(to), "nothing of the copy is left on the target");
}

#[test]
fn sqlite_a_failure_at_the_last_table_rolls_everything_back() {
    let dir = tempdir();
    let (from, to) = (sqlite_url(&dir, "from.db"), sqlite_url(&dir, "to.db"));
    populate(&from);
    a_failure_at_the_last_table_rolls_everything_back(&from, &to);
}

/// A target on which one vote (the '☕' one) silently vanishes as it is inserted: no error
/// anywhere, only one row fewer. Dropped by a trigger, as SQLite's `RAISE(IGNORE)` and a
/// PostgreSQL row trigger returning NULL do.
fn lose_one_vote(conn: &mut poker_db::DbConnection) {
    let sql = match conn {
        poker_db::DbConnection::Sqlite(_) => {
            "CREATE TRIGGER vanish BEFORE INSERT ON votes WHEN NEW.choice = '☕' \
             BEGIN SELECT RAISE(IGNORE); END;"
        }
        poker_db::DbConnection::Postgresql(_) => {
            "CREATE FUNCTION vanish() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.choice = '☕' THEN RETURN NULL; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER vanish BEFORE INSERT ON votes \
             FOR EACH ROW EXECUTE FUNCTION vanish();"
        }
    };
    conn.batch_execute(sql).expect("create the trigger");
}

/// The counts after the copy are what catches it: the copy fails naming the table and both
/// counts, and nothing of it is committed.
fn a_row_lost_on_the_way_fails_the_count_check(from: &DatabaseUrl, to: &DatabaseUrl) {
    to.migrate().expect("migrate the target");
    lose_one_vote(&mut to.connect(TIMEOUT).expect("connect"));
    let failed = copy_data(from, to).expect_err("the counts of votes differ");
    let (source_rows, target) = ((VOTERS * STORIES + 1) as i64, (VOTERS * STORIES) as i64);
    assert!(
        matches!(
            failed,
            CopyError::CountMismatch {
                table: "votes",
                source_rows: s,
                target: t,
            } if s == source_rows && t == target
        ),
        "{failed:?}"
    );
    let message = failed.to_string();
    assert!(
        message.contains("table votes")
            && message.contains(&format!("{target} row(s) on the target"))
            && message.contains(&format!("{source_rows} on the source"))
            && message.contains("nothing was written"),
        "{message}"
    );
    assert!(is_empty(to), "nothing of the copy is left on the target");
}

#[test]
fn sqlite_a_row_lost_on_the_way_fails_the_count_check() {
    let dir = tempdir();
    let (from, to) = (sqlite_url(&dir, "from.db"), sqlite_url(&dir, "to.db"));
    populate(&from);
    a_row_lost_on_the_way_fails_the_count_check(&from, &to);
}

#[test]
fn a_source_of_another_schema_version_or_none_is_refused() {
    let dir = tempdir();
    let (from, to) = (sqlite_url(&dir, "from.db"), sqlite_url(&dir, "to.db"));
    // No file: refused, and not created.
    let missing = copy_data(&from, &to).expect_err("no source file");
    assert!(missing.to_string().contains("no such file"), "{missing}");
    assert!(!dir.path().join("from.db").exists());
    assert!(
        !dir.path().join("to.db").exists(),
        "the target was not touched"
    );

    // A SQLite file that is not ours.
    diesel::SqliteConnection::establish(&dir.path().join("from.db").to_string_lossy())
        .expect("create")
        .batch_execute("CREATE TABLE other (x INTEGER)")
        .expect("a table");
    let foreign = copy_data(&from, &to).expect_err("not a planning-poker database");
    assert!(matches!(foreign, CopyError::NotOurs { .. }), "{foreign:?}");

    // Ours, one migration behind.
    std::fs::remove_file(dir.path().join("from.db")).expect("remove");
    populate(&from);
    from.connect(TIMEOUT)
        .expect("connect")
        .batch_execute(
            "DELETE FROM __diesel_schema_migrations WHERE version = \
             (SELECT MAX(version) FROM __diesel_schema_migrations)",
        )
        .expect("forget the last migration");
    let older = copy_data(&from, &to).expect_err("an older schema");
    let message = older.to_string();
    assert!(
        matches!(older, CopyError::SchemaVersion { .. }) && message.contains("start this version"),
        "{message}"
    );
    assert!(
        !dir.path().join("to.db").exists(),
        "the target was not touched"
    );
}

#[test]
fn the_source_is_opened_read_only_and_the_same_database_is_refused() {
    let dir = tempdir();
    let from = sqlite_url(&dir, "from.db");
    populate(&from);
    let mut conn = from.connect_read_only(TIMEOUT).expect("open read-only");
    let write = conn.batch_execute("DELETE FROM votes");
    assert!(
        write.is_err(),
        "a write through the source connection fails"
    );
    drop(conn);
    let same = copy_data(
        &from,
        &DatabaseUrl::Sqlite(dir.path().join(".").join("from.db")),
    )
    .expect_err("the same file");
    assert!(matches!(same, CopyError::SameDatabase), "{same:?}");
}

// ---- PostgreSQL ----

/// A database of the test's own, dropped (with its connections) when this is dropped.
struct OwnDatabase {
    admin: String,
    name: String,
    url: DatabaseUrl,
}

impl OwnDatabase {
    fn create(tag: &str) -> OwnDatabase {
        let admin = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL at run time, e.g. postgres://postgres@127.0.0.1:5432/test");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("poker_copy_{tag}_{}_{nanos:x}", std::process::id());
        let mut conn = PgConnection::establish(&admin).expect("connect to TEST_DATABASE_URL");
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .expect("create the test's database");
        let (base, _) = admin
            .rsplit_once('/')
            .expect("TEST_DATABASE_URL ends in /database");
        let url = DatabaseUrl::parse(&format!("{base}/{name}")).expect("a PostgreSQL URL");
        OwnDatabase { admin, name, url }
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn sqlite_to_postgres_copies_every_row_and_advances_the_sequences() {
    let dir = tempdir();
    let from = sqlite_url(&dir, "from.db");
    populate(&from);
    let target = OwnDatabase::create("to_pg");
    let report = copy_data(&from, &target.url).expect("copy");
    check_copy(&from, &target.url, &report);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn postgres_to_sqlite_copies_every_row_and_advances_the_sequences() {
    let source = OwnDatabase::create("from_pg");
    populate(&source.url);
    let dir = tempdir();
    let to = sqlite_url(&dir, "to.db");
    let report = copy_data(&source.url, &to).expect("copy");
    check_copy(&source.url, &to, &report);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn postgres_a_failure_at_the_last_table_rolls_everything_back() {
    let dir = tempdir();
    let from = sqlite_url(&dir, "from.db");
    populate(&from);
    let target = OwnDatabase::create("rollback");
    a_failure_at_the_last_table_rolls_everything_back(&from, &target.url);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn postgres_a_target_with_any_row_is_refused() {
    let dir = tempdir();
    let from = sqlite_url(&dir, "from.db");
    populate(&from);
    let target = OwnDatabase::create("refused");
    populate(&target.url);
    let before = dump(&target.url).expect("read");
    let refused = copy_data(&from, &target.url).expect_err("refused");
    assert!(
        matches!(refused, CopyError::TargetNotEmpty { table: "users", .. }),
        "{refused:?}"
    );
    assert_eq!(dump(&target.url).expect("read"), before);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn postgres_a_row_lost_on_the_way_fails_the_count_check() {
    let dir = tempdir();
    let from = sqlite_url(&dir, "from.db");
    populate(&from);
    let target = OwnDatabase::create("lost_row");
    a_row_lost_on_the_way_fails_the_count_check(&from, &target.url);
}

/// 100,000 votes (500 voters × 200 stories): more rows than any single statement could bind,
/// so the copy must batch them.
fn many_votes(url: &DatabaseUrl) {
    url.migrate().expect("migrate");
    let mut sql = String::from(
        "INSERT INTO poker_sessions (name, poker_date, deck, secret_votes, created_at) \
         VALUES ('big', '2026-12-02', '[]', TRUE, 0);\n",
    );
    for i in 0..500 {
        sql.push_str(&format!(
            "INSERT INTO users (username, password_hash, created_at) VALUES ('u{i}', 'h', 0);\n"
        ));
    }
    for i in 0..200 {
        sql.push_str(&format!(
            "INSERT INTO stories (poker_session_id, position, ticket_number) VALUES (1, {i}, 'B-{i}');\n"
        ));
    }
    sql.push_str(
        "INSERT INTO votes (story_id, user_id, choice) \
         SELECT s.id, u.id, CAST(u.id % 7 AS TEXT) FROM stories s, users u;\n",
    );
    url.connect(TIMEOUT)
        .expect("connect")
        .batch_execute(&sql)
        .expect("many votes");
}

fn a_hundred_thousand_votes_are_copied(to: &DatabaseUrl) {
    let dir = tempdir();
    let from = sqlite_url(&dir, "many.db");
    many_votes(&from);
    let started = std::time::Instant::now();
    let report = copy_data(&from, to).expect("copy");
    println!("copied 100,000 votes in {:?}", started.elapsed());
    assert_eq!(report.rows("votes"), Some(100_000));
    assert_eq!(dump(&from).expect("read"), dump(to).expect("read"));
}

#[test]
fn sqlite_a_hundred_thousand_votes_are_copied_in_batches() {
    let dir = tempdir();
    a_hundred_thousand_votes_are_copied(&sqlite_url(&dir, "to.db"));
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn postgres_a_hundred_thousand_votes_are_copied_in_batches() {
    let target = OwnDatabase::create("many");
    a_hundred_thousand_votes_are_copied(&target.url);
}
