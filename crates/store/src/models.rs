//! Row structs: one per table, used both to read (`Queryable`, `Selectable`) and to insert.
//!
//! Enums are kept as their snake_case text (see `loanwatch_domain::text_enum!`); ids as
//! hyphenated UUID text; money as `i64` fen; timestamps as naive UTC.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::schema::*;

/// An organisation. `path` is `/<root id>/…/<own id>/`, so a subtree is a prefix match.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = organisations, treat_none_as_default_value = false)]
pub struct OrganisationRow {
    pub id: String,
    pub parent_id: Option<String>,
    pub kind: String,
    pub name: String,
    pub code: String,
    pub path: String,
    pub created_at: NaiveDateTime,
}

/// A person who signs in.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct UserRow {
    pub id: String,
    pub organisation_id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub active: bool,
    pub password_changed_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Changes to a user.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChangeset {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub organisation_id: Option<String>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<NaiveDateTime>,
}

/// An integrator's API client; the secret is stored as an argon2id hash.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_clients, treat_none_as_default_value = false)]
pub struct ApiClientRow {
    pub id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub name: String,
    pub organisation_id: String,
    pub access: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

/// A refresh token, stored as the SHA-256 of the opaque value.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens, treat_none_as_default_value = false)]
pub struct RefreshTokenRow {
    pub id: String,
    pub user_id: String,
    pub family_id: String,
    pub token_hash: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Failed sign-ins counted under one key (`user:<name>` or `addr:<ip>`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = login_throttle, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct ThrottleRow {
    pub key: String,
    pub failures: i32,
    pub window_start: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
}

/// A borrower group.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = borrower_groups, treat_none_as_default_value = false)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub lead_organisation_id: String,
    pub created_at: NaiveDateTime,
}

/// A borrower.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = borrowers, treat_none_as_default_value = false)]
pub struct BorrowerRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub credit_code: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub registered_capital_fen: Option<i64>,
    pub currency: String,
    pub registered_address: Option<String>,
    pub legal_representative: Option<String>,
    pub industry: Option<String>,
    pub business_scope: Option<String>,
    pub organisation_id: String,
    pub officer_id: String,
    pub group_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Changes to a borrower.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = borrowers)]
pub struct BorrowerChangeset {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub registered_capital_fen: Option<i64>,
    pub registered_address: Option<String>,
    pub legal_representative: Option<String>,
    pub industry: Option<String>,
    pub business_scope: Option<String>,
    pub organisation_id: Option<String>,
    pub officer_id: Option<String>,
    pub group_id: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

/// A guarantor.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = guarantors, treat_none_as_default_value = false)]
pub struct GuarantorRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub credit_code: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub organisation_id: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// A collateral item.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = collateral, treat_none_as_default_value = false)]
pub struct CollateralRow {
    pub id: String,
    pub borrower_id: String,
    pub owner_name: String,
    pub security_type: String,
    pub asset_type: String,
    pub description: String,
    pub appraised_value_fen: i64,
    pub currency: String,
    pub registration_no: Option<String>,
    pub insurance_expiry: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
}

/// A loan.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = loans, treat_none_as_default_value = false)]
pub struct LoanRow {
    pub id: String,
    pub contract_no: String,
    pub borrower_id: String,
    pub product: String,
    pub principal_fen: i64,
    pub currency: String,
    pub annual_rate: String,
    pub repayment_method: String,
    pub guarantee_method: String,
    pub purpose: String,
    pub counterparty: Option<String>,
    pub disbursement_date: NaiveDate,
    pub maturity_date: NaiveDate,
    pub class: String,
    pub management_mode: String,
    pub status: String,
    pub officer_id: String,
    pub organisation_id: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// `monthly` or `quarterly`.
    pub repayment_frequency: String,
    /// Fixed repayment day of the month, if any.
    pub repayment_day: Option<i32>,
    /// Day count of daily interest.
    pub day_count: String,
    /// JSON array of `loanwatch_domain::schedule::CustomRepayment` (custom method only).
    pub custom_schedule: Option<String>,
    /// The rate as contracted (`annual_rate` follows rate changes).
    pub contract_annual_rate: String,
    /// The maturity as contracted (`maturity_date` follows extensions).
    pub contract_maturity_date: NaiveDate,
    /// From when the proceeds were found diverted (higher penalty uplift).
    pub diverted_from: Option<NaiveDate>,
}

/// Changes to a loan record (management fields, and effects of events).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = loans)]
pub struct LoanChangeset {
    pub annual_rate: Option<String>,
    pub guarantee_method: Option<String>,
    pub maturity_date: Option<NaiveDate>,
    pub class: Option<String>,
    pub management_mode: Option<String>,
    pub status: Option<String>,
    pub officer_id: Option<String>,
    pub organisation_id: Option<String>,
    pub diverted_from: Option<Option<NaiveDate>>,
    pub updated_at: Option<NaiveDateTime>,
}

/// A loan with its borrower's name, as lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoanListing {
    pub loan: LoanRow,
    pub borrower_name: String,
}

/// A guarantor linked to a loan.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = loan_guarantors, treat_none_as_default_value = false)]
pub struct LoanGuarantorRow {
    pub loan_id: String,
    pub guarantor_id: String,
    pub amount_fen: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// A collateral item linked to a loan.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = loan_collateral, treat_none_as_default_value = false)]
pub struct LoanCollateralRow {
    pub loan_id: String,
    pub collateral_id: String,
    pub created_at: NaiveDateTime,
}

/// An event in a loan's history; `payload` is the JSON of
/// `loanwatch_domain::ledger::EventPayload`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = loan_events, treat_none_as_default_value = false)]
pub struct LoanEventRow {
    pub id: String,
    pub loan_id: String,
    pub kind: String,
    pub business_date: NaiveDate,
    pub amount_fen: Option<i64>,
    pub currency: Option<String>,
    pub payload: String,
    pub note: Option<String>,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
}

/// One link of the audit chain.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct AuditRow {
    pub seq: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub request_id: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A remembered `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys, treat_none_as_default_value = false)]
pub struct IdempotencyRow {
    pub actor: String,
    pub key: String,
    pub request_hash: String,
    pub status: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub created_at: NaiveDateTime,
}

/// One year of the working-day calendar; `document` is a `loanwatch_domain::calendar::CalendarYear`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = calendar_years, treat_none_as_default_value = false)]
pub struct CalendarYearRow {
    pub year: i32,
    pub document: String,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
}

/// A statutory notice.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = notices, treat_none_as_default_value = false)]
pub struct NoticeRow {
    pub id: String,
    pub loan_id: String,
    pub kind: String,
    pub addressee_kind: String,
    pub addressee_id: String,
    pub reference_date: NaiveDate,
    pub due_date: NaiveDate,
    pub amount_fen: Option<i64>,
    pub status: String,
    pub officer_id: String,
    pub organisation_id: String,
    pub created_at: NaiveDateTime,
    pub acted_by: Option<String>,
    pub acted_at: Option<NaiveDateTime>,
    pub note: Option<String>,
}

/// A run of a daily job.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = job_runs, treat_none_as_default_value = false)]
pub struct JobRunRow {
    pub name: String,
    pub run_date: NaiveDate,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub detail: Option<String>,
}

/// Settings of a product; `settings` is a `loanwatch_domain::position::ProductSettings`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = products, treat_none_as_default_value = false)]
pub struct ProductRow {
    pub code: String,
    pub settings: String,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
}

/// A supervision task.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = tasks, treat_none_as_default_value = false)]
pub struct TaskRow {
    pub id: String,
    pub loan_id: String,
    pub borrower_id: String,
    pub kind: String,
    pub checkpoint: NaiveDate,
    pub due_date: NaiveDate,
    pub status: String,
    pub assignee_id: Option<String>,
    pub review_levels: i32,
    pub approvals: i32,
    pub returns: i32,
    pub organisation_id: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub escalated_at: Option<NaiveDateTime>,
}

/// One action in a task's history.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = task_events, treat_none_as_default_value = false)]
pub struct TaskEventRow {
    pub id: String,
    pub task_id: String,
    pub action: String,
    pub actor: String,
    pub from_status: String,
    pub to_status: String,
    pub comment: Option<String>,
    pub at: NaiveDateTime,
}

/// A version of a checklist template; `document` is a
/// `loanwatch_domain::supervision::checklist::Template`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = checklist_templates, treat_none_as_default_value = false)]
pub struct TemplateRow {
    pub code: String,
    pub version: i32,
    pub document: String,
    pub created_at: NaiveDateTime,
    pub created_by: String,
}

/// The inspection of a task. `answers` is a JSON object by item key; `evidence` a JSON object of
/// attached evidence counts by item key.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = inspections, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct InspectionRow {
    pub task_id: String,
    pub template_code: String,
    pub template_version: i32,
    pub answers: String,
    pub evidence: String,
    pub checked_in: bool,
    pub signed_by: Option<String>,
    pub signed_at: Option<NaiveDateTime>,
    pub started_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A work log entry.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = work_logs, treat_none_as_default_value = false)]
pub struct WorkLogRow {
    pub id: String,
    pub borrower_id: String,
    pub task_id: Option<String>,
    pub author_id: String,
    pub activity: String,
    pub activity_date: NaiveDate,
    pub content: String,
    pub due_date: NaiveDate,
    pub sign_due_date: NaiveDate,
    pub signed_by: Option<String>,
    pub signed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Something a member of staff is told.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications, treat_none_as_default_value = false)]
pub struct NotificationRow {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub subject_type: String,
    pub subject_id: String,
    pub message: String,
    pub created_at: NaiveDateTime,
    pub read_at: Option<NaiveDateTime>,
}

/// A major incident report.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_reports, treat_none_as_default_value = false)]
pub struct IncidentReportRow {
    pub id: String,
    pub borrower_id: String,
    pub loan_id: Option<String>,
    pub organisation_id: String,
    pub author_id: String,
    pub category: String,
    pub learned_on: NaiveDate,
    pub due_date: NaiveDate,
    pub summary: String,
    pub measures: String,
    pub proposed_mode: Option<String>,
    pub status: String,
    /// JSON array of loan ids.
    pub tightened_loans: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One level's signature on an incident report.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_signatures, treat_none_as_default_value = false)]
pub struct IncidentSignatureRow {
    pub report_id: String,
    pub level: i32,
    pub signer_id: String,
    pub signer_role: String,
    pub comment: Option<String>,
    pub signed_at: NaiveDateTime,
}

/// A borrower's registered site.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = borrower_sites, treat_none_as_default_value = false)]
pub struct SiteRow {
    pub id: String,
    pub borrower_id: String,
    pub name: String,
    pub datum: String,
    /// JSON of the geometry as captured.
    pub geometry: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// An officer's check-in and the verdict on it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = checkins, treat_none_as_default_value = false)]
pub struct CheckinRow {
    pub id: String,
    pub request_hash: String,
    pub task_id: String,
    pub borrower_id: String,
    pub officer_id: String,
    pub organisation_id: String,
    pub latitude: f64,
    pub longitude: f64,
    pub datum: String,
    pub wgs84_latitude: f64,
    pub wgs84_longitude: f64,
    pub accuracy_m: f64,
    pub provider: String,
    pub mock_location: bool,
    pub device_time: NaiveDateTime,
    pub fix_time: NaiveDateTime,
    pub sent_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
    pub checked_in_at: NaiveDateTime,
    pub site_id: Option<String>,
    pub distance_m: Option<f64>,
    /// JSON array of reasons.
    pub reasons: String,
    pub trusted: bool,
    pub checked_out_at: Option<NaiveDateTime>,
    /// The first answer, returned again on a replay.
    pub response: String,
}

/// A photo, video or document declared for a task.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = evidence, treat_none_as_default_value = false)]
pub struct EvidenceRow {
    pub id: String,
    pub request_hash: String,
    pub task_id: String,
    pub item_key: String,
    pub officer_id: String,
    pub kind: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub captured_at: NaiveDateTime,
    /// JSON of the capture metadata.
    pub capture: String,
    pub object_key: String,
    pub status: String,
    pub rejected_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// 64-bit perceptual hash, bit for bit.
    pub phash: Option<i64>,
    pub thumbnail_key: Option<String>,
    /// The storage's id of a multipart upload.
    pub upload_id: Option<String>,
    /// Part size of a multipart upload.
    pub part_bytes: Option<i64>,
    /// The registered device that signed the declaration.
    pub device_id: Option<String>,
    /// Its Ed25519 signature, base64.
    pub device_signature: Option<String>,
    /// Whether the signature verified at completion.
    pub signature_verified: Option<bool>,
}

/// An officer's phone and its Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = device_keys)]
pub struct DeviceKeyRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// 32 bytes, base64.
    pub public_key: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A link between two pieces of evidence found to be the same bytes or the same picture.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = evidence_reuse, treat_none_as_default_value = false)]
pub struct EvidenceReuseRow {
    pub evidence_id: String,
    pub other_id: String,
    /// `same_bytes` or `similar_image`.
    pub reason: String,
    pub distance: i32,
    pub found_at: NaiveDateTime,
}

/// A party money moves between.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = parties, treat_none_as_default_value = false)]
pub struct PartyRow {
    pub id: String,
    pub name: String,
    /// `company` or `individual`.
    pub kind: String,
    pub category: Option<String>,
    /// Set when the party is one of our borrowers.
    pub borrower_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A borrower's related party.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = party_relations, treat_none_as_default_value = false)]
pub struct PartyRelationRow {
    pub borrower_id: String,
    pub party_id: String,
    pub relation: String,
    pub created_at: NaiveDateTime,
}

/// An account whose holder is known.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts, treat_none_as_default_value = false)]
pub struct AccountRow {
    pub account_no: String,
    pub party_id: String,
    pub bank: Option<String>,
    pub created_at: NaiveDateTime,
}

/// One movement of money.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = fund_transfers, treat_none_as_default_value = false)]
pub struct TransferRow {
    pub id: String,
    pub booked_at: NaiveDateTime,
    pub from_account: String,
    pub to_account: String,
    pub from_party: String,
    pub to_party: String,
    pub amount_fen: i64,
    pub loan_id: Option<String>,
    pub memo: Option<String>,
    pub content_hash: String,
    pub received_at: NaiveDateTime,
}

/// A version of the warning rules.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = rule_sets, treat_none_as_default_value = false)]
pub struct RuleSetRow {
    pub version: i32,
    /// JSON of the definition.
    pub definition: String,
    pub note: Option<String>,
    pub active_from: Option<NaiveDate>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub activated_by: Option<String>,
    pub activated_at: Option<NaiveDateTime>,
}

/// A warning.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = warnings, treat_none_as_default_value = false)]
pub struct WarningRow {
    pub id: String,
    pub borrower_id: String,
    pub loan_id: Option<String>,
    pub organisation_id: String,
    pub rule: String,
    pub tier: String,
    pub period: String,
    pub rule_version: i32,
    pub raised_on: NaiveDate,
    pub detail: String,
    /// JSON array of the facts behind it.
    pub facts: String,
    pub status: String,
    pub task_id: Option<String>,
    pub resolution: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One step of a warning's life.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = warning_events, treat_none_as_default_value = false)]
pub struct WarningEventRow {
    pub id: String,
    pub warning_id: String,
    pub action: String,
    pub actor: String,
    pub from_status: String,
    pub to_status: String,
    pub comment: Option<String>,
    pub at: NaiveDateTime,
}

/// One period's financial statements of a borrower.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = statements, treat_none_as_default_value = false)]
pub struct StatementRow {
    pub borrower_id: String,
    pub period: String,
    pub current_assets: i64,
    pub inventory: i64,
    pub total_assets: i64,
    pub current_liabilities: i64,
    pub total_liabilities: i64,
    pub revenue: i64,
    pub net_profit: i64,
    pub profit_before_tax: i64,
    pub interest_expense: i64,
    pub operating_cash_flow: i64,
    pub recorded_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A fact reported by the data provider.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = signals, treat_none_as_default_value = false)]
pub struct SignalRow {
    pub id: String,
    pub borrower_id: String,
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub amount_fen: Option<i64>,
    pub detail: Option<String>,
    pub content_hash: String,
    pub received_at: NaiveDateTime,
    pub collateral_id: Option<String>,
}

/// A change of a loan's five-level class.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = loan_class_changes, treat_none_as_default_value = false)]
pub struct ClassChangeRow {
    pub id: String,
    pub loan_id: String,
    pub from_class: String,
    pub to_class: String,
    pub changed_on: NaiveDate,
    pub changed_by: String,
    pub at: NaiveDateTime,
}

/// A borrower's latest health check.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = borrower_health, treat_none_as_default_value = false)]
pub struct HealthRow {
    pub borrower_id: String,
    pub as_of: NaiveDate,
    pub score: i32,
    pub grade: String,
    pub worst_tier: Option<String>,
    pub rule_version: i32,
    pub checks: String,
    pub computed_at: NaiveDateTime,
}
