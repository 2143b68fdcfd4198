//! The REST API of PROTOCOL.md section 3, and its OpenAPI document.
//!
//! Every route of the server is registered through `utoipa_actix_web`, which adds each handler's
//! `#[utoipa::path]` to the document as it registers it: a route cannot exist undocumented.

pub mod auth;
pub mod body;
pub mod docs;
#[doc(hidden)]
pub mod fuzzing;
pub mod invites;
pub mod rounds;
pub mod sessions;
pub mod stories;
pub mod transfer;
pub mod users;
pub mod views;
pub mod webhooks;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every `/api` route.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(auth::login)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::create_token)
        .service(users::list)
        .service(users::create)
        .service(users::get)
        .service(users::update)
        .service(users::delete)
        .service(sessions::list)
        .service(sessions::create)
        .service(sessions::get)
        .service(sessions::update)
        .service(sessions::delete)
        .service(rounds::quick_round)
        .service(rounds::reveal)
        .service(rounds::start_timer)
        .service(rounds::stop_timer)
        .service(invites::create)
        .service(invites::list)
        .service(invites::revoke)
        .service(invites::show)
        .service(invites::join)
        .service(stories::list)
        .service(stories::create)
        .service(stories::reorder)
        .service(stories::get)
        .service(stories::update)
        .service(stories::delete)
        .service(stories::votes)
        .service(transfer::import)
        .service(transfer::export)
        .service(webhooks::create)
        .service(webhooks::list)
        .service(webhooks::get)
        .service(webhooks::delete)
        .service(webhooks::deliveries)
        .service(docs::openapi_json);
}

/// Parses an id from the path; anything but a positive integer is a 404.
pub fn parse_id(raw: &str, what: &str) -> Result<i64, crate::error::ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| crate::error::ApiError::NotFound(format!("no {what} {raw:?}")))
}
