//! Rounds in the web UI (README, "Reveal and abstaining"), two browsers at once: a voter and a
//! moderator who also votes, on a session whose votes are shown when the moderator reveals them
//! (later, when everyone is done); a third voter on a plain socket says they do not vote; a
//! quick round; countdowns, one of them across a page reload. SQLite only: the page is under test.

use serde_json::json;

use crate::support::admin::AdminHttp;
use crate::support::browser::{
    open_session, revealed_votes, wait_participants, wait_story, wait_votes,
};
use crate::support::{Backend, Rights, Server};

#[tokio::test(flavor = "multi_thread")]
async fn a_moderator_reveals_the_votes_and_an_abstention_shows_on_every_screen() {
    let server = Server::start(Backend::Sqlite).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let carol = server.create_user("carol", Rights::VoterModerator).await;
    let session = server
        .create_session("Reveal", &[("RV-1", "Search"), ("RV-2", "Filters")])
        .await;
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/sessions/{}", session.id),
            json!({"reveal": "moderator", "auto_reveal": false}),
        )
        .await
        .expect_status(200, "votes shown when the moderator reveals them");
    let first = session.stories[0].label.clone();

    let voter = open_session(&server.base_url(), &alice, session.id).await;
    let moderator = open_session(&server.base_url(), &carol, session.id).await;
    let mut bob_ws = server.connect(session.id, &bob).await;
    wait_participants(&voter, 3).await;
    wait_participants(&moderator, 3).await;
    moderator.click("#start").await;
    wait_story(&voter, &first).await;
    wait_story(&moderator, &first).await;
    for page in [&voter, &moderator] {
        page.wait_visible("#abstain").await;
        page.wait_text(
            "#round-state",
            "Cards stay face down until they are revealed.",
        )
        .await;
    }
    moderator.wait_visible("#reveal").await;
    assert!(
        voter.find("#reveal").await.is_displayed().await.ok() == Some(false),
        "a voter has no reveal button"
    );

    // alice votes: her own card stays face down, like everyone's, until the reveal.
    voter.click("#cards button.card[data-option='5']").await;
    voter.wait_for("#votes .vote-group.face-down").await;
    voter
        .wait_text(
            "#stats",
            "The cards are shown when the moderator reveals them, or when everyone is done.",
        )
        .await;
    assert!(
        revealed_votes(&voter).await.is_empty(),
        "no value before the reveal"
    );
    // carol votes too: as a voter she sees nothing either.
    moderator.click("#cards button.card[data-option='8']").await;
    moderator
        .wait_js(
            "document.querySelectorAll('#votes .vote-group.face-down').length === 2",
            vec![],
            "two face-down cards on the moderator's page",
        )
        .await;
    assert!(revealed_votes(&moderator).await.is_empty());

    // bob says he does not vote on this one: both pages name him.
    bob_ws.send_event("abstain", json!({})).await;
    for page in [&voter, &moderator] {
        page.wait_text("#abstained", "Not voting: bob").await;
    }

    // The moderator reveals: both pages turn the cards.
    moderator.click("#reveal").await;
    for page in [&voter, &moderator] {
        wait_votes(page, &["5: alice", "8: carol"]).await;
        page.wait_text("#round-state", "The cards are revealed.")
            .await;
    }
    moderator
        .wait_js(
            "document.querySelector('#reveal').disabled",
            vec![],
            "reveal done",
        )
        .await;

    // alice changes her mind and does not vote after all: her card goes, her name moves.
    voter.click("#abstain").await;
    voter
        .wait_text("#abstained", "Not voting: bob, alice")
        .await;
    voter
        .wait_js(
            "document.querySelector('#abstain').getAttribute('aria-pressed') === 'true'",
            vec![],
            "the abstain button pressed",
        )
        .await;
    voter
        .wait_text(
            "#cards-hint",
            "You are not voting on this story. Pick a card if you change your mind.",
        )
        .await;
    wait_votes(&moderator, &["8: carol"]).await;

    // A reset starts the round over: face down again, nobody abstaining.
    moderator.click("#reset").await;
    for page in [&voter, &moderator] {
        page.wait_hidden("#abstained").await;
        page.wait_text(
            "#round-state",
            "Cards stay face down until they are revealed.",
        )
        .await;
    }
    let stored = server.votes_as(&carol, session.stories[0].id).await;
    assert_eq!(stored["abstained"], json!([]));
    assert_eq!(stored["revealed"], false);

    // A quick round: the moderator estimates something that is no story yet.
    assert!(
        voter.find("#quick-round").await.is_displayed().await.ok() == Some(false),
        "a voter cannot start a quick round"
    );
    moderator.click("#quick-round").await;
    for page in [&voter, &moderator] {
        page.wait_js(
            "/^Quick round \\d{2}:\\d{2}$/.test(document.querySelector('#story-label').textContent) \
             && document.querySelectorAll('#stories-list .story-item').length === 3 \
             && document.querySelector('#stories-list .story-item:last-child').classList.contains('active')",
            vec![],
            &format!("{}: the quick round, last in the list and active", page.name()),
        )
        .await;
    }
    voter.click("#cards button.card[data-option='3']").await;
    voter.wait_for("#votes .vote-group.face-down").await;
    let stories = server.stories(session.id).await;
    assert_eq!(
        stories.len(),
        3,
        "the quick round is a story of the session"
    );

    // A countdown (two seconds here: the page offers 30 s and more) on every screen; when it
    // runs out, the server reveals the round.
    moderator
        .js(
            "const s = document.querySelector('#timer-seconds'); \
             s.append(new Option('0:02', '2')); s.value = '2'; return true;",
            vec![],
        )
        .await;
    moderator.click("#timer-start").await;
    for page in [&voter, &moderator] {
        page.wait_visible("#timer").await;
        page.wait_js(
            "/^0:0[0-2]$/.test(document.querySelector('#timer-left').textContent)",
            vec![],
            &format!("{}: the countdown shows", page.name()),
        )
        .await;
    }
    for page in [&voter, &moderator] {
        page.wait_hidden("#timer").await;
        page.wait_text("#round-state", "The cards are revealed.")
            .await;
        wait_votes(page, &["3: alice"]).await;
    }

    // The server reveals by itself once everyone present is done, when the session says so;
    // and a countdown survives a page reload.
    server
        .admin()
        .await
        .patch_json(
            &format!("/api/sessions/{}", session.id),
            json!({"auto_reveal": true}),
        )
        .await
        .expect_status(200, "the server reveals when everyone is done");
    moderator.click("#reset").await;
    for page in [&voter, &moderator] {
        page.wait_text(
            "#round-state",
            "Cards stay face down until they are revealed.",
        )
        .await;
    }
    moderator
        .js(
            "document.querySelector('#timer-seconds').value = '120'; return true;",
            vec![],
        )
        .await;
    moderator.click("#timer-start").await;
    voter.wait_visible("#timer").await;
    voter.reload().await;
    voter.wait_for("#conn[data-state=open]").await;
    voter.wait_visible("#timer").await;
    voter
        .wait_js(
            "/^(1:[0-5]\\d|2:00)$/.test(document.querySelector('#timer-left').textContent)",
            vec![],
            "the countdown goes on after the reload",
        )
        .await;
    voter.click("#cards button.card[data-option='5']").await;
    moderator.click("#cards button.card[data-option='8']").await;
    voter.wait_for("#votes .vote-group.face-down").await;
    assert!(
        revealed_votes(&voter).await.is_empty(),
        "bob has not said yet: the cards stay down"
    );
    bob_ws.send_event("abstain", json!({})).await;
    for page in [&voter, &moderator] {
        wait_votes(page, &["5: alice", "8: carol"]).await;
        page.wait_text("#round-state", "The cards are revealed.")
            .await;
    }
    moderator.click("#timer-stop").await;
    for page in [&voter, &moderator] {
        page.wait_hidden("#timer").await;
    }

    voter.assert_no_console_errors().await;
    moderator.assert_no_console_errors().await;
    voter.close().await;
    moderator.close().await;
}
