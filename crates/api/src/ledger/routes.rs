//! Routes of the ledger.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::NaiveDate;
use loanwatch_api_types::{
    Page, Problem,
    ledger::{
        Borrower, BorrowerGroup, Collateral, CreateBorrower, CreateBorrowerGroup, CreateCollateral,
        CreateGuarantor, CreateLoan, CreateLoanEvent, Guarantor, LinkCollateral, LinkGuarantor,
        Loan, LoanEvent, LoanSecurity, UpdateBorrower, UpdateCollateral, UpdateLoan,
    },
};
use loanwatch_domain::{
    BorrowerId, CollateralId, GroupId, GuarantorId, LoanId,
    ledger::{LoanClass, LoanStatus, PartyKind},
};
use loanwatch_store::{
    DbConn, PageRequest, ScopeFilter,
    repo::{
        borrower::{self, BorrowerFilter, BorrowerSort},
        loan::{self, LoanFilter, LoanSort},
        party, people,
    },
};
use serde::Deserialize;

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::{
        IdempotencyKey, JsonBody, decode_cursor, encode_cursor, page_limit, parse_sort, path_id,
        query_enum,
    },
    ledger::service,
    views, write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_borrowers)
        .service(create_borrower)
        .service(get_borrower)
        .service(update_borrower)
        .service(list_borrower_groups)
        .service(create_borrower_group)
        .service(get_borrower_group)
        .service(list_guarantors)
        .service(create_guarantor)
        .service(get_guarantor)
        .service(list_collateral)
        .service(create_collateral)
        .service(get_collateral)
        .service(update_collateral)
        .service(list_loans)
        .service(create_loan)
        .service(get_loan)
        .service(update_loan)
        .service(list_loan_events)
        .service(create_loan_event)
        .service(get_loan_security)
        .service(link_loan_guarantor)
        .service(link_loan_collateral);
}

/// Runs a read with the caller's resolved scope; administrators are refused.
async fn read<T, F>(state: &AppState, actor: &Actor, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn, &ScopeFilter) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    actor.require_read()?;
    let who = actor.clone();
    state
        .db(move |conn| {
            let scope = service::scope(&who);
            work(conn, &scope)
        })
        .await
}

fn org_prefix(conn: &mut DbConn, org: Option<&str>) -> Result<Option<String>, ApiError> {
    org.map(|id| {
        people::get_org(conn, id).map(|o| o.path).map_err(|_| {
            ApiError::field(
                ErrorCode::InvalidParameter,
                "#/query/organisation_id",
                "no such organisation",
            )
        })
    })
    .transpose()
}

// ---- borrowers ----

/// Query of the borrower list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BorrowerQuery {
    /// Only borrowers booked in this organisation or below it.
    organisation_id: Option<String>,
    /// Only borrowers of this officer.
    officer_id: Option<String>,
    /// `enterprise` or `individual`.
    kind: Option<String>,
    /// Only members of this group.
    group_id: Option<String>,
    /// Text contained in the name or credit code.
    q: Option<String>,
    /// `id` (default, creation order) or `name`; prefix `-` for descending.
    sort: Option<String>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

/// List the borrowers in the caller's scope.
#[utoipa::path(
    tag = "ledger",
    operation_id = "list_borrowers",
    params(BorrowerQuery),
    responses(
        (status = 200, description = "A page of borrowers", body = Page<Borrower>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role reads no customer data", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/borrowers")]
async fn list_borrowers(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<BorrowerQuery>,
) -> Result<web::Json<Page<Borrower>>, ApiError> {
    let q = query.into_inner();
    let (sort, descending, sort_text) = parse_sort(
        q.sort.as_deref(),
        &[("id", BorrowerSort::Id), ("name", BorrowerSort::Name)],
    )?;
    let limit = page_limit(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref(), &sort_text)?;
    let kind = query_enum::<PartyKind>(q.kind.as_deref(), "kind")?;
    let full = actor.sees_personal_data();
    let page = read(&state, &actor, move |conn, scope| {
        let filter = BorrowerFilter {
            org_path_prefix: org_prefix(conn, q.organisation_id.as_deref())?,
            officer_id: q.officer_id,
            kind,
            group_id: q.group_id,
            text: q.q.filter(|t| !t.trim().is_empty()),
        };
        let page = PageRequest {
            sort,
            descending,
            after,
            limit,
        };
        Ok(borrower::list(conn, scope, &filter, &page)?)
    })
    .await?;
    let next_cursor = page
        .has_more
        .then(|| {
            page.items.last().map(|b| {
                let value = match sort {
                    BorrowerSort::Id => &b.id,
                    BorrowerSort::Name => &b.name,
                };
                encode_cursor(&sort_text, value, &b.id)
            })
        })
        .flatten();
    Ok(web::Json(Page {
        items: page
            .items
            .into_iter()
            .map(|b| views::borrower(b, full))
            .collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// Create a borrower. Officers create borrowers assigned to themselves.
#[utoipa::path(
    tag = "ledger",
    operation_id = "create_borrower",
    request_body = CreateBorrower,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Created", body = Borrower),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not write", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Credit code or ID number exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/borrowers")]
async fn create_borrower(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateBorrower>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let input = body.value;
    let who = actor.clone();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::create_borrower(tx, &who, input)
    })
    .await
}

/// One borrower in the caller's scope.
#[utoipa::path(
    tag = "ledger",
    operation_id = "get_borrower",
    params(("id" = String, Path, description = "Borrower id")),
    responses(
        (status = 200, description = "The borrower", body = Borrower),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/borrowers/{id}")]
async fn get_borrower(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Borrower>, ApiError> {
    let id: BorrowerId = path_id(&id, "borrower")?;
    let full = actor.sees_personal_data();
    let row = read(&state, &actor, move |conn, scope| {
        borrower::get(conn, scope, &id.to_string()).map_err(|_| ApiError::not_found("borrower"))
    })
    .await?;
    Ok(web::Json(views::borrower(row, full)?))
}

/// Change a borrower's details or hand it over to another officer.
#[utoipa::path(
    tag = "ledger",
    operation_id = "update_borrower",
    request_body = UpdateBorrower,
    params(("id" = String, Path, description = "Borrower id")),
    responses(
        (status = 200, description = "Updated", body = Borrower),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/borrowers/{id}")]
async fn update_borrower(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<UpdateBorrower>,
) -> Result<web::Json<Borrower>, ApiError> {
    actor.require_write()?;
    let id: BorrowerId = path_id(&id, "borrower")?;
    let input = body.value;
    let who = actor.clone();
    let b = write::change(&state, &actor, move |tx| {
        service::update_borrower(tx, &who, &id.to_string(), input)
    })
    .await?;
    Ok(web::Json(b))
}

// ---- groups, guarantors, collateral ----

/// Cursor and size of a simple list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimpleQuery {
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

/// Query of the collateral list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CollateralQuery {
    /// Only collateral of this borrower.
    borrower_id: Option<String>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

fn id_page<T, R>(
    page: loanwatch_store::PageOf<R>,
    id: fn(&R) -> &str,
    map: impl Fn(R) -> Result<T, ApiError>,
) -> Result<Page<T>, ApiError> {
    let next_cursor = page
        .has_more
        .then(|| page.items.last().map(|r| encode_cursor("id", id(r), id(r))))
        .flatten();
    Ok(Page {
        items: page.items.into_iter().map(map).collect::<Result<_, _>>()?,
        next_cursor,
    })
}

/// List borrower groups in the caller's scope.
#[utoipa::path(
    tag = "ledger",
    operation_id = "list_borrower_groups",
    params(SimpleQuery),
    responses((status = 200, description = "A page of groups", body = Page<BorrowerGroup>)),
    security(("bearer" = []))
)]
#[get("/borrower-groups")]
async fn list_borrower_groups(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<SimpleQuery>,
) -> Result<web::Json<Page<BorrowerGroup>>, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = decode_cursor(query.cursor.as_deref(), "id")?.map(|(_, id)| id);
    let page = read(&state, &actor, move |conn, scope| {
        Ok(party::list_groups(conn, scope, after.as_deref(), limit)?)
    })
    .await?;
    Ok(web::Json(id_page(page, |r| &r.id, views::group)?))
}

/// Create a borrower group (集团客户) led by an organisation in the caller's scope.
#[utoipa::path(
    tag = "ledger",
    operation_id = "create_borrower_group",
    request_body = CreateBorrowerGroup,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Created", body = BorrowerGroup),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/borrower-groups")]
async fn create_borrower_group(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateBorrowerGroup>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let input = body.value;
    let who = actor.clone();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::create_group(tx, &who, input)
    })
    .await
}

/// One borrower group.
#[utoipa::path(
    tag = "ledger",
    operation_id = "get_borrower_group",
    params(("id" = String, Path, description = "Group id")),
    responses(
        (status = 200, description = "The group", body = BorrowerGroup),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/borrower-groups/{id}")]
async fn get_borrower_group(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<BorrowerGroup>, ApiError> {
    let id: GroupId = path_id(&id, "group")?;
    let row = read(&state, &actor, move |conn, scope| {
        party::get_group(conn, scope, &id.to_string()).map_err(|_| ApiError::not_found("group"))
    })
    .await?;
    Ok(web::Json(views::group(row)?))
}

/// List guarantors in the caller's scope.
#[utoipa::path(
    tag = "ledger",
    operation_id = "list_guarantors",
    params(SimpleQuery),
    responses((status = 200, description = "A page of guarantors", body = Page<Guarantor>)),
    security(("bearer" = []))
)]
#[get("/guarantors")]
async fn list_guarantors(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<SimpleQuery>,
) -> Result<web::Json<Page<Guarantor>>, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = decode_cursor(query.cursor.as_deref(), "id")?.map(|(_, id)| id);
    let full = actor.sees_personal_data();
    let page = read(&state, &actor, move |conn, scope| {
        Ok(party::list_guarantors(
            conn,
            scope,
            after.as_deref(),
            limit,
        )?)
    })
    .await?;
    Ok(web::Json(id_page(
        page,
        |r| &r.id,
        |r| views::guarantor(r, full),
    )?))
}

/// Create a guarantor (保证人).
#[utoipa::path(
    tag = "ledger",
    operation_id = "create_guarantor",
    request_body = CreateGuarantor,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Created", body = Guarantor),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/guarantors")]
async fn create_guarantor(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateGuarantor>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let input = body.value;
    let who = actor.clone();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::create_guarantor(tx, &who, input)
    })
    .await
}

/// One guarantor.
#[utoipa::path(
    tag = "ledger",
    operation_id = "get_guarantor",
    params(("id" = String, Path, description = "Guarantor id")),
    responses(
        (status = 200, description = "The guarantor", body = Guarantor),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/guarantors/{id}")]
async fn get_guarantor(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Guarantor>, ApiError> {
    let id: GuarantorId = path_id(&id, "guarantor")?;
    let full = actor.sees_personal_data();
    let row = read(&state, &actor, move |conn, scope| {
        party::get_guarantor(conn, scope, &id.to_string())
            .map_err(|_| ApiError::not_found("guarantor"))
    })
    .await?;
    Ok(web::Json(views::guarantor(row, full)?))
}

/// List collateral in the caller's scope.
#[utoipa::path(
    tag = "ledger",
    operation_id = "list_collateral",
    params(CollateralQuery),
    responses((status = 200, description = "A page of collateral", body = Page<Collateral>)),
    security(("bearer" = []))
)]
#[get("/collateral")]
async fn list_collateral(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<CollateralQuery>,
) -> Result<web::Json<Page<Collateral>>, ApiError> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref(), "id")?.map(|(_, id)| id);
    let page = read(&state, &actor, move |conn, scope| {
        Ok(party::list_collateral(
            conn,
            scope,
            q.borrower_id.as_deref(),
            after.as_deref(),
            limit,
        )?)
    })
    .await?;
    Ok(web::Json(id_page(page, |r| &r.id, views::collateral)?))
}

/// Register a collateral item (抵押物/质押物) of a borrower.
#[utoipa::path(
    tag = "ledger",
    operation_id = "create_collateral",
    request_body = CreateCollateral,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Created", body = Collateral),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/collateral")]
async fn create_collateral(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateCollateral>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let input = body.value;
    let who = actor.clone();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::create_collateral(tx, &who, input)
    })
    .await
}

/// Record a collateral item's renewed insurance or new registration number. Fields left out
/// stay as they are. The borrowers whose loans it secures are judged again at once.
#[utoipa::path(
    tag = "ledger",
    operation_id = "update_collateral",
    request_body = UpdateCollateral,
    params(("id" = String, Path, description = "Collateral id")),
    responses(
        (status = 200, description = "Updated", body = Collateral),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/collateral/{id}")]
async fn update_collateral(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<UpdateCollateral>,
) -> Result<web::Json<Collateral>, ApiError> {
    actor.require_write()?;
    let id: CollateralId = path_id(&id, "collateral")?;
    let input = body.value;
    let today = state.today();
    let who = actor.clone();
    let c = write::change(&state, &actor, move |tx| {
        service::update_collateral(tx, &who, &id.to_string(), input, today)
    })
    .await?;
    Ok(web::Json(c))
}

/// One collateral item.
#[utoipa::path(
    tag = "ledger",
    operation_id = "get_collateral",
    params(("id" = String, Path, description = "Collateral id")),
    responses(
        (status = 200, description = "The collateral", body = Collateral),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/collateral/{id}")]
async fn get_collateral(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Collateral>, ApiError> {
    let id: CollateralId = path_id(&id, "collateral")?;
    let row = read(&state, &actor, move |conn, scope| {
        party::get_collateral(conn, scope, &id.to_string())
            .map_err(|_| ApiError::not_found("collateral"))
    })
    .await?;
    Ok(web::Json(views::collateral(row)?))
}

// ---- loans ----

/// Query of the loan list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoanQuery {
    /// Only loans booked in this organisation or below it.
    organisation_id: Option<String>,
    /// Only loans of this officer.
    officer_id: Option<String>,
    /// Only loans of this borrower.
    borrower_id: Option<String>,
    /// Five-level class.
    class: Option<String>,
    /// `active` or `settled`.
    status: Option<String>,
    /// Maturity on or after this date.
    maturity_from: Option<NaiveDate>,
    /// Maturity on or before this date.
    maturity_to: Option<NaiveDate>,
    /// Text contained in the contract number or the borrower's name.
    q: Option<String>,
    /// `id` (default, booking order), `maturity_date`, `principal_fen` or `contract_no`; prefix
    /// `-` for descending.
    sort: Option<String>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

/// List the loans in the caller's scope.
#[utoipa::path(
    tag = "ledger",
    operation_id = "list_loans",
    params(LoanQuery),
    responses(
        (status = 200, description = "A page of loans", body = Page<Loan>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role reads no customer data", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/loans")]
async fn list_loans(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<LoanQuery>,
) -> Result<web::Json<Page<Loan>>, ApiError> {
    let q = query.into_inner();
    let (sort, descending, sort_text) = parse_sort(
        q.sort.as_deref(),
        &[
            ("id", LoanSort::Id),
            ("maturity_date", LoanSort::MaturityDate),
            ("principal_fen", LoanSort::PrincipalFen),
            ("contract_no", LoanSort::ContractNo),
        ],
    )?;
    let limit = page_limit(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref(), &sort_text)?;
    let class = query_enum::<LoanClass>(q.class.as_deref(), "class")?;
    let status = query_enum::<LoanStatus>(q.status.as_deref(), "status")?;
    if let (Some(from), Some(to)) = (q.maturity_from, q.maturity_to)
        && from > to
    {
        return Err(ApiError::field(
            ErrorCode::InvalidParameter,
            "#/query/maturity_to",
            "is before maturity_from",
        ));
    }
    let page = read(&state, &actor, move |conn, scope| {
        let filter = LoanFilter {
            org_path_prefix: org_prefix(conn, q.organisation_id.as_deref())?,
            officer_id: q.officer_id,
            borrower_id: q.borrower_id,
            class,
            status,
            maturity_from: q.maturity_from,
            maturity_to: q.maturity_to,
            text: q.q.filter(|t| !t.trim().is_empty()),
        };
        Ok(loan::list(
            conn,
            scope,
            &filter,
            &PageRequest {
                sort,
                descending,
                after,
                limit,
            },
        )?)
    })
    .await?;
    let next_cursor = page
        .has_more
        .then(|| {
            page.items.last().map(|l| {
                let value = match sort {
                    LoanSort::Id => l.loan.id.clone(),
                    LoanSort::MaturityDate => l.loan.maturity_date.to_string(),
                    LoanSort::PrincipalFen => l.loan.principal_fen.to_string(),
                    LoanSort::ContractNo => l.loan.contract_no.clone(),
                };
                encode_cursor(&sort_text, &value, &l.loan.id)
            })
        })
        .flatten();
    Ok(web::Json(Page {
        items: page
            .items
            .into_iter()
            .map(views::loan)
            .collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// Book a disbursed loan; its disbursement event is recorded with it.
#[utoipa::path(
    tag = "ledger",
    operation_id = "create_loan",
    request_body = CreateLoan,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Booked", body = Loan),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not write", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Contract number exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/loans")]
async fn create_loan(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateLoan>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let input = body.value;
    let who = actor.clone();
    let today = state.today();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::create_loan(tx, &who, input, today)
    })
    .await
}

/// One loan in the caller's scope.
#[utoipa::path(
    tag = "ledger",
    operation_id = "get_loan",
    params(("id" = String, Path, description = "Loan id")),
    responses(
        (status = 200, description = "The loan", body = Loan),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/loans/{id}")]
async fn get_loan(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Loan>, ApiError> {
    let id: LoanId = path_id(&id, "loan")?;
    let row = read(&state, &actor, move |conn, scope| {
        loan::get(conn, scope, &id.to_string()).map_err(|_| ApiError::not_found("loan"))
    })
    .await?;
    Ok(web::Json(views::loan(row)?))
}

/// Change a loan's five-level class, management mode or responsible officer.
#[utoipa::path(
    tag = "ledger",
    operation_id = "update_loan",
    request_body = UpdateLoan,
    params(("id" = String, Path, description = "Loan id")),
    responses(
        (status = 200, description = "Updated", body = Loan),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/loans/{id}")]
async fn update_loan(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<UpdateLoan>,
) -> Result<web::Json<Loan>, ApiError> {
    actor.require_write()?;
    let id: LoanId = path_id(&id, "loan")?;
    let input = body.value;
    let today = state.today();
    let who = actor.clone();
    let l = write::change(&state, &actor, move |tx| {
        service::update_loan(tx, &who, &id.to_string(), input, today)
    })
    .await?;
    Ok(web::Json(l))
}

/// A loan's history in business-date order.
#[utoipa::path(
    tag = "ledger",
    operation_id = "list_loan_events",
    params(("id" = String, Path, description = "Loan id"), SimpleQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<LoanEvent>),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/loans/{id}/events")]
async fn list_loan_events(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    query: web::Query<SimpleQuery>,
) -> Result<web::Json<Page<LoanEvent>>, ApiError> {
    let id: LoanId = path_id(&id, "loan")?;
    let limit = page_limit(query.limit)?;
    let after = decode_cursor(query.cursor.as_deref(), "id")?.map(|(_, id)| id);
    let page = read(&state, &actor, move |conn, scope| {
        let l = loan::get(conn, scope, &id.to_string()).map_err(|_| ApiError::not_found("loan"))?;
        Ok(loan::events(conn, &l.loan.id, after.as_deref(), limit)?)
    })
    .await?;
    Ok(web::Json(id_page(page, |r| &r.id, views::loan_event)?))
}

/// Record an event: repayment, extension, rate change, guarantee change, settlement, or a further
/// disbursement. It may be backdated but not dated in the future.
#[utoipa::path(
    tag = "ledger",
    operation_id = "create_loan_event",
    request_body = CreateLoanEvent,
    params(("id" = String, Path, description = "Loan id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Recorded", body = LoanEvent),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid for this loan", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/loans/{id}/events")]
async fn create_loan_event(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: JsonBody<CreateLoanEvent>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let id: LoanId = path_id(&id, "loan")?;
    let input = body.value;
    let who = actor.clone();
    let today = state.today();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::create_event(tx, &who, &id.to_string(), input, today)
    })
    .await
}

/// The guarantors and collateral securing a loan.
#[utoipa::path(
    tag = "ledger",
    operation_id = "get_loan_security",
    params(("id" = String, Path, description = "Loan id")),
    responses(
        (status = 200, description = "Guarantors and collateral", body = LoanSecurity),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/loans/{id}/security")]
async fn get_loan_security(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<LoanSecurity>, ApiError> {
    let id: LoanId = path_id(&id, "loan")?;
    let full = actor.sees_personal_data();
    let (g, c) = read(&state, &actor, move |conn, scope| {
        let l = loan::get(conn, scope, &id.to_string()).map_err(|_| ApiError::not_found("loan"))?;
        Ok(loan::security(conn, &l.loan.id)?)
    })
    .await?;
    Ok(web::Json(LoanSecurity {
        guarantors: g
            .into_iter()
            .map(|r| views::guarantor(r, full))
            .collect::<Result<_, _>>()?,
        collateral: c
            .into_iter()
            .map(views::collateral)
            .collect::<Result<_, _>>()?,
    }))
}

/// Link a guarantor to a loan.
#[utoipa::path(
    tag = "ledger",
    operation_id = "link_loan_guarantor",
    request_body = LinkGuarantor,
    params(("id" = String, Path, description = "Loan id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Linked", body = Guarantor),
        (status = 404, description = "Loan absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already linked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/loans/{id}/guarantors")]
async fn link_loan_guarantor(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: JsonBody<LinkGuarantor>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let id: LoanId = path_id(&id, "loan")?;
    let input = body.value;
    let who = actor.clone();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::link_guarantor(tx, &who, &id.to_string(), input)
    })
    .await
}

/// Link a collateral item to a loan.
#[utoipa::path(
    tag = "ledger",
    operation_id = "link_loan_collateral",
    request_body = LinkCollateral,
    params(("id" = String, Path, description = "Loan id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Linked", body = Collateral),
        (status = 404, description = "Loan absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already linked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/loans/{id}/collateral")]
async fn link_loan_collateral(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: JsonBody<LinkCollateral>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let id: LoanId = path_id(&id, "loan")?;
    let input = body.value;
    let who = actor.clone();
    let today = state.today();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::link_collateral(tx, &who, &id.to_string(), input, today)
    })
    .await
}
