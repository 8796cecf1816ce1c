//! Supervision tasks on the wire.

use chrono::{DateTime, NaiveDate, Utc};
use loanwatch_domain::{
    ledger::ManagementMode,
    supervision::{
        TaskKind, TaskStatus,
        incident::{IncidentCategory, IncidentStatus},
    },
};
use serde::{Deserialize, Serialize};

/// One action in a task's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskEvent {
    /// What was done.
    pub action: String,
    /// Who did it.
    pub actor: String,
    /// Status before.
    pub from_status: TaskStatus,
    /// Status after.
    pub to_status: TaskStatus,
    /// Comment (a reviewer's reasons for a return).
    pub comment: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A supervision task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    /// Id.
    pub id: String,
    /// The loan.
    pub loan_id: String,
    /// The borrower.
    pub borrower_id: String,
    /// What to do.
    pub kind: TaskKind,
    /// The plan checkpoint it belongs to.
    pub checkpoint: NaiveDate,
    /// By when.
    pub due_date: NaiveDate,
    /// Where it stands.
    pub status: TaskStatus,
    /// The assigned officer.
    pub assignee_id: Option<String>,
    /// Approvals needed.
    pub review_levels: i32,
    /// Approvals so far in the current submission.
    pub approvals: i32,
    /// Times it was returned for rework.
    pub returns: i32,
    /// Booking organisation of the loan.
    pub organisation_id: String,
    /// Version for optimistic concurrency: send it back with an action.
    pub version: i32,
    /// Open and past its due date.
    pub overdue: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// History (single tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<TaskEvent>>,
}

/// An action on a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskActionRequest {
    /// `assign`, `start`, `submit`, `approve`, `return` or `reject`.
    pub action: String,
    /// The officer to assign (assign only).
    #[serde(default)]
    pub assignee_id: Option<String>,
    /// Comment; required for `return` and `reject`.
    #[serde(default)]
    pub comment: Option<String>,
    /// The version the caller saw; a stale version is refused with 409.
    pub version: i32,
}

/// The checklist of an inspection task, as the officer fills it in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inspection {
    /// The task.
    pub task_id: String,
    /// The template version the inspection started with.
    pub template: loanwatch_domain::supervision::checklist::Template,
    /// Answers by item key.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub answers: std::collections::BTreeMap<String, serde_json::Value>,
    /// Evidence attached, by item key (photos, videos).
    pub evidence: std::collections::BTreeMap<String, u32>,
    /// Whether a valid GPS check-in is recorded.
    pub checked_in: bool,
    /// What still blocks sign-off and submission.
    pub missing: Vec<crate::FieldError>,
    /// Who signed it off.
    pub signed_by: Option<String>,
    /// When.
    pub signed_at: Option<DateTime<Utc>>,
}

/// Answers to save (merged into those saved before; `null` clears one), and optionally the
/// officer's sign-off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaveInspection {
    /// Answers by item key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub answers: std::collections::BTreeMap<String, serde_json::Value>,
    /// Sign the inspection off; refused while anything is missing.
    #[serde(default)]
    pub sign: bool,
}

/// An officer's open tasks handed over to another officer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HandOver {
    /// The officer who takes the tasks over.
    pub to_officer_id: String,
}

/// What a hand-over moved.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandOverResult {
    /// Tasks moved.
    pub moved: u64,
}

/// A new work log entry (工作日志).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWorkLog {
    /// The borrower it is about.
    pub borrower_id: String,
    /// The task it belongs to, if any.
    #[serde(default)]
    pub task_id: Option<String>,
    /// `inspection`, `analysis`, `information` or `collection`.
    pub activity: String,
    /// When the activity took place; not in the future.
    pub activity_date: NaiveDate,
    /// What was done and found.
    pub content: String,
}

/// A work log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkLog {
    /// Id.
    pub id: String,
    /// Borrower.
    pub borrower_id: String,
    /// Task.
    pub task_id: Option<String>,
    /// Author.
    pub author_id: String,
    /// Kind of activity.
    pub activity: String,
    /// When it took place.
    pub activity_date: NaiveDate,
    /// Content.
    pub content: String,
    /// Due 2 working days after the activity.
    pub due_date: NaiveDate,
    /// Written after its due date.
    pub late: bool,
    /// The supervisor signs within 2 working days of the entry.
    pub sign_due_date: NaiveDate,
    /// Who signed.
    pub signed_by: Option<String>,
    /// When.
    pub signed_at: Option<DateTime<Utc>>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A borrower short of the monthly minimum of work log entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkLogShortfall {
    /// Borrower.
    pub borrower_id: String,
    /// Name.
    pub borrower_name: String,
    /// Entries in the month.
    pub entries: i64,
    /// The minimum.
    pub minimum: i64,
}

/// A major incident report (重大突发事件报告) to file: within 1 working day of learning of the
/// event; filing it is the reporter's signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateIncidentReport {
    /// Borrower.
    pub borrower_id: String,
    /// The loan it concerns; absent: all of the borrower's active loans.
    pub loan_id: Option<String>,
    /// What happened.
    pub category: IncidentCategory,
    /// When the institution learned of it (not in the future).
    pub learned_on: NaiveDate,
    /// What happened, and its effect on repayment.
    pub summary: String,
    /// Measures taken and proposed.
    pub measures: String,
    /// An ad hoc strategy adjustment: `focused` moves the loans to focused management (and
    /// re-plans them) once all three levels have signed.
    pub proposed_mode: Option<ManagementMode>,
}

/// A signature at the next level.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignIncidentReport {
    /// Opinion of the signer.
    pub comment: Option<String>,
}

/// One level's signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentSignature {
    /// 1: the reporter; 2: the supervisor; 3: the risk department or branch head.
    pub level: i32,
    /// Who signed.
    pub signer_id: String,
    /// In which role.
    pub signer_role: String,
    /// Their opinion.
    pub comment: Option<String>,
    /// When.
    pub signed_at: DateTime<Utc>,
}

/// A major incident report with its signatures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentReport {
    /// Id.
    pub id: String,
    /// Borrower.
    pub borrower_id: String,
    /// Loan, if one.
    pub loan_id: Option<String>,
    /// Who filed it.
    pub author_id: String,
    /// What happened.
    pub category: IncidentCategory,
    /// When the institution learned of it.
    pub learned_on: NaiveDate,
    /// Due 1 working day after `learned_on`.
    pub due_date: NaiveDate,
    /// Filed after its due date (in the institution's time zone).
    pub late: bool,
    /// What happened.
    pub summary: String,
    /// Measures.
    pub measures: String,
    /// Proposed strategy adjustment.
    pub proposed_mode: Option<ManagementMode>,
    /// Where it stands.
    pub status: IncidentStatus,
    /// Signatures so far, by level.
    pub signatures: Vec<IncidentSignature>,
    /// Loans whose management mode the last signature tightened.
    pub tightened_loans: Vec<String>,
    /// Filed at.
    pub created_at: DateTime<Utc>,
}
