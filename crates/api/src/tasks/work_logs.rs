//! Routes of work logs.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use loanwatch_api_types::{
    Problem,
    task::{CreateWorkLog, WorkLog, WorkLogShortfall},
};
use loanwatch_domain::supervision::worklog::{WorkActivity, deadlines};
use loanwatch_store::{
    models::WorkLogRow,
    repo::{borrower, task, work_log},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    calendar,
    error::ErrorCode,
    extract::{IdempotencyKey, JsonBody},
    ledger::service,
    views::utc,
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(create_work_log)
        .service(list_work_logs)
        .service(sign_work_log)
        .service(list_work_log_shortfalls);
}

fn view(r: WorkLogRow, tz: chrono_tz::Tz) -> WorkLog {
    WorkLog {
        // Business dates are the institution's: compare the entry's local date with its due date.
        late: utc(r.created_at).with_timezone(&tz).date_naive() > r.due_date,
        id: r.id,
        borrower_id: r.borrower_id,
        task_id: r.task_id,
        author_id: r.author_id,
        activity: r.activity,
        activity_date: r.activity_date,
        content: r.content,
        due_date: r.due_date,
        sign_due_date: r.sign_due_date,
        signed_by: r.signed_by,
        signed_at: r.signed_at.map(utc),
        created_at: utc(r.created_at),
    }
}

/// Write a work log entry about a borrower in scope, due within 2 working days of the activity.
#[utoipa::path(
    tag = "tasks",
    operation_id = "create_work_log",
    request_body = CreateWorkLog,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Written", body = WorkLog),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/work-logs")]
async fn create_work_log(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateWorkLog>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden("work logs are written by people"));
    };
    let input = body.value;
    let who = actor.clone();
    let today = state.today();
    let tz = state.config.time_zone;
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        let activity: WorkActivity = input
            .activity
            .parse()
            .map_err(|e: String| ApiError::invalid("activity", e))?;
        if input.activity_date > today {
            return Err(ApiError::invalid("activity_date", "is in the future"));
        }
        let content = service::text("content", &input.content, 10_000)?;
        let scope = service::scope(&who);
        borrower::get(tx.conn(), &scope, &input.borrower_id)
            .map_err(|_| ApiError::invalid("borrower_id", "no such borrower"))?;
        if let Some(t) = &input.task_id {
            let row = task::get(tx.conn(), &scope, t)
                .map_err(|_| ApiError::invalid("task_id", "no such task"))?;
            if row.borrower_id != input.borrower_id {
                return Err(ApiError::invalid("task_id", "belongs to another borrower"));
            }
        }
        let cal = calendar::load(tx.conn())?;
        let (due_date, sign_due_date) = deadlines(&cal, input.activity_date, today)
            .map_err(|e| ApiError::new(ErrorCode::ValidationFailed, e.to_string()))?;
        let row = WorkLogRow {
            id: uuid::Uuid::now_v7().to_string(),
            borrower_id: input.borrower_id,
            task_id: input.task_id,
            author_id: me.to_string(),
            activity: activity.as_str().to_owned(),
            activity_date: input.activity_date,
            content,
            due_date,
            sign_due_date,
            signed_by: None,
            signed_at: None,
            created_at: tx.now(),
        };
        work_log::insert(tx, &row)?;
        tx.audit(
            "work_log.create",
            "borrower",
            &row.borrower_id,
            &json!({ "work_log": row.id, "activity": row.activity }),
        )?;
        Ok(view(row, tz))
    })
    .await
}

/// Query of work logs.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkLogQuery {
    /// Only this borrower's entries.
    borrower_id: Option<String>,
    /// Activities on or after.
    from: NaiveDate,
    /// Activities on or before.
    to: NaiveDate,
}

/// Work log entries in scope, newest first (at most 500).
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_work_logs",
    params(WorkLogQuery),
    responses((status = 200, description = "Entries", body = Vec<WorkLog>)),
    security(("bearer" = []))
)]
#[get("/work-logs")]
async fn list_work_logs(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<WorkLogQuery>,
) -> Result<web::Json<Vec<WorkLog>>, ApiError> {
    actor.require_read()?;
    let q = query.into_inner();
    let scope = service::scope(&actor);
    let rows = state
        .db(move |conn| {
            Ok(work_log::list(
                conn,
                &scope,
                q.borrower_id.as_deref(),
                q.from,
                q.to,
                500,
            )?)
        })
        .await?;
    let tz = state.config.time_zone;
    Ok(web::Json(rows.into_iter().map(|r| view(r, tz)).collect()))
}

/// Sign a work log entry (supervisors and above; not the author's own).
#[utoipa::path(
    tag = "tasks",
    operation_id = "sign_work_log",
    params(("id" = String, Path, description = "Entry id")),
    responses(
        (status = 200, description = "Signed", body = WorkLog),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Signed already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/work-logs/{id}/sign")]
async fn sign_work_log(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<WorkLog>, ApiError> {
    actor.require_write()?;
    if !actor.role.reviews_work() {
        return Err(ApiError::forbidden("supervisors sign work logs"));
    }
    let id = id.into_inner();
    let who = actor.clone();
    let row = write::change(&state, &actor, move |tx| {
        let scope = service::scope(&who);
        let row =
            work_log::get(tx.conn(), &scope, &id).map_err(|_| ApiError::not_found("work log"))?;
        if Some(row.author_id.clone()) == who.user_id().map(|u| u.to_string()) {
            return Err(ApiError::forbidden("nobody signs their own work log"));
        }
        work_log::sign(tx, &id, &who.subject())
            .map_err(|_| ApiError::conflict("the entry is signed already"))?;
        tx.audit(
            "work_log.sign",
            "borrower",
            &row.borrower_id,
            &json!({ "work_log": id }),
        )?;
        Ok(work_log::get(tx.conn(), &scope, &id)?)
    })
    .await?;
    Ok(web::Json(view(row, state.config.time_zone)))
}

/// Query of shortfalls.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShortfallQuery {
    /// The month, `YYYY-MM`.
    month: String,
    /// Entries required per borrower per month (default 1).
    minimum: Option<i64>,
}

/// Borrowers in scope with an active loan and fewer work log entries in the month than the
/// minimum (the rulebook asks for one or two a month).
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_work_log_shortfalls",
    params(ShortfallQuery),
    responses(
        (status = 200, description = "Borrowers short of entries", body = Vec<WorkLogShortfall>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/work-logs/shortfalls")]
async fn list_work_log_shortfalls(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<ShortfallQuery>,
) -> Result<web::Json<Vec<WorkLogShortfall>>, ApiError> {
    actor.require_read()?;
    let q = query.into_inner();
    let bad = || {
        ApiError::field(
            ErrorCode::InvalidParameter,
            "#/query/month",
            "must be YYYY-MM",
        )
    };
    let from =
        NaiveDate::parse_from_str(&format!("{}-01", q.month), "%Y-%m-%d").map_err(|_| bad())?;
    let to = loanwatch_domain::schedule::add_months(from, 1, None)
        .pred_opt()
        .unwrap_or(from);
    let minimum = q.minimum.unwrap_or(1);
    if !(1..=31).contains(&minimum) {
        return Err(ApiError::field(
            ErrorCode::InvalidParameter,
            "#/query/minimum",
            "must be from 1 to 31",
        ));
    }
    let scope = service::scope(&actor);
    let rows = state
        .db(move |conn| Ok(work_log::shortfalls(conn, &scope, from, to, minimum)?))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(borrower_id, borrower_name, entries)| WorkLogShortfall {
                borrower_id,
                borrower_name,
                entries,
                minimum,
            })
            .collect(),
    ))
}
