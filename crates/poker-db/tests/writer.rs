//! The group-committing writer: a failing write in a batch fails alone; every other write of the
//! batch still commits, and each caller hears about its own write.

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
    let store = Store::open(&format!("sqlite://{}/writer.db", dir.path().display()), 2)
        .expect("open the store");
    let session = store
        .create_session(&NewSession {
            name: "s".into(),
            poker_date: chrono::NaiveDate::MIN,
            deck: Deck::default(),
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
        .expect("create a story");
    let voters: Vec<i64> = (0..40).map(|i| user(&store, &format!("v{i}"))).collect();

    // Queue everything before waiting for anything, so the writer takes them in batches.
    let mut pending = Vec::new();
    for (i, &voter) in voters.iter().enumerate() {
        let story_id = if i == 20 { 999_999 } else { story.id };
        pending.push((
            i,
            store.write(move |c| live::cast_vote(c, story_id, voter, "3")),
        ));
    }
    for (i, answer) in pending {
        let outcome = block_on(answer);
        if i == 20 {
            assert!(
                matches!(outcome, Err(DbError::Query(_))),
                "the vote on a missing story fails: {outcome:?}"
            );
        } else {
            assert!(outcome.is_ok(), "vote {i} commits: {outcome:?}");
        }
    }
    assert_eq!(
        store.votes(story.id).expect("read votes").len(),
        39,
        "all but the failing vote are stored"
    );
}
