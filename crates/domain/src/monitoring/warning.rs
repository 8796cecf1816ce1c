//! A warning's life: open → acknowledged → resolved (with a reason) or escalated; an escalated
//! warning is resolved by someone who reviews work. Warnings are kept once per borrower, rule
//! and period (the calendar month of the fact), so the nightly batch and the real-time path can
//! both raise them without doubling.

use chrono::{Datelike, NaiveDate};
use thiserror::Error;

text_enum!(
    /// Where a warning stands.
    WarningStatus {
        /// Raised, nobody has looked yet.
        Open = "open",
        /// The officer has seen it and is working on it.
        Acknowledged = "acknowledged",
        /// Handed up: a supervisor or the risk department decides.
        Escalated = "escalated",
        /// Closed, with the reason.
        Resolved = "resolved",
    }
);

text_enum!(
    /// What can be done to a warning.
    WarningAction {
        /// "I have seen it."
        Acknowledge = "acknowledge",
        /// Hand it up.
        Escalate = "escalate",
        /// Close it, giving the reason.
        Resolve = "resolve",
    }
);

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WarningError {
    /// Not from this status.
    #[error("a warning that is {status} cannot be given {action}")]
    NotAllowed {
        /// The status.
        status: WarningStatus,
        /// The action.
        action: WarningAction,
    },
    /// Only someone who reviews work decides an escalated warning.
    #[error("an escalated warning is resolved by a supervisor, risk manager or branch head")]
    NeedsReviewer,
    /// Resolving needs a reason.
    #[error("resolving a warning needs a reason")]
    NoReason,
}

/// The status after `action`; `reviewer` says whether the actor reviews work.
pub fn apply(
    status: WarningStatus,
    action: WarningAction,
    reviewer: bool,
    reason: Option<&str>,
) -> Result<WarningStatus, WarningError> {
    use WarningAction as A;
    use WarningStatus as S;
    match (status, action) {
        (S::Open, A::Acknowledge) => Ok(S::Acknowledged),
        (S::Open | S::Acknowledged, A::Escalate) => Ok(S::Escalated),
        (S::Escalated, A::Resolve) if !reviewer => Err(WarningError::NeedsReviewer),
        (S::Open | S::Acknowledged | S::Escalated, A::Resolve) => {
            if reason.is_some_and(|r| !r.trim().is_empty()) {
                Ok(S::Resolved)
            } else {
                Err(WarningError::NoReason)
            }
        }
        _ => Err(WarningError::NotAllowed { status, action }),
    }
}

/// The deduplication period of a fact on `day`: its calendar month, `YYYY-MM`.
pub fn period(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_allows_exactly_its_transitions() {
        use WarningAction as A;
        use WarningStatus as S;
        for status in S::ALL {
            for action in A::ALL {
                let got = apply(*status, *action, true, Some("paid back"));
                let expected = match (status, action) {
                    (S::Open, A::Acknowledge) => Some(S::Acknowledged),
                    (S::Open | S::Acknowledged, A::Escalate) => Some(S::Escalated),
                    (S::Open | S::Acknowledged | S::Escalated, A::Resolve) => Some(S::Resolved),
                    _ => None,
                };
                assert_eq!(got.ok(), expected, "{status} + {action}");
            }
        }
    }

    #[test]
    fn resolving_needs_a_reason_and_an_escalated_warning_a_reviewer() {
        use WarningAction as A;
        use WarningStatus as S;
        assert_eq!(
            apply(S::Acknowledged, A::Resolve, false, Some("  ")),
            Err(WarningError::NoReason)
        );
        assert_eq!(
            apply(S::Escalated, A::Resolve, false, Some("ok")),
            Err(WarningError::NeedsReviewer)
        );
        assert_eq!(
            apply(S::Acknowledged, A::Resolve, false, Some("explained")),
            Ok(S::Resolved)
        );
    }

    #[test]
    fn the_period_is_the_calendar_month() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap_or_default();
        assert_eq!(period(d), "2026-03");
    }
}
