//! The admin area in a real browser, and the whole way a new team goes: the admin creates the
//! users and a session with three stories (imported from CSV) in the admin area, then two people
//! estimate all three stories in two browsers and land on the end page.

use serde_json::{json, Value};

use crate::support::browser::{Browser, Proxy, Size};
use crate::support::{Backend, Server, ADMIN_PASSWORD};

const CSV: &str = "ticket_number,title,description\n\
                   SHOP-1,Guest checkout,<p>Pay <em>without</em> an account</p>\n\
                   SHOP-2,Gift cards,\"<p>Buy, then redeem</p>\"\n\
                   SHOP-3,Wish list,";

/// Creates a user through the admin area's form.
async fn create_user(admin: &Browser, username: &str, password: &str, vote: bool, moderate: bool) {
    admin.fill("#new-user-form [name=username]", username).await;
    admin.fill("#new-user-form [name=password]", password).await;
    for (name, wanted) in [("can_vote", vote), ("can_moderate", moderate)] {
        let checkbox = admin.find(&format!("#new-user-form [name={name}]")).await;
        let checked = checkbox
            .prop("checked")
            .await
            .expect("read a checkbox")
            .as_deref()
            == Some("true");
        if checked != wanted {
            checkbox.click().await.expect("toggle a checkbox");
        }
    }
    admin.click("#new-user-form button[type=submit]").await;
    admin.wait_text("#users-table", username).await;
}

fn labels(stories: &Value) -> Vec<String> {
    stories
        .as_array()
        .expect("a list of stories")
        .iter()
        .map(|s| s["label"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_team_sets_up_and_estimates_a_session() {
    let server = Server::start(Backend::Sqlite).await;
    let proxy = Proxy::start(server.port()).await;
    let base = proxy.base_url();

    let admin = Browser::start("admin").await;
    admin.login(&base, "admin", ADMIN_PASSWORD, "/admin").await;

    // Users.
    admin.click("#tab-users").await;
    admin.wait_for("#new-user-form").await;
    create_user(&admin, "alice", "alice-password-1", true, false).await;
    create_user(&admin, "carol", "carol-password-1", false, true).await;
    // A taken name is refused, with the server's message.
    admin.fill("#new-user-form [name=username]", "alice").await;
    admin
        .fill("#new-user-form [name=password]", "whatever-123")
        .await;
    admin.click("#new-user-form button[type=submit]").await;
    admin
        .wait_visible(
            "#new-user-form .field-error:not([hidden]), #new-user-form .form-error:not([hidden])",
        )
        .await;
    admin.assert_no_console_errors_except(&["409"]).await;

    // A session.
    admin.click("#tab-sessions").await;
    admin.wait_for("#new-session-form").await;
    // A missing name is shown next to the name field.
    admin.click("#new-session-form button[type=submit]").await;
    admin
        .wait_visible("#new-session-form [data-error-for=name]")
        .await;
    admin.assert_no_console_errors_except(&["422"]).await;
    admin
        .fill("#new-session-form [name=name]", "Sprint 42")
        .await;
    // Votes shown when the moderator reveals them, and never by the server itself.
    admin
        .js(
            "const f = document.querySelector('#new-session-form'); \
             f.elements.reveal.value = 'moderator'; f.elements.auto_reveal.checked = false; \
             return true;",
            vec![],
        )
        .await;
    admin.click("#new-session-form button[type=submit]").await;
    admin.wait_for("#import-form").await;
    admin.wait_text("#stories-heading", "Sprint 42").await;
    let session_id: i64 = admin
        .js("return Number(location.hash.split('/')[1])", vec![])
        .await
        .as_i64()
        .expect("the session's id in the address");
    let created = server.get_session(session_id).await;
    assert_eq!(created["reveal"], "moderator", "the form's reveal rule");
    assert_eq!(created["auto_reveal"], false);

    // Import three stories from CSV.
    admin.fill("#import-form [name=csv]", CSV).await;
    admin.click("#import-form button[type=submit]").await;
    admin
        .wait_text("#import-result", "3 stories imported.")
        .await;
    assert_eq!(admin.count("#stories-table tbody tr").await, 3);

    // Add one by hand, move it up, edit it, then delete it again.
    admin
        .fill("#new-story-form [name=ticket_number]", "SHOP-9")
        .await;
    admin
        .fill("#new-story-form [name=title]", "Temporary")
        .await;
    admin.click("#new-story-form button[type=submit]").await;
    admin.wait_text("#stories-table", "SHOP-9").await;
    let rest = server.admin().await;
    let stories = rest
        .get(&format!("/api/sessions/{session_id}/stories"))
        .await
        .expect_status(200, "list the stories");
    let extra = stories[3]["id"].as_i64().expect("the new story's id");
    admin
        .click(&format!("tr[data-story-id='{extra}'] .move-up"))
        .await;
    admin
        .wait_js(
            "document.querySelectorAll('#stories-table tbody tr')[2]?.dataset.storyId === arguments[0]",
            vec![json!(extra.to_string())],
            "the moved story in third place",
        )
        .await;
    let stories = rest
        .get(&format!("/api/sessions/{session_id}/stories"))
        .await
        .expect_status(200, "list the stories");
    assert_eq!(
        labels(&stories),
        vec![
            "SHOP-1: Guest checkout",
            "SHOP-2: Gift cards",
            "SHOP-9: Temporary",
            "SHOP-3: Wish list"
        ]
    );
    admin
        .click(&format!("tr[data-story-id='{extra}'] .edit"))
        .await;
    admin.fill("#stories-table [name=title]", "Renamed").await;
    admin.click("#stories-table button[type=submit]").await;
    admin.wait_text("#stories-table", "Renamed").await;
    let delete = format!("tr[data-story-id='{extra}'] .button.danger");
    admin.click(&delete).await;
    admin.wait_text(&delete, "Really delete?").await;
    admin.click(&delete).await;
    admin
        .wait_gone(&format!("tr[data-story-id='{extra}']"))
        .await;
    let stories = rest
        .get(&format!("/api/sessions/{session_id}/stories"))
        .await
        .expect_status(200, "list the stories");
    assert_eq!(
        labels(&stories),
        vec![
            "SHOP-1: Guest checkout",
            "SHOP-2: Gift cards",
            "SHOP-3: Wish list"
        ]
    );
    assert_eq!(
        stories[1]["description"],
        json!("<p>Buy, then redeem</p>"),
        "quoted CSV fields keep their commas"
    );

    // The confirmations fade away; the screenshots show the page itself.
    admin
        .wait_js(
            "document.getElementById('toasts').children.length === 0",
            vec![],
            "no toasts",
        )
        .await;
    for dark in [false, true] {
        let scheme = if dark { "dark" } else { "light" };
        admin.set_dark(dark).await;
        admin.set_size(Size::Laptop).await;
        admin
            .screenshot(&format!("admin-stories-laptop-{scheme}"))
            .await;
        admin.set_size(Size::Phone).await;
        admin
            .screenshot(&format!("admin-stories-phone-{scheme}"))
            .await;
    }
    admin.set_dark(false).await;
    admin.set_size(Size::Laptop).await;
    admin.click("a[href='#sessions']").await;
    admin.wait_text("#sessions-table", "Sprint 42").await;
    admin.screenshot("admin-sessions-laptop-light").await;
    admin.assert_no_console_errors().await;
    admin.close().await;

    // Two people, two browsers: they find the session on the index and estimate it.
    let alice = Browser::start("alice").await;
    alice.login(&base, "alice", "alice-password-1", "/").await;
    let carol = Browser::start("carol").await;
    carol.login(&base, "carol", "carol-password-1", "/").await;
    for browser in [&alice, &carol] {
        browser
            .wait_text(".session-link", "3 stories to estimate")
            .await;
        browser.click(".session-link").await;
        browser.wait_path(&format!("/sessions/{session_id}")).await;
        browser.wait_for("#conn[data-state=open]").await;
    }
    alice.wait_text("#participants-count", "2 here").await;
    carol.wait_text("#participants-count", "2 here").await;
    carol.click("#start").await;
    for (label, vote) in [
        ("SHOP-1: Guest checkout", "3"),
        ("SHOP-2: Gift cards", "8"),
        ("SHOP-3: Wish list", "1"),
    ] {
        for browser in [&alice, &carol] {
            browser.wait_text("#story-label", label).await;
        }
        alice
            .click(&format!("#cards button.card[data-option='{vote}']"))
            .await;
        carol
            .wait_for(&format!("#votes button.card[data-option='{vote}']"))
            .await;
        carol
            .click(&format!("#votes button.card[data-option='{vote}']"))
            .await;
    }
    for browser in [&alice, &carol] {
        browser.wait_path("/").await;
        browser
            .wait_text("#flash", "The session “Sprint 42” has ended.")
            .await;
        browser.assert_no_console_errors().await;
    }
    let session = rest
        .get(&format!("/api/sessions/{session_id}"))
        .await
        .expect_status(200, "get the session");
    let points: Vec<Value> = session["stories"]
        .as_array()
        .expect("stories")
        .iter()
        .map(|s| s["story_points"].clone())
        .collect();
    assert_eq!(points, vec![json!(3), json!(8), json!(1)]);
    alice.close().await;
    carol.close().await;
}
