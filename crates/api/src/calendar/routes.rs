//! Routes of the working-day calendar.

use actix_web::{get, put, web};
use chrono::NaiveDate;
use loanwatch_api_types::{Problem, schedule::Deadline};
use loanwatch_domain::calendar::CalendarYear;
use loanwatch_store::repo::calendar as repo;
use serde::Deserialize;

use crate::{
    ApiError, AppState, auth::Actor, calendar, error::ErrorCode, extract::JsonBody, write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_calendar_years)
        .service(get_deadline)
        .service(get_calendar_year)
        .service(replace_calendar_year);
}

/// Every loaded year of the working-day calendar.
#[utoipa::path(
    tag = "calendar",
    operation_id = "list_calendar_years",
    responses((status = 200, description = "Loaded years", body = Vec<CalendarYear>)),
    security(("bearer" = []))
)]
#[get("/calendar")]
async fn list_calendar_years(
    state: web::Data<AppState>,
    _actor: Actor,
) -> Result<web::Json<Vec<CalendarYear>>, ApiError> {
    Ok(web::Json(state.db(calendar::load_years).await?))
}

/// Query of a deadline.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadlineQuery {
    /// The day to count from (not counted itself).
    from: NaiveDate,
    /// Working days to add, 0–366 (0: the day itself if working, else the next working day).
    working_days: u32,
}

/// The `working_days`-th working day after `from`, as notices count their deadlines
/// ("within 10 working days after the due date").
#[utoipa::path(
    tag = "calendar",
    operation_id = "get_deadline",
    params(DeadlineQuery),
    responses(
        (status = 200, description = "The deadline", body = Deadline),
        (status = 422, description = "A year on the way is not loaded", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/calendar/deadline")]
async fn get_deadline(
    state: web::Data<AppState>,
    _actor: Actor,
    query: web::Query<DeadlineQuery>,
) -> Result<web::Json<Deadline>, ApiError> {
    let DeadlineQuery { from, working_days } = query.into_inner();
    if working_days > 366 {
        return Err(ApiError::field(
            ErrorCode::InvalidParameter,
            "#/query/working_days",
            "must be from 0 to 366",
        ));
    }
    let cal = state.db(calendar::load).await?;
    let date = cal
        .add_working_days(from, working_days)
        .map_err(|e| ApiError::new(ErrorCode::ValidationFailed, e.to_string()))?;
    Ok(web::Json(Deadline {
        from,
        working_days,
        date,
    }))
}

/// One year of the calendar.
#[utoipa::path(
    tag = "calendar",
    operation_id = "get_calendar_year",
    params(("year" = i32, Path, description = "The year")),
    responses(
        (status = 200, description = "The year", body = CalendarYear),
        (status = 404, description = "Not loaded", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/calendar/{year}")]
async fn get_calendar_year(
    state: web::Data<AppState>,
    _actor: Actor,
    year: web::Path<i32>,
) -> Result<web::Json<CalendarYear>, ApiError> {
    let year = year.into_inner();
    let row = state
        .db(move |conn| repo::get(conn, year).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("calendar year"))?;
    let doc: CalendarYear = serde_json::from_str(&row.document).map_err(ApiError::internal)?;
    Ok(web::Json(doc))
}

/// Load or replace a year (administrators): holidays and make-up working days as the State
/// Council announced them.
#[utoipa::path(
    tag = "calendar",
    operation_id = "replace_calendar_year",
    request_body = CalendarYear,
    params(("year" = i32, Path, description = "The year")),
    responses(
        (status = 200, description = "Stored", body = CalendarYear),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Inconsistent document", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/calendar/{year}")]
async fn replace_calendar_year(
    state: web::Data<AppState>,
    actor: Actor,
    year: web::Path<i32>,
    body: JsonBody<CalendarYear>,
) -> Result<web::Json<CalendarYear>, ApiError> {
    actor.require_admin()?;
    let doc = body.value;
    if doc.year != year.into_inner() {
        return Err(ApiError::invalid(
            "year",
            "differs from the year in the path",
        ));
    }
    let stored = doc.clone();
    write::change(&state, &actor, move |tx| calendar::put_year(tx, &stored)).await?;
    Ok(web::Json(doc))
}
