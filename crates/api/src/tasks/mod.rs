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
    /// Multi-row inserts, one transaction (and audit entry) per batch of pages; existing tasks
    /// are skipped by the unique constraint.
    SetBased,
    /// One statement and transaction per task: the baseline of `loanwatch bench plan`.
    RowAtATime,
}

/// Loans read and planned per page.
const PAGE: i64 = 10_000;

/// Tasks the set-based path writes per transaction, at least. Every transaction rewrites the
/// index pages it touches, and the assignee and organisation indexes put neighbouring tasks on
/// different pages: at 5,000 tasks a transaction, SQLite wrote 772 MB of log for a month of
/// 500,000 tasks; at 50,000, 257 MB. A transaction of this size holds the write lock for a few
/// tenths of a second.
const WRITE_BATCH: usize = 50_000;

/// Creates the tasks of every active loan whose checkpoints fall between `today` and
/// `months` months later, assigned to the loan's officer; once a day unless `force`. One task per
/// (loan, kind, checkpoint): reruns create nothing twice.
pub fn run(
    conn: &mut DbConn,
    reader: Option<&mut DbConn>,
    today: NaiveDate,
    months: u32,
    force: bool,
) -> Result<PlanReport, ApiError> {
    let now = loanwatch_store::audit::now();
    if !notice::claim_run(conn, JOB, today, now, chrono::Duration::hours(1))? && !force {
        return Ok(PlanReport::default());
    }
    let report = plan_portfolio(conn, reader, today, months, InsertPath::SetBased)?;
    let detail =
        json!({ "loans": report.loans, "created": report.created, "waiting": report.waiting })
            .to_string();
    notice::finish_run(conn, JOB, today, loanwatch_store::audit::now(), &detail)?;
    Ok(report)
}

/// Plans every active loan for `months` months from `today` and writes the missing tasks along
/// `path`. Reads loans a page at a time (two queries a page); a task whose due date needs a
/// calendar year not loaded waits and is counted, with one warning per reason. Given a second
/// connection, one thread reads and plans the next batch on it while this one writes the last.
pub fn plan_portfolio(
    conn: &mut DbConn,
    reader: Option<&mut DbConn>,
    today: NaiveDate,
    months: u32,
    path: InsertPath,
) -> Result<PlanReport, ApiError> {
    let batch = match path {
        InsertPath::SetBased => WRITE_BATCH,
        InsertPath::RowAtATime => 1,
    };
    loanwatch_store::with_files_mapped(conn, reader, |conn, reader| {
        plan_in_batches(conn, reader, today, months, path, (PAGE, batch))
    })
}

/// [`plan_portfolio`] with pages of `page` loans and batches of at least `batch` tasks.
fn plan_in_batches(
    conn: &mut DbConn,
    reader: Option<&mut DbConn>,
    today: NaiveDate,
    months: u32,
    path: InsertPath,
    (page, batch): (i64, usize),
) -> Result<PlanReport, ApiError> {
    let mut planner = Planner::new(conn, today, months, page)?;
    let mut created = 0;
    loanwatch_store::pipeline(
        conn,
        reader,
        |reader| planner.next_batch(reader, batch),
        |conn, rows| {
            created += write_tasks(conn, &rows, path, today)?;
            Ok(())
        },
    )?;
    for (reason, tasks) in &planner.unplanned {
        tracing::warn!(tasks, %reason, "tasks waiting for a calendar year");
    }
    Ok(PlanReport {
        ran: true,
        loans: planner.loans,
        created: created as u64,
        waiting: planner.waiting,
    })
}

/// Walks the active loans in pages and turns them into the tasks of the planned window.
struct Planner {
    cal: loanwatch_domain::calendar::WorkingCalendar,
    config: PlanConfig,
    today: NaiveDate,
    until: NaiveDate,
    now: chrono::NaiveDateTime,
    /// Loans a page.
    page: i64,
    /// The last loan read; `None` before the first page.
    after: Option<String>,
    done: bool,
    loans: u64,
    waiting: u64,
    /// Waiting tasks by reason.
    unplanned: std::collections::BTreeMap<String, u64>,
}

impl Planner {
    fn new(conn: &mut DbConn, today: NaiveDate, months: u32, page: i64) -> Result<Self, ApiError> {
        Ok(Self {
            cal: calendar::load(conn)?,
            config: PlanConfig::default(),
            today,
            until: add_months(today, months, None),
            now: loanwatch_store::audit::now(),
            page,
            after: None,
            done: false,
            loans: 0,
            waiting: 0,
            unplanned: Default::default(),
        })
    }

    /// The tasks of the next pages, at least `min` of them unless the loans run out; `None` once
    /// every loan is planned.
    fn next_batch(
        &mut self,
        conn: &mut DbConn,
        min: usize,
    ) -> Result<Option<Vec<TaskRow>>, ApiError> {
        let mut rows = Vec::new();
        while !self.done && rows.len() < min {
            let page = loan::plan_inputs(conn, self.after.as_deref(), self.page)?;
            match page.last() {
                Some(last) => self.after = Some(last.id.clone()),
                None => self.done = true,
            }
            for l in &page {
                self.plan_loan(l, &mut rows)?;
            }
        }
        Ok((!rows.is_empty()).then_some(rows))
    }

    fn plan_loan(&mut self, l: &PlanInput, rows: &mut Vec<TaskRow>) -> Result<(), ApiError> {
        self.loans += 1;
        let mode: ManagementMode = stored(&l.management_mode, "management_mode")?;
        let input = PlanLoan {
            disbursement_date: l.disbursement_date,
            maturity_date: l.maturity_date,
            class: stored::<LoanClass>(&l.class, "class")?,
            mode,
            has_collateral: l.has_collateral,
        };
        let (planned, waiting) =
            plan_available(&input, &self.config, &self.cal, self.today, self.until);
        rows.extend(
            planned
                .iter()
                .map(|p| task_row(l.into(), p, mode, self.now)),
        );
        for w in waiting {
            self.waiting += 1;
            *self.unplanned.entry(w.error.to_string()).or_default() += 1;
        }
        Ok(())
    }
}

/// Writes planned tasks along `path`, skipping those that exist; returns how many were created.
fn write_tasks(
    conn: &mut DbConn,
    rows: &[TaskRow],
    path: InsertPath,
    today: NaiveDate,
) -> Result<usize, ApiError> {
    Ok(match path {
        InsertPath::SetBased => {
            let ctx = AuditContext {
                actor: "system:plan".to_owned(),
                request_id: format!("job:{JOB}:{today}"),
            };
            loanwatch_store::write(conn, ctx, |tx| {
                let n = task::insert_new(tx, rows)?;
                tx.audit(
                    "task.create_batch",
                    "job",
                    JOB,
                    &json!({ "date": today, "created": n }),
                )?;
                Ok::<_, ApiError>(n)
            })?
        }
        InsertPath::RowAtATime => task::insert_row_at_a_time(conn, rows)?,
    })
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

#[cfg(test)]
mod tests {
    use diesel::{QueryDsl, RunQueryDsl};
    use loanwatch_store::schema::tasks;

    use super::*;

    fn ok<T>(r: Result<T, ApiError>) -> anyhow::Result<T> {
        r.map_err(|e| anyhow::anyhow!("{e}"))
    }

    type Key = (String, String, NaiveDate, NaiveDate, Option<String>, i32);

    fn keys(conn: &mut DbConn) -> anyhow::Result<Vec<Key>> {
        let mut keys: Vec<Key> = loanwatch_store::on_backend!(conn, |c| tasks::table
            .select((
                tasks::loan_id,
                tasks::kind,
                tasks::checkpoint,
                tasks::due_date,
                tasks::assignee_id,
                tasks::review_levels,
            ))
            .load(c))?;
        keys.sort();
        Ok(keys)
    }

    /// Batches spanning several pages, planned on a second connection or on the writer's, make
    /// the same tasks as the row-at-a-time loop, one audited transaction per batch.
    #[test]
    fn batches_planned_beside_the_writer_make_the_tasks_of_the_loop() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let url = loanwatch_store::DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("p.db").display()
        ))?;
        let pool = loanwatch_store::build_pool(&url, 2)?;
        let (mut conn, mut reader) = (pool.get()?, pool.get()?);
        let today = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap_or_default();
        crate::bench::prepare_demo(&mut conn, 300, today)?;
        let batches = |conn: &mut DbConn| {
            crate::bench::count(
                conn,
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'task.create_batch'",
            )
        };

        let looped = ok(plan_portfolio(
            &mut conn,
            None,
            today,
            1,
            InsertPath::RowAtATime,
        ))?;
        assert!(looped.created > 20, "{looped:?}");
        let expected = keys(&mut conn)?;
        assert_eq!(expected.len() as u64, looped.created);

        let mut runs = Vec::new();
        for with_reader in [true, false] {
            task::delete_unworked(&mut conn)?;
            let before = batches(&mut conn)?;
            let r = ok(plan_in_batches(
                &mut conn,
                with_reader.then_some(&mut *reader),
                today,
                1,
                InsertPath::SetBased,
                (7, 10),
            ))?;
            assert_eq!(r, looped, "with a reader: {with_reader}");
            assert_eq!(keys(&mut conn)?, expected, "with a reader: {with_reader}");
            let written = batches(&mut conn)? - before;
            runs.push(written);
            assert!(
                written > 1 && written as u64 <= looped.created.div_ceil(10),
                "{written} transactions for {} tasks in batches of at least 10",
                looped.created
            );
        }
        assert_eq!(runs[0], runs[1]);
        // A rerun finds every task in place.
        let again = ok(plan_in_batches(
            &mut conn,
            Some(&mut *reader),
            today,
            1,
            InsertPath::SetBased,
            (7, 10),
        ))?;
        assert_eq!((again.loans, again.created), (looped.loans, 0));
        Ok(())
    }
}
