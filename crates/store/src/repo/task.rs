//! Supervision tasks and their history, through the caller's scope.
//!
//! Scope: officers see the tasks assigned to them; other roles the tasks of loans booked in their
//! subtree.

use crate::keys::InKeys;
use chrono::NaiveDate;
use diesel::prelude::*;

use crate::{
    DbConn, PageOf, ScopeFilter, StoreError, StoreResult, WriteTx,
    models::{TaskEventRow, TaskRow},
    repo::chunked,
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

/// Inserts tasks in multi-row statements, skipping any (loan, kind, checkpoint) that exists (the
/// unique constraint decides, not a prior read); returns how many were new.
pub fn insert_new(tx: &mut WriteTx<'_>, rows: &[TaskRow]) -> StoreResult<usize> {
    let mut n = 0;
    // 16 columns a row: 1,000 rows stay under both backends' limits on bound parameters.
    for chunk in rows.chunks(1000) {
        n += crate::on_backend!(tx.conn(), |c| diesel::insert_into(tasks::table)
            .values(chunk)
            .on_conflict((tasks::loan_id, tasks::kind, tasks::checkpoint))
            .do_nothing()
            .execute(c))?;
    }
    Ok(n)
}

/// Inserts tasks one row at a time, each in its own statement and transaction, skipping existing
/// keys: the row-at-a-time loop the set-based path is benchmarked against.
pub fn insert_row_at_a_time(conn: &mut DbConn, rows: &[TaskRow]) -> StoreResult<usize> {
    let mut n = 0;
    for row in rows {
        n += crate::on_backend!(conn, |c| diesel::insert_into(tasks::table)
            .values(row)
            .on_conflict((tasks::loan_id, tasks::kind, tasks::checkpoint))
            .do_nothing()
            .execute(c))?;
    }
    Ok(n)
}

/// One task in scope.
pub fn get(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<TaskRow> {
    Ok(scoped(scope)
        .filter(tasks::id.eq(id.to_owned()))
        .select(TaskRow::as_select())
        .first(conn)?)
}

/// Which of `ids` are tasks in scope.
pub fn visible_ids(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    ids: &[String],
) -> StoreResult<std::collections::HashSet<String>> {
    Ok(scoped(scope)
        .filter(tasks::id.in_keys(ids))
        .select(tasks::id)
        .load::<String>(conn)?
        .into_iter()
        .collect())
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
        q = q.filter(tasks::due_date.ge(date)).filter(
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

/// Statuses in which a task is in the officer's hands (what escalates when overdue).
pub const WITH_OFFICER: [&str; 4] = ["planned", "assigned", "in_progress", "returned"];

/// Open tasks in the officer's hands due before `today` and not yet escalated, by id.
pub fn overdue_unescalated(
    conn: &mut DbConn,
    today: NaiveDate,
    limit: i64,
) -> StoreResult<Vec<TaskRow>> {
    Ok(tasks::table
        .filter(tasks::status.eq_any(WITH_OFFICER))
        .filter(tasks::due_date.lt(today))
        .filter(tasks::escalated_at.is_null())
        .order(tasks::id.asc())
        .limit(limit)
        .select(TaskRow::as_select())
        .load(conn)?)
}

/// Marks tasks escalated (not an action: the version stays).
pub fn mark_escalated(tx: &mut WriteTx<'_>, ids: &[String]) -> StoreResult<()> {
    let now = tx.now();
    for chunk in ids.chunks(500) {
        diesel::update(tasks::table.filter(tasks::id.in_keys(chunk)))
            .set(tasks::escalated_at.eq(Some(now)))
            .execute(tx.conn())?;
    }
    Ok(())
}

/// Appends many history entries.
pub fn insert_events(tx: &mut WriteTx<'_>, rows: &[TaskEventRow]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(task_events::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Whether any task has been worked on: history, an inspection, a work log, a check-in or
/// evidence refers to it.
pub fn any_worked_on(conn: &mut DbConn) -> StoreResult<bool> {
    use crate::schema::{checkins, evidence, inspections, work_logs};
    let events: i64 = task_events::table.count().get_result(conn)?;
    let inspected: i64 = inspections::table.count().get_result(conn)?;
    let logged: i64 = work_logs::table
        .filter(work_logs::task_id.is_not_null())
        .count()
        .get_result(conn)?;
    let checked_in: i64 = checkins::table.count().get_result(conn)?;
    let evidenced: i64 = evidence::table.count().get_result(conn)?;
    Ok(events + inspected + logged + checked_in + evidenced > 0)
}

/// Deletes every task nobody has worked on (benchmarks start from a portfolio without tasks);
/// returns how many.
pub fn delete_unworked(conn: &mut DbConn) -> StoreResult<usize> {
    Ok(diesel::delete(
        tasks::table.filter(
            tasks::id
                .ne_all(task_events::table.select(task_events::task_id))
                .and(tasks::status.eq_any(WITH_OFFICER)),
        ),
    )
    .execute(conn)?)
}

/// (loan, kind, id) of the tasks of these loans at `checkpoint`.
pub fn keys_on(
    conn: &mut DbConn,
    loan_ids: &[String],
    checkpoint: NaiveDate,
) -> StoreResult<Vec<(String, String, String)>> {
    chunked(loan_ids, |chunk| {
        Ok(tasks::table
            .filter(tasks::loan_id.in_keys(chunk))
            .filter(tasks::checkpoint.eq(checkpoint))
            .select((tasks::loan_id, tasks::kind, tasks::id))
            .load(conn)?)
    })
}
