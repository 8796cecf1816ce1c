//! Routes of what early warning learns about a borrower besides its money — financial statements
//! and the data provider's signals — and of the borrower's health check. Each new fact runs the
//! incremental pass for its borrower in the transaction that stores it: the warnings it raises
//! come back in the answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use actix_web::{get, post, put, web};
use chrono::{Datelike, NaiveDate};
use loanwatch_api_types::{
    FieldError, Problem,
    monitoring::{
        BorrowerHealth, NewSignal, PutStatement, Signal, SignalBatch, SignalBatchResult, Statement,
        StatementResult,
    },
};
use loanwatch_domain::{
    money::MAX_AMOUNT_FEN,
    monitoring::{
        health::Health,
        ratios::{self, Ratio},
    },
};
use loanwatch_store::{
    ScopeFilter, WriteTx,
    models::{SignalRow, StatementRow},
    repo::{borrower, health as repo},
};
use serde_json::json;

use super::{
    distinct,
    health::{Judged, assess, refresh, statement},
    routes::{MAX_BATCH, Repeat, content_hash, printable, repeats},
    rules,
    warnings::visible_warnings,
};
use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::JsonBody,
    ledger::service,
    views::{stored, stored_json, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(put_statement)
        .service(get_statements)
        .service(post_signals)
        .service(get_signals)
        .service(get_health);
}

/// The figures sent for `period` as the ratio rules see them.
fn statement_of(period: &str, s: &PutStatement) -> ratios::Statement {
    ratios::Statement {
        period: period.to_owned(),
        current_assets: s.current_assets,
        inventory: s.inventory,
        total_assets: s.total_assets,
        current_liabilities: s.current_liabilities,
        total_liabilities: s.total_liabilities,
        revenue: s.revenue,
        net_profit: s.net_profit,
        profit_before_tax: s.profit_before_tax,
        interest_expense: s.interest_expense,
        operating_cash_flow: s.operating_cash_flow,
    }
}

/// Each ratio of `s`, with `previous` for growth.
fn ratios_of(
    s: &loanwatch_domain::monitoring::ratios::Statement,
    previous: Option<&loanwatch_domain::monitoring::ratios::Statement>,
) -> BTreeMap<String, Option<String>> {
    Ratio::ALL
        .iter()
        .map(|r| {
            (
                r.as_str().to_owned(),
                ratios::compute(*r, s, previous).map(|d| d.to_string()),
            )
        })
        .collect()
}

fn statement_views(rows: Vec<StatementRow>) -> Vec<Statement> {
    let domain: Vec<_> = rows.iter().map(statement).collect();
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| Statement {
            ratios: ratios_of(&domain[i], i.checked_sub(1).map(|p| &domain[p])),
            borrower_id: row.borrower_id,
            period: row.period,
            figures: PutStatement {
                current_assets: row.current_assets,
                inventory: row.inventory,
                total_assets: row.total_assets,
                current_liabilities: row.current_liabilities,
                total_liabilities: row.total_liabilities,
                revenue: row.revenue,
                net_profit: row.net_profit,
                profit_before_tax: row.profit_before_tax,
                interest_expense: row.interest_expense,
                operating_cash_flow: row.operating_cash_flow,
            },
            recorded_by: row.recorded_by,
            updated_at: utc(row.updated_at),
        })
        .collect()
}

/// Store a borrower's financial statements for a period (`2026`, `2026Q2` or `2026-06`; one kind
/// per borrower), replacing earlier figures for it, and run the borrower's health check: the
/// ratio warnings it raises come back in the answer.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "put_statement",
    request_body = PutStatement,
    params(
        ("id" = String, Path, description = "Borrower id"),
        ("period" = String, Path, description = "`2026`, `2026Q2` or `2026-06`"),
    ),
    responses(
        (status = 200, description = "Stored", body = StatementResult),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The borrower reports by another kind of period", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, every fault by pointer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/borrowers/{id}/statements/{period}")]
async fn put_statement(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: JsonBody<PutStatement>,
) -> Result<web::Json<StatementResult>, ApiError> {
    actor.require_write()?;
    let (id, period) = path.into_inner();
    let today = state.today();
    let Some((kind, starts)) = ratios::parse_period(&period) else {
        return Err(ApiError::invalid(
            "period",
            "is a year (2026), a quarter (2026Q2) or a month (2026-06), 2000–2100",
        ));
    };
    if starts > today {
        return Err(ApiError::invalid("period", "has not begun yet"));
    }
    let input = body.value;
    let errors: Vec<FieldError> = statement_of(&period, &input)
        .check()
        .into_iter()
        .map(|e| FieldError {
            pointer: e.pointer,
            message: e.message,
        })
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::fields(
            ErrorCode::ValidationFailed,
            format!("{} figures are not acceptable", errors.len()),
            errors,
        ));
    }
    let who = actor.clone();
    write::change(&state, &actor, move |tx| {
        let scope = service::scope(&who);
        let b =
            borrower::get(tx.conn(), &scope, &id).map_err(|_| ApiError::not_found("borrower"))?;
        let existing = repo::statements_of(tx.conn(), std::slice::from_ref(&b.id))?;
        if let Some(other) = existing
            .iter()
            .find(|s| ratios::parse_period(&s.period).map(|(k, _)| k) != Some(kind))
        {
            return Err(ApiError::conflict(format!(
                "the borrower reports by periods like {}; {period} is of another kind",
                other.period
            )));
        }
        let now = tx.now();
        let row = StatementRow {
            borrower_id: b.id.clone(),
            period: period.clone(),
            current_assets: input.current_assets,
            inventory: input.inventory,
            total_assets: input.total_assets,
            current_liabilities: input.current_liabilities,
            total_liabilities: input.total_liabilities,
            revenue: input.revenue,
            net_profit: input.net_profit,
            profit_before_tax: input.profit_before_tax,
            interest_expense: input.interest_expense,
            operating_cash_flow: input.operating_cash_flow,
            recorded_by: tx.actor().to_owned(),
            created_at: now,
            updated_at: now,
        };
        let created = repo::put_statement(tx, &row)?;
        tx.audit(
            "statement.put",
            "borrower",
            &b.id,
            &json!({ "period": period, "created": created, "figures": input }),
        )?;
        let raised = refresh(tx, std::slice::from_ref(&b.id), today)?;
        // The borrower's periods as they now stand, in order: the answer's ratios need the
        // period before this one.
        let mut all = existing;
        all.retain(|s| s.period != period);
        all.push(row);
        all.sort_by(|a, b| a.period.cmp(&b.period));
        let Some(statement) = statement_views(all)
            .into_iter()
            .find(|s| s.period == period)
        else {
            return Err(ApiError::internal(anyhow::anyhow!("statement not kept")));
        };
        Ok(StatementResult {
            statement,
            created,
            warnings: visible_warnings(tx.conn(), &scope, raised)?,
        })
    })
    .await
    .map(web::Json)
}

/// A borrower's financial statements, oldest period first, each with its ratios.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "get_statements",
    params(("id" = String, Path, description = "Borrower id")),
    responses(
        (status = 200, description = "The statements", body = Vec<Statement>),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/borrowers/{id}/statements")]
async fn get_statements(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Vec<Statement>>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    state
        .db(move |conn| {
            borrower::get(conn, &scope, &id).map_err(|_| ApiError::not_found("borrower"))?;
            Ok(statement_views(repo::statements_of(
                conn,
                std::slice::from_ref(&id),
            )?))
        })
        .await
        .map(web::Json)
}

/// What is wrong with one signal on its own, if anything: (field, message).
fn check_signal(s: &NewSignal, today: NaiveDate) -> Option<(&'static str, String)> {
    if !printable(&s.id, 128) {
        return Some(("id", "is 1–128 printable characters".into()));
    }
    if !printable(&s.borrower_id, 64) {
        return Some(("borrower_id", "is 1–64 printable characters".into()));
    }
    if s.occurred_on.year() < 2000 || s.occurred_on > today {
        return Some(("occurred_on", "is before 2000 or in the future".into()));
    }
    match s.amount_fen {
        Some(a) if !(0..=MAX_AMOUNT_FEN).contains(&a) => {
            return Some((
                "amount_fen",
                "is an amount of fen, not negative, at most 10 trillion yuan".into(),
            ));
        }
        None if s.kind.needs_amount() => {
            return Some((
                "amount_fen",
                format!(
                    "is required for {} (the debt reported or the item's value now)",
                    s.kind
                ),
            ));
        }
        _ => {}
    }
    match (&s.collateral_id, s.kind.is_about_collateral()) {
        (None, true) => {
            return Some((
                "collateral_id",
                format!(
                    "is required for {}: the collateral item it is about",
                    s.kind
                ),
            ));
        }
        (Some(_), false) => {
            return Some((
                "collateral_id",
                format!("applies only to collateral signals, not to {}", s.kind),
            ));
        }
        (Some(c), true) if !printable(c, 64) => {
            return Some(("collateral_id", "is 1–64 printable characters".into()));
        }
        _ => {}
    }
    if s.detail.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        return Some(("detail", "is at most 1,000 characters".into()));
    }
    None
}

/// Store a batch of external signals (up to 10,000) from the bank's data provider — changes of
/// key persons, lawsuits, enforcement, tax arrears, frozen accounts, borrowing elsewhere —
/// idempotent by the provider's id, and run the health check of every borrower concerned: the
/// warnings raised come back in the answer. A resend counts as replayed; the same id with other
/// content is 409. Any row at fault refuses the whole batch, every fault listed by pointer.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "post_signals",
    request_body = SignalBatch,
    responses(
        (status = 200, description = "Stored and evaluated", body = SignalBatchResult),
        (status = 409, description = "An id was stored with other content", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over MAX_BATCH_BODY_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rows at fault, listed by pointer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/signals")]
async fn post_signals(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody<SignalBatch, true>,
) -> Result<web::Json<SignalBatchResult>, ApiError> {
    actor.require_write()?;
    let batch = body.value.signals;
    if batch.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "signals",
            format!("at most {MAX_BATCH} signals a batch"),
        ));
    }
    let today = state.today();
    let mut errors = Vec::new();
    let mut hashes = Vec::with_capacity(batch.len());
    for (i, s) in batch.iter().enumerate() {
        hashes.push(content_hash(s)?);
        if let Some((field, message)) = check_signal(s, today) {
            errors.push(FieldError {
                pointer: format!("/signals/{i}/{field}"),
                message,
            });
        }
    }
    if !errors.is_empty() {
        return Err(refused(errors));
    }
    let who = actor.clone();
    write::change(&state, &actor, move |tx| {
        ingest_signals(tx, &service::scope(&who), batch, hashes, today)
    })
    .await
    .map(web::Json)
}

fn refused(errors: Vec<FieldError>) -> ApiError {
    ApiError::fields(
        ErrorCode::ValidationFailed,
        format!(
            "{} signals are not acceptable; nothing was stored",
            errors.len()
        ),
        errors,
    )
}

fn ingest_signals(
    tx: &mut WriteTx<'_>,
    scope: &ScopeFilter,
    batch: Vec<NewSignal>,
    hashes: Vec<String>,
    today: NaiveDate,
) -> Result<SignalBatchResult, ApiError> {
    let ids: Vec<String> = batch.iter().map(|s| s.id.clone()).collect();
    let stored_hash: HashMap<String, String> =
        repo::signal_hashes(tx.conn(), &ids)?.into_iter().collect();
    let again: HashMap<usize, Repeat> = repeats(batch.iter().map(|s| s.id.as_str()).zip(&hashes))
        .into_iter()
        .map(|r| (r.at, r))
        .collect();
    let mut conflicts = Vec::new();
    let mut fresh = Vec::new();
    let mut replayed = 0u64;
    for (i, (s, h)) in batch.iter().zip(&hashes).enumerate() {
        match (again.get(&i), stored_hash.get(&s.id)) {
            (Some(r), _) if r.same => replayed += 1,
            (Some(r), _) => conflicts.push(r.conflict("signals")),
            (None, Some(old)) if old == h => replayed += 1,
            (None, Some(_)) => conflicts.push(FieldError {
                pointer: format!("/signals/{i}/id"),
                message: "was stored before with other content".into(),
            }),
            (None, None) => fresh.push((i, s, h)),
        }
    }
    if !conflicts.is_empty() {
        return Err(ApiError::fields(
            ErrorCode::Conflict,
            format!(
                "{} signal ids were stored before or repeat with other content",
                conflicts.len()
            ),
            conflicts,
        ));
    }
    let borrower_ids = distinct(fresh.iter().map(|(_, s, _)| s.borrower_id.clone()));
    let known: BTreeSet<String> = borrower::visible_ids(tx.conn(), scope, &borrower_ids)?
        .into_iter()
        .collect();
    // A collateral signal names an item of its borrower's: registered under it or securing
    // one of its loans. Every borrower whose loan the item secures is concerned.
    let items = distinct(fresh.iter().filter_map(|(_, s, _)| s.collateral_id.clone()));
    let item_borrowers: BTreeSet<(String, String)> = repo::collateral_borrowers(tx.conn(), &items)?
        .into_iter()
        .collect();
    let mut errors = Vec::new();
    for (i, s, _) in &fresh {
        if !known.contains(&s.borrower_id) {
            errors.push(FieldError {
                pointer: format!("/signals/{i}/borrower_id"),
                message: "no such borrower".into(),
            });
        } else if let Some(c) = &s.collateral_id
            && !item_borrowers.contains(&(c.clone(), s.borrower_id.clone()))
        {
            errors.push(FieldError {
                pointer: format!("/signals/{i}/collateral_id"),
                message: "no such collateral of this borrower's".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(refused(errors));
    }
    let concerned = distinct(
        borrower_ids
            .iter()
            .cloned()
            .chain(item_borrowers.into_iter().map(|(_, b)| b)),
    );
    let now = tx.now();
    let rows: Vec<SignalRow> = fresh
        .iter()
        .map(|(_, s, h)| SignalRow {
            id: s.id.clone(),
            borrower_id: s.borrower_id.clone(),
            kind: s.kind.as_str().to_owned(),
            occurred_on: s.occurred_on,
            amount_fen: s.amount_fen,
            detail: s.detail.clone(),
            content_hash: (*h).clone(),
            received_at: now,
            collateral_id: s.collateral_id.clone(),
        })
        .collect();
    if rows.is_empty() {
        return Ok(SignalBatchResult {
            accepted: 0,
            replayed,
            warnings: Vec::new(),
        });
    }
    repo::insert_signals(tx, &rows)?;
    tx.audit(
        "signal.ingest",
        "signal",
        rows.first().map(|r| r.id.as_str()).unwrap_or_default(),
        &json!({ "accepted": rows.len(), "replayed": replayed, "borrowers": borrower_ids.len() }),
    )?;
    let raised = refresh(tx, &concerned, today)?;
    Ok(SignalBatchResult {
        accepted: rows.len() as u64,
        replayed,
        warnings: visible_warnings(tx.conn(), scope, raised)?,
    })
}

/// The external signals reported on a borrower, newest first.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "get_signals",
    params(("id" = String, Path, description = "Borrower id")),
    responses(
        (status = 200, description = "The signals", body = Vec<Signal>),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/borrowers/{id}/signals")]
async fn get_signals(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Vec<Signal>>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    state
        .db(move |conn| {
            borrower::get(conn, &scope, &id).map_err(|_| ApiError::not_found("borrower"))?;
            let since = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
            let mut rows = repo::signals_of(conn, std::slice::from_ref(&id), since)?;
            rows.reverse();
            rows.into_iter()
                .map(|s| {
                    Ok(Signal {
                        kind: stored(&s.kind, "signal kind")?,
                        id: s.id,
                        borrower_id: s.borrower_id,
                        occurred_on: s.occurred_on,
                        amount_fen: s.amount_fen,
                        detail: s.detail,
                        collateral_id: s.collateral_id,
                        received_at: utc(s.received_at),
                    })
                })
                .collect()
        })
        .await
        .map(web::Json)
}

/// A borrower's health check (体检): every rule of the rule set scored with an explanation —
/// fund flows, ratios, external signals, the loans' workflow — and the score out of 100. It is
/// the one the nightly batch or the last new fact about the borrower computed; for a borrower
/// not checked yet it is computed now (and not stored).
#[utoipa::path(
    tag = "monitoring",
    operation_id = "get_borrower_health",
    params(("id" = String, Path, description = "Borrower id")),
    responses(
        (status = 200, description = "The health check", body = BorrowerHealth),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No rule set is in force", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/borrowers/{id}/health")]
async fn get_health(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<BorrowerHealth>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    let today = state.today();
    state
        .db(move |conn| {
            borrower::get(conn, &scope, &id).map_err(|_| ApiError::not_found("borrower"))?;
            if let Some(row) = repo::health_of(conn, &id)? {
                return Ok(BorrowerHealth {
                    borrower_id: row.borrower_id,
                    as_of: row.as_of,
                    score: row.score.max(0) as u32,
                    grade: stored(&row.grade, "grade")?,
                    worst_tier: row
                        .worst_tier
                        .as_deref()
                        .map(|t| stored(t, "tier"))
                        .transpose()?,
                    rule_version: row.rule_version,
                    checks: stored_json(&row.checks, "health checks")?,
                    computed_at: utc(row.computed_at),
                });
            }
            let v = rules::in_force_on(conn, today)?
                .ok_or_else(|| ApiError::conflict("no rule set is in force"))?;
            let found = assess(
                conn,
                std::slice::from_ref(&id),
                Judged::All,
                &v.rules,
                today,
            )?;
            let Some((_, h)) = found.health.into_iter().next() else {
                return Err(ApiError::internal(anyhow::anyhow!("no health computed")));
            };
            let Health {
                score,
                grade,
                worst_tier,
                checks,
            } = h;
            Ok(BorrowerHealth {
                borrower_id: id,
                as_of: today,
                score,
                grade,
                worst_tier,
                rule_version: v.version,
                checks,
                computed_at: chrono::Utc::now(),
            })
        })
        .await
        .map(web::Json)
}
