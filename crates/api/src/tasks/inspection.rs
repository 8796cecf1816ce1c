//! Checklist templates and the inspections of tasks.

use std::collections::BTreeMap;

use actix_web::{get, patch, post, put, web};
use loanwatch_api_types::{
    FieldError, Problem,
    task::{Inspection, SaveInspection},
};
use loanwatch_domain::{
    ledger::LoanClass,
    people::Role,
    supervision::{PlanConfig, TaskKind, TaskStatus, checklist::Template},
};
use loanwatch_store::{
    AuditContext, DbConn, WriteTx,
    models::{InspectionRow, LoanRow, TaskRow, TemplateRow},
    repo::{inspection, loan, task},
};
use serde_json::{Value, json};

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::JsonBody,
    ledger::service,
    views::{stored, stored_json, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_checklist_templates)
        .service(create_checklist_template_version)
        .service(start_inspection)
        .service(get_inspection)
        .service(save_inspection);
}

/// Loads the shipped templates whose code is not stored yet.
pub fn seed_shipped(conn: &mut DbConn) -> Result<Vec<String>, ApiError> {
    let ctx = AuditContext {
        actor: "system:checklist-seed".to_owned(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    loanwatch_store::write(conn, ctx, |tx| {
        let mut added = Vec::new();
        for t in Template::shipped() {
            if inspection::latest_version(tx.conn(), &t.code)?.is_none() {
                store_version(tx, t.clone())?;
                added.push(t.code);
            }
        }
        Ok(added)
    })
}

fn store_version(tx: &mut WriteTx<'_>, mut t: Template) -> Result<Template, ApiError> {
    if let Err(p) = t.validate() {
        return Err(ApiError::field(
            ErrorCode::ValidationFailed,
            format!("/sections/{}", p.key),
            p.message,
        ));
    }
    t.version = inspection::latest_version(tx.conn(), &t.code)?.map_or(1, |v| v as u32 + 1);
    inspection::insert_template(
        tx,
        &TemplateRow {
            code: t.code.clone(),
            version: t.version as i32,
            document: serde_json::to_string(&t).map_err(ApiError::internal)?,
            created_at: tx.now(),
            created_by: tx.actor().to_owned(),
        },
    )?;
    tx.audit(
        "checklist_template.create",
        "checklist_template",
        &format!("{}@{}", t.code, t.version),
        &json!({}),
    )?;
    Ok(t)
}

/// Every version of every checklist template.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_checklist_templates",
    responses((status = 200, description = "Templates", body = Vec<Template>)),
    security(("bearer" = []))
)]
#[get("/checklist-templates")]
async fn list_checklist_templates(
    state: web::Data<AppState>,
    _actor: Actor,
) -> Result<web::Json<Vec<Template>>, ApiError> {
    let rows = state.db(|conn| Ok(inspection::templates(conn)?)).await?;
    Ok(web::Json(
        rows.iter()
            .map(|r| stored_json(&r.document, "template"))
            .collect::<Result<_, _>>()?,
    ))
}

/// Publish a new version of a template (administrators and head office). Inspections already
/// started keep the version they started with.
#[utoipa::path(
    tag = "tasks",
    operation_id = "create_checklist_template_version",
    request_body = Template,
    params(("code" = String, Path, description = "Template code")),
    responses(
        (status = 200, description = "The new version", body = Template),
        (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Inconsistent template", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/checklist-templates/{code}")]
async fn create_checklist_template_version(
    state: web::Data<AppState>,
    actor: Actor,
    code: web::Path<String>,
    body: JsonBody<Template>,
) -> Result<web::Json<Template>, ApiError> {
    if !matches!(actor.role, Role::Admin | Role::HeadOffice) {
        return Err(ApiError::forbidden(
            "only administrators and head office publish checklist templates",
        ));
    }
    let t = body.value;
    if t.code != code.into_inner() {
        return Err(ApiError::invalid(
            "code",
            "differs from the code in the path",
        ));
    }
    Ok(web::Json(
        write::change(&state, &actor, move |tx| store_version(tx, t)).await?,
    ))
}

fn load_template(conn: &mut DbConn, code: &str, version: i32) -> Result<Template, ApiError> {
    let row = inspection::template(conn, code, version)?.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("template {code}@{version} is missing"))
    })?;
    stored_json(&row.document, "template")
}

fn view(conn: &mut DbConn, row: InspectionRow, class: LoanClass) -> Result<Inspection, ApiError> {
    let template = load_template(conn, &row.template_code, row.template_version)?;
    let answers: BTreeMap<String, Value> = stored_json(&row.answers, "answers")?;
    let evidence: BTreeMap<String, u32> = stored_json(&row.evidence, "evidence")?;
    let missing = template
        .missing(class, &answers, &evidence, row.checked_in)
        .into_iter()
        .map(|p| FieldError {
            pointer: format!("/answers/{}", p.key),
            message: p.message,
        })
        .collect();
    Ok(Inspection {
        task_id: row.task_id,
        template,
        answers,
        evidence,
        checked_in: row.checked_in,
        missing,
        signed_by: row.signed_by,
        signed_at: row.signed_at.map(utc),
    })
}

fn task_and_loan(
    conn: &mut DbConn,
    actor: &Actor,
    task_id: &str,
) -> Result<(TaskRow, LoanRow, LoanClass), ApiError> {
    let scope = service::scope(actor);
    let t = task::get(conn, &scope, task_id).map_err(|_| ApiError::not_found("task"))?;
    let l = loan::get(conn, &scope, &t.loan_id)
        .map_err(|_| ApiError::not_found("task"))?
        .loan;
    let class = stored(&l.class, "class")?;
    Ok((t, l, class))
}

fn require_assignee_in_progress(t: &TaskRow, actor: &Actor) -> Result<(), ApiError> {
    if t.assignee_id.as_deref() != actor.user_id().map(|u| u.to_string()).as_deref() {
        return Err(ApiError::forbidden(
            "only the assigned officer fills in the checklist",
        ));
    }
    if t.status != TaskStatus::InProgress.as_str() {
        return Err(ApiError::conflict(format!(
            "the checklist is filled in while the task is in progress, not {}",
            t.status
        )));
    }
    Ok(())
}

/// Whether a task of this kind is done through a checklist.
pub fn needs_checklist(kind: &str) -> bool {
    kind == TaskKind::OnSiteInspection.as_str() || kind == TaskKind::CollateralCheck.as_str()
}

/// Checks before submission: a checklist task needs a signed-off inspection with nothing missing.
pub fn ready_to_submit(conn: &mut DbConn, t: &TaskRow) -> Result<(), ApiError> {
    if !needs_checklist(&t.kind) {
        return Ok(());
    }
    let row = inspection::get(conn, &t.id)?.ok_or_else(|| {
        ApiError::invalid(
            "action",
            "start and complete the checklist before submitting",
        )
    })?;
    if row.signed_at.is_none() {
        return Err(ApiError::invalid(
            "action",
            "sign the checklist off before submitting",
        ));
    }
    Ok(())
}

/// Start the checklist of an inspection task: the latest template serving the task's kind, the
/// loan's product and class is chosen and kept for this inspection. Starting it again (a phone
/// replaying its offline queue) answers the inspection as it stands, with the same template.
#[utoipa::path(
    tag = "tasks",
    operation_id = "start_inspection",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The checklist to fill in", body = Inspection),
        (status = 409, description = "Task not in progress", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No template serves this task", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/tasks/{id}/inspection")]
async fn start_inspection(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Inspection>, ApiError> {
    actor.require_write()?;
    let id = id.into_inner();
    let who = actor.clone();
    let out = write::change(&state, &actor, move |tx| {
        let (t, l, class) = task_and_loan(tx.conn(), &who, &id)?;
        let (product, first_inspection_checkpoint) = (
            l.product.clone(),
            loanwatch_domain::schedule::add_months(
                l.disbursement_date,
                PlanConfig::default().first_inspection_months,
                None,
            ),
        );
        require_assignee_in_progress(&t, &who)?;
        if let Some(started) = inspection::get(tx.conn(), &t.id)? {
            return view(tx.conn(), started, class);
        }
        let kind: TaskKind = stored(&t.kind, "kind")?;
        let mut latest: BTreeMap<String, Template> = BTreeMap::new();
        for r in inspection::templates(tx.conn())? {
            let tpl: Template = stored_json(&r.document, "template")?;
            latest.insert(tpl.code.clone(), tpl);
        }
        let first = t.checkpoint == first_inspection_checkpoint;
        let chosen = Template::choose(latest.into_values(), kind, &product, class, first)
            .ok_or_else(|| {
                ApiError::invalid(
                    "task",
                    "no checklist template serves this task's kind, product and class",
                )
            })?;
        let now = tx.now();
        let row = InspectionRow {
            task_id: t.id.clone(),
            template_code: chosen.code.clone(),
            template_version: chosen.version as i32,
            answers: "{}".into(),
            // Photos may be uploaded, and the officer usually checks in on arrival, before the
            // checklist is opened.
            evidence: serde_json::to_string(&loanwatch_store::repo::field::stored_evidence_counts(
                tx.conn(),
                &t.id,
            )?)
            .map_err(ApiError::internal)?,
            checked_in: !loanwatch_store::repo::field::checkins_of_task(tx.conn(), &t.id)?
                .is_empty(),
            signed_by: None,
            signed_at: None,
            started_at: now,
            updated_at: now,
        };
        inspection::insert(tx, &row)?;
        tx.audit(
            "inspection.start",
            "task",
            &t.id,
            &json!({ "template": chosen.code, "version": chosen.version }),
        )?;
        view(tx.conn(), row, class)
    })
    .await?;
    Ok(web::Json(out))
}

/// The checklist of a task, with what is still missing.
#[utoipa::path(
    tag = "tasks",
    operation_id = "get_inspection",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The checklist", body = Inspection),
        (status = 404, description = "No such task in scope, or not started", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tasks/{id}/inspection")]
async fn get_inspection(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Inspection>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let out = state
        .db(move |conn| {
            let (t, _, class) = task_and_loan(conn, &actor, &id)?;
            let row =
                inspection::get(conn, &t.id)?.ok_or_else(|| ApiError::not_found("inspection"))?;
            view(conn, row, class)
        })
        .await?;
    Ok(web::Json(out))
}

/// Save answers (validated against the template version the inspection started with) and
/// optionally sign off, which is refused while a required answer or evidence is missing.
#[utoipa::path(
    tag = "tasks",
    operation_id = "save_inspection",
    request_body = SaveInspection,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Saved", body = Inspection),
        (status = 409, description = "Task not in progress", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Answers that do not match the template, or sign-off with items missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/tasks/{id}/inspection")]
async fn save_inspection(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<SaveInspection>,
) -> Result<web::Json<Inspection>, ApiError> {
    actor.require_write()?;
    let id = id.into_inner();
    let input = body.value;
    let who = actor.clone();
    let out = write::change(&state, &actor, move |tx| {
        let (t, _, class) = task_and_loan(tx.conn(), &who, &id)?;
        require_assignee_in_progress(&t, &who)?;
        let mut row = inspection::get(tx.conn(), &t.id)?
            .ok_or_else(|| ApiError::conflict("start the checklist first"))?;
        let template = load_template(tx.conn(), &row.template_code, row.template_version)?;
        let mut answers: BTreeMap<String, Value> = stored_json(&row.answers, "answers")?;
        for (k, v) in input.answers {
            if v.is_null() {
                answers.remove(&k);
            } else {
                answers.insert(k, v);
            }
        }
        let problems = template.check_answers(class, &answers);
        if let Some(p) = problems.first() {
            return Err(ApiError::field(
                ErrorCode::ValidationFailed,
                format!("/answers/{}", p.key),
                p.message.clone(),
            ));
        }
        let evidence: BTreeMap<String, u32> = stored_json(&row.evidence, "evidence")?;
        row.answers = serde_json::to_string(&answers).map_err(ApiError::internal)?;
        row.updated_at = tx.now();
        // Any change after sign-off needs a new sign-off.
        row.signed_by = None;
        row.signed_at = None;
        if input.sign {
            let missing = template.missing(class, &answers, &evidence, row.checked_in);
            if let Some(m) = missing.first() {
                return Err(ApiError::field(
                    ErrorCode::ValidationFailed,
                    format!("/answers/{}", m.key),
                    format!("cannot sign off: {}", m.message),
                ));
            }
            row.signed_by = Some(who.subject());
            row.signed_at = Some(tx.now());
        }
        inspection::update(tx, &row)?;
        tx.audit(
            "inspection.save",
            "task",
            &t.id,
            &json!({ "answered": answers.len(), "signed": input.sign }),
        )?;
        view(tx.conn(), row, class)
    })
    .await?;
    Ok(web::Json(out))
}
