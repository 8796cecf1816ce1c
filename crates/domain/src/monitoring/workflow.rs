//! Workflow signals (RULEBOOK §6): the institution's own work falling behind or the loan's
//! calendar closing in — an inspection not done by its due date, a maturity near, a loan past
//! due — and the class moving from special mention to substandard, which recommends early
//! recovery and asset preservation (提前收回、资产保全).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Invalid, Tier};
use crate::{ledger::LoanClass, money::yuan, position::Bucket};

/// The thresholds of the workflow rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowRules {
    /// A loan maturing within this many calendar days is near maturity.
    pub maturity_within_days: i64,
    /// An inspection this many days past its due date is overdue.
    pub inspection_grace_days: i64,
    /// An overdue inspection this many days late is orange rather than yellow.
    pub inspection_orange_days: i64,
    /// A fall from special mention to substandard or worse recommends early recovery for this
    /// many days after the change.
    pub early_recovery_days: i64,
}

impl Default for WorkflowRules {
    fn default() -> Self {
        Self {
            maturity_within_days: 30,
            inspection_grace_days: 0,
            inspection_orange_days: 15,
            early_recovery_days: 30,
        }
    }
}

impl WorkflowRules {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(1..=366).contains(&self.maturity_within_days) {
            return Err(Invalid::at("/maturity_within_days", "must be 1–366"));
        }
        if !(0..=90).contains(&self.inspection_grace_days) {
            return Err(Invalid::at("/inspection_grace_days", "must be 0–90"));
        }
        if self.inspection_orange_days <= self.inspection_grace_days
            || self.inspection_orange_days > 366
        {
            return Err(Invalid::at(
                "/inspection_orange_days",
                "must be over inspection_grace_days and at most 366",
            ));
        }
        if !(1..=366).contains(&self.early_recovery_days) {
            return Err(Invalid::at("/early_recovery_days", "must be 1–366"));
        }
        Ok(())
    }
}

/// The names of the workflow rules, in the order a health check lists them.
pub const RULES: [&str; 4] = [
    OVERDUE_LOAN,
    MATURITY_NEAR,
    INSPECTION_OVERDUE,
    EARLY_RECOVERY,
];

/// A loan past due.
pub const OVERDUE_LOAN: &str = "overdue_loan";
/// A loan maturing soon.
pub const MATURITY_NEAR: &str = "maturity_near";
/// An inspection task not done by its due date.
pub const INSPECTION_OVERDUE: &str = "inspection_overdue";
/// Classified substandard or worse after special mention: recover early.
pub const EARLY_RECOVERY: &str = "early_recovery";

/// What the workflow rules need to know of one active loan on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanFacts {
    /// The loan.
    pub loan_id: String,
    /// Its contract number, for people.
    pub contract_no: String,
    /// Current five-level class.
    pub class: LoanClass,
    /// The last change of class: the class before it and the day of the change.
    pub class_change: Option<(LoanClass, NaiveDate)>,
    /// Current maturity date.
    pub maturity_date: NaiveDate,
    /// Days past due on the day.
    pub days_past_due: i64,
    /// Principal not yet repaid.
    pub outstanding_fen: i64,
    /// Due date of the oldest open inspection task, if any.
    pub oldest_open_task_due: Option<NaiveDate>,
}

/// A workflow rule broken on a loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowHit {
    /// The rule, one of [`RULES`].
    pub rule: &'static str,
    /// How serious.
    pub tier: Tier,
    /// The loan.
    pub loan_id: String,
    /// The day the fact refers to (a warning is kept once per borrower, rule and month of it):
    /// the check day for arrears, the maturity, the task's due date, the class change.
    pub on: NaiveDate,
    /// Why, for a person.
    pub detail: String,
}

/// The tier of a loan `dpd` days past due: M1 yellow, M2 orange, M3 and beyond red.
pub fn overdue_tier(dpd: i64) -> Option<Tier> {
    match Bucket::of(dpd) {
        Bucket::Current => None,
        Bucket::M1 => Some(Tier::Yellow),
        Bucket::M2 => Some(Tier::Orange),
        Bucket::M3 | Bucket::M4 | Bucket::M4Plus => Some(Tier::Red),
    }
}

/// Whether a class change recommends early recovery: special mention falling to substandard or
/// worse.
pub fn recommends_early_recovery(from: LoanClass, to: LoanClass) -> bool {
    from == LoanClass::SpecialMention && to.is_non_performing()
}

/// The workflow rules over one loan on `as_of`.
pub fn evaluate(rules: &WorkflowRules, loan: &LoanFacts, as_of: NaiveDate) -> Vec<WorkflowHit> {
    let mut hits = Vec::new();
    let mut hit = |rule, tier, on, detail| {
        hits.push(WorkflowHit {
            rule,
            tier,
            loan_id: loan.loan_id.clone(),
            on,
            detail,
        })
    };
    if let Some(tier) = overdue_tier(loan.days_past_due) {
        hit(
            OVERDUE_LOAN,
            tier,
            as_of,
            format!(
                "loan {} is {} days past due ({})",
                loan.contract_no,
                loan.days_past_due,
                Bucket::of(loan.days_past_due)
            ),
        );
    }
    let to_maturity = (loan.maturity_date - as_of).num_days();
    if loan.outstanding_fen > 0 && (0..=rules.maturity_within_days).contains(&to_maturity) {
        hit(
            MATURITY_NEAR,
            Tier::Blue,
            loan.maturity_date,
            format!(
                "loan {} matures on {} ({to_maturity} days), {} yuan outstanding",
                loan.contract_no,
                loan.maturity_date,
                yuan(loan.outstanding_fen)
            ),
        );
    }
    if let Some(due) = loan.oldest_open_task_due {
        let late = (as_of - due).num_days();
        if late > rules.inspection_grace_days {
            let tier = if late >= rules.inspection_orange_days {
                Tier::Orange
            } else {
                Tier::Yellow
            };
            hit(
                INSPECTION_OVERDUE,
                tier,
                due,
                format!(
                    "a task on loan {} was due on {due} and is {late} days late",
                    loan.contract_no
                ),
            );
        }
    }
    if let Some((from, on)) = loan.class_change
        && recommends_early_recovery(from, loan.class)
        && (0..rules.early_recovery_days).contains(&(as_of - on).num_days())
    {
        hit(
            EARLY_RECOVERY,
            Tier::Red,
            on,
            format!(
                "loan {} fell from {from} to {} on {on}: recover early and preserve the assets",
                loan.contract_no, loan.class
            ),
        );
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    fn healthy() -> LoanFacts {
        LoanFacts {
            loan_id: "L1".into(),
            contract_no: "C-1".into(),
            class: LoanClass::Normal,
            class_change: None,
            maturity_date: day(12, 31),
            days_past_due: 0,
            outstanding_fen: 100_000,
            oldest_open_task_due: Some(day(6, 30)),
        }
    }

    fn rules_of(hits: &[WorkflowHit]) -> Vec<(&str, Tier)> {
        hits.iter().map(|h| (h.rule, h.tier)).collect()
    }

    #[test]
    fn a_loan_on_track_raises_nothing() {
        let rules = WorkflowRules::default();
        assert_eq!(rules.validate(), Ok(()));
        assert!(evaluate(&rules, &healthy(), day(6, 30)).is_empty());
    }

    #[test]
    fn each_rule_raises_on_its_own_fact() {
        let rules = WorkflowRules::default();
        let on = day(7, 20);
        let late = LoanFacts {
            days_past_due: 45,
            maturity_date: day(8, 10),
            ..healthy()
        };
        assert_eq!(
            rules_of(&evaluate(&rules, &late, on)),
            vec![
                (OVERDUE_LOAN, Tier::Orange),
                (MATURITY_NEAR, Tier::Blue),
                (INSPECTION_OVERDUE, Tier::Orange)
            ]
        );
        // Ten days late is yellow; a settled loan near maturity is not a concern.
        let settled = LoanFacts {
            outstanding_fen: 0,
            maturity_date: day(7, 15),
            ..healthy()
        };
        assert_eq!(
            rules_of(&evaluate(&rules, &settled, day(7, 10))),
            vec![(INSPECTION_OVERDUE, Tier::Yellow)]
        );
        assert_eq!(overdue_tier(30), Some(Tier::Yellow));
        assert_eq!(overdue_tier(61), Some(Tier::Red));
    }

    #[test]
    fn special_mention_to_substandard_recommends_early_recovery() {
        let rules = WorkflowRules::default();
        let fell = LoanFacts {
            class: LoanClass::Substandard,
            class_change: Some((LoanClass::SpecialMention, day(6, 1))),
            oldest_open_task_due: None,
            ..healthy()
        };
        assert_eq!(
            rules_of(&evaluate(&rules, &fell, day(6, 1))),
            vec![(EARLY_RECOVERY, Tier::Red)]
        );
        // The recommendation stands for a month, then the warning raised says it.
        assert!(evaluate(&rules, &fell, day(7, 1)).is_empty());
        assert!(!recommends_early_recovery(
            LoanClass::Normal,
            LoanClass::Substandard
        ));
        assert!(!recommends_early_recovery(
            LoanClass::SpecialMention,
            LoanClass::Normal
        ));
    }

    #[test]
    fn thresholds_out_of_range_are_pointed_at() {
        let rules = WorkflowRules {
            inspection_orange_days: 0,
            ..WorkflowRules::default()
        };
        assert_eq!(
            rules.validate().map_err(|e| e.pointer),
            Err("/inspection_orange_days".to_owned())
        );
    }
}
