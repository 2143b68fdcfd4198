//! The web pages' small manners: `/favicon.ico` is served, and `/login` sends someone who is
//! already logged in straight on.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::redirect::Policy;

use crate::support::{Backend, Server, ADMIN_PASSWORD};

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .build()
        .expect("build the HTTP client")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_favicon_is_an_icon() {
    let server = Server::start(Backend::Sqlite).await;
    let response = no_redirects()
        .get(format!("{}/favicon.ico", server.base_url()))
        .send()
        .await
        .expect("GET /favicon.ico");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[CONTENT_TYPE].to_str().unwrap(),
        "image/x-icon"
    );
    let body = response.bytes().await.expect("the icon's bytes");
    // An ICO header (reserved 0, type 1) with three images, the first a PNG.
    assert_eq!(
        &body[..6],
        &[0, 0, 1, 0, 3, 0],
        "an ICO file with three icons"
    );
    let offset = u32::from_le_bytes(body[18..22].try_into().unwrap()) as usize;
    assert_eq!(&body[offset..offset + 8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_page_sends_a_logged_in_user_straight_on() {
    let server = Server::start(Backend::Sqlite).await;
    let client = no_redirects();
    let login_page = |query: &str| format!("{}/login{query}", server.base_url());

    // Not logged in: the form.
    let response = client.get(login_page("")).send().await.expect("GET /login");
    assert_eq!(response.status(), 200);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    let cookie = server
        .login("admin", ADMIN_PASSWORD)
        .await
        .cookie_header()
        .expect("the login sets a cookie");
    for (query, target) in [
        ("", "/"),
        ("?next=%2Fsessions%2F3", "/sessions/3"),
        ("?next=/admin%3Ftab%3Dusers", "/admin?tab=users"),
        // Another site is never a target.
        ("?next=%2F%2Fevil.example%2F", "/"),
        ("?next=%2F%5Cevil.example", "/"),
        ("?next=https%3A%2F%2Fevil.example%2F", "/"),
    ] {
        let response = client
            .get(login_page(query))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("GET /login logged in");
        assert_eq!(response.status(), 303, "/login{query} when logged in");
        assert_eq!(
            response.headers()[LOCATION].to_str().unwrap(),
            target,
            "/login{query} goes on to {target}"
        );
    }

    // A cookie that is no login (anymore) gets the form again.
    let response = client
        .get(login_page("?next=%2Fadmin"))
        .header(COOKIE, "poker_login=forged")
        .send()
        .await
        .expect("GET /login with a forged cookie");
    assert_eq!(response.status(), 200);
}
