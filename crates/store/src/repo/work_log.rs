//! Work logs, through the scope of their borrower.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::{
    DbConn, ScopeFilter, StoreError, StoreResult, WriteTx,
    models::WorkLogRow,
    schema::{borrowers, loans, work_logs},
    scope::subtree_org_ids,
};

type Backend = crate::conn::MultiBackend;

fn scoped<'a>(scope: &ScopeFilter) -> work_logs::BoxedQuery<'a, Backend> {
    let q = work_logs::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(
            work_logs::borrower_id.eq_any(
                borrowers::table
                    .filter(borrowers::officer_id.eq(officer.clone()))
                    .select(borrowers::id),
            ),
        ),
        ScopeFilter::Subtree { path_prefix } => q.filter(
            work_logs::borrower_id.eq_any(
                borrowers::table
                    .filter(borrowers::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
                    .select(borrowers::id),
            ),
        ),
        ScopeFilter::Nothing => q.filter(work_logs::id.is_null()),
    }
}

/// Inserts an entry.
pub fn insert(tx: &mut WriteTx<'_>, row: &WorkLogRow) -> StoreResult<()> {
    diesel::insert_into(work_logs::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// One entry in scope.
pub fn get(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<WorkLogRow> {
    Ok(scoped(scope)
        .filter(work_logs::id.eq(id.to_owned()))
        .select(WorkLogRow::as_select())
        .first(conn)?)
}

/// Entries in scope, optionally of a borrower, with activity dates in a range, newest first.
pub fn list(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    borrower_id: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    limit: i64,
) -> StoreResult<Vec<WorkLogRow>> {
    let mut q = scoped(scope).filter(work_logs::activity_date.between(from, to));
    if let Some(b) = borrower_id {
        q = q.filter(work_logs::borrower_id.eq(b.to_owned()));
    }
    Ok(
        q.order((work_logs::activity_date.desc(), work_logs::id.desc()))
            .limit(limit)
            .select(WorkLogRow::as_select())
            .load(conn)?,
    )
}

/// Records the supervisor's signature, once.
pub fn sign(tx: &mut WriteTx<'_>, id: &str, by: &str) -> StoreResult<()> {
    let now = tx.now();
    let n = diesel::update(
        work_logs::table
            .find(id)
            .filter(work_logs::signed_at.is_null()),
    )
    .set((
        work_logs::signed_by.eq(Some(by)),
        work_logs::signed_at.eq(Some(now)),
    ))
    .execute(tx.conn())?;
    if n == 0 {
        return Err(StoreError::Conflict {
            constraint: "work_logs.signed".into(),
        });
    }
    Ok(())
}

/// Borrowers in scope with an active loan and fewer than `minimum` entries dated in
/// `[from, to]`, with their count.
pub fn shortfalls(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    from: NaiveDate,
    to: NaiveDate,
    minimum: i64,
) -> StoreResult<Vec<(String, String, i64)>> {
    let mut q = borrowers::table
        .filter(
            borrowers::id.eq_any(
                loans::table
                    .filter(loans::status.eq("active"))
                    .select(loans::borrower_id),
            ),
        )
        .into_boxed();
    q = match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(borrowers::officer_id.eq(officer.clone())),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(borrowers::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(borrowers::id.is_null()),
    };
    let candidates: Vec<(String, String)> = q
        .order(borrowers::id.asc())
        .select((borrowers::id, borrowers::name))
        .load(conn)?;
    // One grouped count for the period rather than a query per borrower.
    let counts: std::collections::HashMap<String, i64> = work_logs::table
        .filter(work_logs::activity_date.between(from, to))
        .group_by(work_logs::borrower_id)
        .select((work_logs::borrower_id, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let out = candidates
        .into_iter()
        .filter_map(|(id, name)| {
            let n = counts.get(&id).copied().unwrap_or(0);
            (n < minimum).then_some((id, name, n))
        })
        .collect();
    Ok(out)
}
