//! Notices and job runs.

use crate::keys::InKeys;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::{
    DbConn, PageOf, ScopeFilter, StoreError, StoreResult, WriteTx,
    models::{JobRunRow, LoanRow, NoticeRow},
    schema::{job_runs, loans, notices},
    scope::subtree_org_ids,
};

type Backend = crate::conn::MultiBackend;

fn scoped<'a>(scope: &ScopeFilter) -> notices::BoxedQuery<'a, Backend> {
    let q = notices::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(notices::officer_id.eq(officer.clone())),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(notices::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(notices::id.is_null()),
    }
}

/// Inserts a notice unless one with the same loan, kind, addressee and reference date exists;
/// returns whether it was inserted. Runs under the write lock, so the check cannot race.
pub fn insert_if_absent(tx: &mut WriteTx<'_>, row: &NoticeRow) -> StoreResult<bool> {
    let exists = notices::table
        .filter(notices::loan_id.eq(&row.loan_id))
        .filter(notices::kind.eq(&row.kind))
        .filter(notices::addressee_id.eq(&row.addressee_id))
        .filter(notices::reference_date.eq(row.reference_date))
        .select(notices::id)
        .first::<String>(tx.conn())
        .optional()?
        .is_some();
    if exists {
        return Ok(false);
    }
    diesel::insert_into(notices::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(true)
}

/// Filters of the notice list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeFilter {
    /// Responsible officer.
    pub officer_id: Option<String>,
    /// Organisation subtree path prefix.
    pub org_path_prefix: Option<String>,
    /// Loan.
    pub loan_id: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Due on or after.
    pub due_from: Option<NaiveDate>,
    /// Due on or before.
    pub due_to: Option<NaiveDate>,
}

/// Notices in scope by due date then id, after (due date, id).
pub fn list(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    filter: &NoticeFilter,
    after: Option<(NaiveDate, String)>,
    limit: i64,
) -> StoreResult<PageOf<NoticeRow>> {
    let mut q = scoped(scope);
    if let Some(v) = &filter.officer_id {
        q = q.filter(notices::officer_id.eq(v.clone()));
    }
    if let Some(prefix) = &filter.org_path_prefix {
        q = q.filter(notices::organisation_id.eq_any(subtree_org_ids!(prefix)));
    }
    if let Some(v) = &filter.loan_id {
        q = q.filter(notices::loan_id.eq(v.clone()));
    }
    if let Some(v) = &filter.kind {
        q = q.filter(notices::kind.eq(v.clone()));
    }
    if let Some(v) = &filter.status {
        q = q.filter(notices::status.eq(v.clone()));
    }
    if let Some(v) = filter.due_from {
        q = q.filter(notices::due_date.ge(v));
    }
    if let Some(v) = filter.due_to {
        q = q.filter(notices::due_date.le(v));
    }
    if let Some((date, id)) = after {
        q = q.filter(notices::due_date.ge(date)).filter(
            notices::due_date
                .gt(date)
                .or(notices::due_date.eq(date).and(notices::id.gt(id))),
        );
    }
    let rows = q
        .order((notices::due_date.asc(), notices::id.asc()))
        .limit(limit + 1)
        .select(NoticeRow::as_select())
        .load(conn)?;
    Ok(PageOf::from_overfetch(rows, limit))
}

/// One notice in scope.
pub fn get(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<NoticeRow> {
    Ok(scoped(scope)
        .filter(notices::id.eq(id.to_owned()))
        .select(NoticeRow::as_select())
        .first(conn)?)
}

/// Sets a notice's status with who acted and when.
pub fn set_status(
    tx: &mut WriteTx<'_>,
    id: &str,
    status: &str,
    note: Option<&str>,
) -> StoreResult<()> {
    let now = tx.now();
    let actor = tx.actor().to_owned();
    let n = diesel::update(notices::table.find(id))
        .set((
            notices::status.eq(status),
            notices::acted_by.eq(Some(actor)),
            notices::acted_at.eq(Some(now)),
            notices::note.eq(note),
        ))
        .execute(tx.conn())?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Active loans by id after `after_id`, for batch jobs (no scope: the job acts for the
/// institution).
pub fn active_loans(
    conn: &mut DbConn,
    after_id: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<LoanRow>> {
    let mut q = loans::table.filter(loans::status.eq("active")).into_boxed();
    if let Some(after) = after_id {
        q = q.filter(loans::id.gt(after.to_owned()));
    }
    Ok(q.order(loans::id.asc())
        .limit(limit)
        .select(LoanRow::as_select())
        .load(conn)?)
}

/// Claims a job run for a day: `true` if this caller should run it (first claim, or an
/// unfinished claim older than `stale_after`, presumed crashed).
pub fn claim_run(
    conn: &mut DbConn,
    name: &str,
    run_date: NaiveDate,
    now: NaiveDateTime,
    stale_after: chrono::Duration,
) -> StoreResult<bool> {
    let row = JobRunRow {
        name: name.to_owned(),
        run_date,
        started_at: now,
        finished_at: None,
        detail: None,
    };
    match diesel::insert_into(job_runs::table)
        .values(&row)
        .execute(conn)
        .map_err(StoreError::from)
    {
        Ok(_) => return Ok(true),
        Err(StoreError::Conflict { .. }) => {}
        Err(e) => return Err(e),
    }
    let existing: JobRunRow = job_runs::table
        .find((name, run_date))
        .select(JobRunRow::as_select())
        .first(conn)?;
    if existing.finished_at.is_some() || now - existing.started_at < stale_after {
        return Ok(false);
    }
    let n = diesel::update(
        job_runs::table
            .find((name, run_date))
            .filter(job_runs::started_at.eq(existing.started_at))
            .filter(job_runs::finished_at.is_null()),
    )
    .set(job_runs::started_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// Marks a job run finished.
pub fn finish_run(
    conn: &mut DbConn,
    name: &str,
    run_date: NaiveDate,
    now: NaiveDateTime,
    detail: &str,
) -> StoreResult<()> {
    diesel::update(job_runs::table.find((name, run_date)))
        .set((
            job_runs::finished_at.eq(Some(now)),
            job_runs::detail.eq(Some(detail)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Hands the notices of loans not yet acknowledged to an officer (the loans changed hands).
pub fn reassign_loans(tx: &mut WriteTx<'_>, loan_ids: &[String], officer: &str) -> StoreResult<()> {
    for chunk in loan_ids.chunks(500) {
        diesel::update(
            notices::table
                .filter(notices::loan_id.in_keys(chunk))
                .filter(notices::status.ne("acknowledged")),
        )
        .set(notices::officer_id.eq(officer))
        .execute(tx.conn())?;
    }
    Ok(())
}
