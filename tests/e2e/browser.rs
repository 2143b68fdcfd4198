//! The poker session page in a real browser (headless Chromium): logging in, voting,
//! moderating, the participants list, recovering from a server restart and an expired login.
//! SQLite only: what is under test is the page, not the database.

use serde_json::json;

use crate::support::browser::{
    open_session, revealed_votes, story_points, wait_participants, wait_story, wait_votes, Browser,
    Proxy, Size,
};
use crate::support::{Backend, Rights, Server};

/// A session created over REST, with HTML descriptions (one with markup the server must strip).
struct Fixture {
    id: i64,
    stories: Vec<(i64, String)>,
}

const STORIES: [(&str, &str, &str); 3] = [
    (
        "SHOP-1",
        "Guest checkout",
        "<p onclick=\"window.__xss = 2\">Guests can pay <strong>without an account</strong>.\
         </p><script>window.__xss = 1</script>",
    ),
    (
        "SHOP-2",
        "Gift cards",
        "<ul><li>Buy a card</li><li>Redeem it at checkout</li></ul>",
    ),
    ("SHOP-3", "", ""),
];

async fn create_fixture(server: &Server) -> Fixture {
    let admin = server.admin().await;
    let session = admin
        .post(
            "/api/sessions",
            json!({"name": "Sprint 12", "poker_date": "2025-03-14"}),
        )
        .await
        .expect_status(201, "create the session");
    let id = session["id"].as_i64().expect("a session id");
    let mut stories = Vec::new();
    for (ticket, title, description) in STORIES {
        let story = admin
            .post(
                &format!("/api/sessions/{id}/stories"),
                json!({"ticket_number": ticket, "title": title, "description": description}),
            )
            .await
            .expect_status(201, "create a story");
        stories.push((
            story["id"].as_i64().expect("a story id"),
            story["label"].as_str().expect("a label").to_string(),
        ));
    }
    Fixture { id, stories }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_leads_to_the_open_sessions() {
    let server = Server::start(Backend::Sqlite).await;
    let proxy = Proxy::start(server.port()).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let fixture = create_fixture(&server).await;
    let base = proxy.base_url();

    let browser = Browser::start("alice").await;
    // Not logged in: the index sends us to the login page, which comes back afterwards.
    browser.goto(&format!("{base}/")).await;
    browser.wait_path("/login?next=%2F").await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", "not her password").await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_visible("#login-error").await;
    browser
        .wait_text("#login-error", "Wrong username or password.")
        .await;
    // The refused login is the one expected error in the console (a 401 answer).
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("401")),
        "only the refused login may be reported: {errors:?}"
    );
    browser.fill("#password", &alice.password).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_path("/").await;

    browser.wait_for(".session-link").await;
    let item = browser.text(".session-link").await;
    assert!(
        item.contains("Sprint 12") && item.contains("3 stories to estimate"),
        "the index lists the open session with its count of stories without points: {item}"
    );
    assert_eq!(browser.text("#whoami").await, "alice");
    assert!(
        browser.find("#nav-admin").await.is_displayed().await.ok() == Some(false),
        "a voter sees no admin link"
    );
    browser.screenshot("index-light").await;
    browser.set_dark(true).await;
    browser.screenshot("index-dark").await;

    browser.click(".session-link").await;
    browser
        .wait_path(&format!("/sessions/{}", fixture.id))
        .await;
    browser.wait_for("#conn[data-state=open]").await;
    assert_eq!(browser.text("#session-name").await, "Sprint 12");
    browser.assert_no_console_errors().await;

    // Logging out ends the login: the pages send us back to the login page.
    browser.click("#logout").await;
    browser.wait_path("/login").await;
    browser
        .goto(&format!("{base}/sessions/{}", fixture.id))
        .await;
    browser
        .wait_path(&format!("/login?next=%2Fsessions%2F{}", fixture.id))
        .await;
    browser.screenshot("login-dark").await;
    browser.set_dark(false).await;
    browser.screenshot("login-light").await;
    browser.assert_no_console_errors().await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn voter_and_moderator_estimate_a_session() {
    let server = Server::start(Backend::Sqlite).await;
    let proxy = Proxy::start(server.port()).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let carol = server.create_user("carol", Rights::Moderator).await;
    let fixture = create_fixture(&server).await;
    let [(_, first), (_, second), (_, third)] = [
        fixture.stories[0].clone(),
        fixture.stories[1].clone(),
        fixture.stories[2].clone(),
    ];

    let voter = open_session(&proxy.base_url(), &alice, fixture.id).await;
    let moderator = open_session(&proxy.base_url(), &carol, fixture.id).await;
    wait_participants(&voter, 2).await;
    wait_participants(&moderator, 2).await;

    // No story yet: the voter waits, the moderator can start.
    voter.wait_visible("#story-none").await;
    assert_eq!(
        voter.count("#cards button.card").await,
        10,
        "the whole deck"
    );
    assert_eq!(
        voter.count("#cards button.card:disabled").await,
        10,
        "no voting without a story"
    );
    assert!(voter.find("#start").await.is_displayed().await.ok() == Some(false));
    assert_eq!(
        moderator.count("#cards button.card").await,
        8,
        "a moderator's cards are the point options"
    );
    moderator.click("#start").await;
    wait_story(&voter, &first).await;
    wait_story(&moderator, &first).await;

    // The description is the server's sanitized HTML: markup kept, scripts and handlers gone.
    assert_eq!(
        voter.text("#story-description strong").await,
        "without an account"
    );
    assert_eq!(voter.count("#story-description script").await, 0);
    assert_eq!(voter.count("#story-description [onclick]").await, 0);
    assert_eq!(
        voter.js("return window.__xss === undefined", vec![]).await,
        json!(true),
        "no script from a description ran"
    );

    // bob votes first (over a plain socket): alice sees his card face down, no values.
    let mut bob_ws = server.connect(fixture.id, &bob).await;
    wait_participants(&voter, 3).await;
    wait_participants(&moderator, 3).await;
    bob_ws
        .send_event("vote_submitted", json!({"choice": "8"}))
        .await;
    voter.wait_for("#votes .vote-group.face-down").await;
    assert_eq!(voter.count("#votes .vote-group.face-down").await, 1);
    assert!(
        revealed_votes(&voter).await.is_empty(),
        "a voter sees no values before voting"
    );
    assert_eq!(voter.text("#votes .voter-names").await, "bob");
    voter
        .wait_text("#stats", "Vote to see the others' cards.")
        .await;
    // The moderator (who cannot vote) sees the value at once.
    wait_votes(&moderator, &["8: bob"]).await;

    // alice votes with the keyboard: her card is a button.
    let five = voter.find("#cards button.card[data-option='5']").await;
    five.send_keys(" ")
        .await
        .expect("press space on the card '5'");
    wait_votes(&voter, &["5: alice", "8: bob"]).await;
    wait_votes(&moderator, &["5: alice", "8: bob"]).await;
    voter.wait_text("#cards-hint", "You voted 5.").await;
    assert_eq!(
        voter
            .find("#cards button.card[data-option='5']")
            .await
            .attr("aria-pressed")
            .await
            .expect("read aria-pressed")
            .as_deref(),
        Some("true")
    );
    assert_eq!(moderator.text("#stat-average").await, "6.5");
    assert_eq!(moderator.text("#stat-median").await, "6.5");
    assert_eq!(moderator.text("#stat-agreement").await, "No agreement yet");
    assert_eq!(voter.text("#votes-count").await, "2 votes");

    // bob changes his mind: everyone agrees.
    bob_ws
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    // Voters keep the place of their first vote: bob voted before alice.
    wait_votes(&voter, &["5: bob, alice"]).await;
    voter.wait_text("#stat-agreement", "Everyone agreed").await;

    // Who is here: the moderator opens the list.
    moderator.click("#participants-toggle").await;
    moderator.wait_visible("#participants-panel").await;
    let people = moderator.texts("#participants-list .participant").await;
    assert_eq!(
        people,
        vec![
            "aliceVoter".to_string(),
            "bobVoter".to_string(),
            "carol (you)Moderator".to_string()
        ],
        "names and roles"
    );

    // Screenshots: both roles, light and dark, laptop and phone.
    for (browser, role) in [(&voter, "voter"), (&moderator, "moderator")] {
        browser.js("document.activeElement.blur()", vec![]).await;
        for dark in [false, true] {
            browser.set_dark(dark).await;
            let scheme = if dark { "dark" } else { "light" };
            browser
                .screenshot(&format!("session-{role}-laptop-{scheme}"))
                .await;
        }
    }
    moderator.click("#participants-toggle").await;
    moderator.wait_hidden("#participants-panel").await;
    voter.set_size(Size::Phone).await;
    for dark in [false, true] {
        voter.set_dark(dark).await;
        let scheme = if dark { "dark" } else { "light" };
        voter
            .screenshot(&format!("session-voter-phone-{scheme}"))
            .await;
    }
    voter.set_dark(false).await;
    moderator.set_dark(false).await;

    // The moderator's click on a point card sets the points and moves on, in both browsers.
    moderator.click("#cards button.card[data-option='5']").await;
    wait_story(&moderator, &second).await;
    wait_story(&voter, &second).await;
    voter
        .wait_text("#stories-list .story-item.estimated .badge", "5")
        .await;
    assert_eq!(
        story_points(&voter).await,
        vec!["5".to_string(), "now".to_string(), "–".to_string()]
    );
    voter
        .wait_text("#stories-progress", "1 of 3 estimated")
        .await;
    voter.wait_text("#votes", "No votes yet.").await;
    voter.wait_gone("#cards button.card.selected").await;
    moderator
        .wait_text("#toasts", "5 points set for SHOP-1: Guest checkout.")
        .await;

    // Votes, then the moderator sets the points from the votes overview.
    bob_ws
        .send_event("vote_submitted", json!({"choice": "3"}))
        .await;
    voter.click("#cards button.card[data-option='13']").await;
    wait_votes(&moderator, &["3: bob", "13: alice"]).await;
    moderator
        .click("#votes button.card[data-option='13']")
        .await;
    wait_story(&voter, &third).await;
    wait_story(&moderator, &third).await;
    voter
        .wait_text("#story-description", "No description.")
        .await;

    // The moderator may also pick any story from the overview, and reset the votes.
    moderator
        .click(&format!(
            "#stories-list [data-story-id='{}'] button",
            fixture.stories[0].0
        ))
        .await;
    wait_story(&voter, &first).await;
    voter
        .click("#cards button.card[data-option='Too large']")
        .await;
    // The story's earlier votes are still there (ties in the deck's order).
    wait_votes(&moderator, &["5: bob", "Too large: alice"]).await;
    moderator.click("#reset").await;
    voter.wait_text("#votes", "No votes yet.").await;
    moderator.wait_text("#votes", "No votes yet.").await;
    moderator
        .click(&format!(
            "#stories-list [data-story-id='{}'] button",
            fixture.stories[2].0
        ))
        .await;
    wait_story(&voter, &third).await;

    // The last story: the session ends and everyone is taken to the redirect URL ("/").
    moderator.click("#cards button.card[data-option='2']").await;
    voter.wait_path("/").await;
    moderator.wait_path("/").await;
    voter
        .wait_text("#flash", "The session “Sprint 12” has ended.")
        .await;
    voter
        .wait_text("#sessions-status", "no open sessions")
        .await;
    drop(bob_ws);

    voter.assert_no_console_errors().await;
    moderator.assert_no_console_errors().await;
    voter.close().await;
    moderator.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voting_moderator_votes_first_and_a_spectator_sees_no_cards() {
    let server = Server::start(Backend::Sqlite).await;
    let proxy = Proxy::start(server.port()).await;
    let dana = server.create_user("dana", Rights::VoterModerator).await;
    let sam = server.create_user("sam", Rights::Spectator).await;
    let fixture = create_fixture(&server).await;
    let (first, second) = (&fixture.stories[0].1, &fixture.stories[1].1);

    let lead = open_session(&proxy.base_url(), &dana, fixture.id).await;
    let watcher = open_session(&proxy.base_url(), &sam, fixture.id).await;
    wait_participants(&lead, 2).await;
    lead.click("#start").await;
    wait_story(&watcher, first).await;

    // The spectator has no cards, only a note.
    assert_eq!(watcher.count("#cards button").await, 0);
    watcher.wait_hidden("#voting").await;
    watcher.wait_visible("#spectator-note").await;
    watcher
        .wait_text("#spectator-note", "spectators do not vote")
        .await;
    assert_eq!(watcher.count("#stories-list button").await, 0);
    assert!(
        watcher
            .find("#moderator-controls")
            .await
            .is_displayed()
            .await
            .ok()
            == Some(false)
    );

    // The voting moderator's cards vote; the point buttons appear once they have voted.
    assert_eq!(lead.count("#cards button.card").await, 10);
    lead.wait_visible("#moderator-controls").await;
    lead.wait_hidden("#points-row").await;
    lead.click("#cards button.card[data-option='3']").await;
    lead.wait_visible("#points-row").await;
    wait_votes(&lead, &["3: dana"]).await;
    wait_votes(&watcher, &["3: dana"]).await;

    // Reset clears the votes everywhere; voting again brings the point buttons back.
    lead.click("#reset").await;
    watcher.wait_text("#votes", "No votes yet.").await;
    lead.wait_hidden("#points-row").await;
    lead.click("#cards button.card[data-option='8']").await;
    wait_votes(&watcher, &["8: dana"]).await;
    lead.click("#points-buttons button[data-option='8']").await;
    wait_story(&watcher, second).await;
    wait_story(&lead, second).await;
    watcher
        .wait_text("#stories-list .story-item.estimated .badge", "8")
        .await;
    lead.wait_hidden("#points-row").await;

    for dark in [false, true] {
        let scheme = if dark { "dark" } else { "light" };
        watcher.set_dark(dark).await;
        watcher.set_size(Size::Phone).await;
        watcher
            .screenshot(&format!("session-spectator-phone-{scheme}"))
            .await;
    }
    lead.assert_no_console_errors().await;
    watcher.assert_no_console_errors().await;
    lead.close().await;
    watcher.close().await;
}

/// Errors a page may report while its server is away: failed connections and loads.
fn unexpected_errors(errors: Vec<String>) -> Vec<String> {
    errors
        .into_iter()
        .filter(|e| {
            !(e.contains("WebSocket connection to")
                || e.contains("Failed to load resource")
                || e.contains("net::ERR_"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_recovers_after_the_server_restarts() {
    let mut server = Server::start(Backend::Sqlite).await;
    let proxy = Proxy::start(server.port()).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let carol = server.create_user("carol", Rights::Moderator).await;
    let fixture = create_fixture(&server).await;
    let first = &fixture.stories[0].1;

    let voter = open_session(&proxy.base_url(), &alice, fixture.id).await;
    let moderator = open_session(&proxy.base_url(), &carol, fixture.id).await;
    wait_participants(&voter, 2).await;
    moderator.click("#start").await;
    wait_story(&voter, first).await;
    voter.click("#cards button.card[data-option='3']").await;
    wait_votes(&moderator, &["3: alice"]).await;

    // The server goes away (the proxy still points at the old, dead port).
    server.restart().await;
    for browser in [&voter, &moderator] {
        browser.wait_for("#conn[data-state=reconnecting]").await;
        browser.wait_visible("#banner").await;
        browser.wait_text("#banner", "Reconnecting").await;
        browser
            .wait_js(
                "document.querySelectorAll('#cards button.card:not(:disabled)').length === 0",
                vec![],
                "the cards disabled while offline",
            )
            .await;
    }
    voter.screenshot("session-reconnecting").await;
    // Meanwhile a story is added: the page must show it after reconnecting (REST re-fetch).
    server
        .admin()
        .await
        .post(
            &format!("/api/sessions/{}/stories", fixture.id),
            json!({"ticket_number": "SHOP-4", "title": "Wish list"}),
        )
        .await
        .expect_status(201, "add a story while the pages are offline");

    // Back at the same address: both pages reconnect by themselves, no reload.
    proxy.retarget(server.port());
    voter.js("window.__sameDocument = true", vec![]).await;
    for browser in [&voter, &moderator] {
        browser
            .wait_js_within(
                "document.querySelector('#conn').dataset.state === 'open'",
                vec![],
                "the page to reconnect",
                std::time::Duration::from_secs(30),
            )
            .await;
        browser.wait_hidden("#banner").await;
        wait_story(browser, first).await;
        wait_participants(browser, 2).await;
        browser
            .wait_text("#stories-list", "SHOP-4: Wish list")
            .await;
    }
    wait_votes(&voter, &["3: alice"]).await;
    assert_eq!(
        voter
            .js("return window.__sameDocument === true", vec![])
            .await,
        json!(true),
        "the page was not reloaded"
    );

    // And it works as before.
    voter.click("#cards button.card[data-option='5']").await;
    wait_votes(&moderator, &["5: alice"]).await;

    // The participants list changes when a browser leaves.
    let leaving_errors = unexpected_errors(voter.console_errors().await);
    voter.close().await;
    wait_participants(&moderator, 1).await;
    moderator.click("#participants-toggle").await;
    assert_eq!(
        moderator.texts("#participants-list .participant").await,
        vec!["carol (you)Moderator".to_string()]
    );

    assert!(
        leaving_errors.is_empty(),
        "the voter's page reported errors: {leaving_errors:?}"
    );
    let errors = unexpected_errors(moderator.console_errors().await);
    assert!(
        errors.is_empty(),
        "the moderator's page reported errors: {errors:?}"
    );
    moderator.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_login_says_so_and_leads_back() {
    let server = Server::start(Backend::Sqlite).await;
    let proxy = Proxy::start(server.port()).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let fixture = create_fixture(&server).await;
    let page = format!("/sessions/{}", fixture.id);

    let browser = open_session(&proxy.base_url(), &alice, fixture.id).await;
    // The login ends elsewhere (another tab logs out): the server closes the socket with 4001,
    // and the page says so without retrying (the proxy cut makes sure no socket survives).
    browser
        .js(
            "return fetch('/api/auth/logout', {method: 'POST'}).then(r => r.status)",
            vec![],
        )
        .await;
    proxy.cut();
    browser.wait_for("#conn[data-state=expired]").await;
    browser
        .wait_text("#banner", "Your login has expired.")
        .await;
    browser.screenshot("session-login-expired").await;
    let link = browser.find("#login-again").await;
    assert_eq!(
        link.attr("href").await.expect("read href").as_deref(),
        Some(format!("/login?next={}", crate::support::browser::url_encode(&page)).as_str())
    );
    link.click().await.expect("click 'Log in again'");
    browser.wait_for("#login-form").await;
    browser.fill("#username", &alice.username).await;
    browser.fill("#password", &alice.password).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_path(&page).await;
    browser.wait_for("#conn[data-state=open]").await;
    wait_participants(&browser, 1).await;

    let errors = unexpected_errors(browser.console_errors().await);
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
    browser.close().await;
}
