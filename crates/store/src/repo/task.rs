//! Supervision tasks and their history, through the caller's scope.
//!
//! Scope: officers see the tasks assigned to them; other roles the tasks of loans booked in their
//! subtree.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::{
    DbConn, PageOf, ScopeFilter, StoreError, StoreResult, WriteTx,
    models::{TaskEventRow, TaskRow},
    schema::{task_events, tasks},
    scope::subtree_org_ids,
};

type Backend = crate::conn::MultiBackend;

fn scoped<'a>(scope: &ScopeFilter) -> tasks::BoxedQuery<'a, Backend> {
    let q = tasks::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(tasks::assignee_id.eq(officer.clone())),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(tasks::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(tasks::id.is_null()),
    }
}

/// The (kind, checkpoint) pairs a loan already has tasks for.
pub fn planned_keys(conn: &mut DbConn, loan_id: &str) -> StoreResult<Vec<(String, NaiveDate)>> {
    Ok(tasks::table
        .filter(tasks::loan_id.eq(loan_id))
        .select((tasks::kind, tasks::checkpoint))
        .load(conn)?)
}

/// Inserts tasks in bulk (plan generation); callers leave out keys that exist.
pub fn insert_many(tx: &mut WriteTx<'_>, rows: &[TaskRow]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(tasks::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Inserts tasks one row at a time: the baseline the bulk path is measured against.
pub fn insert_one_by_one(tx: &mut WriteTx<'_>, rows: &[TaskRow]) -> StoreResult<()> {
    for row in rows {
        diesel::insert_into(tasks::table)
            .values(row)
            .execute(tx.conn())?;
    }
    Ok(())
}

/// One task in scope.
pub fn get(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<TaskRow> {
    Ok(scoped(scope)
        .filter(tasks::id.eq(id.to_owned()))
        .select(TaskRow::as_select())
        .first(conn)?)
}

/// Filters of a task list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Assignee.
    pub assignee_id: Option<String>,
    /// Loan.
    pub loan_id: Option<String>,
    /// Statuses (any of).
    pub statuses: Vec<String>,
    /// Due on or after.
    pub due_from: Option<NaiveDate>,
    /// Due on or before.
    pub due_to: Option<NaiveDate>,
}

/// Tasks in scope by due date then id, after (due date, id).
pub fn list(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    f: &TaskFilter,
    after: Option<(NaiveDate, String)>,
    limit: i64,
) -> StoreResult<PageOf<TaskRow>> {
    let mut q = scoped(scope);
    if let Some(v) = &f.assignee_id {
        q = q.filter(tasks::assignee_id.eq(v.clone()));
    }
    if let Some(v) = &f.loan_id {
        q = q.filter(tasks::loan_id.eq(v.clone()));
    }
    if !f.statuses.is_empty() {
        q = q.filter(tasks::status.eq_any(f.statuses.clone()));
    }
    if let Some(v) = f.due_from {
        q = q.filter(tasks::due_date.ge(v));
    }
    if let Some(v) = f.due_to {
        q = q.filter(tasks::due_date.le(v));
    }
    if let Some((date, id)) = after {
        q = q.filter(
            tasks::due_date
                .gt(date)
                .or(tasks::due_date.eq(date).and(tasks::id.gt(id))),
        );
    }
    let rows = q
        .order((tasks::due_date.asc(), tasks::id.asc()))
        .limit(limit + 1)
        .select(TaskRow::as_select())
        .load(conn)?;
    Ok(PageOf::from_overfetch(rows, limit))
}

/// Writes a task's new state if its version is still `expected_version` (optimistic
/// concurrency); a stale version is a conflict.
pub fn update_state(tx: &mut WriteTx<'_>, row: &TaskRow, expected_version: i32) -> StoreResult<()> {
    let n = diesel::update(
        tasks::table
            .find(&row.id)
            .filter(tasks::version.eq(expected_version)),
    )
    .set((
        tasks::status.eq(&row.status),
        tasks::assignee_id.eq(&row.assignee_id),
        tasks::approvals.eq(row.approvals),
        tasks::returns.eq(row.returns),
        tasks::version.eq(expected_version + 1),
        tasks::updated_at.eq(row.updated_at),
    ))
    .execute(tx.conn())?;
    if n == 0 {
        return Err(StoreError::Conflict {
            constraint: "tasks.version".into(),
        });
    }
    Ok(())
}

/// Appends to a task's history.
pub fn insert_event(tx: &mut WriteTx<'_>, row: &TaskEventRow) -> StoreResult<()> {
    diesel::insert_into(task_events::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// A task's history, oldest first.
pub fn events(conn: &mut DbConn, task_id: &str) -> StoreResult<Vec<TaskEventRow>> {
    Ok(task_events::table
        .filter(task_events::task_id.eq(task_id))
        .order((task_events::at.asc(), task_events::id.asc()))
        .select(TaskEventRow::as_select())
        .load(conn)?)
}

/// Open tasks of a loan (not approved, rejected or superseded).
pub fn open_of_loan(conn: &mut DbConn, loan_id: &str) -> StoreResult<Vec<TaskRow>> {
    Ok(tasks::table
        .filter(tasks::loan_id.eq(loan_id))
        .filter(tasks::status.ne_all(["approved", "rejected", "superseded"]))
        .order((tasks::due_date.asc(), tasks::id.asc()))
        .select(TaskRow::as_select())
        .load(conn)?)
}

/// Open tasks assigned to an officer, in a scope.
pub fn open_of_assignee(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    assignee: &str,
) -> StoreResult<Vec<TaskRow>> {
    Ok(scoped(scope)
        .filter(tasks::assignee_id.eq(assignee.to_owned()))
        .filter(tasks::status.ne_all(["approved", "rejected", "superseded"]))
        .select(TaskRow::as_select())
        .load(conn)?)
}

/// Whether anyone has acted on a task.
pub fn has_history(conn: &mut DbConn, task_id: &str) -> StoreResult<bool> {
    Ok(task_events::table
        .filter(task_events::task_id.eq(task_id))
        .select(task_events::id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

/// Sets review levels of a task without touching its version (a re-plan, not an action).
pub fn set_review_levels(tx: &mut WriteTx<'_>, task_id: &str, levels: i32) -> StoreResult<()> {
    diesel::update(tasks::table.find(task_id))
        .set(tasks::review_levels.eq(levels))
        .execute(tx.conn())?;
    Ok(())
}

/// Open tasks of a borrower's loans (the caller has checked the borrower is in scope).
pub fn open_of_borrower(conn: &mut DbConn, borrower_id: &str) -> StoreResult<Vec<TaskRow>> {
    Ok(tasks::table
        .filter(tasks::borrower_id.eq(borrower_id))
        .filter(tasks::status.ne_all(["approved", "rejected", "superseded"]))
        .select(TaskRow::as_select())
        .load(conn)?)
}

/// Moves a task's due date (a re-plan, not an action).
pub fn set_due_date(tx: &mut WriteTx<'_>, task_id: &str, due: NaiveDate) -> StoreResult<()> {
    diesel::update(tasks::table.find(task_id))
        .set(tasks::due_date.eq(due))
        .execute(tx.conn())?;
    Ok(())
}
