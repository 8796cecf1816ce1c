//! Use cases of the ledger. Each runs inside one audited transaction given by the route.

use chrono::NaiveDate;
use loanwatch_api_types::ledger::{
    Borrower, BorrowerGroup, Collateral, CreateBorrower, CreateBorrowerGroup, CreateCollateral,
    CreateGuarantor, CreateLoan, CreateLoanEvent, Guarantor, LinkCollateral, LinkGuarantor, Loan,
    LoanEvent, UpdateBorrower, UpdateCollateral, UpdateLoan,
};
use loanwatch_domain::{
    AnnualRate, Currency, Money, OrgId, UserId,
    identity::{CreditCode, Phone, ResidentId},
    ledger::{
        EventDetails, EventPayload, LoanClass, LoanState, LoanStatus, LoanTerms, ManagementMode,
        PartyKind, apply_event,
    },
    people::{Role, Scope},
};
use loanwatch_store::{
    DbConn, ScopeFilter, WriteTx,
    models::{
        BorrowerChangeset, BorrowerRow, CollateralRow, GroupRow, GuarantorRow, LoanChangeset,
        LoanCollateralRow, LoanEventRow, LoanGuarantorRow, LoanRow,
    },
    repo::{borrower, loan, party, people},
};
use serde_json::json;

use crate::{ApiError, auth::Actor, views};

/// A trimmed, non-empty text of at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    value.map(|v| text(field, v, max)).transpose()
}

/// The caller's scope in SQL terms, from the token alone: no query.
pub fn scope(actor: &Actor) -> ScopeFilter {
    match actor.scope() {
        Scope::Assigned { officer, org } => ScopeFilter::Officer {
            officer: officer.to_string(),
            org: org.to_string(),
        },
        Scope::Subtree(_) => ScopeFilter::Subtree {
            path_prefix: actor.org_path.clone(),
        },
        Scope::Nothing => ScopeFilter::Nothing,
    }
}

/// Whether the caller may book records in `org`: officers in their own organisation, others in
/// their subtree.
fn org_allowed(conn: &mut DbConn, scope: &ScopeFilter, org: &OrgId) -> Result<bool, ApiError> {
    let Ok(row) = people::get_org(conn, &org.to_string()) else {
        return Ok(false);
    };
    Ok(match scope {
        ScopeFilter::Officer { org: own, .. } => *own == row.id,
        other => other.covers_path(&row.path),
    })
}

/// Checks that `officer` is an active officer whom the caller may assign.
pub(crate) fn check_officer(
    conn: &mut DbConn,
    actor: &Actor,
    scope: &ScopeFilter,
    officer: UserId,
    field: &str,
) -> Result<(), ApiError> {
    if actor.role == Role::Officer && actor.user_id() != Some(officer) {
        return Err(ApiError::invalid(
            field,
            "an officer can only assign records to themselves",
        ));
    }
    let user = people::get_user(conn, &officer.to_string())
        .map_err(|_| ApiError::invalid(field, "no such user"))?;
    if !user.active || user.role != Role::Officer.as_str() {
        return Err(ApiError::invalid(
            field,
            "must be an active user with the officer role",
        ));
    }
    let org: OrgId = views::stored(&user.organisation_id, "organisation_id")?;
    if !org_allowed(conn, scope, &org)? {
        return Err(ApiError::invalid(
            field,
            "this officer works outside your organisation",
        ));
    }
    Ok(())
}

struct Identity {
    credit_code: Option<String>,
    id_number: Option<String>,
    phone: Option<String>,
}

fn identity(
    kind: PartyKind,
    credit_code: Option<&str>,
    id_number: Option<&str>,
    phone: Option<&str>,
) -> Result<Identity, ApiError> {
    let (credit_code, id_number) = match kind {
        PartyKind::Enterprise => {
            if id_number.is_some() {
                return Err(ApiError::invalid(
                    "id_number",
                    "enterprises are identified by credit_code",
                ));
            }
            let code = credit_code
                .ok_or_else(|| ApiError::invalid("credit_code", "is required for an enterprise"))?;
            (Some(CreditCode::parse(code)?.as_str().to_owned()), None)
        }
        PartyKind::Individual => {
            if credit_code.is_some() {
                return Err(ApiError::invalid(
                    "credit_code",
                    "individuals are identified by id_number",
                ));
            }
            let id = id_number
                .ok_or_else(|| ApiError::invalid("id_number", "is required for an individual"))?;
            (None, Some(ResidentId::parse(id)?.expose().to_owned()))
        }
    };
    let phone = phone
        .map(|p| Phone::parse(p).map(|p| p.expose().to_owned()))
        .transpose()?;
    Ok(Identity {
        credit_code,
        id_number,
        phone,
    })
}

/// Creates a borrower.
pub fn create_borrower(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    input: CreateBorrower,
) -> Result<Borrower, ApiError> {
    let scope = scope(actor);
    let name = text("name", &input.name, 200)?;
    let ids = identity(
        input.kind,
        input.credit_code.as_deref(),
        input.id_number.as_deref(),
        input.phone.as_deref(),
    )?;
    let currency = input.currency.unwrap_or(Currency::Cny);
    let capital = input
        .registered_capital_fen
        .map(|fen| {
            Money::non_negative("registered_capital_fen", fen, currency).map(|m| m.amount_fen)
        })
        .transpose()?;
    let org = input.organisation_id.unwrap_or(actor.org);
    if !org_allowed(tx.conn(), &scope, &org)? {
        return Err(ApiError::invalid(
            "organisation_id",
            "outside the organisations you may book in",
        ));
    }
    let officer = match (input.officer_id, actor.role, actor.user_id()) {
        (Some(o), _, _) => o,
        (None, Role::Officer, Some(me)) => me,
        (None, _, _) => {
            return Err(ApiError::invalid(
                "officer_id",
                "is required: name the responsible officer",
            ));
        }
    };
    check_officer(tx.conn(), actor, &scope, officer, "officer_id")?;
    if let Some(group) = input.group_id {
        party::get_group(tx.conn(), &scope, &group.to_string())
            .map_err(|_| ApiError::invalid("group_id", "no such group"))?;
    }
    let now = tx.now();
    let row = BorrowerRow {
        id: uuid::Uuid::now_v7().to_string(),
        kind: input.kind.as_str().to_owned(),
        name,
        credit_code: ids.credit_code,
        id_number: ids.id_number,
        phone: ids.phone,
        registered_capital_fen: capital,
        currency: currency.code().to_owned(),
        registered_address: opt_text(
            "registered_address",
            input.registered_address.as_deref(),
            300,
        )?,
        legal_representative: opt_text(
            "legal_representative",
            input.legal_representative.as_deref(),
            100,
        )?,
        industry: opt_text("industry", input.industry.as_deref(), 100)?,
        business_scope: opt_text("business_scope", input.business_scope.as_deref(), 2000)?,
        organisation_id: org.to_string(),
        officer_id: officer.to_string(),
        group_id: input.group_id.map(|g| g.to_string()),
        created_at: now,
        updated_at: now,
    };
    borrower::insert(tx, &row)?;
    tx.audit(
        "borrower.create",
        "borrower",
        &row.id,
        &json!({ "kind": row.kind, "officer_id": row.officer_id }),
    )?;
    views::borrower(row, actor.sees_personal_data())
}

/// Changes a borrower.
pub fn update_borrower(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    id: &str,
    input: UpdateBorrower,
) -> Result<Borrower, ApiError> {
    let scope = scope(actor);
    let current =
        borrower::get(tx.conn(), &scope, id).map_err(|_| ApiError::not_found("borrower"))?;
    let currency: Currency = views::stored(&current.currency, "currency")?;
    if let Some(officer) = input.officer_id {
        check_officer(tx.conn(), actor, &scope, officer, "officer_id")?;
    }
    if let Some(group) = input.group_id {
        party::get_group(tx.conn(), &scope, &group.to_string())
            .map_err(|_| ApiError::invalid("group_id", "no such group"))?;
    }
    let changes = BorrowerChangeset {
        name: opt_text("name", input.name.as_deref(), 200)?,
        phone: input
            .phone
            .as_deref()
            .map(|p| Phone::parse(p).map(|p| p.expose().to_owned()))
            .transpose()?,
        registered_capital_fen: input
            .registered_capital_fen
            .map(|fen| {
                Money::non_negative("registered_capital_fen", fen, currency).map(|m| m.amount_fen)
            })
            .transpose()?,
        registered_address: opt_text(
            "registered_address",
            input.registered_address.as_deref(),
            300,
        )?,
        legal_representative: opt_text(
            "legal_representative",
            input.legal_representative.as_deref(),
            100,
        )?,
        industry: opt_text("industry", input.industry.as_deref(), 100)?,
        business_scope: opt_text("business_scope", input.business_scope.as_deref(), 2000)?,
        organisation_id: None,
        officer_id: input.officer_id.map(|o| o.to_string()),
        group_id: input.group_id.map(|g| g.to_string()),
        updated_at: Some(tx.now()),
    };
    let row = borrower::update(tx, &scope, id, &changes)?;
    if let Some(officer) = input.officer_id
        && officer.to_string() != current.officer_id
    {
        // The customer changes hands with its loans, their pending notices and open tasks.
        let loan_ids = loan::reassign_borrower_loans(tx, id, &officer.to_string())?;
        loanwatch_store::repo::notice::reassign_loans(tx, &loan_ids, &officer.to_string())?;
        let open = loanwatch_store::repo::task::open_of_borrower(tx.conn(), id)?;
        crate::tasks::move_tasks(
            tx,
            open,
            &officer.to_string(),
            "the customer was handed over",
        )?;
    }
    let changed: Vec<&str> = [
        ("name", changes.name.is_some()),
        ("phone", changes.phone.is_some()),
        (
            "registered_capital_fen",
            changes.registered_capital_fen.is_some(),
        ),
        ("registered_address", changes.registered_address.is_some()),
        (
            "legal_representative",
            changes.legal_representative.is_some(),
        ),
        ("industry", changes.industry.is_some()),
        ("business_scope", changes.business_scope.is_some()),
        ("officer_id", changes.officer_id.is_some()),
        ("group_id", changes.group_id.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, c)| c.then_some(f))
    .collect();
    tx.audit(
        "borrower.update",
        "borrower",
        id,
        &json!({ "fields": changed, "officer_id": changes.officer_id }),
    )?;
    views::borrower(row, actor.sees_personal_data())
}

/// Creates a borrower group.
pub fn create_group(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    input: CreateBorrowerGroup,
) -> Result<BorrowerGroup, ApiError> {
    let scope = scope(actor);
    let name = text("name", &input.name, 200)?;
    let lead = input.lead_organisation_id.unwrap_or(actor.org);
    if !org_allowed(tx.conn(), &scope, &lead)? {
        return Err(ApiError::invalid(
            "lead_organisation_id",
            "outside the organisations you may book in",
        ));
    }
    let row = GroupRow {
        id: uuid::Uuid::now_v7().to_string(),
        name,
        lead_organisation_id: lead.to_string(),
        created_at: tx.now(),
    };
    party::insert_group(tx, &row)?;
    tx.audit("group.create", "borrower_group", &row.id, &json!({}))?;
    views::group(row)
}

/// Creates a guarantor.
pub fn create_guarantor(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    input: CreateGuarantor,
) -> Result<Guarantor, ApiError> {
    let scope = scope(actor);
    let name = text("name", &input.name, 200)?;
    let ids = identity(
        input.kind,
        input.credit_code.as_deref(),
        input.id_number.as_deref(),
        input.phone.as_deref(),
    )?;
    let org = input.organisation_id.unwrap_or(actor.org);
    if !org_allowed(tx.conn(), &scope, &org)? {
        return Err(ApiError::invalid(
            "organisation_id",
            "outside the organisations you may book in",
        ));
    }
    let row = GuarantorRow {
        id: uuid::Uuid::now_v7().to_string(),
        kind: input.kind.as_str().to_owned(),
        name,
        credit_code: ids.credit_code,
        id_number: ids.id_number,
        phone: ids.phone,
        organisation_id: org.to_string(),
        created_by: actor.subject(),
        created_at: tx.now(),
    };
    party::insert_guarantor(tx, &row)?;
    tx.audit(
        "guarantor.create",
        "guarantor",
        &row.id,
        &json!({ "kind": row.kind }),
    )?;
    views::guarantor(row, actor.sees_personal_data())
}

/// Creates a collateral item for a borrower in scope.
pub fn create_collateral(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    input: CreateCollateral,
) -> Result<Collateral, ApiError> {
    let scope = scope(actor);
    borrower::get(tx.conn(), &scope, &input.borrower_id.to_string())
        .map_err(|_| ApiError::invalid("borrower_id", "no such borrower"))?;
    let currency = input.currency.unwrap_or(Currency::Cny);
    let value = Money::non_negative("appraised_value_fen", input.appraised_value_fen, currency)?;
    let row = CollateralRow {
        id: uuid::Uuid::now_v7().to_string(),
        borrower_id: input.borrower_id.to_string(),
        owner_name: text("owner_name", &input.owner_name, 200)?,
        security_type: input.security_type.as_str().to_owned(),
        asset_type: input.asset_type.as_str().to_owned(),
        description: text("description", &input.description, 2000)?,
        appraised_value_fen: value.amount_fen,
        currency: currency.code().to_owned(),
        registration_no: opt_text("registration_no", input.registration_no.as_deref(), 100)?,
        insurance_expiry: input.insurance_expiry,
        created_at: tx.now(),
    };
    party::insert_collateral(tx, &row)?;
    tx.audit(
        "collateral.create",
        "collateral",
        &row.id,
        &json!({ "borrower_id": row.borrower_id }),
    )?;
    views::collateral(row)
}

/// Records a collateral item's renewed insurance or new registration number, and runs the
/// incremental pass of every borrower whose loan it secures: a renewed policy ends a lapse.
pub fn update_collateral(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    id: &str,
    input: UpdateCollateral,
    today: NaiveDate,
) -> Result<Collateral, ApiError> {
    let scope = scope(actor);
    let before = party::get_collateral(tx.conn(), &scope, id)
        .map_err(|_| ApiError::not_found("collateral"))?;
    let row = CollateralRow {
        insurance_expiry: input.insurance_expiry.or(before.insurance_expiry),
        registration_no: match &input.registration_no {
            Some(r) => Some(text("registration_no", r, 100)?),
            None => before.registration_no.clone(),
        },
        ..before.clone()
    };
    party::update_collateral_papers(tx, &row)?;
    tx.audit(
        "collateral.update",
        "collateral",
        &row.id,
        &json!({
            "insurance_expiry": { "from": before.insurance_expiry, "to": row.insurance_expiry },
            "registration_no": { "from": before.registration_no, "to": row.registration_no },
        }),
    )?;
    let secured: Vec<String> = loanwatch_store::repo::health::collateral_borrowers(
        tx.conn(),
        std::slice::from_ref(&row.id),
    )?
    .into_iter()
    .map(|(_, b)| b)
    .collect();
    crate::monitoring::health::refresh(tx, &secured, today)?;
    views::collateral(row)
}

/// Books a loan at disbursement and records the disbursement event.
pub fn create_loan(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    input: CreateLoan,
    today: NaiveDate,
) -> Result<Loan, ApiError> {
    let scope = scope(actor);
    let contract_no = text("contract_no", &input.contract_no, 64)?;
    let borrower_row = borrower::get(tx.conn(), &scope, &input.borrower_id.to_string())
        .map_err(|_| ApiError::invalid("borrower_id", "no such borrower"))?;
    let principal = Money::positive("principal_fen", input.principal_fen, input.currency)?;
    let rate = AnnualRate::parse("annual_rate", &input.annual_rate)?;
    let terms = LoanTerms::new(
        principal,
        rate,
        input.disbursement_date,
        input.maturity_date,
    )?;
    if terms.disbursement_date > today {
        return Err(ApiError::invalid(
            "disbursement_date",
            format!(
                "loans are booked once disbursed; {} is after today ({today})",
                terms.disbursement_date
            ),
        ));
    }
    // The schedule must be computable from the booked terms: a custom schedule that does not
    // add up, or more instalments than supported, is refused here, not found out later.
    let schedule_terms = crate::schedule::terms(&crate::schedule::TermsInput {
        principal_fen: principal.amount_fen,
        annual_rate: &input.annual_rate,
        method: input.repayment_method,
        start_date: terms.disbursement_date,
        maturity_date: terms.maturity_date,
        frequency: input.repayment_frequency,
        repayment_day: input.repayment_day,
        day_count: input.day_count,
        custom: input.custom_schedule.as_deref(),
    })?;
    loanwatch_domain::schedule::generate(&schedule_terms)?;
    let officer = match input.officer_id {
        Some(o) => {
            check_officer(tx.conn(), actor, &scope, o, "officer_id")?;
            o.to_string()
        }
        None => borrower_row.officer_id.clone(),
    };
    let now = tx.now();
    let row = LoanRow {
        id: uuid::Uuid::now_v7().to_string(),
        contract_no,
        borrower_id: borrower_row.id.clone(),
        product: text("product", &input.product, 100)?,
        principal_fen: principal.amount_fen,
        currency: principal.currency.code().to_owned(),
        annual_rate: rate.to_string(),
        repayment_method: input.repayment_method.as_str().to_owned(),
        guarantee_method: input.guarantee_method.as_str().to_owned(),
        purpose: text("purpose", &input.purpose, 500)?,
        counterparty: opt_text("counterparty", input.counterparty.as_deref(), 200)?,
        disbursement_date: terms.disbursement_date,
        maturity_date: terms.maturity_date,
        class: input.class.unwrap_or(LoanClass::Normal).as_str().to_owned(),
        management_mode: input
            .management_mode
            .unwrap_or(ManagementMode::Regular)
            .as_str()
            .to_owned(),
        status: LoanStatus::Active.as_str().to_owned(),
        officer_id: officer,
        organisation_id: borrower_row.organisation_id.clone(),
        created_at: now,
        updated_at: now,
        repayment_frequency: schedule_terms.frequency.as_str().to_owned(),
        repayment_day: schedule_terms.repayment_day.map(|d| d as i32),
        day_count: schedule_terms.day_count.as_str().to_owned(),
        custom_schedule: input
            .custom_schedule
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(ApiError::internal)?,
        contract_annual_rate: rate.to_string(),
        contract_maturity_date: terms.maturity_date,
        diverted_from: None,
    };
    loan::insert(tx, &row)?;
    loan::insert_event(
        tx,
        &LoanEventRow {
            id: uuid::Uuid::now_v7().to_string(),
            loan_id: row.id.clone(),
            kind: "disbursement".to_owned(),
            business_date: row.disbursement_date,
            amount_fen: Some(row.principal_fen),
            currency: Some(row.currency.clone()),
            payload: "{}".to_owned(),
            note: None,
            recorded_by: actor.subject(),
            recorded_at: now,
        },
    )?;
    tx.audit(
        "loan.create",
        "loan",
        &row.id,
        &json!({ "contract_no": row.contract_no, "principal_fen": row.principal_fen, "borrower_id": row.borrower_id }),
    )?;
    views::loan(loanwatch_store::models::LoanListing {
        loan: row,
        borrower_name: borrower_row.name,
    })
}

/// Changes a loan's class, management mode or officer.
pub fn update_loan(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    id: &str,
    input: UpdateLoan,
    today: NaiveDate,
) -> Result<Loan, ApiError> {
    let scope = scope(actor);
    let current = loan::get(tx.conn(), &scope, id).map_err(|_| ApiError::not_found("loan"))?;
    if let Some(officer) = input.officer_id {
        check_officer(tx.conn(), actor, &scope, officer, "officer_id")?;
    }
    let changes = LoanChangeset {
        class: input.class.map(|c| c.as_str().to_owned()),
        management_mode: input.management_mode.map(|m| m.as_str().to_owned()),
        officer_id: input.officer_id.map(|o| o.to_string()),
        diverted_from: input.diverted_from.map(Some),
        updated_at: Some(tx.now()),
        ..Default::default()
    };
    if let Some(date) = input.diverted_from
        && date < current.loan.disbursement_date
    {
        return Err(ApiError::invalid(
            "diverted_from",
            "is before the disbursement date",
        ));
    }
    let updated = loan::update(tx, &scope, id, &changes)?;
    let class_changed = input
        .class
        .is_some_and(|c| c.as_str() != current.loan.class);
    if let Some(to) = input.class
        && class_changed
    {
        loanwatch_store::repo::health::insert_class_change(
            tx,
            &loanwatch_store::models::ClassChangeRow {
                id: uuid::Uuid::now_v7().to_string(),
                loan_id: id.to_owned(),
                from_class: current.loan.class.clone(),
                to_class: to.as_str().to_owned(),
                changed_on: today,
                changed_by: actor.subject(),
                at: tx.now(),
            },
        )?;
    }
    let mode_changed = input
        .management_mode
        .is_some_and(|m| m.as_str() != current.loan.management_mode);
    let replanned = if class_changed || mode_changed {
        crate::tasks::replan_loan(tx, &updated.loan, today)?
    } else {
        0
    };
    if let Some(officer) = input.officer_id
        && officer.to_string() != current.loan.officer_id
    {
        loanwatch_store::repo::notice::reassign_loans(tx, &[id.to_owned()], &officer.to_string())?;
        let open = loanwatch_store::repo::task::open_of_loan(tx.conn(), id)?;
        crate::tasks::move_tasks(tx, open, &officer.to_string(), "the loan was handed over")?;
    }
    tx.audit(
        "loan.update",
        "loan",
        id,
        &json!({
            "class": { "from": current.loan.class, "to": changes.class },
            "management_mode": { "from": current.loan.management_mode, "to": changes.management_mode },
            "officer_id": { "from": current.loan.officer_id, "to": changes.officer_id },
            "diverted_from": input.diverted_from,
        }),
    )?;
    if class_changed || replanned > 0 {
        // Special mention falling to substandard recommends early recovery at once; a re-plan
        // moves the due dates the overdue-inspection rule reads.
        crate::monitoring::health::refresh(
            tx,
            std::slice::from_ref(&updated.loan.borrower_id),
            today,
        )?;
    }
    views::loan(updated)
}

/// Records an event in a loan's history and applies its effect to the loan.
pub fn create_event(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    loan_id: &str,
    input: CreateLoanEvent,
    today: NaiveDate,
) -> Result<LoanEvent, ApiError> {
    use loanwatch_domain::ledger::EventKind as K;
    let scope = scope(actor);
    let current = loan::get(tx.conn(), &scope, loan_id)
        .map_err(|_| ApiError::not_found("loan"))?
        .loan;
    let loan_currency: Currency = views::stored(&current.currency, "currency")?;
    let state = LoanState {
        terms: LoanTerms {
            principal: Money {
                amount_fen: current.principal_fen,
                currency: loan_currency,
            },
            annual_rate: AnnualRate::parse("annual_rate", &current.annual_rate)
                .map_err(|e| ApiError::internal(anyhow::anyhow!("stored rate: {e}")))?,
            disbursement_date: current.disbursement_date,
            maturity_date: current.maturity_date,
        },
        status: views::stored(&current.status, "status")?,
    };
    let amount = |input: &CreateLoanEvent| -> Result<Money, ApiError> {
        let fen = input
            .amount_fen
            .ok_or_else(|| ApiError::invalid("amount_fen", "is required for this kind"))?;
        Ok(Money::positive(
            "amount_fen",
            fen,
            input.currency.unwrap_or(loan_currency),
        )?)
    };
    let details = match input.kind {
        K::Disbursement => EventDetails::Disbursement {
            amount: amount(&input)?,
        },
        K::Repayment => EventDetails::Repayment {
            amount: amount(&input)?,
        },
        K::Extension => EventDetails::Extension {
            new_maturity_date: input.new_maturity_date.ok_or_else(|| {
                ApiError::invalid("new_maturity_date", "is required for an extension")
            })?,
        },
        K::RateChange => EventDetails::RateChange {
            new_annual_rate: AnnualRate::parse(
                "new_annual_rate",
                input.new_annual_rate.as_deref().ok_or_else(|| {
                    ApiError::invalid("new_annual_rate", "is required for a rate change")
                })?,
            )?,
        },
        K::GuaranteeChange => EventDetails::GuaranteeChange {
            new_guarantee_method: input.new_guarantee_method.ok_or_else(|| {
                ApiError::invalid("new_guarantee_method", "is required for a guarantee change")
            })?,
        },
        K::Prepayment => EventDetails::Prepayment {
            amount: amount(&input)?,
            mode: input.prepayment_mode.ok_or_else(|| {
                ApiError::invalid(
                    "prepayment_mode",
                    "is required for a prepayment: lower_instalment or shorten_term",
                )
            })?,
        },
        K::Settlement => EventDetails::Settlement,
    };
    // Fields that do not belong to the kind are refused rather than silently dropped.
    let stray = [
        (
            "amount_fen",
            input.amount_fen.is_some()
                && !matches!(input.kind, K::Disbursement | K::Repayment | K::Prepayment),
        ),
        (
            "currency",
            input.currency.is_some()
                && !matches!(input.kind, K::Disbursement | K::Repayment | K::Prepayment),
        ),
        (
            "prepayment_mode",
            input.prepayment_mode.is_some() && input.kind != K::Prepayment,
        ),
        (
            "new_maturity_date",
            input.new_maturity_date.is_some() && input.kind != K::Extension,
        ),
        (
            "new_annual_rate",
            input.new_annual_rate.is_some() && input.kind != K::RateChange,
        ),
        (
            "new_guarantee_method",
            input.new_guarantee_method.is_some() && input.kind != K::GuaranteeChange,
        ),
    ];
    if let Some((field, _)) = stray.iter().find(|(_, s)| *s) {
        return Err(ApiError::invalid(
            field,
            format!("does not apply to a {} event", input.kind),
        ));
    }
    let effect = apply_event(&state, input.business_date, &details, today)?;
    if let EventDetails::Prepayment { amount, .. } = &details {
        let (_, position) = crate::position::load(tx.conn(), &scope, loan_id, input.business_date)?;
        if position.overdue_principal_fen + position.overdue_interest_fen > 0 {
            return Err(ApiError::invalid(
                "kind",
                "the loan is in arrears: settle what is overdue before prepaying principal",
            ));
        }
        let not_due = position.outstanding_principal_fen - position.overdue_principal_fen;
        if amount.amount_fen > not_due {
            return Err(ApiError::invalid(
                "amount_fen",
                format!("is more than the {not_due} fen of principal not yet due"),
            ));
        }
    }
    if let EventDetails::Repayment { amount } = &details {
        let (l, position) = crate::position::load(tx.conn(), &scope, loan_id, input.business_date)?;
        let settings = crate::position::product_settings(tx.conn(), &l.product)?;
        if amount.amount_fen > position.payoff_fen && !settings.allow_overpayment {
            return Err(ApiError::invalid(
                "amount_fen",
                format!(
                    "is more than the {} fen owed on {}",
                    position.payoff_fen, input.business_date
                ),
            ));
        }
    }
    let payload = EventPayload {
        new_maturity_date: effect.maturity_date,
        new_annual_rate: effect.annual_rate.map(|r| r.to_string()),
        new_guarantee_method: effect.guarantee_method,
        prepayment_mode: match &details {
            EventDetails::Prepayment { mode, .. } => Some(*mode),
            _ => None,
        },
    };
    let (amount_fen, currency) = match &details {
        EventDetails::Disbursement { amount }
        | EventDetails::Repayment { amount }
        | EventDetails::Prepayment { amount, .. } => (
            Some(amount.amount_fen),
            Some(amount.currency.code().to_owned()),
        ),
        _ => (None, None),
    };
    let now = tx.now();
    let row = LoanEventRow {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: loan_id.to_owned(),
        kind: input.kind.as_str().to_owned(),
        business_date: input.business_date,
        amount_fen,
        currency,
        payload: serde_json::to_string(&payload).map_err(ApiError::internal)?,
        note: opt_text("note", input.note.as_deref(), 1000)?,
        recorded_by: actor.subject(),
        recorded_at: now,
    };
    loan::insert_event(tx, &row)?;
    let changes = LoanChangeset {
        annual_rate: payload.new_annual_rate.clone(),
        guarantee_method: effect.guarantee_method.map(|g| g.as_str().to_owned()),
        maturity_date: effect.maturity_date,
        status: effect.status.map(|s| s.as_str().to_owned()),
        updated_at: Some(now),
        ..Default::default()
    };
    loan::update(tx, &scope, loan_id, &changes)?;
    // Invariant: no event is committed that the loan's position cannot replay. A failure here
    // rolls the whole transaction back and answers 4xx.
    crate::position::load(tx.conn(), &scope, loan_id, today)?;
    tx.audit(
        "loan_event.create",
        "loan",
        loan_id,
        &json!({ "event_id": row.id, "kind": row.kind, "business_date": row.business_date, "amount_fen": row.amount_fen }),
    )?;
    // A repayment, extension or settlement moves the arrears and maturity the health check
    // looks at: the incremental pass.
    crate::monitoring::health::refresh(tx, std::slice::from_ref(&current.borrower_id), today)?;
    views::loan_event(row)
}

/// Links a guarantor in scope to a loan in scope.
pub fn link_guarantor(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    loan_id: &str,
    input: LinkGuarantor,
) -> Result<Guarantor, ApiError> {
    let scope = scope(actor);
    let l = loan::get(tx.conn(), &scope, loan_id)
        .map_err(|_| ApiError::not_found("loan"))?
        .loan;
    let g = party::get_guarantor(tx.conn(), &scope, &input.guarantor_id.to_string())
        .map_err(|_| ApiError::invalid("guarantor_id", "no such guarantor"))?;
    let currency: Currency = views::stored(&l.currency, "currency")?;
    let amount = input
        .amount_fen
        .map(|fen| Money::positive("amount_fen", fen, currency).map(|m| m.amount_fen))
        .transpose()?;
    loan::link_guarantor(
        tx,
        &LoanGuarantorRow {
            loan_id: l.id.clone(),
            guarantor_id: g.id.clone(),
            amount_fen: amount,
            created_at: tx.now(),
        },
    )?;
    tx.audit(
        "loan.link_guarantor",
        "loan",
        &l.id,
        &json!({ "guarantor_id": g.id, "amount_fen": amount }),
    )?;
    views::guarantor(g, actor.sees_personal_data())
}

/// Links a collateral item in scope to a loan in scope.
pub fn link_collateral(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    loan_id: &str,
    input: LinkCollateral,
    today: NaiveDate,
) -> Result<Collateral, ApiError> {
    let scope = scope(actor);
    let l = loan::get(tx.conn(), &scope, loan_id)
        .map_err(|_| ApiError::not_found("loan"))?
        .loan;
    let c = party::get_collateral(tx.conn(), &scope, &input.collateral_id.to_string())
        .map_err(|_| ApiError::invalid("collateral_id", "no such collateral"))?;
    loan::link_collateral(
        tx,
        &LoanCollateralRow {
            loan_id: l.id.clone(),
            collateral_id: c.id.clone(),
            created_at: tx.now(),
        },
    )?;
    tx.audit(
        "loan.link_collateral",
        "loan",
        &l.id,
        &json!({ "collateral_id": c.id }),
    )?;
    // The item now counts in the borrower's health: its insurance, reports on it.
    crate::monitoring::health::refresh(tx, std::slice::from_ref(&l.borrower_id), today)?;
    views::collateral(c)
}
