//! Supervision (贷后监管): the plan of inspections, reports and checks a loan requires, and the
//! life of the tasks that carry them out. Every number is configuration ([`PlanConfig`]); the
//! defaults are the rulebook's (RULEBOOK §3).

pub mod checklist;
pub mod incident;
pub mod plan;
pub mod task;
pub mod worklog;

pub use plan::{PlanConfig, PlanLoan, PlannedTask, WaitingTask, plan, plan_available};
pub use task::{ReviewOutcome, TaskAction, TaskError, TaskKind, TaskState, TaskStatus};
