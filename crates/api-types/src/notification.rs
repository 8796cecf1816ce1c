//! Notifications to members of staff: overdue work escalated to a supervisor, incident reports
//! waiting for a signature, warnings raised or escalated.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Something a member of staff is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Id.
    pub id: String,
    /// What it is about: `task.overdue`, `incident.to_sign`, `incident.signed`,
    /// `warning.raised`, `warning.escalated`.
    pub kind: String,
    /// The kind of record it is about: `task`, `incident_report` or `warning`.
    pub subject_type: String,
    /// That record's id.
    pub subject_id: String,
    /// A sentence a person can read.
    pub message: String,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it was read, if it was.
    pub read_at: Option<DateTime<Utc>>,
}
