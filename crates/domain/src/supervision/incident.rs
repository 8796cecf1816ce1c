//! Major incident reports (重大突发事件报告, RULEBOOK §4): filed within 1 working day of learning of
//! the event, signed at three levels — the reporting officer, their supervisor, and the risk
//! department or branch head — and able to tighten the loan's management mode (an ad hoc strategy
//! adjustment), which takes effect with the last signature.

use chrono::NaiveDate;
use thiserror::Error;

use crate::{
    calendar::{CalendarError, WorkingCalendar},
    ledger::ManagementMode,
    people::Role,
};

text_enum!(
    /// What happened.
    IncidentCategory {
        /// Change of legal representative, controlling shareholder or key managers.
        KeyPersonChange = "key_person_change",
        /// Lawsuit, arbitration or enforcement against the borrower or a guarantor.
        Litigation = "litigation",
        /// Production stopped or sharply reduced.
        ProductionHalt = "production_halt",
        /// Accident, fire, disaster.
        Accident = "accident",
        /// Sudden financial distress: arrears, frozen accounts, broken payment chains.
        FinancialDistress = "financial_distress",
        /// Collateral lost, damaged, seized or devalued.
        CollateralLoss = "collateral_loss",
        /// Anything else that threatens repayment.
        Other = "other",
    }
);

text_enum!(
    /// Where a report stands in its signatures.
    IncidentStatus {
        /// Filed and signed by the reporter; waiting for the supervisor.
        AwaitingSupervisor = "awaiting_supervisor",
        /// Signed by the supervisor; waiting for the risk department or branch head.
        AwaitingRisk = "awaiting_risk",
        /// Signed at all three levels.
        Signed = "signed",
    }
);

/// Working days from learning of an event to filing its report.
pub const REPORT_WORKING_DAYS: u32 = 1;

/// Signature levels: the reporter, the supervisor, the risk department or branch head.
pub const LEVELS: u32 = 3;

/// Why a signature or a report is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IncidentError {
    /// Every level is signed.
    #[error("the report is signed at every level already")]
    Complete,
    /// The signer's role does not sign at the next level.
    #[error("level {level} is signed by {expected}; a {role} may not sign it")]
    WrongRole {
        /// The next level.
        level: u32,
        /// Who signs it.
        expected: &'static str,
        /// The signer's role.
        role: Role,
    },
    /// The signer signed an earlier level.
    #[error("the three levels are signed by three different people")]
    SignedAlready,
    /// A proposed mode that does not tighten anything.
    #[error("an incident report can only tighten the management mode (to focused)")]
    NotATightening,
}

/// When the report of an event learned of on `learned_on` is due.
pub fn due_date(
    calendar: &WorkingCalendar,
    learned_on: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    calendar.add_working_days(learned_on, REPORT_WORKING_DAYS)
}

/// The status after `signatures` levels are signed.
pub fn status(signatures: u32) -> IncidentStatus {
    match signatures {
        0 | 1 => IncidentStatus::AwaitingSupervisor,
        2 => IncidentStatus::AwaitingRisk,
        _ => IncidentStatus::Signed,
    }
}

/// Who signs level 3: the risk department, the branch head, or head office.
pub const RISK_LEVEL: &[Role] = &[Role::RiskManager, Role::BranchHead, Role::HeadOffice];

/// Whether a role may sign a level: anyone who writes customer data files (level 1); level 2 is
/// the supervisor's (or anyone above who reviews work); level 3 the risk department's or the
/// branch head's (or head office).
pub fn may_sign(level: u32, role: Role) -> bool {
    match level {
        1 => role.writes_customer_data() && role != Role::Integrator,
        2 => role.reviews_work(),
        3 => RISK_LEVEL.contains(&role),
        _ => false,
    }
}

fn who_signs(level: u32) -> &'static str {
    match level {
        1 => "the reporter",
        2 => "a supervisor",
        _ => "a risk manager, branch head or head office",
    }
}

/// The level `signer` (with `role`) signs next, given who signed so far (level order).
pub fn next_signature(signed_by: &[&str], signer: &str, role: Role) -> Result<u32, IncidentError> {
    let level = signed_by.len() as u32 + 1;
    if level > LEVELS {
        return Err(IncidentError::Complete);
    }
    if signed_by.contains(&signer) {
        return Err(IncidentError::SignedAlready);
    }
    if !may_sign(level, role) {
        return Err(IncidentError::WrongRole {
            level,
            expected: who_signs(level),
            role,
        });
    }
    Ok(level)
}

/// Checks a proposed strategy adjustment: only a move to focused mode is a tightening.
pub fn check_proposed_mode(mode: Option<ManagementMode>) -> Result<(), IncidentError> {
    match mode {
        None | Some(ManagementMode::Focused) => Ok(()),
        Some(ManagementMode::Regular) => Err(IncidentError::NotATightening),
    }
}

/// The mode a loan moves to when a report proposing `proposed` is fully signed, if it changes.
pub fn tightened(
    current: ManagementMode,
    proposed: Option<ManagementMode>,
) -> Option<ManagementMode> {
    match (current, proposed) {
        (ManagementMode::Regular, Some(ManagementMode::Focused)) => Some(ManagementMode::Focused),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::CalendarYear;

    #[test]
    fn reports_are_due_one_working_day_after_learning() -> Result<(), CalendarError> {
        let cal = WorkingCalendar::new(&CalendarYear::shipped());
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).expect("date");
        // Learned on Wed 30 Sep 2026, the eve of National Day (1–7 Oct): due Thu 8 Oct.
        assert_eq!(due_date(&cal, d(9, 30))?, d(10, 8));
        // Learned on Sat 21 Nov: due Mon 23 Nov; on Mon 23 Nov: due Tue 24 Nov.
        assert_eq!(due_date(&cal, d(11, 21))?, d(11, 23));
        assert_eq!(due_date(&cal, d(11, 23))?, d(11, 24));
        Ok(())
    }

    #[test]
    fn three_different_people_sign_in_order() {
        assert_eq!(next_signature(&[], "o", Role::Officer), Ok(1));
        assert_eq!(next_signature(&["o"], "s", Role::Supervisor), Ok(2));
        assert_eq!(next_signature(&["o", "s"], "r", Role::RiskManager), Ok(3));
        assert_eq!(next_signature(&["o", "s"], "b", Role::BranchHead), Ok(3));
        assert_eq!(
            next_signature(&["o", "s", "r"], "h", Role::HeadOffice),
            Err(IncidentError::Complete)
        );
        assert_eq!(
            next_signature(&["o"], "o", Role::Supervisor),
            Err(IncidentError::SignedAlready)
        );
        assert_eq!(
            next_signature(&["o", "s"], "s", Role::RiskManager),
            Err(IncidentError::SignedAlready)
        );
        assert!(matches!(
            next_signature(&["o"], "o2", Role::Officer),
            Err(IncidentError::WrongRole { level: 2, .. })
        ));
        assert!(matches!(
            next_signature(&["o", "s"], "s2", Role::Supervisor),
            Err(IncidentError::WrongRole { level: 3, .. })
        ));
        for role in [Role::Auditor, Role::Admin, Role::Integrator] {
            assert!(
                next_signature(&[], "x", role).is_err(),
                "{role} files nothing"
            );
        }
    }

    #[test]
    fn status_follows_the_signatures() {
        assert_eq!(status(1), IncidentStatus::AwaitingSupervisor);
        assert_eq!(status(2), IncidentStatus::AwaitingRisk);
        assert_eq!(status(3), IncidentStatus::Signed);
    }

    #[test]
    fn only_a_move_to_focused_tightens() {
        use ManagementMode::{Focused, Regular};
        assert_eq!(
            check_proposed_mode(Some(Regular)),
            Err(IncidentError::NotATightening)
        );
        assert_eq!(check_proposed_mode(Some(Focused)), Ok(()));
        assert_eq!(check_proposed_mode(None), Ok(()));
        assert_eq!(tightened(Regular, Some(Focused)), Some(Focused));
        assert_eq!(tightened(Focused, Some(Focused)), None);
        assert_eq!(tightened(Regular, None), None);
    }
}
