//! A rule set (预警规则): one version of an institution's warning rules — fund-flow thresholds,
//! ratio rules, signal rules, workflow thresholds — and the work each tier creates. Stored as JSON that names only
//! known fields; a draft becomes effective from the day it is activated.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    Invalid, Tier, collateral::CollateralRules, flow::FlowRules, ratios, ratios::RatioRule,
    signals::SignalRules, workflow::WorkflowRules,
};
use crate::supervision::TaskKind;

/// What a warning of one tier sets in motion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierAction {
    /// The task created for the borrower's officer, if any.
    pub task: Option<TaskKind>,
    /// Working days from the warning to the task's due date.
    pub within_working_days: u32,
    /// Whether the supervisors above the borrower's organisation are told.
    pub notify_supervisor: bool,
}

/// The action of every tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TierActions {
    /// A reminder: the officer is told.
    pub blue: TierAction,
    /// Watch more closely.
    pub yellow: TierAction,
    /// Act soon.
    pub orange: TierAction,
    /// Act now.
    pub red: TierAction,
}

impl Default for TierActions {
    fn default() -> Self {
        let action = |task, within_working_days, notify_supervisor| TierAction {
            task,
            within_working_days,
            notify_supervisor,
        };
        Self {
            blue: action(None, 0, false),
            yellow: action(Some(TaskKind::PhoneFollowUp), 10, false),
            orange: action(Some(TaskKind::WarningFollowUp), 5, true),
            red: action(Some(TaskKind::OnSiteInspection), 3, true),
        }
    }
}

impl TierActions {
    /// The action of `tier`.
    pub fn of(&self, tier: Tier) -> &TierAction {
        match tier {
            Tier::Blue => &self.blue,
            Tier::Yellow => &self.yellow,
            Tier::Orange => &self.orange,
            Tier::Red => &self.red,
        }
    }
}

/// One version of the warning rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSet {
    /// Fund-flow thresholds.
    pub flow: FlowRules,
    /// Ratio thresholds and worsening periods.
    pub ratios: Vec<RatioRule>,
    /// External-signal thresholds.
    pub signals: SignalRules,
    /// Collateral-status thresholds.
    pub collateral: CollateralRules,
    /// Workflow-signal thresholds.
    pub workflow: WorkflowRules,
    /// What each tier creates.
    pub actions: TierActions,
}

impl Default for RuleSet {
    fn default() -> Self {
        Self {
            flow: FlowRules::default(),
            ratios: ratios::default_rules(),
            signals: SignalRules::default(),
            collateral: CollateralRules::default(),
            workflow: WorkflowRules::default(),
            actions: TierActions::default(),
        }
    }
}

/// The task kinds a tier may create: field work that can follow a warning.
const TIER_TASKS: [TaskKind; 5] = [
    TaskKind::OnSiteInspection,
    TaskKind::CollateralCheck,
    TaskKind::DebtConfirmation,
    TaskKind::PhoneFollowUp,
    TaskKind::WarningFollowUp,
];

impl RuleSet {
    /// Checks the values (the shape is checked by parsing).
    pub fn validate(&self) -> Result<(), Invalid> {
        let invalid = |pointer: String, message: String| Err(Invalid { pointer, message });
        self.flow.validate().map_err(|e| e.under("/flow"))?;
        self.workflow.validate().map_err(|e| e.under("/workflow"))?;
        self.collateral
            .validate()
            .map_err(|e| e.under("/collateral"))?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in self.ratios.iter().enumerate() {
            if !seen.insert(r.ratio) {
                return invalid(
                    format!("/ratios/{i}/ratio"),
                    format!("{} has two rules", r.ratio),
                );
            }
            if r.worsening_periods > 12 {
                return invalid(
                    format!("/ratios/{i}/worsening_periods"),
                    "must be at most 12".into(),
                );
            }
        }
        if !(1..=1000).contains(&self.signals.other_borrowing_growth_pct) {
            return invalid(
                "/signals/other_borrowing_growth_pct".into(),
                "must be 1–1000".into(),
            );
        }
        if self.signals.key_person_changes > 20 {
            return invalid(
                "/signals/key_person_changes".into(),
                "must be at most 20".into(),
            );
        }
        for tier in Tier::ALL {
            let a = self.actions.of(*tier);
            if let Some(task) = a.task
                && !TIER_TASKS.contains(&task)
            {
                return invalid(
                    format!("/actions/{tier}/task"),
                    format!("a warning cannot create a {task} task"),
                );
            }
            if a.task.is_some() && !(1..=60).contains(&a.within_working_days) {
                return invalid(
                    format!("/actions/{tier}/within_working_days"),
                    "must be 1–60 when the tier creates a task".into(),
                );
            }
        }
        Ok(())
    }
}

/// A stored version with the day it takes effect (`None` while a draft).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version<T> {
    /// Version number.
    pub version: i32,
    /// First day it applies.
    pub active_from: Option<NaiveDate>,
    /// The definition.
    pub rules: T,
}

/// The version in force on `day`: the activated one with the latest start not after `day`
/// (the higher version when two start the same day).
pub fn in_force<T>(versions: &[Version<T>], day: NaiveDate) -> Option<&Version<T>> {
    versions
        .iter()
        .filter(|v| v.active_from.is_some_and(|from| from <= day))
        .max_by_key(|v| (v.active_from, v.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_red_sends_someone_within_three_working_days() {
        let rules = RuleSet::default();
        assert_eq!(rules.validate(), Ok(()));
        assert_eq!(
            rules.actions.of(Tier::Red),
            &TierAction {
                task: Some(TaskKind::OnSiteInspection),
                within_working_days: 3,
                notify_supervisor: true
            }
        );
    }

    #[test]
    fn a_definition_parses_with_defaults_and_refuses_unknown_fields() {
        let parsed: Result<RuleSet, _> =
            serde_json::from_str(r#"{"flow": {"large_transfer_fen": 100000000}}"#);
        let rules = parsed.unwrap_or_default();
        assert_eq!(rules.flow.large_transfer_fen, 100_000_000);
        assert_eq!(rules.ratios, ratios::default_rules());
        let unknown: Result<RuleSet, _> = serde_json::from_str(r#"{"flows": {}}"#);
        assert!(unknown.is_err());
        let unknown_inner: Result<RuleSet, _> =
            serde_json::from_str(r#"{"actions": {"red": {"task": "report", "within": 3}}}"#);
        assert!(unknown_inner.is_err());
    }

    #[test]
    fn out_of_range_values_are_pointed_at() {
        let mut rules = RuleSet::default();
        rules.flow.idle_pct = 0;
        assert_eq!(
            rules.validate().map_err(|e| e.pointer),
            Err("/flow/idle_pct".to_owned())
        );
        let mut rules = RuleSet::default();
        rules.actions.red.task = Some(TaskKind::WorkLog);
        assert_eq!(
            rules.validate().map_err(|e| e.pointer),
            Err("/actions/red/task".to_owned())
        );
        let mut rules = RuleSet::default();
        rules.actions.orange.within_working_days = 0;
        assert_eq!(
            rules.validate().map_err(|e| e.pointer),
            Err("/actions/orange/within_working_days".to_owned())
        );
        let mut rules = RuleSet::default();
        let first = rules.ratios.first().cloned();
        rules.ratios.extend(first);
        assert_eq!(
            rules.validate().map_err(|e| e.pointer),
            Err(format!("/ratios/{}/ratio", rules.ratios.len() - 1))
        );
    }

    #[test]
    fn the_version_in_force_is_the_latest_activated_by_that_day() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap_or_default();
        let v = |version, active_from| Version {
            version,
            active_from,
            rules: (),
        };
        let versions = [
            v(1, Some(d(1, 1))),
            v(2, Some(d(6, 1))),
            v(3, None),
            v(4, Some(d(6, 1))),
        ];
        let on = |day| in_force(&versions, day).map(|v| v.version);
        assert_eq!(on(d(5, 31)), Some(1));
        assert_eq!(on(d(6, 1)), Some(4));
        assert_eq!(
            on(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default()),
            None
        );
    }
}
