//! Major incident reports and their signatures.
//!
//! Scope: officers see the reports on the borrowers assigned to them and the reports they wrote;
//! other roles the reports of their subtree.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::{
    DbConn, PageOf, ScopeFilter, StoreResult, WriteTx,
    models::{IncidentReportRow, IncidentSignatureRow},
    schema::{borrowers, incident_reports, incident_signatures},
    scope::subtree_org_ids,
};

type Backend = crate::conn::MultiBackend;

fn scoped<'a>(scope: &ScopeFilter) -> incident_reports::BoxedQuery<'a, Backend> {
    let q = incident_reports::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(
            incident_reports::author_id
                .eq(officer.clone())
                .or(incident_reports::borrower_id.eq_any(
                    borrowers::table
                        .filter(borrowers::officer_id.eq(officer.clone()))
                        .select(borrowers::id),
                )),
        ),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(incident_reports::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(incident_reports::id.is_null()),
    }
}

/// Inserts a report with its first signature (the reporter's).
pub fn insert(
    tx: &mut WriteTx<'_>,
    row: &IncidentReportRow,
    first: &IncidentSignatureRow,
) -> StoreResult<()> {
    diesel::insert_into(incident_reports::table)
        .values(row)
        .execute(tx.conn())?;
    sign(tx, first)
}

/// Adds a signature; a second signature at the same level, or a second level by the same person,
/// is a conflict (primary key and unique constraint).
pub fn sign(tx: &mut WriteTx<'_>, row: &IncidentSignatureRow) -> StoreResult<()> {
    diesel::insert_into(incident_signatures::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Sets a report's status and, with the last signature, the loans it tightened (JSON).
pub fn set_status(
    tx: &mut WriteTx<'_>,
    id: &str,
    status: &str,
    tightened_loans: Option<&str>,
) -> StoreResult<()> {
    let now = tx.now();
    diesel::update(incident_reports::table.find(id))
        .set((
            incident_reports::status.eq(status),
            incident_reports::tightened_loans.eq(tightened_loans),
            incident_reports::updated_at.eq(now),
        ))
        .execute(tx.conn())?;
    Ok(())
}

/// One report in scope.
pub fn get(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<IncidentReportRow> {
    Ok(scoped(scope)
        .filter(incident_reports::id.eq(id.to_owned()))
        .select(IncidentReportRow::as_select())
        .first(conn)?)
}

/// A report's signatures, by level.
pub fn signatures(conn: &mut DbConn, report_id: &str) -> StoreResult<Vec<IncidentSignatureRow>> {
    Ok(incident_signatures::table
        .filter(incident_signatures::report_id.eq(report_id))
        .order(incident_signatures::level.asc())
        .select(IncidentSignatureRow::as_select())
        .load(conn)?)
}

/// The signatures of many reports in one query, by report, each by level.
pub fn signatures_of(
    conn: &mut DbConn,
    report_ids: &[String],
) -> StoreResult<std::collections::HashMap<String, Vec<IncidentSignatureRow>>> {
    let rows: Vec<IncidentSignatureRow> = incident_signatures::table
        .filter(incident_signatures::report_id.eq_any(report_ids))
        .order((
            incident_signatures::report_id.asc(),
            incident_signatures::level.asc(),
        ))
        .select(IncidentSignatureRow::as_select())
        .load(conn)?;
    let mut out: std::collections::HashMap<String, Vec<IncidentSignatureRow>> = Default::default();
    for r in rows {
        out.entry(r.report_id.clone()).or_default().push(r);
    }
    Ok(out)
}

/// Reports in scope, newest first, optionally of a borrower and with one of some statuses, after
/// (created_at, id).
pub fn list(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    borrower_id: Option<&str>,
    statuses: &[String],
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> StoreResult<PageOf<IncidentReportRow>> {
    let mut q = scoped(scope);
    if let Some(b) = borrower_id {
        q = q.filter(incident_reports::borrower_id.eq(b.to_owned()));
    }
    if !statuses.is_empty() {
        q = q.filter(incident_reports::status.eq_any(statuses.to_vec()));
    }
    if let Some((at, id)) = after {
        q = q.filter(incident_reports::created_at.le(at)).filter(
            incident_reports::created_at
                .lt(at)
                .or(incident_reports::created_at
                    .eq(at)
                    .and(incident_reports::id.lt(id))),
        );
    }
    let rows = q
        .order((
            incident_reports::created_at.desc(),
            incident_reports::id.desc(),
        ))
        .limit(limit + 1)
        .select(IncidentReportRow::as_select())
        .load(conn)?;
    Ok(PageOf::from_overfetch(rows, limit))
}
