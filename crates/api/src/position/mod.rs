//! Positions and current schedules of booked loans: the loan's contract terms and its recorded
//! events replayed by the domain's position engine.

pub mod products;
pub mod routes;

use chrono::NaiveDate;
use loanwatch_domain::{
    AnnualRate,
    ledger::{EventKind, EventPayload, RepaymentMethod},
    position::{Change, Position, ProductSettings, position},
    schedule::{DayCount, Frequency, ScheduleTerms},
};
use loanwatch_store::{
    DbConn, ScopeFilter,
    models::{LoanEventRow, LoanRow},
    repo::loan,
};

use crate::{ApiError, views::stored};

/// The contract terms of a stored loan.
pub fn contract_terms(l: &LoanRow) -> Result<ScheduleTerms, ApiError> {
    Ok(ScheduleTerms {
        principal_fen: l.principal_fen,
        annual_rate: AnnualRate::parse("annual_rate", &l.contract_annual_rate)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("stored contract rate: {e}")))?,
        method: stored::<RepaymentMethod>(&l.repayment_method, "repayment_method")?,
        start_date: l.disbursement_date,
        maturity_date: l.contract_maturity_date,
        frequency: stored::<Frequency>(&l.repayment_frequency, "repayment_frequency")?,
        repayment_day: l.repayment_day.map(|d| d as u32),
        day_count: stored::<DayCount>(&l.day_count, "day_count")?,
        custom: l
            .custom_schedule
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("stored custom schedule: {e}")))?
            .unwrap_or_default(),
    })
}

/// The loan (in scope) and its position on `as_of`.
pub fn load(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    loan_id: &str,
    as_of: NaiveDate,
) -> Result<(LoanRow, Position), ApiError> {
    let l = loan::get(conn, scope, loan_id)
        .map_err(|_| ApiError::not_found("loan"))?
        .loan;
    let p = position_of(conn, &l, as_of)?;
    Ok((l, p))
}

/// The position of a loan already loaded (batch jobs, which act for the whole institution).
pub fn position_of(conn: &mut DbConn, l: &LoanRow, as_of: NaiveDate) -> Result<Position, ApiError> {
    let events = loan::all_events(conn, &l.id)?;
    let settings = product_settings(conn, &l.product)?;
    position_from(l, &events, &settings, as_of)
}

/// The position of a loan from its events (in replay order) and its product's settings.
pub fn position_from(
    l: &LoanRow,
    events: &[LoanEventRow],
    settings: &ProductSettings,
    as_of: NaiveDate,
) -> Result<Position, ApiError> {
    let terms = contract_terms(l)?;
    let mut changes = Vec::with_capacity(events.len());
    for e in events {
        changes.extend(change_of(e)?);
    }
    let penalty = settings.penalty_terms(l.diverted_from);
    Ok(position(
        &terms,
        &penalty,
        &changes,
        as_of.max(l.disbursement_date),
    )?)
}

/// Whether events of `kind` change anything in the replay. The booking disbursement is the
/// schedule's start, and guarantee changes move no money.
pub fn replayed(kind: EventKind) -> bool {
    !matches!(kind, EventKind::Disbursement | EventKind::GuaranteeChange)
}

/// The kinds of event the replay uses, for readers that load only those.
pub fn replayed_kinds() -> Vec<&'static str> {
    EventKind::ALL
        .iter()
        .filter(|k| replayed(**k))
        .map(|k| k.as_str())
        .collect()
}

/// What a recorded event changes in the replay, if anything.
fn change_of(e: &LoanEventRow) -> Result<Option<Change>, ApiError> {
    let kind: EventKind = stored(&e.kind, "event kind")?;
    if !replayed(kind) {
        return Ok(None);
    }
    // Only the kinds that carry their terms in the payload read it.
    let payload = || serde_json::from_str::<EventPayload>(&e.payload).map_err(ApiError::internal);
    Ok(match kind {
        EventKind::Repayment => e.amount_fen.map(|amount_fen| Change::Repayment {
            date: e.business_date,
            amount_fen,
        }),
        EventKind::Extension => payload()?
            .new_maturity_date
            .map(|maturity| Change::Extension {
                date: e.business_date,
                maturity,
            }),
        EventKind::RateChange => payload()?
            .new_annual_rate
            .as_deref()
            .map(|r| AnnualRate::parse("new_annual_rate", r))
            .transpose()
            .map_err(|err| ApiError::internal(anyhow::anyhow!("stored rate: {err}")))?
            .map(|rate| Change::RateChange {
                date: e.business_date,
                rate,
            }),
        EventKind::Prepayment => match (e.amount_fen, payload()?.prepayment_mode) {
            (Some(amount_fen), Some(mode)) => Some(Change::Prepayment {
                date: e.business_date,
                amount_fen,
                mode,
            }),
            _ => None,
        },
        EventKind::Settlement => Some(Change::Settlement {
            date: e.business_date,
        }),
        EventKind::Disbursement | EventKind::GuaranteeChange => None,
    })
}

/// The settings of a product; the defaults when the product has none.
pub fn product_settings(conn: &mut DbConn, product: &str) -> Result<ProductSettings, ApiError> {
    match loanwatch_store::repo::product::get(conn, product)? {
        Some(row) => serde_json::from_str(&row.settings)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("stored product settings: {e}"))),
        None => Ok(ProductSettings::default()),
    }
}
