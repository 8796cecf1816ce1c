//! What early warning watches besides money — financial statements, external signals, class
//! changes — and each borrower's latest health check.
//!
//! Scope is the caller's business: these functions take borrower or loan ids the caller has
//! already checked, or serve the batch, which acts for the whole institution.

use crate::keys::InKeys;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::{dsl::min, prelude::*, upsert::excluded};

use crate::{
    DbConn, StoreResult, WriteTx,
    models::{ClassChangeRow, CollateralRow, HealthRow, SignalRow, StatementRow},
    repo::{CHUNK, chunked},
    schema::{
        borrower_health, collateral, loan_class_changes, loan_collateral, loans, signals,
        statements, tasks, warnings,
    },
};

/// Stores a period's statements, replacing earlier figures for the period (keeping when it was
/// first recorded); true when the period is new.
pub fn put_statement(tx: &mut WriteTx<'_>, row: &StatementRow) -> StoreResult<bool> {
    let key = (&row.borrower_id, &row.period);
    let first_recorded: Option<chrono::NaiveDateTime> = statements::table
        .find(key)
        .select(statements::created_at)
        .first(tx.conn())
        .optional()?;
    let Some(created_at) = first_recorded else {
        diesel::insert_into(statements::table)
            .values(row)
            .execute(tx.conn())?;
        return Ok(true);
    };
    let changes = StatementRow {
        created_at,
        ..row.clone()
    };
    diesel::update(statements::table.find(key))
        .set(&changes)
        .execute(tx.conn())?;
    Ok(false)
}

/// The statements of these borrowers, by borrower and period.
pub fn statements_of(conn: &mut DbConn, borrower_ids: &[String]) -> StoreResult<Vec<StatementRow>> {
    chunked(borrower_ids, |chunk| {
        Ok(statements::table
            .filter(statements::borrower_id.in_keys(chunk))
            .order((statements::borrower_id, statements::period))
            .select(StatementRow::as_select())
            .load(conn)?)
    })
}

/// The content hashes of the signals stored under these ids.
pub fn signal_hashes(conn: &mut DbConn, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
    chunked(ids, |chunk| {
        Ok(signals::table
            .filter(signals::id.in_keys(chunk))
            .select((signals::id, signals::content_hash))
            .load(conn)?)
    })
}

/// Stores new signals.
pub fn insert_signals(tx: &mut WriteTx<'_>, rows: &[SignalRow]) -> StoreResult<()> {
    crate::insert_rows!(tx.conn(), signals::table, rows, CHUNK)?;
    Ok(())
}

/// The signals of these borrowers that happened on or after `since`, by borrower and date.
pub fn signals_of(
    conn: &mut DbConn,
    borrower_ids: &[String],
    since: NaiveDate,
) -> StoreResult<Vec<SignalRow>> {
    chunked(borrower_ids, |chunk| {
        Ok(signals::table
            .filter(signals::borrower_id.in_keys(chunk))
            .filter(signals::occurred_on.ge(since))
            .order((signals::borrower_id, signals::occurred_on, signals::id))
            .select(SignalRow::as_select())
            .load(conn)?)
    })
}

/// The signals about these collateral items that happened on or after `since`, whichever
/// borrower they were reported on.
pub fn signals_about_collateral(
    conn: &mut DbConn,
    collateral_ids: &[String],
    since: NaiveDate,
) -> StoreResult<Vec<SignalRow>> {
    chunked(collateral_ids, |chunk| {
        Ok(signals::table
            .filter(signals::collateral_id.in_keys(chunk))
            .filter(signals::occurred_on.ge(since))
            .order((signals::occurred_on, signals::id))
            .select(SignalRow::as_select())
            .load(conn)?)
    })
}

/// The collateral securing these loans: (loan, item), an item once per loan it secures.
pub fn collateral_of_loans(
    conn: &mut DbConn,
    loan_ids: &[String],
) -> StoreResult<Vec<(String, CollateralRow)>> {
    chunked(loan_ids, |chunk| {
        Ok(loan_collateral::table
            .inner_join(collateral::table)
            .filter(loan_collateral::loan_id.in_keys(chunk))
            // The link's own key: the order costs no sort.
            .order((loan_collateral::loan_id, loan_collateral::collateral_id))
            .select((loan_collateral::loan_id, CollateralRow::as_select()))
            .load(conn)?)
    })
}

/// The borrowers concerned by these collateral items: (item, borrower) for the borrower each is
/// registered under and for the borrower of each loan it secures. Items unknown are absent.
pub fn collateral_borrowers(
    conn: &mut DbConn,
    collateral_ids: &[String],
) -> StoreResult<Vec<(String, String)>> {
    let mut out = chunked(collateral_ids, |chunk| {
        Ok(collateral::table
            .filter(collateral::id.in_keys(chunk))
            .select((collateral::id, collateral::borrower_id))
            .load(conn)?)
    })?;
    out.extend(chunked(collateral_ids, |chunk| {
        Ok(loan_collateral::table
            .inner_join(loans::table)
            .filter(loan_collateral::collateral_id.in_keys(chunk))
            .select((loan_collateral::collateral_id, loans::borrower_id))
            .load::<(String, String)>(conn)?)
    })?);
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Records a change of class.
pub fn insert_class_change(tx: &mut WriteTx<'_>, row: &ClassChangeRow) -> StoreResult<()> {
    diesel::insert_into(loan_class_changes::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// The class changes of these loans made on or after `since`, oldest first.
pub fn class_changes_since(
    conn: &mut DbConn,
    loan_ids: &[String],
    since: NaiveDate,
) -> StoreResult<Vec<ClassChangeRow>> {
    let mut rows = chunked(loan_ids, |chunk| {
        Ok(loan_class_changes::table
            .filter(loan_class_changes::loan_id.in_keys(chunk))
            .filter(loan_class_changes::changed_on.ge(since))
            .select(ClassChangeRow::as_select())
            .load(conn)?)
    })?;
    rows.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    Ok(rows)
}

/// The due date of each loan's oldest task still waiting on the officer (not submitted for
/// review and not closed), for these loans.
pub fn oldest_open_task_due(
    conn: &mut DbConn,
    loan_ids: &[String],
) -> StoreResult<Vec<(String, Option<NaiveDate>)>> {
    chunked(loan_ids, |chunk| {
        Ok(tasks::table
            .filter(tasks::loan_id.in_keys(chunk))
            .filter(tasks::status.eq_any(["planned", "assigned", "in_progress", "returned"]))
            .group_by(tasks::loan_id)
            .select((tasks::loan_id, min(tasks::due_date)))
            .load(conn)?)
    })
}

/// A warning still standing, as the health check reads it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Standing {
    pub borrower_id: String,
    pub rule: String,
    pub tier: String,
    pub raised_on: NaiveDate,
    pub detail: String,
}

/// The warnings of these rules raised on or after `since` and not resolved, for these borrowers.
pub fn standing_warnings(
    conn: &mut DbConn,
    borrower_ids: &[String],
    rules: &[&str],
    since: NaiveDate,
) -> StoreResult<Vec<Standing>> {
    chunked(borrower_ids, |chunk| {
        Ok(warnings::table
            .filter(warnings::borrower_id.in_keys(chunk))
            .filter(warnings::rule.eq_any(rules))
            .filter(warnings::raised_on.ge(since))
            .filter(warnings::status.ne("resolved"))
            .order((warnings::borrower_id, warnings::raised_on, warnings::id))
            .select((
                warnings::borrower_id,
                warnings::rule,
                warnings::tier,
                warnings::raised_on,
                warnings::detail,
            ))
            .load(conn)?)
    })
}

/// Stores health checks, replacing each borrower's previous one.
pub fn put_health(tx: &mut WriteTx<'_>, rows: &[HealthRow]) -> StoreResult<()> {
    for chunk in rows.chunks(CHUNK) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(borrower_health::table)
            .values(chunk)
            .on_conflict(borrower_health::borrower_id)
            .do_update()
            .set((
                borrower_health::as_of.eq(excluded(borrower_health::as_of)),
                borrower_health::score.eq(excluded(borrower_health::score)),
                borrower_health::grade.eq(excluded(borrower_health::grade)),
                borrower_health::worst_tier.eq(excluded(borrower_health::worst_tier)),
                borrower_health::rule_version.eq(excluded(borrower_health::rule_version)),
                borrower_health::checks.eq(excluded(borrower_health::checks)),
                borrower_health::computed_at.eq(excluded(borrower_health::computed_at)),
            ))
            .execute(c))?;
    }
    Ok(())
}

/// When the stored health of each of these borrowers was computed (those that have one).
pub fn health_stamps(
    conn: &mut DbConn,
    borrower_ids: &[String],
) -> StoreResult<Vec<(String, NaiveDateTime)>> {
    chunked(borrower_ids, |chunk| {
        Ok(borrower_health::table
            .filter(borrower_health::borrower_id.in_keys(chunk))
            .select((borrower_health::borrower_id, borrower_health::computed_at))
            .load(conn)?)
    })
}

/// A borrower's latest health check (the caller has checked the borrower is in scope).
pub fn health_of(conn: &mut DbConn, borrower_id: &str) -> StoreResult<Option<HealthRow>> {
    Ok(borrower_health::table
        .find(borrower_id)
        .select(HealthRow::as_select())
        .first(conn)
        .optional()?)
}

/// The latest health checks of these borrowers, by borrower.
pub fn health_of_many(conn: &mut DbConn, borrower_ids: &[String]) -> StoreResult<Vec<HealthRow>> {
    let mut rows = chunked(borrower_ids, |chunk| {
        Ok(borrower_health::table
            .filter(borrower_health::borrower_id.in_keys(chunk))
            .select(HealthRow::as_select())
            .load(conn)?)
    })?;
    rows.sort_by(|a, b| a.borrower_id.cmp(&b.borrower_id));
    Ok(rows)
}
