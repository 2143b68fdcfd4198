//! The group-committing writer: a failing write in a batch fails alone; every other write of the
//! batch still commits, and each caller hears about its own write.

use std::time::{Duration, Instant};

use futures_executor::block_on;
use poker_core::Deck;
use poker_db::{live, DbError, NewSession, NewStory, NewUser, Store};

fn user(store: &Store, name: &str) -> i64 {
    let new = NewUser {
        username: name.into(),
        password_hash: "not-a-real-hash".into(),
        can_vote: true,
        can_moderate: false,
        is_admin: false,
    };
    store.create_user(&new).expect("create a user").id
}

#[test]
fn one_failing_write_does_not_undo_the_others_in_its_batch() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (store, session, story, _) = store_with_story(dir.path(), Duration::from_secs(5));
    let voters: Vec<i64> = (0..40).map(|i| user(&store, &format!("v{i}"))).collect();

    // Queue everything before waiting for anything, so the writer takes them in batches.
    let mut pending = Vec::new();
    for (i, &voter) in voters.iter().enumerate() {
        pending.push((
            i,
            store.write(session, move |c| {
                let version = live::cast_vote(c, session, story, voter, "3")?;
                if i == 20 {
                    // Fails after writing: what it wrote must not stay either.
                    return Err(DbError::Query("a write that fails".into()));
                }
                Ok(version)
            }),
        ));
    }
    for (i, answer) in pending {
        let outcome = block_on(answer);
        if i == 20 {
            assert!(
                matches!(outcome, Err(DbError::Query(_))),
                "the failing write fails: {outcome:?}"
            );
        } else {
            assert!(
                matches!(outcome, Ok(Some(_))),
                "vote {i} commits: {outcome:?}"
            );
        }
    }
    assert_eq!(
        store.votes(story).expect("read votes").len(),
        39,
        "all but the failing vote are stored"
    );
    // One version per committed vote (the failing one's rolled back), after the two of the
    // setup (the story created, then activated).
    assert_eq!(
        store.session_version(session).expect("read version"),
        Some(2 + 39)
    );
}

#[test]
fn a_write_on_a_story_that_is_no_longer_active_writes_nothing_and_counts_no_version() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (store, session, story, voter) = store_with_story(dir.path(), Duration::from_secs(5));
    let before = store.session_version(session).expect("read version");
    let other = store
        .create_story(
            session,
            &NewStory {
                ticket_number: "T-2".into(),
                title: String::new(),
                description: String::new(),
            },
        )
        .expect("create a story")
        .0
        .id;
    let after_create = store.session_version(session).expect("read version");
    assert_eq!(
        after_create,
        before.map(|v| v + 1),
        "a REST edit counts one"
    );
    let stale = block_on(store.write(session, move |c| {
        live::cast_vote(c, session, other, voter, "3")
    }));
    assert!(matches!(stale, Ok(None)), "not active: {stale:?}");
    assert_eq!(store.session_version(session).expect("read"), after_create);
    assert!(store.votes(other).expect("read votes").is_empty());
    let ok = block_on(store.write(session, move |c| {
        live::cast_vote(c, session, story, voter, "5")
    }));
    assert_eq!(ok.expect("vote"), after_create.map(|v| v + 1));
}

/// A store with a session whose one story is active, and a voter: (store, session, story, voter).
fn store_with_story(dir: &std::path::Path, timeout: Duration) -> (Store, i64, i64, i64) {
    let store = Store::open(&format!("sqlite://{}/writer.db", dir.display()), 2, timeout)
        .expect("open the store");
    let session = store
        .create_session(&NewSession {
            name: "s".into(),
            poker_date: chrono::NaiveDate::MIN,
            deck: Deck::default(),
            secret_votes: true,
            reveal: Default::default(),
            auto_reveal: true,
            timer_reveals: true,
        })
        .expect("create a session");
    let story = store
        .create_story(
            session.id,
            &NewStory {
                ticket_number: "T-1".into(),
                title: String::new(),
                description: String::new(),
            },
        )
        .expect("create a story")
        .0;
    let (session, story) = (session.id, story.id);
    block_on(store.write(session, move |c| live::activate_story(c, session, story)))
        .expect("activate the story")
        .expect("it is the session's");
    let voter = user(&store, "voter");
    (store, session, story, voter)
}

/// Waits until `ok` holds, for at most `within`.
fn eventually(within: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < within, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_writer_thread_that_dies_is_restarted_and_reported_down_meanwhile() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (store, session, story, voter) = store_with_story(dir.path(), Duration::from_secs(2));
    assert_eq!(store.writer_problem(), None, "healthy at start");

    // A write that panics takes its thread down with it, for real.
    let outcome = block_on(store.write(session, |_| -> Result<(), DbError> {
        panic!("a bug inside a write")
    }));
    assert!(
        matches!(outcome, Err(DbError::Unavailable(_))),
        "the caller hears that the outcome is unknown: {outcome:?}"
    );
    // The supervisor notices within its period, reports the slot down while it restarts it,
    // and the new thread takes writes.
    eventually(Duration::from_secs(5), "the thread is restarted", || {
        store.writer_restarts() == 1
    });
    eventually(Duration::from_secs(5), "a write succeeds again", || {
        block_on(store.write(session, move |c| {
            live::cast_vote(c, session, story, voter, "5")
        }))
        .is_ok()
    });
    assert_eq!(store.writer_problem(), None, "healthy after the restart");
    assert_eq!(store.votes(story).expect("read votes")[0].choice, "5");
}

#[test]
fn a_lock_held_by_another_process_fails_writes_within_the_timeout_and_then_recovers() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let dir = tempfile::tempdir().expect("temporary directory");
    let timeout = Duration::from_millis(800);
    let (store, session, story, voter) = store_with_story(dir.path(), timeout);

    // Another program (a backup, a sqlite3 shell) holds the write lock.
    let path = dir.path().join("writer.db");
    let mut other = diesel::SqliteConnection::establish(&path.to_string_lossy())
        .expect("open the database beside the server");
    other
        .batch_execute("BEGIN EXCLUSIVE")
        .expect("take the write lock");

    let started = Instant::now();
    let outcome = block_on(store.write(session, move |c| {
        live::cast_vote(c, session, story, voter, "3")
    }));
    assert!(
        matches!(outcome, Err(DbError::Unavailable(_))),
        "a locked database is unavailable, not a bug: {outcome:?}"
    );
    assert!(
        started.elapsed() < store.write_deadline() + Duration::from_secs(1),
        "the write failed within its deadline ({:?})",
        started.elapsed()
    );
    assert!(
        store.ping().is_err(),
        "readiness sees that writes cannot be taken"
    );
    eventually(Duration::from_secs(5), "the writer reports it", || {
        store.writer_problem().is_some()
    });

    other.batch_execute("ROLLBACK").expect("release the lock");
    eventually(Duration::from_secs(5), "the writer recovers", || {
        store.writer_problem().is_none()
    });
    block_on(store.write(session, move |c| {
        live::cast_vote(c, session, story, voter, "8")
    }))
    .expect("writes again");
    let votes = store.votes(story).expect("read votes");
    assert_eq!(votes.len(), 1, "the failed vote left nothing behind");
    assert_eq!(votes[0].choice, "8");
    assert!(store.ping().is_ok());
}
