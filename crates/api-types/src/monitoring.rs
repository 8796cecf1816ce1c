//! Monitoring and early warning: parties and accounts, fund transfers, financial statements,
//! external signals, rule-set versions, warnings and health checks.

use chrono::{DateTime, NaiveDate, Utc};
use loanwatch_domain::monitoring::{
    Relation, Tier,
    flow::PartyKind,
    health::{Check, Grade},
    signals::SignalKind,
    warning::{WarningAction, WarningStatus},
};
use serde::{Deserialize, Serialize};

/// A party to register or update: one of our borrowers, a related party, a supplier…
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutParty {
    /// Name.
    pub name: String,
    /// Company or individual.
    pub kind: PartyKind,
    /// Category (`real_estate`, `securities`, `underground_banking`, `manufacturing`…); the rule
    /// set says which categories are restricted.
    #[serde(default)]
    pub category: Option<String>,
    /// Set when this party is one of our borrowers.
    #[serde(default)]
    pub borrower_id: Option<String>,
}

/// A party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Party {
    /// The data provider's key: credit code, ID number, customer number.
    pub id: String,
    /// Name.
    pub name: String,
    /// Company or individual.
    pub kind: PartyKind,
    /// Category, if known.
    pub category: Option<String>,
    /// The borrower this party is, if any.
    pub borrower_id: Option<String>,
    /// First registered.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One related party of a borrower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RelatedParty {
    /// A registered party.
    pub party_id: String,
    /// How it is related.
    pub relation: Relation,
}

/// The whole list of a borrower's related parties (replaces the previous list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutRelatedParties {
    /// Related parties, at most 1,000.
    pub parties: Vec<RelatedParty>,
}

/// A borrower's place in the money's map: the party it is, its related parties, their accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BorrowerParties {
    /// The borrower.
    pub borrower_id: String,
    /// The party that is the borrower, once registered.
    pub party: Option<Party>,
    /// Related parties.
    pub related: Vec<RelatedParty>,
    /// Accounts of the borrower and its related parties.
    pub accounts: Vec<Account>,
}

/// An account to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutAccount {
    /// The holder: a registered party.
    pub party_id: String,
    /// The bank holding it; absent for this bank.
    #[serde(default)]
    pub bank: Option<String>,
}

/// An account whose holder is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    /// Account number.
    pub account_no: String,
    /// Holder.
    pub party_id: String,
    /// Bank, if not this one.
    pub bank: Option<String>,
    /// Registered.
    pub created_at: DateTime<Utc>,
}

/// One movement of money as the source system reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    /// The source system's transaction id: resending it is safe.
    pub id: String,
    /// When it was booked.
    pub booked_at: DateTime<Utc>,
    /// Paying account.
    pub from_account: String,
    /// Receiving account. At least one of the two must be registered.
    pub to_account: String,
    /// Amount, fen, positive.
    pub amount_fen: i64,
    /// The loan whose proceeds paid it; the paying account must be the loan's borrower's.
    #[serde(default)]
    pub loan_id: Option<String>,
    /// Free text from the source (purpose, remark).
    #[serde(default)]
    pub memo: Option<String>,
}

/// A batch of transfers, at most 10,000.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransferBatch {
    /// The transfers, in any order.
    pub transfers: Vec<NewTransfer>,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferBatchResult {
    /// Transfers stored now.
    pub accepted: u64,
    /// Transfers already stored with the same content (a resend).
    pub replayed: u64,
    /// Warnings the new transfers raised (new ones only; a known warning is not repeated).
    pub warnings: Vec<Warning>,
}

/// A rule-set version to store as a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRuleSet {
    /// The definition: `flow`, `ratios`, `signals`, `actions`; what is left out takes the
    /// default. Unknown fields are refused.
    pub definition: serde_json::Value,
    /// Why this version.
    #[serde(default)]
    pub note: Option<String>,
}

/// Activating a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActivateRuleSet {
    /// First business day it applies: today or later.
    pub active_from: NaiveDate,
}

/// A version of the warning rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleSetVersion {
    /// Version number.
    pub version: i32,
    /// The whole definition, defaults filled in.
    pub definition: serde_json::Value,
    /// Why this version.
    pub note: Option<String>,
    /// `draft`, `scheduled` (activated from a later day), `active` (in force today) or
    /// `superseded`.
    pub status: String,
    /// First day it applies, once activated.
    pub active_from: Option<NaiveDate>,
    /// Who stored it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who activated it.
    pub activated_by: Option<String>,
}

/// A backtest: what a version would have raised over stored history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// First day of the period (default: 90 days before `to`).
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Last day (default: today).
    #[serde(default)]
    pub to: Option<NaiveDate>,
}

/// What a version would have raised, next to what the version in force did raise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Backtest {
    /// The version tested.
    pub version: i32,
    /// Period.
    pub from: NaiveDate,
    /// Period.
    pub to: NaiveDate,
    /// Transfers replayed.
    pub transfers: u64,
    /// Warnings it would raise (one per borrower, rule and month), by rule and tier.
    pub would_raise: Vec<BacktestCount>,
    /// The same count for the version in force on `to`, for comparison.
    pub in_force: Vec<BacktestCount>,
    /// Up to 100 of the warnings it would raise, as examples.
    pub examples: Vec<BacktestHit>,
}

/// Warnings of one rule and tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacktestCount {
    /// Rule.
    pub rule: String,
    /// Tier.
    pub tier: Tier,
    /// How many.
    pub count: u64,
}

/// One warning a backtest would raise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacktestHit {
    /// Borrower.
    pub borrower_id: String,
    /// Loan.
    pub loan_id: String,
    /// Rule.
    pub rule: String,
    /// Tier.
    pub tier: Tier,
    /// Day of the fact.
    pub on: NaiveDate,
    /// Why.
    pub detail: String,
}

/// A warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    /// Id.
    pub id: String,
    /// Borrower.
    pub borrower_id: String,
    /// The loan it concerns, if one.
    pub loan_id: Option<String>,
    /// The rule that raised it (`large_transfer`, `flow_back`, …).
    pub rule: String,
    /// How serious.
    pub tier: Tier,
    /// The month it is kept once for, `YYYY-MM`.
    pub period: String,
    /// The rule-set version that raised it.
    pub rule_version: i32,
    /// Business day of the fact.
    pub raised_on: NaiveDate,
    /// Why, for a person.
    pub detail: String,
    /// The facts behind it: transfer ids, `statement:{period}`, `signal:{id}`,
    /// `collateral:{id}`, `loan:{id}` (a workflow rule's loan, or the loan whose proceeds sit
    /// unused), `settlement:{YYYY-MM}:{fen}` (each month's settlement volume compared).
    pub facts: Vec<String>,
    /// Where it stands.
    pub status: WarningStatus,
    /// The task it created, if any.
    pub task_id: Option<String>,
    /// Why it was resolved.
    pub resolution: Option<String>,
    /// Optimistic-concurrency version: send it back with an action.
    pub version: i32,
    /// Raised.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A warning with its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WarningDetail {
    /// The warning.
    #[serde(flatten)]
    pub warning: Warning,
    /// Its steps, oldest first.
    pub history: Vec<WarningEvent>,
}

/// One step of a warning's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WarningEvent {
    /// `raise`, `acknowledge`, `escalate`, `resolve`.
    pub action: String,
    /// Who: `user:<id>`, `client:<id>` or `system`.
    pub actor: String,
    /// Before.
    pub from_status: WarningStatus,
    /// After.
    pub to_status: WarningStatus,
    /// Comment or resolution.
    pub comment: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// An action on a warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WarningActionRequest {
    /// What to do.
    pub action: WarningAction,
    /// The version last read (stale → 409).
    pub version: i32,
    /// A comment; for `resolve`, the reason (required).
    #[serde(default)]
    pub comment: Option<String>,
}

/// One period's financial statements, fen: the figures of the balance sheet, income statement
/// and cash-flow statement the ratios use. Assets, liabilities, inventory, revenue and interest
/// are not negative; profits and cash flow may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutStatement {
    /// Current assets.
    pub current_assets: i64,
    /// Inventory (part of current assets).
    pub inventory: i64,
    /// Total assets.
    pub total_assets: i64,
    /// Current liabilities.
    pub current_liabilities: i64,
    /// Total liabilities.
    pub total_liabilities: i64,
    /// Revenue of the period.
    pub revenue: i64,
    /// Net profit of the period.
    pub net_profit: i64,
    /// Profit before tax.
    pub profit_before_tax: i64,
    /// Interest expense.
    pub interest_expense: i64,
    /// Net cash flow from operating activities.
    pub operating_cash_flow: i64,
}

/// A stored period's statements and the ratios they give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    /// The borrower.
    pub borrower_id: String,
    /// `2026` (a year), `2026Q2` (a quarter) or `2026-06` (a month).
    pub period: String,
    /// The figures.
    pub figures: PutStatement,
    /// Each ratio of the period as an exact decimal (four places); absent when its denominator
    /// is zero or, for growth, there is no earlier period.
    pub ratios: std::collections::BTreeMap<String, Option<String>>,
    /// Who recorded it last.
    pub recorded_by: String,
    /// Last recorded.
    pub updated_at: DateTime<Utc>,
}

/// What storing a statement did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementResult {
    /// The statement as stored.
    pub statement: Statement,
    /// Whether the period was new (false: the figures were restated).
    pub created: bool,
    /// Warnings it raised (new ones only).
    pub warnings: Vec<Warning>,
}

/// A fact the bank's data provider reported about a borrower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSignal {
    /// The provider's id of the fact: resending it is safe.
    pub id: String,
    /// The borrower it is about.
    pub borrower_id: String,
    /// What happened.
    pub kind: SignalKind,
    /// When it happened (not in the future, not before 2000).
    pub occurred_on: NaiveDate,
    /// An amount, fen, when the fact has one (claim, arrears, debt, value); required for
    /// `other_borrowing` (the debt) and `collateral_revalued` (the item's value now).
    #[serde(default)]
    pub amount_fen: Option<i64>,
    /// The provider's description (case number, court, new name…).
    #[serde(default)]
    pub detail: Option<String>,
    /// The collateral item a `collateral_seized` or `collateral_revalued` report is about:
    /// registered under the borrower or securing one of its loans. Absent for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collateral_id: Option<String>,
}

/// A batch of signals, at most 10,000.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignalBatch {
    /// The signals, in any order.
    pub signals: Vec<NewSignal>,
}

/// A stored signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signal {
    /// The provider's id of the fact.
    pub id: String,
    /// The borrower it is about.
    pub borrower_id: String,
    /// What happened.
    pub kind: SignalKind,
    /// When it happened.
    pub occurred_on: NaiveDate,
    /// An amount, fen, when the fact has one.
    pub amount_fen: Option<i64>,
    /// The provider's description.
    pub detail: Option<String>,
    /// The collateral item it is about, for a collateral signal.
    pub collateral_id: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// What a batch of signals did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignalBatchResult {
    /// Signals stored now.
    pub accepted: u64,
    /// Signals already stored with the same content (a resend).
    pub replayed: u64,
    /// Warnings the new signals raised that the caller may see (new ones only).
    pub warnings: Vec<Warning>,
}

/// A borrower's health check (体检): every rule of the rule set in force, scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BorrowerHealth {
    /// The borrower.
    pub borrower_id: String,
    /// The business day checked.
    pub as_of: NaiveDate,
    /// 0–100: 100 less 40, 20, 10 or 5 for each rule broken at red, orange, yellow or blue.
    pub score: u32,
    /// The score in words.
    pub grade: Grade,
    /// The most serious tier among the rules broken.
    pub worst_tier: Option<Tier>,
    /// The rule-set version applied.
    pub rule_version: i32,
    /// Every rule, with how it came out and why.
    pub checks: Vec<Check>,
    /// When it was computed: by the nightly batch, or on the last new fact about the borrower.
    pub computed_at: DateTime<Utc>,
}
