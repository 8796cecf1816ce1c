//! Storing posted transfers: group commit.
//!
//! Every write queues for the audit head, so posted transfers stored one request per
//! transaction go no faster than one over the time of a write, however small each request is.
//! The handlers check each transfer on its own (ids, amounts, dates), then hand their batches
//! to one writer thread. It takes whatever has queued while it wrote the last group, checks each
//! batch against the database (on SQLite; on PostgreSQL the handlers did, see [`Batch`]) and
//! stores those that pass in one transaction: one lookup of the ids, one insert, one evaluation
//! of the rules over all the new transfers, one commit. Each request still gets the answer it
//! would have had alone, in arrival order (its own refusal, replays, conflicts and warnings, an
//! audit entry under its own actor), and only after the commit. If the group's transaction
//! fails, each request is checked and stored again alone, so one request's fault is never
//! another's.

use std::{
    collections::{BTreeMap, HashMap},
    panic::AssertUnwindSafe,
    sync::mpsc,
};

use chrono::NaiveDate;
use chrono_tz::Tz;
use loanwatch_api_types::monitoring::{NewTransfer, TransferBatchResult};
use loanwatch_store::{
    AuditContext, Backend, DbConn, Pool, PooledConn, ScopeFilter, WriteTx, models::TransferRow,
    repo::monitoring as repo,
};
use serde_json::json;
use tokio::sync::oneshot;

use crate::{
    ApiError, AppState,
    error::ErrorCode,
    monitoring::{
        self as engine, Finding, distinct,
        routes::{Checked, check, stored_with_other_content},
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

/// One request's batch as posted, waiting for the writer to store it.
#[derive(Debug, Clone)]
pub struct Posted {
    /// Who sent it.
    pub ctx: AuditContext,
    /// What the sender sees: the accounts and loans it may write about, the warnings it is shown.
    pub scope: ScopeFilter,
    /// The transfers.
    pub batch: Batch,
    /// The business day the request arrived on (task deadlines count from it).
    pub today: NaiveDate,
}

/// A posted batch, checked against the database or not yet.
///
/// Where the check runs depends on the backend. On SQLite the writer checks ([`check`]): a
/// connection whose database another has changed starts its next transaction with an empty page
/// cache, so a handler's check read every page it needed from the file again, while the writer,
/// the only one writing, finds them in its cache. On PostgreSQL every lookup is a round trip and
/// the server keeps the pages, so the handlers check concurrently, each on its own connection,
/// and the writer only stores.
#[derive(Debug, Clone)]
pub enum Batch {
    /// Each transfer checked on its own (ids, amounts, dates): the writer checks the rest.
    Unchecked {
        /// The transfers, in the order sent.
        transfers: Vec<NewTransfer>,
        /// Their content hashes, in the same order.
        hashes: Vec<String>,
    },
    /// Checked against the database by the handler.
    Checked(Checked),
}

impl Batch {
    /// A posted batch, checked each transfer on its own, made ready for the writer: checked
    /// against the database now, on a connection of its own, on PostgreSQL; as it is on SQLite.
    pub async fn prepare(
        state: &AppState,
        scope: &ScopeFilter,
        transfers: Vec<NewTransfer>,
        hashes: Vec<String>,
    ) -> Result<Self, ApiError> {
        Ok(match state.config.database.url.backend() {
            Backend::Sqlite => Self::Unchecked { transfers, hashes },
            Backend::Postgres => {
                let scope = scope.clone();
                Self::Checked(
                    state
                        .db(move |conn| {
                            loanwatch_store::read(conn, |conn| {
                                check(conn, &scope, &transfers, &hashes)
                            })
                        })
                        .await?,
                )
            }
        })
    }

    /// How many transfers it holds.
    pub fn len(&self) -> usize {
        match self {
            Self::Unchecked { transfers, .. } => transfers.len(),
            Self::Checked(c) => c.rows.len(),
        }
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks each request of `posted` against the database in `tx`, then stores those that pass
/// as a group ([`store_group`]). Returns each request's answer, in order: a refused request
/// wrote nothing.
pub fn check_and_store(
    tx: &mut WriteTx<'_>,
    posted: &[Posted],
    rules: &mut rules::Parsed,
    tz: Tz,
) -> Result<Vec<Answer>, ApiError> {
    let mut refused: Vec<Option<ApiError>> = Vec::with_capacity(posted.len());
    let mut jobs = Vec::with_capacity(posted.len());
    for p in posted {
        let checked = match &p.batch {
            Batch::Unchecked { transfers, hashes } => check(tx.conn(), &p.scope, transfers, hashes),
            Batch::Checked(c) => Ok(c.clone()),
        };
        match checked {
            Ok(checked) => {
                refused.push(None);
                jobs.push(Job {
                    ctx: p.ctx.clone(),
                    scope: p.scope.clone(),
                    checked,
                    today: p.today,
                });
            }
            Err(e) => refused.push(Some(e)),
        }
    }
    let mut stored = store_group(tx, &jobs, rules, tz)?.into_iter();
    Ok(refused
        .into_iter()
        .map(|r| match r {
            Some(e) => Err(e),
            None => stored.next().unwrap_or_else(|| Err(unanswered())),
        })
        .collect())
}

/// Stores one request's checked transfers and raises what they break, in `tx` (the import's
/// path, which keeps `rules` parsed from one batch of its file to the next). An id stored since
/// the check (the same batch sent twice at once) counts as replayed, or is 409 with other
/// content.
pub fn store(
    tx: &mut WriteTx<'_>,
    scope: &ScopeFilter,
    checked: Checked,
    rules: &mut rules::Parsed,
    tz: Tz,
    today: NaiveDate,
) -> Answer {
    let job = Job {
        ctx: tx.context().clone(),
        scope: scope.clone(),
        checked,
        today,
    };
    store_group(tx, std::slice::from_ref(&job), rules, tz)?
        .pop()
        .unwrap_or_else(|| Err(unanswered()))
}

fn unanswered() -> ApiError {
    ApiError::internal(anyhow::anyhow!("a stored job went unanswered"))
}

/// Stores the transfers of `jobs` in `tx` as if each had been stored alone, one after the
/// other: a transfer another job of the group stored first is a replay (409 with other content,
/// which refuses that job alone). The rules are those `rules` holds parsed, or reads. Returns
/// each job's answer, in order. An `Err` of the whole means the transaction must roll back.
pub fn store_group(
    tx: &mut WriteTx<'_>,
    jobs: &[Job],
    rules: &mut rules::Parsed,
    tz: Tz,
) -> Result<Vec<Answer>, ApiError> {
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
        rules.load(tx.conn())?
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
    posted: Posted,
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

    /// Queues a request and waits for its answer, which comes after its group has committed.
    pub async fn store(&self, posted: Posted) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { posted, reply })
            .map_err(|_| ApiError::internal(anyhow::anyhow!("the transfer writer has stopped")))?;
        answer.await.map_err(|_| {
            ApiError::internal(anyhow::anyhow!(
                "the transfer writer stopped before answering"
            ))
        })?
    }
}

fn serve(pool: &Pool, pending: &mpsc::Receiver<Pending>, tz: Tz, group_rows: usize) {
    // One connection kept between groups: its page cache stays valid for as long as it is the
    // only writer, where a connection taken from the pool for each group (after others read or
    // wrote on it) reads every page it touches again from the file. It goes back to the pool
    // only when the queue is empty and the pool has no other connection free, so that nobody
    // waits for it.
    let mut held: Option<PooledConn> = None;
    // The rule sets, parsed once rather than at every group.
    let mut parsed = rules::Parsed::default();
    let mut next = pending.recv().ok();
    while let Some(first) = next {
        let mut rows = first.posted.batch.len();
        let mut group = vec![first];
        while rows < group_rows {
            let Ok(more) = pending.try_recv() else {
                break;
            };
            rows += more.posted.batch.len();
            group.push(more);
        }
        let (jobs, replies): (Vec<Posted>, Vec<oneshot::Sender<Answer>>) =
            group.into_iter().map(|p| (p.posted, p.reply)).unzip();
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
        match std::panic::catch_unwind(AssertUnwindSafe(|| write(conn, &jobs, &mut parsed, tz))) {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // The request may have gone (client disconnected); what it sent is stored
                    // anyway.
                    let _ = reply.send(answer);
                }
                // A connection that broke (the server restarted) goes back to the pool, which
                // replaces it; the next group takes a working one.
                if held
                    .as_mut()
                    .is_some_and(|c| diesel::r2d2::R2D2Connection::is_broken(&mut **c))
                {
                    held = None;
                }
            }
            Err(_) => {
                tracing::error!(jobs = jobs.len(), "the transfer writer panicked on a group");
                held = None;
                parsed = rules::Parsed::default();
            }
        }
        next = pending.try_recv().ok().or_else(|| {
            if pool.state().idle_connections == 0 {
                held = None;
            }
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

/// Checks and stores a group in one transaction; if that fails, each request alone.
fn write(conn: &mut DbConn, jobs: &[Posted], rules: &mut rules::Parsed, tz: Tz) -> Vec<Answer> {
    if let [first, _, ..] = jobs {
        match loanwatch_store::write(conn, first.ctx.clone(), |tx| {
            check_and_store(tx, jobs, rules, tz)
        }) {
            Ok(answers) => return answers,
            Err(e) => tracing::warn!(
                error = %e,
                jobs = jobs.len(),
                "a group of transfer batches failed; storing each alone"
            ),
        }
    }
    jobs.iter()
        .map(|job| {
            loanwatch_store::write(conn, job.ctx.clone(), |tx| {
                check_and_store(tx, std::slice::from_ref(job), rules, tz)
            })
            .and_then(|mut answers| answers.pop().unwrap_or_else(|| Err(unanswered())))
        })
        .collect()
}
