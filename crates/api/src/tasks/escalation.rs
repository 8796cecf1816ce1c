//! Escalation of overdue work: a task still in the officer's hands after its due date is reported
//! to the nearest supervisor (or, where an organisation has none, the nearest branch head, risk
//! manager or head office), once, with a notification and an entry in the task's history.

use std::collections::HashMap;

use chrono::NaiveDate;
use loanwatch_store::{
    AuditContext, DbConn,
    models::{NotificationRow, TaskEventRow},
    repo::{notice, notification, task},
};
use serde_json::json;

use loanwatch_domain::{people::Role, supervision::task::ESCALATE_TO};

use crate::ApiError;

/// What an escalation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscalationReport {
    /// Whether this call ran the job.
    pub ran: bool,
    /// Overdue tasks escalated.
    pub tasks: u64,
    /// Notifications sent.
    pub notified: u64,
    /// Tasks whose organisation has nobody above to tell.
    pub unowned: u64,
}

/// The people told about an organisation's overdue work (domain `ESCALATE_TO`).
pub fn escalation_targets(
    conn: &mut DbConn,
    organisation_id: &str,
) -> Result<Vec<String>, ApiError> {
    for roles in ESCALATE_TO {
        let who = nearest(conn, organisation_id, roles)?;
        if !who.is_empty() {
            return Ok(who);
        }
    }
    Ok(Vec::new())
}

/// The active people with one of `roles` nearest above an organisation.
pub fn nearest(
    conn: &mut DbConn,
    organisation_id: &str,
    roles: &[Role],
) -> Result<Vec<String>, ApiError> {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Ok(notification::nearest_with_roles(
        conn,
        organisation_id,
        &names,
    )?)
}

/// The job's name in `job_runs`.
pub const JOB: &str = "escalate_tasks";

/// Escalates every task overdue on `today` that was not escalated before, once a day unless
/// `force`. Idempotent: a task escalates once, and a rerun tells nobody twice.
pub fn run(conn: &mut DbConn, today: NaiveDate, force: bool) -> Result<EscalationReport, ApiError> {
    let now = loanwatch_store::audit::now();
    if !notice::claim_run(conn, JOB, today, now, chrono::Duration::hours(1))? && !force {
        return Ok(EscalationReport::default());
    }
    let report = escalate(conn, today)?;
    let detail =
        json!({ "tasks": report.tasks, "notified": report.notified, "unowned": report.unowned })
            .to_string();
    notice::finish_run(conn, JOB, today, loanwatch_store::audit::now(), &detail)?;
    Ok(EscalationReport {
        ran: true,
        ..report
    })
}

fn escalate(conn: &mut DbConn, today: NaiveDate) -> Result<EscalationReport, ApiError> {
    let mut report = EscalationReport::default();
    let mut targets: HashMap<String, Vec<String>> = HashMap::new();
    loop {
        let page = task::overdue_unescalated(conn, today, 500)?;
        if page.is_empty() {
            break;
        }
        for t in &page {
            if !targets.contains_key(&t.organisation_id) {
                let who = escalation_targets(conn, &t.organisation_id)?;
                targets.insert(t.organisation_id.clone(), who);
            }
        }
        let ctx = AuditContext {
            actor: "system:escalation".to_owned(),
            request_id: format!("job:escalate:{today}"),
        };
        let page_report = loanwatch_store::write(conn, ctx, |tx| {
            let now = tx.now();
            let mut r = EscalationReport::default();
            let mut notes = Vec::new();
            let mut events = Vec::with_capacity(page.len());
            for t in &page {
                let who = targets.get(&t.organisation_id).cloned().unwrap_or_default();
                let message = format!(
                    "{} of loan {} was due on {} and is still {}",
                    t.kind.replace('_', " "),
                    t.loan_id,
                    t.due_date,
                    t.status.replace('_', " ")
                );
                for user in &who {
                    notes.push(NotificationRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        user_id: user.clone(),
                        kind: "task.overdue".into(),
                        subject_type: "task".into(),
                        subject_id: t.id.clone(),
                        message: message.clone(),
                        created_at: now,
                        read_at: None,
                    });
                }
                if who.is_empty() {
                    r.unowned += 1;
                }
                events.push(TaskEventRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    task_id: t.id.clone(),
                    action: "escalate".into(),
                    actor: tx.actor().to_owned(),
                    from_status: t.status.clone(),
                    to_status: t.status.clone(),
                    comment: Some(if who.is_empty() {
                        format!("overdue since {}; nobody above to tell", t.due_date)
                    } else {
                        format!(
                            "overdue since {}; escalated to {}",
                            t.due_date,
                            who.join(", ")
                        )
                    }),
                    at: now,
                });
            }
            r.tasks = page.len() as u64;
            r.notified = notification::insert_new(tx, &notes)? as u64;
            task::insert_events(tx, &events)?;
            let ids: Vec<String> = page.iter().map(|t| t.id.clone()).collect();
            task::mark_escalated(tx, &ids)?;
            tx.audit(
                "task.escalate_batch",
                "job",
                "escalate",
                &json!({ "date": today, "tasks": r.tasks, "notified": r.notified }),
            )?;
            Ok::<_, ApiError>(r)
        })?;
        report.tasks += page_report.tasks;
        report.notified += page_report.notified;
        report.unowned += page_report.unowned;
    }
    Ok(report)
}
