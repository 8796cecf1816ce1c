//! Repayment schedules: preview without a loan, and the terms a loan is booked with.

pub mod routes;

use chrono::NaiveDate;
use loanwatch_api_types::schedule::Schedule;
use loanwatch_domain::{
    AnnualRate, Currency,
    ledger::RepaymentMethod,
    schedule::{CustomRepayment, DayCount, Frequency, ScheduleTerms, generate},
};

use crate::ApiError;

/// The schedule-shaping parts of a request, before checking.
#[derive(Debug, Clone)]
pub struct TermsInput<'a> {
    /// Principal in fen.
    pub principal_fen: i64,
    /// Annual rate text, e.g. `"4.35"`.
    pub annual_rate: &'a str,
    /// Method.
    pub method: RepaymentMethod,
    /// Interest start.
    pub start_date: NaiveDate,
    /// Maturity.
    pub maturity_date: NaiveDate,
    /// Frequency.
    pub frequency: Option<Frequency>,
    /// Fixed day.
    pub repayment_day: Option<u32>,
    /// Day count.
    pub day_count: Option<DayCount>,
    /// Custom repayments.
    pub custom: Option<&'a [CustomRepayment]>,
}

/// Checks the terms and builds the domain's schedule terms; a custom schedule is required
/// exactly for the custom method.
pub fn terms(input: &TermsInput<'_>) -> Result<ScheduleTerms, ApiError> {
    let custom = match (input.method, input.custom) {
        (RepaymentMethod::Custom, Some(c)) => c.to_vec(),
        (RepaymentMethod::Custom, None) => {
            return Err(ApiError::invalid(
                "custom_schedule",
                "is required for the custom method",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "custom_schedule",
                "applies only to the custom method",
            ));
        }
        (_, None) => Vec::new(),
    };
    Ok(ScheduleTerms {
        principal_fen: input.principal_fen,
        annual_rate: AnnualRate::parse("annual_rate", input.annual_rate)?,
        method: input.method,
        start_date: input.start_date,
        maturity_date: input.maturity_date,
        frequency: input.frequency.unwrap_or(Frequency::Monthly),
        repayment_day: input.repayment_day,
        day_count: input.day_count.unwrap_or(DayCount::Act360),
        custom,
    })
}

/// Computes a schedule with its totals.
pub fn compute(terms: &ScheduleTerms, currency: Currency) -> Result<Schedule, ApiError> {
    let instalments = generate(terms)?;
    let total_principal_fen = instalments.iter().map(|i| i.principal_fen).sum();
    let total_interest_fen: i64 = instalments.iter().map(|i| i.interest_fen).sum();
    Ok(Schedule {
        currency,
        total_fen: total_principal_fen + total_interest_fen,
        total_principal_fen,
        total_interest_fen,
        instalments,
    })
}
