//! Supervision tasks: the plan job that creates them from each loan's plan, and the routes.

pub mod inspection;
pub mod routes;

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
                rows.push(TaskRow {
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
                });
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
