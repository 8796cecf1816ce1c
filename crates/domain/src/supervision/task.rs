//! The life of a supervision task: planned → assigned → in progress → submitted → approved,
//! returned (back to the officer, whose resubmission keeps the history) or rejected. Review
//! levels are configurable: a task is approved when the last level approves. Nobody reviews
//! their own work.

use thiserror::Error;

text_enum!(
    /// What a task is.
    TaskKind {
        /// On-site inspection (现场检查).
        OnSiteInspection = "on_site_inspection",
        /// On-site check of collateral: ownership, insurance, condition.
        CollateralCheck = "collateral_check",
        /// Debt confirmation (债权核对) with borrower and guarantors.
        DebtConfirmation = "debt_confirmation",
        /// Phone follow-up.
        PhoneFollowUp = "phone_follow_up",
        /// Periodic inspection report.
        Report = "report",
        /// Work log entry (工作日志).
        WorkLog = "work_log",
        /// Major incident report (重大突发事件报告).
        IncidentReport = "incident_report",
        /// Follow-up of a risk warning.
        WarningFollowUp = "warning_follow_up",
    }
);

text_enum!(
    /// Where a task stands.
    TaskStatus {
        /// Planned, nobody assigned.
        Planned = "planned",
        /// Assigned to an officer.
        Assigned = "assigned",
        /// The officer is working on it.
        InProgress = "in_progress",
        /// Submitted for review.
        Submitted = "submitted",
        /// Sent back to the officer with comments.
        Returned = "returned",
        /// Approved at every review level.
        Approved = "approved",
        /// Rejected: closed without approval.
        Rejected = "rejected",
        /// Replaced by a re-plan (the loan's class or mode changed) before anyone worked on it.
        Superseded = "superseded",
    }
);

/// Who hears of a task overdue in an organisation: the nearest people above it with the first
/// roles, or, where the chain has none, with the second.
pub const ESCALATE_TO: [&[crate::people::Role]; 2] = [
    &[crate::people::Role::Supervisor],
    &[
        crate::people::Role::BranchHead,
        crate::people::Role::RiskManager,
        crate::people::Role::HeadOffice,
    ],
];

impl TaskStatus {
    /// Approved, rejected or superseded: nothing more happens to it.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected | Self::Superseded)
    }
}

/// What someone does to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAction {
    /// Give the task to an officer.
    Assign { assignee: String },
    /// The assignee starts (or resumes after a return).
    Start,
    /// The assignee submits for review.
    Submit,
    /// A reviewer decides.
    Review(ReviewOutcome),
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewOutcome {
    /// Approve at the current level.
    Approve,
    /// Send back for rework.
    Return,
    /// Close without approval.
    Reject,
}

/// A transition the lifecycle does not allow, or an actor who may not make it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaskError {
    /// The action does not apply in this status.
    #[error("a {status} task cannot be {action}")]
    NotAllowed {
        status: TaskStatus,
        action: &'static str,
    },
    /// Only the assignee may do this.
    #[error("only the assigned officer may {0}")]
    NotAssignee(&'static str),
    /// The author may not review their own work.
    #[error("nobody reviews their own work")]
    OwnWork,
}

/// The state the lifecycle works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// Status.
    pub status: TaskStatus,
    /// The assigned officer.
    pub assignee: Option<String>,
    /// Review levels required (at least 1).
    pub review_levels: u32,
    /// Levels approved so far in the current submission.
    pub approvals: u32,
    /// Times the task was returned.
    pub returns: u32,
}

impl TaskState {
    /// A planned task needing `review_levels` approvals.
    pub fn planned(review_levels: u32) -> Self {
        Self {
            status: TaskStatus::Planned,
            assignee: None,
            review_levels: review_levels.max(1),
            approvals: 0,
            returns: 0,
        }
    }

    /// Applies `action` by `actor`; returns the new state or why not.
    pub fn apply(&self, action: &TaskAction, actor: &str) -> Result<Self, TaskError> {
        use TaskStatus as S;
        let mut next = self.clone();
        let refuse = |action| {
            Err(TaskError::NotAllowed {
                status: self.status,
                action,
            })
        };
        let is_assignee = self.assignee.as_deref() == Some(actor);
        match action {
            TaskAction::Assign { assignee } => match self.status {
                S::Planned | S::Assigned | S::InProgress | S::Returned => {
                    // Reassignment (an officer leaves, a customer is handed over) keeps the status.
                    next.assignee = Some(assignee.clone());
                    if self.status == S::Planned {
                        next.status = S::Assigned;
                    }
                }
                _ => return refuse("assigned"),
            },
            TaskAction::Start => match self.status {
                S::Assigned | S::Returned if is_assignee => next.status = S::InProgress,
                S::Assigned | S::Returned => return Err(TaskError::NotAssignee("start it")),
                _ => return refuse("started"),
            },
            TaskAction::Submit => match self.status {
                S::InProgress if is_assignee => {
                    next.status = S::Submitted;
                    next.approvals = 0;
                }
                S::InProgress => return Err(TaskError::NotAssignee("submit it")),
                _ => return refuse("submitted"),
            },
            TaskAction::Review(outcome) => {
                if self.status != S::Submitted {
                    return refuse("reviewed");
                }
                if is_assignee {
                    return Err(TaskError::OwnWork);
                }
                match outcome {
                    ReviewOutcome::Approve => {
                        next.approvals += 1;
                        if next.approvals >= self.review_levels {
                            next.status = S::Approved;
                        }
                    }
                    ReviewOutcome::Return => {
                        next.status = S::Returned;
                        next.returns += 1;
                        next.approvals = 0;
                    }
                    ReviewOutcome::Reject => next.status = S::Rejected,
                }
            }
        }
        Ok(next)
    }

    /// Whether the task is closed.
    pub fn is_closed(&self) -> bool {
        self.status.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICER: &str = "officer";
    const SUPERVISOR: &str = "supervisor";
    const RISK: &str = "risk";

    fn run(levels: u32, steps: &[(TaskAction, &str)]) -> Result<TaskState, TaskError> {
        steps
            .iter()
            .try_fold(TaskState::planned(levels), |s, (a, who)| s.apply(a, who))
    }

    fn assign() -> (TaskAction, &'static str) {
        (
            TaskAction::Assign {
                assignee: OFFICER.into(),
            },
            SUPERVISOR,
        )
    }

    #[test]
    fn a_task_goes_through_review_with_a_rework_round_trip() -> Result<(), TaskError> {
        let s = run(
            2,
            &[
                assign(),
                (TaskAction::Start, OFFICER),
                (TaskAction::Submit, OFFICER),
                (TaskAction::Review(ReviewOutcome::Return), SUPERVISOR),
                (TaskAction::Start, OFFICER),
                (TaskAction::Submit, OFFICER),
                (TaskAction::Review(ReviewOutcome::Approve), SUPERVISOR),
            ],
        )?;
        assert_eq!(
            (s.status, s.returns, s.approvals),
            (TaskStatus::Submitted, 1, 1),
            "one level of two approved"
        );
        let done = s.apply(&TaskAction::Review(ReviewOutcome::Approve), RISK)?;
        assert_eq!(done.status, TaskStatus::Approved);
        assert!(done.is_closed());
        Ok(())
    }

    #[test]
    fn every_forbidden_transition_is_refused() {
        use TaskStatus as S;
        let actions = [
            (
                TaskAction::Assign {
                    assignee: OFFICER.into(),
                },
                SUPERVISOR,
            ),
            (TaskAction::Start, OFFICER),
            (TaskAction::Submit, OFFICER),
            (TaskAction::Review(ReviewOutcome::Approve), SUPERVISOR),
            (TaskAction::Review(ReviewOutcome::Return), SUPERVISOR),
            (TaskAction::Review(ReviewOutcome::Reject), SUPERVISOR),
        ];
        // Which of the six actions each status allows, in the order above.
        let allowed = [
            (S::Planned, [true, false, false, false, false, false]),
            (S::Assigned, [true, true, false, false, false, false]),
            (S::InProgress, [true, false, true, false, false, false]),
            (S::Submitted, [false, false, false, true, true, true]),
            (S::Returned, [true, true, false, false, false, false]),
            (S::Approved, [false; 6]),
            (S::Rejected, [false; 6]),
            (S::Superseded, [false; 6]),
        ];
        for (status, row) in allowed {
            let state = TaskState {
                status,
                assignee: Some(OFFICER.into()),
                review_levels: 1,
                approvals: 0,
                returns: 0,
            };
            for ((action, who), ok) in actions.iter().zip(row) {
                assert_eq!(
                    state.apply(action, who).is_ok(),
                    ok,
                    "{status} × {action:?}"
                );
            }
        }
    }

    #[test]
    fn only_the_assignee_works_and_nobody_reviews_their_own_work() {
        let assigned = TaskState::planned(1)
            .apply(
                &TaskAction::Assign {
                    assignee: OFFICER.into(),
                },
                SUPERVISOR,
            )
            .expect("assigned");
        assert_eq!(
            assigned.apply(&TaskAction::Start, "someone else"),
            Err(TaskError::NotAssignee("start it"))
        );
        let submitted = assigned
            .apply(&TaskAction::Start, OFFICER)
            .and_then(|s| s.apply(&TaskAction::Submit, OFFICER))
            .expect("submitted");
        assert_eq!(
            submitted.apply(&TaskAction::Review(ReviewOutcome::Approve), OFFICER),
            Err(TaskError::OwnWork)
        );
        assert_eq!(
            submitted
                .apply(&TaskAction::Review(ReviewOutcome::Reject), SUPERVISOR)
                .map(|s| s.status),
            Ok(TaskStatus::Rejected)
        );
    }

    #[test]
    fn reassignment_keeps_the_work_where_it_is() {
        let s = run(1, &[assign(), (TaskAction::Start, OFFICER)]).expect("in progress");
        let moved = s
            .apply(
                &TaskAction::Assign {
                    assignee: "successor".into(),
                },
                SUPERVISOR,
            )
            .expect("reassigned");
        assert_eq!(
            (moved.status, moved.assignee.as_deref()),
            (TaskStatus::InProgress, Some("successor"))
        );
        assert!(
            moved.apply(&TaskAction::Submit, OFFICER).is_err(),
            "the former officer still acted"
        );
    }
}
