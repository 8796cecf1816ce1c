//! Loans, their security and their event history, always through the caller's scope.

use crate::keys::InKeys;
use chrono::NaiveDate;
use diesel::prelude::*;

use crate::{
    DbConn, PageOf, PageRequest, ScopeFilter, StoreError, StoreResult, WriteTx,
    models::{
        CollateralRow, GuarantorRow, LoanChangeset, LoanCollateralRow, LoanEventRow,
        LoanGuarantorRow, LoanListing, LoanRow,
    },
    page::seek,
    repo::{borrower::like_contains, chunked},
    schema::{
        borrowers, collateral, guarantors, loan_collateral, loan_events, loan_guarantors, loans,
    },
    scope::subtree_org_ids,
};

/// Orders a loan list may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoanSort {
    /// Booking order (ids are UUIDv7).
    Id,
    /// Maturity date, then id.
    MaturityDate,
    /// Principal, then id.
    PrincipalFen,
    /// Contract number, then id.
    ContractNo,
}

/// Filters of a loan list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoanFilter {
    /// Path prefix of an organisation subtree.
    pub org_path_prefix: Option<String>,
    /// Responsible officer.
    pub officer_id: Option<String>,
    /// Borrower.
    pub borrower_id: Option<String>,
    /// Five-level class.
    pub class: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Maturity on or after.
    pub maturity_from: Option<NaiveDate>,
    /// Maturity on or before.
    pub maturity_to: Option<NaiveDate>,
    /// Text contained in the contract number or the borrower's name.
    pub text: Option<String>,
}

type Joined = diesel::dsl::InnerJoin<loans::table, borrowers::table>;
type Boxed<'a> = diesel::dsl::IntoBoxed<'a, Joined, crate::conn::MultiBackend>;

fn scoped<'a>(scope: &ScopeFilter) -> Boxed<'a> {
    let q = loans::table.inner_join(borrowers::table).into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(loans::officer_id.eq(officer.clone())),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(loans::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(loans::id.is_null()),
    }
}

/// Inserts a loan.
pub fn insert(tx: &mut WriteTx<'_>, row: &LoanRow) -> StoreResult<()> {
    diesel::insert_into(loans::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Inserts many loans at once (the demo generator).
pub fn insert_many(tx: &mut WriteTx<'_>, rows: &[LoanRow]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(loans::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// One loan in scope, with its borrower's name.
pub fn get(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<LoanListing> {
    let (loan, borrower_name) = scoped(scope)
        .filter(loans::id.eq(id.to_owned()))
        .select((LoanRow::as_select(), borrowers::name))
        .first::<(LoanRow, String)>(conn)?;
    Ok(LoanListing {
        loan,
        borrower_name,
    })
}

/// Of these loans, those in scope, with their borrowers: (loan id, borrower id).
pub fn borrowers_in_scope(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    ids: &[String],
) -> StoreResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(1000) {
        out.extend(
            scoped(scope)
                .filter(loans::id.in_keys(chunk))
                .select((loans::id, loans::borrower_id))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out)
}

/// A page of loans in scope.
pub fn list(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    filter: &LoanFilter,
    page: &PageRequest<LoanSort>,
) -> StoreResult<PageOf<LoanListing>> {
    let mut q = scoped(scope);
    if let Some(prefix) = &filter.org_path_prefix {
        q = q.filter(loans::organisation_id.eq_any(subtree_org_ids!(prefix)));
    }
    if let Some(v) = &filter.officer_id {
        q = q.filter(loans::officer_id.eq(v.clone()));
    }
    if let Some(v) = &filter.borrower_id {
        q = q.filter(loans::borrower_id.eq(v.clone()));
    }
    if let Some(v) = &filter.class {
        q = q.filter(loans::class.eq(v.clone()));
    }
    if let Some(v) = &filter.status {
        q = q.filter(loans::status.eq(v.clone()));
    }
    if let Some(v) = filter.maturity_from {
        q = q.filter(loans::maturity_date.ge(v));
    }
    if let Some(v) = filter.maturity_to {
        q = q.filter(loans::maturity_date.le(v));
    }
    if let Some(text) = &filter.text {
        let pattern = like_contains(text);
        q = q.filter(
            loans::contract_no
                .like(pattern.clone())
                .escape('\\')
                .or(borrowers::name.like(pattern).escape('\\')),
        );
    }
    let after = page.after.clone();
    let q = match page.sort {
        LoanSort::Id => seek!(
            q,
            loans::id,
            loans::id,
            page.descending,
            after.map(|(_, id)| (id.clone(), id))
        ),
        LoanSort::ContractNo => seek!(q, loans::contract_no, loans::id, page.descending, after),
        LoanSort::MaturityDate => {
            let after = match after {
                Some((v, id)) => Some((
                    v.parse::<NaiveDate>().map_err(|_| StoreError::BadCursor)?,
                    id,
                )),
                None => None,
            };
            seek!(q, loans::maturity_date, loans::id, page.descending, after)
        }
        LoanSort::PrincipalFen => {
            let after = match after {
                Some((v, id)) => Some((v.parse::<i64>().map_err(|_| StoreError::BadCursor)?, id)),
                None => None,
            };
            seek!(q, loans::principal_fen, loans::id, page.descending, after)
        }
    };
    let rows = q
        .limit(page.limit + 1)
        .select((LoanRow::as_select(), borrowers::name))
        .load::<(LoanRow, String)>(conn)?;
    let page_of = PageOf::from_overfetch(rows, page.limit);
    Ok(PageOf {
        items: page_of
            .items
            .into_iter()
            .map(|(loan, borrower_name)| LoanListing {
                loan,
                borrower_name,
            })
            .collect(),
        has_more: page_of.has_more,
    })
}

/// Applies changes to a loan in scope.
pub fn update(
    tx: &mut WriteTx<'_>,
    scope: &ScopeFilter,
    id: &str,
    changes: &LoanChangeset,
) -> StoreResult<LoanListing> {
    get(tx.conn(), scope, id)?;
    diesel::update(loans::table.find(id))
        .set(changes)
        .execute(tx.conn())?;
    get(tx.conn(), scope, id)
}

/// Links a guarantor; linking twice is a conflict.
pub fn link_guarantor(tx: &mut WriteTx<'_>, row: &LoanGuarantorRow) -> StoreResult<()> {
    diesel::insert_into(loan_guarantors::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Links a collateral item; linking twice is a conflict.
pub fn link_collateral(tx: &mut WriteTx<'_>, row: &LoanCollateralRow) -> StoreResult<()> {
    diesel::insert_into(loan_collateral::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Links many collateral items at once (the demo generator).
pub fn link_collateral_many(tx: &mut WriteTx<'_>, rows: &[LoanCollateralRow]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(loan_collateral::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// The guarantors and collateral of a loan (the caller has checked the loan is in scope).
pub fn security(
    conn: &mut DbConn,
    loan_id: &str,
) -> StoreResult<(Vec<GuarantorRow>, Vec<CollateralRow>)> {
    let g = loan_guarantors::table
        .inner_join(guarantors::table)
        .filter(loan_guarantors::loan_id.eq(loan_id))
        .order(guarantors::id.asc())
        .select(GuarantorRow::as_select())
        .load(conn)?;
    let c = loan_collateral::table
        .inner_join(collateral::table)
        .filter(loan_collateral::loan_id.eq(loan_id))
        .order(collateral::id.asc())
        .select(CollateralRow::as_select())
        .load(conn)?;
    Ok((g, c))
}

/// Appends an event.
pub fn insert_event(tx: &mut WriteTx<'_>, row: &LoanEventRow) -> StoreResult<()> {
    diesel::insert_into(loan_events::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Inserts many events at once (the demo generator).
pub fn insert_events(tx: &mut WriteTx<'_>, rows: &[LoanEventRow]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(loan_events::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// A loan's events in business-date order (the caller has checked the loan is in scope).
pub fn events(
    conn: &mut DbConn,
    loan_id: &str,
    after_id: Option<&str>,
    limit: i64,
) -> StoreResult<PageOf<LoanEventRow>> {
    let mut q = loan_events::table
        .filter(loan_events::loan_id.eq(loan_id.to_owned()))
        .into_boxed();
    if let Some(after) = after_id {
        let (date, _) = loan_events::table
            .find(after)
            .filter(loan_events::loan_id.eq(loan_id.to_owned()))
            .select((loan_events::business_date, loan_events::id))
            .first::<(NaiveDate, String)>(conn)
            .optional()?
            .ok_or(StoreError::BadCursor)?;
        q = q.filter(loan_events::business_date.ge(date)).filter(
            loan_events::business_date
                .gt(date)
                .or(loan_events::business_date
                    .eq(date)
                    .and(loan_events::id.gt(after.to_owned()))),
        );
    }
    let rows = q
        .order((loan_events::business_date.asc(), loan_events::id.asc()))
        .limit(limit + 1)
        .select(LoanEventRow::as_select())
        .load(conn)?;
    Ok(PageOf::from_overfetch(rows, limit))
}

/// Every event of a loan in business-date order, then recording order (for replay; the caller
/// has checked the loan is in scope).
pub fn all_events(conn: &mut DbConn, loan_id: &str) -> StoreResult<Vec<LoanEventRow>> {
    Ok(loan_events::table
        .filter(loan_events::loan_id.eq(loan_id))
        .order((loan_events::business_date.asc(), loan_events::id.asc()))
        .select(LoanEventRow::as_select())
        .load(conn)?)
}

/// Hands every loan of a borrower to an officer (the customer is handed over); returns the
/// loans' ids.
pub fn reassign_borrower_loans(
    tx: &mut WriteTx<'_>,
    borrower_id: &str,
    officer: &str,
) -> StoreResult<Vec<String>> {
    let ids: Vec<String> = loans::table
        .filter(loans::borrower_id.eq(borrower_id))
        .select(loans::id)
        .load(tx.conn())?;
    diesel::update(loans::table.filter(loans::borrower_id.eq(borrower_id)))
        .set(loans::officer_id.eq(officer))
        .execute(tx.conn())?;
    Ok(ids)
}

/// Hands an officer's borrowers and loans in scope to another officer (the officer leaves);
/// returns the loans' ids.
pub fn reassign_officer(
    tx: &mut WriteTx<'_>,
    scope: &ScopeFilter,
    from: &str,
    to: &str,
) -> StoreResult<Vec<String>> {
    let ids: Vec<String> = scoped(scope)
        .filter(loans::officer_id.eq(from.to_owned()))
        .select(loans::id)
        .load(tx.conn())?;
    for chunk in ids.chunks(500) {
        diesel::update(loans::table.filter(loans::id.in_keys(chunk)))
            .set(loans::officer_id.eq(to))
            .execute(tx.conn())?;
    }
    let borrower_ids: Vec<String> = crate::repo::borrower::ids_of_officer(tx.conn(), scope, from)?;
    for chunk in borrower_ids.chunks(500) {
        diesel::update(borrowers::table.filter(borrowers::id.in_keys(chunk)))
            .set(borrowers::officer_id.eq(to))
            .execute(tx.conn())?;
    }
    Ok(ids)
}

/// What the task planner needs of an active loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInput {
    /// Loan.
    pub id: String,
    /// Borrower.
    pub borrower_id: String,
    /// Officer.
    pub officer_id: String,
    /// Booking organisation.
    pub organisation_id: String,
    /// Disbursed on.
    pub disbursement_date: NaiveDate,
    /// Matures on.
    pub maturity_date: NaiveDate,
    /// Five-level class.
    pub class: String,
    /// Management mode.
    pub management_mode: String,
    /// Whether any collateral secures it.
    pub has_collateral: bool,
}

/// Active loans after `after_id` by id, with whether collateral secures each: two queries per
/// page whatever its size.
pub fn plan_inputs(
    conn: &mut DbConn,
    after_id: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<PlanInput>> {
    let mut q = loans::table.filter(loans::status.eq("active")).into_boxed();
    if let Some(after) = after_id {
        q = q.filter(loans::id.gt(after.to_owned()));
    }
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        String,
        String,
        String,
        NaiveDate,
        NaiveDate,
        String,
        String,
    )> = q
        .order(loans::id.asc())
        .limit(limit)
        .select((
            loans::id,
            loans::borrower_id,
            loans::officer_id,
            loans::organisation_id,
            loans::disbursement_date,
            loans::maturity_date,
            loans::class,
            loans::management_mode,
        ))
        .load(conn)?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Vec::new());
    };
    let secured: std::collections::HashSet<String> = loan_collateral::table
        .filter(loan_collateral::loan_id.between(first.0.clone(), last.0.clone()))
        .select(loan_collateral::loan_id)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| PlanInput {
            has_collateral: secured.contains(&r.0),
            id: r.0,
            borrower_id: r.1,
            officer_id: r.2,
            organisation_id: r.3,
            disbursement_date: r.4,
            maturity_date: r.5,
            class: r.6,
            management_mode: r.7,
        })
        .collect())
}

/// Ids of a borrower's active loans (the caller has checked the borrower is in scope).
pub fn active_ids_of_borrower(conn: &mut DbConn, borrower_id: &str) -> StoreResult<Vec<String>> {
    Ok(loans::table
        .filter(loans::borrower_id.eq(borrower_id))
        .filter(loans::status.eq("active"))
        .order(loans::id.asc())
        .select(loans::id)
        .load(conn)?)
}

/// Up to `limit` borrowers with an active loan, after `after` by id (the health batch's pages).
pub fn borrowers_with_active_loans(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<String>> {
    let mut q = loans::table
        .filter(loans::status.eq("active"))
        .select(loans::borrower_id)
        .distinct()
        .order(loans::borrower_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(loans::borrower_id.gt(after.to_owned()));
    }
    Ok(q.load(conn)?)
}

/// The active loans of these borrowers, by borrower then id (the caller has checked scope, or
/// acts for the institution).
pub fn active_of_borrowers(
    conn: &mut DbConn,
    borrower_ids: &[String],
) -> StoreResult<Vec<LoanRow>> {
    chunked(borrower_ids, |chunk| {
        Ok(loans::table
            .filter(loans::borrower_id.in_keys(chunk))
            .filter(loans::status.eq("active"))
            .order((loans::borrower_id.asc(), loans::id.asc()))
            .select(LoanRow::as_select())
            .load(conn)?)
    })
}

/// The events of these kinds of these loans, by loan, then in replay order.
pub fn events_of_loans(
    conn: &mut DbConn,
    loan_ids: &[String],
    kinds: &[&str],
) -> StoreResult<Vec<LoanEventRow>> {
    chunked(loan_ids, |chunk| {
        Ok(loan_events::table
            .filter(loan_events::loan_id.in_keys(chunk))
            .filter(loan_events::kind.eq_any(kinds))
            .order((
                loan_events::loan_id.asc(),
                loan_events::business_date.asc(),
                loan_events::id.asc(),
            ))
            .select(LoanEventRow::as_select())
            .load(conn)?)
    })
}
