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
    let etag = hex(&file.metadata.sha256_hash());
    Some(file_response(&file.metadata, etag, file.data.into_owned()))
}

/// Where a page names the process that served it (its footer).
const INSTANCE_PLACEHOLDER: &str = "{{instance_name}}";

/// An HTML page with the process's name in its footer, so that someone behind a balancer sees
/// which replica served it.
fn html_page(path: &str, instance: &str) -> Option<HttpResponse> {
    html_page_with(path, instance, &[])
}

/// [`html_page`], with `{{name}}` placeholders of the page replaced by `fills` (escaped).
fn html_page_with(path: &str, instance: &str, fills: &[(&str, &str)]) -> Option<HttpResponse> {
    let file = Assets::get(path)?;
    let mut text =
        String::from_utf8_lossy(&file.data).replace(INSTANCE_PLACEHOLDER, &escape_html(instance));
    for (name, value) in fills {
        text = text.replace(&format!("{{{{{name}}}}}"), &escape_html(value));
    }
    // The body differs per instance (and per fill), so the tag does too.
    let etag = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        instance.hash(&mut hasher);
        fills.hash(&mut hasher);
        format!(
            "{}-{:016x}",
            hex(&file.metadata.sha256_hash()),
            hasher.finish()
        )
    };
    Some(file_response(&file.metadata, etag, text.into_bytes()))
}

fn file_response(metadata: &rust_embed::Metadata, etag: String, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(metadata.mimetype().to_string())
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, format!("\"{etag}\"")))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header(("Referrer-Policy", "same-origin"))
        .body(body)
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The first 8 bytes in hex: enough to tell versions apart in a tag.
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
        Ok(Some(_)) => html_page(file, &state.settings.instance_name).unwrap_or_else(missing),
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

/// `?next=` when it is a path on this site, else `/` (the same rule as the page's script: no
/// `//host` or `/\\host`, which browsers read as another site).
fn safe_next(req: &HttpRequest) -> String {
    let next = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(key, _)| key == "next")
        .map(|(_, value)| value.into_owned());
    match next {
        Some(next)
            if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") =>
        {
            next
        }
        _ => "/".to_string(),
    }
}

/// The login page; someone already logged in goes straight on to `?next=` (or the index).
#[utoipa::path(tag = "web", responses((status = 200, content_type = "text/html", description = "The page"), (status = 303, description = "Already logged in: on to `next` or the index")))]
#[get("/login")]
pub async fn login(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    // An unreadable database shows the form; logging in then says what is wrong.
    if let Ok(Some(_)) = identify(&req, &state).await {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, safe_next(&req)))
            .finish();
    }
    html_page("login.html", &state.settings.instance_name).unwrap_or_else(missing)
}

/// The join page of an invite link: anyone with the link may open it (its script asks the API
/// whether the invite is still open). The page is told who is logged in on this browser, if
/// anyone, so that it does not log a user out by making them a guest without asking, and sends
/// a guest of the same session straight on.
#[utoipa::path(
    tag = "web",
    params(("token" = String, Path, description = "The invite's secret")),
    responses((status = 200, content_type = "text/html", description = "The page"))
)]
#[get("/join/{token}")]
pub async fn join(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    // An unreadable database shows the page; joining then says what is wrong.
    let identity = identify(&req, &state).await.ok().flatten();
    let signed_in_as = identity.as_ref().map_or("", |i| i.user.username.as_str());
    let guest_of = identity
        .as_ref()
        .and_then(|i| i.guest_session)
        .map_or(String::new(), |id| id.to_string());
    match html_page_with(
        "join.html",
        &state.settings.instance_name,
        &[("signed_in_as", signed_in_as), ("guest_of", &guest_of)],
    ) {
        Some(mut page) => {
            // The page names who is logged in: no shared cache may keep it for others.
            page.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("private, no-cache"),
            );
            page
        }
        None => missing(),
    }
}

/// The site's icon, for browsers that ask for it before reading a page (and for bookmarks).
#[utoipa::path(tag = "web", responses((status = 200, content_type = "image/x-icon", description = "The icon")))]
#[get("/favicon.ico")]
pub async fn favicon() -> HttpResponse {
    asset("favicon.ico").unwrap_or_else(missing)
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
        .service(join)
        .service(favicon)
        .service(static_file);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_names_the_instance_in_its_footer() {
        for page in [
            "login.html",
            "index.html",
            "session.html",
            "admin.html",
            "join.html",
        ] {
            let file = Assets::get(page).expect("the page is embedded");
            let text = String::from_utf8_lossy(&file.data);
            assert_eq!(
                text.matches(INSTANCE_PLACEHOLDER).count(),
                1,
                "{page} has one {INSTANCE_PLACEHOLDER} (in its footer)"
            );
        }
    }

    #[test]
    fn the_instance_name_is_escaped() {
        assert_eq!(escape_html("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(escape_html("app1"), "app1");
    }
}
