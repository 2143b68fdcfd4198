//! Health and readiness for operators and load balancers.

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use crate::AppState;

/// 200 while the process runs.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process runs")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database answers, else 503.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Ready"), (status = 503, description = "The database does not answer")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let backend = store.backend();
    match web::block(move || store.ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ready", "database": backend})),
        Ok(Err(e)) => {
            log::warn!("not ready: {e}");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "database": backend, "error": e.to_string()}))
        }
        Err(_) => HttpResponse::ServiceUnavailable().json(json!({"status": "shutting down"})),
    }
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}
