//! A borrower's health check (体检, RULEBOOK §6): every rule of the rule set scored over what is
//! known of the borrower on a day — fund flows, ratios, external signals, collateral, the loans'
//! workflow —
//! each with an explanation, and a score out of 100.
//!
//! The score starts at 100 and each rule broken takes off by its tier: red 40, orange 20,
//! yellow 10, blue 5 (never below 0). A rule with nothing to judge it on says so and takes off
//! nothing.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    Tier,
    collateral::{self, CollateralHit, Pledged},
    flow::FlowRule,
    ratios::{self, RatioHit, Statement},
    ruleset::RuleSet,
    signals::{self, Signal, SignalHit},
    workflow::{self, LoanFacts, WorkflowHit},
};

crate::text_enum!(
    /// What a rule looks at.
    CheckGroup {
        /// Where the loan proceeds went.
        Flow = "flow",
        /// Financial ratios from the statements.
        Ratio = "ratio",
        /// External signals from the data provider.
        Signal = "signal",
        /// The collateral securing the active loans.
        Collateral = "collateral",
        /// The loans' own calendar and the institution's work.
        Workflow = "workflow",
    }
);

crate::text_enum!(
    /// How a rule came out.
    CheckStatus {
        /// Nothing wrong.
        Pass = "pass",
        /// Broken.
        Hit = "hit",
        /// Nothing to judge it on.
        NoData = "no_data",
    }
);

crate::text_enum!(
    /// The score in words.
    Grade {
        /// 90 and over.
        Healthy = "healthy",
        /// 70–89.
        Watch = "watch",
        /// 50–69.
        Concern = "concern",
        /// Under 50.
        Critical = "critical",
    }
);

impl Grade {
    /// The grade of `score`.
    pub fn of(score: u32) -> Self {
        match score {
            90.. => Self::Healthy,
            70..=89 => Self::Watch,
            50..=69 => Self::Concern,
            _ => Self::Critical,
        }
    }
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    /// The rule.
    pub rule: String,
    /// What it looks at.
    pub group: CheckGroup,
    /// How it came out.
    pub status: CheckStatus,
    /// The tier when broken.
    pub tier: Option<Tier>,
    /// Points taken off the score.
    pub deduction: u32,
    /// Why, for a person.
    pub explanation: String,
}

/// The outcome of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// 0–100.
    pub score: u32,
    /// The score in words.
    pub grade: Grade,
    /// The most serious tier among the rules broken.
    pub worst_tier: Option<Tier>,
    /// Every rule, in the rule set's order.
    pub checks: Vec<Check>,
}

/// A borrower judged: its health, and the rules it breaks as found (to raise as warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The health check.
    pub health: Health,
    /// Ratio rules broken.
    pub ratio_hits: Vec<RatioHit>,
    /// Signal rules broken.
    pub signal_hits: Vec<SignalHit>,
    /// Collateral rules broken.
    pub collateral_hits: Vec<CollateralHit>,
    /// Workflow rules broken, loan by loan.
    pub workflow_hits: Vec<WorkflowHit>,
}

/// Points a broken rule of `tier` takes off.
pub fn deduction(tier: Tier) -> u32 {
    match tier {
        Tier::Red => 40,
        Tier::Orange => 20,
        Tier::Yellow => 10,
        Tier::Blue => 5,
    }
}

/// A flow warning still standing: raised within the look-back and not resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingWarning {
    /// The rule.
    pub rule: String,
    /// How serious.
    pub tier: Tier,
    /// Raised on.
    pub raised_on: NaiveDate,
    /// What it said.
    pub detail: String,
}

/// Days a flow warning counts in the health check after it was raised, unless resolved.
pub const FLOW_LOOKBACK_DAYS: i64 = 90;

/// What is known of a borrower on the day of the check.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Whether the borrower is a registered party, so that its money is watched.
    pub watched: bool,
    /// Flow warnings raised in the last [`FLOW_LOOKBACK_DAYS`] and not resolved.
    pub flow_warnings: &'a [StandingWarning],
    /// Its financial statements.
    pub statements: &'a [Statement],
    /// The external signals reported on it.
    pub signals: &'a [Signal],
    /// The collateral securing its active loans.
    pub pledged: &'a [Pledged],
    /// Its active loans.
    pub loans: &'a [LoanFacts],
}

struct Builder {
    checks: Vec<Check>,
}

impl Builder {
    fn pass(&mut self, rule: &str, group: CheckGroup, explanation: String) {
        self.push(rule, group, CheckStatus::Pass, None, explanation);
    }

    fn no_data(&mut self, rule: &str, group: CheckGroup, explanation: String) {
        self.push(rule, group, CheckStatus::NoData, None, explanation);
    }

    /// A rule broken once or more: the worst tier, every reason.
    fn hit(&mut self, rule: &str, group: CheckGroup, found: &[(Tier, String)]) {
        let tier = found.iter().map(|(t, _)| *t).max();
        let why: Vec<&str> = found.iter().map(|(_, d)| d.as_str()).collect();
        self.push(rule, group, CheckStatus::Hit, tier, why.join("; "));
    }

    fn push(
        &mut self,
        rule: &str,
        group: CheckGroup,
        status: CheckStatus,
        tier: Option<Tier>,
        explanation: String,
    ) {
        self.checks.push(Check {
            rule: rule.to_owned(),
            group,
            status,
            tier,
            deduction: tier.map(deduction).unwrap_or(0),
            explanation,
        });
    }
}

/// Runs every rule of `rules` over `subject` on `as_of`, once: the rules broken, and the score
/// of every rule with its explanation.
pub fn judge(rules: &RuleSet, subject: Subject<'_>, as_of: NaiveDate) -> Judgement {
    let mut b = Builder { checks: Vec::new() };
    let mut by_rule: BTreeMap<String, Vec<(Tier, String)>> = BTreeMap::new();
    for w in subject.flow_warnings {
        by_rule
            .entry(w.rule.clone())
            .or_default()
            .push((w.tier, format!("{} (raised {})", w.detail, w.raised_on)));
    }
    for rule in FlowRule::ALL {
        let name = rule.as_str();
        match by_rule.get(name) {
            Some(found) => b.hit(name, CheckGroup::Flow, found),
            None if !subject.watched => b.no_data(
                name,
                CheckGroup::Flow,
                "the borrower is not registered as a party: its transfers are not watched".into(),
            ),
            None => b.pass(
                name,
                CheckGroup::Flow,
                format!("no standing warning in the {FLOW_LOOKBACK_DAYS} days to {as_of}"),
            ),
        }
    }

    let ratio_hits = ratios::evaluate(&rules.ratios, subject.statements);
    let latest = subject
        .statements
        .iter()
        .max_by(|a, b| a.period.cmp(&b.period));
    let previous = latest.and_then(|l| {
        subject
            .statements
            .iter()
            .filter(|s| s.period < l.period)
            .max_by(|a, b| a.period.cmp(&b.period))
    });
    for rule in &rules.ratios {
        let name = rule.ratio.as_str();
        let found: Vec<(Tier, String)> = ratio_hits
            .iter()
            .filter(|h| h.ratio == rule.ratio)
            .map(|h| (h.tier, h.detail.clone()))
            .collect();
        let Some(latest) = latest else {
            b.no_data(name, CheckGroup::Ratio, "no financial statement".into());
            continue;
        };
        if !found.is_empty() {
            b.hit(name, CheckGroup::Ratio, &found);
            continue;
        }
        match ratios::compute(rule.ratio, latest, previous) {
            Some(value) => b.pass(
                name,
                CheckGroup::Ratio,
                format!(
                    "{value} in {}, within the threshold {}",
                    latest.period, rule.threshold
                ),
            ),
            None => b.no_data(
                name,
                CheckGroup::Ratio,
                format!(
                    "cannot be computed for {}: a zero denominator or no earlier period",
                    latest.period
                ),
            ),
        }
    }

    let signal_hits_found = signals::evaluate(&rules.signals, subject.signals, as_of);
    let mut signal_hits: BTreeMap<&str, Vec<(Tier, String)>> = BTreeMap::new();
    for h in &signal_hits_found {
        signal_hits
            .entry(h.rule.as_str())
            .or_default()
            .push((h.tier, h.detail.clone()));
    }
    for name in signals::RULES {
        match signal_hits.get(name) {
            Some(found) => b.hit(name, CheckGroup::Signal, found),
            None => {
                let what = match name {
                    "key_person_changes" => format!(
                        "at most {} change of key persons",
                        rules.signals.key_person_changes
                    ),
                    "other_borrowing_growth" => format!(
                        "short-term debt elsewhere grew less than {} %",
                        rules.signals.other_borrowing_growth_pct
                    ),
                    kind => format!("no {} reported", kind.replace('_', " ")),
                };
                b.pass(
                    name,
                    CheckGroup::Signal,
                    format!("{what} in the 12 months to {as_of}"),
                );
            }
        }
    }

    let collateral_hits_found =
        collateral::evaluate(&rules.collateral, subject.pledged, subject.signals, as_of);
    for name in collateral::RULES {
        let found: Vec<(Tier, String)> = collateral_hits_found
            .iter()
            .filter(|h| h.rule == name)
            .map(|h| (h.tier, h.detail.clone()))
            .collect();
        if !found.is_empty() {
            b.hit(name, CheckGroup::Collateral, &found);
        } else if subject.pledged.is_empty() {
            b.no_data(
                name,
                CheckGroup::Collateral,
                "no collateral secures an active loan".into(),
            );
        } else {
            b.pass(
                name,
                CheckGroup::Collateral,
                collateral::passed(name, &rules.collateral, subject.pledged.len(), as_of),
            );
        }
    }

    let workflow_hits_found: Vec<WorkflowHit> = subject
        .loans
        .iter()
        .flat_map(|loan| workflow::evaluate(&rules.workflow, loan, as_of))
        .collect();
    let mut workflow_hits: BTreeMap<&str, Vec<(Tier, String)>> = BTreeMap::new();
    for h in &workflow_hits_found {
        workflow_hits
            .entry(h.rule)
            .or_default()
            .push((h.tier, h.detail.clone()));
    }
    for name in workflow::RULES {
        match workflow_hits.get(name) {
            Some(found) => b.hit(name, CheckGroup::Workflow, found),
            None if subject.loans.is_empty() => {
                b.no_data(name, CheckGroup::Workflow, "no active loan".into())
            }
            None => b.pass(
                name,
                CheckGroup::Workflow,
                format!("none of {} active loan(s) on {as_of}", subject.loans.len()),
            ),
        }
    }

    let lost: u32 = b.checks.iter().map(|c| c.deduction).sum();
    let score = 100u32.saturating_sub(lost);
    Judgement {
        health: Health {
            score,
            grade: Grade::of(score),
            worst_tier: b.checks.iter().filter_map(|c| c.tier).max(),
            checks: b.checks,
        },
        ratio_hits,
        signal_hits: signal_hits_found,
        collateral_hits: collateral_hits_found,
        workflow_hits: workflow_hits_found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ledger::LoanClass, monitoring::signals::SignalKind};

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    fn loan(dpd: i64) -> LoanFacts {
        LoanFacts {
            loan_id: "L1".into(),
            contract_no: "C-1".into(),
            class: LoanClass::Normal,
            class_change: None,
            maturity_date: day(12, 31),
            days_past_due: dpd,
            outstanding_fen: 100_000,
            oldest_open_task_due: None,
        }
    }

    fn statement(period: &str, current_assets: i64) -> Statement {
        Statement {
            period: period.into(),
            current_assets,
            inventory: 0,
            total_assets: 10_000,
            current_liabilities: 1_000,
            total_liabilities: 4_000,
            revenue: 8_000,
            net_profit: 800,
            profit_before_tax: 1_000,
            interest_expense: 100,
            operating_cash_flow: 900,
        }
    }

    fn check<'a>(h: &'a Health, rule: &str) -> &'a Check {
        h.checks
            .iter()
            .find(|c| c.rule == rule)
            .unwrap_or_else(|| panic!("no check {rule}"))
    }

    #[test]
    fn every_rule_is_listed_and_a_clean_borrower_scores_full() {
        let rules = RuleSet::default();
        let loans = [loan(0)];
        let statements = [statement("2026Q1", 2_000)];
        let h = judge(
            &rules,
            Subject {
                watched: true,
                flow_warnings: &[],
                statements: &statements,
                signals: &[],
                pledged: &[],
                loans: &loans,
            },
            day(6, 30),
        )
        .health;
        assert_eq!(
            h.checks.len(),
            FlowRule::ALL.len()
                + rules.ratios.len()
                + signals::RULES.len()
                + collateral::RULES.len()
                + workflow::RULES.len()
        );
        assert_eq!(
            (h.score, h.grade, h.worst_tier),
            (100, Grade::Healthy, None)
        );
        // Growth needs an earlier period.
        assert_eq!(check(&h, "revenue_growth").status, CheckStatus::NoData);
        assert_eq!(check(&h, "current_ratio").status, CheckStatus::Pass);
        assert!(
            check(&h, "current_ratio")
                .explanation
                .contains("2 in 2026Q1")
        );
    }

    #[test]
    fn broken_rules_take_off_by_tier_and_explain_themselves() {
        let rules = RuleSet::default();
        let loans = [loan(70), loan(10)];
        let statements = [statement("2026Q1", 800)];
        let flow = [StandingWarning {
            rule: "flow_back".into(),
            tier: Tier::Orange,
            raised_on: day(6, 1),
            detail: "came back".into(),
        }];
        let signals = [Signal {
            id: "S1".into(),
            kind: SignalKind::Enforcement,
            on: day(5, 1),
            amount_fen: None,
            collateral_id: None,
        }];
        let h = judge(
            &rules,
            Subject {
                watched: true,
                flow_warnings: &flow,
                statements: &statements,
                signals: &signals,
                pledged: &[],
                loans: &loans,
            },
            day(6, 30),
        )
        .health;
        let overdue = check(&h, "overdue_loan");
        // Two loans past due: the worst tier, both reasons.
        assert_eq!((overdue.tier, overdue.deduction), (Some(Tier::Red), 40));
        assert!(overdue.explanation.contains("70 days") && overdue.explanation.contains("10 days"));
        assert_eq!(check(&h, "flow_back").tier, Some(Tier::Orange));
        assert_eq!(check(&h, "current_ratio").tier, Some(Tier::Yellow));
        assert_eq!(check(&h, "enforcement").tier, Some(Tier::Red));
        // 100 − 40 − 20 − 10 (current) − 10 (quick) − 40 → 0, never below.
        assert_eq!((h.score, h.grade), (0, Grade::Critical));
        assert_eq!(h.worst_tier, Some(Tier::Red));
    }

    #[test]
    fn without_data_a_rule_says_so_and_costs_nothing() {
        let h = judge(
            &RuleSet::default(),
            Subject {
                watched: false,
                flow_warnings: &[],
                statements: &[],
                signals: &[],
                pledged: &[],
                loans: &[],
            },
            day(6, 30),
        )
        .health;
        assert_eq!(h.score, 100);
        assert_eq!(check(&h, "large_transfer").status, CheckStatus::NoData);
        assert_eq!(check(&h, "debt_to_asset").status, CheckStatus::NoData);
        assert_eq!(check(&h, "overdue_loan").status, CheckStatus::NoData);
        assert_eq!(
            check(&h, "collateral_seized").explanation,
            "no collateral secures an active loan"
        );
        assert_eq!(check(&h, "lawsuit").status, CheckStatus::Pass);
    }

    #[test]
    fn collateral_securing_the_loans_is_judged() {
        let pledged = [Pledged {
            id: "C1".into(),
            description: "厂房".into(),
            appraised_value_fen: 1_000_000,
            insurance_expiry: Some(day(5, 31)),
        }];
        let loans = [loan(0)];
        let h = judge(
            &RuleSet::default(),
            Subject {
                watched: true,
                flow_warnings: &[],
                statements: &[],
                signals: &[],
                pledged: &pledged,
                loans: &loans,
            },
            day(6, 30),
        )
        .health;
        let lapsed = check(&h, "collateral_insurance_lapsed");
        assert_eq!((lapsed.tier, lapsed.deduction), (Some(Tier::Yellow), 10));
        assert!(lapsed.explanation.contains("expired on 2026-05-31"));
        assert_eq!(check(&h, "collateral_seized").status, CheckStatus::Pass);
        assert!(
            check(&h, "collateral_value_drop")
                .explanation
                .contains("1 item(s) 20 %")
        );
        assert_eq!(h.score, 90);
    }
}
