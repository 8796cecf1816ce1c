//! Routes of positions, current schedules and repayments.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use loanwatch_api_types::{
    Problem,
    ledger::{CreateLoanEvent, LoanEvent},
    schedule::{CreatePrepayment, CreateRepayment, Schedule},
};
use loanwatch_domain::{LoanId, ledger::EventKind, position::Position};
use serde::Deserialize;

use crate::{
    ApiError, AppState,
    auth::Actor,
    extract::{IdempotencyKey, JsonBody, path_id},
    ledger::service,
    position::load,
    views, write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(get_loan_position)
        .service(get_loan_schedule)
        .service(create_repayment)
        .service(create_prepayment);
}

/// Query of a position.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PositionQuery {
    /// The business date; today in the institution's time zone if absent.
    as_of: Option<NaiveDate>,
}

/// Where a loan stands on a date: outstanding and overdue principal and interest, accrued
/// interest, penalty (罚息) and compound (复利) interest, the payoff amount, days past due and the
/// M1–M4+ bucket with its history, and the next instalment. Recorded events are replayed in
/// business-date order, so backdated events count as if recorded on time.
#[utoipa::path(
    tag = "ledger",
    operation_id = "get_loan_position",
    params(("id" = String, Path, description = "Loan id"), PositionQuery),
    responses(
        (status = 200, description = "The position", body = Position),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/loans/{id}/position")]
async fn get_loan_position(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    query: web::Query<PositionQuery>,
) -> Result<web::Json<Position>, ApiError> {
    actor.require_read()?;
    let id: LoanId = path_id(&id, "loan")?;
    let as_of = query.as_of.unwrap_or_else(|| state.today());
    let scope = service::scope(&actor);
    let (_, p) = state
        .db(move |conn| load(conn, &scope, &id.to_string(), as_of))
        .await?;
    Ok(web::Json(p))
}

/// The loan's schedule as it stands today: the contract schedule re-amortised by every rate
/// change and extension recorded so far.
#[utoipa::path(
    tag = "ledger",
    operation_id = "get_loan_schedule",
    params(("id" = String, Path, description = "Loan id")),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/loans/{id}/schedule")]
async fn get_loan_schedule(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Schedule>, ApiError> {
    actor.require_read()?;
    let id: LoanId = path_id(&id, "loan")?;
    let today = state.today();
    let scope = service::scope(&actor);
    let (l, p) = state
        .db(move |conn| load(conn, &scope, &id.to_string(), today))
        .await?;
    let total_principal_fen = p.schedule.iter().map(|i| i.principal_fen).sum();
    let total_interest_fen: i64 = p.schedule.iter().map(|i| i.interest_fen).sum();
    Ok(web::Json(Schedule {
        currency: views::stored(&l.currency, "currency")?,
        total_fen: total_principal_fen + total_interest_fen,
        total_principal_fen,
        total_interest_fen,
        instalments: p.schedule,
    }))
}

/// Record money received from the borrower. It settles penalty, compound interest, interest and
/// principal in that order; money beyond what is due is held for the next instalment. A payment
/// larger than the payoff amount of its date is refused.
#[utoipa::path(
    tag = "ledger",
    operation_id = "create_repayment",
    request_body = CreateRepayment,
    params(("id" = String, Path, description = "Loan id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Recorded", body = LoanEvent),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than is owed, or dated wrongly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/loans/{id}/repayments")]
async fn create_repayment(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: JsonBody<CreateRepayment>,
) -> Result<HttpResponse, ApiError> {
    let input = body.value;
    let event = money_event(
        EventKind::Repayment,
        input.business_date,
        input.amount_fen,
        None,
        input.note,
    );
    record(&state, &actor, &id, key, body.request_hash, event).await
}

/// Record principal repaid ahead of schedule (提前还款). `lower_instalment` keeps the term and
/// re-amortises lower instalments; `shorten_term` keeps the instalment and ends sooner. Refused
/// while anything is overdue, or beyond the principal not yet due.
#[utoipa::path(
    tag = "ledger",
    operation_id = "create_prepayment",
    request_body = CreatePrepayment,
    params(("id" = String, Path, description = "Loan id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Recorded", body = LoanEvent),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "In arrears, too much, or dated wrongly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/loans/{id}/prepayments")]
async fn create_prepayment(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: JsonBody<CreatePrepayment>,
) -> Result<HttpResponse, ApiError> {
    let input = body.value;
    let event = money_event(
        EventKind::Prepayment,
        input.business_date,
        input.amount_fen,
        Some(input.mode),
        input.note,
    );
    record(&state, &actor, &id, key, body.request_hash, event).await
}

/// A money event (repayment, prepayment) in the shape of the generic event request.
fn money_event(
    kind: EventKind,
    business_date: chrono::NaiveDate,
    amount_fen: i64,
    prepayment_mode: Option<loanwatch_domain::position::PrepaymentMode>,
    note: Option<String>,
) -> CreateLoanEvent {
    CreateLoanEvent {
        kind,
        business_date,
        amount_fen: Some(amount_fen),
        currency: None,
        new_maturity_date: None,
        new_annual_rate: None,
        new_guarantee_method: None,
        prepayment_mode,
        note,
    }
}

/// Records an event through the one event use case, honouring `Idempotency-Key`.
async fn record(
    state: &AppState,
    actor: &Actor,
    id: &str,
    key: IdempotencyKey,
    request_hash: String,
    event: CreateLoanEvent,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let id: LoanId = path_id(id, "loan")?;
    let who = actor.clone();
    let today = state.today();
    write::create(state, actor, key, request_hash, move |tx| {
        service::create_event(tx, &who, &id.to_string(), event, today)
    })
    .await
}
