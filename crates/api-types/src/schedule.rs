//! Repayment schedules and the working-day calendar on the wire.

use chrono::NaiveDate;
use loanwatch_domain::{
    Currency,
    ledger::RepaymentMethod,
    schedule::{CustomRepayment, DayCount, Frequency, Instalment},
};
use serde::{Deserialize, Serialize};

/// Terms to compute a schedule from, without booking a loan (integrators quote with it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SchedulePreviewRequest {
    /// Principal in fen, greater than zero.
    #[cfg_attr(feature = "openapi", schema(example = 100000000))]
    pub principal_fen: i64,
    /// Currency; CNY if absent.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// Nominal annual rate in percent, e.g. `"4.9"`.
    #[cfg_attr(feature = "openapi", schema(example = "4.9"))]
    pub annual_rate: String,
    /// Repayment method.
    pub repayment_method: RepaymentMethod,
    /// Disbursement (interest start) date.
    pub start_date: NaiveDate,
    /// Maturity date.
    pub maturity_date: NaiveDate,
    /// `monthly` (default) or `quarterly`.
    #[serde(default)]
    pub repayment_frequency: Option<Frequency>,
    /// Fixed repayment day of the month (1–31); the start date's day if absent.
    #[serde(default)]
    pub repayment_day: Option<u32>,
    /// Day count of daily interest; `act_360` if absent.
    #[serde(default)]
    pub day_count: Option<DayCount>,
    /// The principal repayments of a `custom` schedule.
    #[serde(default)]
    pub custom_schedule: Option<Vec<CustomRepayment>>,
}

/// A computed schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    /// Currency of every amount.
    pub currency: Currency,
    /// The instalments in order.
    pub instalments: Vec<Instalment>,
    /// Sum of principal parts (equals the principal).
    pub total_principal_fen: i64,
    /// Sum of interest.
    pub total_interest_fen: i64,
    /// Sum of everything due.
    pub total_fen: i64,
}

/// A deadline counted in working days.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deadline {
    /// The day counted from.
    pub from: NaiveDate,
    /// Working days added.
    pub working_days: u32,
    /// The deadline: the `working_days`-th working day after `from`.
    pub date: NaiveDate,
}

/// Money received from the borrower.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRepayment {
    /// The business date the money was received; not in the future.
    pub business_date: NaiveDate,
    /// Amount in fen, greater than zero and at most what is owed that day.
    pub amount_fen: i64,
    /// Free-text remark.
    #[serde(default)]
    pub note: Option<String>,
}

/// Principal repaid ahead of schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePrepayment {
    /// The business date; not in the future.
    pub business_date: NaiveDate,
    /// Principal prepaid in fen, at most what is not yet due.
    pub amount_fen: i64,
    /// `lower_instalment` keeps the term; `shorten_term` keeps the instalment.
    pub mode: loanwatch_domain::position::PrepaymentMode,
    /// Free-text remark.
    #[serde(default)]
    pub note: Option<String>,
}

/// A product's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    /// The product as loans name it (`product` of a loan).
    pub code: String,
    /// Its settings.
    pub settings: loanwatch_domain::position::ProductSettings,
    /// When they last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Who changed them.
    pub updated_by: String,
}
