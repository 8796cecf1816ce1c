//! Money in integer fen (分) with its currency, and annual interest rates as exact decimals.
//!
//! No floating point touches money: amounts are `i64` fen, rates are `rust_decimal::Decimal`
//! percentages, and every conversion says how it rounds.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The largest amount Loanwatch accepts for one figure: 10 trillion yuan, in fen.
///
/// Far beyond any single loan, yet small enough that sums of millions of such figures stay
/// inside `i64`.
pub const MAX_AMOUNT_FEN: i64 = 1_000_000_000_000_000;

/// An amount of fen as yuan for people: thousands grouped, two decimals (`1,234,567.89`).
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", fen % 100)
}

/// ISO 4217 currencies that Chinese lenders book loans in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    /// Renminbi.
    Cny,
    /// US dollar.
    Usd,
    /// Euro.
    Eur,
    /// Hong Kong dollar.
    Hkd,
    /// Japanese yen (no minor unit is used in practice, but amounts are still kept in the
    /// smallest booked unit).
    Jpy,
    /// Pound sterling.
    Gbp,
}

impl Currency {
    /// The ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Cny => "CNY",
            Self::Usd => "USD",
            Self::Eur => "EUR",
            Self::Hkd => "HKD",
            Self::Jpy => "JPY",
            Self::Gbp => "GBP",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "CNY" => Self::Cny,
            "USD" => Self::Usd,
            "EUR" => Self::Eur,
            "HKD" => Self::Hkd,
            "JPY" => Self::Jpy,
            "GBP" => Self::Gbp,
            other => {
                return Err(DomainError::invalid(
                    "currency",
                    format!("{other:?} is not a supported ISO 4217 currency"),
                ));
            }
        })
    }
}

/// An amount of money: integer minor units (fen for CNY) and a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (fen). Negative only where a figure is a correction.
    pub amount_fen: i64,
    /// The currency of the amount.
    pub currency: Currency,
}

impl Money {
    /// A positive amount, as a loan principal or a repayment must be.
    pub fn positive(
        field: &'static str,
        amount_fen: i64,
        currency: Currency,
    ) -> Result<Self, DomainError> {
        if amount_fen <= 0 {
            return Err(DomainError::invalid(field, "must be greater than zero"));
        }
        Self::bounded(field, amount_fen, currency)
    }

    /// A non-negative amount (registered capital, an appraised value that may be zero).
    pub fn non_negative(
        field: &'static str,
        amount_fen: i64,
        currency: Currency,
    ) -> Result<Self, DomainError> {
        if amount_fen < 0 {
            return Err(DomainError::invalid(field, "must not be negative"));
        }
        Self::bounded(field, amount_fen, currency)
    }

    fn bounded(
        field: &'static str,
        amount_fen: i64,
        currency: Currency,
    ) -> Result<Self, DomainError> {
        if amount_fen > MAX_AMOUNT_FEN {
            return Err(DomainError::invalid(
                field,
                format!("must not exceed {MAX_AMOUNT_FEN} fen"),
            ));
        }
        Ok(Self {
            amount_fen,
            currency,
        })
    }

    /// The sum of two amounts of the same currency; `None` on a currency mismatch or overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        if self.currency != other.currency {
            return None;
        }
        Some(Self {
            amount_fen: self.amount_fen.checked_add(other.amount_fen)?,
            currency: self.currency,
        })
    }

    /// The amount in yuan (major units) as an exact decimal.
    pub fn to_major(self) -> Decimal {
        Decimal::new(self.amount_fen, 2)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_major(), self.currency)
    }
}

/// A nominal annual interest rate in percent (`4.35` means 4.35 % a year), exact.
///
/// Daily and monthly rates follow Chinese lending convention: 日利率 = 年利率 / 360,
/// 月利率 = 年利率 / 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnnualRate(Decimal);

impl AnnualRate {
    /// The most decimal places a rate may carry (e.g. LPR + 0.055 % spreads).
    pub const MAX_SCALE: u32 = 6;

    /// Parses a percentage such as `"4.35"`. Accepts 0 ≤ rate < 100 with at most six decimals.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, DomainError> {
        let value = Decimal::from_str_exact(text.trim()).map_err(|_| {
            DomainError::invalid(field, format!("{text:?} is not a decimal number"))
        })?;
        Self::new(field, value)
    }

    /// Checks a decimal percentage.
    pub fn new(field: &'static str, value: Decimal) -> Result<Self, DomainError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(DomainError::invalid(field, "must not be negative"));
        }
        if value >= Decimal::ONE_HUNDRED {
            return Err(DomainError::invalid(
                field,
                "must be below 100 (percent a year)",
            ));
        }
        if value.scale() > Self::MAX_SCALE {
            return Err(DomainError::invalid(
                field,
                format!("at most {} decimal places", Self::MAX_SCALE),
            ));
        }
        Ok(Self(value.normalize()))
    }

    /// The percentage, e.g. `4.35`.
    pub fn percent(self) -> Decimal {
        self.0
    }

    /// The daily rate as a fraction: 年利率 / 100 / 360.
    pub fn daily_fraction(self) -> Decimal {
        self.0 / Decimal::from(36_000)
    }

    /// The monthly rate as a fraction: 年利率 / 100 / 12.
    pub fn monthly_fraction(self) -> Decimal {
        self.0 / Decimal::from(1_200)
    }
}

impl fmt::Display for AnnualRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_zero_or_negative_principal_is_rejected() {
        assert!(Money::positive("principal_fen", 0, Currency::Cny).is_err());
        assert!(Money::positive("principal_fen", -1, Currency::Cny).is_err());
        assert!(Money::positive("principal_fen", 1, Currency::Cny).is_ok());
    }

    #[test]
    fn an_amount_beyond_ten_trillion_yuan_is_rejected() {
        assert!(Money::positive("principal_fen", MAX_AMOUNT_FEN, Currency::Cny).is_ok());
        assert!(Money::positive("principal_fen", MAX_AMOUNT_FEN + 1, Currency::Cny).is_err());
        assert!(Money::non_negative("x", i64::MAX, Currency::Cny).is_err());
    }

    #[test]
    fn amounts_of_different_currencies_do_not_add() {
        let a = Money {
            amount_fen: 1,
            currency: Currency::Cny,
        };
        let b = Money {
            amount_fen: 1,
            currency: Currency::Usd,
        };
        assert_eq!(a.checked_add(b), None);
    }

    #[test]
    fn amounts_are_printed_in_yuan_with_separators() {
        assert_eq!(yuan(123_456_789), "1,234,567.89");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(100_000), "1,000.00");
        assert_eq!(yuan(-150), "-1.50");
    }

    #[test]
    fn fen_convert_to_yuan_exactly() {
        let m = Money {
            amount_fen: 123_456_789,
            currency: Currency::Cny,
        };
        assert_eq!(m.to_major().to_string(), "1234567.89");
        assert_eq!(m.to_string(), "1234567.89 CNY");
    }

    #[test]
    fn rates_parse_exactly_and_follow_the_360_and_12_conventions() -> Result<(), DomainError> {
        let r = AnnualRate::parse("annual_rate", "4.35")?;
        assert_eq!(r.to_string(), "4.35");
        assert_eq!(
            r.monthly_fraction() * Decimal::from(12),
            Decimal::new(435, 4)
        );
        // 4.35 % / 360 has no finite decimal: daily interest must multiply before it divides.
        assert_eq!(
            (r.daily_fraction() * Decimal::from(360)).round_dp(20),
            Decimal::new(435, 4)
        );
        Ok(())
    }

    #[test]
    fn out_of_range_or_malformed_rates_are_rejected() {
        for bad in ["-1", "100", "250.5", "abc", "", "4.1234567", "1e3"] {
            assert!(
                AnnualRate::parse("annual_rate", bad).is_err(),
                "{bad} accepted"
            );
        }
        assert!(AnnualRate::parse("annual_rate", "0").is_ok());
        assert!(AnnualRate::parse("annual_rate", "99.999999").is_ok());
    }

    #[test]
    fn unknown_currencies_are_rejected() {
        assert!("RMB".parse::<Currency>().is_err());
        assert!("cny".parse::<Currency>().is_err());
        assert_eq!("CNY".parse::<Currency>(), Ok(Currency::Cny));
    }

    proptest! {
        #[test]
        fn adding_same_currency_amounts_is_exact(a in 0..MAX_AMOUNT_FEN, b in 0..MAX_AMOUNT_FEN) {
            let x = Money { amount_fen: a, currency: Currency::Cny };
            let y = Money { amount_fen: b, currency: Currency::Cny };
            let sum = x.checked_add(y).map(|m| m.amount_fen);
            prop_assert_eq!(sum, Some(a + b));
            prop_assert_eq!(x.to_major() + y.to_major(), Decimal::new(a + b, 2));
        }

        #[test]
        fn a_rate_survives_a_display_and_parse_round_trip(
            (units, scale) in (0u32..=6).prop_flat_map(|scale| (0i64..100 * 10i64.pow(scale), Just(scale)))
        ) {
            let d = Decimal::new(units, scale);
            let r = AnnualRate::new("annual_rate", d).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = AnnualRate::parse("annual_rate", &r.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(r, back);
        }
    }
}
