//! The borrower health check (体检) and the rules that need no transfer stream: ratios over the
//! statements, external signals, and the workflow of each active loan (arrears from the
//! repayment engine's positions, maturity, inspections late, class falls).
//!
//! One function judges a set of borrowers from what is stored ([`assess`]); the nightly batch
//! calls it page by page over every borrower with an active loan, and the incremental pass calls
//! it for the borrowers a new fact concerns, inside the transaction that stores the fact. Both
//! raise the warnings found and store each borrower's health, so they cannot disagree.

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};
use loanwatch_domain::{
    ledger::LoanClass,
    monitoring::{
        collateral::Pledged,
        flow::FlowRule,
        health::{self, FLOW_LOOKBACK_DAYS, Health, StandingWarning, Subject},
        ratios::Statement,
        ruleset::{RuleSet, Version},
        signals::Signal,
        warning::period,
        workflow::LoanFacts,
    },
    position::ProductSettings,
};
use loanwatch_store::{
    DbConn, WriteTx,
    models::{HealthRow, LoanEventRow, SignalRow, StatementRow, WarningRow},
    repo::{health as repo, loan, monitoring as monitoring_repo},
};
use serde_json::json;

use super::{About, Finding, distinct, raise, rules};
use crate::{ApiError, position, views::stored};

/// Borrowers judged per page by the batch.
const PAGE: i64 = 1_000;

/// What [`assess`] found for a set of borrowers.
#[derive(Debug, Default)]
pub struct Assessment {
    /// The rules broken, to raise, each with the borrower it concerns.
    pub findings: Vec<(String, Finding)>,
    /// Each borrower's health.
    pub health: Vec<(String, Health)>,
}

/// A stored statement as the ratio rules see it.
pub fn statement(row: &StatementRow) -> Statement {
    Statement {
        period: row.period.clone(),
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
    }
}

fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> &str) -> HashMap<String, Vec<T>> {
    let mut out: HashMap<String, Vec<T>> = HashMap::new();
    for row in rows {
        out.entry(key(&row).to_owned()).or_default().push(row);
    }
    out
}

/// Which borrowers [`assess`] judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// Every one asked about (a health check on request).
    All,
    /// Those with an active loan: the monitored ones.
    Monitored,
}

/// Judges `borrower_ids` on `as_of` under `rules`: loads their active loans with their events
/// (one query each for the set), statements, signals of the last 13 months, open tasks, recent
/// class changes and standing flow warnings, then runs every rule per borrower, once.
pub fn assess(
    conn: &mut DbConn,
    borrower_ids: &[String],
    judged: Judged,
    rules: &RuleSet,
    as_of: NaiveDate,
) -> Result<Assessment, ApiError> {
    let loans = loan::active_of_borrowers(conn, borrower_ids)?;
    let borrower_ids: Vec<String> = match judged {
        Judged::All => borrower_ids.to_vec(),
        Judged::Monitored => {
            let active: BTreeSet<&str> = loans.iter().map(|l| l.borrower_id.as_str()).collect();
            distinct(
                borrower_ids
                    .iter()
                    .filter(|b| active.contains(b.as_str()))
                    .cloned(),
            )
        }
    };
    if borrower_ids.is_empty() {
        return Ok(Assessment::default());
    }
    let borrower_ids = borrower_ids.as_slice();
    let loan_ids: Vec<String> = loans.iter().map(|l| l.id.clone()).collect();
    let mut events = group(
        loan::events_of_loans(conn, &loan_ids, &position::replayed_kinds())?,
        |e: &LoanEventRow| e.loan_id.as_str(),
    );
    let task_due: HashMap<String, NaiveDate> = repo::oldest_open_task_due(conn, &loan_ids)?
        .into_iter()
        .filter_map(|(l, d)| d.map(|d| (l, d)))
        .collect();
    let since = as_of - Duration::days(rules.workflow.early_recovery_days);
    let mut class_change: HashMap<String, (LoanClass, NaiveDate)> = HashMap::new();
    for c in repo::class_changes_since(conn, &loan_ids, since)? {
        // Oldest first: the last one stays.
        class_change.insert(c.loan_id, (stored(&c.from_class, "class")?, c.changed_on));
    }
    let mut settings: HashMap<String, ProductSettings> = HashMap::new();
    let mut facts: HashMap<String, Vec<LoanFacts>> = HashMap::new();
    for l in &loans {
        if !settings.contains_key(&l.product) {
            settings.insert(
                l.product.clone(),
                position::product_settings(conn, &l.product)?,
            );
        }
        let Some(product) = settings.get(&l.product) else {
            continue;
        };
        let history = events.remove(&l.id).unwrap_or_default();
        let p = match position::position_from(l, &history, product, as_of) {
            Ok(p) => p,
            Err(e) => {
                // One loan the engine cannot replay must not stop the portfolio's check.
                tracing::warn!(loan = %l.id, error = %e, "health check: no position");
                continue;
            }
        };
        facts
            .entry(l.borrower_id.clone())
            .or_default()
            .push(LoanFacts {
                loan_id: l.id.clone(),
                contract_no: l.contract_no.clone(),
                class: stored(&l.class, "class")?,
                class_change: class_change.get(&l.id).copied(),
                maturity_date: l.maturity_date,
                days_past_due: p.days_past_due,
                outstanding_fen: p.outstanding_principal_fen,
                oldest_open_task_due: task_due.get(&l.id).copied(),
            });
    }
    let statements = group(
        repo::statements_of(conn, borrower_ids)?,
        |s: &StatementRow| s.borrower_id.as_str(),
    );
    // The collateral securing each borrower's active loans, an item once however many loans
    // it secures.
    let borrower_of: HashMap<&str, &str> = loans
        .iter()
        .map(|l| (l.id.as_str(), l.borrower_id.as_str()))
        .collect();
    let mut pledged: HashMap<String, Vec<Pledged>> = HashMap::new();
    for (loan_id, c) in repo::collateral_of_loans(conn, &loan_ids)? {
        let Some(b) = borrower_of.get(loan_id.as_str()) else {
            continue;
        };
        let items = pledged.entry((*b).to_owned()).or_default();
        if items.iter().all(|p| p.id != c.id) {
            items.push(Pledged {
                id: c.id,
                description: c.description,
                appraised_value_fen: c.appraised_value_fen,
                insurance_expiry: c.insurance_expiry,
            });
        }
    }
    let signal_since = as_of.checked_sub_months(Months::new(13)).unwrap_or(as_of);
    let signal = |s: &SignalRow| -> Result<Signal, ApiError> {
        Ok(Signal {
            kind: stored(&s.kind, "signal kind")?,
            id: s.id.clone(),
            on: s.occurred_on,
            amount_fen: s.amount_fen,
            collateral_id: s.collateral_id.clone(),
        })
    };
    let mut signals: HashMap<String, Vec<Signal>> = HashMap::new();
    for s in repo::signals_of(conn, borrower_ids, signal_since)? {
        signals
            .entry(s.borrower_id.clone())
            .or_default()
            .push(signal(&s)?);
    }
    // A report on an item counts for every borrower whose loan it secures, whichever borrower
    // the provider filed it under.
    let mut holders: HashMap<&str, Vec<&str>> = HashMap::new();
    for (b, held) in &pledged {
        for p in held {
            holders.entry(p.id.as_str()).or_default().push(b.as_str());
        }
    }
    let items: Vec<String> = holders.keys().map(|c| (*c).to_owned()).collect();
    for s in repo::signals_about_collateral(conn, &items, signal_since)? {
        let of_item = s.collateral_id.as_deref().and_then(|c| holders.get(c));
        for b in of_item.into_iter().flatten() {
            if *b != s.borrower_id {
                signals
                    .entry((*b).to_owned())
                    .or_default()
                    .push(signal(&s)?);
            }
        }
    }
    let watched: BTreeSet<String> = monitoring_repo::borrower_parties(conn, borrower_ids)?
        .into_iter()
        .filter_map(|p| p.borrower_id)
        .collect();
    let flow_rules: Vec<&str> = FlowRule::ALL.iter().map(|r| r.as_str()).collect();
    let mut standing: HashMap<String, Vec<StandingWarning>> = HashMap::new();
    for w in repo::standing_warnings(
        conn,
        borrower_ids,
        &flow_rules,
        as_of - Duration::days(FLOW_LOOKBACK_DAYS),
    )? {
        if w.raised_on > as_of {
            continue;
        }
        standing
            .entry(w.borrower_id)
            .or_default()
            .push(StandingWarning {
                rule: w.rule,
                tier: stored(&w.tier, "tier")?,
                raised_on: w.raised_on,
                detail: w.detail,
            });
    }

    let mut out = Assessment::default();
    for b in borrower_ids {
        let statements: Vec<Statement> = statements
            .get(b)
            .map(|rows| rows.iter().map(statement).collect())
            .unwrap_or_default();
        let signals = signals.get(b).map(Vec::as_slice).unwrap_or_default();
        let loans = facts.get(b).map(Vec::as_slice).unwrap_or_default();
        let subject = Subject {
            watched: watched.contains(b),
            flow_warnings: standing.get(b).map(Vec::as_slice).unwrap_or_default(),
            statements: &statements,
            signals,
            pledged: pledged.get(b).map(Vec::as_slice).unwrap_or_default(),
            loans,
        };
        let judged = health::judge(rules, subject, as_of);
        for h in judged.ratio_hits {
            out.findings.push((
                b.clone(),
                Finding {
                    about: About::Borrower(b.clone()),
                    rule: h.ratio.as_str().to_owned(),
                    tier: h.tier,
                    on: as_of,
                    // Once per statement period: the same figures do not warn every month.
                    period: h.period.clone(),
                    facts: vec![format!("statement:{}", h.period)],
                    detail: h.detail,
                },
            ));
        }
        for h in judged.signal_hits {
            out.findings.push((
                b.clone(),
                Finding {
                    about: About::Borrower(b.clone()),
                    rule: h.rule,
                    tier: h.tier,
                    on: h.on,
                    period: period(h.on),
                    facts: h.signals.iter().map(|s| format!("signal:{s}")).collect(),
                    detail: h.detail,
                },
            ));
        }
        for h in judged.collateral_hits {
            out.findings.push((
                b.clone(),
                Finding {
                    about: About::Borrower(b.clone()),
                    rule: h.rule.to_owned(),
                    tier: h.tier,
                    on: h.on,
                    period: period(h.on),
                    facts: h.facts,
                    detail: h.detail,
                },
            ));
        }
        for h in judged.workflow_hits {
            out.findings.push((
                b.clone(),
                Finding {
                    facts: vec![format!("loan:{}", h.loan_id)],
                    about: About::Loan(h.loan_id),
                    rule: h.rule.to_owned(),
                    tier: h.tier,
                    on: h.on,
                    period: period(h.on),
                    detail: h.detail,
                },
            ));
        }
        out.health.push((b.clone(), judged.health));
    }
    Ok(out)
}

/// The stored form of a borrower's health.
pub fn health_row(
    borrower_id: String,
    h: &Health,
    as_of: NaiveDate,
    version: i32,
    now: chrono::NaiveDateTime,
) -> Result<HealthRow, ApiError> {
    Ok(HealthRow {
        borrower_id,
        as_of,
        score: h.score as i32,
        grade: h.grade.as_str().to_owned(),
        worst_tier: h.worst_tier.map(|t| t.as_str().to_owned()),
        rule_version: version,
        checks: serde_json::to_string(&h.checks).map_err(ApiError::internal)?,
        computed_at: now,
    })
}

/// Judges `borrower_ids` (those with an active loan) and stores the outcome: the warnings found
/// and each one's health, in `tx`.
fn judge_and_store(
    tx: &mut WriteTx<'_>,
    borrower_ids: &[String],
    v: &Version<RuleSet>,
    as_of: NaiveDate,
) -> Result<(usize, Vec<WarningRow>), ApiError> {
    let found = assess(tx.conn(), borrower_ids, Judged::Monitored, &v.rules, as_of)?;
    let findings = found.findings.into_iter().map(|(_, f)| f).collect();
    let raised = raise(tx, findings, v.version, &v.rules, as_of)?;
    let now = tx.now();
    let rows = found
        .health
        .iter()
        .map(|(b, h)| health_row(b.clone(), h, as_of, v.version, now))
        .collect::<Result<Vec<_>, _>>()?;
    repo::put_health(tx, &rows)?;
    Ok((rows.len(), raised))
}

/// The incremental pass: judges the borrowers a new fact concerns on `today` under the rules in
/// force, raising what they break and storing their health, in the transaction that stores the
/// fact. Borrowers without an active loan are not monitored. Returns the warnings raised.
pub fn refresh(
    tx: &mut WriteTx<'_>,
    borrower_ids: &[String],
    today: NaiveDate,
) -> Result<Vec<WarningRow>, ApiError> {
    if borrower_ids.is_empty() {
        return Ok(Vec::new());
    }
    let Some(v) = rules::in_force_on(tx.conn(), today)? else {
        return Ok(Vec::new());
    };
    Ok(judge_and_store(tx, borrower_ids, &v, today)?.1)
}

/// What the batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Borrowers checked.
    pub borrowers: u64,
    /// Warnings new this run.
    pub raised: u64,
}

/// A page of the batch, judged from one snapshot and waiting to be stored.
struct JudgedPage {
    /// The borrowers of the page (those with an active loan when it was read).
    borrowers: Vec<String>,
    /// When each one's stored health was computed, as the snapshot saw it.
    stamps: Vec<(String, NaiveDateTime)>,
    /// The rules broken, by borrower.
    findings: Vec<(String, Finding)>,
    /// Each borrower's health, in its stored form but for when it is stored.
    health: Vec<HealthRow>,
}

/// Reads and judges the page of borrowers after `after`, from one snapshot; `None` past the last.
fn judge_page(
    conn: &mut DbConn,
    after: Option<&str>,
    v: &Version<RuleSet>,
    as_of: NaiveDate,
) -> Result<Option<JudgedPage>, ApiError> {
    loanwatch_store::read(conn, |conn| {
        loanwatch_store::prefer_index_lookups(conn)?;
        let borrowers = loan::borrowers_with_active_loans(conn, after, PAGE)?;
        if borrowers.is_empty() {
            return Ok(None);
        }
        let stamps = repo::health_stamps(conn, &borrowers)?;
        let found = assess(conn, &borrowers, Judged::Monitored, &v.rules, as_of)?;
        let health = found
            .health
            .iter()
            .map(|(b, h)| health_row(b.clone(), h, as_of, v.version, NaiveDateTime::default()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(JudgedPage {
            borrowers,
            stamps,
            findings: found.findings,
            health,
        }))
    })
}

/// Stores a judged page in one transaction: raises its findings and stores its health, except
/// for the borrowers whose health was stored again since the page was read. An incremental pass
/// judged those on newer facts, and its judgement stands.
fn store_page(
    conn: &mut DbConn,
    page: JudgedPage,
    v: &Version<RuleSet>,
    as_of: NaiveDate,
) -> Result<(u64, u64), ApiError> {
    loanwatch_store::write(conn, rules::job_context(as_of), |tx| {
        loanwatch_store::prefer_index_lookups(tx.conn())?;
        let mut stamps = repo::health_stamps(tx.conn(), &page.borrowers)?;
        let mut seen = page.stamps;
        stamps.sort_unstable();
        seen.sort_unstable();
        let moved: BTreeSet<&str> = stamps
            .iter()
            .filter(|s| seen.binary_search(s).is_err())
            .chain(seen.iter().filter(|s| stamps.binary_search(s).is_err()))
            .map(|(b, _)| b.as_str())
            .collect();
        let findings = page
            .findings
            .into_iter()
            .filter(|(b, _)| !moved.contains(b.as_str()))
            .map(|(_, f)| f)
            .collect();
        let raised = raise(tx, findings, v.version, &v.rules, as_of)?;
        let checked = page.health.len() as u64;
        let now = tx.now();
        let rows: Vec<HealthRow> = page
            .health
            .into_iter()
            .filter(|r| !moved.contains(r.borrower_id.as_str()))
            .map(|r| HealthRow {
                computed_at: now,
                ..r
            })
            .collect();
        repo::put_health(tx, &rows)?;
        Ok((checked, raised.len() as u64))
    })
}

/// The nightly batch: every borrower with an active loan, a page at a time, under the version
/// in force on `as_of`. Each page is read from one snapshot, then stored in a transaction of its
/// own, so the batch never holds the write lock while it reads or judges.
///
/// Given a second connection (`reader`), it reads and judges the next page on another thread
/// while this one stores the last: the database and the judging each have a core.
pub fn run_all(
    conn: &mut DbConn,
    reader: Option<&mut DbConn>,
    v: &Version<RuleSet>,
    as_of: NaiveDate,
) -> Result<BatchReport, ApiError> {
    let mut report = BatchReport::default();
    let mut after: Option<String> = None;
    loanwatch_store::with_files_mapped(conn, reader, |conn, reader| {
        loanwatch_store::pipeline(
            conn,
            reader,
            |conn| {
                let page = judge_page(conn, after.as_deref(), v, as_of)?;
                if let Some(page) = &page {
                    after = page.borrowers.last().cloned();
                }
                Ok(page)
            },
            |conn, page| {
                let (checked, raised) = store_page(conn, page, v, as_of)?;
                report.borrowers += checked;
                report.raised += raised;
                Ok::<_, ApiError>(())
            },
        )
    })?;
    loanwatch_store::write(conn, rules::job_context(as_of), |tx| {
        tx.audit(
            "health.batch",
            "rule_set",
            &v.version.to_string(),
            &json!({ "as_of": as_of, "borrowers": report.borrowers, "raised": report.raised }),
        )
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T>(r: Result<T, ApiError>) -> anyhow::Result<T> {
        r.map_err(|e| anyhow::anyhow!("{e}"))
    }

    #[test]
    fn a_borrower_judged_again_after_the_batch_read_keeps_the_newer_health() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let url = loanwatch_store::DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("h.db").display()
        ))?;
        let pool = loanwatch_store::build_pool(&url, 1)?;
        let mut conn = pool.get()?;
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
        crate::bench::prepare_demo(&mut conn, 60, today)?;
        let v = ok(rules::in_force_on(&mut conn, today))?
            .ok_or_else(|| anyhow::anyhow!("no rule set in force"))?;
        let page = ok(judge_page(&mut conn, None, &v, today))?
            .ok_or_else(|| anyhow::anyhow!("no borrower with an active loan"))?;
        let judged = page.health.len();
        let (first, rest) = page
            .borrowers
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("an empty page"))?;
        let (first, rest) = (first.clone(), rest.to_vec());

        // A new fact about the first borrower arrives while the page waits to be stored.
        ok(loanwatch_store::write(
            &mut conn,
            rules::job_context(today),
            |tx| refresh(tx, std::slice::from_ref(&first), today),
        ))?;
        let newer = repo::health_stamps(&mut conn, std::slice::from_ref(&first))?;
        assert_eq!(newer.len(), 1);

        assert_eq!(ok(store_page(&mut conn, page, &v, today))?.0, judged as u64);
        assert_eq!(
            repo::health_stamps(&mut conn, std::slice::from_ref(&first))?,
            newer,
            "the batch overwrote a newer judgement with the one it read before"
        );
        let others = repo::health_stamps(&mut conn, &rest)?;
        assert_eq!(others.len(), judged - 1, "the rest of the page was stored");
        assert!(others.iter().all(|(_, at)| *at > newer[0].1));
        Ok(())
    }
}
