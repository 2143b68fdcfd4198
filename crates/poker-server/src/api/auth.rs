//! Logging in and out, the current user, and bearer tokens.

use std::time::Instant;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use poker_db::TokenKind;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{parse, required, JsonBody};
use super::views::{ErrorBody, LoginView, TokenView, UserView};
use crate::auth::{hash_password, issue_token, needs_rehash, verify_password, Identity};
use crate::error::{blocking, ApiError};
use crate::live::messages::Changed;
use crate::throttle::client_address;
use crate::AppState;

/// Credentials.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

/// Checks the password and sets the login cookie (signed, HttpOnly, SameSite=Lax). Failed
/// attempts are counted per username and per client address; past a threshold further attempts
/// get 429 with `Retry-After` before any password is checked.
#[utoipa::path(
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, body = LoginView, description = "Logged in; the cookie is set"),
        (status = 401, body = ErrorBody, description = "Wrong username or password"),
        (status = 422, body = ErrorBody, description = "A field is missing or of the wrong type"),
        (status = 429, body = ErrorBody, description = "Too many failed attempts for this username or from this address; see Retry-After"),
        (status = 503, body = ErrorBody, description = "Too many logins at once; see Retry-After"),
    )
)]
#[post("/api/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let body: LoginBody = parse(body.into_inner())?;
    let username = required(body.username, "username")?;
    let password = required(body.password, "password")?;
    let address = client_address(
        req.peer_addr().map(|a| a.ip()),
        req.headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok()),
        &state.settings.trusted_proxies,
    );
    let attempt = state
        .login_throttle
        .admit(&username, address, Instant::now())
        .map_err(|refused| {
            log::warn!(
                "login refused for {}: too many failures for {}",
                address.map_or_else(|| "an unknown address".into(), |a| a.to_string()),
                refused.what
            );
            ApiError::TooManyAttempts {
                message: format!(
                    "too many failed logins for {}; try again in {} s",
                    refused.what, refused.retry_after_secs
                ),
                retry_after_secs: refused.retry_after_secs,
            }
        })?;
    let store = state.store.clone();
    let days = state.cookies.login_days;
    let found = blocking(move || {
        let creds = store.credentials(username.trim())?;
        // An unknown username is checked against a dummy hash: the same argon2 work either way.
        let hash = creds.as_ref().map(|c| c.password_hash.as_str());
        if !verify_password(hash, &password)? {
            return Ok(None);
        }
        let Some(creds) = creds else {
            return Ok(None);
        };
        if needs_rehash(&creds.password_hash) {
            upgrade_hash(&store, &creds, &password);
        }
        let token = issue_token(&store, creds.user.id, TokenKind::Login, Some(days))?;
        Ok(Some((creds.user, token)))
    })
    .await?;
    let Some((user, token)) = found else {
        attempt.failed(Instant::now());
        return Err(ApiError::Unauthorized("wrong username or password".into()));
    };
    attempt.succeeded(Instant::now());
    log::info!(user = user.id; "user {} ({}) logged in", user.id, user.username);
    Ok(HttpResponse::Ok()
        .cookie(state.cookies.login_cookie(&token))
        .json(LoginView {
            user: (&user).into(),
        }))
}

/// Replaces a hash brought from the Django original by an argon2 hash of the password that just
/// matched it. A failure only postpones the upgrade to the next login: the login goes on.
fn upgrade_hash(store: &poker_db::Store, creds: &poker_db::UserCredentials, password: &str) {
    let user = &creds.user;
    let upgraded = hash_password(password)
        .map_err(|e| e.to_string())
        .and_then(|new| {
            store
                .replace_password_hash(user.id, &creds.password_hash, &new)
                .map_err(|e| e.to_string())
        });
    match upgraded {
        Ok(true) => {
            log::info!(user = user.id; "user {} ({}): the password hash from Django was replaced by argon2", user.id, user.username)
        }
        // Changed meanwhile (a concurrent login upgraded it, or an administrator set another).
        Ok(false) => {}
        Err(e) => {
            log::warn!(user = user.id; "user {}: could not replace the Django password hash: {e}", user.id)
        }
    }
}

/// Ends the login that was used (the cookie's, or the bearer token, which is thereby revoked);
/// sockets opened with it are closed with 4001.
#[utoipa::path(
    tag = "auth",
    responses((status = 204, description = "Logged out"), (status = 401, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let hash = identity.token_hash.clone();
    blocking(move || Ok(store.delete_token(&hash)?)).await?;
    state
        .notify_all(Changed::LoginsEnded {
            user_id: identity.user.id,
            token_hash: Some(identity.token_hash),
            why: "logged out".into(),
        })
        .await;
    Ok(HttpResponse::NoContent()
        .cookie(state.cookies.removal_cookie())
        .finish())
}

/// The logged-in user, with `permissions`.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/auth/me")]
pub async fn me(identity: Identity) -> HttpResponse {
    HttpResponse::Ok().json(UserView {
        guest_session_id: identity.guest_session,
        ..UserView::from(&identity.user)
    })
}

/// A new bearer token for scripts, shown once. Use it as `Authorization: Bearer <token>` or,
/// for sockets, `?token=<token>`.
#[utoipa::path(
    tag = "auth",
    responses((status = 201, body = TokenView), (status = 401, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/auth/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    identity.require_member("make tokens")?;
    let store = state.store.clone();
    let user_id = identity.user.id;
    let token = blocking(move || issue_token(&store, user_id, TokenKind::Api, None)).await?;
    Ok(HttpResponse::Created().json(TokenView { token }))
}
