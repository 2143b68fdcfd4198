//! `planning-poker import-django` against the real Django original: planning-poker 1.0.3 from
//! PyPI (scripts/django-original.sh) migrates its own database, SQLite or PostgreSQL, and makes
//! its data through its own models (django_original/populate.py); we import it (a dry run
//! first, then for real, then again), and the server on the imported database lets a Django
//! user in with the old password and shows the sessions, stories in order, points and votes.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use poker_bench::pg::FreshDatabase;
use serde_json::{json, Value};
use tokio::process::Command;

use crate::support::{django, Backend, Http, Server};

both_backends!(the_originals_database_comes_over_with_its_passwords);

const SETTINGS: &str = include_str!("django_original/settings.py");
const MANAGE: &str = include_str!("django_original/manage.py");
const POPULATE: &str = include_str!("django_original/populate.py");
const BIN: &str = env!("CARGO_BIN_EXE_planning-poker");

/// Runs a command to completion within `within`: (success, stdout, stderr).
async fn run(mut cmd: Command, what: &str, within: Duration) -> (bool, String, String) {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(within, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {within:?}"))
        .unwrap_or_else(|e| panic!("{what}: cannot run it: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// As [`run`], failing the test with what it printed unless it succeeds; its standard output.
async fn run_ok(cmd: Command, what: &str, within: Duration) -> String {
    let (ok, stdout, stderr) = run(cmd, what, within).await;
    assert!(ok, "{what} failed:\n{stdout}\n{stderr}");
    stdout
}

/// A project of the Django original in a folder of its own, on a fresh database.
struct Original {
    dir: tempfile::TempDir,
    python: PathBuf,
    /// What its settings read from POKER_DJANGO_DATABASE: a file path or a postgres:// URL.
    database: String,
    /// The same database as `import-django` takes it.
    url: String,
    _postgres: Option<FreshDatabase>,
}

impl Original {
    async fn create(backend: Backend) -> Original {
        let python = django::python().await;
        let dir = tempfile::Builder::new()
            .prefix("pp-django-")
            .tempdir()
            .expect("create the Django project's folder");
        for (name, text) in [("settings.py", SETTINGS), ("manage.py", MANAGE)] {
            std::fs::write(dir.path().join(name), text).expect("write the Django project");
        }
        let (database, url, postgres) = match backend {
            Backend::Sqlite => {
                let path = dir.path().join("db.sqlite3");
                let path = path
                    .to_str()
                    .expect("the temporary path is UTF-8")
                    .to_string();
                let url = format!("sqlite://{path}");
                (path, url, None)
            }
            Backend::Postgres => {
                let admin = std::env::var("TEST_DATABASE_URL")
                    .expect("TEST_DATABASE_URL must be set at run time for the PostgreSQL run");
                let db = FreshDatabase::create(&admin, "django_original")
                    .await
                    .unwrap_or_else(|e| panic!("create the Django database: {e:#}"));
                (db.url.clone(), db.url.clone(), Some(db))
            }
        };
        let original = Original {
            dir,
            python,
            database,
            url,
            _postgres: postgres,
        };
        original.manage(&["migrate", "--verbosity", "0"]).await;
        let printed = original.manage(&["shell", "-c", POPULATE]).await;
        assert!(printed.contains("populated"), "populate.py ran: {printed}");
        original
    }

    /// `python manage.py ARGS` in the project, on its database.
    async fn manage(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(&self.python);
        cmd.arg("manage.py")
            .args(args)
            .current_dir(self.dir.path())
            .env("POKER_DJANGO_DATABASE", &self.database)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stderr(Stdio::piped());
        let what = format!("the Django original's manage.py {}", args[0]);
        run_ok(cmd, &what, Duration::from_secs(300)).await
    }
}

/// `planning-poker import-django URL` (with `--dry-run`) on the server's database.
async fn import(server: &Server, url: &str, dry_run: bool) -> String {
    let printed = run_ok(
        import_command(server, url, dry_run),
        "planning-poker import-django",
        Duration::from_secs(120),
    )
    .await;
    eprintln!(
        "[import-django{}]\n{printed}",
        if dry_run { " --dry-run" } else { "" }
    );
    printed
}

/// An import that must be refused: what it printed on standard error.
async fn import_refused(server: &Server, url: &str) -> String {
    let what = "planning-poker import-django of a wrong URL";
    let (ok, stdout, stderr) = run(
        import_command(server, url, false),
        what,
        Duration::from_secs(120),
    )
    .await;
    assert!(!ok, "{what} was refused: {stdout}");
    stderr
}

fn import_command(server: &Server, url: &str, dry_run: bool) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("import-django")
        .arg(url)
        .current_dir(std::env::temp_dir())
        .env("DATABASE_URL", server.database_url())
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .stderr(Stdio::piped());
    if dry_run {
        cmd.arg("--dry-run");
    }
    cmd
}

/// The stored password hash of a user, read from the server's database directly.
async fn password_hash(server: &Server, username: &str) -> String {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
    }
    let (url, username) = (server.database_url().to_string(), username.to_string());
    let sqlite_path = server.sqlite_path();
    tokio::task::spawn_blocking(move || {
        let query = diesel::sql_query(format!(
            "SELECT password_hash FROM users WHERE username = '{username}'"
        ));
        let rows: Vec<Hash> = if url.starts_with("postgres") {
            let mut conn = diesel::PgConnection::establish(&url).expect("connect to PostgreSQL");
            query.load(&mut conn).expect("read the hash")
        } else {
            let mut conn = diesel::SqliteConnection::establish(&sqlite_path.to_string_lossy())
                .expect("open the SQLite file");
            query.load(&mut conn).expect("read the hash")
        };
        rows.into_iter()
            .next()
            .unwrap_or_else(|| panic!("no user {username} here"))
            .password_hash
    })
    .await
    .expect("the hash is read")
}

async fn login_status(server: &Server, username: &str, password: &str) -> u16 {
    server
        .http()
        .post(
            "/api/auth/login",
            json!({"username": username, "password": password}),
        )
        .await
        .status
}

/// The session named `name` in `GET /api/sessions`, with its stories (`GET /api/sessions/{id}`).
async fn session_named(http: &Http, name: &str) -> Value {
    let list = http
        .get("/api/sessions")
        .await
        .expect_status(200, "list the sessions");
    let id = list
        .as_array()
        .expect("a list of sessions")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no session {name:?} in {list}"))["id"]
        .as_i64()
        .expect("an integer id");
    http.get(&format!("/api/sessions/{id}"))
        .await
        .expect_status(200, &format!("get session {name}"))
}

fn tickets(session: &Value) -> Vec<String> {
    session["stories"]
        .as_array()
        .expect("the session's stories")
        .iter()
        .map(|s| s["ticket_number"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn story<'a>(session: &'a Value, ticket: &str) -> &'a Value {
    session["stories"]
        .as_array()
        .expect("the session's stories")
        .iter()
        .find(|s| s["ticket_number"] == ticket)
        .unwrap_or_else(|| panic!("no story {ticket} in {session}"))
}

async fn votes(http: &Http, story: &Value) -> Value {
    http.get(&format!("/api/stories/{}/votes", story["id"]))
        .await
        .expect_status(200, &format!("the votes on {}", story["ticket_number"]))
}

async fn the_originals_database_comes_over_with_its_passwords(backend: Backend) {
    let original = Original::create(backend).await;
    // Our server on a fresh database of its own, with its `admin` (a name the original has too).
    let mut server = Server::start(backend).await;
    let admin = server.admin().await;
    let users_before = admin.get("/api/users").await.expect_status(200, "users");

    // A database that is not the original's is refused with a reason: ours, or no file at all.
    let refused = import_refused(&server, server.database_url()).await;
    assert!(
        refused.contains("is not a database of the Django planning-poker")
            && refused.contains("planning_poker_story"),
        "{refused}"
    );
    let refused = import_refused(&server, "sqlite:///nonexistent/django.sqlite3").await;
    assert!(refused.contains("no SQLite database file"), "{refused}");

    // A dry run says what it would bring, and writes nothing.
    let dry = import(&server, &original.url, true).await;
    assert!(dry.contains("users: 6 to import"), "{dry}");
    assert!(dry.contains("Dry run: nothing was written."), "{dry}");
    assert_eq!(
        admin.get("/api/users").await.expect_status(200, "users"),
        users_before,
        "the dry run created no user"
    );
    assert_eq!(
        admin.get("/api/sessions").await.expect_status(200, "list"),
        json!([]),
        "the dry run created no session"
    );

    let first = import(&server, &original.url, false).await;
    for line in [
        "users: 6 imported, 0 already imported, 1 skipped",
        "poker sessions: 2 imported, 0 already imported, 0 skipped",
        "stories: 7 imported, 0 already imported, 0 skipped",
        "votes: 10 imported, 0 already imported, 0 skipped",
        "+ user 4 \"root\" (admin, moderator, voter)",
        "skipped user 7 \"admin\": a user of that name exists here",
        "user 5 \"dave\" is inactive in Django",
        "without a poker session",
    ] {
        assert!(first.contains(line), "the summary says {line:?}:\n{first}");
    }
    assert!(!first.contains("Dry run"), "{first}");

    // Again: nothing new (the admin of ours is still not overwritten).
    let again = import(&server, &original.url, false).await;
    for line in [
        "users: 0 imported, 6 already imported, 1 skipped",
        "poker sessions: 0 imported, 2 already imported, 0 skipped",
        "stories: 0 imported, 7 already imported, 0 skipped",
        "votes: 0 imported, 10 already imported, 0 skipped",
        "Nothing new to import.",
    ] {
        assert!(
            again.contains(line),
            "the second run says {line:?}:\n{again}"
        );
    }

    // The server started on the imported database.
    server.restart().await;
    assert!(
        password_hash(&server, "alice")
            .await
            .starts_with("pbkdf2_sha256$"),
        "the Django hash is kept as it is until the first login"
    );
    assert_eq!(login_status(&server, "alice", "wrong").await, 401);
    let alice = server.login("alice", "alice-old-secret").await;
    let me = alice.get("/api/auth/me").await.expect_status(200, "me");
    assert_eq!(me["username"], "alice");
    assert_eq!(me["permissions"], json!(["vote"]), "vote through the group");
    let upgraded = password_hash(&server, "alice").await;
    assert!(
        upgraded.starts_with("$argon2id$"),
        "the first login replaced the Django hash by argon2: {upgraded}"
    );
    assert_eq!(
        login_status(&server, "alice", "alice-old-secret").await,
        200
    );
    assert_eq!(password_hash(&server, "alice").await, upgraded);
    assert_eq!(login_status(&server, "alice", "wrong").await, 401);

    // Rights as the original gave them; the inactive user cannot log in; our admin is ours.
    for (username, permissions) in [
        ("bob", json!(["vote"])),
        ("carol", json!(["moderate"])),
        ("root", json!(["vote", "moderate", "admin"])),
        ("erin", json!([])),
    ] {
        let http = server
            .login(username, &format!("{username}-old-secret"))
            .await;
        let me = http.get("/api/auth/me").await.expect_status(200, "me");
        assert_eq!(me["permissions"], permissions, "{username}'s rights");
    }
    assert_eq!(login_status(&server, "dave", "dave-old-secret").await, 401);
    assert_eq!(
        login_status(&server, "admin", "django-admin-secret").await,
        401
    );
    let admin = server.admin().await;
    let users = admin.get("/api/users").await.expect_status(200, "users");
    let id_of = |name: &str| {
        users
            .as_array()
            .expect("a list of users")
            .iter()
            .find(|u| u["username"] == name)
            .unwrap_or_else(|| panic!("no user {name} in {users}"))["id"]
            .clone()
    };
    let voter = |name: &str| json!({"id": id_of(name), "name": name});

    // The sessions, newest first, with the original's deck.
    let list = alice.get("/api/sessions").await.expect_status(200, "list");
    let names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Sprint 2", "Sprint 1"]);
    let sprint1 = session_named(&alice, "Sprint 1").await;
    assert_eq!(sprint1["poker_date"], "2024-01-10");
    assert_eq!(
        sprint1["deck"],
        json!({
            "points": ["1", "2", "3", "5", "8", "13", "21", "34"],
            "others": ["Too large", "No idea"],
            "label_keys": {"Too large": "too_large", "No idea": "no_idea"},
        })
    );
    // The stories in the order the original's set_story_order gave them, with their points.
    assert_eq!(tickets(&sprint1), ["S1-3", "S1-1", "S1-4", "S1-2"]);
    let points: Vec<&Value> = sprint1["stories"]
        .as_array()
        .expect("stories")
        .iter()
        .map(|s| &s["story_points"])
        .collect();
    assert_eq!(points, [&json!(5), &json!(13), &Value::Null, &Value::Null]);
    let s3 = story(&sprint1, "S1-3");
    assert_eq!(s3["title"], "Story 3");
    assert_eq!(
        s3["description"], "<p>About 3</p>",
        "the description is sanitized"
    );
    assert_eq!(sprint1["active_story_id"], story(&sprint1, "S1-4")["id"]);

    // The votes, with the voters as they are here (dave's too, though dave cannot log in).
    assert_eq!(
        votes(&alice, s3).await,
        json!({
            "votes": {
                "5": [voter("alice")],
                "3": [voter("dave")],
                "8": [voter("bob")],
                "No idea": [voter("carol")],
            },
            "voters": [voter("alice"), voter("bob"), voter("dave"), voter("carol")],
            "abstained": [],
            "revealed": false,
        })
    );
    assert_eq!(
        votes(&alice, story(&sprint1, "S1-1")).await["votes"],
        json!({"13": [voter("alice")], "Too large": [voter("bob")]})
    );
    // The active story keeps its votes secret from a voter who has not voted; the moderator sees.
    let active = story(&sprint1, "S1-4");
    assert_eq!(
        votes(&alice, active).await,
        json!({"votes": {}, "voters": [voter("bob")], "abstained": [], "revealed": false})
    );
    let carol = server.login("carol", "carol-old-secret").await;
    assert_eq!(
        votes(&carol, active).await["votes"],
        json!({"21": [voter("bob")]})
    );

    let sprint2 = session_named(&alice, "Sprint 2").await;
    assert_eq!(tickets(&sprint2), ["S2-1", "S2-2"]);
    assert_eq!(sprint2["active_story_id"], Value::Null);
    assert_eq!(story(&sprint2, "S2-1")["label"], "S2-1");
    assert_eq!(
        votes(&alice, story(&sprint2, "S2-2")).await["votes"],
        json!({"34": [voter("root")]})
    );

    // The original's database was only read: it is still there as it was, for the original.
    let check = original
        .manage(&[
            "shell",
            "-c",
            "from planning_poker.models import Vote; print('votes', Vote.objects.count())",
        ])
        .await;
    assert!(check.contains("votes 10"), "{check}");
}
