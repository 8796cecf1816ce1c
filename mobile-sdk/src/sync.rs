//! Sending the outbox: in the order things were done, one acknowledged step at a time, so a kill
//! at any point resumes where it stopped and nothing is sent twice in effect (every call is
//! idempotent on the server, or checked against the server's state before it is repeated).

use std::collections::{BTreeMap, BTreeSet};

use loanwatch_api_types::{
    field::{CheckOut, CreateCheckin, DeclareEvidence, DeclaredEvidence, Evidence, UploadMode},
    task::{Inspection, Task, TaskActionRequest},
};
use loanwatch_domain::{field::evidence::EvidenceStatus, supervision::TaskStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Client, SdkError,
    client::{draft, put_draft, put_task},
    http::now_ms,
    store::{self, Entry},
};

/// One queued operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Op {
    /// Start (or restart after a return) the task.
    StartTask,
    /// A check-in; `sent_at` is set when it is sent.
    Checkin { checkin: CreateCheckin },
    /// Check out of a check-in; `sent_at` is set when it is sent.
    CheckOut {
        checkin_id: String,
        device_time: chrono::DateTime<chrono::Utc>,
    },
    /// Start the checklist.
    StartInspection,
    /// Answers and sign-off.
    SaveAnswers {
        answers: BTreeMap<String, Value>,
        sign: bool,
    },
    /// Evidence: declare, upload the file, complete.
    Evidence {
        declare: DeclareEvidence,
        file: String,
    },
    /// Submit for review.
    Submit,
}

impl Op {
    fn label(&self) -> &'static str {
        match self {
            Self::StartTask => "start_task",
            Self::Checkin { .. } => "check_in",
            Self::CheckOut { .. } => "check_out",
            Self::StartInspection => "start_inspection",
            Self::SaveAnswers { sign: false, .. } => "answers",
            Self::SaveAnswers { sign: true, .. } => "sign_off",
            Self::Evidence { .. } => "evidence",
            Self::Submit => "submit",
        }
    }
}

/// An entry of the outbox, as the app shows it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct OutboxItem {
    /// Order of queueing; pass it to `retry` or `discard`.
    pub seq: i64,
    /// Task.
    pub task_id: String,
    /// `start_task`, `check_in`, `check_out`, `start_inspection`, `answers`, `sign_off`,
    /// `evidence`, `submit`.
    pub kind: String,
    /// `pending` (will be sent), `conflict` (the server holds something else, or the task moved
    /// on) or `rejected` (the server refused it as invalid); later work on the same task waits
    /// until the app retries or discards a parked entry.
    pub state: String,
    /// Failed attempts.
    pub attempts: u32,
    /// What the server or the network said last.
    pub detail: Option<String>,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncReport {
    /// Entries acknowledged by the server and removed.
    pub sent: u32,
    /// Entries still queued (pending or parked).
    pub remaining: u32,
    /// Entries parked as a conflict or a rejection.
    pub parked: u32,
}

/// Told about each step of a sync (called on the syncing thread).
#[uniffi::export(callback_interface)]
pub trait SyncProgress: Send + Sync {
    /// `done` of `total` entries handled; `what` names the entry just handled. Return `false`
    /// to stop the sync here (the rest stays queued).
    fn on_progress(&self, done: u32, total: u32, what: String) -> bool;
}

/// Delay before the next attempt after `attempts` failures: 2 s doubling, at most 5 minutes.
fn backoff_ms(attempts: i64) -> i64 {
    2_000i64
        .saturating_mul(1i64 << attempts.clamp(0, 20))
        .min(300_000)
}

#[uniffi::export]
impl Client {
    /// Everything queued, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, SdkError> {
        Ok(store::entries(&*self.store.lock()?)?
            .into_iter()
            .map(|e| OutboxItem {
                kind: serde_json::from_str::<Op>(&e.op)
                    .map_or("unknown", |o| o.label())
                    .to_owned(),
                seq: e.seq,
                task_id: e.task_id,
                state: e.state,
                attempts: u32::try_from(e.attempts).unwrap_or(u32::MAX),
                detail: e.detail,
            })
            .collect())
    }

    /// Puts a parked entry back in the queue (after the app resolved what blocked it).
    pub fn retry(&self, seq: i64) -> Result<(), SdkError> {
        if !self.store.write(|tx| store::retry(tx, seq))? {
            return Err(SdkError::invalid("seq", "no such outbox entry"));
        }
        Ok(())
    }

    /// Drops an entry the officer gave up on (its file too).
    pub fn discard(&self, seq: i64) -> Result<(), SdkError> {
        let entry = store::entries(&*self.store.lock()?)?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or_else(|| SdkError::invalid("seq", "no such outbox entry"))?;
        self.store.write(|tx| store::remove(tx, seq))?;
        // An entry this version cannot read names no file it knows of.
        if let Ok(op) = serde_json::from_str::<Op>(&entry.op) {
            remove_file(&op);
        }
        Ok(())
    }

    /// Sends what is queued, in order; a second call waits for a running one. Stops at the
    /// first network or sign-in failure (returned as the error; the entry is kept and retried
    /// with backoff); a conflict or rejection parks its entry and holds back later work on the
    /// same task; other tasks go on. `force` ignores the backoff.
    pub fn sync(
        &self,
        force: bool,
        progress: Option<Box<dyn SyncProgress>>,
    ) -> Result<SyncReport, SdkError> {
        let _one = self
            .syncing
            .lock()
            .map_err(|_| SdkError::storage("an earlier sync panicked"))?;
        let entries = store::entries(&*self.store.lock()?)?;
        let mut held: BTreeSet<String> = entries
            .iter()
            .filter(|e| e.state != "pending")
            .map(|e| e.task_id.clone())
            .collect();
        let total = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        let (mut sent, mut parked, mut done) = (0u32, 0u32, 0u32);
        for e in entries {
            if e.state != "pending" {
                parked += 1;
                continue;
            }
            if held.contains(&e.task_id) {
                continue;
            }
            if !force && e.next_attempt_ms > now_ms() {
                return Err(SdkError::Network {
                    detail: format!(
                        "waiting {} s before trying again",
                        (e.next_attempt_ms - now_ms()) / 1000
                    ),
                });
            }
            // An entry this version cannot read (written by a newer one, or damaged) is parked
            // for the app to show, not left to stop every later sync.
            let op: Op = match serde_json::from_str(&e.op) {
                Ok(op) => op,
                Err(why) => {
                    let detail = format!("this version of the app cannot read the entry: {why}");
                    self.store
                        .write(|tx| store::fail(tx, e.seq, "rejected", &detail, 0))?;
                    held.insert(e.task_id.clone());
                    parked += 1;
                    continue;
                }
            };
            match self.send(&e, &op) {
                Ok(()) => {
                    self.store.write(|tx| store::remove(tx, e.seq))?;
                    remove_file(&op);
                    sent += 1;
                }
                Err(err) if err.retryable() => {
                    let next = now_ms() + backoff_ms(e.attempts);
                    self.store
                        .write(|tx| store::fail(tx, e.seq, "pending", &err.to_string(), next))?;
                    return Err(err);
                }
                Err(err) => {
                    let state = if matches!(err, SdkError::Conflict { .. }) {
                        "conflict"
                    } else {
                        "rejected"
                    };
                    self.store
                        .write(|tx| store::fail(tx, e.seq, state, &err.to_string(), 0))?;
                    held.insert(e.task_id.clone());
                    parked += 1;
                }
            }
            done += 1;
            if let Some(p) = &progress
                && !p.on_progress(done, total, op.label().to_owned())
            {
                break;
            }
        }
        let remaining = u32::try_from(store::entries(&*self.store.lock()?)?.len()).unwrap_or(0);
        Ok(SyncReport {
            sent,
            remaining,
            parked,
        })
    }
}

fn remove_file(op: &Op) {
    if let Op::Evidence { file, .. } = op {
        // Left over only if the disk fails; it is not referred to any more.
        let _ = std::fs::remove_file(file);
    }
}

impl Client {
    fn send(&self, e: &Entry, op: &Op) -> Result<(), SdkError> {
        let task = &e.task_id;
        match op {
            Op::StartTask => self.act(e, "start", &[TaskStatus::InProgress]),
            Op::Submit => self.act(e, "submit", &[TaskStatus::Submitted, TaskStatus::Approved]),
            Op::Checkin { checkin } => {
                let mut body = checkin.clone();
                body.sent_at = Some(chrono::Utc::now());
                let body = serde_json::to_value(body)?;
                let answer = self.http.authed(
                    &self.store,
                    "POST",
                    &format!("/tasks/{task}/checkins"),
                    Some(&body),
                )?;
                answer.ok().then_some(()).ok_or_else(|| answer.error())
            }
            Op::CheckOut {
                checkin_id,
                device_time,
            } => {
                let body = serde_json::to_value(CheckOut {
                    device_time: Some(*device_time),
                    sent_at: Some(chrono::Utc::now()),
                })?;
                let answer = self.http.authed(
                    &self.store,
                    "POST",
                    &format!("/checkins/{checkin_id}/checkout"),
                    Some(&body),
                )?;
                // 409: checked out already, by this entry before its answer was lost (only the
                // officer checks out of their own check-in).
                if answer.ok() || answer.status == 409 {
                    Ok(())
                } else {
                    Err(answer.error())
                }
            }
            Op::StartInspection => {
                let i: Inspection = self.http.call::<(), _>(
                    &self.store,
                    "POST",
                    &format!("/tasks/{task}/inspection"),
                    None,
                )?;
                // The server's choice of template is the one the answers are checked against.
                self.store.write(|tx| {
                    if let Some(mut d) = draft(tx, task)?
                        && d.template != i.template
                    {
                        d.template = i.template.clone();
                        put_draft(tx, task, &d)?;
                    }
                    Ok(())
                })
            }
            Op::SaveAnswers { answers, sign } => {
                let body = serde_json::json!({ "answers": answers, "sign": sign });
                let _: Inspection = self.http.call(
                    &self.store,
                    "PATCH",
                    &format!("/tasks/{task}/inspection"),
                    Some(&body),
                )?;
                Ok(())
            }
            Op::Evidence { declare, file } => self.send_evidence(e, task, declare, file),
        }
    }

    /// A lifecycle action with the version last seen. A stale version or a refused transition
    /// is checked against the server: if the task is already where the action leads (the first
    /// attempt went through but its answer was lost), it is acknowledged.
    fn act(&self, e: &Entry, action: &str, reached: &[TaskStatus]) -> Result<(), SdkError> {
        let task = &e.task_id;
        let version: i32 = self.store.lock()?.query_row(
            "SELECT version FROM tasks WHERE id = ?1",
            [task],
            |r| r.get(0),
        )?;
        let body = TaskActionRequest {
            action: action.into(),
            assignee_id: None,
            comment: None,
            version,
        };
        let path = format!("/tasks/{task}/actions");
        let answer = self.http.authed(
            &self.store,
            "POST",
            &path,
            Some(&serde_json::to_value(body)?),
        )?;
        let server: Task = if answer.status == 409 {
            let now: Task =
                self.http
                    .call::<(), _>(&self.store, "GET", &format!("/tasks/{task}"), None)?;
            if !reached.contains(&now.status) {
                return Err(answer.error());
            }
            now
        } else {
            answer.json()?
        };
        self.store.write(|tx| {
            // Later queued work on the task keeps the local status; the version is the server's.
            let later = store::entries(tx)?
                .iter()
                .any(|x| x.task_id == *task && x.seq > e.seq);
            let mut doc = server.clone();
            if later {
                let local: String =
                    tx.query_row("SELECT doc FROM tasks WHERE id = ?1", [task], |r| r.get(0))?;
                let local: Task = serde_json::from_str(&local)?;
                doc = Task {
                    version: server.version,
                    ..local
                };
            }
            put_task(tx, &doc)
        })
    }

    fn send_evidence(
        &self,
        e: &Entry,
        task: &str,
        declare: &DeclareEvidence,
        file: &str,
    ) -> Result<(), SdkError> {
        if e.step == 0 {
            let d: DeclaredEvidence = self.http.call(
                &self.store,
                "POST",
                &format!("/tasks/{task}/evidence"),
                Some(declare),
            )?;
            if d.evidence.status == EvidenceStatus::Stored {
                return Ok(());
            }
            let Some(target) = d.upload else {
                return Err(SdkError::conflict(
                    d.evidence
                        .rejected_reason
                        .unwrap_or_else(|| "the server refused this evidence".into()),
                ));
            };
            let size = std::fs::metadata(file)?.len();
            if size != declare.size_bytes {
                return Err(SdkError::storage(format!(
                    "{file} is {size} bytes, {} were declared",
                    declare.size_bytes
                )));
            }
            match target.mode {
                UploadMode::Single => {
                    let url = target
                        .url
                        .as_deref()
                        .ok_or_else(|| SdkError::network("the upload target has no URL"))?;
                    let answer = self.http.put_file(url, &target.headers, file, 0, size)?;
                    if !answer.ok() {
                        return Err(answer.error());
                    }
                }
                UploadMode::Multipart => {
                    for part in target.parts.iter().filter(|p| !p.uploaded) {
                        let answer = self.http.put_file(
                            &part.url,
                            &part.headers,
                            file,
                            part.offset,
                            part.size_bytes,
                        )?;
                        if !answer.ok() {
                            return Err(answer.error());
                        }
                    }
                }
            }
            self.store.write(|tx| store::set_step(tx, e.seq, 1))?;
        }
        let id = &declare.id;
        let answer = self.http.authed(
            &self.store,
            "POST",
            &format!("/evidence/{id}/complete"),
            None,
        )?;
        if answer.ok() {
            return Ok(());
        }
        if answer.status == 409 {
            // Completed before the answer was lost?
            let all: Vec<Evidence> = self.http.call::<(), _>(
                &self.store,
                "GET",
                &format!("/tasks/{task}/evidence"),
                None,
            )?;
            if all
                .iter()
                .any(|x| &x.id == id && x.status == EvidenceStatus::Stored)
            {
                return Ok(());
            }
        }
        Err(answer.error())
    }
}
