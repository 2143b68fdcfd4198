//! Health and readiness for operators and load balancers.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::AppState;

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 when the database answers, else 503.
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

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}
