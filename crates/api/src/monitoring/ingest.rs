//! Storing posted transfers: group commit.
//!
//! Every write queues for the audit head, so posted transfers stored one request per
//! transaction go no faster than one over the time of a write, however small each request is.
//! The handlers check their batches concurrently (reads only), then hand them to one writer
//! thread. It takes whatever has queued while it wrote the last group and stores it in one
//! transaction: one lookup of the ids, one insert, one evaluation of the rules over all the new
//! transfers, one commit. Each request still gets the answer it would have had alone, in arrival
//! order (its own replays, conflicts and warnings, an audit entry under its own actor), and
//! only after the commit. If the group's transaction fails, each request is stored again
//! alone, so one request's fault is never another's.

use std::{
    collections::{BTreeMap, HashMap},
    panic::AssertUnwindSafe,
    sync::mpsc,
};

use chrono::NaiveDate;
use chrono_tz::Tz;
use loanwatch_api_types::monitoring::TransferBatchResult;
use loanwatch_store::{
    AuditContext, DbConn, Pool, PooledConn, ScopeFilter, WriteTx, models::TransferRow,
    repo::monitoring as repo,
};
use serde_json::json;
use tokio::sync::oneshot;

use crate::{
    ApiError,
    error::ErrorCode,
    monitoring::{
        self as engine, Finding, distinct,
        routes::{Checked, stored_with_other_content},
        rules,
        warnings::visible_warnings,
    },
};

/// One request's checked batch, waiting to be stored.
#[derive(Debug)]
pub struct Job {
    /// Who sent it: its audit entry and the steps of the warnings it raises are theirs.
    pub ctx: AuditContext,
    /// What the sender sees: the answer names only those warnings.
    pub scope: ScopeFilter,
    /// The transfers, checked against the database.
    pub checked: Checked,
    /// The business day the request arrived on (task deadlines count from it).
    pub today: NaiveDate,
}

/// A request's answer: what it stored and raised, or why nothing of it was stored.
pub type Answer = Result<TransferBatchResult, ApiError>;

/// Stores one request's checked transfers and raises what they break, in `tx` (the import's
/// path). An id stored since the check (the same batch sent twice at once) counts as replayed,
/// or is 409 with other content.
pub fn store(
    tx: &mut WriteTx<'_>,
    scope: &ScopeFilter,
    checked: Checked,
    tz: Tz,
    today: NaiveDate,
) -> Answer {
    let job = Job {
        ctx: tx.context().clone(),
        scope: scope.clone(),
        checked,
        today,
    };
    store_alone(tx, &job, tz)
}

fn store_alone(tx: &mut WriteTx<'_>, job: &Job, tz: Tz) -> Answer {
    store_group(tx, std::slice::from_ref(job), tz)?
        .pop()
        .unwrap_or_else(|| {
            Err(ApiError::internal(anyhow::anyhow!(
                "a stored job went unanswered"
            )))
        })
}

/// Stores the transfers of `jobs` in `tx` as if each had been stored alone, one after the
/// other: a transfer another job of the group stored first is a replay (409 with other content,
/// which refuses that job alone). Returns each job's answer, in order. An `Err` of the whole
/// means the transaction must roll back.
pub fn store_group(tx: &mut WriteTx<'_>, jobs: &[Job], tz: Tz) -> Result<Vec<Answer>, ApiError> {
    let ids = distinct(
        jobs.iter()
            .flat_map(|j| j.checked.rows.iter().map(|(_, r)| r.id.clone())),
    );
    let stored: HashMap<String, String> = repo::transfer_hashes(tx.conn(), &ids)?
        .into_iter()
        .collect();
    // Ids the jobs before in the group store, with their content.
    let mut claimed: HashMap<&str, &str> = HashMap::new();
    let now = tx.now();
    let mut admitted: Vec<Result<(Vec<TransferRow>, u64), ApiError>> =
        Vec::with_capacity(jobs.len());
    for job in jobs {
        let conflicts: Vec<usize> = job
            .checked
            .rows
            .iter()
            .filter(|(_, r)| known(&stored, &claimed, &r.id).is_some_and(|h| h != r.content_hash))
            .map(|(i, _)| *i)
            .collect();
        if !conflicts.is_empty() {
            admitted.push(Err(stored_with_other_content(&conflicts)));
            continue;
        }
        let mut fresh = Vec::new();
        let mut replayed = job.checked.replayed;
        for (_, row) in &job.checked.rows {
            if known(&stored, &claimed, &row.id).is_some() {
                replayed += 1;
            } else {
                claimed.insert(&row.id, &row.content_hash);
                fresh.push(TransferRow {
                    received_at: now,
                    ..row.clone()
                });
            }
        }
        admitted.push(Ok((fresh, replayed)));
    }
    let all: Vec<TransferRow> = admitted
        .iter()
        .flatten()
        .flat_map(|(fresh, _)| fresh.iter().cloned())
        .collect();
    repo::insert_transfers(tx, &all)?;
    let group_ctx = tx.context().clone();
    for (job, admitted) in jobs.iter().zip(&admitted) {
        if let Ok((fresh, replayed)) = admitted
            && let Some(first) = fresh.first()
        {
            tx.act_for(job.ctx.clone());
            tx.audit(
                "transfer.ingest",
                "transfer",
                &first.id,
                &json!({ "accepted": fresh.len(), "replayed": replayed }),
            )?;
        }
    }
    // The rules over every new transfer at once; each hit belongs to the job whose transfer
    // completed it (the latest new one among its facts).
    let owner: HashMap<&str, usize> = admitted
        .iter()
        .enumerate()
        .filter_map(|(j, a)| a.as_ref().ok().map(|(fresh, _)| (j, fresh)))
        .flat_map(|(j, fresh)| fresh.iter().map(move |r| (r.id.as_str(), j)))
        .collect();
    let versions = if all.is_empty() {
        Vec::new()
    } else {
        rules::load(tx.conn())?
    };
    // Each transfer is judged by the rules in force on its business day.
    let mut by_version: BTreeMap<i32, Vec<TransferRow>> = BTreeMap::new();
    for row in all {
        let day = engine::local_time(row.booked_at, tz).date();
        if let Some(v) = loanwatch_domain::monitoring::ruleset::in_force(&versions, day) {
            by_version.entry(v.version).or_default().push(row);
        }
    }
    let mut found: Vec<BTreeMap<i32, Vec<Finding>>> = vec![BTreeMap::new(); jobs.len()];
    for (version, rows) in &by_version {
        let Some(v) = versions.iter().find(|v| v.version == *version) else {
            continue;
        };
        for hit in engine::evaluate_new(tx.conn(), &v.rules.flow, rows, tz)? {
            let job = hit
                .hit
                .transfers
                .iter()
                .rev()
                .find_map(|id| owner.get(id.as_str()).copied());
            if let Some(slot) = job.and_then(|j| found.get_mut(j)) {
                slot.entry(*version).or_default().push(Finding::from(hit));
            }
        }
    }
    let mut answers = Vec::with_capacity(jobs.len());
    for ((job, admitted), found) in jobs.iter().zip(admitted).zip(found) {
        let (fresh, replayed) = match admitted {
            Ok(a) => a,
            Err(e) => {
                answers.push(Err(e));
                continue;
            }
        };
        tx.act_for(job.ctx.clone());
        let mut raised = Vec::new();
        for (version, findings) in found {
            if let Some(v) = versions.iter().find(|v| v.version == version) {
                raised.extend(engine::raise(tx, findings, version, &v.rules, job.today)?);
            }
        }
        // A new flow warning changes its borrower's health: the incremental pass.
        let concerned: Vec<String> = raised.iter().map(|w| w.borrower_id.clone()).collect();
        raised.extend(engine::health::refresh(tx, &concerned, job.today)?);
        // The answer names only the warnings the sender may see; a transfer can raise one on a
        // borrower of another branch.
        answers.push(Ok(TransferBatchResult {
            accepted: fresh.len() as u64,
            replayed,
            warnings: visible_warnings(tx.conn(), &job.scope, raised)?,
        }));
    }
    tx.act_for(group_ctx);
    Ok(answers)
}

/// The content stored, or claimed by a job before in the group, under `id`.
fn known<'a>(
    stored: &'a HashMap<String, String>,
    claimed: &HashMap<&'a str, &'a str>,
    id: &str,
) -> Option<&'a str> {
    stored
        .get(id)
        .map(String::as_str)
        .or_else(|| claimed.get(id).copied())
}

/// The queue to the writer thread. Cloned into every worker; the thread ends when the last
/// clone is dropped, after storing what is queued.
#[derive(Debug, Clone)]
pub struct TransferWriter {
    queue: mpsc::Sender<Pending>,
}

#[derive(Debug)]
struct Pending {
    job: Job,
    reply: oneshot::Sender<Answer>,
}

impl TransferWriter {
    /// Starts the writer thread over `pool`. A group takes requests from the queue until it
    /// holds `group_rows` transfers (`TRANSFER_GROUP_ROWS`); a larger request is a group alone.
    pub fn start(pool: Pool, tz: Tz, group_rows: usize) -> std::io::Result<Self> {
        let (queue, pending) = mpsc::channel();
        std::thread::Builder::new()
            .name("transfer-writer".into())
            .spawn(move || serve(&pool, &pending, tz, group_rows))?;
        Ok(Self { queue })
    }

    /// Queues a job and waits for its answer, which comes after its group has committed.
    pub async fn store(&self, job: Job) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { job, reply })
            .map_err(|_| ApiError::internal(anyhow::anyhow!("the transfer writer has stopped")))?;
        answer.await.map_err(|_| {
            ApiError::internal(anyhow::anyhow!(
                "the transfer writer stopped before answering"
            ))
        })?
    }
}

fn serve(pool: &Pool, pending: &mpsc::Receiver<Pending>, tz: Tz, group_rows: usize) {
    // One connection while the queue keeps coming: its page cache stays valid for as long as it
    // is the only writer. Back to the pool when the queue runs dry.
    let mut held: Option<PooledConn> = None;
    let mut next = pending.recv().ok();
    while let Some(first) = next {
        let mut rows = first.job.checked.rows.len();
        let mut group = vec![first];
        while rows < group_rows {
            let Ok(more) = pending.try_recv() else {
                break;
            };
            rows += more.job.checked.rows.len();
            group.push(more);
        }
        let (jobs, replies): (Vec<Job>, Vec<oneshot::Sender<Answer>>) =
            group.into_iter().map(|p| (p.job, p.reply)).unzip();
        let conn = match held.take().map_or_else(|| pool.get(), Ok) {
            Ok(c) => held.insert(c),
            Err(e) => {
                tracing::warn!(error = %e, "no database connection for the transfer writer");
                for reply in replies {
                    let _ = reply.send(Err(unavailable()));
                }
                next = pending.recv().ok();
                continue;
            }
        };
        // A bug must not stop ingestion: the group's requests get a 500 (their replies are
        // dropped unanswered), the connection is let go, and the writer goes on.
        match std::panic::catch_unwind(AssertUnwindSafe(|| write(conn, &jobs, tz))) {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // The request may have gone (client disconnected); what it sent is stored
                    // anyway.
                    let _ = reply.send(answer);
                }
            }
            Err(_) => {
                tracing::error!(jobs = jobs.len(), "the transfer writer panicked on a group");
                held = None;
            }
        }
        next = pending.try_recv().ok().or_else(|| {
            held = None;
            pending.recv().ok()
        });
    }
}

fn unavailable() -> ApiError {
    ApiError::new(
        ErrorCode::ServiceUnavailable,
        "the database is not available; retry later",
    )
    .retry_after(1)
}

/// Stores a group in one transaction; if that fails, each job alone.
fn write(conn: &mut DbConn, jobs: &[Job], tz: Tz) -> Vec<Answer> {
    if let [first, _, ..] = jobs {
        match loanwatch_store::write(conn, first.ctx.clone(), |tx| store_group(tx, jobs, tz)) {
            Ok(answers) => return answers,
            Err(e) => tracing::warn!(
                error = %e,
                jobs = jobs.len(),
                "a group of transfer batches failed; storing each alone"
            ),
        }
    }
    jobs.iter()
        .map(|job| loanwatch_store::write(conn, job.ctx.clone(), |tx| store_alone(tx, job, tz)))
        .collect()
}
