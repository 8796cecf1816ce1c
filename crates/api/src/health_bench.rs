//! `loanwatch bench health`: the health check of the whole synthetic portfolio by the nightly
//! batch, beside a per-borrower loop (load one borrower's loans and schedules, evaluate, store,
//! next) and the incremental pass over a day's worth of borrowers, in the same run on the same
//! database, so the ratios mean something on any machine.
//!
//! The loop runs the same judging code with one borrower per transaction over a sample and is
//! extrapolated to the portfolio. The incremental pass must store exactly the health the batch
//! stored for its borrowers, or the run fails.

use std::{io::Write, time::Instant};

use chrono::NaiveDate;
use loanwatch_store::{AuditContext, DbConn, models::HealthRow};

use crate::{
    Config,
    bench::met,
    monitoring::{health, rules},
};

/// What to measure.
#[derive(Debug, Clone)]
pub struct HealthBenchSpec {
    /// Loans to seed when the database is empty.
    pub loans: u64,
    /// The business day checked.
    pub date: NaiveDate,
    /// Borrowers the per-borrower loop and the incremental pass take.
    pub sample: usize,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct HealthBenchReport {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Loans in the database.
    pub loans_in_db: i64,
    /// Repayments recorded on them.
    pub repayments: i64,
    /// Borrowers with an active loan, checked by the batch.
    pub borrowers: u64,
    /// Seconds of the batch: first run (raising warnings) and second run (steady state).
    pub batch_seconds: [f64; 2],
    /// Warnings each run raised.
    pub raised: [u64; 2],
    /// Seconds of the per-borrower loop over the sample.
    pub loop_seconds: f64,
    /// Seconds of one incremental pass over the sample.
    pub incremental_seconds: f64,
    /// Borrowers in the sample.
    pub sample: usize,
}

impl HealthBenchReport {
    /// The loop's time for the whole portfolio, extrapolated from the sample.
    pub fn loop_extrapolated(&self) -> f64 {
        self.loop_seconds * self.borrowers as f64 / self.sample.max(1) as f64
    }

    /// The slower batch run.
    pub fn batch(&self) -> f64 {
        self.batch_seconds[0].max(self.batch_seconds[1])
    }

    /// How many times faster the batch is than the loop over the same portfolio.
    pub fn batch_ratio(&self) -> f64 {
        self.loop_extrapolated() / self.batch()
    }

    /// How many times faster one incremental pass is than the full batch.
    pub fn incremental_ratio(&self) -> f64 {
        self.batch_seconds[1] / self.incremental_seconds
    }
}

/// The stored health of `ids`, without when it was computed (what two passes must agree on).
fn snapshot(conn: &mut DbConn, ids: &[String]) -> anyhow::Result<Vec<HealthRow>> {
    let mut rows = loanwatch_store::repo::health::health_of_many(conn, ids)?;
    for r in &mut rows {
        r.computed_at = chrono::NaiveDateTime::default();
    }
    Ok(rows)
}

/// On PostgreSQL, what autovacuum does to the rows of a bulk load or of a night's batch before
/// the next one (not timed): planner statistics and settled visibility. Without them, a page's
/// `loan_id = ANY(…)` lookups into freshly filled tables were planned as scans. SQLite has no
/// such upkeep of its own, and gets none here.
fn settle(conn: &mut DbConn) -> anyhow::Result<()> {
    if let DbConn::Postgres(_) = conn {
        diesel::RunQueryDsl::execute(diesel::sql_query("VACUUM ANALYZE"), conn)?;
    }
    Ok(())
}

fn ctx() -> AuditContext {
    AuditContext {
        actor: "cli:bench-health".to_owned(),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

/// Runs the benchmark on the configured database and returns its figures.
pub fn run(config: &Config, spec: &HealthBenchSpec) -> anyhow::Result<HealthBenchReport> {
    {
        let pool = loanwatch_store::build_pool(&config.database.url, 1)?;
        crate::bench::prepare_demo(&mut *pool.get()?, spec.loans, spec.date)?;
    }
    // Then the server's pool, new, as a server starts on a seeded database and runs the nightly
    // batch: commits append to the log and a thread of the pool checkpoints it.
    let pool = loanwatch_store::build_server_pool(&config.database.url, 2)?;
    let mut conn = pool.get()?;
    let mut reader = pool.get()?;
    let loans_in_db = crate::bench::count_loans(&mut conn)?;
    let repayments = crate::bench::count(
        &mut conn,
        "SELECT COUNT(*) AS n FROM loan_events WHERE kind = 'repayment'",
    )?;
    let v = rules::in_force_on(&mut conn, spec.date)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("no rule set in force on {}", spec.date))?;
    let mut batch_seconds = [0.0; 2];
    let mut raised = [0; 2];
    let mut borrowers = 0;
    for (s, n) in batch_seconds.iter_mut().zip(&mut raised) {
        settle(&mut conn)?;
        let started = Instant::now();
        let r = health::run_all(&mut conn, Some(&mut reader), &v, spec.date)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        *s = started.elapsed().as_secs_f64();
        borrowers = r.borrowers;
        *n = r.raised;
    }
    let stride = (borrowers as usize / spec.sample.max(1)).max(1);
    let mut sample = Vec::new();
    let mut after: Option<String> = None;
    let mut k = 0usize;
    while sample.len() < spec.sample {
        let page = loanwatch_store::repo::loan::borrowers_with_active_loans(
            &mut conn,
            after.as_deref(),
            10_000,
        )?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        for b in page {
            if k.is_multiple_of(stride) && sample.len() < spec.sample {
                sample.push(b);
            }
            k += 1;
        }
        after = Some(last);
    }
    let by_batch = snapshot(&mut conn, &sample)?;

    let started = Instant::now();
    for b in &sample {
        loanwatch_store::write(&mut conn, ctx(), |tx| {
            health::refresh(tx, std::slice::from_ref(b), spec.date)
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let loop_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        snapshot(&mut conn, &sample)? == by_batch,
        "the per-borrower loop stored other health than the batch"
    );

    let started = Instant::now();
    loanwatch_store::write(&mut conn, ctx(), |tx| {
        health::refresh(tx, &sample, spec.date)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let incremental_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        snapshot(&mut conn, &sample)? == by_batch,
        "the incremental pass stored other health than the batch"
    );
    Ok(HealthBenchReport {
        backend: crate::bench::backend_name(&conn),
        loans_in_db,
        repayments,
        borrowers,
        batch_seconds,
        raised,
        loop_seconds,
        incremental_seconds,
        sample: sample.len(),
    })
}

/// Writes the report with the goals.
pub fn print(
    out: &mut impl Write,
    spec: &HealthBenchSpec,
    r: &HealthBenchReport,
) -> std::io::Result<()> {
    let goal = if r.backend == "sqlite" { 30.0 } else { 60.0 };
    writeln!(
        out,
        "loanwatch bench health — health check on {} ({} loans with {} repayments in {}, {} borrowers with an active loan)",
        spec.date, r.loans_in_db, r.repayments, r.backend, r.borrowers
    )?;
    writeln!(
        out,
        "  batch:              {:>9.3} s first ({} warnings raised), {:.3} s second ({} raised)",
        r.batch_seconds[0], r.raised[0], r.batch_seconds[1], r.raised[1]
    )?;
    writeln!(
        out,
        "  per-borrower loop:  {:>9.3} s for {} borrowers → {:.1} s for the portfolio",
        r.loop_seconds,
        r.sample,
        r.loop_extrapolated()
    )?;
    writeln!(
        out,
        "  incremental pass:   {:>9.3} s for the same {} borrowers (same health as the batch)",
        r.incremental_seconds, r.sample
    )?;
    writeln!(
        out,
        "  batch {:.3} s (goal ≤ {goal} s at 1M loans: {})   loop/batch {:.1}× (goal ≥ 100×: {})   batch/incremental {:.1}× (goal ≥ 10×: {})",
        r.batch(),
        met(r.batch() <= goal * r.loans_in_db as f64 / 1_000_000.0),
        r.batch_ratio(),
        met(r.batch_ratio() >= 100.0),
        r.incremental_ratio(),
        met(r.incremental_ratio() >= 10.0)
    )
}
