//! User accounts (administrators only).

use actix_web::{web, HttpResponse};
use poker_core::fields;
use poker_db::NewUser;
use serde_json::Value;

use super::body::Body;
use super::views;
use crate::auth::{hash_password, Identity};
use crate::error::{blocking, ApiError};
use crate::AppState;

/// `GET /api/users`
pub async fn list(
    state: web::Data<AppState>,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let store = state.store.clone();
    let users = blocking(move || Ok(store.list_users()?)).await?;
    Ok(HttpResponse::Ok().json(users.iter().map(views::user).collect::<Vec<_>>()))
}

/// `GET /api/users/{id}`
pub async fn get(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = super::sessions::parse_id(&path, "user")?;
    let store = state.store.clone();
    let user = blocking(move || Ok(store.user(id)?)).await?;
    let user = user.ok_or_else(|| ApiError::NotFound(format!("no user {id}")))?;
    Ok(HttpResponse::Ok().json(views::user(&user)))
}

/// `POST /api/users`
pub async fn create(
    state: web::Data<AppState>,
    identity: Identity,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let body = Body::new(body.into_inner())?;
    let username = fields::username(&body.string("username")?)?;
    let password = fields::password(&body.string("password")?)?;
    let can_vote = body.bool_or("can_vote", false)?;
    let can_moderate = body.bool_or("can_moderate", false)?;
    let is_admin = body.bool_or("is_admin", false)?;
    let store = state.store.clone();
    let user = blocking(move || {
        let password_hash = hash_password(&password)?;
        Ok(store.create_user(&NewUser {
            username,
            password_hash,
            can_vote,
            can_moderate,
            is_admin,
        })?)
    })
    .await?;
    log::info!(
        "user {} ({}) created by {}",
        user.id,
        user.username,
        identity.user.username
    );
    Ok(HttpResponse::Created().json(views::user(&user)))
}
