//! The web UI: HTML pages and their static files (CSS, JavaScript modules), built into the
//! binary from `assets/web/`, served with a Content-Security-Policy that forbids inline scripts.
//!
//! Pages that need a login redirect to `/login?next=…` when there is none.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::auth::identify;
use crate::AppState;

#[derive(RustEmbed)]
#[folder = "assets/web/"]
struct Assets;

/// No inline scripts or styles, no plugins, no framing; sockets only to this host.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

fn asset(path: &str) -> Option<HttpResponse> {
    let file = Assets::get(path)?;
    let mime = file.metadata.mimetype().to_string();
    Some(
        HttpResponse::Ok()
            .content_type(mime)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((
                header::ETAG,
                format!("\"{}\"", hex(&file.metadata.sha256_hash())),
            ))
            .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
            .insert_header(("Referrer-Policy", "same-origin"))
            .body(file.data.into_owned()),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn missing() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("not found")
}

/// Serves a page to a logged-in user, or redirects to the login page.
async fn page(req: &HttpRequest, file: &str) -> HttpResponse {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return HttpResponse::InternalServerError().finish();
    };
    match identify(req, state).await {
        Ok(Some(_)) => asset(file).unwrap_or_else(missing),
        Ok(None) => {
            let next = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let target = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish()
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("the database is unavailable"),
    }
}

/// The index of open sessions.
#[utoipa::path(tag = "web", responses((status = 200, content_type = "text/html", description = "The page"), (status = 303, description = "To the login page")))]
#[get("/")]
pub async fn index(req: HttpRequest) -> HttpResponse {
    page(&req, "index.html").await
}

/// The login page.
#[utoipa::path(tag = "web", responses((status = 200, content_type = "text/html", description = "The page")))]
#[get("/login")]
pub async fn login() -> HttpResponse {
    asset("login.html").unwrap_or_else(missing)
}

/// The poker session page.
#[utoipa::path(
    tag = "web",
    params(("id" = i64, Path, description = "The session's id")),
    responses((status = 200, content_type = "text/html", description = "The page"), (status = 303, description = "To the login page"))
)]
#[get("/sessions/{id}")]
pub async fn session(req: HttpRequest) -> HttpResponse {
    page(&req, "session.html").await
}

/// The admin area (users, sessions, stories).
#[utoipa::path(tag = "web", responses((status = 200, content_type = "text/html", description = "The page"), (status = 303, description = "To the login page")))]
#[get("/admin")]
pub async fn admin(req: HttpRequest) -> HttpResponse {
    page(&req, "admin.html").await
}

/// The UI's static files: `/static/app.css`, `/static/js/session.js`, …
#[utoipa::path(
    tag = "web",
    params(("path" = String, Path, description = "A file of the UI")),
    responses((status = 200, description = "The file"), (status = 404, description = "No such file"))
)]
#[get("/static/{path:.*}")]
pub async fn static_file(path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    if path.ends_with(".html") {
        return missing();
    }
    asset(&format!("static/{path}")).unwrap_or_else(missing)
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(index)
        .service(login)
        .service(session)
        .service(admin)
        .service(static_file);
}
