//! Guests by invite link in the web UI, two browsers at once: a moderator makes a link on the
//! poker page, someone without an account opens it, picks a name and votes; the link opened
//! again takes the guest straight in and offers the logged-in moderator their own account;
//! revoking the link sends the guest away. SQLite only: the pages are under test.

use serde_json::json;

use crate::support::browser::{open_session, wait_participants, wait_story, Browser};
use crate::support::{Backend, Rights, Server};

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_joins_through_the_link_a_moderator_made_and_votes() {
    let server = Server::start(Backend::Sqlite).await;
    let carol = server.create_user("carol", Rights::Moderator).await;
    let session = server
        .create_session("Open doors", &[("D-1", "Visitors")])
        .await;
    let label = session.stories[0].label.clone();

    let moderator = open_session(&server.base_url(), &carol, session.id).await;
    moderator.click("#start").await;
    wait_story(&moderator, &label).await;
    moderator.click("#invite-create").await;
    moderator
        .wait_js(
            "document.querySelector('#invite-link').value.includes('/join/')",
            vec![],
            "the invite link",
        )
        .await;
    let link = moderator
        .js(
            "return document.querySelector('#invite-link').value",
            vec![],
        )
        .await;
    let link = link.as_str().expect("a link").to_string();
    assert!(link.starts_with(&server.base_url()), "{link}");
    moderator.wait_for("#invite-list .invite").await;

    // Someone without an account opens it.
    let guest = Browser::start("guest").await;
    guest.goto(&link).await;
    guest
        .wait_text("#join-intro", "You are invited to “Open doors” to vote.")
        .await;
    guest.fill("#name", "Gwen").await;
    guest.click("#join-form button[type=submit]").await;
    guest.wait_path(&format!("/sessions/{}", session.id)).await;
    guest.wait_for("#conn[data-state=open]").await;
    wait_story(&guest, &label).await;
    wait_participants(&moderator, 2).await;
    guest.click("#cards button.card[data-option='5']").await;
    moderator
        .wait_js(
            "[...document.querySelectorAll('#votes .vote-group')].some(g => \
             g.dataset.option === '5' && g.textContent.includes('Gwen'))",
            vec![],
            "the guest's vote on the moderator's page",
        )
        .await;
    // The guest opens the link again: they are in already, and go straight to the session.
    guest.goto(&link).await;
    guest.wait_path(&format!("/sessions/{}", session.id)).await;
    guest.wait_for("#conn[data-state=open]").await;
    // The moderator opens it too: offered to go on with their account, not made a guest (which
    // would log them out).
    moderator.goto(&link).await;
    moderator
        .wait_text(
            "#join-signed-in-text",
            &format!("You are logged in as {}.", carol.username),
        )
        .await;
    moderator.wait_visible("#join-form").await;
    moderator.click("#join-as-self").await;
    moderator
        .wait_path(&format!("/sessions/{}", session.id))
        .await;
    moderator.wait_for("#conn[data-state=open]").await;
    let me = moderator
        .js(
            "return fetch('/api/auth/me').then(r => r.json()).then(u => u.username)",
            vec![],
        )
        .await;
    assert_eq!(me, json!(carol.username), "still logged in as themselves");
    wait_participants(&moderator, 2).await;
    moderator.wait_for("#invite-list .invite").await;

    // Revoking the link ends the guest's visit.
    moderator.click("#invite-list .revoke-invite").await;
    moderator.wait_gone("#invite-list .invite").await;
    guest.wait_visible("#login-again").await;
    wait_participants(&moderator, 1).await;
    let stored = server.votes_as(&carol, session.stories[0].id).await;
    assert_eq!(
        stored["votes"]["5"][0]["name"],
        json!("Gwen"),
        "the vote is kept"
    );

    moderator.assert_no_console_errors().await;
    guest
        .assert_no_console_errors_except(&["401", "WebSocket"])
        .await;
    moderator.close().await;
    guest.close().await;
}
