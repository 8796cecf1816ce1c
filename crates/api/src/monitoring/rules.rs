//! Rule-set versions (预警规则): drafts, activation from a day, backtests over stored history,
//! and the nightly batch that evaluates the whole portfolio with the version in force.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

use actix_web::{HttpResponse, get, post, web};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use loanwatch_api_types::{
    Problem,
    monitoring::{
        ActivateRuleSet, Backtest, BacktestCount, BacktestHit, BacktestRequest, NewRuleSet,
        RuleSetVersion,
    },
};
use loanwatch_domain::monitoring::{
    ruleset::{RuleSet, Version, in_force},
    warning::period,
};
use loanwatch_store::{
    AuditContext, DbConn,
    models::RuleSetRow,
    repo::{monitoring as repo, notice},
};
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::{IdempotencyKey, JsonBody, json_pointer},
    monitoring::{Finding, LoanHit, evaluate_all, raise},
    views::utc,
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_rule_sets)
        .service(create_rule_set)
        .service(activate_rule_set)
        .service(backtest_rule_set);
}

/// A definition as sent: unknown fields and out-of-range values are pointed at under
/// `/definition`.
pub fn parse(definition: &serde_json::Value) -> Result<RuleSet, ApiError> {
    let rules: RuleSet = serde_path_to_error::deserialize(definition).map_err(|e| {
        ApiError::field(
            ErrorCode::ValidationFailed,
            format!("/definition{}", json_pointer(e.path())),
            e.inner().to_string(),
        )
    })?;
    rules.validate().map_err(|e| {
        ApiError::field(
            ErrorCode::ValidationFailed,
            format!("/definition{}", e.pointer),
            e.message,
        )
    })?;
    Ok(rules)
}

/// A stored definition, parsed.
fn definition(row: &RuleSetRow) -> Result<RuleSet, ApiError> {
    serde_json::from_str(&row.definition)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("stored rule set {}: {e}", row.version)))
}

/// A stored version, parsed.
fn parsed(row: RuleSetRow) -> Result<Version<RuleSet>, ApiError> {
    Ok(Version {
        rules: definition(&row)?,
        version: row.version,
        active_from: row.active_from,
    })
}

/// Parsed rule sets kept from one transaction to the next by a caller that judges often (the
/// transfer writer judges every group it stores).
///
/// A stored definition never changes: a new definition is a new version, and activating a draft
/// sets only its first day. So a version parsed once stays good for as long as its row is the
/// same row. Each [`Parsed::load`] reads every version's number, first day and creation time, and
/// reads and parses a definition only for a version it has not seen in that row.
#[derive(Debug, Default)]
pub struct Parsed {
    by_version: HashMap<i32, (NaiveDateTime, Arc<RuleSet>)>,
}

impl Parsed {
    /// Every stored version, oldest first, as the transaction of `conn` sees them.
    pub fn load(&mut self, conn: &mut DbConn) -> Result<Vec<Version<Arc<RuleSet>>>, ApiError> {
        let heads = repo::rule_set_heads(conn)?;
        // A version gone (a database restored from an older copy) is forgotten.
        self.by_version
            .retain(|v, _| heads.iter().any(|(version, ..)| version == v));
        let mut versions = Vec::with_capacity(heads.len());
        for (version, active_from, created_at) in heads {
            let rules = match self.by_version.get(&version) {
                Some((created, rules)) if *created == created_at => Arc::clone(rules),
                _ => {
                    let row = repo::rule_set(conn, version)?;
                    let rules = Arc::new(definition(&row)?);
                    self.by_version
                        .insert(version, (row.created_at, Arc::clone(&rules)));
                    rules
                }
            };
            versions.push(Version {
                version,
                active_from,
                rules,
            });
        }
        Ok(versions)
    }
}

/// The version in force on `day`, alone (what a new fact about a borrower is judged by).
pub fn in_force_on(
    conn: &mut DbConn,
    day: NaiveDate,
) -> Result<Option<Version<RuleSet>>, ApiError> {
    repo::rule_set_in_force(conn, day)?.map(parsed).transpose()
}

/// Stores the shipped defaults as version 1, in force from 2000-01-01, when no version exists.
pub fn seed_default(conn: &mut DbConn) -> Result<bool, ApiError> {
    if !repo::rule_sets(conn)?.is_empty() {
        return Ok(false);
    }
    let ctx = AuditContext {
        actor: "system:rules-seed".to_owned(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    loanwatch_store::write(conn, ctx, |tx| {
        let from = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
        let row = repo::insert_rule_set(
            tx,
            RuleSetRow {
                version: 0,
                definition: serde_json::to_string(&RuleSet::default())
                    .map_err(ApiError::internal)?,
                note: Some("shipped defaults (RULEBOOK §5–§6)".into()),
                active_from: Some(from),
                created_by: tx.actor().to_owned(),
                created_at: tx.now(),
                activated_by: Some(tx.actor().to_owned()),
                activated_at: Some(tx.now()),
            },
        )?;
        tx.audit(
            "rule_set.seed",
            "rule_set",
            &row.version.to_string(),
            &json!({}),
        )?;
        Ok(true)
    })
}

fn view(
    row: RuleSetRow,
    in_force_today: Option<i32>,
    today: NaiveDate,
) -> Result<RuleSetVersion, ApiError> {
    let status = match row.active_from {
        None => "draft",
        Some(d) if d > today => "scheduled",
        Some(_) if in_force_today == Some(row.version) => "active",
        Some(_) => "superseded",
    };
    Ok(RuleSetVersion {
        version: row.version,
        definition: serde_json::to_value(definition(&row)?).map_err(ApiError::internal)?,
        note: row.note,
        status: status.into(),
        active_from: row.active_from,
        created_by: row.created_by,
        created_at: utc(row.created_at),
        activated_by: row.activated_by,
    })
}

fn require_rules_role(actor: &Actor) -> Result<(), ApiError> {
    actor.require_write()?;
    if actor.role.manages_rules() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "warning rules are written and activated by risk managers and head office",
        ))
    }
}

fn current(conn: &mut DbConn, today: NaiveDate) -> Result<Option<i32>, ApiError> {
    Ok(repo::rule_set_in_force(conn, today)?.map(|r| r.version))
}

/// Every version of the warning rules, oldest first, with its status today.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "list_rule_sets",
    responses((status = 200, description = "The versions", body = Vec<RuleSetVersion>)),
    security(("bearer" = []))
)]
#[get("/rule-sets")]
async fn list_rule_sets(
    state: web::Data<AppState>,
    actor: Actor,
) -> Result<web::Json<Vec<RuleSetVersion>>, ApiError> {
    actor.require_read()?;
    let today = state.today();
    state
        .db(move |conn| {
            let now = current(conn, today)?;
            repo::rule_sets(conn)?
                .into_iter()
                .map(|r| view(r, now, today))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map(web::Json)
}

/// Store a draft version. What the definition leaves out takes the default; unknown fields and
/// out-of-range values are refused with a pointer. A draft changes nothing until activated.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "create_rule_set",
    request_body = NewRuleSet,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Stored as a draft", body = RuleSetVersion),
        (status = 403, description = "Not a risk manager or head office", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid definition", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/rule-sets")]
async fn create_rule_set(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<NewRuleSet>,
) -> Result<HttpResponse, ApiError> {
    require_rules_role(&actor)?;
    let input = body.value;
    let rules = parse(&input.definition)?;
    let today = state.today();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        let note = input
            .note
            .map(|n| crate::ledger::service::text("note", &n, 2000))
            .transpose()?;
        let row = repo::insert_rule_set(
            tx,
            RuleSetRow {
                version: 0,
                definition: serde_json::to_string(&rules).map_err(ApiError::internal)?,
                note,
                active_from: None,
                created_by: tx.actor().to_owned(),
                created_at: tx.now(),
                activated_by: None,
                activated_at: None,
            },
        )?;
        tx.audit(
            "rule_set.create",
            "rule_set",
            &row.version.to_string(),
            &json!({}),
        )?;
        let now = current(tx.conn(), today)?;
        view(row, now, today)
    })
    .await
}

/// Activate a draft from a business day (today or later). From that day new facts are judged by
/// it; warnings already raised keep the version that raised them.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "activate_rule_set",
    request_body = ActivateRuleSet,
    params(("version" = i32, Path, description = "Version")),
    responses(
        (status = 200, description = "Activated", body = RuleSetVersion),
        (status = 404, description = "No such version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A day in the past", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/rule-sets/{version}/activate")]
async fn activate_rule_set(
    state: web::Data<AppState>,
    actor: Actor,
    version: web::Path<i32>,
    body: JsonBody<ActivateRuleSet>,
) -> Result<web::Json<RuleSetVersion>, ApiError> {
    require_rules_role(&actor)?;
    let version = version.into_inner();
    let from = body.value.active_from;
    let today = state.today();
    if from < today {
        return Err(ApiError::invalid(
            "active_from",
            "is in the past: rules apply from today on",
        ));
    }
    let by = actor.subject();
    write::change(&state, &actor, move |tx| {
        repo::rule_set(tx.conn(), version).map_err(|_| ApiError::not_found("rule set version"))?;
        if !repo::activate_rule_set(tx, version, from, &by)? {
            return Err(ApiError::conflict(format!(
                "version {version} is not a draft"
            )));
        }
        tx.audit(
            "rule_set.activate",
            "rule_set",
            &version.to_string(),
            &json!({ "active_from": from }),
        )?;
        let row = repo::rule_set(tx.conn(), version)?;
        let now = current(tx.conn(), today)?;
        view(row, now, today)
    })
    .await
    .map(web::Json)
}

fn counts(hits: &[(String, LoanHit)]) -> Vec<BacktestCount> {
    let mut by: BTreeMap<(String, loanwatch_domain::monitoring::Tier), u64> = BTreeMap::new();
    for (_, h) in hits {
        *by.entry((h.hit.rule.as_str().to_owned(), h.hit.tier))
            .or_default() += 1;
    }
    by.into_iter()
        .map(|((rule, tier), count)| BacktestCount { rule, tier, count })
        .collect()
}

/// The hits of a whole-history run that fall in [from, to], one per borrower, rule and month
/// (the first), with the loan's borrower.
fn distinct_in(
    conn: &mut DbConn,
    hits: Vec<LoanHit>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, LoanHit)>, ApiError> {
    let loan_ids: Vec<String> = hits.iter().map(|h| h.loan_id.clone()).collect();
    let borrower: BTreeMap<String, String> = repo::loans_by_id(conn, &loan_ids)?
        .into_iter()
        .map(|l| (l.id, l.borrower_id))
        .collect();
    let mut hits: Vec<LoanHit> = hits
        .into_iter()
        .filter(|h| (from..=to).contains(&h.hit.on))
        .collect();
    hits.sort_by(|a, b| (a.hit.on, &a.loan_id).cmp(&(b.hit.on, &b.loan_id)));
    let mut seen = BTreeSet::new();
    Ok(hits
        .into_iter()
        .filter_map(|h| {
            let b = borrower.get(&h.loan_id)?.clone();
            seen.insert((b.clone(), h.hit.rule, period(h.hit.on)))
                .then_some((b, h))
        })
        .collect())
}

/// Run a version (a draft, typically) over the stored transfers and report what it would have
/// raised in a period, next to what the version in force would: before anyone activates it.
/// Nothing is written.
#[utoipa::path(
    tag = "monitoring",
    operation_id = "backtest_rule_set",
    request_body = BacktestRequest,
    params(("version" = i32, Path, description = "Version")),
    responses(
        (status = 200, description = "What it would raise", body = Backtest),
        (status = 404, description = "No such version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad period", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/rule-sets/{version}/backtest")]
async fn backtest_rule_set(
    state: web::Data<AppState>,
    actor: Actor,
    version: web::Path<i32>,
    body: JsonBody<BacktestRequest>,
) -> Result<web::Json<Backtest>, ApiError> {
    require_rules_role(&actor)?;
    let version = version.into_inner();
    let today = state.today();
    let to = body.value.to.unwrap_or(today);
    let from = body.value.from.unwrap_or(to - Duration::days(90));
    if from > to || to > today {
        return Err(ApiError::invalid(
            "from",
            "the period runs from `from` to `to`, not after today",
        ));
    }
    if (to - from).num_days() > 366 {
        return Err(ApiError::invalid(
            "from",
            "a backtest covers at most 366 days",
        ));
    }
    let tz = state.config.time_zone;
    state
        .db(move |conn| {
            let versions = Parsed::default().load(conn)?;
            let tested = versions
                .iter()
                .find(|v| v.version == version)
                .ok_or_else(|| ApiError::not_found("rule set version"))?;
            // One pass over the stream, the tested version beside the one in force.
            let mut rule_sets = vec![&tested.rules.flow];
            rule_sets.extend(in_force(&versions, to).map(|v| &v.rules.flow));
            let (hits, transfers) = evaluate_all(conn, &rule_sets, to, tz)?;
            let mut hits = hits.into_iter();
            let would = distinct_in(conn, hits.next().unwrap_or_default(), from, to)?;
            let in_force_hits = distinct_in(conn, hits.next().unwrap_or_default(), from, to)?;
            Ok(Backtest {
                version,
                from,
                to,
                transfers,
                would_raise: counts(&would),
                in_force: counts(&in_force_hits),
                examples: would
                    .iter()
                    .take(100)
                    .map(|(b, h)| BacktestHit {
                        borrower_id: b.clone(),
                        loan_id: h.loan_id.clone(),
                        rule: h.hit.rule.as_str().to_owned(),
                        tier: h.hit.tier,
                        on: h.hit.on,
                        detail: h.hit.detail.clone(),
                    })
                    .collect(),
            })
        })
        .await
        .map(web::Json)
}

/// The job's name in `job_runs`.
pub const JOB: &str = "monitor";

/// Who writes in the nightly run for `as_of`, as the other jobs name themselves.
pub fn job_context(as_of: NaiveDate) -> AuditContext {
    AuditContext {
        actor: format!("system:{JOB}"),
        request_id: format!("job:{JOB}:{as_of}"),
    }
}

/// What a nightly run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorReport {
    /// Whether this call ran the job.
    pub ran: bool,
    /// Transfers evaluated.
    pub transfers: u64,
    /// Rules broken (before deduplication).
    pub hits: u64,
    /// Warnings new this run.
    pub raised: u64,
    /// Borrowers whose health was checked.
    pub borrowers: u64,
}

/// The nightly batch under the version in force on `as_of`, once a day unless `force`: every
/// active loan's transfers up to the end of `as_of` plus the idle check, then the health check
/// of every borrower with an active loan (ratios, signals, workflow, and the score). Given a
/// second connection, the health check reads on one while it writes on the other.
pub fn run_nightly(
    conn: &mut DbConn,
    reader: Option<&mut DbConn>,
    as_of: NaiveDate,
    tz: chrono_tz::Tz,
    force: bool,
) -> Result<MonitorReport, ApiError> {
    let now = loanwatch_store::audit::now();
    if !notice::claim_run(conn, JOB, as_of, now, Duration::hours(1))? && !force {
        return Ok(MonitorReport::default());
    }
    let report = monitor(conn, reader, as_of, tz)?;
    let detail =
        json!({ "transfers": report.transfers, "hits": report.hits, "raised": report.raised, "borrowers": report.borrowers })
            .to_string();
    notice::finish_run(conn, JOB, as_of, loanwatch_store::audit::now(), &detail)?;
    Ok(report)
}

fn monitor(
    conn: &mut DbConn,
    reader: Option<&mut DbConn>,
    as_of: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<MonitorReport, ApiError> {
    let Some(v) = in_force_on(conn, as_of)? else {
        return Ok(MonitorReport {
            ran: true,
            ..MonitorReport::default()
        });
    };
    let (hits, transfers) = evaluate_all(conn, &[&v.rules.flow], as_of, tz)?;
    let findings: Vec<Finding> = hits.into_iter().flatten().map(Finding::from).collect();
    let n = findings.len() as u64;
    let raised = loanwatch_store::write(conn, job_context(as_of), |tx| {
        raise(tx, findings, v.version, &v.rules, as_of)
    })?;
    let health = super::health::run_all(conn, reader, &v, as_of)?;
    Ok(MonitorReport {
        ran: true,
        transfers,
        hits: n,
        raised: raised.len() as u64 + health.raised,
        borrowers: health.borrowers,
    })
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;

    use super::*;

    fn ok<T>(r: Result<T, ApiError>) -> anyhow::Result<T> {
        r.map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn draft(conn: &mut DbConn, rules: &RuleSet) -> anyhow::Result<i32> {
        let definition = serde_json::to_string(rules)?;
        ok(loanwatch_store::write(
            conn,
            job_context(day(2026, 12, 1)),
            |tx| {
                let now = tx.now();
                let actor = tx.actor().to_owned();
                Ok(repo::insert_rule_set(
                    tx,
                    RuleSetRow {
                        version: 0,
                        definition,
                        note: None,
                        active_from: None,
                        created_by: actor,
                        created_at: now,
                        activated_by: None,
                        activated_at: None,
                    },
                )?
                .version)
            },
        ))
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn parsed_rule_sets_are_kept_until_their_row_changes() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut conn = loanwatch_store::DatabaseUrl::Sqlite(dir.path().join("r.db")).connect()?;
        loanwatch_store::migrate::run_pending(&mut conn)?;
        assert!(ok(seed_default(&mut conn))?);
        let mut parsed = Parsed::default();

        let first = ok(parsed.load(&mut conn))?;
        assert_eq!(first.len(), 1);
        assert_eq!(*first[0].rules, RuleSet::default());
        // Read again: the same parse, not a new one.
        let again = ok(parsed.load(&mut conn))?;
        assert!(Arc::ptr_eq(&first[0].rules, &again[0].rules));

        // A new draft is read; the version parsed before is kept.
        let mut stricter = RuleSet::default();
        stricter.flow.large_transfer_fen /= 2;
        let v2 = draft(&mut conn, &stricter)?;
        let with_draft = ok(parsed.load(&mut conn))?;
        assert_eq!(with_draft.len(), 2);
        assert!(Arc::ptr_eq(&first[0].rules, &with_draft[0].rules));
        assert_eq!(
            (with_draft[1].version, with_draft[1].active_from),
            (v2, None)
        );
        assert_eq!(*with_draft[1].rules, stricter);

        // Activating it changes its first day, not its definition.
        let from = day(2026, 12, 1);
        assert!(ok(loanwatch_store::write(
            &mut conn,
            job_context(from),
            |tx| Ok(repo::activate_rule_set(tx, v2, from, "test")?)
        ))?);
        let active = ok(parsed.load(&mut conn))?;
        assert_eq!(active[1].active_from, Some(from));
        assert!(Arc::ptr_eq(&with_draft[1].rules, &active[1].rules));

        // A row replaced under the same number (a database restored from another copy) is
        // read and parsed again.
        diesel::sql_query(format!("DELETE FROM rule_sets WHERE version = {v2}"))
            .execute(&mut conn)?;
        let mut laxer = RuleSet::default();
        laxer.flow.large_transfer_fen *= 2;
        assert_eq!(draft(&mut conn, &laxer)?, v2);
        let replaced = ok(parsed.load(&mut conn))?;
        assert_eq!(*replaced[1].rules, laxer);
        assert_eq!(replaced[1].active_from, None);
        Ok(())
    }
}
