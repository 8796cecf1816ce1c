//! Routes of notices.

use actix_web::{get, patch, web};
use chrono::NaiveDate;
use loanwatch_api_types::{
    Page, Problem,
    notice::{Notice, UpdateNotice},
};
use loanwatch_domain::notice::{AddresseeKind, NoticeKind, NoticeStatus};
use loanwatch_store::{
    DbConn, ScopeFilter,
    models::NoticeRow,
    repo::{borrower, loan, notice, people},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::{decode_keyed_cursor, encode_cursor, page_limit, query_enum},
    ledger::service,
    notices::text::{TextFacts, render},
    views::{stored, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_notices)
        .service(get_notice)
        .service(update_notice);
}

fn view(r: NoticeRow) -> Result<Notice, ApiError> {
    Ok(Notice {
        kind: stored(&r.kind, "kind")?,
        addressee_kind: stored(&r.addressee_kind, "addressee_kind")?,
        status: stored(&r.status, "status")?,
        id: r.id,
        loan_id: r.loan_id,
        addressee_id: r.addressee_id,
        reference_date: r.reference_date,
        due_date: r.due_date,
        amount_fen: r.amount_fen,
        officer_id: r.officer_id,
        organisation_id: r.organisation_id,
        created_at: utc(r.created_at),
        acted_by: r.acted_by,
        acted_at: r.acted_at.map(utc),
        note: r.note,
        text: None,
    })
}

/// Query of the notice list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// Only notices of this officer's loans.
    officer_id: Option<String>,
    /// Only notices of loans booked in this organisation or below.
    organisation_id: Option<String>,
    /// Only notices of this loan.
    loan_id: Option<String>,
    /// Kind.
    kind: Option<String>,
    /// `pending`, `sent` or `acknowledged`.
    status: Option<String>,
    /// Due on or after.
    due_from: Option<NaiveDate>,
    /// Due on or before.
    due_to: Option<NaiveDate>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

/// Notices of the loans in the caller's scope, by due date: what to send, to whom, by when.
#[utoipa::path(
    tag = "notices",
    operation_id = "list_notices",
    params(NoticeQuery),
    responses(
        (status = 200, description = "A page of notices", body = Page<Notice>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/notices")]
async fn list_notices(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<NoticeQuery>,
) -> Result<web::Json<Page<Notice>>, ApiError> {
    actor.require_read()?;
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let after = decode_keyed_cursor(q.cursor.as_deref(), "due_date")?;
    let kind = query_enum::<NoticeKind>(q.kind.as_deref(), "kind")?;
    let status = query_enum::<NoticeStatus>(q.status.as_deref(), "status")?;
    let scope = service::scope(&actor);
    let page = state
        .db(move |conn| {
            let org_path_prefix = match q.organisation_id.as_deref() {
                Some(id) => Some(people::get_org(conn, id).map(|o| o.path).map_err(|_| {
                    ApiError::field(
                        ErrorCode::InvalidParameter,
                        "#/query/organisation_id",
                        "no such organisation",
                    )
                })?),
                None => None,
            };
            let filter = notice::NoticeFilter {
                officer_id: q.officer_id,
                org_path_prefix,
                loan_id: q.loan_id,
                kind,
                status,
                due_from: q.due_from,
                due_to: q.due_to,
            };
            Ok(notice::list(conn, &scope, &filter, after, limit)?)
        })
        .await?;
    let next_cursor = page
        .has_more
        .then(|| {
            page.items
                .last()
                .map(|n| encode_cursor("due_date", &n.due_date.to_string(), &n.id))
        })
        .flatten();
    Ok(web::Json(Page {
        items: page.items.into_iter().map(view).collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

fn with_text(conn: &mut DbConn, scope: &ScopeFilter, row: NoticeRow) -> Result<Notice, ApiError> {
    let l = loan::get(conn, scope, &row.loan_id).map_err(|_| ApiError::not_found("notice"))?;
    let kind: NoticeKind = stored(&row.kind, "kind")?;
    let addressee = match stored::<AddresseeKind>(&row.addressee_kind, "addressee_kind")? {
        AddresseeKind::Borrower => borrower::get(conn, scope, &row.addressee_id)
            .map(|b| b.name)
            .unwrap_or_else(|_| l.borrower_name.clone()),
        AddresseeKind::Guarantor => loan::security(conn, &row.loan_id)?
            .0
            .into_iter()
            .find(|g| g.id == row.addressee_id)
            .map_or_else(|| row.addressee_id.clone(), |g| g.name),
        AddresseeKind::Officer => people::get_user(conn, &row.addressee_id)
            .map_or_else(|_| row.addressee_id.clone(), |u| u.display_name),
        AddresseeKind::Branch => people::get_org(conn, &row.addressee_id)
            .map_or_else(|_| row.addressee_id.clone(), |o| o.name),
    };
    let text = render(&TextFacts {
        kind,
        borrower: &l.borrower_name,
        addressee: &addressee,
        contract_no: &l.loan.contract_no,
        date: row.reference_date,
        due_date: row.due_date,
        amount_fen: row.amount_fen.unwrap_or_default(),
        currency: &l.loan.currency,
    });
    let mut n = view(row)?;
    n.text = Some(text);
    Ok(n)
}

/// One notice with its printable text in zh-CN and English.
#[utoipa::path(
    tag = "notices",
    operation_id = "get_notice",
    params(("id" = String, Path, description = "Notice id")),
    responses(
        (status = 200, description = "The notice", body = Notice),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/notices/{id}")]
async fn get_notice(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Notice>, ApiError> {
    actor.require_read()?;
    let scope = service::scope(&actor);
    let id = id.into_inner();
    let n = state
        .db(move |conn| {
            let row = notice::get(conn, &scope, &id).map_err(|_| ApiError::not_found("notice"))?;
            with_text(conn, &scope, row)
        })
        .await?;
    Ok(web::Json(n))
}

/// Record that a notice was sent or acknowledged; statuses only move forward, and who acted and
/// when is kept.
#[utoipa::path(
    tag = "notices",
    operation_id = "update_notice",
    request_body = UpdateNotice,
    params(("id" = String, Path, description = "Notice id")),
    responses(
        (status = 200, description = "Updated", body = Notice),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The status cannot go back", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/notices/{id}")]
async fn update_notice(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: crate::extract::JsonBody<UpdateNotice>,
) -> Result<web::Json<Notice>, ApiError> {
    actor.require_write()?;
    let scope = service::scope(&actor);
    let id = id.into_inner();
    let input = body.value;
    let n = write::change(&state, &actor, move |tx| {
        let row = notice::get(tx.conn(), &scope, &id).map_err(|_| ApiError::not_found("notice"))?;
        let current: NoticeStatus = stored(&row.status, "status")?;
        if !current.may_become(input.status) {
            return Err(ApiError::conflict(format!(
                "a {current} notice cannot become {}",
                input.status
            )));
        }
        let note = input
            .note
            .as_deref()
            .map(|n| service::text("note", n, 1000))
            .transpose()?;
        notice::set_status(tx, &id, input.status.as_str(), note.as_deref())?;
        tx.audit(
            "notice.update",
            "notice",
            &id,
            &json!({ "from": current, "to": input.status }),
        )?;
        let row = notice::get(tx.conn(), &scope, &id)?;
        view(row)
    })
    .await?;
    Ok(web::Json(n))
}
