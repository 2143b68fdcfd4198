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

/// 200 when the database answers and takes writes (every live-write thread connected) and, with
/// `REDIS_URL`, Redis answers; else 503 with the reason.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Ready"), (status = 503, description = "The database does not answer or cannot take writes, or Redis (with REDIS_URL) does not answer")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let backend = store.backend();
    let unavailable = |why: String| {
        log::warn!("not ready: {why}");
        HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "database": backend, "error": why}))
    };
    if let Some(problem) = store.writer_problem() {
        return unavailable(problem);
    }
    if let Some(problem) = state.cluster.problem() {
        log::warn!("not ready: the backplane: {problem}");
        return HttpResponse::ServiceUnavailable().json(json!({
            "status": "unavailable",
            "database": backend,
            "backplane": "redis",
            "error": format!("Redis: {problem}"),
        }));
    }
    let ping =
        actix_web::rt::time::timeout(store.write_deadline(), web::block(move || store.ping()));
    match ping.await {
        Ok(Ok(Ok(()))) => HttpResponse::Ok().json(json!({
            "status": "ready",
            "database": backend,
            // `redis` when live sessions are shared with other processes (and Redis answers).
            "backplane": if state.cluster.is_shared() { "redis" } else { "none" },
            "writer_restarts": state.store.writer_restarts(),
        })),
        Ok(Ok(Err(e))) => unavailable(e.to_string()),
        Ok(Err(_)) => HttpResponse::ServiceUnavailable().json(json!({"status": "shutting down"})),
        Err(_) => unavailable("the database did not answer in time".into()),
    }
}

/// Metrics in Prometheus text format (README "Metrics" lists and explains each).
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "text/plain", description = "Prometheus text format, version 0.0.4")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match &state.metrics {
        Some(handle) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(handle.render()),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("metrics are not available in this process\n"),
    }
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
