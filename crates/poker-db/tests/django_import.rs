//! `poker_db::django::import` on a hand-made database with the Django original's tables, for
//! what the real original (tests/e2e/import_django.rs) does not easily make: names taken here,
//! rows our limits refuse, choices beyond the deck, a permission of another app, other hashers,
//! and rows added to the original after a first import.

use diesel::connection::SimpleConnection;
use diesel::Connection;
use poker_db::django::{import, ImportError, Summary};
use poker_db::{NewUser, Store};

/// The tables as Django 3.2's SQLite backend creates them (the columns an import reads, and a
/// few it does not).
const DJANGO_TABLES: &str = "
CREATE TABLE django_content_type (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    app_label varchar(100) NOT NULL, model varchar(100) NOT NULL);
CREATE TABLE auth_permission (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    content_type_id integer NOT NULL, codename varchar(100) NOT NULL, name varchar(255) NOT NULL);
CREATE TABLE auth_group (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, name varchar(150) NOT NULL);
CREATE TABLE auth_group_permissions (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    group_id integer NOT NULL, permission_id integer NOT NULL);
CREATE TABLE auth_user (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    password varchar(128) NOT NULL, last_login datetime NULL, is_superuser bool NOT NULL,
    username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL,
    last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, is_staff bool NOT NULL,
    is_active bool NOT NULL, date_joined datetime NOT NULL);
CREATE TABLE auth_user_groups (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id integer NOT NULL, group_id integer NOT NULL);
CREATE TABLE auth_user_user_permissions (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id integer NOT NULL, permission_id integer NOT NULL);
CREATE TABLE planning_poker_pokersession (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    poker_date date NOT NULL, name varchar(200) NOT NULL, active_story_id integer NULL UNIQUE);
CREATE TABLE planning_poker_story (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    ticket_number varchar(200) NOT NULL, title varchar(200) NOT NULL, description text NOT NULL,
    story_points smallint unsigned NULL CHECK (story_points >= 0), poker_session_id integer NULL,
    _order integer NOT NULL);
CREATE TABLE planning_poker_vote (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    choice varchar(200) NOT NULL, story_id integer NOT NULL, user_id integer NOT NULL);
";

const DATA: &str = "
INSERT INTO django_content_type VALUES (1, 'planning_poker', 'story'), (2, 'other', 'thing');
INSERT INTO auth_permission VALUES (1, 1, 'vote', 'Can vote'), (2, 1, 'moderate', 'Moderate'),
    (3, 2, 'vote', 'Another app''s vote');
INSERT INTO auth_group VALUES (1, 'Voters');
INSERT INTO auth_group_permissions VALUES (1, 1, 1);
INSERT INTO auth_user VALUES
    (1, 'pbkdf2_sha256$1000$salt$aGFzaGhhc2hoYXNoaGFzaA==', NULL, 0, 'ann', '', '', '', 0, 1, '2024-01-01'),
    (2, 'pbkdf2_sha256$1000$salt$aGFzaGhhc2hoYXNoaGFzaA==', NULL, 0, 'taken', '', '', '', 0, 1, '2024-01-01'),
    (3, 'md5$salt$5ebe2294ecd0e0f08eab7690d2a6ee69', NULL, 0, 'old', '', '', '', 1, 1, '2024-01-01'),
    (4, '!unusable', NULL, 0, 'other', '', '', '', 0, 1, '2024-01-01');
INSERT INTO auth_user_groups VALUES (1, 1, 1);
-- 'old' holds the vote permission of another app only, and is staff: neither is a right here.
INSERT INTO auth_user_user_permissions VALUES (1, 3, 3), (2, 4, 2);
INSERT INTO planning_poker_pokersession VALUES (1, '2024-03-01', 'Custom', 2),
    (2, '2024-03-02', '   ', NULL);
INSERT INTO planning_poker_story VALUES
    (1, 'C-1', 'First', '<b>bold</b>', 3, 1, 1),
    (2, 'C-2', '', '', NULL, 1, 0),
    (3, '', 'No ticket', '', NULL, 1, 2),
    (4, 'E-1', '', '', NULL, 2, 0);
INSERT INTO planning_poker_vote VALUES
    (1, '0', 1, 1), (2, 'Coffee', 2, 1), (3, '5', 1, 2), (4, '8', 4, 1), (5, '3', 3, 1);
";

fn run(source: &str, store: &Store, dry_run: bool) -> Result<Summary, ImportError> {
    import(source, store, dry_run, &|html| format!("[clean]{html}"))
}

#[test]
fn an_import_says_what_it_skips_and_a_later_one_brings_only_what_is_new() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let django = dir.path().join("django.sqlite3");
    let mut conn =
        diesel::SqliteConnection::establish(&django.to_string_lossy()).expect("create it");
    conn.batch_execute(DJANGO_TABLES).expect("the tables");
    conn.batch_execute(DATA).expect("the data");
    let source = format!("sqlite://{}", django.display());
    let ours = format!("sqlite://{}", dir.path().join("ours.db").display());
    let store = Store::open(&ours, 2, std::time::Duration::from_secs(5)).expect("our store");
    store
        .create_user(&NewUser {
            username: "taken".into(),
            password_hash: "ours".into(),
            can_vote: false,
            can_moderate: false,
            is_admin: false,
        })
        .expect("a user of ours");

    // A dry run: the summary of the real thing, and nothing written.
    let dry = run(&source, &store, true).expect("a dry run");
    assert!(dry.dry_run);
    assert_eq!(dry.users.imported.len(), 3);
    assert_eq!(store.list_users().expect("users").len(), 1);
    assert!(store.list_sessions(false).expect("sessions").is_empty());

    let first = run(&source, &store, false).expect("the import");
    assert!(!first.dry_run);
    assert_eq!(
        dry.users, first.users,
        "the dry run said what the import did"
    );
    let text = first.to_string();
    eprintln!("{text}");
    assert_eq!(first.users.imported.len(), 3, "{text}");
    assert!(
        first.users.skipped[0].contains("\"taken\": a user of that name exists here"),
        "{text}"
    );
    assert!(text.contains("\"md5\" hasher"), "{text}");
    assert!(text.contains("\"other\" has no usable password"), "{text}");
    assert_eq!(
        store
            .credentials("taken")
            .expect("read")
            .expect("ours")
            .password_hash,
        "ours",
        "not overwritten"
    );
    let users = store.list_users().expect("users");
    let user = |name: &str| users.iter().find(|u| u.username == name).expect(name);
    assert!(user("ann").can_vote && !user("ann").can_moderate);
    assert!(
        !user("old").can_vote && !user("old").is_admin,
        "another app's permission"
    );
    assert!(user("other").can_moderate && !user("other").can_vote);

    // The nameless session is skipped with its story; the other gets a deck that holds "0"
    // and "Coffee".
    assert_eq!(first.sessions.imported.len(), 1, "{text}");
    assert!(
        first.sessions.skipped[0].contains("must not be empty"),
        "{text}"
    );
    let sessions = store.list_sessions(false).expect("sessions");
    let session = &sessions[0].session;
    assert_eq!(session.name, "Custom");
    assert_eq!(session.deck.points[0], "0");
    assert_eq!(
        session.deck.others,
        ["Too large", "No idea", "Coffee"],
        "{text}"
    );
    let stories = store.stories(session.id).expect("stories");
    let tickets: Vec<&str> = stories.iter().map(|s| s.ticket_number.as_str()).collect();
    assert_eq!(
        tickets,
        ["C-2", "C-1"],
        "in _order; the one without ticket skipped"
    );
    assert_eq!(stories[1].story_points.as_deref(), Some("3"));
    assert_eq!(stories[1].description, "[clean]<b>bold</b>");
    assert_eq!(session.active_story_id, Some(stories[0].id));
    assert_eq!(first.stories.skipped.len(), 2, "{text}");
    // Votes: ann's two; taken's is not theirs to have here; the others' stories are skipped.
    assert_eq!(first.votes.imported.len(), 2, "{text}");
    assert_eq!(first.votes.skipped.len(), 3, "{text}");
    let choices = |story: i64| -> Vec<String> {
        store
            .votes(story)
            .expect("votes")
            .into_iter()
            .map(|v| v.choice)
            .collect()
    };
    assert_eq!(choices(stories[1].id), ["0"]);
    assert_eq!(choices(stories[0].id), ["Coffee"]);
    let version = store
        .session_version(session.id)
        .expect("read")
        .expect("there");

    // Again: nothing new.
    let again = run(&source, &store, false).expect("again");
    assert_eq!(again.imported(), 0, "{again}");
    assert!(again.to_string().contains("Nothing new to import."));
    assert_eq!(again.users.already_imported, 3);
    assert_eq!(again.votes.already_imported, 2);

    // The original went on: a story and a vote more. Only they come over, the story last.
    conn.batch_execute(
        "INSERT INTO planning_poker_story VALUES (5, 'C-3', 'Later', '', 34, 1, 3);
         INSERT INTO planning_poker_vote VALUES (6, 'No idea', 5, 1);",
    )
    .expect("more data");
    let later = run(&source, &store, false).expect("a later import");
    assert_eq!(later.stories.imported.len(), 1, "{later}");
    assert_eq!(later.votes.imported.len(), 1, "{later}");
    assert_eq!(later.users.imported.len(), 0, "{later}");
    let stories = store.stories(session.id).expect("stories");
    let tickets: Vec<&str> = stories.iter().map(|s| s.ticket_number.as_str()).collect();
    assert_eq!(tickets, ["C-2", "C-1", "C-3"]);
    assert_eq!(stories[2].position, stories[1].position + 1);
    assert_eq!(choices(stories[2].id), ["No idea"]);
    assert!(
        store
            .session_version(session.id)
            .expect("read")
            .expect("there")
            > version,
        "the session's version counts the change, for live servers"
    );

    // A user brought over and deleted here since is not brought back, and their new vote has
    // nobody to belong to; the story it is on came over before and stays.
    let mut ours =
        diesel::SqliteConnection::establish(&dir.path().join("ours.db").to_string_lossy())
            .expect("open our database");
    ours.batch_execute("PRAGMA foreign_keys = ON; DELETE FROM users WHERE username = 'ann'")
        .expect("delete ann here");
    conn.batch_execute("INSERT INTO planning_poker_vote VALUES (7, '5', 5, 1), (8, '8', 5, 4)")
        .expect("more votes");
    let after = run(&source, &store, false).expect("an import after a deletion");
    assert_eq!(after.users.imported.len(), 0, "{after}");
    assert_eq!(after.votes.imported.len(), 1, "{after}");
    assert!(
        after.votes.skipped.iter().any(|s| s.starts_with("vote 7 ")
            && s.contains("the voter, imported before, has been deleted here since")),
        "{after}"
    );
    assert!(store.credentials("ann").expect("read").is_none());
    assert_eq!(choices(stories[2].id), ["8"], "ann's votes went with her");
}

#[test]
fn a_database_without_the_originals_tables_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let other = dir.path().join("other.sqlite3");
    let mut conn =
        diesel::SqliteConnection::establish(&other.to_string_lossy()).expect("create it");
    conn.batch_execute("CREATE TABLE auth_user (id integer PRIMARY KEY)")
        .expect("a table");
    let ours = format!("sqlite://{}", dir.path().join("ours.db").display());
    let store = Store::open(&ours, 2, std::time::Duration::from_secs(5)).expect("our store");
    let refused = run(&format!("sqlite://{}", other.display()), &store, false)
        .expect_err("not the original's");
    assert!(matches!(refused, ImportError::NotDjango(_)), "{refused}");
    let message = refused.to_string();
    assert!(
        message.contains("planning_poker_story") && !message.contains("auth_user,"),
        "{message}"
    );
    let refused = run("mysql://user:s3cret@host/db", &store, false).expect_err("not a URL");
    assert!(!refused.to_string().contains("s3cret"), "{refused}");
}

/// The login that upgrades a Django hash replaces it only while it is still that hash: a
/// password set meanwhile (or an upgrade by a concurrent login) stays.
#[test]
fn a_password_hash_is_replaced_only_while_it_is_the_old_one() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ours = format!("sqlite://{}", dir.path().join("ours.db").display());
    let store = Store::open(&ours, 2, std::time::Duration::from_secs(5)).expect("our store");
    let user = store
        .create_user(&NewUser {
            username: "ann".into(),
            password_hash: "pbkdf2_sha256$1000$salt$old".into(),
            can_vote: true,
            can_moderate: false,
            is_admin: false,
        })
        .expect("a user");
    let hash = |store: &Store| store.credentials("ann").unwrap().unwrap().password_hash;
    assert!(!store
        .replace_password_hash(user.id, "something else", "$argon2id$new")
        .unwrap());
    assert_eq!(hash(&store), "pbkdf2_sha256$1000$salt$old");
    assert!(store
        .replace_password_hash(user.id, "pbkdf2_sha256$1000$salt$old", "$argon2id$new")
        .unwrap());
    assert_eq!(hash(&store), "$argon2id$new");
    assert!(!store
        .replace_password_hash(user.id, "pbkdf2_sha256$1000$salt$old", "$argon2id$other")
        .unwrap());
    assert_eq!(hash(&store), "$argon2id$new");
}
