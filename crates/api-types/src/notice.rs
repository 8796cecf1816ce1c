//! Statutory notices on the wire.

use chrono::{DateTime, NaiveDate, Utc};
use loanwatch_domain::notice::{AddresseeKind, NoticeKind, NoticeStatus};
use serde::{Deserialize, Serialize};

/// Printable text of a notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticeText {
    /// Chinese (zh-CN).
    pub zh_cn: String,
    /// English.
    pub en: String,
}

/// A notice to send, with who acted on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notice {
    /// Id.
    pub id: String,
    /// The loan.
    pub loan_id: String,
    /// What it is.
    pub kind: NoticeKind,
    /// To whom.
    pub addressee_kind: AddresseeKind,
    /// The addressee's id (borrower, guarantor, officer or organisation).
    pub addressee_id: String,
    /// The date it is about (maturity or an instalment's due date).
    pub reference_date: NaiveDate,
    /// By when it must go out.
    pub due_date: NaiveDate,
    /// The amount concerned, in fen.
    pub amount_fen: Option<i64>,
    /// Pending, sent or acknowledged.
    pub status: NoticeStatus,
    /// Responsible officer.
    pub officer_id: String,
    /// Booking organisation.
    pub organisation_id: String,
    /// When the job created it.
    pub created_at: DateTime<Utc>,
    /// Who last changed its status.
    pub acted_by: Option<String>,
    /// When.
    pub acted_at: Option<DateTime<Utc>>,
    /// Remark (how it was sent, what the addressee said).
    pub note: Option<String>,
    /// Printable text (single notices only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<NoticeText>,
}

/// A status change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateNotice {
    /// `sent` or `acknowledged`; statuses only move forward.
    pub status: NoticeStatus,
    /// How it was sent, or what the addressee said.
    #[serde(default)]
    pub note: Option<String>,
}
