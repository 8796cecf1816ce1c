//! Rows to wire types. Personal data is masked here for callers who may not see it.

use chrono::{DateTime, NaiveDateTime, Utc};
use loanwatch_api_types::{
    ledger::{Borrower, BorrowerGroup, Collateral, Guarantor, Loan, LoanEvent},
    people::{ApiClient, ClientAccess, Organisation, User},
};
use loanwatch_domain::{
    ledger::EventPayload,
    masking::{mask_id_number, mask_phone},
};
use loanwatch_store::models::{
    ApiClientRow, BorrowerRow, CollateralRow, GroupRow, GuarantorRow, LoanEventRow, LoanListing,
    OrganisationRow, UserRow,
};

use crate::ApiError;

/// Parses stored text that must be valid; failure means corrupt data, a 500.
pub fn stored<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("stored {what} {text:?} does not parse")))
}

fn stored_opt<T: std::str::FromStr>(text: Option<&str>, what: &str) -> Result<Option<T>, ApiError> {
    text.map(|t| stored(t, what)).transpose()
}

/// Parses stored JSON that must be valid; failure means corrupt data, a 500.
pub fn stored_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, ApiError> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("stored {what}: {e}")))
}

/// A stored UTC timestamp.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

fn masked(value: Option<String>, full: bool, mask: fn(&str) -> String) -> Option<String> {
    value.map(|v| if full { v } else { mask(&v) })
}

/// An organisation.
pub fn organisation(r: OrganisationRow) -> Result<Organisation, ApiError> {
    Ok(Organisation {
        id: stored(&r.id, "id")?,
        kind: stored(&r.kind, "kind")?,
        parent_id: stored_opt(r.parent_id.as_deref(), "parent_id")?,
        name: r.name,
        code: r.code,
        created_at: utc(r.created_at),
    })
}

/// A user, without the password hash.
pub fn user(r: UserRow) -> Result<User, ApiError> {
    Ok(User {
        id: stored(&r.id, "id")?,
        role: stored(&r.role, "role")?,
        organisation_id: stored(&r.organisation_id, "organisation_id")?,
        username: r.username,
        display_name: r.display_name,
        active: r.active,
        created_at: utc(r.created_at),
    })
}

/// Stored text of a client's access level.
pub fn access_text(access: ClientAccess) -> &'static str {
    match access {
        ClientAccess::Read => "read",
        ClientAccess::ReadWrite => "read_write",
    }
}

/// An API client, with its secret only when just created.
pub fn api_client(r: ApiClientRow, secret: Option<String>) -> Result<ApiClient, ApiError> {
    let access = match r.access.as_str() {
        "read" => ClientAccess::Read,
        "read_write" => ClientAccess::ReadWrite,
        other => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "stored access {other:?}"
            )));
        }
    };
    Ok(ApiClient {
        id: stored(&r.id, "id")?,
        organisation_id: stored(&r.organisation_id, "organisation_id")?,
        client_id: r.client_id,
        name: r.name,
        access,
        active: r.active,
        created_at: utc(r.created_at),
        client_secret: secret,
    })
}

/// A borrower, masked unless `full`.
pub fn borrower(r: BorrowerRow, full: bool) -> Result<Borrower, ApiError> {
    Ok(Borrower {
        id: stored(&r.id, "id")?,
        kind: stored(&r.kind, "kind")?,
        currency: stored(&r.currency, "currency")?,
        organisation_id: stored(&r.organisation_id, "organisation_id")?,
        officer_id: stored(&r.officer_id, "officer_id")?,
        group_id: stored_opt(r.group_id.as_deref(), "group_id")?,
        name: r.name,
        credit_code: r.credit_code,
        id_number: masked(r.id_number, full, mask_id_number),
        phone: masked(r.phone, full, mask_phone),
        registered_capital_fen: r.registered_capital_fen,
        registered_address: r.registered_address,
        legal_representative: r.legal_representative,
        industry: r.industry,
        business_scope: r.business_scope,
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
    })
}

/// A group.
pub fn group(r: GroupRow) -> Result<BorrowerGroup, ApiError> {
    Ok(BorrowerGroup {
        id: stored(&r.id, "id")?,
        lead_organisation_id: stored(&r.lead_organisation_id, "lead_organisation_id")?,
        name: r.name,
        created_at: utc(r.created_at),
    })
}

/// A guarantor, masked unless `full`.
pub fn guarantor(r: GuarantorRow, full: bool) -> Result<Guarantor, ApiError> {
    Ok(Guarantor {
        id: stored(&r.id, "id")?,
        kind: stored(&r.kind, "kind")?,
        organisation_id: stored(&r.organisation_id, "organisation_id")?,
        name: r.name,
        credit_code: r.credit_code,
        id_number: masked(r.id_number, full, mask_id_number),
        phone: masked(r.phone, full, mask_phone),
        created_at: utc(r.created_at),
    })
}

/// A collateral item.
pub fn collateral(r: CollateralRow) -> Result<Collateral, ApiError> {
    Ok(Collateral {
        id: stored(&r.id, "id")?,
        borrower_id: stored(&r.borrower_id, "borrower_id")?,
        security_type: stored(&r.security_type, "security_type")?,
        asset_type: stored(&r.asset_type, "asset_type")?,
        currency: stored(&r.currency, "currency")?,
        owner_name: r.owner_name,
        description: r.description,
        appraised_value_fen: r.appraised_value_fen,
        registration_no: r.registration_no,
        insurance_expiry: r.insurance_expiry,
        created_at: utc(r.created_at),
    })
}

/// A loan with its borrower's name.
pub fn loan(l: LoanListing) -> Result<Loan, ApiError> {
    let r = l.loan;
    Ok(Loan {
        id: stored(&r.id, "id")?,
        borrower_id: stored(&r.borrower_id, "borrower_id")?,
        currency: stored(&r.currency, "currency")?,
        repayment_method: stored(&r.repayment_method, "repayment_method")?,
        guarantee_method: stored(&r.guarantee_method, "guarantee_method")?,
        class: stored(&r.class, "class")?,
        management_mode: stored(&r.management_mode, "management_mode")?,
        status: stored(&r.status, "status")?,
        officer_id: stored(&r.officer_id, "officer_id")?,
        organisation_id: stored(&r.organisation_id, "organisation_id")?,
        borrower_name: l.borrower_name,
        contract_no: r.contract_no,
        product: r.product,
        principal_fen: r.principal_fen,
        annual_rate: r.annual_rate,
        purpose: r.purpose,
        counterparty: r.counterparty,
        disbursement_date: r.disbursement_date,
        maturity_date: r.maturity_date,
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
        repayment_frequency: stored(&r.repayment_frequency, "repayment_frequency")?,
        repayment_day: r.repayment_day.map(|d| d as u32),
        day_count: stored(&r.day_count, "day_count")?,
        custom_schedule: r
            .custom_schedule
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("stored custom schedule: {e}")))?,
        diverted_from: r.diverted_from,
    })
}

/// A loan event.
pub fn loan_event(r: LoanEventRow) -> Result<LoanEvent, ApiError> {
    let payload: EventPayload = serde_json::from_str(&r.payload)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("stored event payload: {e}")))?;
    Ok(LoanEvent {
        id: stored(&r.id, "id")?,
        loan_id: stored(&r.loan_id, "loan_id")?,
        kind: stored(&r.kind, "kind")?,
        currency: stored_opt(r.currency.as_deref(), "currency")?,
        business_date: r.business_date,
        amount_fen: r.amount_fen,
        new_maturity_date: payload.new_maturity_date,
        new_annual_rate: payload.new_annual_rate,
        new_guarantee_method: payload.new_guarantee_method,
        prepayment_mode: payload.prepayment_mode,
        note: r.note,
        recorded_by: r.recorded_by,
        recorded_at: utc(r.recorded_at),
    })
}
