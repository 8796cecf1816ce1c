//! Routes of supervision tasks and the officer's agenda.

use actix_web::{get, post, web};
use chrono::NaiveDate;
use loanwatch_api_types::{
    Page, Problem,
    task::{HandOver, HandOverResult, Task, TaskActionRequest, TaskEvent},
};
use loanwatch_domain::{
    UserId,
    supervision::{ReviewOutcome, TaskAction, TaskState, TaskStatus},
};
use loanwatch_store::{
    models::{TaskEventRow, TaskRow},
    repo::task,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::{JsonBody, decode_keyed_cursor, encode_cursor, page_limit},
    ledger::service,
    views::{stored, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_tasks)
        .service(get_agenda)
        .service(get_task)
        .service(act_on_task)
        .service(hand_over_tasks);
}

fn view(
    r: TaskRow,
    today: NaiveDate,
    history: Option<Vec<TaskEventRow>>,
) -> Result<Task, ApiError> {
    let status: TaskStatus = stored(&r.status, "status")?;
    let open = !matches!(status, TaskStatus::Approved | TaskStatus::Rejected);
    Ok(Task {
        kind: stored(&r.kind, "kind")?,
        overdue: open && r.due_date < today,
        status,
        history: history
            .map(|h| {
                h.into_iter()
                    .map(|e| {
                        Ok(TaskEvent {
                            from_status: stored(&e.from_status, "from_status")?,
                            to_status: stored(&e.to_status, "to_status")?,
                            action: e.action,
                            actor: e.actor,
                            comment: e.comment,
                            at: utc(e.at),
                        })
                    })
                    .collect::<Result<Vec<_>, ApiError>>()
            })
            .transpose()?,
        id: r.id,
        loan_id: r.loan_id,
        borrower_id: r.borrower_id,
        checkpoint: r.checkpoint,
        due_date: r.due_date,
        assignee_id: r.assignee_id,
        review_levels: r.review_levels,
        approvals: r.approvals,
        returns: r.returns,
        organisation_id: r.organisation_id,
        version: r.version,
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
    })
}

const OPEN: [&str; 5] = [
    "planned",
    "assigned",
    "in_progress",
    "submitted",
    "returned",
];

/// Query of the task list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// Only tasks of this officer.
    assignee_id: Option<String>,
    /// Only tasks of this loan.
    loan_id: Option<String>,
    /// Comma-separated statuses, or `open` (everything not approved or rejected).
    status: Option<String>,
    /// Due on or after.
    due_from: Option<NaiveDate>,
    /// Due on or before.
    due_to: Option<NaiveDate>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

fn statuses(text: Option<&str>) -> Result<Vec<String>, ApiError> {
    match text {
        None => Ok(Vec::new()),
        Some("open") => Ok(OPEN.iter().map(|s| (*s).to_owned()).collect()),
        Some(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<TaskStatus>()
                    .map(|st| st.as_str().to_owned())
                    .map_err(|e| ApiError::field(ErrorCode::InvalidParameter, "#/query/status", e))
            })
            .collect(),
    }
}

/// Tasks in the caller's scope by due date: officers see their own; supervisors their
/// subtree's workload, overdue work (`status=open&due_to=<yesterday>`) and review queue
/// (`status=submitted`).
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_tasks",
    params(TaskQuery),
    responses(
        (status = 200, description = "A page of tasks", body = Page<Task>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tasks")]
async fn list_tasks(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<TaskQuery>,
) -> Result<web::Json<Page<Task>>, ApiError> {
    actor.require_read()?;
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let after = decode_keyed_cursor(q.cursor.as_deref(), "due_date")?;
    let filter = task::TaskFilter {
        assignee_id: q.assignee_id,
        loan_id: q.loan_id,
        statuses: statuses(q.status.as_deref())?,
        due_from: q.due_from,
        due_to: q.due_to,
    };
    let scope = service::scope(&actor);
    let today = state.today();
    let page = state
        .db(move |conn| Ok(task::list(conn, &scope, &filter, after, limit)?))
        .await?;
    let next_cursor = page
        .has_more
        .then(|| {
            page.items
                .last()
                .map(|t| encode_cursor("due_date", &t.due_date.to_string(), &t.id))
        })
        .flatten();
    Ok(web::Json(Page {
        items: page
            .items
            .into_iter()
            .map(|t| view(t, today, None))
            .collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// Query of the agenda.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgendaQuery {
    /// First day; today if absent.
    from: Option<NaiveDate>,
    /// Last day; 30 days after `from` if absent.
    to: Option<NaiveDate>,
}

/// My open tasks due up to `to`, most urgent first: everything overdue, then by due date.
#[utoipa::path(
    tag = "tasks",
    operation_id = "get_agenda",
    params(AgendaQuery),
    responses((status = 200, description = "The agenda", body = Vec<Task>)),
    security(("bearer" = []))
)]
#[get("/me/agenda")]
async fn get_agenda(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<AgendaQuery>,
) -> Result<web::Json<Vec<Task>>, ApiError> {
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden("API clients have no agenda"));
    };
    let today = state.today();
    let from = query.from.unwrap_or(today);
    let to = query.to.unwrap_or(from + chrono::Duration::days(30));
    if to < from {
        return Err(ApiError::field(
            ErrorCode::InvalidParameter,
            "#/query/to",
            "is before from",
        ));
    }
    let scope = service::scope(&actor);
    let filter = task::TaskFilter {
        assignee_id: Some(me.to_string()),
        statuses: OPEN.iter().map(|s| (*s).to_owned()).collect(),
        due_to: Some(to),
        ..Default::default()
    };
    let rows = state
        .db(move |conn| Ok(task::list(conn, &scope, &filter, None, 500)?.items))
        .await?;
    // Overdue first (oldest first), then the window in date order; nothing due before `from`
    // that is not overdue.
    let tasks = rows
        .into_iter()
        .filter(|t| t.due_date >= from || t.due_date < today)
        .map(|t| view(t, today, None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(web::Json(tasks))
}

/// One task with its history.
#[utoipa::path(
    tag = "tasks",
    operation_id = "get_task",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tasks/{id}")]
async fn get_task(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Task>, ApiError> {
    actor.require_read()?;
    let scope = service::scope(&actor);
    let id = id.into_inner();
    let today = state.today();
    let (row, history) = state
        .db(move |conn| {
            let row = task::get(conn, &scope, &id).map_err(|_| ApiError::not_found("task"))?;
            let history = task::events(conn, &row.id)?;
            Ok((row, history))
        })
        .await?;
    Ok(web::Json(view(row, today, Some(history))?))
}

/// Act on a task: `assign` (supervisors), `start` and `submit` (the assignee), `approve`,
/// `return` with comments, or `reject` (reviewers other than the author, one approval each per
/// submission). Send the `version` you saw; if someone acted meanwhile the answer is 409.
#[utoipa::path(
    tag = "tasks",
    operation_id = "act_on_task",
    request_body = TaskActionRequest,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task after the action", body = Task),
        (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version, or a transition the lifecycle does not allow", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid action", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/tasks/{id}/actions")]
async fn act_on_task(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<TaskActionRequest>,
) -> Result<web::Json<Task>, ApiError> {
    actor.require_write()?;
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden(
            "tasks are worked by people, not API clients",
        ));
    };
    let input = body.value;
    let id = id.into_inner();
    let who = actor.clone();
    let today = state.today();
    let comment = input
        .comment
        .as_deref()
        .map(|c| service::text("comment", c, 2000))
        .transpose()?;
    let action = match input.action.as_str() {
        "assign" => {
            if !actor.role.reviews_work() {
                return Err(ApiError::forbidden("supervisors assign tasks"));
            }
            let assignee = input
                .assignee_id
                .clone()
                .ok_or_else(|| ApiError::invalid("assignee_id", "is required to assign"))?;
            TaskAction::Assign { assignee }
        }
        "start" => TaskAction::Start,
        "submit" => TaskAction::Submit,
        "approve" | "return" | "reject" => {
            if !actor.role.reviews_work() {
                return Err(ApiError::forbidden(
                    "supervisors and risk managers review tasks",
                ));
            }
            if input.action != "approve" && comment.is_none() {
                return Err(ApiError::invalid(
                    "comment",
                    "say why the work is returned or rejected",
                ));
            }
            TaskAction::Review(match input.action.as_str() {
                "approve" => ReviewOutcome::Approve,
                "return" => ReviewOutcome::Return,
                _ => ReviewOutcome::Reject,
            })
        }
        other => {
            return Err(ApiError::invalid(
                "action",
                format!("{other:?} is not one of assign, start, submit, approve, return, reject"),
            ));
        }
    };
    if input.action != "assign" && input.assignee_id.is_some() {
        return Err(ApiError::invalid("assignee_id", "applies only to assign"));
    }
    let row = write::change(&state, &actor, move |tx| {
        let scope = service::scope(&who);
        let mut row = task::get(tx.conn(), &scope, &id).map_err(|_| ApiError::not_found("task"))?;
        if row.version != input.version {
            return Err(ApiError::conflict(format!(
                "the task changed meanwhile (version {} now); reload it",
                row.version
            )));
        }
        if let TaskAction::Assign { assignee } = &action {
            let officer: UserId = assignee
                .parse()
                .map_err(|_| ApiError::invalid("assignee_id", "not a user id"))?;
            service::check_officer(tx.conn(), &who, &scope, officer, "assignee_id")?;
        }
        if matches!(action, TaskAction::Submit) {
            crate::tasks::inspection::ready_to_submit(tx.conn(), &row)?;
        }
        if matches!(action, TaskAction::Review(ReviewOutcome::Approve)) {
            // One approval per reviewer per submission: the levels are different people.
            let history = task::events(tx.conn(), &row.id)?;
            let since_submit = history.iter().rev().take_while(|e| e.action != "submit");
            if since_submit
                .into_iter()
                .any(|e| e.action == "approve" && e.actor == who.subject())
            {
                return Err(ApiError::conflict(
                    "you approved this submission already; the next level is someone else's",
                ));
            }
        }
        let from: TaskStatus = stored(&row.status, "status")?;
        let state_before = TaskState {
            status: from,
            assignee: row.assignee_id.clone(),
            review_levels: row.review_levels.max(1) as u32,
            approvals: row.approvals.max(0) as u32,
            returns: row.returns.max(0) as u32,
        };
        let after = state_before
            .apply(&action, &me.to_string())
            .map_err(|e| match e {
                loanwatch_domain::supervision::TaskError::NotAllowed { .. } => {
                    ApiError::conflict(e.to_string())
                }
                _ => ApiError::forbidden(e.to_string()),
            })?;
        let expected = row.version;
        row.status = after.status.as_str().to_owned();
        row.assignee_id = after.assignee.clone();
        row.approvals = after.approvals as i32;
        row.returns = after.returns as i32;
        row.updated_at = tx.now();
        task::update_state(tx, &row, expected)?;
        row.version = expected + 1;
        task::insert_event(
            tx,
            &TaskEventRow {
                id: uuid::Uuid::now_v7().to_string(),
                task_id: row.id.clone(),
                action: input.action.clone(),
                actor: who.subject(),
                from_status: from.as_str().to_owned(),
                to_status: after.status.as_str().to_owned(),
                comment: comment.clone(),
                at: tx.now(),
            },
        )?;
        tx.audit(
            "task.action",
            "task",
            &row.id,
            &json!({ "action": input.action, "from": from, "to": after.status }),
        )?;
        // The borrower's health counts the inspections still in the officer's hands: a task
        // leaving them (submitted) or coming back (returned) changes it, so the incremental
        // pass runs now, not at the nightly batch.
        if task::WITH_OFFICER.contains(&from.as_str())
            != task::WITH_OFFICER.contains(&after.status.as_str())
        {
            crate::monitoring::health::refresh(tx, std::slice::from_ref(&row.borrower_id), today)?;
        }
        let history = task::events(tx.conn(), &row.id)?;
        Ok((row, history))
    })
    .await?;
    Ok(web::Json(view(row.0, today, Some(row.1))?))
}

/// Hand an officer's book in the caller's scope to another officer (the officer leaves or
/// changes post): their borrowers, loans, pending notices and open tasks. Supervisors and above.
#[utoipa::path(
    tag = "tasks",
    operation_id = "hand_over_tasks",
    request_body = HandOver,
    params(("id" = String, Path, description = "The officer whose tasks move")),
    responses(
        (status = 200, description = "Moved", body = HandOverResult),
        (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an officer you may assign", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/hand-over")]
async fn hand_over_tasks(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<HandOver>,
) -> Result<web::Json<HandOverResult>, ApiError> {
    actor.require_write()?;
    if !actor.role.reviews_work() {
        return Err(ApiError::forbidden("supervisors hand tasks over"));
    }
    let from = id.into_inner();
    let to: UserId = body
        .value
        .to_officer_id
        .parse()
        .map_err(|_| ApiError::invalid("to_officer_id", "not a user id"))?;
    let who = actor.clone();
    let moved = write::change(&state, &actor, move |tx| {
        let scope = service::scope(&who);
        service::check_officer(tx.conn(), &who, &scope, to, "to_officer_id")?;
        // The officer's customers go with the work: borrowers, loans, pending notices, tasks.
        let loan_ids =
            loanwatch_store::repo::loan::reassign_officer(tx, &scope, &from, &to.to_string())?;
        loanwatch_store::repo::notice::reassign_loans(tx, &loan_ids, &to.to_string())?;
        let open = task::open_of_assignee(tx.conn(), &scope, &from)?;
        let n = crate::tasks::move_tasks(
            tx,
            open,
            &to.to_string(),
            "the officer's work was handed over",
        )?;
        tx.audit(
            "task.hand_over",
            "user",
            &from,
            &json!({ "to": to, "moved": n }),
        )?;
        Ok(n)
    })
    .await?;
    Ok(web::Json(HandOverResult { moved }))
}
