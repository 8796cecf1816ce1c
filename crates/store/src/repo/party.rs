//! Borrower groups, guarantors and collateral, through the caller's scope.
//!
//! Scope rules: groups are visible in the lead organisation's subtree, and to an officer whose
//! own organisation leads the group or who is assigned one of its members. Guarantors are visible
//! in their organisation's subtree, and to an officer who recorded them or whose loans they
//! guarantee. Collateral follows its borrower.

use diesel::prelude::*;

use crate::{
    DbConn, ScopeFilter, StoreResult, WriteTx,
    models::{CollateralRow, GroupRow, GuarantorRow},
    schema::{borrower_groups, borrowers, collateral, guarantors, loan_guarantors, loans},
    scope::subtree_org_ids,
};

type Backend = crate::conn::MultiBackend;

fn groups_scoped<'a>(scope: &ScopeFilter) -> borrower_groups::BoxedQuery<'a, Backend> {
    let q = borrower_groups::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, org } => q.filter(
            borrower_groups::lead_organisation_id
                .eq(org.clone())
                .or(borrower_groups::id.nullable().eq_any(
                    borrowers::table
                        .filter(borrowers::officer_id.eq(officer.clone()))
                        .select(borrowers::group_id),
                )),
        ),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(borrower_groups::lead_organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(borrower_groups::id.is_null()),
    }
}

/// Inserts a group.
pub fn insert_group(tx: &mut WriteTx<'_>, row: &GroupRow) -> StoreResult<()> {
    diesel::insert_into(borrower_groups::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// One group in scope.
pub fn get_group(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<GroupRow> {
    Ok(groups_scoped(scope)
        .filter(borrower_groups::id.eq(id.to_owned()))
        .select(GroupRow::as_select())
        .first(conn)?)
}

/// Groups in scope, by id, after `after_id`.
pub fn list_groups(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    after_id: Option<&str>,
    limit: i64,
) -> StoreResult<crate::PageOf<GroupRow>> {
    let mut q = groups_scoped(scope);
    if let Some(after) = after_id {
        q = q.filter(borrower_groups::id.gt(after.to_owned()));
    }
    let rows = q
        .order(borrower_groups::id.asc())
        .limit(limit + 1)
        .select(GroupRow::as_select())
        .load(conn)?;
    Ok(crate::PageOf::from_overfetch(rows, limit))
}

fn guarantors_scoped<'a>(scope: &ScopeFilter) -> guarantors::BoxedQuery<'a, Backend> {
    let q = guarantors::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(
            guarantors::created_by
                .eq(format!("user:{officer}"))
                .or(guarantors::id.eq_any(
                    loan_guarantors::table
                        .inner_join(loans::table)
                        .filter(loans::officer_id.eq(officer.clone()))
                        .select(loan_guarantors::guarantor_id),
                )),
        ),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(guarantors::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(guarantors::id.is_null()),
    }
}

/// Inserts a guarantor.
pub fn insert_guarantor(tx: &mut WriteTx<'_>, row: &GuarantorRow) -> StoreResult<()> {
    diesel::insert_into(guarantors::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// One guarantor in scope.
pub fn get_guarantor(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    id: &str,
) -> StoreResult<GuarantorRow> {
    Ok(guarantors_scoped(scope)
        .filter(guarantors::id.eq(id.to_owned()))
        .select(GuarantorRow::as_select())
        .first(conn)?)
}

/// Guarantors in scope, by id, after `after_id`.
pub fn list_guarantors(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    after_id: Option<&str>,
    limit: i64,
) -> StoreResult<crate::PageOf<GuarantorRow>> {
    let mut q = guarantors_scoped(scope);
    if let Some(after) = after_id {
        q = q.filter(guarantors::id.gt(after.to_owned()));
    }
    let rows = q
        .order(guarantors::id.asc())
        .limit(limit + 1)
        .select(GuarantorRow::as_select())
        .load(conn)?;
    Ok(crate::PageOf::from_overfetch(rows, limit))
}

fn collateral_scoped<'a>(scope: &ScopeFilter) -> collateral::BoxedQuery<'a, Backend> {
    let q = collateral::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(
            collateral::borrower_id.eq_any(
                borrowers::table
                    .filter(borrowers::officer_id.eq(officer.clone()))
                    .select(borrowers::id),
            ),
        ),
        ScopeFilter::Subtree { path_prefix } => q.filter(
            collateral::borrower_id.eq_any(
                borrowers::table
                    .filter(borrowers::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
                    .select(borrowers::id),
            ),
        ),
        ScopeFilter::Nothing => q.filter(collateral::id.is_null()),
    }
}

/// Inserts a collateral item.
pub fn insert_collateral(tx: &mut WriteTx<'_>, row: &CollateralRow) -> StoreResult<()> {
    diesel::insert_into(collateral::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Replaces a collateral item's insurance expiry and registration number.
pub fn update_collateral_papers(tx: &mut WriteTx<'_>, row: &CollateralRow) -> StoreResult<()> {
    diesel::update(collateral::table.find(&row.id))
        .set((
            collateral::insurance_expiry.eq(row.insurance_expiry),
            collateral::registration_no.eq(&row.registration_no),
        ))
        .execute(tx.conn())?;
    Ok(())
}

/// Stores many collateral items at once (the demo generator).
pub fn insert_collateral_many(tx: &mut WriteTx<'_>, rows: &[CollateralRow]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(collateral::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// One collateral item in scope.
pub fn get_collateral(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    id: &str,
) -> StoreResult<CollateralRow> {
    Ok(collateral_scoped(scope)
        .filter(collateral::id.eq(id.to_owned()))
        .select(CollateralRow::as_select())
        .first(conn)?)
}

/// Collateral in scope, optionally of one borrower, by id, after `after_id`.
pub fn list_collateral(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    borrower_id: Option<&str>,
    after_id: Option<&str>,
    limit: i64,
) -> StoreResult<crate::PageOf<CollateralRow>> {
    let mut q = collateral_scoped(scope);
    if let Some(b) = borrower_id {
        q = q.filter(collateral::borrower_id.eq(b.to_owned()));
    }
    if let Some(after) = after_id {
        q = q.filter(collateral::id.gt(after.to_owned()));
    }
    let rows = q
        .order(collateral::id.asc())
        .limit(limit + 1)
        .select(CollateralRow::as_select())
        .load(conn)?;
    Ok(crate::PageOf::from_overfetch(rows, limit))
}
