//! The Django original's own front end against our server, in a real browser.
//!
//! The page is the original's, unchanged: its template `planning_poker/poker_session.html`
//! rendered by Django from the installed PyPI package (tests/e2e/django_original/original_page.py), with the
//! package's static files, among them the Vue app `poker-session.js`. Only the template's context
//! (the session, its stories, the user and their rights) comes from our REST API, and the page
//! is served from an origin of its own, as a team keeping the original's pages in front of our
//! server would run it (`ALLOWED_ORIGINS`). Its socket goes to the original's path
//! `/poker/{id}/` and offers no subprotocol, so our server speaks the original's four events to
//! it: the app calls a handler for any event name it receives and throws on one it does not
//! know, so a single `stories_changed` or `error` frame would fail this test.
//! SQLite only: what is under test is the protocol spoken to an old client, not the database.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::browser::Browser;
use crate::support::{django, Backend, Rights, Server, ServerOptions, TestUser};

/// Collects what the page throws, from before its first script runs: uncaught errors (as the
/// original's `processMessage` throws on an unknown event) and unhandled rejections.
const ERROR_COLLECTOR: &str = "window.__errors = []; \
    window.addEventListener('error', e => window.__errors.push('error: ' + e.message)); \
    window.addEventListener('unhandledrejection', \
        e => window.__errors.push('unhandled rejection: ' + e.reason));";

/// tests/e2e/django_original/original_page.py: serves the original's page for the entries of a pages file.
struct OriginalPages {
    port: u16,
    file: PathBuf,
    _dir: tempfile::TempDir,
    _child: Child,
}

impl OriginalPages {
    async fn start() -> OriginalPages {
        let dir = tempfile::Builder::new()
            .prefix("pp-original-")
            .tempdir()
            .expect("create a directory for the pages file");
        let file = dir.path().join("pages.json");
        std::fs::write(&file, "{}").expect("write the empty pages file");
        let script = django::scripts_dir().join("original_page.py");
        let mut child = Command::new(django::python().await)
            .arg(&script)
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", script.display()));
        let stdout = child
            .stdout
            .take()
            .expect("the page server's stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the original's page server said where it listens within 60 s")
            .expect("read the page server's stdout")
            .expect("the original's page server printed its port before exiting");
        let port = line
            .strip_prefix("listening on ")
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in the page server's line {line:?}"));
        OriginalPages {
            port,
            file,
            _dir: dir,
            _child: child,
        }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn url(&self, name: &str) -> String {
        format!("{}/pages/{name}/", self.origin())
    }

    fn publish(&self, pages: &Value) {
        std::fs::write(&self.file, pages.to_string()).expect("write the pages file");
    }
}

/// The template context the original's `PokerSessionView` builds, read from our REST API as
/// `user` sees it: the deck as `[value, label]` pairs, every story of the session in order with
/// its label and points (a string, as the original's `str(story.story_points)`), the user's
/// rights, and the host its socket goes to.
async fn page_context(server: &Server, session_id: i64, user: &TestUser) -> Value {
    let http = server.http_with_token(&user.token);
    let session = http
        .get(&format!("/api/sessions/{session_id}"))
        .await
        .expect_status(200, "read the session");
    let me = http
        .get("/api/auth/me")
        .await
        .expect_status(200, "read the user");
    let pairs = |options: &Value| -> Value {
        options
            .as_array()
            .expect("deck options are a list")
            .iter()
            .map(|option| json!([option, option]))
            .collect()
    };
    let stories: Vec<Value> = session["stories"]
        .as_array()
        .expect("the session lists its stories")
        .iter()
        .map(|story| {
            let points = match &story["story_points"] {
                Value::Null => Value::Null,
                Value::String(text) => json!(text),
                other => json!(other.to_string()),
            };
            json!({"id": story["id"], "title": story["label"], "points": points})
        })
        .collect();
    let (vote, moderate) = user.rights.flags();
    json!({
        "host": format!("127.0.0.1:{}", server.port()),
        "session": {"id": session_id, "name": session["name"]},
        "user": {"id": me["id"], "username": me["username"]},
        "options": {
            "point_options": pairs(&session["deck"]["points"]),
            "non_point_options": pairs(&session["deck"]["others"]),
        },
        "stories": stories,
        "permissions": {"vote": vote, "moderate": moderate},
    })
}

/// A browser logged in to our server (its cookie goes with the page's socket), with the error
/// collector installed, on the original's page for `user`.
async fn open_original(server: &Server, pages: &OriginalPages, user: &TestUser) -> Browser {
    let browser = Browser::start(&user.username).await;
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": ERROR_COLLECTOR }),
        )
        .await;
    browser
        .login(&server.base_url(), &user.username, &user.password, "/")
        .await;
    browser.goto(&pages.url(&user.username)).await;
    // The app has mounted once the stories overview is there.
    browser.wait_for(".stories-overview").await;
    browser
}

/// Waits until the participants list counts `count` people.
async fn wait_participants(browser: &Browser, count: usize) {
    browser
        .wait_js(
            "document.querySelector('.participants-list > span').textContent === arguments[0]",
            vec![json!(format!("({count})"))],
            &format!("{count} participants"),
        )
        .await;
}

/// Waits until the story detail shows `label`.
async fn wait_story(browser: &Browser, label: &str) {
    browser
        .wait_js(
            "document.querySelector('.story-detail .story-label').textContent.trim() \
             === arguments[0]",
            vec![json!(label)],
            &format!("the story {label:?}"),
        )
        .await;
}

/// Waits until the votes overview shows exactly these `(count, voter names)` groups, face up.
async fn wait_votes(browser: &Browser, expected: &[(&str, &str)]) {
    let expected: Vec<Value> = expected
        .iter()
        .map(|(count, names)| json!(format!("{count} x|{names}")))
        .collect();
    browser
        .wait_js(
            "JSON.stringify([...document.querySelectorAll('.votes-overview .vote')].map(v => \
                 v.querySelector('h5').textContent.trim() + '|' \
                 + v.querySelector('.voter-names').textContent.trim())) \
             === JSON.stringify(arguments[0])",
            vec![json!(expected)],
            &format!("the votes {expected:?}"),
        )
        .await;
}

/// Clicks the card of the vote options whose rank is `rank`.
async fn click_card(browser: &Browser, rank: &str) {
    let clicked = browser
        .js(
            "const card = [...document.querySelectorAll('.vote-options .cards-wrapper button')]\
                 .find(b => b.querySelector('.card-content span').textContent.trim() === arguments[0]); \
             if (!card) return false; card.click(); return true;",
            vec![json!(rank)],
        )
        .await;
    assert_eq!(
        clicked,
        json!(true),
        "{}: a card {rank:?} to click",
        browser.name()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_originals_own_page_estimates_a_session_without_an_error() {
    let pages = OriginalPages::start().await;
    let server = Server::start_with(
        Backend::Sqlite,
        ServerOptions {
            allowed_origins: Some(pages.origin()),
            ..ServerOptions::default()
        },
    )
    .await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let vic = server.create_user("vic", Rights::Voter).await;
    let sam = server.create_user("sam", Rights::Spectator).await;
    let session = server
        .create_session(
            "Sprint 7",
            &[("PP-1", "Sign in"), ("PP-2", "Sign out"), ("PP-3", "")],
        )
        .await;
    let [first, second, _] = [0, 1, 2].map(|i| session.stories[i].label.clone());
    pages.publish(&json!({
        "mia": page_context(&server, session.id, &mia).await,
        "vic": page_context(&server, session.id, &vic).await,
    }));

    // A client of ours beside them, on our path with poker.v2: it hears what they must not.
    let mut ours = server.connect(session.id, &sam).await;
    let moderator = open_original(&server, &pages, &mia).await;
    let voter = open_original(&server, &pages, &vic).await;
    wait_participants(&moderator, 3).await;
    wait_participants(&voter, 3).await;
    assert_eq!(
        moderator.count(".stories-overview button.list-story").await,
        3,
        "the page lists the session's stories from its template"
    );

    // The moderator picks the first story in the list: everyone sees it.
    moderator
        .click(".stories-overview .stories-list button.list-story")
        .await;
    wait_story(&moderator, &first).await;
    wait_story(&voter, &first).await;
    ours.find_event("story_changed", Duration::from_secs(10))
        .await;

    // The voter votes 5: both pages show one card for vic.
    click_card(&voter, "5").await;
    wait_votes(&voter, &[("1", "vic")]).await;
    wait_votes(&moderator, &[("1", "vic")]).await;

    // A change over REST sends our own `stories_changed`: our client gets it, the original's
    // pages must not (their app would throw).
    server
        .admin()
        .await
        .post(
            &format!("/api/sessions/{}/stories", session.id),
            json!({"ticket_number": "PP-4", "title": "Added during the meeting"}),
        )
        .await
        .expect_status(201, "add a story while the pages are open");
    ours.find_event("stories_changed", Duration::from_secs(10))
        .await;

    // Bad input from the original's socket is dropped without an `error` frame: the voter's
    // page sends a choice outside the deck through its own consumer.
    voter
        .js(
            "document.querySelector('#app').__vue__.$consumer.submitChoice('not a card'); \
             return true;",
            vec![],
        )
        .await;

    // The moderator sets the points by clicking the vote: the page sends points_submitted and
    // then next_story_requested, as the original's consumer expects; both pages follow to the
    // next story, and the first one shows its points in the list.
    moderator.click(".votes-overview .vote .clickable").await;
    wait_story(&moderator, &second).await;
    wait_story(&voter, &second).await;
    for browser in [&moderator, &voter] {
        browser
            .wait_js(
                "[...document.querySelectorAll('.stories-overview button.list-story.scored')]\
                     .some(b => b.title === arguments[0] \
                         && b.querySelector('.card-content span').textContent.trim() === '5')",
                vec![json!(first)],
                &format!("{}: the first story scored 5 in the list", browser.name()),
            )
            .await;
        wait_votes(browser, &[]).await;
    }
    let stored = server.stories(session.id).await;
    assert_eq!(stored[0]["story_points"], json!(5), "the points are stored");
    assert_eq!(
        server.active_story_id(session.id).await,
        Some(session.stories[1].id)
    );

    // A vote on the next story, then the voter leaves: the moderator's page follows.
    click_card(&voter, "8").await;
    wait_votes(&moderator, &[("1", "vic")]).await;
    voter.assert_no_console_errors().await;
    voter.close().await;
    wait_participants(&moderator, 2).await;

    // The original's app sends a heartbeat every 20 s; it is answered by silence, not an error.
    tokio::time::sleep(Duration::from_secs(21)).await;
    moderator.assert_no_console_errors().await;
    let collected = moderator
        .js("return Array.isArray(window.__errors)", vec![])
        .await;
    assert_eq!(
        collected,
        json!(true),
        "the error collector ran in the page"
    );
    moderator.close().await;
}
