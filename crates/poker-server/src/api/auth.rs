//! Logging in and out, the current user, and bearer tokens.

use actix_web::{get, post, web, HttpResponse};
use poker_db::TokenKind;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{parse, required, JsonBody};
use super::views::{ErrorBody, LoginView, TokenView, UserView};
use crate::auth::{issue_token, verify_password, Identity};
use crate::error::{blocking, ApiError};
use crate::live::messages::Changed;
use crate::AppState;

/// Credentials.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

/// Checks the password and sets the login cookie (signed, HttpOnly, SameSite=Lax).
#[utoipa::path(
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, body = LoginView, description = "Logged in; the cookie is set"),
        (status = 401, body = ErrorBody, description = "Wrong username or password"),
        (status = 422, body = ErrorBody, description = "A field is missing or of the wrong type"),
    )
)]
#[post("/api/auth/login")]
pub async fn login(state: web::Data<AppState>, body: JsonBody) -> Result<HttpResponse, ApiError> {
    let body: LoginBody = parse(body.into_inner())?;
    let username = required(body.username, "username")?;
    let password = required(body.password, "password")?;
    let store = state.store.clone();
    let days = state.cookies.login_days;
    let found = blocking(move || {
        let Some(creds) = store.credentials(username.trim())? else {
            return Ok(None);
        };
        if !verify_password(&creds.password_hash, &password) {
            return Ok(None);
        }
        let token = issue_token(&store, creds.user.id, TokenKind::Login, Some(days))?;
        Ok(Some((creds.user, token)))
    })
    .await?;
    let Some((user, token)) = found else {
        return Err(ApiError::Unauthorized("wrong username or password".into()));
    };
    log::info!("user {} ({}) logged in", user.id, user.username);
    Ok(HttpResponse::Ok()
        .cookie(state.cookies.login_cookie(&token))
        .json(LoginView {
            user: (&user).into(),
        }))
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
            why: "logged out",
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
    HttpResponse::Ok().json(UserView::from(&identity.user))
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
    let store = state.store.clone();
    let user_id = identity.user.id;
    let token = blocking(move || issue_token(&store, user_id, TokenKind::Api, None)).await?;
    Ok(HttpResponse::Created().json(TokenView { token }))
}
