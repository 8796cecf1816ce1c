//! The plan of a loan: what must be done, by when.
//!
//! - First on-site inspection within one month after disbursement.
//! - Then inspections at the cadence of the mode × class table (regular: normal half-yearly,
//!   special mention quarterly, substandard and worse monthly; focused: normal quarterly,
//!   otherwise monthly).
//! - A report after each period, due in working days (monthly 10, quarterly and half-yearly 15,
//!   annual 20), except for a new normal loan of 6 months or less (regular) or 3 months or less
//!   (focused), and for a period whose checkpoint is 2 months or less after disbursement.
//! - Collateral on-site check at least yearly, except for normal loans of one year or less.
//! - Debt confirmation with borrower and guarantors at least quarterly, with a visit.

use chrono::NaiveDate;

use super::task::TaskKind;
use crate::{
    calendar::{CalendarError, WorkingCalendar},
    ledger::{LoanClass, ManagementMode},
    schedule::add_months,
};

/// The institution's supervision numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanConfig {
    /// First on-site inspection, months after disbursement.
    pub first_inspection_months: u32,
    /// Inspection cadence in months: regular mode, by class group (normal, special mention,
    /// substandard or worse).
    pub regular_cadence: [u32; 3],
    /// The same for focused mode.
    pub focused_cadence: [u32; 3],
    /// Report deadlines in working days after the period: monthly, quarterly, half-yearly, annual.
    pub report_working_days: [u32; 4],
    /// A new normal regular-mode loan of at most this many months needs no report.
    pub no_report_regular_term_months: u32,
    /// A new normal focused-mode loan of at most this many months needs no report.
    pub no_report_focused_term_months: u32,
    /// A period whose checkpoint is at most this many months after disbursement needs no report.
    pub no_report_checkpoint_months: u32,
    /// Collateral check cadence in months.
    pub collateral_check_months: u32,
    /// Normal loans of at most this many months need no collateral check.
    pub collateral_exempt_term_months: u32,
    /// Debt confirmation cadence in months.
    pub debt_confirmation_months: u32,
}

impl Default for PlanConfig {
    fn default() -> Self {
        Self {
            first_inspection_months: 1,
            regular_cadence: [6, 3, 1],
            focused_cadence: [3, 1, 1],
            report_working_days: [10, 15, 15, 20],
            no_report_regular_term_months: 6,
            no_report_focused_term_months: 3,
            no_report_checkpoint_months: 2,
            collateral_check_months: 12,
            collateral_exempt_term_months: 12,
            debt_confirmation_months: 3,
        }
    }
}

impl PlanConfig {
    /// Inspection cadence in months for a mode and class.
    pub fn cadence(&self, mode: ManagementMode, class: LoanClass) -> u32 {
        let group = match class {
            LoanClass::Normal => 0,
            LoanClass::SpecialMention => 1,
            LoanClass::Substandard | LoanClass::Doubtful | LoanClass::Loss => 2,
        };
        match mode {
            ManagementMode::Regular => self.regular_cadence[group],
            ManagementMode::Focused => self.focused_cadence[group],
        }
        .max(1)
    }

    fn report_days(&self, cadence_months: u32) -> u32 {
        match cadence_months {
            0..=1 => self.report_working_days[0],
            2..=3 => self.report_working_days[1],
            4..=6 => self.report_working_days[2],
            _ => self.report_working_days[3],
        }
    }
}

/// What the plan needs to know about a loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLoan {
    /// Disbursement date.
    pub disbursement_date: NaiveDate,
    /// Current maturity.
    pub maturity_date: NaiveDate,
    /// Five-level class.
    pub class: LoanClass,
    /// Management mode.
    pub mode: ManagementMode,
    /// Whether collateral secures the loan.
    pub has_collateral: bool,
}

/// A task the plan requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTask {
    /// What to do.
    pub kind: TaskKind,
    /// The checkpoint it belongs to (a period's end, or the date the rule counts from).
    pub checkpoint: NaiveDate,
    /// By when.
    pub due_date: NaiveDate,
}

fn months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut m = 0;
    while add_months(from, m + 1, None) <= to {
        m += 1;
    }
    m
}

/// A task the plan requires whose due date needs a calendar year that is not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingTask {
    /// What to do.
    pub kind: TaskKind,
    /// Its checkpoint.
    pub checkpoint: NaiveDate,
    /// Why no due date.
    pub error: CalendarError,
}

/// The tasks whose checkpoints fall in `[from, to]`. Deterministic: the same loan, config and
/// window give the same tasks, so storage can keep one task per (kind, checkpoint). Fails if any
/// due date needs a calendar year that is not loaded; [`plan_available`] plans the rest instead.
pub fn plan(
    loan: &PlanLoan,
    config: &PlanConfig,
    calendar: &WorkingCalendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<PlannedTask>, CalendarError> {
    let (tasks, waiting) = plan_available(loan, config, calendar, from, to);
    match waiting.into_iter().next() {
        Some(w) => Err(w.error),
        None => Ok(tasks),
    }
}

/// As [`plan`], but a task whose due date needs a missing calendar year (a report due in
/// working days next year, before that year's holidays are published) waits, returned apart,
/// while the rest of the loan's plan goes ahead.
pub fn plan_available(
    loan: &PlanLoan,
    config: &PlanConfig,
    calendar: &WorkingCalendar,
    from: NaiveDate,
    to: NaiveDate,
) -> (Vec<PlannedTask>, Vec<WaitingTask>) {
    let mut waiting = Vec::new();
    let start = loan.disbursement_date;
    let end = loan.maturity_date;
    let term_months = months_between(start, end);
    let in_window = |d: NaiveDate| d >= from && d <= to && d <= end;
    let mut out = Vec::new();

    let first = add_months(start, config.first_inspection_months, None);
    if in_window(first) {
        out.push(PlannedTask {
            kind: TaskKind::OnSiteInspection,
            checkpoint: first,
            due_date: first,
        });
    }

    let cadence = config.cadence(loan.mode, loan.class);
    let exempt_new = loan.class == LoanClass::Normal
        && match loan.mode {
            ManagementMode::Regular => term_months <= config.no_report_regular_term_months,
            ManagementMode::Focused => term_months <= config.no_report_focused_term_months,
        };
    let report_days = config.report_days(cadence);
    let no_report_until = add_months(start, config.no_report_checkpoint_months, None);
    for k in 1.. {
        let checkpoint = add_months(start, k * cadence, None);
        if checkpoint > end || checkpoint > to {
            break;
        }
        if !in_window(checkpoint) {
            continue;
        }
        if checkpoint != first {
            out.push(PlannedTask {
                kind: TaskKind::OnSiteInspection,
                checkpoint,
                due_date: checkpoint,
            });
        }
        if !exempt_new && checkpoint > no_report_until {
            match calendar.add_working_days(checkpoint, report_days) {
                Ok(due_date) => out.push(PlannedTask {
                    kind: TaskKind::Report,
                    checkpoint,
                    due_date,
                }),
                Err(error) => waiting.push(WaitingTask {
                    kind: TaskKind::Report,
                    checkpoint,
                    error,
                }),
            }
        }
    }

    let collateral_exempt =
        loan.class == LoanClass::Normal && term_months <= config.collateral_exempt_term_months;
    if loan.has_collateral && !collateral_exempt {
        for k in 1.. {
            let checkpoint = add_months(start, k * config.collateral_check_months.max(1), None);
            if checkpoint > end || checkpoint > to {
                break;
            }
            if in_window(checkpoint) {
                out.push(PlannedTask {
                    kind: TaskKind::CollateralCheck,
                    checkpoint,
                    due_date: checkpoint,
                });
            }
        }
    }

    for k in 1.. {
        let checkpoint = add_months(start, k * config.debt_confirmation_months.max(1), None);
        if checkpoint > end || checkpoint > to {
            break;
        }
        if in_window(checkpoint) {
            out.push(PlannedTask {
                kind: TaskKind::DebtConfirmation,
                checkpoint,
                due_date: checkpoint,
            });
        }
    }
    out.sort_by_key(|t| (t.due_date, t.kind));
    (out, waiting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::CalendarYear;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a valid date")
    }

    fn cal() -> WorkingCalendar {
        WorkingCalendar::new(&CalendarYear::shipped())
    }

    fn loan(class: LoanClass, mode: ManagementMode, months: u32, collateral: bool) -> PlanLoan {
        let start = d(2025, 1, 15);
        PlanLoan {
            disbursement_date: start,
            maturity_date: add_months(start, months, None),
            class,
            mode,
            has_collateral: collateral,
        }
    }

    fn of(tasks: &[PlannedTask], kind: TaskKind) -> Vec<NaiveDate> {
        tasks
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.due_date)
            .collect()
    }

    #[test]
    fn the_cadence_follows_the_rulebook_table() {
        let c = PlanConfig::default();
        use {LoanClass::*, ManagementMode::*};
        assert_eq!(
            [
                c.cadence(Regular, Normal),
                c.cadence(Regular, SpecialMention),
                c.cadence(Regular, Substandard),
                c.cadence(Regular, Loss)
            ],
            [6, 3, 1, 1]
        );
        assert_eq!(
            [
                c.cadence(Focused, Normal),
                c.cadence(Focused, SpecialMention),
                c.cadence(Focused, Doubtful)
            ],
            [3, 1, 1]
        );
    }

    #[test]
    fn a_regular_normal_two_year_loan_with_collateral() {
        // Disbursed 15 Jan 2025 for 24 months, mortgaged.
        let l = loan(LoanClass::Normal, ManagementMode::Regular, 24, true);
        let t = plan(
            &l,
            &PlanConfig::default(),
            &cal(),
            d(2025, 1, 1),
            d(2026, 12, 31),
        )
        .expect("plan");
        // First inspection 15 Feb 2025, then half-yearly.
        assert_eq!(
            of(&t, TaskKind::OnSiteInspection),
            [
                d(2025, 2, 15),
                d(2025, 7, 15),
                d(2026, 1, 15),
                d(2026, 7, 15)
            ]
        );
        // Half-yearly reports within 15 working days: after 15 Jul 2025 (Tue) → 5 Aug 2025;
        // after 15 Jan 2026 (Thu) → 5 Feb 2026; after 15 Jul 2026 (Wed) → 5 Aug 2026.
        assert_eq!(
            of(&t, TaskKind::Report),
            [d(2025, 8, 5), d(2026, 2, 5), d(2026, 8, 5)]
        );
        assert_eq!(of(&t, TaskKind::CollateralCheck), [d(2026, 1, 15)]);
        assert_eq!(
            of(&t, TaskKind::DebtConfirmation).len(),
            7,
            "quarterly until maturity (15 Jan 2027 is outside the window)"
        );
    }

    #[test]
    fn report_deadlines_count_working_days_across_holidays() {
        // Quarterly (special mention, regular): checkpoint 15 Apr 2025, then 15 Jul, 15 Oct.
        // 15 working days after Wed 15 Oct 2025: 16,17,20,21,22,23,24,27,28,29,30,31 Oct, 3,4,5 Nov.
        let l = loan(
            LoanClass::SpecialMention,
            ManagementMode::Regular,
            12,
            false,
        );
        let t = plan(
            &l,
            &PlanConfig::default(),
            &cal(),
            d(2025, 1, 1),
            d(2025, 12, 31),
        )
        .expect("plan");
        let reports = of(&t, TaskKind::Report);
        assert!(reports.contains(&d(2025, 11, 5)), "{reports:?}");
        // 15 working days after Tue 15 Apr 2025 cross May Day (1–5 May off, Sun 27 Apr worked):
        // 16,17,18,21,22,23,24,25,27,28,29,30 Apr, 6,7,8 May.
        assert!(reports.contains(&d(2025, 5, 8)), "{reports:?}");
    }

    #[test]
    fn short_normal_loans_and_early_checkpoints_need_no_report() {
        let short_regular = loan(LoanClass::Normal, ManagementMode::Regular, 6, false);
        assert!(
            of(
                &plan(
                    &short_regular,
                    &PlanConfig::default(),
                    &cal(),
                    d(2025, 1, 1),
                    d(2025, 12, 31)
                )
                .expect("plan"),
                TaskKind::Report
            )
            .is_empty()
        );
        let short_focused = loan(LoanClass::Normal, ManagementMode::Focused, 3, false);
        assert!(
            of(
                &plan(
                    &short_focused,
                    &PlanConfig::default(),
                    &cal(),
                    d(2025, 1, 1),
                    d(2025, 12, 31)
                )
                .expect("plan"),
                TaskKind::Report
            )
            .is_empty()
        );
        // Substandard, monthly: the 1- and 2-month checkpoints need no report; the 3-month one does.
        let bad = loan(LoanClass::Substandard, ManagementMode::Regular, 12, false);
        let t = plan(
            &bad,
            &PlanConfig::default(),
            &cal(),
            d(2025, 1, 1),
            d(2025, 4, 30),
        )
        .expect("plan");
        let checkpoints: Vec<NaiveDate> = t
            .iter()
            .filter(|x| x.kind == TaskKind::Report)
            .map(|x| x.checkpoint)
            .collect();
        assert_eq!(checkpoints, [d(2025, 4, 15)]);
        // The monthly inspection at one month is the first inspection, not a second task.
        assert_eq!(
            of(&t, TaskKind::OnSiteInspection),
            [d(2025, 2, 15), d(2025, 3, 15), d(2025, 4, 15)]
        );
    }

    #[test]
    fn normal_loans_of_a_year_or_less_need_no_collateral_check() {
        let one_year = loan(LoanClass::Normal, ManagementMode::Regular, 12, true);
        assert!(
            of(
                &plan(
                    &one_year,
                    &PlanConfig::default(),
                    &cal(),
                    d(2025, 1, 1),
                    d(2026, 12, 31)
                )
                .expect("plan"),
                TaskKind::CollateralCheck
            )
            .is_empty()
        );
        let watched = loan(LoanClass::SpecialMention, ManagementMode::Regular, 12, true);
        assert_eq!(
            of(
                &plan(
                    &watched,
                    &PlanConfig::default(),
                    &cal(),
                    d(2025, 1, 1),
                    d(2026, 12, 31)
                )
                .expect("plan"),
                TaskKind::CollateralCheck
            ),
            [d(2026, 1, 15)]
        );
    }

    #[test]
    fn a_report_due_in_a_year_without_calendar_waits_and_the_rest_is_planned() {
        // Focused, normal: quarterly. The checkpoint 15 Oct 2026 reports within 15 working days
        // (5 Nov 2026); the checkpoint 15 Jan 2027 needs the 2027 calendar, which is not shipped.
        let l = loan(LoanClass::Normal, ManagementMode::Focused, 36, false);
        let (tasks, waiting) = plan_available(
            &l,
            &PlanConfig::default(),
            &cal(),
            d(2026, 10, 1),
            d(2027, 1, 31),
        );
        assert_eq!(
            of(&tasks, TaskKind::OnSiteInspection),
            [d(2026, 10, 15), d(2027, 1, 15)]
        );
        assert_eq!(of(&tasks, TaskKind::Report), [d(2026, 11, 5)]);
        assert_eq!(waiting.len(), 1);
        assert_eq!(
            (waiting[0].kind, waiting[0].checkpoint),
            (TaskKind::Report, d(2027, 1, 15))
        );
        assert!(
            plan(
                &l,
                &PlanConfig::default(),
                &cal(),
                d(2026, 10, 1),
                d(2027, 1, 31)
            )
            .is_err()
        );
    }

    #[test]
    fn a_window_plans_only_its_own_checkpoints_and_the_plan_is_repeatable() {
        let l = loan(LoanClass::Normal, ManagementMode::Focused, 24, false);
        let all = plan(
            &l,
            &PlanConfig::default(),
            &cal(),
            d(2025, 1, 1),
            d(2026, 12, 31),
        )
        .expect("plan");
        let q3 = plan(
            &l,
            &PlanConfig::default(),
            &cal(),
            d(2025, 7, 1),
            d(2025, 9, 30),
        )
        .expect("plan");
        assert!(
            q3.iter()
                .all(|t| t.checkpoint >= d(2025, 7, 1) && t.checkpoint <= d(2025, 9, 30))
        );
        assert!(q3.iter().all(|t| all.contains(t)));
        assert_eq!(
            all,
            plan(
                &l,
                &PlanConfig::default(),
                &cal(),
                d(2025, 1, 1),
                d(2026, 12, 31)
            )
            .expect("plan")
        );
    }
}
