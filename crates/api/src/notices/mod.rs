//! Statutory notices: the daily job that creates them, their printable text, and the routes.

pub mod routes;
pub mod text;

use chrono::NaiveDate;
use loanwatch_domain::notice::{NoticeFacts, NoticeStatus, required};
use loanwatch_store::{
    AuditContext, DbConn,
    models::NoticeRow,
    repo::{loan, notice},
};
use serde_json::json;

use crate::{ApiError, calendar, position::position_of};

/// The job's name in `job_runs`.
pub const JOB: &str = "notices";

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Whether this call ran the job (false: another run has it for the day).
    pub ran: bool,
    /// Active loans examined.
    pub loans: u64,
    /// Notices created.
    pub created: u64,
    /// Loans skipped: a calendar year on the way is not loaded, or the position failed.
    pub skipped: u64,
}

/// Runs the notice job for `today`. A day's run is claimed in `job_runs`, so one instance runs
/// it; an unfinished claim older than an hour is taken over. Creating a notice is idempotent
/// (one per loan, kind, addressee and reference date), so a rerun after a crash, or `force`,
/// creates nothing twice.
pub fn run(conn: &mut DbConn, today: NaiveDate, force: bool) -> Result<JobReport, ApiError> {
    let now = loanwatch_store::audit::now();
    if !notice::claim_run(conn, JOB, today, now, chrono::Duration::hours(1))? && !force {
        return Ok(JobReport::default());
    }
    let cal = calendar::load(conn)?;
    let mut report = JobReport {
        ran: true,
        ..JobReport::default()
    };
    let mut after: Option<String> = None;
    loop {
        let page = notice::active_loans(conn, after.as_deref(), 500)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let mut rows = Vec::new();
        for l in &page {
            report.loans += 1;
            // One loan that cannot be positioned must not stop the portfolio's notices.
            let position = match position_of(conn, l, today) {
                Ok(p) => p,
                Err(e) => {
                    report.skipped += 1;
                    tracing::error!(loan_id = %l.id, error = %e, "position failed; notices skipped");
                    continue;
                }
            };
            let (guarantors, _) = loan::security(conn, &l.id)?;
            let facts = NoticeFacts {
                borrower_id: l.borrower_id.clone(),
                officer_id: l.officer_id.clone(),
                organisation_id: l.organisation_id.clone(),
                guarantor_ids: guarantors.into_iter().map(|g| g.id).collect(),
                maturity_date: l.maturity_date,
            };
            match required(&facts, &position, &cal, today) {
                Ok(list) => rows.extend(list.into_iter().map(|n| NoticeRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    loan_id: l.id.clone(),
                    kind: n.kind.as_str().to_owned(),
                    addressee_kind: n.addressee_kind.as_str().to_owned(),
                    addressee_id: n.addressee_id,
                    reference_date: n.reference_date,
                    due_date: n.due_date,
                    amount_fen: n.amount_fen,
                    status: NoticeStatus::Pending.as_str().to_owned(),
                    officer_id: l.officer_id.clone(),
                    organisation_id: l.organisation_id.clone(),
                    created_at: now,
                    acted_by: None,
                    acted_at: None,
                    note: None,
                })),
                Err(e) => {
                    report.skipped += 1;
                    tracing::warn!(loan_id = %l.id, error = %e, "notices skipped");
                }
            }
        }
        let ctx = AuditContext {
            actor: "system:notices".to_owned(),
            request_id: format!("job:{JOB}:{today}"),
        };
        let created = loanwatch_store::write(conn, ctx, |tx| {
            let mut created = 0u64;
            for row in &rows {
                if notice::insert_if_absent(tx, row)? {
                    created += 1;
                }
            }
            if created > 0 {
                tx.audit(
                    "notice.create_batch",
                    "job",
                    JOB,
                    &json!({ "date": today, "created": created }),
                )?;
            }
            Ok::<_, ApiError>(created)
        })?;
        report.created += created;
    }
    let detail =
        json!({ "loans": report.loans, "created": report.created, "skipped": report.skipped })
            .to_string();
    notice::finish_run(conn, JOB, today, loanwatch_store::audit::now(), &detail)?;
    Ok(report)
}

/// Runs the daily jobs in a background thread: every five minutes, once the institution's local
/// time has passed `at_hour`, it runs the day's task planning (one month ahead), escalation of
/// overdue tasks, the monitoring batch and the notice job, each unless a run is already claimed
/// (by this or another instance).
pub fn spawn_scheduler(
    pool: loanwatch_store::Pool,
    tz: chrono_tz::Tz,
    at_hour: u32,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("loanwatch-jobs".into()).spawn(move || {
        loop {
            let local = chrono::Utc::now().with_timezone(&tz);
            if chrono::Timelike::hour(&local) >= at_hour {
                let today = local.date_naive();
                let outcome = pool
                    .get()
                    .map_err(|e| ApiError::from(loanwatch_store::StoreError::from(e)))
                    .and_then(|mut conn| {
                        // A second connection, if one is free, lets the jobs read while they write.
                        let mut reader = pool.try_get();
                        let planned = crate::tasks::run(&mut conn, reader.as_deref_mut(), today, 1, false)?;
                        if planned.ran {
                            tracing::info!(date = %today, created = planned.created, "task planning done");
                        }
                        let escalated = crate::tasks::escalation::run(&mut conn, today, false)?;
                        if escalated.ran {
                            tracing::info!(date = %today, tasks = escalated.tasks, notified = escalated.notified, "overdue tasks escalated");
                        }
                        let monitored = crate::monitoring::rules::run_nightly(&mut conn, reader.as_deref_mut(), today, tz, false)?;
                        drop(reader);
                        if monitored.ran {
                            tracing::info!(date = %today, transfers = monitored.transfers, borrowers = monitored.borrowers, raised = monitored.raised, "monitoring batch done");
                        }
                        run(&mut conn, today, false)
                    });
                match outcome {
                    Ok(r) if r.ran => tracing::info!(date = %today, loans = r.loans, created = r.created, skipped = r.skipped, "notice job done"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(date = %today, error = %e, "notice job failed; it will be retried"),
                }
            }
            std::thread::sleep(std::time::Duration::from_secs(300));
        }
    })?;
    Ok(())
}
