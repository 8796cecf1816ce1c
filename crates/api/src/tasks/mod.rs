//! Supervision tasks: the plan job that creates them from each loan's plan, and the routes.

pub mod escalation;
pub mod incidents;
pub mod inspection;
pub mod notifications;
pub mod routes;
pub mod work_logs;

use chrono::NaiveDate;
use loanwatch_domain::{
    ledger::{LoanClass, ManagementMode},
    schedule::add_months,
    supervision::{PlanConfig, PlanLoan, TaskStatus, plan_available},
};
use loanwatch_store::{
    AuditContext, DbConn,
    models::TaskRow,
    repo::{
        loan::{self, PlanInput},
        notice, task,
    },
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
    /// Tasks not created yet because their due date needs a calendar year that is not loaded
    /// (planned by a later run once it is).
    pub waiting: u64,
}

/// Whose a new task is: the loan, its borrower, its officer (the assignee) and the booking
/// organisation.
#[derive(Debug, Clone, Copy)]
pub struct TaskOwner<'a> {
    /// Loan.
    pub loan_id: &'a str,
    /// Borrower.
    pub borrower_id: &'a str,
    /// Officer, who is assigned the task.
    pub officer_id: &'a str,
    /// Booking organisation.
    pub organisation_id: &'a str,
}

impl<'a> From<&'a PlanInput> for TaskOwner<'a> {
    fn from(l: &'a PlanInput) -> Self {
        Self {
            loan_id: &l.id,
            borrower_id: &l.borrower_id,
            officer_id: &l.officer_id,
            organisation_id: &l.organisation_id,
        }
    }
}

/// A new task, assigned to the loan's officer and reviewed as the loan's mode requires.
pub fn task_row(
    owner: TaskOwner<'_>,
    p: &loanwatch_domain::supervision::PlannedTask,
    mode: ManagementMode,
    now: chrono::NaiveDateTime,
) -> TaskRow {
    TaskRow {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: owner.loan_id.to_owned(),
        borrower_id: owner.borrower_id.to_owned(),
        kind: p.kind.as_str().to_owned(),
        checkpoint: p.checkpoint,
        due_date: p.due_date,
        status: TaskStatus::Assigned.as_str().to_owned(),
        assignee_id: Some(owner.officer_id.to_owned()),
        review_levels: review_levels(mode),
        approvals: 0,
        returns: 0,
        organisation_id: owner.organisation_id.to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
        escalated_at: None,
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

/// How planned tasks reach the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertPath {
    /// Multi-row inserts, one transaction (and audit entry) per page of loans; existing tasks are
    /// skipped by the unique constraint.
    SetBased,
    /// One statement and transaction per task: the baseline of `loanwatch bench plan`.
    RowAtATime,
}

/// Loans read and planned per page (and, on the set-based path, per transaction).
const PAGE: i64 = 10_000;

/// Creates the tasks of every active loan whose checkpoints fall between `today` and
/// `months` months later, assigned to the loan's officer; once a day unless `force`. One task per
/// (loan, kind, checkpoint): reruns create nothing twice.
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
    let report = plan_portfolio(conn, today, months, InsertPath::SetBased)?;
    let detail =
        json!({ "loans": report.loans, "created": report.created, "waiting": report.waiting })
            .to_string();
    notice::finish_run(conn, JOB, today, loanwatch_store::audit::now(), &detail)?;
    Ok(report)
}

/// Plans every active loan for `months` months from `today` and writes the missing tasks along
/// `path`. Reads loans a page at a time (two queries a page); a task whose due date needs a
/// calendar year not loaded waits and is counted, with one warning per reason.
pub fn plan_portfolio(
    conn: &mut DbConn,
    today: NaiveDate,
    months: u32,
    path: InsertPath,
) -> Result<PlanReport, ApiError> {
    let cal = calendar::load(conn)?;
    let config = PlanConfig::default();
    let until = add_months(today, months, None);
    let now = loanwatch_store::audit::now();
    let mut report = PlanReport {
        ran: true,
        ..PlanReport::default()
    };
    let mut unplanned: std::collections::BTreeMap<String, u64> = Default::default();
    let mut after: Option<String> = None;
    loop {
        let page = loan::plan_inputs(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let mut rows = Vec::new();
        for l in &page {
            report.loans += 1;
            let mode: ManagementMode = stored(&l.management_mode, "management_mode")?;
            let input = PlanLoan {
                disbursement_date: l.disbursement_date,
                maturity_date: l.maturity_date,
                class: stored::<LoanClass>(&l.class, "class")?,
                mode,
                has_collateral: l.has_collateral,
            };
            let (planned, waiting) = plan_available(&input, &config, &cal, today, until);
            rows.extend(planned.iter().map(|p| task_row(l.into(), p, mode, now)));
            for w in waiting {
                report.waiting += 1;
                *unplanned.entry(w.error.to_string()).or_default() += 1;
            }
        }
        if rows.is_empty() {
            continue;
        }
        let created = match path {
            InsertPath::SetBased => {
                let ctx = AuditContext {
                    actor: "system:plan".to_owned(),
                    request_id: format!("job:{JOB}:{today}"),
                };
                loanwatch_store::write(conn, ctx, |tx| {
                    let n = task::insert_new(tx, &rows)?;
                    tx.audit(
                        "task.create_batch",
                        "job",
                        JOB,
                        &json!({ "date": today, "created": n }),
                    )?;
                    Ok::<_, ApiError>(n)
                })?
            }
            InsertPath::RowAtATime => task::insert_row_at_a_time(conn, &rows)?,
        };
        report.created += created as u64;
    }
    for (reason, tasks) in unplanned {
        tracing::warn!(tasks, %reason, "tasks waiting for a calendar year");
    }
    Ok(report)
}

/// What the planner needs of a loan it has in full.
fn plan_input(
    conn: &mut DbConn,
    l: &loanwatch_store::models::LoanRow,
) -> Result<PlanInput, ApiError> {
    Ok(PlanInput {
        id: l.id.clone(),
        borrower_id: l.borrower_id.clone(),
        officer_id: l.officer_id.clone(),
        organisation_id: l.organisation_id.clone(),
        disbursement_date: l.disbursement_date,
        maturity_date: l.maturity_date,
        class: l.class.clone(),
        management_mode: l.management_mode.clone(),
        has_collateral: !loan::security(conn, &l.id)?.1.is_empty(),
    })
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
    let input = plan_input(tx.conn(), l)?;
    // A task waiting for a calendar year is still part of the plan: its open task stays.
    let (planned, waiting) = plan_available(
        &PlanLoan {
            disbursement_date: l.disbursement_date,
            maturity_date: l.maturity_date,
            class: stored::<LoanClass>(&l.class, "class")?,
            mode,
            has_collateral: input.has_collateral,
        },
        &PlanConfig::default(),
        &cal,
        today,
        horizon,
    );
    let now = tx.now();
    let mut changed = 0u64;
    for t in &open {
        let same = planned
            .iter()
            .find(|p| p.kind.as_str() == t.kind && p.checkpoint == t.checkpoint);
        let still_planned = same.is_some()
            || waiting
                .iter()
                .any(|w| w.kind.as_str() == t.kind && w.checkpoint == t.checkpoint);
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
    let rows: Vec<TaskRow> = planned
        .iter()
        .map(|p| task_row((&input).into(), p, mode, now))
        .collect();
    changed += task::insert_new(tx, &rows)? as u64;
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
