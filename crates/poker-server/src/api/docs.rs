//! `GET /api/openapi.json` and the document's frame (title, security schemes, tags).

use actix_web::{get, web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's frame; the paths are collected from the registered services.
#[derive(OpenApi)]
#[openapi(
    info(title = "planning-poker", description = "REST API of the planning-poker server (PROTOCOL.md section 3)."),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Logging in and tokens"),
        (name = "users", description = "Accounts (administrators)"),
        (name = "sessions", description = "Poker sessions"),
        (name = "stories", description = "Stories and their votes"),
        (name = "invites", description = "Guests by invite link (ours)"),
        (name = "webhooks", description = "Signed event deliveries to registered URLs (administrators)"),
        (name = "operations", description = "Health, readiness, live sockets, this document"),
        (name = "web", description = "The web UI's pages and files"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::COOKIE_NAME))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The finished document, serialized once per worker.
pub struct OpenApiJson(pub String);

/// The OpenAPI document of this API.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The OpenAPI 3.1 document")))]
#[get("/api/openapi.json")]
pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}
