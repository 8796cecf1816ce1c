//! The ledger: borrowers, groups, guarantors, collateral, loans and loan events.

use chrono::{DateTime, NaiveDate, Utc};
use loanwatch_domain::{
    BorrowerId, CollateralId, Currency, EventId, GroupId, GuarantorId, LoanId, OrgId, UserId,
    ledger::{
        AssetType, EventKind, GuaranteeMethod, LoanClass, LoanStatus, ManagementMode, PartyKind,
        RepaymentMethod, SecurityType,
    },
    position::PrepaymentMode,
    schedule::{CustomRepayment, DayCount, Frequency},
};
use serde::{Deserialize, Serialize};

/// A new borrower. Enterprises need `credit_code`; individuals need `id_number`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateBorrower {
    /// Enterprise or individual.
    pub kind: PartyKind,
    /// Registered name of the enterprise, or the person's name.
    #[cfg_attr(feature = "openapi", schema(example = "杭州恒远机械制造有限公司"))]
    pub name: String,
    /// Unified social credit code (enterprises), checked with its check character.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "91350100M000100Y43"))]
    pub credit_code: Option<String>,
    /// Resident ID number (individuals), checked with its check digit.
    #[serde(default)]
    pub id_number: Option<String>,
    /// Contact phone: mobile or landline with area code.
    #[serde(default)]
    pub phone: Option<String>,
    /// Registered capital in fen (enterprises).
    #[serde(default)]
    pub registered_capital_fen: Option<i64>,
    /// Currency of the registered capital; CNY if absent.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// Registered address.
    #[serde(default)]
    pub registered_address: Option<String>,
    /// Legal representative (enterprises).
    #[serde(default)]
    pub legal_representative: Option<String>,
    /// Industry, e.g. `C34 通用设备制造业`.
    #[serde(default)]
    pub industry: Option<String>,
    /// Business scope (经营范围).
    #[serde(default)]
    pub business_scope: Option<String>,
    /// Booking organisation; the caller's own if absent.
    #[serde(default)]
    pub organisation_id: Option<OrgId>,
    /// Responsible officer (客户经理); an officer creating a borrower is its officer.
    #[serde(default)]
    pub officer_id: Option<UserId>,
    /// Group the borrower belongs to.
    #[serde(default)]
    pub group_id: Option<GroupId>,
}

/// Changes to a borrower; absent fields stay as they are. Identity numbers cannot change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateBorrower {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// New registered capital in fen.
    #[serde(default)]
    pub registered_capital_fen: Option<i64>,
    /// New registered address.
    #[serde(default)]
    pub registered_address: Option<String>,
    /// New legal representative.
    #[serde(default)]
    pub legal_representative: Option<String>,
    /// New industry.
    #[serde(default)]
    pub industry: Option<String>,
    /// New business scope.
    #[serde(default)]
    pub business_scope: Option<String>,
    /// New responsible officer (hand-over).
    #[serde(default)]
    pub officer_id: Option<UserId>,
    /// New group.
    #[serde(default)]
    pub group_id: Option<GroupId>,
}

/// A borrower. `id_number` and `phone` are masked for roles that do not need them in full.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Borrower {
    /// Id.
    pub id: BorrowerId,
    /// Enterprise or individual.
    pub kind: PartyKind,
    /// Name.
    pub name: String,
    /// Unified social credit code.
    pub credit_code: Option<String>,
    /// Resident ID number, masked (`110105********002X`) unless the role may see it.
    pub id_number: Option<String>,
    /// Phone, masked (`138****5678`) unless the role may see it.
    pub phone: Option<String>,
    /// Registered capital in fen.
    pub registered_capital_fen: Option<i64>,
    /// Currency of the registered capital.
    pub currency: Currency,
    /// Registered address.
    pub registered_address: Option<String>,
    /// Legal representative.
    pub legal_representative: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Business scope.
    pub business_scope: Option<String>,
    /// Booking organisation.
    pub organisation_id: OrgId,
    /// Responsible officer.
    pub officer_id: UserId,
    /// Group.
    pub group_id: Option<GroupId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new borrower group (集团客户).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateBorrowerGroup {
    /// Group name.
    pub name: String,
    /// The lead institution that manages the group; the caller's organisation if absent.
    #[serde(default)]
    pub lead_organisation_id: Option<OrgId>,
}

/// A borrower group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BorrowerGroup {
    /// Id.
    pub id: GroupId,
    /// Name.
    pub name: String,
    /// Lead organisation.
    pub lead_organisation_id: OrgId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A new guarantor (保证人).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateGuarantor {
    /// Enterprise or individual.
    pub kind: PartyKind,
    /// Name.
    pub name: String,
    /// Credit code (enterprises).
    #[serde(default)]
    pub credit_code: Option<String>,
    /// Resident ID number (individuals).
    #[serde(default)]
    pub id_number: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Organisation; the caller's own if absent.
    #[serde(default)]
    pub organisation_id: Option<OrgId>,
}

/// A guarantor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Guarantor {
    /// Id.
    pub id: GuarantorId,
    /// Enterprise or individual.
    pub kind: PartyKind,
    /// Name.
    pub name: String,
    /// Credit code.
    pub credit_code: Option<String>,
    /// Resident ID number, masked unless the role may see it.
    pub id_number: Option<String>,
    /// Phone, masked unless the role may see it.
    pub phone: Option<String>,
    /// Organisation.
    pub organisation_id: OrgId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A new collateral item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCollateral {
    /// The borrower whose loans it secures; it is booked where the borrower is.
    pub borrower_id: BorrowerId,
    /// Owner's name (may be a third party).
    pub owner_name: String,
    /// Mortgage or pledge.
    pub security_type: SecurityType,
    /// What it is.
    pub asset_type: AssetType,
    /// Description: address, model, certificate.
    pub description: String,
    /// Appraised value in fen.
    pub appraised_value_fen: i64,
    /// Currency; CNY if absent.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// Registration number of the mortgage or pledge (他项权证号).
    #[serde(default)]
    pub registration_no: Option<String>,
    /// When the insurance on the asset expires.
    #[serde(default)]
    pub insurance_expiry: Option<NaiveDate>,
}

/// Changes to a collateral item's papers: a renewed insurance policy, a new registration
/// certificate. Its value changes only through a `collateral_revalued` signal, which keeps the
/// appraisal on record for comparison.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateCollateral {
    /// When the renewed insurance expires.
    #[serde(default)]
    pub insurance_expiry: Option<NaiveDate>,
    /// Registration number of the mortgage or pledge (他项权证号).
    #[serde(default)]
    pub registration_no: Option<String>,
}

/// A collateral item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Collateral {
    /// Id.
    pub id: CollateralId,
    /// Borrower.
    pub borrower_id: BorrowerId,
    /// Owner.
    pub owner_name: String,
    /// Mortgage or pledge.
    pub security_type: SecurityType,
    /// Asset type.
    pub asset_type: AssetType,
    /// Description.
    pub description: String,
    /// Appraised value in fen.
    pub appraised_value_fen: i64,
    /// Currency.
    pub currency: Currency,
    /// Registration number.
    pub registration_no: Option<String>,
    /// Insurance expiry.
    pub insurance_expiry: Option<NaiveDate>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A new loan, booked at disbursement.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLoan {
    /// Contract number, unique in the institution.
    #[cfg_attr(feature = "openapi", schema(example = "JK2026-BJ01-000123"))]
    pub contract_no: String,
    /// Borrower.
    pub borrower_id: BorrowerId,
    /// Product name or code, e.g. `流动资金贷款`.
    pub product: String,
    /// Principal in fen, greater than zero.
    #[cfg_attr(feature = "openapi", schema(example = 500000000))]
    pub principal_fen: i64,
    /// Currency.
    pub currency: Currency,
    /// Nominal annual rate in percent as a decimal string, e.g. `"4.35"`.
    #[cfg_attr(feature = "openapi", schema(example = "4.35"))]
    pub annual_rate: String,
    /// Repayment method.
    pub repayment_method: RepaymentMethod,
    /// Guarantee method.
    pub guarantee_method: GuaranteeMethod,
    /// Agreed purpose of the proceeds (用途).
    pub purpose: String,
    /// Contractual counterparty of the proceeds (受托支付对象).
    #[serde(default)]
    pub counterparty: Option<String>,
    /// Disbursement business date.
    pub disbursement_date: NaiveDate,
    /// Contractual maturity, after the disbursement date.
    pub maturity_date: NaiveDate,
    /// Five-level class; `normal` if absent.
    #[serde(default)]
    pub class: Option<LoanClass>,
    /// Management mode; `regular` if absent.
    #[serde(default)]
    pub management_mode: Option<ManagementMode>,
    /// Responsible officer; the borrower's officer if absent.
    #[serde(default)]
    pub officer_id: Option<UserId>,
    /// `monthly` (default) or `quarterly`.
    #[serde(default)]
    pub repayment_frequency: Option<Frequency>,
    /// Fixed repayment day of the month (1–31); the disbursement day if absent.
    #[serde(default)]
    pub repayment_day: Option<u32>,
    /// Day count of daily interest; `act_360` if absent.
    #[serde(default)]
    pub day_count: Option<DayCount>,
    /// The principal repayments of a `custom` repayment method.
    #[serde(default)]
    pub custom_schedule: Option<Vec<CustomRepayment>>,
}

/// Changes to a loan's management; terms change only through events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateLoan {
    /// New five-level class.
    #[serde(default)]
    pub class: Option<LoanClass>,
    /// New management mode.
    #[serde(default)]
    pub management_mode: Option<ManagementMode>,
    /// New responsible officer.
    #[serde(default)]
    pub officer_id: Option<UserId>,
    /// The date from which the proceeds were found diverted from the agreed purpose
    /// (挤占挪用); overdue amounts bear the product's diversion uplift from then.
    #[serde(default)]
    pub diverted_from: Option<NaiveDate>,
}

/// A loan as it stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Loan {
    /// Id.
    pub id: LoanId,
    /// Contract number.
    pub contract_no: String,
    /// Borrower.
    pub borrower_id: BorrowerId,
    /// Borrower's name, for lists.
    pub borrower_name: String,
    /// Product.
    pub product: String,
    /// Principal in fen.
    pub principal_fen: i64,
    /// Currency.
    pub currency: Currency,
    /// Current annual rate in percent.
    pub annual_rate: String,
    /// Repayment method.
    pub repayment_method: RepaymentMethod,
    /// Current guarantee method.
    pub guarantee_method: GuaranteeMethod,
    /// Agreed purpose.
    pub purpose: String,
    /// Contractual counterparty of the proceeds.
    pub counterparty: Option<String>,
    /// Disbursement date.
    pub disbursement_date: NaiveDate,
    /// Current maturity date (after extensions).
    pub maturity_date: NaiveDate,
    /// Five-level class.
    pub class: LoanClass,
    /// Management mode.
    pub management_mode: ManagementMode,
    /// Active or settled.
    pub status: LoanStatus,
    /// Responsible officer.
    pub officer_id: UserId,
    /// Booking organisation.
    pub organisation_id: OrgId,
    /// When it was booked.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Instalment frequency.
    pub repayment_frequency: Frequency,
    /// Fixed repayment day of the month, if any.
    pub repayment_day: Option<u32>,
    /// Day count of daily interest.
    pub day_count: DayCount,
    /// Principal repayments of a custom schedule.
    pub custom_schedule: Option<Vec<CustomRepayment>>,
    /// From when the proceeds were found diverted, if they were.
    pub diverted_from: Option<NaiveDate>,
}

/// Links a guarantor to a loan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkGuarantor {
    /// The guarantor.
    pub guarantor_id: GuarantorId,
    /// Guaranteed amount in fen; the whole loan if absent.
    #[serde(default)]
    pub amount_fen: Option<i64>,
}

/// Links a collateral item to a loan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkCollateral {
    /// The collateral item.
    pub collateral_id: CollateralId,
}

/// What secures a loan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoanSecurity {
    /// Guarantors linked to the loan.
    pub guarantors: Vec<Guarantor>,
    /// Collateral linked to the loan.
    pub collateral: Vec<Collateral>,
}

/// A new event in a loan's history. Which fields are required depends on `kind`:
/// `disbursement` and `repayment` need `amount_fen` (and `currency`, the loan's if absent);
/// `prepayment` needs `amount_fen` and `prepayment_mode`;
/// `extension` needs `new_maturity_date`; `rate_change` needs `new_annual_rate`;
/// `guarantee_change` needs `new_guarantee_method`; `settlement` needs nothing more.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLoanEvent {
    /// What happened.
    pub kind: EventKind,
    /// The business date it happened on; not in the future.
    pub business_date: NaiveDate,
    /// Amount in fen (disbursement, repayment).
    #[serde(default)]
    pub amount_fen: Option<i64>,
    /// Currency of the amount.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// New maturity (extension).
    #[serde(default)]
    pub new_maturity_date: Option<NaiveDate>,
    /// New annual rate in percent (rate change), e.g. `"3.95"`.
    #[serde(default)]
    pub new_annual_rate: Option<String>,
    /// New guarantee method (guarantee change).
    #[serde(default)]
    pub new_guarantee_method: Option<GuaranteeMethod>,
    /// `lower_instalment` or `shorten_term` (prepayment).
    #[serde(default)]
    pub prepayment_mode: Option<PrepaymentMode>,
    /// Free-text remark.
    #[serde(default)]
    pub note: Option<String>,
}

/// An event in a loan's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoanEvent {
    /// Id.
    pub id: EventId,
    /// Loan.
    pub loan_id: LoanId,
    /// What happened.
    pub kind: EventKind,
    /// Business date.
    pub business_date: NaiveDate,
    /// Amount in fen.
    pub amount_fen: Option<i64>,
    /// Currency of the amount.
    pub currency: Option<Currency>,
    /// New maturity.
    pub new_maturity_date: Option<NaiveDate>,
    /// New annual rate.
    pub new_annual_rate: Option<String>,
    /// New guarantee method.
    pub new_guarantee_method: Option<GuaranteeMethod>,
    /// What a prepayment did to the schedule.
    pub prepayment_mode: Option<PrepaymentMode>,
    /// Remark.
    pub note: Option<String>,
    /// Who recorded it (user or API client id).
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}
