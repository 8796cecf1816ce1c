//! Monitoring: parties, related parties, accounts, fund transfers, rule-set versions and
//! warnings.
//!
//! Scope: warnings follow their borrower — officers see the warnings of the borrowers assigned to
//! them, other roles those booked in their subtree. Parties, accounts and transfers are reached
//! through a borrower the caller may see; rule sets are the institution's, not customer data.

use crate::keys::{InKeys, KeyIn};
use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::{
    DbConn, PageOf, ScopeFilter, StoreError, StoreResult, WriteTx,
    models::{
        AccountRow, PartyRelationRow, PartyRow, RuleSetRow, TransferRow, WarningEventRow,
        WarningRow,
    },
    repo::{CHUNK, chunked, chunked_pairs},
    schema::{
        accounts, borrowers, fund_transfers, loans, parties, party_relations, rule_sets,
        warning_events, warnings,
    },
    scope::subtree_org_ids,
};

type Backend = crate::conn::MultiBackend;

/// One party.
pub fn party(conn: &mut DbConn, id: &str) -> StoreResult<Option<PartyRow>> {
    Ok(parties::table
        .find(id)
        .select(PartyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Parties by id.
pub fn parties_by_id(conn: &mut DbConn, ids: &[String]) -> StoreResult<Vec<PartyRow>> {
    chunked(ids, |chunk| {
        Ok(parties::table
            .filter(parties::id.in_keys(chunk))
            .select(PartyRow::as_select())
            .load(conn)?)
    })
}

/// Parties by exact name (to match a loan's contract counterparty given by name).
pub fn parties_by_name(conn: &mut DbConn, names: &[String]) -> StoreResult<Vec<PartyRow>> {
    chunked(names, |chunk| {
        Ok(parties::table
            .filter(parties::name.in_keys(chunk))
            .select(PartyRow::as_select())
            .load(conn)?)
    })
}

/// Inserts a party or replaces its details (keeping when it was first seen).
pub fn put_party(tx: &mut WriteTx<'_>, row: &PartyRow) -> StoreResult<()> {
    crate::on_backend!(tx.conn(), |c| diesel::insert_into(parties::table)
        .values(row)
        .on_conflict(parties::id)
        .do_update()
        .set((
            parties::name.eq(&row.name),
            parties::kind.eq(&row.kind),
            parties::category.eq(&row.category),
            parties::borrower_id.eq(&row.borrower_id),
            parties::updated_at.eq(row.updated_at),
        ))
        .execute(c))?;
    Ok(())
}

/// The party that is this borrower, if registered.
pub fn party_of_borrower(conn: &mut DbConn, borrower_id: &str) -> StoreResult<Option<PartyRow>> {
    Ok(parties::table
        .filter(parties::borrower_id.eq(borrower_id))
        .select(PartyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Replaces a borrower's related parties.
pub fn replace_relations(
    tx: &mut WriteTx<'_>,
    borrower_id: &str,
    rows: &[PartyRelationRow],
) -> StoreResult<()> {
    diesel::delete(party_relations::table.filter(party_relations::borrower_id.eq(borrower_id)))
        .execute(tx.conn())?;
    for chunk in rows.chunks(CHUNK) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(party_relations::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Inserts new parties, accounts and relations in multi-row statements (a bulk load: nothing
/// may exist under these keys yet).
pub fn insert_world(
    tx: &mut WriteTx<'_>,
    parties_in: &[PartyRow],
    accounts_in: &[AccountRow],
    relations: &[PartyRelationRow],
) -> StoreResult<()> {
    for chunk in parties_in.chunks(CHUNK) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(parties::table)
            .values(chunk)
            .execute(c))?;
    }
    for chunk in accounts_in.chunks(CHUNK) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(accounts::table)
            .values(chunk)
            .execute(c))?;
    }
    for chunk in relations.chunks(CHUNK) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(party_relations::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// How many parties and transfers are stored.
pub fn counts(conn: &mut DbConn) -> StoreResult<(i64, i64)> {
    let parties_n = parties::table.count().get_result(conn)?;
    let transfers_n = fund_transfers::table.count().get_result(conn)?;
    Ok((parties_n, transfers_n))
}

/// The related parties of these borrowers.
pub fn relations_of(
    conn: &mut DbConn,
    borrower_ids: &[String],
) -> StoreResult<Vec<PartyRelationRow>> {
    chunked(borrower_ids, |chunk| {
        Ok(party_relations::table
            .filter(party_relations::borrower_id.in_keys(chunk))
            .order((party_relations::borrower_id, party_relations::party_id))
            .select(PartyRelationRow::as_select())
            .load(conn)?)
    })
}

/// Of `party_ids`, those at a borrower's home (the borrower's own party or a related party),
/// each with the borrower it belongs to: `(party, borrower)`, a party once per borrower.
pub fn homes_of(conn: &mut DbConn, party_ids: &[String]) -> StoreResult<Vec<(String, String)>> {
    let mut out = BTreeSet::new();
    for chunk in party_ids.chunks(CHUNK) {
        out.extend(
            parties::table
                .filter(parties::id.in_keys(chunk))
                .filter(parties::borrower_id.is_not_null())
                .select((parties::id, parties::borrower_id.assume_not_null()))
                .load::<(String, String)>(conn)?,
        );
        out.extend(
            party_relations::table
                .filter(party_relations::party_id.in_keys(chunk))
                .select((party_relations::party_id, party_relations::borrower_id))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out.into_iter().collect())
}

/// Those of the loans `ids` made to one of `borrower_ids`.
pub fn loans_of_borrowers(
    conn: &mut DbConn,
    ids: &[String],
    borrower_ids: &[String],
) -> StoreResult<Vec<String>> {
    chunked_pairs(ids, borrower_ids, |chunk, borrowers| {
        Ok(loans::table
            .filter(loans::id.in_keys(chunk))
            .filter(loans::borrower_id.in_keys(borrowers))
            .select(loans::id)
            .load::<String>(conn)?)
    })
}

/// Accounts by number.
pub fn accounts_by_no(conn: &mut DbConn, nos: &[String]) -> StoreResult<Vec<AccountRow>> {
    chunked(nos, |chunk| {
        Ok(accounts::table
            .filter(accounts::account_no.in_keys(chunk))
            .select(AccountRow::as_select())
            .load(conn)?)
    })
}

/// Registers an account.
pub fn insert_account(tx: &mut WriteTx<'_>, row: &AccountRow) -> StoreResult<()> {
    diesel::insert_into(accounts::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// The accounts of these parties.
pub fn accounts_of(conn: &mut DbConn, party_ids: &[String]) -> StoreResult<Vec<AccountRow>> {
    chunked(party_ids, |chunk| {
        Ok(accounts::table
            .filter(accounts::party_id.in_keys(chunk))
            .order(accounts::account_no)
            .select(AccountRow::as_select())
            .load(conn)?)
    })
}

/// The content hashes of the transfers already stored under these ids.
pub fn transfer_hashes(conn: &mut DbConn, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
    chunked(ids, |chunk| {
        Ok(fund_transfers::table
            .filter(fund_transfers::id.in_keys(chunk))
            .select((fund_transfers::id, fund_transfers::content_hash))
            .load::<(String, String)>(conn)?)
    })
}

/// Inserts transfers ([`crate::insert_rows!`]).
pub fn insert_transfers(tx: &mut WriteTx<'_>, rows: &[TransferRow]) -> StoreResult<()> {
    crate::insert_rows!(tx.conn(), fund_transfers::table, rows, CHUNK)?;
    Ok(())
}

/// The transfers booked since `since` that carry the proceeds of these loans.
pub fn proceeds_since(
    conn: &mut DbConn,
    since: NaiveDateTime,
    loan_ids: &[String],
) -> StoreResult<Vec<TransferRow>> {
    chunked(loan_ids, |chunk| {
        Ok(fund_transfers::table
            .filter(fund_transfers::booked_at.ge(since))
            .filter(fund_transfers::loan_id.in_keys(chunk))
            .select(TransferRow::as_select())
            .load(conn)?)
    })
}

/// What a transfer from one of a group of payers can bring back home: see [`loans_reaching`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The loans whose proceeds reached a payer, directly or through one more party.
    pub loans: Vec<String>,
    /// The parties those proceeds went to on the way: the payers and those who paid them.
    pub through: Vec<String>,
}

/// Transfers to one of `payees` booked since `since`: a range of the index `fund_transfers_to`
/// (to_party, booked_at, from_party, loan_id) per payee.
type PaidTo = diesel::dsl::Filter<
    diesel::dsl::Filter<fund_transfers::table, KeyIn<fund_transfers::to_party>>,
    diesel::dsl::GtEq<fund_transfers::booked_at, NaiveDateTime>,
>;

fn paid_to(payees: &[String], since: NaiveDateTime) -> PaidTo {
    fund_transfers::table
        .filter(fund_transfers::to_party.in_keys(payees))
        .filter(fund_transfers::booked_at.ge(since))
}

/// The loans whose proceeds, booked since `since`, went to one of `payers`, or to someone who
/// then paid one of them: the loans a transfer from a payer can bring back home (flow-back in one
/// or two hops). A superset: the order of the hops and the amounts are the rules' to judge.
pub fn loans_reaching(
    conn: &mut DbConn,
    since: NaiveDateTime,
    payers: &[String],
) -> StoreResult<Reach> {
    let proceeds_to = |conn: &mut DbConn, parties: &[String]| {
        chunked(parties, |chunk| {
            Ok(paid_to(chunk, since)
                .filter(fund_transfers::loan_id.is_not_null())
                .select(fund_transfers::loan_id.assume_not_null())
                .distinct()
                .load::<String>(conn)?)
        })
    };
    let mut loans: BTreeSet<String> = proceeds_to(conn, payers)?.into_iter().collect();
    let before: BTreeSet<String> = chunked(payers, |chunk| {
        Ok(paid_to(chunk, since)
            .select(fund_transfers::from_party)
            .distinct()
            .load::<String>(conn)?)
    })?
    .into_iter()
    .collect();
    let before: Vec<String> = before.into_iter().collect();
    loans.extend(proceeds_to(conn, &before)?);
    let through: BTreeSet<String> = payers.iter().cloned().chain(before).collect();
    Ok(Reach {
        loans: loans.into_iter().collect(),
        through: through.into_iter().collect(),
    })
}

/// The proceeds of `loan_ids` booked since `since` that went to one of `payees`.
pub fn proceeds_to_since(
    conn: &mut DbConn,
    since: NaiveDateTime,
    loan_ids: &[String],
    payees: &[String],
) -> StoreResult<Vec<TransferRow>> {
    chunked_pairs(payees, loan_ids, |payee, chunk| {
        Ok(paid_to(payee, since)
            .filter(fund_transfers::loan_id.in_keys(chunk))
            .select(TransferRow::as_select())
            .load(conn)?)
    })
}

/// The transfers booked since `since` from one of `payers` to one of `payees`.
pub fn transfers_between(
    conn: &mut DbConn,
    since: NaiveDateTime,
    payers: &[String],
    payees: &[String],
) -> StoreResult<Vec<TransferRow>> {
    chunked_pairs(payees, payers, |payee, payer| {
        Ok(paid_to(payee, since)
            .filter(fund_transfers::from_party.in_keys(payer))
            .select(TransferRow::as_select())
            .load(conn)?)
    })
}

/// What the rules read of a transfer: the nightly batch streams millions, so only these columns.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = fund_transfers)]
pub struct FlowRow {
    pub id: String,
    pub booked_at: NaiveDateTime,
    pub from_party: String,
    pub to_party: String,
    pub amount_fen: i64,
    pub loan_id: Option<String>,
}

/// Every transfer booked up to `until`, oldest first, a page after (booked_at, id).
pub fn transfers_page(
    conn: &mut DbConn,
    until: NaiveDateTime,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> StoreResult<Vec<FlowRow>> {
    let mut q = fund_transfers::table
        .filter(fund_transfers::booked_at.lt(until))
        .into_boxed();
    if let Some((at, id)) = after {
        // The first condition is the index range; PostgreSQL does not derive it from the second
        // and read every earlier transfer again for each page.
        q = q.filter(fund_transfers::booked_at.ge(at)).filter(
            fund_transfers::booked_at
                .gt(at)
                .or(fund_transfers::booked_at
                    .eq(at)
                    .and(fund_transfers::id.gt(id))),
        );
    }
    Ok(q.order((fund_transfers::booked_at, fund_transfers::id))
        .limit(limit)
        .select(FlowRow::as_select())
        .load(conn)?)
}

/// Transfers by id.
pub fn transfers_by_id(conn: &mut DbConn, ids: &[String]) -> StoreResult<Vec<TransferRow>> {
    chunked(ids, |chunk| {
        Ok(fund_transfers::table
            .filter(fund_transfers::id.in_keys(chunk))
            .select(TransferRow::as_select())
            .load(conn)?)
    })
}

/// The `limit` transfers booked last, oldest first.
pub fn latest_transfers(conn: &mut DbConn, limit: i64) -> StoreResult<Vec<TransferRow>> {
    let mut rows: Vec<TransferRow> = fund_transfers::table
        .order((fund_transfers::booked_at.desc(), fund_transfers::id.desc()))
        .limit(limit)
        .select(TransferRow::as_select())
        .load(conn)?;
    rows.reverse();
    Ok(rows)
}

/// What monitoring needs of a loan.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = loans)]
pub struct WatchedLoanRow {
    pub id: String,
    pub borrower_id: String,
    pub counterparty: Option<String>,
    pub principal_fen: i64,
    pub disbursement_date: NaiveDate,
    pub organisation_id: String,
    pub officer_id: String,
    pub management_mode: String,
}

/// The active loans of these borrowers, or of everyone when `borrower_ids` is `None`.
pub fn watched_loans(
    conn: &mut DbConn,
    borrower_ids: Option<&[String]>,
) -> StoreResult<Vec<WatchedLoanRow>> {
    let active = || {
        loans::table
            .filter(loans::status.eq("active"))
            .order(loans::id)
            .select(WatchedLoanRow::as_select())
    };
    let Some(ids) = borrower_ids else {
        return Ok(active().load(conn)?);
    };
    chunked(ids, |chunk| {
        Ok(active()
            .filter(loans::borrower_id.in_keys(chunk))
            .load::<WatchedLoanRow>(conn)?)
    })
}

/// The parties that are these borrowers.
pub fn borrower_parties(conn: &mut DbConn, borrower_ids: &[String]) -> StoreResult<Vec<PartyRow>> {
    chunked(borrower_ids, |chunk| {
        Ok(parties::table
            .filter(parties::borrower_id.in_keys(chunk))
            .select(PartyRow::as_select())
            .load(conn)?)
    })
}

/// Every party (the nightly batch's view of who is who).
pub fn all_parties(conn: &mut DbConn) -> StoreResult<Vec<PartyRow>> {
    Ok(parties::table.select(PartyRow::as_select()).load(conn)?)
}

/// Every relation.
pub fn all_relations(conn: &mut DbConn) -> StoreResult<Vec<PartyRelationRow>> {
    Ok(party_relations::table
        .select(PartyRelationRow::as_select())
        .load(conn)?)
}

/// Every rule-set version, oldest first.
pub fn rule_sets(conn: &mut DbConn) -> StoreResult<Vec<RuleSetRow>> {
    Ok(rule_sets::table
        .order(rule_sets::version)
        .select(RuleSetRow::as_select())
        .load(conn)?)
}

/// Every rule-set version's number, first day in force and creation time, oldest first: what
/// tells a caller that keeps parsed definitions whether the ones it holds are still these (a
/// stored definition never changes; a new one is a new version).
pub fn rule_set_heads(
    conn: &mut DbConn,
) -> StoreResult<Vec<(i32, Option<NaiveDate>, NaiveDateTime)>> {
    Ok(rule_sets::table
        .order(rule_sets::version)
        .select((
            rule_sets::version,
            rule_sets::active_from,
            rule_sets::created_at,
        ))
        .load(conn)?)
}

/// One rule-set version.
pub fn rule_set(conn: &mut DbConn, version: i32) -> StoreResult<RuleSetRow> {
    rule_sets::table
        .find(version)
        .select(RuleSetRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// The version in force on `day`: the activated one with the latest start not after `day`, the
/// higher version when two start the same day.
pub fn rule_set_in_force(conn: &mut DbConn, day: NaiveDate) -> StoreResult<Option<RuleSetRow>> {
    Ok(rule_sets::table
        .filter(rule_sets::active_from.le(day))
        .order((rule_sets::active_from.desc(), rule_sets::version.desc()))
        .select(RuleSetRow::as_select())
        .first(conn)
        .optional()?)
}

/// Stores a new version, numbered one after the highest.
pub fn insert_rule_set(tx: &mut WriteTx<'_>, mut row: RuleSetRow) -> StoreResult<RuleSetRow> {
    let last: Option<i32> = rule_sets::table
        .select(diesel::dsl::max(rule_sets::version))
        .first(tx.conn())?;
    row.version = last.unwrap_or(0) + 1;
    diesel::insert_into(rule_sets::table)
        .values(&row)
        .execute(tx.conn())?;
    Ok(row)
}

/// Activates a draft from `from`; false if it was no longer a draft.
pub fn activate_rule_set(
    tx: &mut WriteTx<'_>,
    version: i32,
    from: NaiveDate,
    by: &str,
) -> StoreResult<bool> {
    let now = tx.now();
    let n = diesel::update(
        rule_sets::table
            .filter(rule_sets::version.eq(version))
            .filter(rule_sets::active_from.is_null()),
    )
    .set((
        rule_sets::active_from.eq(from),
        rule_sets::activated_by.eq(by),
        rule_sets::activated_at.eq(now),
    ))
    .execute(tx.conn())?;
    Ok(n == 1)
}

fn warnings_scoped<'a>(scope: &ScopeFilter) -> warnings::BoxedQuery<'a, Backend> {
    let q = warnings::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(
            warnings::borrower_id.eq_any(
                borrowers::table
                    .filter(borrowers::officer_id.eq(officer.clone()))
                    .select(borrowers::id),
            ),
        ),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(warnings::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(warnings::id.is_null()),
    }
}

/// The warnings among `rows` whose borrower, rule and period have no warning yet; of several
/// with the same key among them, the first. Writers take turns on the audit head, so none can
/// come between this and [`insert_warnings`] in the same transaction.
pub fn fresh_warnings(tx: &mut WriteTx<'_>, rows: Vec<WarningRow>) -> StoreResult<Vec<WarningRow>> {
    let conn = tx.conn();
    let distinct = |f: fn(&WarningRow) -> &String| -> Vec<String> {
        rows.iter()
            .map(|r| f(r).clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let periods = distinct(|r| &r.period);
    let mut taken: BTreeSet<(String, String, String)> = BTreeSet::new();
    for chunk in distinct(|r| &r.borrower_id).chunks(CHUNK) {
        taken.extend(
            warnings::table
                .filter(warnings::borrower_id.in_keys(chunk))
                .filter(warnings::period.in_keys(&periods))
                .select((warnings::borrower_id, warnings::rule, warnings::period))
                .load::<(String, String, String)>(conn)?,
        );
    }
    Ok(rows
        .into_iter()
        .filter(|r| taken.insert((r.borrower_id.clone(), r.rule.clone(), r.period.clone())))
        .collect())
}

/// Inserts warnings found fresh by [`fresh_warnings`] ([`crate::insert_rows!`]).
pub fn insert_warnings(tx: &mut WriteTx<'_>, rows: &[WarningRow]) -> StoreResult<()> {
    // 17 columns a row: 1,000 rows stay under both backends' limits on bound parameters.
    crate::insert_rows!(tx.conn(), warnings::table, rows, 1000)?;
    Ok(())
}

/// One warning in scope.
pub fn warning(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<WarningRow> {
    warnings_scoped(scope)
        .filter(warnings::id.eq(id.to_owned()))
        .select(WarningRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Which of these warnings the scope covers.
pub fn visible_warning_ids(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    ids: &[String],
) -> StoreResult<Vec<String>> {
    chunked(ids, |chunk| {
        Ok(warnings_scoped(scope)
            .filter(warnings::id.in_keys(chunk))
            .select(warnings::id)
            .load(conn)?)
    })
}

/// Filters of a warning listing.
#[derive(Debug, Clone, Default)]
pub struct WarningFilter {
    pub borrower_id: Option<String>,
    pub status: Option<String>,
    pub tier: Option<String>,
    pub rule: Option<String>,
}

/// Warnings in scope, newest first, after (created_at, id).
pub fn warnings(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    filter: &WarningFilter,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> StoreResult<PageOf<WarningRow>> {
    let mut q = warnings_scoped(scope);
    if let Some(b) = &filter.borrower_id {
        q = q.filter(warnings::borrower_id.eq(b.clone()));
    }
    if let Some(s) = &filter.status {
        q = q.filter(warnings::status.eq(s.clone()));
    }
    if let Some(t) = &filter.tier {
        q = q.filter(warnings::tier.eq(t.clone()));
    }
    if let Some(r) = &filter.rule {
        q = q.filter(warnings::rule.eq(r.clone()));
    }
    if let Some((at, id)) = after {
        q = q.filter(warnings::created_at.le(at)).filter(
            warnings::created_at
                .lt(at)
                .or(warnings::created_at.eq(at).and(warnings::id.lt(id))),
        );
    }
    let rows = q
        .order((warnings::created_at.desc(), warnings::id.desc()))
        .limit(limit + 1)
        .select(WarningRow::as_select())
        .load(conn)?;
    Ok(PageOf::from_overfetch(rows, limit))
}

/// A borrower's warnings (all statuses), newest first.
pub fn warnings_of_borrower(conn: &mut DbConn, borrower_id: &str) -> StoreResult<Vec<WarningRow>> {
    Ok(warnings::table
        .filter(warnings::borrower_id.eq(borrower_id))
        .order((warnings::created_at.desc(), warnings::id.desc()))
        .select(WarningRow::as_select())
        .load(conn)?)
}

/// Moves a warning to `status` if it is still at `expected_version`; false if someone else
/// changed it first.
pub fn update_warning(
    tx: &mut WriteTx<'_>,
    id: &str,
    expected_version: i32,
    status: &str,
    resolution: Option<&str>,
) -> StoreResult<bool> {
    let now = tx.now();
    let n = diesel::update(
        warnings::table
            .filter(warnings::id.eq(id))
            .filter(warnings::version.eq(expected_version)),
    )
    .set((
        warnings::status.eq(status),
        warnings::resolution.eq(resolution),
        warnings::version.eq(expected_version + 1),
        warnings::updated_at.eq(now),
    ))
    .execute(tx.conn())?;
    Ok(n == 1)
}

/// Records a step of a warning's life.
pub fn insert_warning_events(tx: &mut WriteTx<'_>, rows: &[WarningEventRow]) -> StoreResult<()> {
    crate::insert_rows!(tx.conn(), warning_events::table, rows, CHUNK)?;
    Ok(())
}

/// A warning's history, oldest first.
pub fn warning_events(conn: &mut DbConn, warning_id: &str) -> StoreResult<Vec<WarningEventRow>> {
    Ok(warning_events::table
        .filter(warning_events::warning_id.eq(warning_id))
        .order((warning_events::at, warning_events::id))
        .select(WarningEventRow::as_select())
        .load(conn)?)
}

/// The active loans among these.
pub fn active_loans_by_id(conn: &mut DbConn, ids: &[String]) -> StoreResult<Vec<WatchedLoanRow>> {
    chunked(ids, |chunk| {
        Ok(loans::table
            .filter(loans::id.in_keys(chunk))
            .filter(loans::status.eq("active"))
            .order(loans::id)
            .select(WatchedLoanRow::as_select())
            .load::<WatchedLoanRow>(conn)?)
    })
}

/// Loans by id, as monitoring sees them (any status).
pub fn loans_by_id(conn: &mut DbConn, ids: &[String]) -> StoreResult<Vec<WatchedLoanRow>> {
    chunked(ids, |chunk| {
        Ok(loans::table
            .filter(loans::id.in_keys(chunk))
            .select(WatchedLoanRow::as_select())
            .load::<WatchedLoanRow>(conn)?)
    })
}
