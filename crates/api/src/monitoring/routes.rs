//! Routes of the money's map and the money: parties, related parties, accounts, and fund
//! transfers in batches (evaluated as they arrive).

use std::collections::{BTreeSet, HashMap};

use actix_web::{get, post, put, web};
use chrono::{Duration, Utc};
use loanwatch_api_types::{
    FieldError, Problem,
    monitoring::{
        Account, BorrowerParties, NewTransfer, Party, PutAccount, PutParty, PutRelatedParties,
        RelatedParty, TransferBatch, TransferBatchResult,
    },
};
use loanwatch_domain::{money::MAX_AMOUNT_FEN, monitoring::is_category};
use loanwatch_store::{
    DbConn, ScopeFilter, audit,
    models::{AccountRow, PartyRelationRow, PartyRow, TransferRow},
    repo::{borrower, loan, monitoring as repo},
};
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::JsonBody,
    ledger::service,
    monitoring::{
        distinct,
        ingest::{Batch, Posted},
    },
    views::{stored, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(put_party)
        .service(put_related_parties)
        .service(get_borrower_parties)
        .service(put_account)
        .service(post_transfers);
}

/// Transfers a batch may hold.
pub const MAX_BATCH: usize = 10_000;

fn party_view(p: PartyRow) -> Result<Party, ApiError> {
    Ok(Party {
        kind: stored(&p.kind, "party kind")?,
        id: p.id,
        name: p.name,
        category: p.category,
        borrower_id: p.borrower_id,
        created_at: utc(p.created_at),
        updated_at: utc(p.updated_at),
    })
}

fn account_view(a: AccountRow) -> Account {
    Account {
        account_no: a.account_no,
        party_id: a.party_id,
        bank: a.bank,
        created_at: utc(a.created_at),
    }
}

/// Whether the caller may see a party: one that is a borrower of ours follows that borrower's
/// scope; any other party is reference data.
fn party_visible(
    conn: &mut loanwatch_store::DbConn,
    scope: &ScopeFilter,
    party: &PartyRow,
) -> Result<bool, ApiError> {
    Ok(match &party.borrower_id {
        None => true,
        Some(b) => borrower::get(conn, scope, b).is_ok(),
    })
}

/// A key from the path: 1–128 printable characters.
fn key(value: &str, what: &str) -> Result<String, ApiError> {
    if printable(value, 128) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::field(
            ErrorCode::InvalidParameter,
            "#/path/id",
            format!("a {what} id is 1–128 printable characters"),
        ))
    }
}

/// Register a party, or change its details: a borrower of ours (with `borrower_id`), a related
/// party, a supplier, a developer… Categories feed the restricted-category rule.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "put_party",
    request_body = PutParty,
    params(("id" = String, Path, description = "The data provider's key of the party")),
    responses(
        (status = 200, description = "Stored", body = Party),
        (status = 409, description = "Another party already is this borrower", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/parties/{id}")]
async fn put_party(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<PutParty>,
) -> Result<web::Json<Party>, ApiError> {
    actor.require_write()?;
    let id = key(&id, "party")?;
    let input = body.value;
    let who = actor.clone();
    let row =
        write::change(&state, &actor, move |tx| {
            let name = service::text("name", &input.name, 200)?;
            let category = input.category.map(|c| c.trim().to_owned());
            if category.as_deref().is_some_and(|c| !is_category(c)) {
                return Err(ApiError::invalid("category", "is 1–64 of a–z, 0–9 and _"));
            }
            if let Some(b) = &input.borrower_id {
                borrower::get(tx.conn(), &service::scope(&who), b)
                    .map_err(|_| ApiError::invalid("borrower_id", "no such borrower"))?;
                if let Some(other) = repo::party_of_borrower(tx.conn(), b)?
                    && other.id != id
                {
                    return Err(ApiError::conflict(format!(
                        "borrower {b} already is party {}",
                        other.id
                    )));
                }
            }
            let now = tx.now();
            let existing = repo::party(tx.conn(), &id)?;
            if let Some(p) = &existing
                && !party_visible(tx.conn(), &service::scope(&who), p)?
            {
                return Err(ApiError::not_found("party"));
            }
            let row = PartyRow {
                id: id.clone(),
                name,
                kind: input.kind.as_str().to_owned(),
                category,
                borrower_id: input.borrower_id,
                created_at: existing.as_ref().map_or(now, |p| p.created_at),
                updated_at: now,
            };
            repo::put_party(tx, &row)?;
            tx.audit(
            if existing.is_some() { "party.update" } else { "party.create" },
            "party",
            &row.id,
            &json!({ "kind": row.kind, "category": row.category, "borrower_id": row.borrower_id }),
        )?;
            Ok(row)
        })
        .await?;
    Ok(web::Json(party_view(row)?))
}

/// Replace a borrower's related parties: shareholders, legal representative, directors, finance
/// head, group members. Money reaching them counts as coming home.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "put_related_parties",
    request_body = PutRelatedParties,
    params(("id" = String, Path, description = "Borrower id")),
    responses(
        (status = 200, description = "Stored", body = BorrowerParties),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/borrowers/{id}/related-parties")]
async fn put_related_parties(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<PutRelatedParties>,
) -> Result<web::Json<BorrowerParties>, ApiError> {
    actor.require_write()?;
    let id = id.into_inner();
    let input = body.value;
    let who = actor.clone();
    write::change(&state, &actor, move |tx| {
        let b = borrower::get(tx.conn(), &service::scope(&who), &id)
            .map_err(|_| ApiError::not_found("borrower"))?;
        if input.parties.len() > 1000 {
            return Err(ApiError::invalid(
                "parties",
                "at most 1,000 related parties",
            ));
        }
        let ids: Vec<String> = input.parties.iter().map(|p| p.party_id.clone()).collect();
        let scope = service::scope(&who);
        let found = repo::parties_by_id(tx.conn(), &ids)?;
        // A party that is a borrower follows that borrower's scope: one query for them all.
        let theirs: Vec<String> = found.iter().filter_map(|p| p.borrower_id.clone()).collect();
        let seen: BTreeSet<String> = borrower::visible_ids(tx.conn(), &scope, &theirs)?
            .into_iter()
            .collect();
        let known: BTreeSet<String> = found
            .into_iter()
            .filter(|p| p.borrower_id.as_ref().is_none_or(|b| seen.contains(b)))
            .map(|p| p.id)
            .collect();
        let own = repo::party_of_borrower(tx.conn(), &b.id)?.map(|p| p.id);
        let mut errors = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, p) in input.parties.iter().enumerate() {
            let message = if !known.contains(&p.party_id) {
                Some("no such party")
            } else if own.as_deref() == Some(p.party_id.as_str()) {
                Some("is the borrower itself")
            } else if !seen.insert((p.party_id.clone(), p.relation)) {
                Some("is listed twice with this relation")
            } else {
                None
            };
            if let Some(m) = message {
                errors.push(FieldError {
                    pointer: format!("/parties/{i}/party_id"),
                    message: m.to_owned(),
                });
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::fields(
                ErrorCode::ValidationFailed,
                format!("{} related parties are not acceptable", errors.len()),
                errors,
            ));
        }
        let now = tx.now();
        let rows: Vec<PartyRelationRow> = input
            .parties
            .iter()
            .map(|p| PartyRelationRow {
                borrower_id: b.id.clone(),
                party_id: p.party_id.clone(),
                relation: p.relation.as_str().to_owned(),
                created_at: now,
            })
            .collect();
        repo::replace_relations(tx, &b.id, &rows)?;
        tx.audit(
            "borrower.related_parties",
            "borrower",
            &b.id,
            &json!({ "parties": input.parties.len() }),
        )?;
        borrower_parties(tx.conn(), &b.id)
    })
    .await
    .map(web::Json)
}

fn borrower_parties(
    conn: &mut loanwatch_store::DbConn,
    borrower_id: &str,
) -> Result<BorrowerParties, ApiError> {
    let party = repo::party_of_borrower(conn, borrower_id)?;
    let related = repo::relations_of(conn, &[borrower_id.to_owned()])?;
    let mut holders: Vec<String> = related.iter().map(|r| r.party_id.clone()).collect();
    holders.extend(party.as_ref().map(|p| p.id.clone()));
    Ok(BorrowerParties {
        borrower_id: borrower_id.to_owned(),
        accounts: repo::accounts_of(conn, &holders)?
            .into_iter()
            .map(account_view)
            .collect(),
        related: related
            .into_iter()
            .map(|r| {
                Ok(RelatedParty {
                    relation: stored(&r.relation, "relation")?,
                    party_id: r.party_id,
                })
            })
            .collect::<Result<_, ApiError>>()?,
        party: party.map(party_view).transpose()?,
    })
}

/// A borrower's place in the money's map: the party it is, its related parties, and their
/// accounts.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "get_borrower_parties",
    params(("id" = String, Path, description = "Borrower id")),
    responses(
        (status = 200, description = "The borrower's parties and accounts", body = BorrowerParties),
        (status = 404, description = "Absent or outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/borrowers/{id}/parties")]
async fn get_borrower_parties(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<BorrowerParties>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    state
        .db(move |conn| {
            borrower::get(conn, &scope, &id).map_err(|_| ApiError::not_found("borrower"))?;
            borrower_parties(conn, &id)
        })
        .await
        .map(web::Json)
}

/// Register an account and its holder. An account's holder does not change: registering it
/// again with the same holder is a no-op, with another holder 409.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "put_account",
    request_body = PutAccount,
    params(("account_no" = String, Path, description = "Account number")),
    responses(
        (status = 200, description = "Registered", body = Account),
        (status = 409, description = "Registered with another holder", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/accounts/{account_no}")]
async fn put_account(
    state: web::Data<AppState>,
    actor: Actor,
    account_no: web::Path<String>,
    body: JsonBody<PutAccount>,
) -> Result<web::Json<Account>, ApiError> {
    actor.require_write()?;
    let no = key(&account_no, "account")?;
    let input = body.value;
    let who = actor.clone();
    let row = write::change(&state, &actor, move |tx| {
        let holder = repo::party(tx.conn(), &input.party_id)?;
        match &holder {
            Some(p) if party_visible(tx.conn(), &service::scope(&who), p)? => {}
            _ => return Err(ApiError::invalid("party_id", "no such party")),
        }
        let bank = input
            .bank
            .map(|b| service::text("bank", &b, 200))
            .transpose()?;
        if let Some(existing) = repo::accounts_by_no(tx.conn(), std::slice::from_ref(&no))?.pop() {
            return if existing.party_id == input.party_id && existing.bank == bank {
                Ok(existing)
            } else {
                Err(ApiError::conflict(format!(
                    "account {no} is registered to party {}",
                    existing.party_id
                )))
            };
        }
        let row = AccountRow {
            account_no: no,
            party_id: input.party_id,
            bank,
            created_at: tx.now(),
        };
        repo::insert_account(tx, &row)?;
        tx.audit(
            "account.create",
            "account",
            &row.account_no,
            &json!({ "party_id": row.party_id, "bank": row.bank }),
        )?;
        Ok(row)
    })
    .await?;
    Ok(web::Json(account_view(row)))
}

pub use crate::extract::content_hash;

/// An id met again within one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    /// Where, by index.
    pub at: usize,
    /// Where it came first.
    pub first: usize,
    /// Whether with the same content (a resend within the batch) or other content (409).
    pub same: bool,
}

impl Repeat {
    /// The 409 fault of a repeat with other content, in the batch's array `field`.
    pub fn conflict(self, field: &str) -> FieldError {
        FieldError {
            pointer: format!("/{field}/{}/id", self.at),
            message: format!("also at /{field}/{} with other content", self.first),
        }
    }
}

/// The ids of a batch, each with its content hash, that came earlier in it.
pub fn repeats<'a>(items: impl IntoIterator<Item = (&'a str, &'a String)>) -> Vec<Repeat> {
    let mut first: HashMap<&str, (usize, &str)> = HashMap::new();
    let mut out = Vec::new();
    for (i, (id, hash)) in items.into_iter().enumerate() {
        match first.get(id) {
            Some(&(j, h)) => out.push(Repeat {
                at: i,
                first: j,
                same: h == hash.as_str(),
            }),
            None => {
                first.insert(id, (i, hash.as_str()));
            }
        }
    }
    out
}

/// Whether `s` is 1–`max` characters, none of them control characters (ids, account numbers).
pub fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// What is wrong with one transfer on its own, if anything: (field, message).
pub fn check_transfer(
    t: &NewTransfer,
    now: chrono::DateTime<Utc>,
) -> Option<(&'static str, String)> {
    if !printable(&t.id, 128) {
        return Some(("id", "is 1–128 printable characters".into()));
    }
    if !printable(&t.from_account, 64) {
        return Some(("from_account", "is 1–64 printable characters".into()));
    }
    if !printable(&t.to_account, 64) {
        return Some(("to_account", "is 1–64 printable characters".into()));
    }
    if t.from_account == t.to_account {
        return Some(("to_account", "is the paying account".into()));
    }
    if !(1..=MAX_AMOUNT_FEN).contains(&t.amount_fen) {
        return Some((
            "amount_fen",
            "is a positive amount of fen, at most 10 trillion yuan".into(),
        ));
    }
    let earliest = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc());
    if earliest.is_some_and(|e| t.booked_at < e) || t.booked_at > now + Duration::days(1) {
        return Some(("booked_at", "is before 2000 or in the future".into()));
    }
    if t.memo.as_ref().is_some_and(|m| m.chars().count() > 500) {
        return Some(("memo", "is at most 500 characters".into()));
    }
    None
}

/// Store a batch of fund transfers (up to 10,000), idempotent by the source system's id, and
/// evaluate them at once: the warnings they raise come back in the answer. A resend of a stored
/// transfer counts as replayed; the same id with other content is 409. Any row at fault refuses
/// the whole batch, every fault listed by pointer; nothing is half stored.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "post_transfers",
    request_body = TransferBatch,
    responses(
        (status = 200, description = "Stored and evaluated", body = TransferBatchResult),
        (status = 409, description = "An id was stored with other content", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over MAX_BATCH_BODY_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rows at fault, listed by pointer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/transfers")]
async fn post_transfers(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody<TransferBatch, true>,
) -> Result<web::Json<TransferBatchResult>, ApiError> {
    actor.require_write()?;
    let batch = body.value.transfers;
    if batch.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "transfers",
            format!("at most {MAX_BATCH} transfers a batch"),
        ));
    }
    let now = Utc::now();
    let mut errors = Vec::new();
    let mut fault = |i: usize, field: &str, message: String| {
        errors.push(FieldError {
            pointer: format!("/transfers/{i}/{field}"),
            message,
        });
    };
    let mut hashes = Vec::with_capacity(batch.len());
    for (i, t) in batch.iter().enumerate() {
        hashes.push(content_hash(t)?);
        if let Some((field, message)) = check_transfer(t, now) {
            fault(i, field, message);
        }
    }
    let conflicts: Vec<FieldError> = repeats(batch.iter().map(|t| t.id.as_str()).zip(&hashes))
        .into_iter()
        .filter(|r| !r.same)
        .map(|r| r.conflict("transfers"))
        .collect();
    if !errors.is_empty() {
        return Err(batch_refused(errors));
    }
    if !conflicts.is_empty() {
        return Err(ApiError::fields(
            ErrorCode::Conflict,
            "transfer ids repeat with other content",
            conflicts,
        ));
    }
    let scope = service::scope(&actor);
    let batch = Batch::prepare(&state, &scope, batch, hashes).await?;
    state
        .transfers
        .store(Posted {
            ctx: actor.audit(),
            scope,
            batch,
            today: state.today(),
        })
        .await
        .map(web::Json)
}

fn batch_refused(errors: Vec<FieldError>) -> ApiError {
    ApiError::fields(
        ErrorCode::ValidationFailed,
        format!(
            "{} transfers are not acceptable; nothing was stored",
            errors.len()
        ),
        errors,
    )
}

/// Which of these transfers (place in the batch, id, content hash) are not stored yet. A stored
/// id with the same content is a replay; with other content the batch is refused, 409, every such
/// id named by its place.
fn not_stored(conn: &mut DbConn, keys: &[(usize, &str, &str)]) -> Result<Vec<bool>, ApiError> {
    let ids: Vec<String> = keys.iter().map(|(_, id, _)| (*id).to_owned()).collect();
    let stored: HashMap<String, String> = repo::transfer_hashes(conn, &ids)?.into_iter().collect();
    let conflicts: Vec<usize> = keys
        .iter()
        .filter(|(_, id, hash)| stored.get(*id).is_some_and(|old| old != hash))
        .map(|(i, _, _)| *i)
        .collect();
    if !conflicts.is_empty() {
        return Err(stored_with_other_content(&conflicts));
    }
    Ok(keys
        .iter()
        .map(|(_, id, _)| !stored.contains_key(*id))
        .collect())
}

/// 409: transfer ids stored before with other content, each named by its place in the batch.
pub fn stored_with_other_content(places: &[usize]) -> ApiError {
    ApiError::fields(
        ErrorCode::Conflict,
        format!(
            "{} transfer ids were stored before with other content",
            places.len()
        ),
        places
            .iter()
            .map(|i| FieldError {
                pointer: format!("/transfers/{i}/id"),
                message: "was stored before with other content".into(),
            })
            .collect(),
    )
}

/// A batch checked against the database: the rows to store, and how many were stored before.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The new transfers, their parties resolved, each with its place in the batch.
    pub rows: Vec<(usize, TransferRow)>,
    /// Transfers stored before with the same content, or repeated in the batch.
    pub replayed: u64,
}

/// Checks a batch checked on its own (ids, amounts, dates) against the database: ids stored
/// with other content, registered accounts, the caller's scope, the loans whose proceeds the
/// transfers say they are. Reads only: the import runs it over a whole file before it writes
/// anything; a posted batch is checked by its handler or by the transfer writer, by backend
/// ([`super::ingest::Batch`]); storing checks the ids again among the group's.
pub fn check(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    batch: &[NewTransfer],
    hashes: &[String],
) -> Result<Checked, ApiError> {
    let keys: Vec<(usize, &str, &str)> = batch
        .iter()
        .zip(hashes)
        .enumerate()
        .map(|(i, (t, h))| (i, t.id.as_str(), h.as_str()))
        .collect();
    let new = not_stored(conn, &keys)?;
    let mut fresh: Vec<(usize, &NewTransfer, &String)> = Vec::new();
    let mut replayed = 0u64;
    let mut taken = BTreeSet::new();
    for (i, ((t, h), new)) in batch.iter().zip(hashes).zip(new).enumerate() {
        if new && taken.insert(t.id.as_str()) {
            fresh.push((i, t, h));
        } else {
            replayed += 1;
        }
    }
    // Who is on either side: the registered holder, else the account standing for itself.
    let numbers = distinct(
        fresh
            .iter()
            .flat_map(|(_, t, _)| [t.from_account.clone(), t.to_account.clone()]),
    );
    let holder: HashMap<String, String> = repo::accounts_by_no(conn, &numbers)?
        .into_iter()
        .map(|a| (a.account_no, a.party_id))
        .collect();
    // An account of one of our borrowers may only be written about by those who see that
    // borrower: a branch cannot feed transfers into another branch's borrower's monitoring.
    let holders = distinct(holder.values().cloned());
    let borrower_of: HashMap<String, String> = repo::parties_by_id(conn, &holders)?
        .into_iter()
        .filter_map(|p| p.borrower_id.map(|b| (p.id, b)))
        .collect();
    let borrowers_held = distinct(borrower_of.values().cloned());
    let visible: BTreeSet<String> = borrower::visible_ids(conn, scope, &borrowers_held)?
        .into_iter()
        .collect();
    let out_of_scope = |account: &str| {
        holder
            .get(account)
            .and_then(|p| borrower_of.get(p))
            .is_some_and(|b| !visible.contains(b))
    };
    let loan_ids = distinct(fresh.iter().filter_map(|(_, t, _)| t.loan_id.clone()));
    // Per loan in scope: the party its borrower is, if registered (two queries a batch).
    let loan_borrower = loan::borrowers_in_scope(conn, scope, &loan_ids)?;
    let borrowers: Vec<String> = loan_borrower.iter().map(|(_, b)| b.clone()).collect();
    let party_of: HashMap<String, String> = repo::borrower_parties(conn, &borrowers)?
        .into_iter()
        .filter_map(|p| p.borrower_id.map(|b| (b, p.id)))
        .collect();
    let loan_party: HashMap<String, Option<String>> = loan_borrower
        .into_iter()
        .map(|(l, b)| (l, party_of.get(&b).cloned()))
        .collect();
    let mut errors = Vec::new();
    let now = audit::now();
    let mut rows = Vec::with_capacity(fresh.len());
    for (i, t, h) in fresh {
        let (from, to) = (holder.get(&t.from_account), holder.get(&t.to_account));
        if from.is_none() && to.is_none() {
            errors.push(FieldError {
                pointer: format!("/transfers/{i}/from_account"),
                message: "neither account is registered (PUT /accounts/{account_no})".into(),
            });
            continue;
        }
        if let Some(field) = [
            ("from_account", &t.from_account),
            ("to_account", &t.to_account),
        ]
        .into_iter()
        .find(|(_, a)| out_of_scope(a))
        .map(|(f, _)| f)
        {
            errors.push(FieldError {
                pointer: format!("/transfers/{i}/{field}"),
                message: "belongs to a borrower outside your scope".into(),
            });
            continue;
        }
        if let Some(l) = &t.loan_id {
            let problem = match loan_party.get(l) {
                Some(Some(p)) if Some(p) == from => None,
                Some(Some(_)) => Some(("from_account", format!("is not an account of loan {l}'s borrower"))),
                Some(None) => Some((
                    "loan_id",
                    "the loan's borrower is not registered as a party (PUT /parties/{id} with borrower_id)".to_owned(),
                )),
                None => Some(("loan_id", "no such loan".to_owned())),
            };
            if let Some((field, message)) = problem {
                errors.push(FieldError {
                    pointer: format!("/transfers/{i}/{field}"),
                    message,
                });
                continue;
            }
        }
        rows.push((
            i,
            TransferRow {
                id: t.id.clone(),
                booked_at: t.booked_at.naive_utc(),
                from_party: from
                    .cloned()
                    .unwrap_or_else(|| format!("account:{}", t.from_account)),
                to_party: to
                    .cloned()
                    .unwrap_or_else(|| format!("account:{}", t.to_account)),
                from_account: t.from_account.clone(),
                to_account: t.to_account.clone(),
                amount_fen: t.amount_fen,
                loan_id: t.loan_id.clone(),
                memo: t.memo.clone(),
                content_hash: h.clone(),
                received_at: now,
            },
        ));
    }
    if !errors.is_empty() {
        return Err(batch_refused(errors));
    }
    Ok(Checked { rows, replayed })
}
