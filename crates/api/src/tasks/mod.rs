//! Supervision tasks: the plan job that creates them from each loan's plan, and the routes.

pub mod inspection;
pub mod routes;
pub mod work_logs;

use chrono::NaiveDate;
use loanwatch_domain::{
    ledger::{LoanClass, ManagementMode},
    schedule::add_months,
    supervision::{PlanConfig, PlanLoan, TaskStatus, plan},
};
use loanwatch_store::{
    AuditContext, DbConn,
    models::TaskRow,
    repo::{loan, notice, task},
};
use serde_json::json;

use crate::{ApiError, calendar, views::stored};

/// The job's name in `job_runs`.
pub const JOB: &str = "plan_tasks";

/// What a plan run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanReport {
    /// Whether this call ran the job.
    pub ran: bool,
    /// Active loans examined.
    pub loans: u64,
    /// Tasks created.
    pub created: u64,
    /// Loans skipped for a missing calendar year.
    pub skipped: u64,
}

/// A new task from the plan, assigned to the loan's officer.
fn task_row(
    l: &loanwatch_store::models::LoanRow,
    p: &loanwatch_domain::supervision::PlannedTask,
    mode: ManagementMode,
    now: chrono::NaiveDateTime,
) -> TaskRow {
    TaskRow {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: l.id.clone(),
        borrower_id: l.borrower_id.clone(),
        kind: p.kind.as_str().to_owned(),
        checkpoint: p.checkpoint,
        due_date: p.due_date,
        status: TaskStatus::Assigned.as_str().to_owned(),
        assignee_id: Some(l.officer_id.clone()),
        review_levels: review_levels(mode),
        approvals: 0,
        returns: 0,
        organisation_id: l.organisation_id.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Review levels of a loan's tasks: focused loans are reviewed by a supervisor and then a risk
/// manager; regular loans by a supervisor.
pub fn review_levels(mode: ManagementMode) -> i32 {
    match mode {
        ManagementMode::Regular => 1,
        ManagementMode::Focused => 2,
    }
}

/// Creates the tasks of every active loan whose checkpoints fall between `today` and
/// `months` months later, assigned to the loan's officer. One task per (loan, kind, checkpoint):
/// reruns create nothing twice.
pub fn run(
    conn: &mut DbConn,
    today: NaiveDate,
    months: u32,
    force: bool,
) -> Result<PlanReport, ApiError> {
    let now = loanwatch_store::audit::now();
    if !notice::claim_run(conn, JOB, today, now, chrono::Duration::hours(1))? && !force {
        return Ok(PlanReport::default());
    }
    let cal = calendar::load(conn)?;
    let config = PlanConfig::default();
    let until = add_months(today, months, None);
    let mut report = PlanReport {
        ran: true,
        ..PlanReport::default()
    };
    let mut after: Option<String> = None;
    loop {
        let page = notice::active_loans(conn, after.as_deref(), 500)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let mut rows = Vec::new();
        for l in &page {
            report.loans += 1;
            let mode: ManagementMode = stored(&l.management_mode, "management_mode")?;
            let planned = plan(
                &PlanLoan {
                    disbursement_date: l.disbursement_date,
                    maturity_date: l.maturity_date,
                    class: stored::<LoanClass>(&l.class, "class")?,
                    mode,
                    has_collateral: !loan::security(conn, &l.id)?.1.is_empty(),
                },
                &config,
                &cal,
                today,
                until,
            );
            let planned = match planned {
                Ok(p) => p,
                Err(e) => {
                    report.skipped += 1;
                    tracing::warn!(loan_id = %l.id, error = %e, "tasks not planned");
                    continue;
                }
            };
            let existing = task::planned_keys(conn, &l.id)?;
            for p in planned {
                if existing
                    .iter()
                    .any(|(k, c)| k == p.kind.as_str() && *c == p.checkpoint)
                {
                    continue;
                }
                rows.push(task_row(l, &p, mode, now));
            }
        }
        if rows.is_empty() {
            continue;
        }
        let ctx = AuditContext {
            actor: "system:plan".to_owned(),
            request_id: format!("job:{JOB}:{today}"),
        };
        let n = rows.len() as u64;
        loanwatch_store::write(conn, ctx, |tx| {
            task::insert_many(tx, &rows)?;
            tx.audit(
                "task.create_batch",
                "job",
                JOB,
                &json!({ "date": today, "created": n }),
            )?;
            Ok::<_, ApiError>(())
        })?;
        report.created += n;
    }
    let detail =
        json!({ "loans": report.loans, "created": report.created, "skipped": report.skipped })
            .to_string();
    notice::finish_run(conn, JOB, today, loanwatch_store::audit::now(), &detail)?;
    Ok(report)
}

/// Re-plans a loan after its class or mode changed: open tasks nobody has worked on that the new
/// plan does not have are superseded (kept, with a history entry), the new plan's missing tasks
/// are created, and open tasks take the new mode's review levels. Tasks already worked on stay
/// as they are: their history is the record.
pub fn replan_loan(
    tx: &mut loanwatch_store::WriteTx<'_>,
    l: &loanwatch_store::models::LoanRow,
    today: NaiveDate,
) -> Result<u64, ApiError> {
    let cal = calendar::load(tx.conn())?;
    let mode: ManagementMode = stored(&l.management_mode, "management_mode")?;
    let open = task::open_of_loan(tx.conn(), &l.id)?;
    let horizon = open
        .iter()
        .map(|t| t.checkpoint)
        .max()
        .unwrap_or(today)
        .max(add_months(today, 1, None));
    let planned = plan(
        &PlanLoan {
            disbursement_date: l.disbursement_date,
            maturity_date: l.maturity_date,
            class: stored::<LoanClass>(&l.class, "class")?,
            mode,
            has_collateral: !loan::security(tx.conn(), &l.id)?.1.is_empty(),
        },
        &PlanConfig::default(),
        &cal,
        today,
        horizon,
    )
    .map_err(|e| ApiError::new(crate::error::ErrorCode::ValidationFailed, e.to_string()))?;
    let now = tx.now();
    let mut changed = 0u64;
    for t in &open {
        let same = planned
            .iter()
            .find(|p| p.kind.as_str() == t.kind && p.checkpoint == t.checkpoint);
        let still_planned = same.is_some();
        let untouched = matches!(t.status.as_str(), "planned" | "assigned")
            && !task::has_history(tx.conn(), &t.id)?;
        if let Some(p) = same
            && untouched
            && p.due_date != t.due_date
        {
            task::set_due_date(tx, &t.id, p.due_date)?;
            changed += 1;
        }
        if t.checkpoint >= today && untouched && !still_planned {
            let mut row = t.clone();
            row.status = TaskStatus::Superseded.as_str().to_owned();
            row.updated_at = now;
            task::update_state(tx, &row, t.version)?;
            task::insert_event(
                tx,
                &loanwatch_store::models::TaskEventRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    task_id: t.id.clone(),
                    action: "supersede".into(),
                    actor: tx.actor().to_owned(),
                    from_status: t.status.clone(),
                    to_status: row.status.clone(),
                    comment: Some(format!(
                        "re-planned: class {}, mode {}",
                        l.class, l.management_mode
                    )),
                    at: now,
                },
            )?;
            changed += 1;
        } else if t.review_levels != review_levels(mode) {
            task::set_review_levels(tx, &t.id, review_levels(mode))?;
        }
    }
    let existing = task::planned_keys(tx.conn(), &l.id)?;
    let rows: Vec<TaskRow> = planned
        .into_iter()
        .filter(|p| {
            !existing
                .iter()
                .any(|(k, c)| k == p.kind.as_str() && *c == p.checkpoint)
        })
        .map(|p| task_row(l, &p, mode, now))
        .collect();
    changed += rows.len() as u64;
    task::insert_many(tx, &rows)?;
    if changed > 0 {
        tx.audit(
            "task.replan",
            "loan",
            &l.id,
            &json!({ "class": l.class, "mode": l.management_mode, "changed": changed }),
        )?;
    }
    Ok(changed)
}

/// Moves open tasks to another officer (a hand-over), recording it in each task's history.
pub fn move_tasks(
    tx: &mut loanwatch_store::WriteTx<'_>,
    open: Vec<TaskRow>,
    to: &str,
    why: &str,
) -> Result<u64, ApiError> {
    let now = tx.now();
    let mut n = 0;
    for t in open {
        if t.assignee_id.as_deref() == Some(to) {
            continue;
        }
        let mut row = t.clone();
        row.assignee_id = Some(to.to_owned());
        row.updated_at = now;
        task::update_state(tx, &row, t.version)?;
        task::insert_event(
            tx,
            &loanwatch_store::models::TaskEventRow {
                id: uuid::Uuid::now_v7().to_string(),
                task_id: t.id.clone(),
                action: "assign".into(),
                actor: tx.actor().to_owned(),
                from_status: t.status.clone(),
                to_status: t.status.clone(),
                comment: Some(why.to_owned()),
                at: now,
            },
        )?;
        n += 1;
    }
    Ok(n)
}
