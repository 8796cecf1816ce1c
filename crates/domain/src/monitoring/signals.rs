//! External signals about a borrower (外部数据, RULEBOOK §6): registry changes, courts, tax,
//! frozen accounts and borrowing elsewhere, as ingested from the bank's data provider, and the
//! rules that turn them into warnings.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Tier;
use crate::money::yuan;

crate::text_enum!(
    /// What the data provider reported.
    SignalKind {
        /// A new legal representative.
        LegalRepresentativeChange = "legal_representative_change",
        /// A change of shareholders.
        ShareholderChange = "shareholder_change",
        /// A change of directors.
        DirectorChange = "director_change",
        /// A new head of finance.
        FinanceHeadChange = "finance_head_change",
        /// A lawsuit against the borrower.
        Lawsuit = "lawsuit",
        /// Enforcement of a judgment against the borrower.
        Enforcement = "enforcement",
        /// Tax in arrears.
        TaxArrears = "tax_arrears",
        /// An account frozen by a court or authority.
        AccountFrozen = "account_frozen",
        /// Short-term debt at other institutions, as reported (amount in fen).
        OtherBorrowing = "other_borrowing",
        /// A collateral item seized, sealed up or frozen by a court or another creditor.
        CollateralSeized = "collateral_seized",
        /// A new appraisal of a collateral item (amount: its value now, in fen).
        CollateralRevalued = "collateral_revalued",
    }
);

impl SignalKind {
    /// Whether a report of this kind must carry its amount: the growth rule compares the debt
    /// reported at other institutions, the value rule a collateral item's new appraisal.
    pub fn needs_amount(self) -> bool {
        matches!(self, Self::OtherBorrowing | Self::CollateralRevalued)
    }

    /// Whether a report of this kind is about one collateral item, which it must name.
    pub fn is_about_collateral(self) -> bool {
        matches!(self, Self::CollateralSeized | Self::CollateralRevalued)
    }

    /// Whether it is a change of the people who run the borrower.
    pub fn is_key_person_change(self) -> bool {
        matches!(
            self,
            Self::LegalRepresentativeChange
                | Self::ShareholderChange
                | Self::DirectorChange
                | Self::FinanceHeadChange
        )
    }
}

/// The signal rules, in the order a health check lists them: the key-person count, each kind
/// that warns on its own, the growth of borrowing elsewhere. [`evaluate`] names its hits so.
pub const RULES: [&str; 6] = [
    "key_person_changes",
    "lawsuit",
    "enforcement",
    "tax_arrears",
    "account_frozen",
    "other_borrowing_growth",
];

/// One reported fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// The provider's id of the fact.
    pub id: String,
    /// What it is.
    pub kind: SignalKind,
    /// When it happened.
    pub on: NaiveDate,
    /// An amount, fen, when the fact has one (claim, arrears, debt, value).
    pub amount_fen: Option<i64>,
    /// The collateral item it is about, for a collateral signal.
    pub collateral_id: Option<String>,
}

/// The thresholds of the signal rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalRules {
    /// More than this many key-person changes within 12 months warn.
    pub key_person_changes: usize,
    /// Growth of short-term debt elsewhere, percent, between the last two reports that warns.
    pub other_borrowing_growth_pct: i64,
}

impl Default for SignalRules {
    fn default() -> Self {
        Self {
            key_person_changes: 1,
            other_borrowing_growth_pct: 30,
        }
    }
}

/// A signal rule broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalHit {
    /// The rule: a signal kind, or `key_person_changes`.
    pub rule: String,
    /// How serious.
    pub tier: Tier,
    /// The facts behind it.
    pub signals: Vec<String>,
    /// The day of the latest of them.
    pub on: NaiveDate,
    /// Why, for a person.
    pub detail: String,
}

/// The signal rules over a borrower's facts, as of `as_of`: facts from the last 12 months count.
pub fn evaluate(rules: &SignalRules, signals: &[Signal], as_of: NaiveDate) -> Vec<SignalHit> {
    let since = as_of.checked_sub_months(Months::new(12)).unwrap_or(as_of);
    let mut recent: Vec<&Signal> = signals
        .iter()
        .filter(|s| s.on > since && s.on <= as_of)
        .collect();
    recent.sort_by(|a, b| a.on.cmp(&b.on).then_with(|| a.id.cmp(&b.id)));
    let mut hits = Vec::new();
    let changes: Vec<&&Signal> = recent
        .iter()
        .filter(|s| s.kind.is_key_person_change())
        .collect();
    if changes.len() > rules.key_person_changes {
        hits.push(SignalHit {
            rule: "key_person_changes".into(),
            tier: Tier::Orange,
            signals: changes.iter().map(|s| s.id.clone()).collect(),
            on: changes.last().map(|s| s.on).unwrap_or(as_of),
            detail: format!("{} changes of key persons within 12 months", changes.len()),
        });
    }
    for s in &recent {
        let tier = match s.kind {
            SignalKind::Enforcement | SignalKind::AccountFrozen => Tier::Red,
            SignalKind::Lawsuit | SignalKind::TaxArrears => Tier::Orange,
            _ => continue,
        };
        hits.push(SignalHit {
            rule: s.kind.as_str().into(),
            tier,
            signals: vec![s.id.clone()],
            on: s.on,
            detail: format!("{} on {}", s.kind, s.on),
        });
    }
    let borrowing: Vec<&&Signal> = recent
        .iter()
        .filter(|s| s.kind == SignalKind::OtherBorrowing && s.amount_fen.is_some())
        .collect();
    if let [.., before, after] = borrowing.as_slice() {
        let (b, a) = (
            before.amount_fen.unwrap_or(0),
            after.amount_fen.unwrap_or(0),
        );
        // In i128: amounts and percentages as reported never overflow the comparison.
        let growth = (i128::from(a) - i128::from(b)) * 100;
        if b > 0 && growth >= i128::from(b) * i128::from(rules.other_borrowing_growth_pct) {
            hits.push(SignalHit {
                rule: "other_borrowing_growth".into(),
                tier: Tier::Yellow,
                signals: vec![before.id.clone(), after.id.clone()],
                on: after.on,
                detail: format!(
                    "short-term debt at other institutions grew from {} to {} yuan",
                    yuan(b),
                    yuan(a)
                ),
            });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    fn sig(id: &str, kind: SignalKind, on: NaiveDate, amount: Option<i64>) -> Signal {
        Signal {
            id: id.into(),
            kind,
            on,
            amount_fen: amount,
            collateral_id: None,
        }
    }

    fn rules_of(hits: &[SignalHit]) -> Vec<&str> {
        hits.iter().map(|h| h.rule.as_str()).collect()
    }

    #[test]
    fn more_than_one_key_person_change_within_a_year_warns() {
        let one = [sig(
            "a",
            SignalKind::LegalRepresentativeChange,
            day(3, 1),
            None,
        )];
        assert!(evaluate(&SignalRules::default(), &one, day(10, 1)).is_empty());
        let two = [
            one[0].clone(),
            sig("b", SignalKind::FinanceHeadChange, day(9, 1), None),
        ];
        let hits = evaluate(&SignalRules::default(), &two, day(10, 1));
        assert_eq!(rules_of(&hits), ["key_person_changes"]);
        assert_eq!(hits[0].signals, ["a", "b"]);
        // A year later the first change no longer counts.
        assert!(
            evaluate(
                &SignalRules::default(),
                &two,
                NaiveDate::from_ymd_opt(2027, 3, 2).unwrap_or_default()
            )
            .is_empty()
        );
    }

    #[test]
    fn courts_tax_and_freezes_warn_by_severity() {
        let facts = [
            sig("l", SignalKind::Lawsuit, day(5, 1), Some(1_000)),
            sig("e", SignalKind::Enforcement, day(6, 1), Some(1_000)),
            sig("t", SignalKind::TaxArrears, day(7, 1), Some(500)),
            sig("f", SignalKind::AccountFrozen, day(8, 1), None),
        ];
        let hits = evaluate(&SignalRules::default(), &facts, day(9, 1));
        let got: Vec<(&str, Tier)> = hits.iter().map(|h| (h.rule.as_str(), h.tier)).collect();
        assert_eq!(
            got,
            [
                ("lawsuit", Tier::Orange),
                ("enforcement", Tier::Red),
                ("tax_arrears", Tier::Orange),
                ("account_frozen", Tier::Red),
            ]
        );
        // Facts after the evaluation day are not seen yet.
        assert!(evaluate(&SignalRules::default(), &facts, day(4, 30)).is_empty());
    }

    #[test]
    fn short_term_debt_elsewhere_growing_warns() {
        let grow = |after| {
            [
                sig("q1", SignalKind::OtherBorrowing, day(3, 31), Some(10_000)),
                sig("q2", SignalKind::OtherBorrowing, day(6, 30), Some(after)),
            ]
        };
        assert_eq!(
            rules_of(&evaluate(&SignalRules::default(), &grow(13_000), day(7, 1))),
            ["other_borrowing_growth"]
        );
        assert!(evaluate(&SignalRules::default(), &grow(12_999), day(7, 1)).is_empty());
        // The largest amounts and growth threshold compare without overflow.
        let steep = SignalRules {
            other_borrowing_growth_pct: 1000,
            ..SignalRules::default()
        };
        let big = [
            sig(
                "b1",
                SignalKind::OtherBorrowing,
                day(3, 31),
                Some(i64::MAX / 2),
            ),
            sig("b2", SignalKind::OtherBorrowing, day(6, 30), Some(i64::MAX)),
        ];
        assert!(evaluate(&steep, &big, day(7, 1)).is_empty());
    }

    #[test]
    fn every_hit_is_named_as_the_health_check_lists_it() {
        let facts = [
            sig("k1", SignalKind::LegalRepresentativeChange, day(2, 1), None),
            sig("k2", SignalKind::FinanceHeadChange, day(3, 1), None),
            sig("c1", SignalKind::Lawsuit, day(3, 2), None),
            sig("c2", SignalKind::Enforcement, day(3, 3), None),
            sig("c3", SignalKind::TaxArrears, day(3, 4), None),
            sig("c4", SignalKind::AccountFrozen, day(3, 5), None),
            sig("d1", SignalKind::OtherBorrowing, day(3, 6), Some(100)),
            sig("d2", SignalKind::OtherBorrowing, day(6, 6), Some(200)),
        ];
        let hits = evaluate(&SignalRules::default(), &facts, day(7, 1));
        let mut named = rules_of(&hits);
        named.sort_unstable();
        let mut listed = RULES.to_vec();
        listed.sort_unstable();
        assert_eq!(named, listed);
    }
}
