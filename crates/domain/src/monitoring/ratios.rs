//! Financial ratios from a borrower's statements, and the rules over them (RULEBOOK §6): a ratio
//! past its threshold, or worsening period after period, warns early.
//!
//! Amounts are integer fen; ratios are exact decimals rounded to four places. A ratio whose
//! denominator is zero or missing is absent, never infinite.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::{Invalid, Tier};
use crate::money::MAX_AMOUNT_FEN;

/// The figures of one period's balance sheet, income statement and cash-flow statement that the
/// ratios use, fen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Period, e.g. `2026Q2` or `2025`; periods sort in time order as text.
    pub period: String,
    /// Current assets.
    pub current_assets: i64,
    /// Inventory (part of current assets).
    pub inventory: i64,
    /// Total assets.
    pub total_assets: i64,
    /// Current liabilities.
    pub current_liabilities: i64,
    /// Total liabilities.
    pub total_liabilities: i64,
    /// Revenue of the period.
    pub revenue: i64,
    /// Net profit of the period.
    pub net_profit: i64,
    /// Profit before tax.
    pub profit_before_tax: i64,
    /// Interest expense.
    pub interest_expense: i64,
    /// Net cash flow from operating activities.
    pub operating_cash_flow: i64,
}

/// How often a borrower reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    /// `2026`.
    Year,
    /// `2026Q2`.
    Quarter,
    /// `2026-06`.
    Month,
}

/// A statement period and the day it starts: `2026`, `2026Q2` or `2026-06`, from 2000 to 2100.
/// Periods of one kind sort in time order as text.
pub fn parse_period(p: &str) -> Option<(PeriodKind, NaiveDate)> {
    let number = |digits: &str| {
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse::<u32>().ok())
            .flatten()
    };
    let year = number(p.get(..4)?)?;
    if !(2000..=2100).contains(&year) {
        return None;
    }
    let (kind, month) = match p.get(4..)? {
        "" => (PeriodKind::Year, 1),
        q if q.len() == 2 && q.starts_with('Q') => {
            let n = number(&q[1..])?;
            (
                PeriodKind::Quarter,
                (1..=4).contains(&n).then(|| 3 * n - 2)?,
            )
        }
        m if m.len() == 3 && m.starts_with('-') => {
            let n = number(&m[1..])?;
            (PeriodKind::Month, (1..=12).contains(&n).then_some(n)?)
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, 1).map(|d| (kind, d))
}

/// Figures at most this large in absolute value, fen (ten times [`MAX_AMOUNT_FEN`]: a balance
/// sheet outgrows any single loan); sums and differences of them stay far inside `i64`.
pub const MAX_FIGURE: i64 = 10 * MAX_AMOUNT_FEN;

impl Statement {
    /// What is wrong with the figures: every fault, pointed at by field. Assets, liabilities,
    /// inventory, revenue and interest are not negative; profits and cash flow may be; the
    /// parts are not larger than their wholes.
    pub fn check(&self) -> Vec<Invalid> {
        let figures = [
            ("current_assets", self.current_assets, false),
            ("inventory", self.inventory, false),
            ("total_assets", self.total_assets, false),
            ("current_liabilities", self.current_liabilities, false),
            ("total_liabilities", self.total_liabilities, false),
            ("revenue", self.revenue, false),
            ("net_profit", self.net_profit, true),
            ("profit_before_tax", self.profit_before_tax, true),
            ("interest_expense", self.interest_expense, false),
            ("operating_cash_flow", self.operating_cash_flow, true),
        ];
        let mut errors = Vec::new();
        for (field, value, signed) in figures {
            if value.abs() > MAX_FIGURE {
                errors.push(Invalid::at(
                    format!("/{field}"),
                    "is out of range (at most 10^16 fen either way)",
                ));
            } else if !signed && value < 0 {
                errors.push(Invalid::at(format!("/{field}"), "is not negative"));
            }
        }
        if !errors.is_empty() {
            return errors;
        }
        let parts = [
            (
                "inventory",
                self.inventory,
                self.current_assets,
                "current_assets",
            ),
            (
                "current_assets",
                self.current_assets,
                self.total_assets,
                "total_assets",
            ),
            (
                "current_liabilities",
                self.current_liabilities,
                self.total_liabilities,
                "total_liabilities",
            ),
        ];
        parts
            .into_iter()
            .filter(|(_, part, whole, _)| part > whole)
            .map(|(field, _, _, whole)| {
                Invalid::at(format!("/{field}"), format!("exceeds {whole}"))
            })
            .collect()
    }
}

crate::text_enum!(
    /// A financial ratio.
    Ratio {
        /// Current assets / current liabilities.
        Current = "current_ratio",
        /// (Current assets − inventory) / current liabilities.
        Quick = "quick_ratio",
        /// Total liabilities / total assets.
        DebtToAsset = "debt_to_asset",
        /// Revenue change against the previous period.
        RevenueGrowth = "revenue_growth",
        /// Net profit / revenue.
        NetMargin = "net_margin",
        /// (Profit before tax + interest) / interest.
        InterestCoverage = "interest_coverage",
        /// Operating cash flow / total liabilities.
        CashFlowToDebt = "cash_flow_to_debt",
    }
);

impl Ratio {
    /// Whether a higher value is better (all but debt-to-asset).
    pub fn higher_is_better(self) -> bool {
        self != Self::DebtToAsset
    }
}

fn ratio(num: i64, den: i64) -> Option<Decimal> {
    (den != 0).then(|| {
        (Decimal::from(num) / Decimal::from(den))
            .round_dp_with_strategy(4, RoundingStrategy::MidpointNearestEven)
    })
}

/// One ratio of a period; `previous` is the period before (for growth).
pub fn compute(r: Ratio, s: &Statement, previous: Option<&Statement>) -> Option<Decimal> {
    match r {
        Ratio::Current => ratio(s.current_assets, s.current_liabilities),
        Ratio::Quick => ratio(s.current_assets - s.inventory, s.current_liabilities),
        Ratio::DebtToAsset => ratio(s.total_liabilities, s.total_assets),
        Ratio::RevenueGrowth => {
            previous.and_then(|p| ratio(s.revenue - p.revenue, p.revenue.abs()))
        }
        Ratio::NetMargin => ratio(s.net_profit, s.revenue),
        Ratio::InterestCoverage => {
            ratio(s.profit_before_tax + s.interest_expense, s.interest_expense)
        }
        Ratio::CashFlowToDebt => ratio(s.operating_cash_flow, s.total_liabilities),
    }
}

/// A threshold on one ratio, and how many consecutive worsening periods warn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioRule {
    /// The ratio.
    pub ratio: Ratio,
    /// Past this value (below it, or above it for debt-to-asset) the ratio warns.
    pub threshold: Decimal,
    /// Tier of a ratio past its threshold.
    pub tier: Tier,
    /// This many consecutive worsenings warn (one tier lower) even inside the threshold; 0: never.
    pub worsening_periods: usize,
}

/// The rulebook's defaults.
pub fn default_rules() -> Vec<RatioRule> {
    // Thresholds as (mantissa, scale): 75 and 2 is 0.75.
    let rule = |ratio, (num, scale), tier| RatioRule {
        ratio,
        threshold: Decimal::new(num, scale),
        tier,
        worsening_periods: 3,
    };
    vec![
        rule(Ratio::Current, (10, 1), Tier::Yellow),
        rule(Ratio::Quick, (6, 1), Tier::Yellow),
        rule(Ratio::DebtToAsset, (75, 2), Tier::Orange),
        rule(Ratio::RevenueGrowth, (-2, 1), Tier::Orange),
        rule(Ratio::NetMargin, (0, 0), Tier::Yellow),
        rule(Ratio::InterestCoverage, (15, 1), Tier::Orange),
        rule(Ratio::CashFlowToDebt, (0, 0), Tier::Yellow),
    ]
}

/// A ratio rule broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatioHit {
    /// The ratio.
    pub ratio: Ratio,
    /// How serious.
    pub tier: Tier,
    /// The period it refers to (the latest).
    pub period: String,
    /// The latest value.
    pub value: Decimal,
    /// Why, for a person.
    pub detail: String,
}

fn lower_tier(t: Tier) -> Tier {
    match t {
        Tier::Red => Tier::Orange,
        Tier::Orange => Tier::Yellow,
        Tier::Yellow | Tier::Blue => Tier::Blue,
    }
}

/// The ratio rules over a borrower's statements (any order; evaluated at the latest period).
pub fn evaluate(rules: &[RatioRule], statements: &[Statement]) -> Vec<RatioHit> {
    let mut sorted: Vec<&Statement> = statements.iter().collect();
    sorted.sort_by(|a, b| a.period.cmp(&b.period));
    let Some(latest) = sorted.last() else {
        return Vec::new();
    };
    let mut hits = Vec::new();
    for rule in rules {
        let series: Vec<Option<Decimal>> = sorted
            .iter()
            .enumerate()
            .map(|(i, s)| compute(rule.ratio, s, i.checked_sub(1).map(|p| sorted[p])))
            .collect();
        let Some(Some(value)) = series.last().copied() else {
            continue;
        };
        let better = rule.ratio.higher_is_better();
        let past = if better {
            value < rule.threshold
        } else {
            value > rule.threshold
        };
        if past {
            hits.push(RatioHit {
                ratio: rule.ratio,
                tier: rule.tier,
                period: latest.period.clone(),
                value,
                detail: format!(
                    "{} is {value} in {}, past the threshold {}",
                    rule.ratio, latest.period, rule.threshold
                ),
            });
            continue;
        }
        let n = rule.worsening_periods;
        if n == 0 || series.len() < n + 1 {
            continue;
        }
        let tail: Option<Vec<Decimal>> = series[series.len() - n - 1..].iter().copied().collect();
        let worsening = tail.is_some_and(|t| {
            t.windows(2)
                .all(|w| if better { w[1] < w[0] } else { w[1] > w[0] })
        });
        if worsening {
            hits.push(RatioHit {
                ratio: rule.ratio,
                tier: lower_tier(rule.tier),
                period: latest.period.clone(),
                value,
                detail: format!(
                    "{} worsened {n} periods running, to {value} in {}",
                    rule.ratio, latest.period
                ),
            });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(period: &str) -> Statement {
        Statement {
            period: period.into(),
            current_assets: 2_000,
            inventory: 500,
            total_assets: 10_000,
            current_liabilities: 1_000,
            total_liabilities: 5_000,
            revenue: 8_000,
            net_profit: 800,
            profit_before_tax: 1_000,
            interest_expense: 200,
            operating_cash_flow: 1_200,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn ratios_are_exact_and_absent_without_a_denominator() {
        let s = healthy("2026Q1");
        let prev = Statement {
            revenue: 10_000,
            ..healthy("2025Q4")
        };
        assert_eq!(compute(Ratio::Current, &s, None), Some(d("2")));
        assert_eq!(compute(Ratio::Quick, &s, None), Some(d("1.5")));
        assert_eq!(compute(Ratio::DebtToAsset, &s, None), Some(d("0.5")));
        assert_eq!(
            compute(Ratio::RevenueGrowth, &s, Some(&prev)),
            Some(d("-0.2"))
        );
        assert_eq!(compute(Ratio::RevenueGrowth, &s, None), None);
        assert_eq!(compute(Ratio::NetMargin, &s, None), Some(d("0.1")));
        assert_eq!(compute(Ratio::InterestCoverage, &s, None), Some(d("6")));
        assert_eq!(compute(Ratio::CashFlowToDebt, &s, None), Some(d("0.24")));
        let none = Statement {
            interest_expense: 0,
            ..healthy("x")
        };
        assert_eq!(compute(Ratio::InterestCoverage, &none, None), None);
        let thirds = Statement {
            current_assets: 1_000,
            current_liabilities: 3_000,
            ..healthy("x")
        };
        assert_eq!(compute(Ratio::Current, &thirds, None), Some(d("0.3333")));
    }

    #[test]
    fn a_healthy_borrower_raises_nothing() {
        let s = [healthy("2025Q4"), healthy("2026Q1")];
        assert!(evaluate(&default_rules(), &s).is_empty());
    }

    #[test]
    fn a_ratio_past_its_threshold_warns_at_its_tier() {
        let strained = Statement {
            current_liabilities: 2_500,
            total_liabilities: 8_000,
            ..healthy("2026Q1")
        };
        let hits = evaluate(&default_rules(), &[healthy("2025Q4"), strained]);
        let got: Vec<(Ratio, Tier)> = hits.iter().map(|h| (h.ratio, h.tier)).collect();
        assert_eq!(
            got,
            [
                (Ratio::Current, Tier::Yellow),
                (Ratio::DebtToAsset, Tier::Orange),
            ]
        );
        assert!(hits[0].detail.contains("2026Q1"), "{}", hits[0].detail);
    }

    #[test]
    fn worsening_period_after_period_warns_one_tier_lower_inside_the_threshold() {
        let with_debt = |period: &str, debt| Statement {
            total_liabilities: debt,
            ..healthy(period)
        };
        let rising = [
            with_debt("2025Q2", 5_000),
            with_debt("2025Q3", 5_500),
            with_debt("2025Q4", 6_000),
            with_debt("2026Q1", 7_000),
        ];
        let hits = evaluate(&default_rules(), &rising);
        assert!(
            hits.iter()
                .any(|h| h.ratio == Ratio::DebtToAsset && h.tier == Tier::Yellow),
            "{hits:?}"
        );
        // Two worsenings are not three; a pause breaks the run.
        assert!(
            evaluate(&default_rules(), &rising[1..])
                .iter()
                .all(|h| h.ratio != Ratio::DebtToAsset)
        );
        let paused = [
            with_debt("2025Q2", 5_000),
            with_debt("2025Q3", 5_500),
            with_debt("2025Q4", 5_500),
            with_debt("2026Q1", 7_000),
        ];
        assert!(
            evaluate(&default_rules(), &paused)
                .iter()
                .all(|h| h.ratio != Ratio::DebtToAsset)
        );
    }

    #[test]
    fn rules_are_a_definition_with_known_fields_only() {
        let rules: Result<Vec<RatioRule>, _> = serde_json::from_str(
            r#"[{"ratio": "quick_ratio", "threshold": "0.8", "tier": "orange", "worsening_periods": 2}]"#,
        );
        assert!(rules.is_ok());
        let unknown: Result<Vec<RatioRule>, _> = serde_json::from_str(
            r#"[{"ratio": "acid_test", "threshold": "0.8", "tier": "orange", "worsening_periods": 2}]"#,
        );
        assert!(unknown.is_err());
    }

    #[test]
    fn periods_are_years_quarters_or_months() {
        let d = |y, m| NaiveDate::from_ymd_opt(y, m, 1);
        assert_eq!(
            parse_period("2026"),
            d(2026, 1).map(|d| (PeriodKind::Year, d))
        );
        assert_eq!(
            parse_period("2026Q3"),
            d(2026, 7).map(|d| (PeriodKind::Quarter, d))
        );
        assert_eq!(
            parse_period("2026-11"),
            d(2026, 11).map(|d| (PeriodKind::Month, d))
        );
        for bad in [
            "26",
            "2026Q5",
            "2026-13",
            "2026H1",
            "1999",
            "２０２６",
            "2026-1",
            "",
            "2026-+1",
            "2026Q+",
            "+2026",
        ] {
            assert_eq!(parse_period(bad), None, "{bad}");
        }
    }

    #[test]
    fn figures_out_of_range_or_inconsistent_are_pointed_at() {
        let ok = Statement {
            period: "2026Q1".into(),
            current_assets: 100,
            inventory: 10,
            total_assets: 1_000,
            current_liabilities: 50,
            total_liabilities: 400,
            revenue: 900,
            net_profit: -5,
            profit_before_tax: -5,
            interest_expense: 3,
            operating_cash_flow: -20,
        };
        assert!(ok.check().is_empty());
        let bad = Statement {
            revenue: -1,
            total_assets: MAX_FIGURE + 1,
            ..ok.clone()
        };
        let pointers: Vec<String> = bad.check().into_iter().map(|e| e.pointer).collect();
        assert_eq!(pointers, ["/total_assets", "/revenue"]);
        let inconsistent = Statement {
            inventory: 200,
            ..ok
        };
        let pointers: Vec<String> = inconsistent
            .check()
            .into_iter()
            .map(|e| e.pointer)
            .collect();
        assert_eq!(pointers, ["/inventory"]);
    }
}
