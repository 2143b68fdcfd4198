//! The REST API of PROTOCOL.md section 3.

pub mod auth;
pub mod body;
pub mod sessions;
pub mod users;
pub mod views;

use actix_web::web;

/// Registers every `/api` route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .route("/auth/login", web::post().to(auth::login))
            .route("/auth/logout", web::post().to(auth::logout))
            .route("/auth/me", web::get().to(auth::me))
            .route("/auth/tokens", web::post().to(auth::create_token))
            .route("/users", web::get().to(users::list))
            .route("/users", web::post().to(users::create))
            .route("/users/{id}", web::get().to(users::get))
            .route("/sessions", web::get().to(sessions::list))
            .route("/sessions", web::post().to(sessions::create))
            .route("/sessions/{id}", web::get().to(sessions::get))
            .route(
                "/sessions/{id}/stories",
                web::get().to(sessions::list_stories),
            )
            .route(
                "/sessions/{id}/stories",
                web::post().to(sessions::create_story),
            ),
    );
}
