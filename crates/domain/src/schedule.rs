//! Repayment schedules (还款计划), computed exactly.
//!
//! Conventions of Chinese lending: 月利率 = 年利率 / 12 and 日利率 = 年利率 / 360 (the day count
//! is a product setting: actual/360, actual/365 or 30/360). Amortising methods (等额本息,
//! 等额本金) charge the periodic rate for regular periods and daily interest for a broken period
//! (an irregular first period when the repayment day differs from the disbursement day, or an
//! irregular last one when maturity falls off the cycle); interest-only and bullet methods
//! accrue daily over actual days. Every amount is rounded half-up to the fen; what rounding
//! leaves over goes into the last instalment, so principal parts always sum to the principal.

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy, prelude::ToPrimitive};
use serde::{Deserialize, Serialize};

use crate::{AnnualRate, DomainError, ledger::RepaymentMethod};

text_enum!(
    /// How often instalments fall due.
    Frequency {
        /// Every month.
        Monthly = "monthly",
        /// Every three months.
        Quarterly = "quarterly",
    }
);

impl Frequency {
    /// Months per period.
    pub fn months(self) -> u32 {
        match self {
            Self::Monthly => 1,
            Self::Quarterly => 3,
        }
    }
}

text_enum!(
    /// How days are counted for daily interest.
    DayCount {
        /// Actual days over 360 (日利率 = 年利率 / 360), the default.
        Act360 = "act_360",
        /// Actual days over 365.
        Act365 = "act_365",
        /// 30/360: every month counts 30 days.
        Thirty360 = "thirty_360",
    }
);

impl DayCount {
    /// Days counted from `from` to `to` and the year basis.
    pub fn days(self, from: NaiveDate, to: NaiveDate) -> (i64, i64) {
        match self {
            Self::Act360 => ((to - from).num_days(), 360),
            Self::Act365 => ((to - from).num_days(), 365),
            Self::Thirty360 => {
                let d1 = from.day().min(30) as i64;
                let d2 = if to.day() == 31 && d1 == 30 {
                    30
                } else {
                    to.day() as i64
                };
                let days = 360 * (to.year() - from.year()) as i64
                    + 30 * (to.month() as i64 - from.month() as i64)
                    + (d2 - d1);
                (days, 360)
            }
        }
    }
}

/// A principal repayment of a custom schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomRepayment {
    /// Due date.
    pub due_date: NaiveDate,
    /// Principal due then, in fen.
    pub principal_fen: i64,
}

/// What a schedule is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTerms {
    /// Principal in fen.
    pub principal_fen: i64,
    /// Nominal annual rate.
    pub annual_rate: AnnualRate,
    /// Repayment method.
    pub method: RepaymentMethod,
    /// Disbursement date: interest runs from here.
    pub start_date: NaiveDate,
    /// Maturity: the last instalment falls due here.
    pub maturity_date: NaiveDate,
    /// Period length.
    pub frequency: Frequency,
    /// Fixed repayment day of the month (1–31, clamped to the month's end); the start date's day
    /// if `None`.
    pub repayment_day: Option<u32>,
    /// Day count of daily interest.
    pub day_count: DayCount,
    /// The principal repayments of a custom schedule.
    pub custom: Vec<CustomRepayment>,
}

/// One instalment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Instalment {
    /// 1-based number.
    pub number: u32,
    /// Interest runs from this date (exclusive of the due date).
    pub period_start: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// Days of interest in the period under the day count.
    pub days: i64,
    /// Whether the period is regular (charged at the periodic rate) or broken (daily interest).
    pub regular: bool,
    /// Balance at the start of the period, in fen.
    pub opening_balance_fen: i64,
    /// Principal due, in fen.
    pub principal_fen: i64,
    /// Interest due, in fen.
    pub interest_fen: i64,
    /// Principal plus interest, in fen.
    pub total_fen: i64,
    /// Balance after this instalment, in fen.
    pub closing_balance_fen: i64,
}

/// The longest schedule computed: 50 years of monthly instalments.
pub const MAX_INSTALMENTS: usize = 600;

/// The longest term accepted, in days (50 years). With amounts capped at
/// [`crate::money::MAX_AMOUNT_FEN`] and rates below 100 %, no sum can leave `i64`.
pub const MAX_TERM_DAYS: i64 = 50 * 366;

fn round_fen(d: Decimal) -> i64 {
    d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .unwrap_or(i64::MAX)
}

/// Adds months, clamping the day to the month's end, then moving to `day` if given.
pub fn add_months(date: NaiveDate, months: u32, day: Option<u32>) -> NaiveDate {
    let total = date.year() * 12 + date.month0() as i32 + months as i32;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let want = day.unwrap_or(date.day());
    (1..=want.min(31))
        .rev()
        .find_map(|d| NaiveDate::from_ymd_opt(y, m, d))
        .unwrap_or(date)
}

/// An interest period of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Interest runs from here.
    pub from: NaiveDate,
    /// Due date.
    pub to: NaiveDate,
    /// Whether the period spans exactly one cycle (else it is broken: daily interest).
    pub regular: bool,
}

/// The periods from `start` to `maturity`: due on the repayment day (the start's day when not
/// fixed) every `frequency`, the first strictly after the start, the last on maturity. A start
/// off the cycle makes the first period broken; a maturity off the cycle makes the last broken.
pub fn periods(
    start: NaiveDate,
    maturity: NaiveDate,
    frequency: Frequency,
    repayment_day: Option<u32>,
) -> Vec<Period> {
    let step = frequency.months();
    let day = repayment_day.unwrap_or(start.day());
    let start_on_cycle = add_months(start, 0, Some(day)) == start;
    let first = if start_on_cycle {
        add_months(start, step, Some(day))
    } else {
        let this_month = add_months(start, 0, Some(day));
        if this_month > start {
            this_month
        } else {
            add_months(start, 1, Some(day))
        }
    };
    let mut out = Vec::new();
    let mut from = start;
    let mut from_on_cycle = start_on_cycle;
    for k in 0.. {
        let due = add_months(first, k * step, Some(day));
        if due >= maturity || out.len() >= MAX_INSTALMENTS {
            break;
        }
        out.push(Period {
            from,
            to: due,
            regular: from_on_cycle && add_months(from, step, Some(day)) == due,
        });
        from = due;
        from_on_cycle = true;
    }
    out.push(Period {
        from,
        to: maturity,
        regular: from_on_cycle && add_months(from, step, Some(day)) == maturity,
    });
    out
}

/// Computes a schedule.
pub fn generate(terms: &ScheduleTerms) -> Result<Vec<Instalment>, DomainError> {
    if terms.principal_fen <= 0 {
        return Err(DomainError::invalid(
            "principal_fen",
            "must be greater than zero",
        ));
    }
    if terms.principal_fen > crate::money::MAX_AMOUNT_FEN {
        return Err(DomainError::invalid(
            "principal_fen",
            "is beyond the largest amount accepted",
        ));
    }
    if terms.maturity_date <= terms.start_date {
        return Err(DomainError::invalid(
            "maturity_date",
            "must be after the start date",
        ));
    }
    if (terms.maturity_date - terms.start_date).num_days() > MAX_TERM_DAYS {
        return Err(DomainError::invalid(
            "maturity_date",
            "a term of more than 50 years is not a loan this system schedules",
        ));
    }
    if let Some(day) = terms.repayment_day
        && !(1..=31).contains(&day)
    {
        return Err(DomainError::invalid(
            "repayment_day",
            "must be from 1 to 31",
        ));
    }
    let periods: Vec<Period> = match terms.method {
        RepaymentMethod::Bullet => vec![Period {
            from: terms.start_date,
            to: terms.maturity_date,
            regular: false,
        }],
        RepaymentMethod::Custom => custom_periods(terms)?,
        _ => {
            let p = periods(
                terms.start_date,
                terms.maturity_date,
                terms.frequency,
                terms.repayment_day,
            );
            if p.len() > MAX_INSTALMENTS {
                return Err(DomainError::invalid(
                    "maturity_date",
                    format!("more than {MAX_INSTALMENTS} instalments"),
                ));
            }
            p
        }
    };
    let n = periods.len();
    let rate = terms.annual_rate.percent();
    let periodic = rate * Decimal::from(terms.frequency.months()) / Decimal::from(1200);
    let daily = |balance: i64, from: NaiveDate, to: NaiveDate| -> (i64, i64) {
        let (days, basis) = terms.day_count.days(from, to);
        let interest =
            Decimal::from(balance) * rate * Decimal::from(days) / Decimal::from(100 * basis);
        (days, round_fen(interest))
    };
    let annuity = if terms.method == RepaymentMethod::EqualInstalment {
        Some(annuity_payment(terms.principal_fen, periodic, n))
    } else {
        None
    };
    let mut out = Vec::with_capacity(n);
    let mut balance = terms.principal_fen;
    for (
        i,
        Period {
            from,
            to: due,
            regular,
        },
    ) in periods.iter().copied().enumerate()
    {
        let last = i + 1 == n;
        let (days, daily_interest) = daily(balance, from, due);
        // Multiply before dividing: rate / 1200 has no finite decimal expansion in general.
        let periodic_interest = round_fen(
            Decimal::from(balance) * rate * Decimal::from(terms.frequency.months())
                / Decimal::from(1200),
        );
        let amortising = matches!(
            terms.method,
            RepaymentMethod::EqualInstalment | RepaymentMethod::EqualPrincipal
        );
        let interest = if amortising && regular {
            periodic_interest
        } else {
            daily_interest
        };
        let principal = if last {
            balance
        } else {
            match terms.method {
                RepaymentMethod::EqualInstalment => {
                    // The principal part follows the annuity amortisation at the periodic rate;
                    // a broken period changes only the interest charged.
                    let a = annuity.unwrap_or(0);
                    (a - periodic_interest).clamp(0, balance)
                }
                RepaymentMethod::EqualPrincipal => {
                    round_fen(Decimal::from(terms.principal_fen) / Decimal::from(n as u64))
                        .min(balance)
                }
                RepaymentMethod::MonthlyInterest | RepaymentMethod::Bullet => 0,
                RepaymentMethod::Custom => terms
                    .custom
                    .get(i)
                    .map_or(0, |c| c.principal_fen)
                    .min(balance),
            }
        };
        let closing = balance - principal;
        out.push(Instalment {
            number: i as u32 + 1,
            period_start: from,
            due_date: due,
            days,
            regular: amortising && regular,
            opening_balance_fen: balance,
            principal_fen: principal,
            interest_fen: interest,
            total_fen: principal + interest,
            closing_balance_fen: closing,
        });
        balance = closing;
    }
    Ok(out)
}

/// The level payment of an annuity: P·r·(1+r)^n / ((1+r)^n − 1), rounded to the fen; P/n at a
/// zero rate.
pub fn annuity_payment(principal_fen: i64, periodic_rate: Decimal, n: usize) -> i64 {
    if n == 0 {
        return principal_fen;
    }
    if periodic_rate.is_zero() {
        return round_fen(Decimal::from(principal_fen) / Decimal::from(n as u64));
    }
    let mut growth = Decimal::ONE;
    let factor = Decimal::ONE + periodic_rate;
    for _ in 0..n {
        growth *= factor;
    }
    round_fen(Decimal::from(principal_fen) * periodic_rate * growth / (growth - Decimal::ONE))
}

fn custom_periods(terms: &ScheduleTerms) -> Result<Vec<Period>, DomainError> {
    const FIELD: &str = "custom_schedule";
    if terms.custom.is_empty() {
        return Err(DomainError::invalid(
            FIELD,
            "a custom schedule needs its repayments",
        ));
    }
    if terms.custom.len() > MAX_INSTALMENTS {
        return Err(DomainError::invalid(
            FIELD,
            format!("more than {MAX_INSTALMENTS} instalments"),
        ));
    }
    let mut sum: i64 = 0;
    let mut previous = terms.start_date;
    let mut periods = Vec::with_capacity(terms.custom.len());
    for c in &terms.custom {
        if c.due_date <= previous {
            return Err(DomainError::invalid(
                FIELD,
                format!(
                    "{} is not after {previous}: dates must increase from the start",
                    c.due_date
                ),
            ));
        }
        if c.principal_fen < 0 {
            return Err(DomainError::invalid(
                FIELD,
                "a principal repayment cannot be negative",
            ));
        }
        sum = sum
            .checked_add(c.principal_fen)
            .ok_or_else(|| DomainError::invalid(FIELD, "the repayments overflow"))?;
        periods.push(Period {
            from: previous,
            to: c.due_date,
            regular: false,
        });
        previous = c.due_date;
    }
    if previous != terms.maturity_date {
        return Err(DomainError::invalid(
            FIELD,
            "the last repayment must fall on the maturity date",
        ));
    }
    if sum != terms.principal_fen {
        return Err(DomainError::invalid(
            FIELD,
            format!(
                "repayments sum to {sum} fen, not the principal {}",
                terms.principal_fen
            ),
        ));
    }
    Ok(periods)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    fn terms(
        method: RepaymentMethod,
        principal_fen: i64,
        rate: &str,
        start: NaiveDate,
        months: u32,
    ) -> ScheduleTerms {
        ScheduleTerms {
            principal_fen,
            annual_rate: AnnualRate::parse("annual_rate", rate).expect("a valid test rate"),
            method,
            start_date: start,
            maturity_date: add_months(start, months, None),
            frequency: Frequency::Monthly,
            repayment_day: None,
            day_count: DayCount::Act360,
            custom: Vec::new(),
        }
    }

    #[test]
    fn a_fixed_repayment_day_makes_the_first_period_broken() -> Result<(), DomainError> {
        let mut t = terms(
            RepaymentMethod::EqualPrincipal,
            1_200_000,
            "6",
            d(2026, 1, 10),
            12,
        );
        t.repayment_day = Some(21);
        let s = generate(&t)?;
        assert_eq!(
            (s[0].due_date, s[0].regular, s[0].days),
            (d(2026, 1, 21), false, 11)
        );
        assert!(s[1].regular);
        assert_eq!(s[1].due_date, d(2026, 2, 21));
        // Maturity 10 Jan 2027 is off the cycle: the last period is broken too.
        assert_eq!(
            s.last().map(|i| (i.due_date, i.regular)),
            Some((d(2027, 1, 10), false))
        );
        // Broken periods charge daily interest: 1,200,000 fen × 6% × 11 / 360 = 2,200 fen.
        assert_eq!(s[0].interest_fen, 2_200);
        Ok(())
    }

    #[test]
    fn month_end_loans_stay_on_the_month_end() {
        let p = periods(d(2026, 1, 31), d(2026, 5, 31), Frequency::Monthly, None);
        let dues: Vec<NaiveDate> = p.iter().map(|p| p.to).collect();
        assert_eq!(
            dues,
            [
                d(2026, 2, 28),
                d(2026, 3, 31),
                d(2026, 4, 30),
                d(2026, 5, 31)
            ]
        );
        assert!(p.iter().all(|p| p.regular));
    }

    #[test]
    fn quarterly_interest_is_charged_on_a_three_month_cycle() -> Result<(), DomainError> {
        let mut t = terms(
            RepaymentMethod::MonthlyInterest,
            10_000_000,
            "3.6",
            d(2026, 1, 15),
            12,
        );
        t.frequency = Frequency::Quarterly;
        let s = generate(&t)?;
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].due_date, d(2026, 4, 15));
        // 90 days: 10,000,000 × 3.6% × 90 / 360 = 90,000 fen.
        assert_eq!(s[0].interest_fen, 90_000);
        Ok(())
    }

    #[test]
    fn custom_schedules_must_add_up_and_end_at_maturity() -> Result<(), DomainError> {
        let mut t = terms(RepaymentMethod::Custom, 1_000_000, "5", d(2026, 1, 1), 6);
        t.custom = vec![
            CustomRepayment {
                due_date: d(2026, 3, 1),
                principal_fen: 400_000,
            },
            CustomRepayment {
                due_date: d(2026, 7, 1),
                principal_fen: 600_000,
            },
        ];
        let s = generate(&t)?;
        assert_eq!(
            s.iter().map(|i| i.principal_fen).collect::<Vec<_>>(),
            [400_000, 600_000]
        );
        // Interest on the outstanding balance over actual days: 600,000 × 5% × 122 / 360.
        assert_eq!(
            s[1].interest_fen,
            round_fen(Decimal::from(600_000 * 5 * 122) / Decimal::from(36_000))
        );
        t.custom[1].principal_fen = 500_000;
        assert!(
            generate(&t).is_err(),
            "repayments that do not sum to the principal"
        );
        t.custom[1].principal_fen = 600_000;
        t.custom[1].due_date = d(2026, 6, 1);
        assert!(generate(&t).is_err(), "a last repayment before maturity");
        Ok(())
    }

    #[test]
    fn bad_terms_are_refused() {
        let mut t = terms(RepaymentMethod::Bullet, 0, "4", d(2026, 1, 1), 12);
        assert!(generate(&t).is_err());
        t.principal_fen = 100;
        t.maturity_date = t.start_date;
        assert!(generate(&t).is_err());
        t.maturity_date = d(2100, 1, 1);
        t.method = RepaymentMethod::EqualInstalment;
        assert!(generate(&t).is_err(), "more than 600 instalments");
        t.maturity_date = d(2027, 1, 1);
        t.repayment_day = Some(32);
        assert!(generate(&t).is_err());
        t.repayment_day = None;
        t.method = RepaymentMethod::Bullet;
        t.maturity_date = d(9999, 1, 1);
        assert!(generate(&t).is_err(), "a bullet loan of 8,000 years");
    }

    #[test]
    fn thirty_360_counts_every_month_as_thirty_days() {
        assert_eq!(
            DayCount::Thirty360.days(d(2026, 1, 31), d(2026, 2, 28)),
            (28, 360)
        );
        assert_eq!(
            DayCount::Thirty360.days(d(2026, 1, 15), d(2026, 2, 15)),
            (30, 360)
        );
        assert_eq!(
            DayCount::Act365.days(d(2026, 1, 15), d(2026, 2, 15)),
            (31, 365)
        );
    }

    fn method() -> impl Strategy<Value = RepaymentMethod> {
        prop_oneof![
            Just(RepaymentMethod::EqualInstalment),
            Just(RepaymentMethod::EqualPrincipal),
            Just(RepaymentMethod::MonthlyInterest),
            Just(RepaymentMethod::Bullet),
        ]
    }

    proptest! {
        #[test]
        fn principal_parts_sum_to_the_principal(
            m in method(), principal in 1i64..10_000_000_000, bp in 0i64..2_000, day in 1u32..=28, months in 1u32..=120, fixed in proptest::option::of(1u32..=31)
        ) {
            let mut t = terms(m, principal, "1", d(2026, 3, day), months);
            t.annual_rate = AnnualRate::new("r", Decimal::new(bp, 2)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            t.repayment_day = fixed;
            let s = generate(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(s.iter().map(|i| i.principal_fen).sum::<i64>(), principal);
            prop_assert_eq!(s.last().map(|i| i.closing_balance_fen), Some(0));
            prop_assert!(s.iter().all(|i| i.principal_fen >= 0 && i.interest_fen >= 0));
            prop_assert!(s.windows(2).all(|w| w[0].due_date < w[1].due_date && w[0].due_date == w[1].period_start));
        }

        #[test]
        fn equal_instalments_equal_the_annuity_except_the_last(principal in 100_000i64..10_000_000_000, bp in 1i64..2_000, months in 2u32..=360) {
            let mut t = terms(RepaymentMethod::EqualInstalment, principal, "1", d(2026, 3, 10), months);
            let rate = Decimal::new(bp, 2);
            t.annual_rate = AnnualRate::new("r", rate).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let s = generate(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // The annuity formula in f64, independent of the Decimal code path.
            let r = rate.to_f64().unwrap_or_default() / 1200.0;
            let n = months as i32;
            let a = principal as f64 * r * (1.0 + r).powi(n) / ((1.0 + r).powi(n) - 1.0);
            for i in &s[..s.len() - 1] {
                prop_assert!((i.total_fen as f64 - a).abs() <= 1.0, "{} vs {}", i.total_fen, a);
            }
        }

        #[test]
        fn equal_principal_interest_is_the_opening_balance_times_the_monthly_rate(principal in 100_000i64..10_000_000_000, bp in 1i64..2_000, months in 1u32..=360) {
            let mut t = terms(RepaymentMethod::EqualPrincipal, principal, "1", d(2026, 3, 10), months);
            let rate = Decimal::new(bp, 2);
            t.annual_rate = AnnualRate::new("r", rate).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for i in generate(&t).map_err(|e| TestCaseError::fail(e.to_string()))? {
                let expected = round_fen(Decimal::from(i.opening_balance_fen) * rate / Decimal::from(1200));
                prop_assert_eq!(i.interest_fen, expected);
            }
        }

        #[test]
        fn daily_accrual_is_principal_times_rate_times_days_over_360(principal in 1i64..10_000_000_000, bp in 1i64..2_000, days in 1i64..2_000) {
            let start = d(2026, 1, 1);
            let mut t = terms(RepaymentMethod::Bullet, principal, "1", start, 1);
            t.maturity_date = start + chrono::Duration::days(days);
            let rate = Decimal::new(bp, 2);
            t.annual_rate = AnnualRate::new("r", rate).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let s = generate(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Exact rational arithmetic in i128: principal × bp × days / (100 × 100 × 360), half up.
            let num = i128::from(principal) * i128::from(bp) * i128::from(days);
            let den: i128 = 100 * 100 * 360;
            let expected = (2 * num + den) / (2 * den);
            prop_assert_eq!(i128::from(s[0].interest_fen), expected);
        }
    }
}
