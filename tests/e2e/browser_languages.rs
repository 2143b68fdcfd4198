//! The web UI's languages (English, German, French, Spanish): chosen from the browser's
//! preferred languages, switchable in the footer (and remembered), with a preset deck's "Too
//! large" and "No idea" translated while a custom deck's options stay as typed. Two browsers at
//! once: a German one and an English one that switches to Spanish, then to French.

use serde_json::json;

use crate::support::browser::{wait_story, Browser};
use crate::support::{Backend, Rights, Server};

/// The texts of the voting cards, in order.
async fn card_texts(browser: &Browser) -> Vec<String> {
    browser.texts("#cards button.card .card-value").await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_speaks_the_browsers_language_and_switches_on_request() {
    let server = Server::start(Backend::Sqlite).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bruno = server.create_user("bruno", Rights::Voter).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let preset = server.create_session("Preset", &[("L-1", "Login")]).await;
    let custom = server
        .admin()
        .await
        .post(
            "/api/sessions",
            json!({"name": "Custom", "poker_date": "2026-12-01",
                   "deck": {"points": ["1", "2"], "others": ["No idea", "☕"]}}),
        )
        .await
        .expect_status(201, "a session with a custom deck");
    let mut mod_ws = server.connect(preset.id, &mia).await;
    mod_ws.expect_event("participants_changed").await;
    mod_ws
        .send_event(
            "next_story_requested",
            json!({"story_id": preset.stories[0].id}),
        )
        .await;
    mod_ws
        .find_event("story_changed", std::time::Duration::from_secs(5))
        .await;

    // A browser that prefers German gets German, cards included.
    let german = Browser::start_in("bruno", "de-DE").await;
    german
        .login(
            &server.base_url(),
            &bruno.username,
            &bruno.password,
            &format!("/sessions/{}", preset.id),
        )
        .await;
    german.wait_for("#conn[data-state=open]").await;
    wait_story(&german, &preset.stories[0].label).await;
    german.wait_text("#cards-heading", "Deine Stimme").await;
    assert_eq!(
        german
            .js("return document.documentElement.lang", vec![])
            .await,
        json!("de")
    );
    let cards = card_texts(&german).await;
    assert_eq!(&cards[8..], ["Zu groß", "Keine Ahnung"], "{cards:?}");
    // The card still votes the deck's option itself.
    german
        .click("#cards button.card[data-option='No idea']")
        .await;
    german
        .wait_text("#cards-hint", "Du hast Keine Ahnung gewählt.")
        .await;
    let votes = server.votes_as(&mia, preset.stories[0].id).await;
    assert_eq!(votes["votes"], json!({"No idea": [bruno.voter()]}));

    // An English browser, switched to Spanish in the footer: remembered across pages.
    let english = Browser::start("alice").await;
    english
        .login(
            &server.base_url(),
            &alice.username,
            &alice.password,
            &format!("/sessions/{}", preset.id),
        )
        .await;
    english.wait_for("#conn[data-state=open]").await;
    english.wait_text("#cards-heading", "Your vote").await;
    assert_eq!(&card_texts(&english).await[8..], ["Too large", "No idea"]);
    english
        .js(
            "const s = document.querySelector('#language'); s.value = 'es'; \
             s.dispatchEvent(new Event('change')); return true;",
            vec![],
        )
        .await;
    english.wait_text("#cards-heading", "Tu voto").await;
    english.wait_for("#conn[data-state=open]").await;
    assert_eq!(
        &card_texts(&english).await[8..],
        ["Demasiado grande", "Ni idea"]
    );
    english.goto(&format!("{}/", server.base_url())).await;
    english.wait_text("h1", "Sesiones abiertas").await;

    // French, on the custom deck: its options stay as typed.
    english
        .js(
            "const s = document.querySelector('#language'); s.value = 'fr'; \
             s.dispatchEvent(new Event('change')); return true;",
            vec![],
        )
        .await;
    english.wait_text("h1", "Sessions ouvertes").await;
    english
        .goto(&format!("{}/sessions/{}", server.base_url(), custom["id"]))
        .await;
    english.wait_for("#conn[data-state=open]").await;
    english.wait_text("#cards-heading", "Votre vote").await;
    assert_eq!(card_texts(&english).await, ["1", "2", "No idea", "☕"]);

    // The German page is untouched by the other browser's choice.
    german.reload().await;
    german.wait_text("#cards-heading", "Deine Stimme").await;

    german.assert_no_console_errors().await;
    english.assert_no_console_errors().await;
    german.close().await;
    english.close().await;
}
