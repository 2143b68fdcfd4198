//! Logging in and out, the current user, and bearer tokens.

use actix_web::{web, HttpResponse};
use poker_db::TokenKind;
use serde_json::{json, Value};

use super::body::Body;
use super::views;
use crate::auth::{issue_token, verify_password, Identity};
use crate::error::{blocking, ApiError};
use crate::AppState;

/// `POST /api/auth/login`: checks the password and sets the login cookie.
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = Body::new(body.into_inner())?;
    let username = body.string("username")?;
    let password = body.string("password")?;
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
        .json(json!({ "user": views::user(&user) })))
}

/// `POST /api/auth/logout`: ends the login (the cookie's, or the bearer token used).
pub async fn logout(
    state: web::Data<AppState>,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let hash = identity.token_hash.clone();
    blocking(move || Ok(store.delete_token(&hash)?)).await?;
    Ok(HttpResponse::NoContent()
        .cookie(state.cookies.removal_cookie())
        .finish())
}

/// `GET /api/auth/me`: the logged-in user with `permissions`.
pub async fn me(identity: Identity) -> HttpResponse {
    HttpResponse::Ok().json(views::user(&identity.user))
}

/// `POST /api/auth/tokens`: a new bearer token, shown once.
pub async fn create_token(
    state: web::Data<AppState>,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let user_id = identity.user.id;
    let token = blocking(move || issue_token(&store, user_id, TokenKind::Api, None)).await?;
    Ok(HttpResponse::Created().json(json!({ "token": token })))
}
