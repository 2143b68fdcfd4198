//! User accounts (administrators only).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use poker_core::fields;
use poker_db::{NewUser, UserPatch};
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{parse, required, JsonBody};
use super::parse_id;
use super::views::{ErrorBody, UserView};
use crate::auth::{hash_password, Identity};
use crate::error::{blocking, or_missing, ApiError};
use crate::live::change::SessionChange;
use crate::live::messages::Changed;
use crate::AppState;

/// A user to create; the rights default to false.
#[derive(Deserialize, ToSchema)]
pub struct CreateUserBody {
    /// 1–150 characters, unique.
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) can_vote: Option<bool>,
    pub(crate) can_moderate: Option<bool>,
    pub(crate) is_admin: Option<bool>,
}

/// Changes to a user; absent fields stay as they are. A new password ends every login of the
/// user (login cookies and bearer tokens; their sockets close with 4001).
#[derive(Deserialize, ToSchema)]
pub struct UpdateUserBody {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) can_vote: Option<bool>,
    pub(crate) can_moderate: Option<bool>,
    pub(crate) is_admin: Option<bool>,
}

/// Every user.
#[utoipa::path(
    tag = "users",
    responses((status = 200, body = Vec<UserView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/users")]
pub async fn list(
    state: web::Data<AppState>,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let store = state.store.clone();
    let users = blocking(move || Ok(store.list_users()?)).await?;
    Ok(HttpResponse::Ok().json(users.iter().map(UserView::from).collect::<Vec<_>>()))
}

/// One user.
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "The user's id")),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/users/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "user")?;
    let store = state.store.clone();
    let user = blocking(move || Ok(store.user(id)?)).await?;
    let user = user.ok_or_else(|| ApiError::NotFound(format!("no user {id}")))?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

/// Creates a user.
#[utoipa::path(
    tag = "users",
    request_body = CreateUserBody,
    responses(
        (status = 201, body = UserView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The username is taken"),
        (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/users")]
pub async fn create(
    state: web::Data<AppState>,
    identity: Identity,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let body: CreateUserBody = parse(body.into_inner())?;
    let username = fields::username(&required(body.username, "username")?)?;
    let password = fields::password(&required(body.password, "password")?)?;
    let new = NewUser {
        username,
        password_hash: String::new(),
        can_vote: body.can_vote.unwrap_or(false),
        can_moderate: body.can_moderate.unwrap_or(false),
        is_admin: body.is_admin.unwrap_or(false),
    };
    let store = state.store.clone();
    let user = blocking(move || {
        let password_hash = hash_password(&password)?;
        Ok(store.create_user(&NewUser {
            password_hash,
            ..new
        })?)
    })
    .await?;
    log::info!(
        "user {} ({}) created by {}",
        user.id,
        user.username,
        identity.user.username
    );
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

/// Changes a user. The last administrator cannot lose the right (409).
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UpdateUserBody,
    responses(
        (status = 200, body = UserView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[patch("/api/users/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "user")?;
    let body: UpdateUserBody = parse(body.into_inner())?;
    let username = body.username.as_deref().map(fields::username).transpose()?;
    let password = body.password.as_deref().map(fields::password).transpose()?;
    let (can_vote, can_moderate, is_admin) = (body.can_vote, body.can_moderate, body.is_admin);
    let new_password = password.is_some();
    let store = state.store.clone();
    let user = blocking(move || {
        let password_hash = password.as_deref().map(hash_password).transpose()?;
        let patch = UserPatch {
            username,
            password_hash,
            can_vote,
            can_moderate,
            is_admin,
        };
        store
            .update_user(id, &patch)
            .map_err(or_missing("user", id))
    })
    .await?;
    // Rights take effect at once: live sessions judge the user's next events by these.
    state
        .notify_all(Changed::User {
            id: user.id,
            name: user.username.clone(),
            can_vote: user.can_vote,
            can_moderate: user.can_moderate,
        })
        .await;
    if new_password {
        state
            .notify_all(Changed::LoginsEnded {
                user_id: user.id,
                token_hash: None,
                why: "the password was changed".into(),
            })
            .await;
    }
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

/// Deletes a user with their votes and tokens; their open sockets are closed with 4001. The last
/// administrator cannot be deleted (409).
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[delete("/api/users/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "user")?;
    let store = state.store.clone();
    let touched = blocking(move || store.delete_user(id).map_err(or_missing("user", id))).await?;
    log::info!("user {id} deleted by {}", identity.user.username);
    // Their sockets close everywhere; only sessions whose active story lost a vote re-send it.
    state
        .notify_all(Changed::LoginsEnded {
            user_id: id,
            token_hash: None,
            why: "the user was deleted".into(),
        })
        .await;
    for version in touched {
        let change = SessionChange::Edited {
            story: true,
            stories: false,
        };
        state.notify(version, change);
    }
    Ok(HttpResponse::NoContent().finish())
}
