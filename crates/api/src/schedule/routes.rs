//! Routes of schedules.

use actix_web::{post, web};
use loanwatch_api_types::{
    Problem,
    schedule::{Schedule, SchedulePreviewRequest},
};
use loanwatch_domain::Currency;

use crate::{
    ApiError,
    auth::Actor,
    extract::JsonBody,
    schedule::{TermsInput, compute, terms},
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(preview_schedule);
}

/// Compute a repayment schedule from terms, without booking a loan. Equal instalment (等额本息)
/// and equal principal (等额本金) charge the monthly rate (annual / 12) per regular period and
/// daily interest (annual / 360 by default) for broken periods; interest-only and bullet
/// methods accrue daily over actual days. Amounts are exact to the fen.
#[utoipa::path(
    tag = "schedules",
    operation_id = "preview_schedule",
    request_body = SchedulePreviewRequest,
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Terms out of range or inconsistent", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schedules/preview")]
async fn preview_schedule(
    _actor: Actor,
    body: JsonBody<SchedulePreviewRequest>,
) -> Result<web::Json<Schedule>, ApiError> {
    let r = body.value;
    let t = terms(&TermsInput {
        principal_fen: r.principal_fen,
        annual_rate: &r.annual_rate,
        method: r.repayment_method,
        start_date: r.start_date,
        maturity_date: r.maturity_date,
        frequency: r.repayment_frequency,
        repayment_day: r.repayment_day,
        day_count: r.day_count,
        custom: r.custom_schedule.as_deref(),
    })?;
    Ok(web::Json(compute(&t, r.currency.unwrap_or(Currency::Cny))?))
}
