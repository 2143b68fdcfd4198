//! Guests by invite link (README, "Guests by invite link"): a moderator's invite, a guest who
//! joins with a name and sees that one session only, and revoking, which ends their logins and
//! closes their sockets with 4001.

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};

use crate::support::admin::AdminHttp;
use crate::support::{
    assert_participants, handshake_status, with_cookie, Backend, Http, Rights, Server, WsClient,
};

both_backends!(
    a_guest_joins_by_link_votes_and_sees_only_that_session,
    revoking_an_invite_ends_its_guests_logins_and_sockets,
    invites_and_joins_are_checked,
    a_guest_cannot_log_in_with_any_password,
    an_expired_invite_is_closed_and_its_guests_logged_out,
    a_socket_closes_when_its_login_expires,
    the_join_page_knows_who_is_logged_in_and_is_not_shared,
);

/// A guest who joined through `token` with `name`: their client (holding the login cookie) and
/// the answer.
async fn join(server: &Server, token: &str, name: &str) -> (Http, Value) {
    let guest = server.http();
    let joined = guest
        .post(
            &format!("/api/invites/{token}/join"),
            json!({ "name": name }),
        )
        .await
        .expect_status(201, &format!("{name} joins"));
    (guest, joined)
}

/// A socket of the guest's client on `session_id`.
async fn guest_socket(server: &Server, guest: &Http, session_id: i64, name: &str) -> WsClient {
    let cookie = guest
        .cookie_header()
        .expect("the guest holds the login cookie");
    let request = with_cookie(server.ws_request(&server.ws_url(session_id)), &cookie);
    WsClient::connect(request, name)
        .await
        .unwrap_or_else(|e| panic!("{name} connects: {e}"))
}

async fn a_guest_joins_by_link_votes_and_sees_only_that_session(backend: Backend) {
    let server = Server::start(backend).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let ours = server
        .create_session("Ours", &[("G-1", "Guest story")])
        .await;
    let other = server.create_session("Other", &[("O-1", "Secret")]).await;
    let invite = server
        .as_user(&mia)
        .post(&format!("/api/sessions/{}/invites", ours.id), json!({}))
        .await
        .expect_status(201, "a moderator makes an invite");
    assert_eq!(invite["role"], "voter", "voter by default");
    assert_eq!(invite["open"], true);
    let token = invite["token"]
        .as_str()
        .expect("the secret, shown once")
        .to_string();
    assert_eq!(invite["link"], format!("/join/{token}"));
    assert!(token.len() >= 40, "a long random secret: {token}");
    if backend == Backend::Sqlite {
        // Stored as its hash, like tokens: the secret itself is nowhere in the database's files.
        let db = server.sqlite_path();
        for file in [db.clone(), db.with_extension("db-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                    "{} holds the invite's secret",
                    file.display()
                );
            }
        }
    }

    // The link, before joining: anyone may see where it leads.
    let shown = server
        .http()
        .get(&format!("/api/invites/{token}"))
        .await
        .expect_status(200, "the invitation");
    assert_eq!(shown["session_name"], "Ours");
    assert_eq!(shown["role"], "voter");

    let (guest, joined) = join(&server, &token, "Gustav").await;
    assert_eq!(joined["session_id"], ours.id);
    assert_eq!(joined["user"]["username"], "Gustav");
    assert_eq!(joined["user"]["permissions"], json!(["vote"]));
    let me = guest.get("/api/auth/me").await.expect_status(200, "me");
    assert_eq!(me["guest_session_id"], ours.id);
    let gustav = me["id"].as_i64().expect("an id");

    // One session, and nothing else.
    let listed = guest.get("/api/sessions").await.expect_status(200, "list");
    let ids: Vec<i64> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["id"].as_i64())
        .collect();
    assert_eq!(ids, [ours.id], "a guest lists their session only");
    guest
        .get(&format!("/api/sessions/{}", ours.id))
        .await
        .expect_status(200, "their session");
    for path in [
        format!("/api/sessions/{}", other.id),
        format!("/api/sessions/{}/stories", other.id),
        format!("/api/stories/{}", other.stories[0].id),
        format!("/api/stories/{}/votes", other.stories[0].id),
        format!("/api/sessions/{}/export", other.id),
    ] {
        guest.get(&path).await.expect_error(404, &path);
    }
    guest
        .post("/api/auth/tokens", json!({}))
        .await
        .expect_error(403, "a guest makes a bearer token");
    guest.get("/api/users").await.expect_error(403, "users");
    guest
        .get(&format!("/api/sessions/{}/invites", ours.id))
        .await
        .expect_error(403, "a guest lists invites");
    let cookie = guest.cookie_header().expect("cookie");
    assert_eq!(
        handshake_status(with_cookie(
            server.ws_request(&server.ws_url(other.id)),
            &cookie
        ))
        .await,
        404,
        "no socket on another session"
    );

    // On the session's socket like anyone else: in participants_changed, and voting.
    let mut mod_ws = server.connect(ours.id, &mia).await;
    mod_ws.expect_event("participants_changed").await;
    mod_ws
        .send_event(
            "next_story_requested",
            json!({"story_id": ours.stories[0].id}),
        )
        .await;
    mod_ws.expect_event("story_changed").await;
    let mut guest_ws = guest_socket(&server, &guest, ours.id, "Gustav").await;
    guest_ws.expect_event("story_changed").await;
    let participants = guest_ws.expect_event("participants_changed").await;
    let names: Vec<&str> = participants["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["Gustav", "mia"]);
    mod_ws.expect_event("participants_changed").await;
    guest_ws
        .send_event("vote_submitted", json!({"choice": "8"}))
        .await;
    let seen = mod_ws.expect_event("story_changed").await;
    assert_eq!(
        seen["votes"],
        json!({"8": [{"id": gustav, "name": "Gustav"}]})
    );

    // The list shows the invite with its guest, not its secret.
    let invites = server
        .as_user(&mia)
        .get(&format!("/api/sessions/{}/invites", ours.id))
        .await
        .expect_status(200, "the invites");
    assert_eq!(invites[0]["guests"], 1);
    assert!(
        invites[0].get("token").is_none(),
        "the secret is shown once only"
    );
    // A name is one person's: taken names are refused.
    for taken in ["Gustav", "mia"] {
        let error = server
            .http()
            .post(
                &format!("/api/invites/{token}/join"),
                json!({ "name": taken }),
            )
            .await
            .expect_error(422, &format!("join as {taken}"));
        assert_eq!(error["field"], "name");
    }
}

async fn revoking_an_invite_ends_its_guests_logins_and_sockets(backend: Backend) {
    let server = Server::start(backend).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Watched", &[("W-1", "")]).await;
    let invite = server
        .as_user(&mia)
        .post(
            &format!("/api/sessions/{}/invites", session.id),
            json!({"role": "spectator", "expires_in_hours": 2}),
        )
        .await
        .expect_status(201, "a spectators' invite");
    let token = invite["token"].as_str().expect("token").to_string();
    let (guest, joined) = join(&server, &token, "Wanda").await;
    assert_eq!(joined["user"]["permissions"], json!([]), "a spectator");
    let mut mod_ws = server.connect(session.id, &mia).await;
    mod_ws.expect_event("participants_changed").await;
    let mut guest_ws = guest_socket(&server, &guest, session.id, "Wanda").await;
    let data = guest_ws.expect_event("participants_changed").await;
    assert_eq!(data["participants"].as_array().map(Vec::len), Some(2));
    mod_ws.expect_event("participants_changed").await;
    mod_ws
        .send_event(
            "next_story_requested",
            json!({"story_id": session.stories[0].id}),
        )
        .await;
    mod_ws.expect_event("story_changed").await;
    guest_ws.expect_event("story_changed").await;
    guest_ws
        .send_event("vote_submitted", json!({"choice": "3"}))
        .await;
    guest_ws.expect_error("forbidden").await;

    server
        .as_user(&mia)
        .delete_at(&format!(
            "/api/sessions/{}/invites/{}",
            session.id, invite["id"]
        ))
        .await
        .expect_status(204, "revoke");
    assert_eq!(
        guest_ws.expect_close_code().await,
        4001,
        "the guest's socket ends"
    );
    let data = mod_ws.expect_event("participants_changed").await;
    assert_participants(&data, &[&mia]);
    guest
        .get("/api/auth/me")
        .await
        .expect_error(401, "the guest's login ended");
    assert_invite_closed(&server, &token, "revoked").await;
    let invites = server
        .as_user(&mia)
        .get(&format!("/api/sessions/{}/invites", session.id))
        .await
        .expect_status(200, "the invites");
    assert_eq!(invites[0]["open"], false);
    assert!(invites[0]["revoked_at"].is_string());
    // Revoking again changes nothing.
    server
        .as_user(&mia)
        .delete_at(&format!(
            "/api/sessions/{}/invites/{}",
            session.id, invite["id"]
        ))
        .await
        .expect_status(204, "revoke again");
}

async fn invites_and_joins_are_checked(backend: Backend) {
    let server = Server::start(backend).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let session = server.create_session("Checked", &[]).await;
    let path = format!("/api/sessions/{}/invites", session.id);
    let host = server.as_user(&mia);
    for (body, field) in [
        (json!({"role": "admin"}), "role"),
        (json!({"role": 1}), "role"),
        (json!({"expires_in_hours": 0}), "expires_in_hours"),
        (json!({"expires_in_hours": 721}), "expires_in_hours"),
    ] {
        let error = host
            .post(&path, body.clone())
            .await
            .expect_error(422, &format!("{body}"));
        assert_eq!(error["field"], field, "{body}");
    }
    server
        .as_user(&alice)
        .post(&path, json!({}))
        .await
        .expect_error(403, "a voter invites");
    server
        .http()
        .post(&path, json!({}))
        .await
        .expect_error(401, "nobody invites");
    host.post("/api/sessions/987654/invites", json!({}))
        .await
        .expect_error(404, "an invite to no session");
    host.delete_at(&format!("{path}/987654"))
        .await
        .expect_error(404, "revoke no invite");
    assert_eq!(
        host.get(&path).await.expect_status(200, "list"),
        json!([]),
        "nothing was made"
    );
    let invite = host
        .post(&path, json!({}))
        .await
        .expect_status(201, "an invite");
    let token = invite["token"].as_str().expect("token");
    for (body, what) in [
        (json!({}), "no name"),
        (json!({"name": ""}), "an empty name"),
        (json!({"name": "x".repeat(151)}), "a long name"),
        (json!({"name": 7}), "a number"),
    ] {
        let error = server
            .http()
            .post(&format!("/api/invites/{token}/join"), body)
            .await
            .expect_error(422, what);
        assert_eq!(error["field"], "name", "{what}");
    }
    // An invite lets in 100 guests at most: a link that leaked makes no more users.
    for i in 0..100 {
        join(&server, token, &format!("guest-{i}")).await;
    }
    let full = server
        .http()
        .post(
            &format!("/api/invites/{token}/join"),
            json!({"name": "one-too-many"}),
        )
        .await
        .expect_error(409, "the 101st guest");
    assert!(
        full["message"]
            .as_str()
            .unwrap_or_default()
            .contains("100 guests"),
        "{full}"
    );
    server
        .http()
        .get("/api/invites/not-a-real-invite")
        .await
        .expect_error(404, "an unknown invite");
    server
        .http()
        .post(
            "/api/invites/not-a-real-invite/join",
            json!({"name": "Nobody"}),
        )
        .await
        .expect_error(404, "join through an unknown invite");
}

/// A socket lives no longer than the login it was opened with: a guest's socket opened three
/// seconds before their login expires (the stored expiry moved there) is closed with 4001 at
/// the expiry, while the moderator's socket (a bearer token, which does not expire) stays and
/// sees the guest leave.
async fn a_socket_closes_when_its_login_expires(backend: Backend) {
    let server = Server::start(backend).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Timed", &[]).await;
    let invite = server
        .as_user(&mia)
        .post(&format!("/api/sessions/{}/invites", session.id), json!({}))
        .await
        .expect_status(201, "an invite");
    let (guest, joined) = join(&server, invite["token"].as_str().expect("token"), "Cinder").await;
    let guest_id = joined["user"]["id"].as_i64().expect("the guest's id");
    let expires = chrono::Utc::now().timestamp() + 3;
    db_execute(
        &server,
        &format!("UPDATE tokens SET expires_at = {expires} WHERE user_id = {guest_id}"),
    )
    .await;
    let mut mod_ws = server.connect(session.id, &mia).await;
    let mut guest_ws = guest_socket(&server, &guest, session.id, "Cinder").await;
    await_names(&mut mod_ws, &["Cinder", "mia"]).await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    let code = loop {
        use tokio_tungstenite::tungstenite::Message;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match guest_ws.next_raw(left).await {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(Message::Close(None))) => panic!("closed without a code"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the guest's socket failed before closing: {e}"),
            None => panic!("the guest's socket outlived its login"),
        }
    };
    assert_eq!(code, 4001, "the login ended");
    assert!(
        chrono::Utc::now().timestamp() >= expires,
        "not closed before the login expired"
    );
    await_names(&mut mod_ws, &["mia"]).await;
}

/// Reads `participants_changed` frames until one names exactly `names` (sorted).
async fn await_names(client: &mut WsClient, names: &[&str]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let data = client.find_event("participants_changed", left).await;
        let got: Vec<&str> = data["participants"]
            .as_array()
            .expect("participants")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        if got == names {
            return;
        }
    }
}

/// The join page is told who is logged in on the browser (so that its script offers an account
/// holder their own account rather than logging them out, and sends a guest of the session
/// straight in); since it names them, no shared cache may keep it.
async fn the_join_page_knows_who_is_logged_in_and_is_not_shared(backend: Backend) {
    let server = Server::start(backend).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Doorway", &[]).await;
    let invite = server
        .as_user(&mia)
        .post(&format!("/api/sessions/{}/invites", session.id), json!({}))
        .await
        .expect_status(201, "an invite");
    let token = invite["token"].as_str().expect("token");
    let (guest, _) = join(&server, token, "Wren").await;
    let mia_login = server.login(&mia.username, &mia.password).await;
    let page = |cookie: Option<String>| {
        let url = format!("{}/join/{token}", server.base_url());
        async move {
            let mut request = reqwest::Client::new().get(url);
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            let answer = request.send().await.expect("the join page");
            assert_eq!(answer.status(), 200);
            let cache = answer.headers()["cache-control"]
                .to_str()
                .expect("text")
                .to_string();
            (cache, answer.text().await.expect("the page"))
        }
    };
    for (cookie, signed_in_as, guest_of) in [
        (None, String::new(), String::new()),
        (
            mia_login.cookie_header(),
            mia.username.clone(),
            String::new(),
        ),
        (
            guest.cookie_header(),
            "Wren".to_string(),
            session.id.to_string(),
        ),
    ] {
        let (cache, html) = page(cookie).await;
        assert!(cache.contains("private"), "{cache}");
        assert!(
            html.contains(&format!(
                "data-signed-in-as=\"{signed_in_as}\" data-guest-of=\"{guest_of}\""
            )),
            "the page names {signed_in_as:?} (guest of {guest_of:?})"
        );
    }
}

/// A closed invite (`why`: revoked, expired) leads nowhere: its link and its join answer 404.
async fn assert_invite_closed(server: &Server, token: &str, why: &str) {
    server
        .http()
        .get(&format!("/api/invites/{token}"))
        .await
        .expect_error(404, &format!("the {why} invite"));
    server
        .http()
        .post(
            &format!("/api/invites/{token}/join"),
            json!({"name": "Latecomer"}),
        )
        .await
        .expect_error(404, &format!("join through the {why} invite"));
}

/// Runs `sql` (statements both backends take) on the server's database, directly.
async fn db_execute(server: &Server, sql: &str) {
    let (url, path, sql) = (
        server.database_url().to_string(),
        server.sqlite_path(),
        sql.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        if url.starts_with("postgres") {
            diesel::PgConnection::establish(&url)
                .expect("connect to PostgreSQL")
                .batch_execute(&sql)
        } else {
            // The server may hold the write lock a moment: wait for it rather than fail.
            diesel::SqliteConnection::establish(&path.to_string_lossy())
                .expect("open the SQLite file")
                .batch_execute(&format!("PRAGMA busy_timeout = 5000; {sql}"))
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
    .await
    .expect("the statements ran");
}

/// The one text column `value` of the first row `query` answers, read from the server's
/// database directly.
async fn db_text(server: &Server, query: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let (url, path, query) = (
        server.database_url().to_string(),
        server.sqlite_path(),
        query.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        let sql = diesel::sql_query(&query);
        let rows: Vec<Row> = if url.starts_with("postgres") {
            let mut conn = diesel::PgConnection::establish(&url).expect("connect to PostgreSQL");
            sql.load(&mut conn)
        } else {
            let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                .expect("open the SQLite file");
            sql.load(&mut conn)
        }
        .unwrap_or_else(|e| panic!("{query}: {e}"));
        rows.into_iter()
            .next()
            .unwrap_or_else(|| panic!("{query}: no row"))
            .value
    })
    .await
    .expect("the query ran")
}

/// A guest has no password: no password at all logs them in, not even an empty one or the
/// placeholder stored in their password column. Their invite's login is the only way in.
async fn a_guest_cannot_log_in_with_any_password(backend: Backend) {
    let server = Server::start(backend).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Closed door", &[]).await;
    let invite = server
        .as_user(&mia)
        .post(&format!("/api/sessions/{}/invites", session.id), json!({}))
        .await
        .expect_status(201, "an invite");
    let token = invite["token"].as_str().expect("token");
    let (guest, joined) = join(&server, token, "Gustav").await;
    let id = joined["user"]["id"].as_i64().expect("the guest's id");
    let stored = db_text(
        &server,
        &format!("SELECT password_hash AS value FROM users WHERE id = {id}"),
    )
    .await;
    // Four attempts at most: the fifth failure for one name starts the login throttle.
    let mut passwords = vec![String::new(), "!guest".to_string(), "Gustav".to_string()];
    if !passwords.contains(&stored) {
        passwords.push(stored.clone());
    }
    for password in &passwords {
        let attempt = server.http();
        attempt
            .post(
                "/api/auth/login",
                json!({"username": "Gustav", "password": password}),
            )
            .await
            .expect_error(
                401,
                &format!("Gustav logs in with the password {password:?}"),
            );
        assert!(
            attempt.cookie_header().is_none(),
            "a refused login sets no cookie (password {password:?})"
        );
    }
    // Their own login, the invite's, still works.
    let me = guest.get("/api/auth/me").await.expect_status(200, "me");
    assert_eq!(me["id"], id);
    assert_eq!(me["guest_session_id"], session.id);
}

/// An invite is open until it expires (1 hour at least, so the test moves the stored times an
/// hour and more into the past): then its link leads nowhere, and the logins of the guests it
/// let in, which end when it does, end. The server looks every token up in the database on
/// every request and handshake (no cache of identities), so the edit shows at once.
async fn an_expired_invite_is_closed_and_its_guests_logged_out(backend: Backend) {
    let server = Server::start(backend).await;
    let mia = server.create_user("mia", Rights::Moderator).await;
    let session = server.create_session("Short-lived", &[]).await;
    let invite = server
        .as_user(&mia)
        .post(
            &format!("/api/sessions/{}/invites", session.id),
            json!({"expires_in_hours": 1}),
        )
        .await
        .expect_status(201, "a one-hour invite");
    let token = invite["token"].as_str().expect("token").to_string();
    let (guest, joined) = join(&server, &token, "Ephemera").await;
    let guest_id = joined["user"]["id"].as_i64().expect("the guest's id");
    guest
        .get("/api/auth/me")
        .await
        .expect_status(200, "the guest is logged in");
    guest_socket(&server, &guest, session.id, "Ephemera")
        .await
        .close()
        .await;

    // The guest's login ends when the invite does, to the second.
    let invite_expires = db_text(
        &server,
        &format!(
            "SELECT CAST(expires_at AS TEXT) AS value FROM invites WHERE id = {}",
            invite["id"]
        ),
    )
    .await;
    let login_expires = db_text(
        &server,
        &format!("SELECT CAST(expires_at AS TEXT) AS value FROM tokens WHERE user_id = {guest_id}"),
    )
    .await;
    assert_eq!(
        login_expires, invite_expires,
        "the guest's login expires with the invite"
    );

    // Two hours on: both an hour past.
    db_execute(
        &server,
        &format!(
            "UPDATE invites SET expires_at = expires_at - 7200 WHERE id = {}; \
             UPDATE tokens SET expires_at = expires_at - 7200 \
             WHERE user_id IN (SELECT user_id FROM guests);",
            invite["id"]
        ),
    )
    .await;

    assert_invite_closed(&server, &token, "expired").await;
    guest
        .get("/api/auth/me")
        .await
        .expect_error(401, "the guest's login ended with the invite");
    guest
        .get(&format!("/api/sessions/{}", session.id))
        .await
        .expect_error(401, "the guest sees nothing more");
    let cookie = guest
        .cookie_header()
        .expect("the guest still holds the cookie");
    assert_eq!(
        handshake_status(with_cookie(
            server.ws_request(&server.ws_url(session.id)),
            &cookie
        ))
        .await,
        401,
        "the guest's socket is refused"
    );
    let invites = server
        .as_user(&mia)
        .get(&format!("/api/sessions/{}/invites", session.id))
        .await
        .expect_status(200, "the host still lists it");
    assert_eq!(invites[0]["open"], false, "{invites}");
    assert!(invites[0]["revoked_at"].is_null(), "expired, not revoked");
    assert_eq!(invites[0]["guests"], 1);
    // Nothing else was logged out.
    server
        .as_user(&mia)
        .get("/api/auth/me")
        .await
        .expect_status(200, "the moderator's login is untouched");
}
