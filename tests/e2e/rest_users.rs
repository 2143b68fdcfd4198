//! User accounts over REST (PROTOCOL.md section 3, `/api/users`): reading, editing, deleting,
//! the last-administrator rule, validation, rights, and what a deletion does to votes, logins
//! and open sockets.

use serde_json::{json, Value};

use crate::support::admin::{
    activate, cast, expect_all_quiet, expect_invalid, expect_on_all, id_of, AdminHttp,
};
use crate::support::{assert_participants, assert_votes, Backend, Rights, Server, FRAME_TIMEOUT};

both_backends!(
    get_user_answers_the_user_without_password,
    unknown_user_is_404,
    patch_user_changes_only_the_given_fields,
    patch_user_to_a_taken_username_is_409,
    create_user_validation_errors_name_the_field,
    patch_user_validation_errors_name_the_field,
    new_password_ends_the_users_login_cookies,
    patch_without_password_keeps_the_login,
    last_administrator_cannot_be_deleted_or_lose_is_admin,
    delete_user_is_204_and_ends_their_logins_and_tokens,
    user_endpoints_are_401_anonymous_and_403_for_non_admins,
    deleting_a_user_removes_their_votes,
    deleting_a_user_closes_their_sockets_and_updates_the_others,
    deleting_a_user_who_had_not_voted_sends_no_story_changed,
);

fn assert_no_password(user: &Value) {
    let object = user
        .as_object()
        .unwrap_or_else(|| panic!("a user is an object: {user}"));
    assert!(
        !object
            .keys()
            .any(|k| k.contains("password") || k.contains("hash")),
        "a user never carries its password: {user}"
    );
}

async fn get_user_answers_the_user_without_password(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let created = admin
        .post(
            "/api/users",
            json!({"username": "carol", "password": "carol-pw-1", "can_moderate": true}),
        )
        .await
        .expect_status(201, "create carol");
    let id = id_of(&created);
    let got = admin
        .get(&format!("/api/users/{id}"))
        .await
        .expect_status(200, "GET /api/users/{id}");
    assert_no_password(&got);
    assert_eq!(got, created, "GET answers the created user");
    assert_eq!(got["username"], "carol");
    assert_eq!(got["can_vote"], false);
    assert_eq!(got["can_moderate"], true);
    assert_eq!(got["is_admin"], false);
    assert_eq!(got["permissions"], json!(["moderate"]));
}

async fn unknown_user_is_404(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    for id in ["987654", "abc", "0", "-3"] {
        let path = format!("/api/users/{id}");
        admin
            .get(&path)
            .await
            .expect_error(404, &format!("GET {path}"));
        admin
            .patch_json(&path, json!({"can_vote": true}))
            .await
            .expect_error(404, &format!("PATCH {path}"));
        admin
            .delete_at(&path)
            .await
            .expect_error(404, &format!("DELETE {path}"));
    }
}

async fn patch_user_changes_only_the_given_fields(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let carol = admin
        .post(
            "/api/users",
            json!({"username": "carol", "password": "carol-pw-1", "can_vote": true}),
        )
        .await
        .expect_status(201, "create carol");
    let path = format!("/api/users/{}", id_of(&carol));

    let renamed = admin
        .patch_json(&path, json!({"username": "caroline"}))
        .await
        .expect_status(200, "rename carol");
    assert_no_password(&renamed);
    assert_eq!(renamed["id"], carol["id"]);
    assert_eq!(renamed["username"], "caroline");
    assert_eq!(renamed["can_vote"], true, "untouched: {renamed}");
    assert_eq!(renamed["can_moderate"], false, "untouched: {renamed}");
    assert_eq!(renamed["is_admin"], false, "untouched: {renamed}");
    // The old name is free, the new one logs in with the old password.
    server.login("caroline", "carol-pw-1").await;

    let rights = admin
        .patch_json(&path, json!({"can_vote": false, "can_moderate": true}))
        .await
        .expect_status(200, "change carol's rights");
    assert_eq!(rights["username"], "caroline");
    assert_eq!(rights["can_vote"], false);
    assert_eq!(rights["can_moderate"], true);
    assert_eq!(rights["permissions"], json!(["moderate"]));

    let promoted = admin
        .patch_json(&path, json!({"is_admin": true}))
        .await
        .expect_status(200, "make carol an admin");
    assert_eq!(promoted["is_admin"], true);
    assert_eq!(promoted["permissions"], json!(["moderate", "admin"]));

    // An empty patch changes nothing.
    let same = admin
        .patch_json(&path, json!({}))
        .await
        .expect_status(200, "empty PATCH");
    assert_eq!(same, promoted);
    let got = admin
        .get(&path)
        .await
        .expect_status(200, "GET carol after the changes");
    assert_eq!(got, promoted, "GET shows the stored changes");

    // The new admin can administer.
    server
        .login("caroline", "carol-pw-1")
        .await
        .get("/api/users")
        .await
        .expect_status(200, "the promoted user lists users");
}

async fn patch_user_to_a_taken_username_is_409(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let carol = server.create_user("carol", Rights::Voter).await;
    server.create_user("dave", Rights::Voter).await;
    let path = format!("/api/users/{}", carol.id);
    admin
        .patch_json(&path, json!({"username": "dave"}))
        .await
        .expect_error(409, "rename carol to dave");
    admin
        .patch_json(&path, json!({"username": "admin"}))
        .await
        .expect_error(409, "rename carol to admin");
    let got = admin.get(&path).await.expect_status(200, "GET carol");
    assert_eq!(
        got["username"], "carol",
        "the refused rename changed nothing"
    );
}

async fn create_user_validation_errors_name_the_field(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let cases = [
        (json!({"password": "pw-123456"}), "username"),
        (
            json!({"username": "   ", "password": "pw-123456"}),
            "username",
        ),
        (json!({"username": 5, "password": "pw-123456"}), "username"),
        (json!({"username": "u1"}), "password"),
        (json!({"username": "u1", "password": ""}), "password"),
        (json!({"username": "u1", "password": 123456}), "password"),
        (
            json!({"username": "u1", "password": "x".repeat(1025)}),
            "password",
        ),
        (
            json!({"username": "u1", "password": "pw-123456", "can_vote": "yes"}),
            "can_vote",
        ),
        (
            json!({"username": "u1", "password": "pw-123456", "can_moderate": 1}),
            "can_moderate",
        ),
        (
            json!({"username": "u1", "password": "pw-123456", "is_admin": "true"}),
            "is_admin",
        ),
    ];
    for (body, field) in cases {
        expect_invalid(
            admin.post("/api/users", body.clone()).await,
            field,
            &format!("POST /api/users {body}"),
        );
    }
    let users = admin.get("/api/users").await.expect_status(200, "list");
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(1),
        "no refused user was created: {users}"
    );
    // The limits themselves are fine: 150 characters.
    admin
        .post(
            "/api/users",
            json!({"username": "u".repeat(150), "password": "p"}),
        )
        .await
        .expect_status(201, "a 150-character username");
}

async fn patch_user_validation_errors_name_the_field(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let carol = server.create_user("carol", Rights::Voter).await;
    let path = format!("/api/users/{}", carol.id);
    let cases = [
        (json!({"username": ""}), "username"),
        (json!({"username": "u".repeat(151)}), "username"),
        (json!({"username": ["carol"]}), "username"),
        (json!({"password": ""}), "password"),
        (json!({"password": false}), "password"),
        (json!({"can_vote": "no"}), "can_vote"),
        (json!({"can_moderate": 0}), "can_moderate"),
        (json!({"is_admin": "false"}), "is_admin"),
    ];
    for (body, field) in cases {
        expect_invalid(
            admin.patch_json(&path, body.clone()).await,
            field,
            &format!("PATCH {path} {body}"),
        );
    }
    let got = admin.get(&path).await.expect_status(200, "GET carol");
    assert_eq!(got["username"], "carol");
    assert_eq!(got["can_vote"], true);
    server.login("carol", &carol.password).await;
}

async fn new_password_ends_the_users_login_cookies(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let carol = server.create_user("carol", Rights::Voter).await;
    let session = server.login("carol", &carol.password).await;
    let cookie = session.cookie_header().expect("carol has a login cookie");
    session
        .get("/api/auth/me")
        .await
        .expect_status(200, "carol is logged in");

    admin
        .patch_json(
            &format!("/api/users/{}", carol.id),
            json!({"password": "a-brand-new-password"}),
        )
        .await
        .expect_status(200, "set a new password");

    session
        .get("/api/auth/me")
        .await
        .expect_error(401, "carol's old login after the password change");
    server
        .http()
        .get_with_cookie("/api/auth/me", &cookie)
        .await
        .expect_error(401, "replaying carol's old cookie");
    server
        .http()
        .post(
            "/api/auth/login",
            json!({"username": "carol", "password": carol.password}),
        )
        .await
        .expect_error(401, "log in with the old password");
    server.login("carol", "a-brand-new-password").await;
}

async fn patch_without_password_keeps_the_login(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let carol = server.create_user("carol", Rights::Voter).await;
    let session = server.login("carol", &carol.password).await;
    admin
        .patch_json(
            &format!("/api/users/{}", carol.id),
            json!({"can_moderate": true}),
        )
        .await
        .expect_status(200, "give carol moderation");
    let me = session
        .get("/api/auth/me")
        .await
        .expect_status(200, "carol is still logged in");
    assert_eq!(
        me["permissions"],
        json!(["vote", "moderate"]),
        "the login sees the new rights: {me}"
    );
}

async fn last_administrator_cannot_be_deleted_or_lose_is_admin(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let me = admin.get("/api/auth/me").await.expect_status(200, "me");
    let admin_path = format!("/api/users/{}", id_of(&me));

    admin
        .delete_at(&admin_path)
        .await
        .expect_error(409, "delete the only administrator");
    admin
        .patch_json(&admin_path, json!({"is_admin": false}))
        .await
        .expect_error(409, "demote the only administrator");
    let got = admin
        .get(&admin_path)
        .await
        .expect_status(200, "the administrator is still there");
    assert_eq!(got["is_admin"], true, "still an administrator: {got}");
    // Other changes to the last administrator are fine.
    admin
        .patch_json(&admin_path, json!({"is_admin": true, "can_vote": false}))
        .await
        .expect_status(200, "keep is_admin, change can_vote");

    // With a second administrator, the first may be demoted; then the second is the last.
    let eve = admin
        .post(
            "/api/users",
            json!({"username": "eve", "password": "eve-pw-123", "is_admin": true}),
        )
        .await
        .expect_status(201, "create a second administrator");
    let eve_path = format!("/api/users/{}", id_of(&eve));
    admin
        .patch_json(&admin_path, json!({"is_admin": false}))
        .await
        .expect_status(200, "demote the first administrator");
    let eve_http = server.login("eve", "eve-pw-123").await;
    eve_http
        .delete_at(&eve_path)
        .await
        .expect_error(409, "the last administrator deletes herself");
    eve_http
        .patch_json(&eve_path, json!({"is_admin": false}))
        .await
        .expect_error(409, "the last administrator demotes herself");
    let reply = eve_http.delete_at(&admin_path).await;
    assert_eq!(reply.body, Value::Null, "204 has no body");
    reply.expect_status(204, "delete the former administrator");
}

async fn delete_user_is_204_and_ends_their_logins_and_tokens(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let carol = server.create_user("carol", Rights::Voter).await;
    let cookie_client = server.login("carol", &carol.password).await;
    let path = format!("/api/users/{}", carol.id);

    let reply = admin.delete_at(&path).await;
    assert_eq!(reply.body, Value::Null, "204 has no body");
    reply.expect_status(204, "DELETE carol");

    admin
        .get(&path)
        .await
        .expect_error(404, "GET the deleted user");
    admin
        .delete_at(&path)
        .await
        .expect_error(404, "DELETE the deleted user again");
    let users = admin.get("/api/users").await.expect_status(200, "list");
    assert!(
        !users
            .as_array()
            .expect("an array")
            .iter()
            .any(|u| u["username"] == "carol"),
        "the deleted user is not listed: {users}"
    );
    cookie_client
        .get("/api/auth/me")
        .await
        .expect_error(401, "the deleted user's cookie");
    server
        .as_user(&carol)
        .get("/api/auth/me")
        .await
        .expect_error(401, "the deleted user's token");
    server
        .http()
        .post(
            "/api/auth/login",
            json!({"username": "carol", "password": carol.password}),
        )
        .await
        .expect_error(401, "the deleted user logs in");
    // The name is free again.
    admin
        .post(
            "/api/users",
            json!({"username": "carol", "password": "another-pw"}),
        )
        .await
        .expect_status(201, "a new carol");
}

async fn user_endpoints_are_401_anonymous_and_403_for_non_admins(backend: Backend) {
    let server = Server::start(backend).await;
    let target = server.create_user("target", Rights::Voter).await;
    let boss = server.create_user("boss", Rights::VoterModerator).await;
    let path = format!("/api/users/{}", target.id);
    let anonymous = server.http();
    let by_cookie = server.login("boss", &boss.password).await;
    let by_token = server.as_user(&boss);

    anonymous
        .get(&path)
        .await
        .expect_error(401, "anonymous GET");
    anonymous
        .patch_json(&path, json!({"is_admin": true}))
        .await
        .expect_error(401, "anonymous PATCH");
    anonymous
        .delete_at(&path)
        .await
        .expect_error(401, "anonymous DELETE");
    for (how, http) in [("cookie", &by_cookie), ("token", &by_token)] {
        http.get(&path)
            .await
            .expect_error(403, &format!("non-admin GET ({how})"));
        http.get("/api/users")
            .await
            .expect_error(403, &format!("non-admin list ({how})"));
        http.patch_json(&path, json!({"is_admin": true}))
            .await
            .expect_error(403, &format!("non-admin PATCH ({how})"));
        http.delete_at(&path)
            .await
            .expect_error(403, &format!("non-admin DELETE ({how})"));
        // Not even on themselves.
        http.patch_json(
            &format!("/api/users/{}", boss.id),
            json!({"is_admin": true}),
        )
        .await
        .expect_error(403, &format!("non-admin promotes themselves ({how})"));
    }
    let got = server
        .admin()
        .await
        .get(&path)
        .await
        .expect_status(200, "GET target");
    assert_eq!(got["is_admin"], false, "the refused PATCH changed nothing");
    server.login("target", &target.password).await;
}

async fn deleting_a_user_removes_their_votes(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let session = server
        .create_session("Sprint", &[("S-1", "one"), ("S-2", "two")])
        .await;
    let (s1, s2) = (session.stories[0].id, session.stories[1].id);
    let mut clients = server
        .join_all(session.id, &[&moderator, &alice, &bob], None)
        .await;
    activate(&mut clients, 0, s1).await;
    cast(&mut clients, 1, "3").await;
    cast(&mut clients, 2, "5").await;
    activate(&mut clients, 0, s2).await;
    cast(&mut clients, 1, "8").await;
    cast(&mut clients, 2, "8").await;
    let alice_ws = clients.remove(1);

    server
        .admin()
        .await
        .delete_at(&format!("/api/users/{}", alice.id))
        .await
        .expect_status(204, "delete alice");
    drop(alice_ws);

    let votes = server.votes_as(&moderator, s1).await;
    assert_votes(&votes, json!({"5": [bob.voter()]}), &[&bob]);
    let votes = server.votes_as(&moderator, s2).await;
    assert_votes(&votes, json!({"8": [bob.voter()]}), &[&bob]);
    // The export counts what is left.
    let export = server
        .as_user(&moderator)
        .get_text(&format!("/api/sessions/{}/export", session.id))
        .await;
    assert_eq!(export.status, 200, "export: {}", export.text);
    let rows = crate::support::admin::parse_csv(&export.text);
    assert_eq!(rows[1][4], "1", "S-1 has one vote left: {rows:?}");
    assert_eq!(rows[2][4], "1", "S-2 has one vote left: {rows:?}");
}

async fn deleting_a_user_closes_their_sockets_and_updates_the_others(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let alice = server.create_user("alice", Rights::Voter).await;
    let bob = server.create_user("bob", Rights::Voter).await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let story = session.stories[0].id;
    let mut clients = server
        .join_all(session.id, &[&moderator, &alice, &bob], None)
        .await;
    activate(&mut clients, 0, story).await;
    cast(&mut clients, 1, "3").await;
    cast(&mut clients, 2, "5").await;
    // A second socket of alice's, in the same session.
    let mut alice_again = server.connect(session.id, &alice).await;
    alice_again.expect_event("story_changed").await;
    alice_again.expect_event("participants_changed").await;
    let mut alice_ws = clients.remove(1);

    server
        .admin()
        .await
        .delete_at(&format!("/api/users/{}", alice.id))
        .await
        .expect_status(204, "delete alice");

    alice_ws.expect_closed_by_server_within(FRAME_TIMEOUT).await;
    alice_again
        .expect_closed_by_server_within(FRAME_TIMEOUT)
        .await;
    for data in expect_on_all(&mut clients, "participants_changed").await {
        assert_participants(&data, &[&moderator, &bob]);
    }
    for data in expect_on_all(&mut clients, "story_changed").await {
        assert_eq!(data["id"], story);
        assert_votes(&data, json!({"5": [bob.voter()]}), &[&bob]);
    }
    expect_all_quiet(&mut clients).await;
}

async fn deleting_a_user_who_had_not_voted_sends_no_story_changed(backend: Backend) {
    let server = Server::start(backend).await;
    let moderator = server.create_user("mod", Rights::Moderator).await;
    let carol = server.create_user("carol", Rights::Voter).await;
    let dave = server.create_user("dave", Rights::Voter).await;
    let here = server.create_session("Here", &[("H-1", "one")]).await;
    let elsewhere = server.create_session("Elsewhere", &[("E-1", "one")]).await;

    // carol is in "Here" but has not voted; nobody of "Elsewhere" knows her.
    let mut here_ws = server.join_all(here.id, &[&moderator, &carol], None).await;
    activate(&mut here_ws, 0, here.stories[0].id).await;
    let mut elsewhere_ws = server
        .join_all(elsewhere.id, &[&moderator, &dave], None)
        .await;
    activate(&mut elsewhere_ws, 0, elsewhere.stories[0].id).await;
    cast(&mut elsewhere_ws, 1, "2").await;
    let mut carol_ws = here_ws.remove(1);

    server
        .admin()
        .await
        .delete_at(&format!("/api/users/{}", carol.id))
        .await
        .expect_status(204, "delete carol");

    carol_ws.expect_closed_by_server_within(FRAME_TIMEOUT).await;
    let data = here_ws[0].expect_event("participants_changed").await;
    assert_participants(&data, &[&moderator]);
    // Her leaving changes no story: nothing else, here or elsewhere.
    expect_all_quiet(&mut here_ws).await;
    expect_all_quiet(&mut elsewhere_ws).await;
}
