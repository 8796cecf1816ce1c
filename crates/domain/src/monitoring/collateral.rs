//! Collateral status (押品状态, RULEBOOK §6 external signals, §3 collateral): the pledged assets
//! that secure a borrower's active loans, as the ledger records them and as the data provider
//! reports on them — seized by a court or another creditor, revalued well below their appraisal,
//! their insurance lapsed. Collateral securing no active loan protects nothing of this bank's
//! and is not judged.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{
    Invalid, Tier,
    signals::{Signal, SignalKind},
};
use crate::money::yuan;

/// Seized, sealed up or frozen by a court or another creditor (查封、扣押、冻结).
pub const SEIZED: &str = "collateral_seized";
/// Revalued at least the configured share below the value appraised when it was taken.
pub const VALUE_DROP: &str = "collateral_value_drop";
/// Its insurance expired and was not renewed.
pub const INSURANCE_LAPSED: &str = "collateral_insurance_lapsed";

/// The collateral rules, in the order a health check lists them.
pub const RULES: [&str; 3] = [SEIZED, VALUE_DROP, INSURANCE_LAPSED];

/// The thresholds of the collateral rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollateralRules {
    /// A revaluation this many percent or more below the appraised value warns.
    pub value_drop_pct: i64,
}

impl Default for CollateralRules {
    fn default() -> Self {
        Self { value_drop_pct: 20 }
    }
}

impl CollateralRules {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(1..=100).contains(&self.value_drop_pct) {
            return Err(Invalid::at("/value_drop_pct", "must be 1–100"));
        }
        Ok(())
    }
}

/// A collateral item securing one or more of the borrower's active loans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pledged {
    /// The ledger's id.
    pub id: String,
    /// What it is, for a person.
    pub description: String,
    /// Appraised value when taken, fen.
    pub appraised_value_fen: i64,
    /// When its insurance runs out, if it is insured.
    pub insurance_expiry: Option<NaiveDate>,
}

/// A collateral rule broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollateralHit {
    /// One of [`RULES`].
    pub rule: &'static str,
    /// How serious.
    pub tier: Tier,
    /// The facts behind it: `signal:{id}` or `collateral:{id}`.
    pub facts: Vec<String>,
    /// The day it happened.
    pub on: NaiveDate,
    /// Why, for a person.
    pub detail: String,
}

/// The collateral rules over the items securing a borrower's active loans and the signals
/// reported on the borrower, as of `as_of`: seizures and revaluations from the last 12 months
/// count, the latest revaluation of an item standing for its value.
pub fn evaluate(
    rules: &CollateralRules,
    pledged: &[Pledged],
    signals: &[Signal],
    as_of: NaiveDate,
) -> Vec<CollateralHit> {
    let since = as_of.checked_sub_months(Months::new(12)).unwrap_or(as_of);
    let mut recent: Vec<&Signal> = signals
        .iter()
        .filter(|s| s.on > since && s.on <= as_of && s.collateral_id.is_some())
        .collect();
    recent.sort_by(|a, b| a.on.cmp(&b.on).then_with(|| a.id.cmp(&b.id)));
    let mut items: Vec<&Pledged> = pledged.iter().collect();
    items.sort_by(|a, b| a.id.cmp(&b.id));
    items.dedup_by(|a, b| a.id == b.id);
    let mut hits = Vec::new();
    for item in items {
        let about: Vec<&&Signal> = recent
            .iter()
            .filter(|s| s.collateral_id.as_deref() == Some(item.id.as_str()))
            .collect();
        for s in about
            .iter()
            .filter(|s| s.kind == SignalKind::CollateralSeized)
        {
            hits.push(CollateralHit {
                rule: SEIZED,
                tier: Tier::Red,
                facts: vec![format!("signal:{}", s.id)],
                on: s.on,
                detail: format!(
                    "collateral {} ({}) seized on {}",
                    item.id, item.description, s.on
                ),
            });
        }
        let latest = about
            .iter()
            .rfind(|s| s.kind == SignalKind::CollateralRevalued);
        if let Some(s) = latest
            && let Some(value) = s.amount_fen
        {
            let appraised = item.appraised_value_fen;
            // In i128: values as recorded never overflow the comparison.
            let drop = (i128::from(appraised) - i128::from(value)) * 100;
            if appraised > 0 && drop >= i128::from(appraised) * i128::from(rules.value_drop_pct) {
                hits.push(CollateralHit {
                    rule: VALUE_DROP,
                    tier: Tier::Orange,
                    facts: vec![format!("signal:{}", s.id)],
                    on: s.on,
                    detail: format!(
                        "collateral {} ({}) revalued at {} yuan on {}, appraised at {} yuan",
                        item.id,
                        item.description,
                        yuan(value),
                        s.on,
                        yuan(appraised)
                    ),
                });
            }
        }
        if let Some(expiry) = item.insurance_expiry
            && expiry < as_of
        {
            hits.push(CollateralHit {
                rule: INSURANCE_LAPSED,
                tier: Tier::Yellow,
                facts: vec![format!("collateral:{}", item.id)],
                on: expiry,
                detail: format!(
                    "the insurance of collateral {} ({}) expired on {expiry}",
                    item.id, item.description
                ),
            });
        }
    }
    hits
}

/// What a collateral rule not broken says, for a health check.
pub fn passed(rule: &str, rules: &CollateralRules, items: usize, as_of: NaiveDate) -> String {
    match rule {
        SEIZED => format!("no seizure of the {items} item(s) reported in the 12 months to {as_of}"),
        VALUE_DROP => format!(
            "no revaluation of the {items} item(s) {} % or more below appraisal in the 12 months \
             to {as_of}",
            rules.value_drop_pct
        ),
        _ => format!("no insurance of the {items} item(s) lapsed on {as_of}"),
    }
}

#[cfg(test)]
// Amounts in fen read as yuan and fen: 1_000_000_00 is 1,000,000.00 yuan.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    fn item(id: &str, appraised: i64, insured_to: Option<NaiveDate>) -> Pledged {
        Pledged {
            id: id.into(),
            description: "厂房".into(),
            appraised_value_fen: appraised,
            insurance_expiry: insured_to,
        }
    }

    fn sig(id: &str, kind: SignalKind, c: &str, on: NaiveDate, amount: Option<i64>) -> Signal {
        Signal {
            id: id.into(),
            kind,
            on,
            amount_fen: amount,
            collateral_id: Some(c.into()),
        }
    }

    fn found(hits: &[CollateralHit]) -> Vec<(&str, Tier, Vec<String>, NaiveDate)> {
        hits.iter()
            .map(|h| (h.rule, h.tier, h.facts.clone(), h.on))
            .collect()
    }

    #[test]
    fn a_seizure_of_pledged_collateral_is_red_and_of_other_collateral_nothing() {
        let rules = CollateralRules::default();
        let pledged = [item("C1", 1_000_000_00, None)];
        let signals = [
            sig("S1", SignalKind::CollateralSeized, "C1", day(10, 5), None),
            sig("S2", SignalKind::CollateralSeized, "C9", day(10, 6), None),
        ];
        assert_eq!(
            found(&evaluate(&rules, &pledged, &signals, day(11, 1))),
            [(SEIZED, Tier::Red, vec!["signal:S1".to_owned()], day(10, 5))]
        );
        // Not before it happened, nor once it is over a year old.
        assert!(evaluate(&rules, &pledged, &signals, day(10, 4)).is_empty());
        let later = NaiveDate::from_ymd_opt(2027, 10, 5).unwrap_or_default();
        assert!(evaluate(&rules, &pledged, &signals, later).is_empty());
    }

    #[test]
    fn the_latest_revaluation_warns_at_the_threshold_and_not_just_above_it() {
        let rules = CollateralRules::default();
        let pledged = [item("C1", 1_000_000_00, None)];
        let reval =
            |id: &str, on, value| sig(id, SignalKind::CollateralRevalued, "C1", on, Some(value));
        // 20 % below: warns.
        let at = [reval("R1", day(9, 1), 800_000_00)];
        let hits = evaluate(&rules, &pledged, &at, day(11, 1));
        assert_eq!(
            found(&hits),
            [(
                VALUE_DROP,
                Tier::Orange,
                vec!["signal:R1".to_owned()],
                day(9, 1)
            )]
        );
        assert!(hits[0].detail.contains("800,000.00"), "{}", hits[0].detail);
        // One fen less of a fall: nothing.
        let above = [reval("R1", day(9, 1), 800_000_01)];
        assert!(evaluate(&rules, &pledged, &above, day(11, 1)).is_empty());
        // A later revaluation that recovered stands for the value.
        let recovered = [
            reval("R1", day(9, 1), 500_000_00),
            reval("R2", day(10, 1), 950_000_00),
        ];
        assert!(evaluate(&rules, &pledged, &recovered, day(11, 1)).is_empty());
        // A stricter rule set warns at 5 %.
        let strict = CollateralRules { value_drop_pct: 5 };
        assert_eq!(evaluate(&strict, &pledged, &recovered, day(11, 1)).len(), 1);
    }

    #[test]
    fn lapsed_insurance_warns_from_the_day_after_expiry() {
        let rules = CollateralRules::default();
        let pledged = [
            item("C1", 1_000_000_00, Some(day(10, 31))),
            item("C2", 1_000_000_00, None),
        ];
        assert!(evaluate(&rules, &pledged, &[], day(10, 31)).is_empty());
        assert_eq!(
            found(&evaluate(&rules, &pledged, &[], day(11, 1))),
            [(
                INSURANCE_LAPSED,
                Tier::Yellow,
                vec!["collateral:C1".to_owned()],
                day(10, 31)
            )]
        );
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(CollateralRules::default().validate().is_ok());
        for bad in [0, 101] {
            let r = CollateralRules {
                value_drop_pct: bad,
            };
            assert_eq!(
                r.validate().map_err(|e| e.pointer),
                Err("/value_drop_pct".to_owned())
            );
        }
    }
}
