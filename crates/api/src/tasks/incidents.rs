//! Routes of major incident reports (重大突发事件报告): filed within 1 working day of learning of
//! the event, signed by the reporter, a supervisor, and the risk department or branch head; the
//! last signature applies the proposed strategy adjustment (focused management, re-planned).

use actix_web::{HttpResponse, get, post, web};
use loanwatch_api_types::{
    Page, Problem,
    ledger::UpdateLoan,
    task::{CreateIncidentReport, IncidentReport, IncidentSignature, SignIncidentReport},
};
use loanwatch_domain::{
    ledger::ManagementMode,
    supervision::incident::{self, IncidentStatus},
};
use loanwatch_store::{
    models::{IncidentReportRow, IncidentSignatureRow},
    repo::{borrower, incident as repo, loan},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    calendar,
    error::ErrorCode,
    extract::{
        IdempotencyKey, JsonBody, cursor_time, decode_keyed_cursor, encode_cursor, page_limit,
        query_enum,
    },
    ledger::service,
    tasks::{escalation::escalation_targets, notifications::notify},
    views::{stored, stored_json, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(create_incident_report)
        .service(list_incident_reports)
        .service(get_incident_report)
        .service(sign_incident_report);
}

fn view(
    r: IncidentReportRow,
    signatures: Vec<IncidentSignatureRow>,
    tz: chrono_tz::Tz,
) -> Result<IncidentReport, ApiError> {
    Ok(IncidentReport {
        late: utc(r.created_at).with_timezone(&tz).date_naive() > r.due_date,
        category: stored(&r.category, "category")?,
        status: stored(&r.status, "status")?,
        proposed_mode: r
            .proposed_mode
            .as_deref()
            .map(|m| stored(m, "proposed_mode"))
            .transpose()?,
        tightened_loans: r
            .tightened_loans
            .as_deref()
            .map(|t| stored_json(t, "tightened_loans"))
            .transpose()?
            .unwrap_or_default(),
        signatures: signatures
            .into_iter()
            .map(|s| IncidentSignature {
                level: s.level,
                signer_id: s.signer_id,
                signer_role: s.signer_role,
                comment: s.comment,
                signed_at: utc(s.signed_at),
            })
            .collect(),
        id: r.id,
        borrower_id: r.borrower_id,
        loan_id: r.loan_id,
        author_id: r.author_id,
        learned_on: r.learned_on,
        due_date: r.due_date,
        summary: r.summary,
        measures: r.measures,
        created_at: utc(r.created_at),
    })
}

/// File a major incident report on a borrower in scope; filing is the reporter's signature
/// (level 1). The supervisors above the borrower's organisation are notified.
#[utoipa::path(
    tag = "tasks",
    operation_id = "create_incident_report",
    request_body = CreateIncidentReport,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Filed", body = IncidentReport),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/incident-reports")]
async fn create_incident_report(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateIncidentReport>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden("incident reports are filed by people"));
    };
    if !incident::may_sign(1, actor.role) {
        return Err(ApiError::forbidden(format!(
            "a {} does not file incident reports",
            actor.role
        )));
    }
    let input = body.value;
    let who = actor.clone();
    let today = state.today();
    let tz = state.config.time_zone;
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        if input.learned_on > today {
            return Err(ApiError::invalid("learned_on", "is in the future"));
        }
        incident::check_proposed_mode(input.proposed_mode)
            .map_err(|e| ApiError::invalid("proposed_mode", e.to_string()))?;
        let summary = service::text("summary", &input.summary, 10_000)?;
        let measures = service::text("measures", &input.measures, 10_000)?;
        let scope = service::scope(&who);
        let b = borrower::get(tx.conn(), &scope, &input.borrower_id)
            .map_err(|_| ApiError::invalid("borrower_id", "no such borrower"))?;
        if let Some(l) = &input.loan_id {
            let row = loan::get(tx.conn(), &scope, l)
                .map_err(|_| ApiError::invalid("loan_id", "no such loan"))?;
            if row.loan.borrower_id != b.id {
                return Err(ApiError::invalid("loan_id", "belongs to another borrower"));
            }
        }
        let cal = calendar::load(tx.conn())?;
        let due_date = incident::due_date(&cal, input.learned_on)
            .map_err(|e| ApiError::new(ErrorCode::ValidationFailed, e.to_string()))?;
        let now = tx.now();
        let row = IncidentReportRow {
            id: uuid::Uuid::now_v7().to_string(),
            borrower_id: b.id.clone(),
            loan_id: input.loan_id,
            organisation_id: b.organisation_id.clone(),
            author_id: me.to_string(),
            category: input.category.as_str().to_owned(),
            learned_on: input.learned_on,
            due_date,
            summary,
            measures,
            proposed_mode: input.proposed_mode.map(|m| m.as_str().to_owned()),
            status: incident::status(1).as_str().to_owned(),
            tightened_loans: None,
            created_at: now,
            updated_at: now,
        };
        let first = IncidentSignatureRow {
            report_id: row.id.clone(),
            level: 1,
            signer_id: me.to_string(),
            signer_role: who.role.as_str().to_owned(),
            comment: None,
            signed_at: now,
        };
        repo::insert(tx, &row, &first)?;
        let supervisors = escalation_targets(tx.conn(), &b.organisation_id)?;
        let supervisors: Vec<String> = supervisors
            .into_iter()
            .filter(|u| *u != me.to_string())
            .collect();
        notify(
            tx,
            &supervisors,
            "incident.to_sign",
            "incident_report",
            &row.id,
            &format!(
                "incident report on {} ({}) waits for your signature",
                b.name,
                input.category.as_str().replace('_', " ")
            ),
        )?;
        tx.audit(
            "incident_report.create",
            "borrower",
            &row.borrower_id,
            &json!({ "incident_report": row.id, "category": row.category, "proposed_mode": row.proposed_mode }),
        )?;
        view(row, vec![first], tz)
    })
    .await
}

/// Query of incident reports.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Only this borrower's reports.
    borrower_id: Option<String>,
    /// Only reports in this status: `awaiting_supervisor`, `awaiting_risk`, `signed`.
    status: Option<String>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

/// Incident reports in scope, newest first.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_incident_reports",
    params(IncidentQuery),
    responses(
        (status = 200, description = "A page of reports", body = Page<IncidentReport>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/incident-reports")]
async fn list_incident_reports(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<IncidentQuery>,
) -> Result<web::Json<Page<IncidentReport>>, ApiError> {
    actor.require_read()?;
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let after = decode_keyed_cursor(q.cursor.as_deref(), "created_at")?;
    let statuses: Vec<String> = query_enum::<IncidentStatus>(q.status.as_deref(), "status")?
        .into_iter()
        .collect();
    let scope = service::scope(&actor);
    let tz = state.config.time_zone;
    let (page, signatures) = state
        .db(move |conn| {
            let page = repo::list(
                conn,
                &scope,
                q.borrower_id.as_deref(),
                &statuses,
                after,
                limit,
            )?;
            let ids: Vec<String> = page.items.iter().map(|r| r.id.clone()).collect();
            let mut by_report = repo::signatures_of(conn, &ids)?;
            let signatures = ids
                .iter()
                .map(|id| by_report.remove(id).unwrap_or_default())
                .collect::<Vec<_>>();
            Ok((page, signatures))
        })
        .await?;
    let next_cursor = page
        .has_more
        .then(|| {
            page.items
                .last()
                .map(|r| encode_cursor("created_at", &cursor_time(r.created_at), &r.id))
        })
        .flatten();
    Ok(web::Json(Page {
        items: page
            .items
            .into_iter()
            .zip(signatures)
            .map(|(r, s)| view(r, s, tz))
            .collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// One incident report in scope, with its signatures.
#[utoipa::path(
    tag = "tasks",
    operation_id = "get_incident_report",
    params(("id" = String, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report", body = IncidentReport),
        (status = 404, description = "Not found or not in scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/incident-reports/{id}")]
async fn get_incident_report(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<IncidentReport>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    let tz = state.config.time_zone;
    let (row, signatures) = state
        .db(move |conn| {
            let row = repo::get(conn, &scope, &id)?;
            let signatures = repo::signatures(conn, &id)?;
            Ok((row, signatures))
        })
        .await
        .map_err(|e| match e.code() {
            ErrorCode::NotFound => ApiError::not_found("incident report"),
            _ => e,
        })?;
    Ok(web::Json(view(row, signatures, tz)?))
}

/// Sign an incident report at the next level: level 2 by a supervisor (or anyone above who
/// reviews work), level 3 by a risk manager, branch head or head office; three different people.
/// The last signature moves the report's loans to focused management if it proposed so, and
/// re-plans them.
#[utoipa::path(
    tag = "tasks",
    operation_id = "sign_incident_report",
    request_body = SignIncidentReport,
    params(("id" = String, Path, description = "Report id")),
    responses(
        (status = 200, description = "Signed", body = IncidentReport),
        (status = 403, description = "Not this signer's level", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not in scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Signed at every level, or by this person already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/incident-reports/{id}/sign")]
async fn sign_incident_report(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<SignIncidentReport>,
) -> Result<web::Json<IncidentReport>, ApiError> {
    actor.require_write()?;
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden("incident reports are signed by people"));
    };
    let id = id.into_inner();
    let comment = body
        .value
        .comment
        .as_deref()
        .map(|c| service::text("comment", c, 2_000))
        .transpose()?;
    let who = actor.clone();
    let today = state.today();
    let tz = state.config.time_zone;
    let (row, signatures) = write::change(&state, &actor, move |tx| {
        let scope = service::scope(&who);
        let report = repo::get(tx.conn(), &scope, &id)
            .map_err(|_| ApiError::not_found("incident report"))?;
        let signed = repo::signatures(tx.conn(), &id)?;
        let signed_by: Vec<&str> = signed.iter().map(|s| s.signer_id.as_str()).collect();
        let level = incident::next_signature(&signed_by, &me.to_string(), who.role).map_err(
            |e| match e {
                incident::IncidentError::WrongRole { .. } => ApiError::forbidden(e.to_string()),
                _ => ApiError::conflict(e.to_string()),
            },
        )?;
        let now = tx.now();
        repo::sign(
            tx,
            &IncidentSignatureRow {
                report_id: id.clone(),
                level: level as i32,
                signer_id: me.to_string(),
                signer_role: who.role.as_str().to_owned(),
                comment,
                signed_at: now,
            },
        )?;
        let status = incident::status(level);
        let mut tightened = Vec::new();
        if status == IncidentStatus::Signed {
            let proposed: Option<ManagementMode> = report
                .proposed_mode
                .as_deref()
                .map(|m| stored(m, "proposed_mode"))
                .transpose()?;
            let loans = match &report.loan_id {
                Some(l) => vec![l.clone()],
                None => loan::active_ids_of_borrower(tx.conn(), &report.borrower_id)?,
            };
            for l in loans {
                let current =
                    loan::get(tx.conn(), &scope, &l).map_err(|_| ApiError::not_found("loan"))?;
                let mode: ManagementMode =
                    stored(&current.loan.management_mode, "management_mode")?;
                if let Some(to) = incident::tightened(mode, proposed) {
                    service::update_loan(
                        tx,
                        &who,
                        &l,
                        UpdateLoan {
                            management_mode: Some(to),
                            ..UpdateLoan::default()
                        },
                        today,
                    )?;
                    tightened.push(l);
                }
            }
            notify(
                tx,
                std::slice::from_ref(&report.author_id),
                "incident.signed",
                "incident_report",
                &id,
                "your incident report is signed at all three levels",
            )?;
        } else {
            let risk = crate::tasks::escalation::nearest(
                tx.conn(),
                &report.organisation_id,
                incident::RISK_LEVEL,
            )?;
            let risk: Vec<String> = risk.into_iter().filter(|u| *u != me.to_string()).collect();
            notify(
                tx,
                &risk,
                "incident.to_sign",
                "incident_report",
                &id,
                "an incident report signed by the supervisor waits for the risk level's signature",
            )?;
        }
        let tightened_json = (!tightened.is_empty())
            .then(|| serde_json::to_string(&tightened))
            .transpose()
            .map_err(ApiError::internal)?;
        repo::set_status(tx, &id, status.as_str(), tightened_json.as_deref())?;
        tx.audit(
            "incident_report.sign",
            "borrower",
            &report.borrower_id,
            &json!({ "incident_report": id, "level": level, "tightened_loans": tightened }),
        )?;
        Ok((
            repo::get(tx.conn(), &scope, &id)?,
            repo::signatures(tx.conn(), &id)?,
        ))
    })
    .await?;
    Ok(web::Json(view(row, signatures, tz)?))
}
