//! Liveness and readiness for load balancers and orchestrators.

use actix_web::{HttpResponse, get, web};
use loanwatch_api_types::common::HealthStatus;

use crate::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(live).service(ready);
}

/// The process is up.
#[utoipa::path(
    tag = "health",
    operation_id = "get_liveness",
    responses((status = 200, description = "Alive", body = HealthStatus))
)]
#[get("/health/live")]
async fn live() -> web::Json<HealthStatus> {
    web::Json(HealthStatus {
        status: "ok".to_owned(),
        detail: None,
    })
}

/// The database and the object storage answer: the instance can serve requests.
#[utoipa::path(
    tag = "health",
    operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        (status = 503, description = "Not ready", body = HealthStatus),
    )
)]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let probe = state
        .db(|conn| Ok(loanwatch_store::pool::ping(conn)?))
        .await;
    let unavailable = |detail: String| {
        HttpResponse::ServiceUnavailable().json(HealthStatus {
            status: "unavailable".to_owned(),
            detail: Some(detail),
        })
    };
    if let Err(e) = probe {
        return unavailable(format!("database: {}", e.code().as_str()));
    }
    if let Err(e) = state.objects.check().await {
        tracing::warn!(error = %e, "object storage is not ready");
        return unavailable(format!("object storage ({})", state.objects.kind()));
    }
    HttpResponse::Ok().json(HealthStatus {
        status: "ok".to_owned(),
        detail: None,
    })
}
