//! Statutory notices (RULEBOOK §2): what a loan requires to be sent, to whom, by when.
//!
//! - Maturity notice (贷款到期通知书) to the borrower one month before maturity.
//! - Interest reminder to the borrower 10 working days before each interest date.
//! - On each due date, a check by the officer whether principal and interest were paid.
//! - Unpaid principal: a collection notice (催收通知书) to the borrower and a notice to perform
//!   the guarantee (履行担保责任通知书) to each guarantor, within 10 working days after the due
//!   date. Unpaid interest: a collection notice within 5 working days.
//! - Every default is reported to the branch's post-loan desk at once.
//!
//! Rules are evaluated on a date; a notice is identified by (kind, addressee, reference date),
//! so evaluating the same day twice yields the same notices and storage can keep one of each.

use chrono::NaiveDate;

use crate::{
    calendar::{CalendarError, WorkingCalendar},
    position::Position,
};

text_enum!(
    /// What a notice is.
    NoticeKind {
        /// 贷款到期通知书, one month before maturity.
        MaturityNotice = "maturity_notice",
        /// 付息提示, 10 working days before an interest date.
        InterestReminder = "interest_reminder",
        /// The officer checks on the due date whether the instalment was paid.
        DueDateCheck = "due_date_check",
        /// 催收通知书 for unpaid principal.
        PrincipalCollection = "principal_collection",
        /// 履行担保责任通知书 to a guarantor.
        GuaranteePerformance = "guarantee_performance",
        /// 催收通知书 for unpaid interest.
        InterestCollection = "interest_collection",
        /// 违约报告 to the branch's post-loan desk.
        DefaultReport = "default_report",
    }
);

text_enum!(
    /// Who a notice goes to.
    AddresseeKind {
        /// The borrower.
        Borrower = "borrower",
        /// A guarantor.
        Guarantor = "guarantor",
        /// The responsible officer.
        Officer = "officer",
        /// The booking branch's post-loan desk.
        Branch = "branch",
    }
);

text_enum!(
    /// Where a notice is in its life.
    NoticeStatus {
        /// Created, not yet sent.
        Pending = "pending",
        /// Sent (by phone, letter or visit).
        Sent = "sent",
        /// The addressee acknowledged it.
        Acknowledged = "acknowledged",
    }
);

impl NoticeStatus {
    /// Whether a notice may move from `self` to `next`: only forward.
    pub fn may_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Pending, Self::Sent)
                | (Self::Pending, Self::Acknowledged)
                | (Self::Sent, Self::Acknowledged)
        )
    }
}

/// What the rules need to know about a loan besides its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFacts {
    /// The borrower's id.
    pub borrower_id: String,
    /// The responsible officer's id.
    pub officer_id: String,
    /// The booking organisation's id.
    pub organisation_id: String,
    /// Guarantors' ids.
    pub guarantor_ids: Vec<String>,
    /// Current maturity.
    pub maturity_date: NaiveDate,
}

/// A notice the rules require.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredNotice {
    /// What it is.
    pub kind: NoticeKind,
    /// To whom.
    pub addressee_kind: AddresseeKind,
    /// The addressee's id.
    pub addressee_id: String,
    /// The date it is about: the maturity or the instalment's due date.
    pub reference_date: NaiveDate,
    /// By when it must go out.
    pub due_date: NaiveDate,
    /// The amount concerned, in fen.
    pub amount_fen: Option<i64>,
}

/// How far back a day's evaluation still creates due-date checks and default notices, so a job
/// that did not run for a few days catches up without flooding officers with ancient history.
pub const LOOKBACK_DAYS: i64 = 31;

/// The notices a loan requires on `today`, given its position on `today`.
pub fn required(
    facts: &NoticeFacts,
    position: &Position,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> Result<Vec<RequiredNotice>, CalendarError> {
    let mut out = Vec::new();
    if position.settled {
        return Ok(out);
    }
    let borrower = |kind, reference_date, due_date, amount_fen| RequiredNotice {
        kind,
        addressee_kind: AddresseeKind::Borrower,
        addressee_id: facts.borrower_id.clone(),
        reference_date,
        due_date,
        amount_fen,
    };
    // One month before maturity.
    let maturity_trigger = facts
        .maturity_date
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(facts.maturity_date);
    if today >= maturity_trigger && today <= facts.maturity_date {
        out.push(borrower(
            NoticeKind::MaturityNotice,
            facts.maturity_date,
            maturity_trigger,
            Some(position.outstanding_principal_fen),
        ));
    }
    for i in &position.schedule {
        // Interest reminder: from 10 working days before the interest date until the date.
        if i.interest_fen > 0 && i.due_date > today {
            let trigger = calendar.sub_working_days(i.due_date, 10)?;
            if today >= trigger {
                out.push(borrower(
                    NoticeKind::InterestReminder,
                    i.due_date,
                    trigger,
                    Some(i.interest_fen),
                ));
            }
        }
        // On the due date the officer checks the payment.
        if i.due_date <= today && (today - i.due_date).num_days() <= LOOKBACK_DAYS {
            out.push(RequiredNotice {
                kind: NoticeKind::DueDateCheck,
                addressee_kind: AddresseeKind::Officer,
                addressee_id: facts.officer_id.clone(),
                reference_date: i.due_date,
                due_date: i.due_date,
                amount_fen: Some(i.total_fen),
            });
        }
    }
    for a in &position.arrears {
        if (today - a.due_date).num_days() > LOOKBACK_DAYS {
            continue;
        }
        if a.principal_fen > 0 {
            let due = calendar.add_working_days(a.due_date, 10)?;
            out.push(borrower(
                NoticeKind::PrincipalCollection,
                a.due_date,
                due,
                Some(a.principal_fen),
            ));
            for g in &facts.guarantor_ids {
                out.push(RequiredNotice {
                    kind: NoticeKind::GuaranteePerformance,
                    addressee_kind: AddresseeKind::Guarantor,
                    addressee_id: g.clone(),
                    reference_date: a.due_date,
                    due_date: due,
                    amount_fen: Some(a.principal_fen),
                });
            }
        }
        if a.interest_fen > 0 {
            let due = calendar.add_working_days(a.due_date, 5)?;
            out.push(borrower(
                NoticeKind::InterestCollection,
                a.due_date,
                due,
                Some(a.interest_fen),
            ));
        }
        if a.principal_fen > 0 || a.interest_fen > 0 {
            out.push(RequiredNotice {
                kind: NoticeKind::DefaultReport,
                addressee_kind: AddresseeKind::Branch,
                addressee_id: facts.organisation_id.clone(),
                reference_date: a.due_date,
                due_date: today.min(calendar.on_or_after(a.due_date)?),
                amount_fen: Some(a.principal_fen + a.interest_fen),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AnnualRate,
        calendar::CalendarYear,
        ledger::RepaymentMethod,
        position::{Change, PenaltyTerms, position},
        schedule::{DayCount, Frequency, ScheduleTerms, generate},
    };

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a valid date")
    }

    fn setup() -> (ScheduleTerms, NoticeFacts, WorkingCalendar) {
        let t = ScheduleTerms {
            principal_fen: 1_200_000,
            annual_rate: AnnualRate::parse("r", "6").expect("rate"),
            method: RepaymentMethod::EqualPrincipal,
            start_date: d(2025, 9, 26),
            maturity_date: d(2026, 9, 26),
            frequency: Frequency::Monthly,
            repayment_day: None,
            day_count: DayCount::Act360,
            custom: Vec::new(),
        };
        let facts = NoticeFacts {
            borrower_id: "b".into(),
            officer_id: "o".into(),
            organisation_id: "org".into(),
            guarantor_ids: vec!["g1".into(), "g2".into()],
            maturity_date: t.maturity_date,
        };
        (t, facts, WorkingCalendar::new(&CalendarYear::shipped()))
    }

    fn kinds(n: &[RequiredNotice]) -> Vec<(NoticeKind, &str, NaiveDate)> {
        n.iter()
            .map(|r| (r.kind, r.addressee_id.as_str(), r.reference_date))
            .collect()
    }

    #[test]
    fn the_interest_reminder_starts_ten_working_days_before_the_date() {
        let (t, facts, cal) = setup();
        // The first interest date is Sun 26 Oct 2025; ten working days before it is Mon 13 Oct.
        let before =
            position(&t, &PenaltyTerms::default(), &[], d(2025, 10, 12)).expect("position");
        let quiet = required(&facts, &before, &cal, d(2025, 10, 12)).expect("notices");
        assert!(
            quiet.iter().all(|n| n.kind != NoticeKind::InterestReminder),
            "{quiet:?}"
        );
        let p = position(&t, &PenaltyTerms::default(), &[], d(2025, 10, 13)).expect("position");
        let due = required(&facts, &p, &cal, d(2025, 10, 13)).expect("notices");
        let reminder = due
            .iter()
            .find(|n| n.kind == NoticeKind::InterestReminder)
            .expect("a reminder");
        assert_eq!(
            (reminder.reference_date, reminder.due_date),
            (d(2025, 10, 26), d(2025, 10, 13))
        );
    }

    #[test]
    fn unpaid_principal_brings_collection_guarantee_and_default_notices() {
        let (t, facts, cal) = setup();
        let p = position(&t, &PenaltyTerms::default(), &[], d(2025, 10, 27)).expect("position");
        let n = required(&facts, &p, &cal, d(2025, 10, 27)).expect("notices");
        let due_26 = d(2025, 10, 26);
        for expected in [
            (NoticeKind::DueDateCheck, "o", due_26),
            (NoticeKind::PrincipalCollection, "b", due_26),
            (NoticeKind::GuaranteePerformance, "g1", due_26),
            (NoticeKind::GuaranteePerformance, "g2", due_26),
            (NoticeKind::InterestCollection, "b", due_26),
            (NoticeKind::DefaultReport, "org", due_26),
        ] {
            assert!(
                kinds(&n).contains(&expected),
                "{expected:?} missing from {:?}",
                kinds(&n)
            );
        }
        // Within 10 working days after Sun 26 Oct 2025: Mon 27 Oct … Fri 7 Nov.
        let collection = n
            .iter()
            .find(|x| x.kind == NoticeKind::PrincipalCollection)
            .expect("collection");
        assert_eq!(collection.due_date, d(2025, 11, 7));
        let interest = n
            .iter()
            .find(|x| x.kind == NoticeKind::InterestCollection)
            .expect("interest");
        assert_eq!(interest.due_date, d(2025, 10, 31));
    }

    #[test]
    fn a_paid_instalment_needs_no_collection_and_evaluation_is_repeatable() {
        let (t, facts, cal) = setup();
        let s = generate(&t).expect("schedule");
        let paid = [Change::Repayment {
            date: s[0].due_date,
            amount_fen: s[0].total_fen,
        }];
        let p = position(&t, &PenaltyTerms::default(), &paid, d(2025, 10, 27)).expect("position");
        let n = required(&facts, &p, &cal, d(2025, 10, 27)).expect("notices");
        assert!(n.iter().all(|x| !matches!(
            x.kind,
            NoticeKind::PrincipalCollection | NoticeKind::DefaultReport
        )));
        assert_eq!(
            n,
            required(&facts, &p, &cal, d(2025, 10, 27)).expect("notices")
        );
    }

    #[test]
    fn the_maturity_notice_comes_one_month_before_maturity() {
        let (t, facts, cal) = setup();
        let changes: Vec<Change> = generate(&t)
            .expect("schedule")
            .iter()
            .take(11)
            .map(|i| Change::Repayment {
                date: i.due_date,
                amount_fen: i.total_fen,
            })
            .collect();
        let early =
            position(&t, &PenaltyTerms::default(), &changes, d(2026, 8, 25)).expect("position");
        assert!(
            required(&facts, &early, &cal, d(2026, 8, 25))
                .expect("notices")
                .iter()
                .all(|n| n.kind != NoticeKind::MaturityNotice)
        );
        let p = position(&t, &PenaltyTerms::default(), &changes, d(2026, 8, 26)).expect("position");
        let n = required(&facts, &p, &cal, d(2026, 8, 26)).expect("notices");
        assert!(n.iter().any(|x| x.kind == NoticeKind::MaturityNotice && x.reference_date == d(2026, 9, 26)));
    }

    #[test]
    fn statuses_only_move_forward() {
        assert!(NoticeStatus::Pending.may_become(NoticeStatus::Sent));
        assert!(NoticeStatus::Sent.may_become(NoticeStatus::Acknowledged));
        assert!(!NoticeStatus::Acknowledged.may_become(NoticeStatus::Pending));
        assert!(!NoticeStatus::Sent.may_become(NoticeStatus::Pending));
    }
}
