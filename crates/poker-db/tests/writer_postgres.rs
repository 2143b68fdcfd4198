//! The writer on PostgreSQL, where a vote alone in its batch is one autocommitted statement
//! (`Store::write_statement`): a statement that fails answers its own error and leaves the
//! connection usable; a connection whose backend was terminated while it sat idle is replaced
//! and the vote runs once on the new one. Each test makes a database of its own through
//! `TEST_DATABASE_URL` and drops it afterwards.

#![cfg_attr(not(postgres_tests), allow(dead_code, unused_imports))]

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_executor::block_on;
use poker_core::Deck;
use poker_db::{live, DbError, NewSession, NewStory, NewUser, Store};

/// A database of the test's own, dropped (with its connections) when this is dropped.
struct OwnDatabase {
    admin: String,
    name: String,
    url: String,
}

impl OwnDatabase {
    fn create(tag: &str) -> OwnDatabase {
        let admin = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL at run time, e.g. postgres://postgres@127.0.0.1:5432/test");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("pp_writer_{tag}_{}_{nanos:x}", std::process::id());
        let mut conn = PgConnection::establish(&admin).expect("connect to TEST_DATABASE_URL");
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .expect("create the test's database");
        let (base, _) = admin
            .rsplit_once('/')
            .expect("TEST_DATABASE_URL ends in /database");
        let url = format!("{base}/{name}");
        OwnDatabase { admin, name, url }
    }

    /// `pg_terminate_backend` for every connection to this database: what a restart or a
    /// failover does to the server's idle connections.
    fn terminate_connections(&self) -> usize {
        #[derive(diesel::QueryableByName)]
        struct Terminated {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            pg_terminate_backend: bool,
        }
        let mut conn = PgConnection::establish(&self.admin).expect("connect to TEST_DATABASE_URL");
        let rows: Vec<Terminated> = diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        ))
        .load(&mut conn)
        .expect("terminate the backends");
        rows.iter().filter(|r| r.pg_terminate_backend).count()
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

/// A store on `database` with a session whose one story is active, and a voter.
fn scene(database: &OwnDatabase) -> (Store, i64, i64, i64) {
    let store = Store::open(&database.url, 2, Duration::from_secs(5)).expect("open the store");
    let session = store
        .create_session(&NewSession {
            name: "s".into(),
            poker_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 2).expect("a date"),
            deck: Deck::default(),
            secret_votes: true,
            reveal: Default::default(),
            auto_reveal: true,
            timer_reveals: true,
        })
        .expect("create a session")
        .id;
    let story = store
        .create_story(
            session,
            &NewStory {
                ticket_number: "T-1".into(),
                title: String::new(),
                description: String::new(),
            },
        )
        .expect("create a story")
        .0
        .id;
    block_on(store.write(session, move |c| live::activate_story(c, session, story)))
        .expect("activate the story")
        .expect("it is the session's");
    let voter = store
        .create_user(&NewUser {
            username: "voter".into(),
            password_hash: "not-a-real-hash".into(),
            can_vote: true,
            can_moderate: false,
            is_admin: false,
        })
        .expect("create a user")
        .id;
    (store, session, story, voter)
}

fn vote(store: &Store, session: i64, story: i64, user: i64, choice: &'static str) -> VoteResult {
    block_on(store.write_statement(session, move |c| {
        live::cast_vote(c, session, story, user, choice)
    }))
}

type VoteResult = Result<Option<i64>, DbError>;

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn a_failing_vote_statement_fails_alone_and_the_connection_goes_on() {
    let database = OwnDatabase::create("fails");
    let (store, session, story, voter) = scene(&database);
    let before = store.session_version(session).expect("read version");

    // No such user: the upsert breaks its foreign key, so the whole statement (the version
    // bump too) is undone.
    let refused = vote(&store, session, story, 999_999, "3");
    assert!(
        matches!(refused, Err(DbError::Query(_))),
        "the refused vote reports its own error: {refused:?}"
    );
    assert_eq!(store.session_version(session).expect("read"), before);
    assert!(store.votes(story).expect("read votes").is_empty());

    // The same connection goes on: votes commit, a changed vote keeps its row.
    assert_eq!(
        vote(&store, session, story, voter, "3").expect("vote"),
        before.map(|v| v + 1)
    );
    assert_eq!(
        vote(&store, session, story, voter, "5").expect("change the vote"),
        before.map(|v| v + 2)
    );
    let votes = store.votes(story).expect("read votes");
    assert_eq!(votes.len(), 1, "{votes:?}");
    assert_eq!(votes[0].choice, "5");
    assert!(
        store.writer_problem().is_none(),
        "the writer is healthy: {:?}",
        store.writer_problem()
    );
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn a_vote_after_the_backends_were_terminated_runs_once_on_a_new_connection() {
    let database = OwnDatabase::create("terminated");
    let (store, session, story, voter) = scene(&database);
    let before = store.session_version(session).expect("read version");
    assert!(
        database.terminate_connections() > 0,
        "the store had connections"
    );
    // A restart or failover closes connections that sit idle: past the writer's one second,
    // after which it sends a BEGIN first, whose failure proves that nothing ran.
    std::thread::sleep(Duration::from_millis(1500));

    let version = vote(&store, session, story, voter, "8").expect("the vote commits");
    assert_eq!(
        version,
        before.map(|v| v + 1),
        "it ran exactly once: one version counted"
    );
    let votes = store.votes(story).expect("read votes");
    assert_eq!(votes.len(), 1, "{votes:?}");
    assert_eq!(votes[0].choice, "8");
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL not set: PostgreSQL run skipped"
)]
fn two_processes_revealing_one_round_at_once_reveal_it_once() {
    // Two stores on one database stand for two server processes whose countdowns end at the
    // same moment: the first reveals and holds its transaction open; the second reads the
    // round as hidden, then waits for the session row's lock, and must find it revealed.
    let database = OwnDatabase::create("reveal");
    let (first, session, story, _) = scene(&database);
    let second = Store::open(&database.url, 2, Duration::from_secs(5)).expect("a second store");
    let before = first
        .session_version(session)
        .expect("read")
        .expect("a version");

    let holding = std::thread::spawn({
        let first = first.clone();
        move || {
            block_on(first.write(session, move |c| {
                let revealed = live::reveal(c, session, story);
                // Keep the lock while the other process gets to its reveal.
                std::thread::sleep(Duration::from_millis(600));
                revealed
            }))
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let late = block_on(second.write(session, move |c| live::reveal(c, session, story)));
    let early = holding.join().expect("the first reveal's thread");

    assert_eq!(early.expect("the first reveal"), Some(before + 1));
    assert_eq!(
        late.expect("the second reveal"),
        None,
        "the round was revealed already when the second process got the lock"
    );
    assert_eq!(
        first.session_version(session).expect("read"),
        Some(before + 1),
        "one reveal, one version"
    );
    assert!(first.round(story).expect("read the round").revealed);
}
