//! Routes of warnings: listing and reading in scope, and their life (acknowledge, escalate,
//! resolve with a reason).

use actix_web::{get, post, web};
use loanwatch_api_types::{
    Page, Problem,
    monitoring::{Warning, WarningActionRequest, WarningDetail, WarningEvent},
};
use loanwatch_domain::monitoring::{
    Tier,
    warning::{self, WarningAction, WarningStatus},
};
use loanwatch_store::{
    models::{WarningEventRow, WarningRow},
    repo::monitoring::{self as repo, WarningFilter},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::{JsonBody, cursor_time, decode_keyed_cursor, encode_cursor, page_limit, query_enum},
    ledger::service,
    tasks::{escalation::escalation_targets, notifications::notify},
    views::{stored, stored_json, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_warnings)
        .service(get_warning)
        .service(act_on_warning);
}

/// A stored warning on the wire.
pub fn warning_view(w: WarningRow) -> Result<Warning, ApiError> {
    Ok(Warning {
        tier: stored(&w.tier, "tier")?,
        status: stored(&w.status, "warning status")?,
        facts: stored_json(&w.facts, "warning facts")?,
        id: w.id,
        borrower_id: w.borrower_id,
        loan_id: w.loan_id,
        rule: w.rule,
        period: w.period,
        rule_version: w.rule_version,
        raised_on: w.raised_on,
        detail: w.detail,
        task_id: w.task_id,
        resolution: w.resolution,
        version: w.version,
        created_at: utc(w.created_at),
        updated_at: utc(w.updated_at),
    })
}

/// The warnings of `rows` the scope covers, as the API shows them: what a write answers when
/// it may have raised warnings on borrowers of other branches.
pub fn visible_warnings(
    conn: &mut loanwatch_store::DbConn,
    scope: &loanwatch_store::ScopeFilter,
    rows: Vec<WarningRow>,
) -> Result<Vec<Warning>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|w| w.id.clone()).collect();
    let seen: std::collections::BTreeSet<String> = repo::visible_warning_ids(conn, scope, &ids)?
        .into_iter()
        .collect();
    rows.into_iter()
        .filter(|w| seen.contains(&w.id))
        .map(warning_view)
        .collect()
}

fn event_view(e: WarningEventRow) -> Result<WarningEvent, ApiError> {
    Ok(WarningEvent {
        from_status: stored(&e.from_status, "warning status")?,
        to_status: stored(&e.to_status, "warning status")?,
        action: e.action,
        actor: e.actor,
        comment: e.comment,
        at: utc(e.at),
    })
}

/// Query of warnings.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WarningQuery {
    /// Only this borrower's warnings.
    borrower_id: Option<String>,
    /// Only in this status: `open`, `acknowledged`, `escalated`, `resolved`.
    status: Option<String>,
    /// Only of this tier: `blue`, `yellow`, `orange`, `red`.
    tier: Option<String>,
    /// Only of this rule (`flow_back`, `large_transfer`, …).
    rule: Option<String>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

/// Warnings in scope, newest first.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "list_warnings",
    params(WarningQuery),
    responses(
        (status = 200, description = "A page of warnings", body = Page<Warning>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/warnings")]
async fn list_warnings(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<WarningQuery>,
) -> Result<web::Json<Page<Warning>>, ApiError> {
    actor.require_read()?;
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let after = decode_keyed_cursor(q.cursor.as_deref(), "created_at")?;
    let filter = WarningFilter {
        borrower_id: q.borrower_id,
        status: query_enum::<WarningStatus>(q.status.as_deref(), "status")?,
        tier: query_enum::<Tier>(q.tier.as_deref(), "tier")?,
        rule: q.rule,
    };
    let scope = service::scope(&actor);
    let page = state
        .db(move |conn| Ok(repo::warnings(conn, &scope, &filter, after, limit)?))
        .await?;
    let next_cursor = page
        .has_more
        .then(|| {
            page.items
                .last()
                .map(|w| encode_cursor("created_at", &cursor_time(w.created_at), &w.id))
        })
        .flatten();
    Ok(web::Json(Page {
        items: page
            .items
            .into_iter()
            .map(warning_view)
            .collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// One warning in scope, with its history.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "get_warning",
    params(("id" = String, Path, description = "Warning id")),
    responses(
        (status = 200, description = "The warning", body = WarningDetail),
        (status = 404, description = "Not found or not in scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/warnings/{id}")]
async fn get_warning(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<WarningDetail>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    state
        .db(move |conn| {
            let w = repo::warning(conn, &scope, &id).map_err(|_| ApiError::not_found("warning"))?;
            detail(conn, w)
        })
        .await
        .map(web::Json)
}

fn detail(conn: &mut loanwatch_store::DbConn, w: WarningRow) -> Result<WarningDetail, ApiError> {
    let history = repo::warning_events(conn, &w.id)?
        .into_iter()
        .map(event_view)
        .collect::<Result<_, _>>()?;
    Ok(WarningDetail {
        warning: warning_view(w)?,
        history,
    })
}

/// Acknowledge, escalate or resolve a warning. Resolving needs the reason; an escalated warning
/// is resolved by a supervisor, risk manager, branch head or head office. Escalating tells the
/// supervisors above the borrower's organisation. A stale `version` is 409.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "act_on_warning",
    request_body = WarningActionRequest,
    params(("id" = String, Path, description = "Warning id")),
    responses(
        (status = 200, description = "Done", body = WarningDetail),
        (status = 403, description = "Not this role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not in scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not from this status, or stale version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/warnings/{id}/actions")]
async fn act_on_warning(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<WarningActionRequest>,
) -> Result<web::Json<WarningDetail>, ApiError> {
    actor.require_write()?;
    let id = id.into_inner();
    let input = body.value;
    let who = actor.clone();
    let today = state.today();
    write::change(&state, &actor, move |tx| {
        let scope = service::scope(&who);
        let w =
            repo::warning(tx.conn(), &scope, &id).map_err(|_| ApiError::not_found("warning"))?;
        let status: WarningStatus = stored(&w.status, "warning status")?;
        let comment = input
            .comment
            .as_deref()
            .map(|c| service::text("comment", c, 2000))
            .transpose()?;
        let next = warning::apply(
            status,
            input.action,
            who.role.reviews_work(),
            comment.as_deref(),
        )
        .map_err(|e| match e {
            warning::WarningError::NotAllowed { .. } => ApiError::conflict(e.to_string()),
            warning::WarningError::NeedsReviewer => ApiError::forbidden(e.to_string()),
            warning::WarningError::NoReason => ApiError::invalid("comment", e.to_string()),
        })?;
        if input.version != w.version {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "the warning changed since version {} (now {}); read it again",
                    input.version, w.version
                ),
            ));
        }
        let resolution = (input.action == WarningAction::Resolve)
            .then(|| comment.clone())
            .flatten();
        if !repo::update_warning(tx, &w.id, w.version, next.as_str(), resolution.as_deref())? {
            return Err(ApiError::conflict(
                "the warning changed meanwhile; read it again",
            ));
        }
        let now = tx.now();
        repo::insert_warning_events(
            tx,
            &[WarningEventRow {
                id: uuid::Uuid::now_v7().to_string(),
                warning_id: w.id.clone(),
                action: input.action.as_str().to_owned(),
                actor: who.subject(),
                from_status: status.as_str().to_owned(),
                to_status: next.as_str().to_owned(),
                comment: comment.clone(),
                at: now,
            }],
        )?;
        if input.action == WarningAction::Escalate {
            let me = who.user_id().map(|u| u.to_string());
            let supervisors: Vec<String> = escalation_targets(tx.conn(), &w.organisation_id)?
                .into_iter()
                .filter(|u| Some(u) != me.as_ref())
                .collect();
            let message = format!("{} warning escalated: {}", w.tier, w.detail);
            notify(
                tx,
                &supervisors,
                "warning.escalated",
                "warning",
                &w.id,
                &message,
            )?;
        }
        tx.audit(
            &format!("warning.{}", input.action),
            "warning",
            &w.id,
            &json!({ "from": status, "to": next, "comment": comment }),
        )?;
        if next == WarningStatus::Resolved {
            // A resolved flow warning no longer counts in the borrower's health.
            super::health::refresh(tx, std::slice::from_ref(&w.borrower_id), today)?;
        }
        let w = repo::warning(tx.conn(), &scope, &id)?;
        detail(tx.conn(), w)
    })
    .await
    .map(web::Json)
}
