//! Monitoring and early warning (贷后预警): parties, accounts and fund transfers in; versioned
//! rule sets; warnings out, each creating the work its tier is configured for.
//!
//! Two paths raise warnings with the same rules ([`FlowMonitor`]): the real-time path evaluates
//! the loans a new transfer can concern over the stretch of history the rules look back on,
//! inside the transaction that stores the transfer; the nightly batch feeds the portfolio's whole
//! stream. Warnings are kept once per borrower, rule and month, so either may raise first.

pub mod facts;
pub mod health;
pub mod import;
pub mod ingest;
pub mod routes;
pub mod rules;
pub mod warnings;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use loanwatch_domain::{
    calendar::WorkingCalendar,
    ledger::ManagementMode,
    monitoring::{
        Tier,
        flow::{
            FlowMonitor, FlowRules, Hit, PartyInfo, PartyKind, SettlementVolume, Transfer,
            WatchedLoan, brought_home,
        },
        ruleset::RuleSet,
        warning::{WarningStatus, period},
    },
    supervision::{PlannedTask, TaskKind},
};
use loanwatch_store::{
    DbConn, WriteTx,
    models::{TransferRow, WarningEventRow, WarningRow},
    repo::{
        monitoring::{self as repo, WatchedLoanRow},
        notification, task,
    },
};

use crate::{
    ApiError, calendar,
    tasks::{
        TaskOwner, escalation::escalation_targets, notifications::notification_rows, task_row,
    },
    views::stored,
};

/// The loans watched and what monitoring knows of each.
#[derive(Debug, Default)]
pub struct Watch {
    /// The loans, as the rules see them.
    pub loans: Vec<WatchedLoan>,
    /// Who each party is.
    pub parties: HashMap<String, PartyInfo>,
}

/// Which active loans to watch.
#[derive(Debug, Clone, Copy)]
pub enum Watched<'a> {
    /// Every one: the nightly batch.
    All,
    /// These: the real-time path.
    ById(&'a [String]),
}

impl Watch {
    /// The active loans chosen whose borrower is a registered party, with their related parties
    /// and contract counterparties. The batch loads every party once; the real-time path loads
    /// the borrowers' and the counterparties' and adds the rest with [`Watch::learn_parties`].
    pub fn load(conn: &mut DbConn, which: Watched<'_>) -> Result<Self, ApiError> {
        let (rows, borrower_ids) = match which {
            Watched::All => (repo::watched_loans(conn, None)?, None),
            Watched::ById(ids) => {
                let rows = repo::active_loans_by_id(conn, ids)?;
                let borrowers = distinct(rows.iter().map(|l| l.borrower_id.clone()));
                (rows, Some(borrowers))
            }
        };
        let borrower_ids = borrower_ids.as_deref();
        // A loan's counterparty names a party by its id or, failing that, its exact name.
        let named = distinct(rows.iter().filter_map(|l| l.counterparty.clone()));
        let parties = match borrower_ids {
            None => repo::all_parties(conn)?,
            Some(ids) => {
                let mut found = repo::borrower_parties(conn, ids)?;
                found.extend(repo::parties_by_name(conn, &named)?);
                found.extend(repo::parties_by_id(conn, &named)?);
                found
            }
        };
        let own: HashMap<String, String> = parties
            .iter()
            .filter_map(|p| p.borrower_id.clone().map(|b| (b, p.id.clone())))
            .collect();
        let named: BTreeSet<String> = named.into_iter().collect();
        let mut counterparty: HashMap<String, String> = HashMap::new();
        for p in parties.iter().filter(|p| named.contains(&p.name)) {
            counterparty.insert(p.name.clone(), p.id.clone());
        }
        for p in parties.iter().filter(|p| named.contains(&p.id)) {
            counterparty.insert(p.id.clone(), p.id.clone());
        }
        let relations = match borrower_ids {
            Some(ids) => repo::relations_of(conn, ids)?,
            None => repo::all_relations(conn)?,
        };
        let mut related: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for r in &relations {
            related
                .entry(r.borrower_id.as_str())
                .or_default()
                .insert(r.party_id.clone());
        }
        let mut watch = Self::default();
        for row in rows {
            let Some(borrower) = own.get(&row.borrower_id) else {
                continue;
            };
            watch.loans.push(WatchedLoan {
                loan_id: row.id.clone(),
                borrower: borrower.clone(),
                related: related
                    .get(row.borrower_id.as_str())
                    .cloned()
                    .unwrap_or_default(),
                counterparty: row
                    .counterparty
                    .as_ref()
                    .and_then(|c| counterparty.get(c).cloned()),
                disbursed_fen: row.principal_fen,
                disbursed_on: row.disbursement_date,
            });
        }
        watch.add_parties(parties)?;
        Ok(watch)
    }

    fn add_parties(
        &mut self,
        rows: Vec<loanwatch_store::models::PartyRow>,
    ) -> Result<(), ApiError> {
        for p in rows {
            let kind: PartyKind = stored(&p.kind, "party kind")?;
            self.parties.insert(
                p.id,
                PartyInfo {
                    kind,
                    category: p.category,
                },
            );
        }
        Ok(())
    }

    /// Loads the parties among `ids` not known yet.
    pub fn learn_parties(&mut self, conn: &mut DbConn, ids: Vec<String>) -> Result<(), ApiError> {
        let missing = distinct(ids.into_iter().filter(|p| !self.parties.contains_key(p)));
        let rows = repo::parties_by_id(conn, &missing)?;
        self.add_parties(rows)
    }
}

/// A stored booking time (UTC) in the institution's local time, as the rules see it.
pub fn local_time(booked_at: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    tz.from_utc_datetime(&booked_at).naive_local()
}

/// A stored transfer as the rules see it: booked in the institution's local time.
pub fn transfer(row: &TransferRow, tz: Tz) -> Transfer {
    Transfer {
        id: row.id.clone(),
        at: local_time(row.booked_at, tz),
        from: row.from_party.clone(),
        to: row.to_party.clone(),
        amount_fen: row.amount_fen,
        loan: row.loan_id.clone(),
    }
}

/// The distinct values among `items`, sorted: the key list of a lookup.
pub fn distinct(items: impl IntoIterator<Item = String>) -> Vec<String> {
    items
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// How far back the flow rules look from a transfer: flow-back and structuring windows.
pub fn lookback(rules: &FlowRules) -> Duration {
    Duration::days(rules.flow_back_days.max(rules.structuring_days) + 1)
}

/// A rule broken on a loan.
#[derive(Debug, Clone)]
pub struct LoanHit {
    /// The loan.
    pub loan_id: String,
    /// What was found.
    pub hit: Hit,
}

/// The flow rules over the transfers that can concern `new` (already stored), over the stretch
/// of history the rules look back on. Returns the hits that involve a new transfer.
///
/// A transfer changes a loan's findings in two ways only (the routing of [`FlowMonitor`]): it
/// is the loan's proceeds, or it pays the borrower or a related party from someone the proceeds
/// reached, directly or through one more party. So the loans read are those, and the history
/// read is what their findings on the new transfers rest on: a loan's proceeds (all of them for
/// a loan with new proceeds, for structuring; for a loan only reached, those paid to the payers
/// and to whoever paid them, the first hop), the money from those the proceeds reached to the
/// new transfers' payers (the second hop), and the new transfers themselves. A borrower's
/// settlement inflows thus cost a few indexed lookups, however many loans the borrower has,
/// and a much-paid payer only the loans of the borrowers it pays.
pub fn evaluate_new(
    conn: &mut DbConn,
    rules: &FlowRules,
    new: &[TransferRow],
    tz: Tz,
) -> Result<Vec<LoanHit>, ApiError> {
    let Some(earliest) = new.iter().map(|t| t.booked_at).min() else {
        return Ok(Vec::new());
    };
    let since = earliest - lookback(rules);
    // Money comes home when it reaches a borrower's home from outside that home: the
    // borrowers each new transfer can bring money back to, and the payers that do.
    let parties = distinct(
        new.iter()
            .flat_map(|t| [t.from_party.clone(), t.to_party.clone()]),
    );
    let mut homes: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (party, borrower) in repo::homes_of(conn, &parties)? {
        homes.entry(party).or_default().insert(borrower);
    }
    let mut borrowers = BTreeSet::new();
    let mut payers = BTreeSet::new();
    for t in new {
        let Some(to) = homes.get(&t.to_party) else {
            continue;
        };
        let back: Vec<&String> = brought_home(to, homes.get(&t.from_party)).collect();
        if !back.is_empty() {
            payers.insert(t.from_party.clone());
            borrowers.extend(back.into_iter().cloned());
        }
    }
    let payers: Vec<String> = payers.into_iter().collect();
    let own: BTreeSet<&str> = new.iter().filter_map(|t| t.loan_id.as_deref()).collect();
    let mut loan_ids: BTreeSet<String> = own.iter().map(|id| (*id).to_owned()).collect();
    let mut through = Vec::new();
    if !payers.is_empty() {
        // A much-paid payer is reached from thousands of loans; only those of the borrowers
        // whose home the new transfers pay from outside can come back home through it (a
        // borrower paying its own related party brings nothing back to its own loans).
        let borrowers: Vec<String> = borrowers.into_iter().collect();
        let reach = repo::loans_reaching(conn, since, &payers)?;
        loan_ids.extend(repo::loans_of_borrowers(conn, &reach.loans, &borrowers)?);
        through = reach.through;
    }
    if loan_ids.is_empty() {
        return Ok(Vec::new());
    }
    let loan_ids: Vec<String> = loan_ids.into_iter().collect();
    // Every loan chosen has new proceeds or a home a new transfer pays from outside.
    let mut watch = Watch::load(conn, Watched::ById(&loan_ids))?;
    if watch.loans.is_empty() {
        return Ok(Vec::new());
    }
    // A loan with new proceeds is judged on all of its own since `since`; a loan only reached
    // through a payer can break nothing but flow-back on the new transfers, which rests on its
    // proceeds to the payers and to those who paid them, so only those are read.
    let (full, reached_only): (Vec<String>, Vec<String>) = watch
        .loans
        .iter()
        .map(|l| l.loan_id.clone())
        .partition(|id| own.contains(id.as_str()));
    let home: BTreeSet<&str> = watch
        .loans
        .iter()
        .flat_map(|l| {
            std::iter::once(l.borrower.as_str()).chain(l.related.iter().map(String::as_str))
        })
        .collect();
    let mut rows = repo::proceeds_since(conn, since, &full)?;
    if !reached_only.is_empty() {
        rows.extend(repo::proceeds_to_since(
            conn,
            since,
            &reached_only,
            &through,
        )?);
    }
    if !payers.is_empty() {
        let reached = distinct(
            rows.iter()
                .filter(|t| t.loan_id.is_some() && !home.contains(t.to_party.as_str()))
                .map(|t| t.to_party.clone()),
        );
        rows.extend(repo::transfers_between(conn, since, &reached, &payers)?);
    }
    rows.extend(new.iter().cloned());
    rows.sort_by(|a, b| a.booked_at.cmp(&b.booked_at).then_with(|| a.id.cmp(&b.id)));
    rows.dedup_by(|a, b| a.id == b.id);
    watch.learn_parties(
        conn,
        rows.iter()
            .flat_map(|t| [t.from_party.clone(), t.to_party.clone()])
            .collect(),
    )?;
    let fresh: BTreeSet<&str> = new.iter().map(|t| t.id.as_str()).collect();
    let mut monitor = FlowMonitor::new(rules, &watch.loans, &watch.parties);
    let mut hits = Vec::new();
    for row in &rows {
        for (loan, hit) in monitor.push(&transfer(row, tz)) {
            if hit.transfers.iter().any(|id| fresh.contains(id.as_str())) {
                hits.push(LoanHit {
                    loan_id: loan.loan_id.clone(),
                    hit,
                });
            }
        }
    }
    Ok(hits)
}

/// Transfers read per page by the batch.
const PAGE: i64 = 50_000;

/// The flow rules over the portfolio's whole stream up to the end of `as_of`, and the idle check
/// on `as_of`: the nightly batch, and the backtest (which runs a draft beside the version in
/// force). The portfolio is loaded and the stream read once, whatever the number of rule sets;
/// the hits come back per rule set, in order, with the number of transfers read.
///
/// Reading and evaluating overlap: this thread reads the next page while another feeds the last
/// one through the rules, so the database and the engine each have a core.
pub fn evaluate_all(
    conn: &mut DbConn,
    rule_sets: &[&FlowRules],
    as_of: NaiveDate,
    tz: Tz,
) -> Result<(Vec<Vec<LoanHit>>, u64), ApiError> {
    loanwatch_store::with_file_mapped(conn, |conn| read_and_evaluate(conn, rule_sets, as_of, tz))
}

fn read_and_evaluate(
    conn: &mut DbConn,
    rule_sets: &[&FlowRules],
    as_of: NaiveDate,
    tz: Tz,
) -> Result<(Vec<Vec<LoanHit>>, u64), ApiError> {
    let watch = Watch::load(conn, Watched::All)?;
    let until = local_midnight_utc(as_of + Duration::days(1), tz);
    // One page waits while one is evaluated and the next is read: at most three in memory.
    let (pages, received) = std::sync::mpsc::sync_channel::<Vec<repo::FlowRow>>(1);
    std::thread::scope(|s| {
        let evaluator = s.spawn(|| evaluate_pages(&watch, rule_sets, as_of, tz, received));
        let mut after: Option<(NaiveDateTime, String)> = None;
        let mut seen = 0u64;
        let read = loop {
            let page = match repo::transfers_page(conn, until, after.take(), PAGE) {
                Ok(page) => page,
                Err(e) => break Err(e),
            };
            let Some(last) = page.last() else {
                break Ok(());
            };
            after = Some((last.booked_at, last.id.clone()));
            seen += page.len() as u64;
            // A closed channel means the evaluator panicked; joining it below says so.
            if pages.send(page).is_err() {
                break Ok(());
            }
        };
        drop(pages);
        let hits = evaluator
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        read?;
        Ok((hits, seen))
    })
}

/// The evaluating half of [`evaluate_all`]: every page received, in order, through one monitor
/// per rule set, then the checks made once on `as_of`.
fn evaluate_pages(
    watch: &Watch,
    rule_sets: &[&FlowRules],
    as_of: NaiveDate,
    tz: Tz,
    pages: std::sync::mpsc::Receiver<Vec<repo::FlowRow>>,
) -> Vec<Vec<LoanHit>> {
    let mut monitors: Vec<FlowMonitor<'_>> = rule_sets
        .iter()
        .map(|rules| FlowMonitor::new(rules, &watch.loans, &watch.parties))
        .collect();
    let mut hits: Vec<Vec<LoanHit>> = rule_sets.iter().map(|_| Vec::new()).collect();
    let found = |(l, hit): (&WatchedLoan, Hit)| LoanHit {
        loan_id: l.loan_id.clone(),
        hit,
    };
    let mut settled = SettlementVolume::new(&watch.loans, as_of);
    for row in pages.into_iter().flatten() {
        // Moved, not copied: the batch reads millions.
        let t = Transfer {
            at: local_time(row.booked_at, tz),
            id: row.id,
            from: row.from_party,
            to: row.to_party,
            amount_fen: row.amount_fen,
            loan: row.loan_id,
        };
        settled.add(&t);
        for (monitor, out) in monitors.iter_mut().zip(&mut hits) {
            out.extend(monitor.push(&t).into_iter().map(found));
        }
    }
    for ((monitor, out), rules) in monitors.iter().zip(&mut hits).zip(rule_sets) {
        out.extend(monitor.idle(as_of).into_iter().map(found));
        out.extend(
            settled
                .falling(rules, as_of)
                .into_iter()
                .map(|(loan_id, hit)| LoanHit { loan_id, hit }),
        );
    }
    hits
}

/// The UTC instant of local midnight starting `day`.
pub fn local_midnight_utc(day: NaiveDate, tz: Tz) -> NaiveDateTime {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or(midnight)
}

/// What a finding is about: one loan, or the borrower as a whole (ratios, signals).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum About {
    /// A loan.
    Loan(String),
    /// A borrower; its warning is booked on its largest active loan, which carries the task.
    Borrower(String),
}

/// A rule broken, from whichever part of the rule set.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Whom it concerns.
    pub about: About,
    /// The rule.
    pub rule: String,
    /// How serious.
    pub tier: Tier,
    /// The day it refers to.
    pub on: NaiveDate,
    /// The warning is kept once per borrower, rule and this period (a month, or a statement
    /// period).
    pub period: String,
    /// The facts behind it: transfer ids, statement periods, signal ids, loan ids.
    pub facts: Vec<String>,
    /// Why, for a person.
    pub detail: String,
}

impl From<LoanHit> for Finding {
    fn from(h: LoanHit) -> Self {
        Self {
            about: About::Loan(h.loan_id),
            rule: h.hit.rule.as_str().to_owned(),
            tier: h.hit.tier,
            on: h.hit.on,
            period: period(h.hit.on),
            facts: h.hit.transfers.into_iter().chain(h.hit.facts).collect(),
            detail: h.hit.detail,
        }
    }
}

/// Stores the warnings of `findings` that are new for their (borrower, rule, period), each with
/// its `raise` step, the task its tier creates (assigned to the loan's officer, due in working
/// days from `today`) and the notifications; returns the warnings stored.
pub fn raise(
    tx: &mut WriteTx<'_>,
    mut findings: Vec<Finding>,
    version: i32,
    rules: &RuleSet,
    today: NaiveDate,
) -> Result<Vec<WarningRow>, ApiError> {
    if findings.is_empty() {
        return Ok(Vec::new());
    }
    findings.sort_by(|a, b| {
        (a.on, &a.about, &a.rule, &a.facts).cmp(&(b.on, &b.about, &b.rule, &b.facts))
    });
    let mut loan_ids = Vec::new();
    let mut borrower_ids = Vec::new();
    for f in &findings {
        match &f.about {
            About::Loan(l) => loan_ids.push(l.clone()),
            About::Borrower(b) => borrower_ids.push(b.clone()),
        }
    }
    let meta: HashMap<String, WatchedLoanRow> = repo::loans_by_id(tx.conn(), &loan_ids)?
        .into_iter()
        .map(|l| (l.id.clone(), l))
        .collect();
    // A borrower's findings go on its largest active loan (then the first booked).
    let mut anchor: HashMap<String, WatchedLoanRow> = HashMap::new();
    borrower_ids.sort();
    borrower_ids.dedup();
    for l in repo::watched_loans(tx.conn(), Some(&borrower_ids))? {
        let better = anchor.get(&l.borrower_id).is_none_or(|a| {
            (l.principal_fen, std::cmp::Reverse(&l.id))
                > (a.principal_fen, std::cmp::Reverse(&a.id))
        });
        if better {
            anchor.insert(l.borrower_id.clone(), l);
        }
    }
    let now = tx.now();
    let mut rows = Vec::new();
    let mut meta = meta;
    for f in findings {
        let loan = match &f.about {
            About::Loan(l) => meta.get(l).cloned(),
            About::Borrower(b) => anchor.get(b).cloned(),
        };
        let Some(loan) = loan else {
            continue;
        };
        meta.entry(loan.id.clone()).or_insert_with(|| loan.clone());
        rows.push(WarningRow {
            id: uuid::Uuid::now_v7().to_string(),
            borrower_id: loan.borrower_id.clone(),
            loan_id: Some(loan.id.clone()),
            organisation_id: loan.organisation_id.clone(),
            rule: f.rule,
            tier: f.tier.as_str().to_owned(),
            period: f.period,
            rule_version: version,
            raised_on: f.on,
            detail: f.detail,
            facts: serde_json::to_string(&f.facts).map_err(ApiError::internal)?,
            status: WarningStatus::Open.as_str().to_owned(),
            task_id: None,
            resolution: None,
            version: 1,
            created_at: now,
            updated_at: now,
        });
    }
    let mut inserted = repo::fresh_warnings(tx, rows)?;
    if inserted.is_empty() {
        return Ok(inserted);
    }
    let cal = calendar::load(tx.conn())?;
    let actor = tx.actor().to_owned();
    let mut events = Vec::new();
    let mut notes = Vec::new();
    // Looked up once per organisation, and created once per loan and kind, however many
    // warnings there are.
    let mut supervisors: HashMap<String, Vec<String>> = HashMap::new();
    // The first warning of a loan and kind sets its task's deadline.
    let mut wanted: HashMap<(String, TaskKind), u32> = HashMap::new();
    let actions = inserted
        .iter()
        .map(|w| Ok(rules.actions.of(stored(&w.tier, "tier")?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    for (w, action) in inserted.iter().zip(&actions) {
        if let (Some(loan), Some(kind)) = (&w.loan_id, action.task) {
            wanted
                .entry((loan.clone(), kind))
                .or_insert(action.within_working_days);
        }
    }
    let tasks = create_tasks(tx, &cal, &meta, wanted, today)?;
    for (w, action) in inserted.iter_mut().zip(actions) {
        events.push(WarningEventRow {
            id: uuid::Uuid::now_v7().to_string(),
            warning_id: w.id.clone(),
            action: "raise".into(),
            actor: actor.clone(),
            from_status: WarningStatus::Open.as_str().to_owned(),
            to_status: WarningStatus::Open.as_str().to_owned(),
            comment: Some(w.detail.clone()),
            at: now,
        });
        let Some(loan) = w.loan_id.as_ref().and_then(|l| meta.get(l)) else {
            continue;
        };
        if let Some(kind) = action.task {
            w.task_id = tasks.get(&(loan.id.clone(), kind)).cloned();
        }
        let mut people = vec![loan.officer_id.clone()];
        if action.notify_supervisor {
            if !supervisors.contains_key(&loan.organisation_id) {
                let found = escalation_targets(tx.conn(), &loan.organisation_id)?;
                supervisors.insert(loan.organisation_id.clone(), found);
            }
            people.extend(
                supervisors
                    .get(&loan.organisation_id)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        people.sort();
        people.dedup();
        let message = format!(
            "{} warning ({}): {}",
            w.tier,
            w.rule.replace('_', " "),
            w.detail
        );
        notes.extend(notification_rows(
            &people,
            "warning.raised",
            "warning",
            &w.id,
            &message,
            now,
        ));
    }
    // The warnings go in with their tasks, then what refers to them.
    repo::insert_warnings(tx, &inserted)?;
    notification::insert_new(tx, &notes)?;
    repo::insert_warning_events(tx, &events)?;
    let counts: BTreeMap<&str, usize> = inserted.iter().fold(BTreeMap::new(), |mut m, w| {
        *m.entry(w.tier.as_str()).or_default() += 1;
        m
    });
    tx.audit(
        "warning.raise",
        "warning",
        inserted.first().map(|w| w.id.as_str()).unwrap_or_default(),
        &serde_json::json!({ "raised": inserted.len(), "by_tier": counts, "rule_version": version }),
    )?;
    Ok(inserted)
}

/// The tasks warnings' tiers create, once per loan and kind, inserted together; where one is
/// already there for the same loan, kind and day, that one. A task whose due date needs a
/// calendar year not loaded is left out (its warning is still raised and notified).
fn create_tasks(
    tx: &mut WriteTx<'_>,
    cal: &WorkingCalendar,
    loans: &HashMap<String, WatchedLoanRow>,
    wanted: HashMap<(String, TaskKind), u32>,
    today: NaiveDate,
) -> Result<HashMap<(String, TaskKind), String>, ApiError> {
    let mut rows = Vec::with_capacity(wanted.len());
    for ((loan_id, kind), within) in wanted {
        let Some(loan) = loans.get(&loan_id) else {
            continue;
        };
        let due_date = match cal.add_working_days(today, within) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(loan = %loan.id, error = %e, "warning task not created: no calendar");
                continue;
            }
        };
        let mode: ManagementMode = stored(&loan.management_mode, "management mode")?;
        let owner = TaskOwner {
            loan_id: &loan.id,
            borrower_id: &loan.borrower_id,
            officer_id: &loan.officer_id,
            organisation_id: &loan.organisation_id,
        };
        let planned = PlannedTask {
            kind,
            checkpoint: today,
            due_date,
        };
        rows.push(task_row(owner, &planned, mode, tx.now()));
    }
    task::insert_new(tx, &rows)?;
    let loan_ids = distinct(rows.iter().map(|r| r.loan_id.clone()));
    let mut found = HashMap::new();
    for (loan_id, kind, id) in task::keys_on(tx.conn(), &loan_ids, today)? {
        found.insert((loan_id, stored(&kind, "task kind")?), id);
    }
    Ok(found)
}
