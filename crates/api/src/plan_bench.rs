//! `loanwatch bench plan`: one month of supervision tasks for the synthetic portfolio, written
//! by the plan job's set-based path and by a row-at-a-time insert loop, side by side in the same
//! run on the same database, so the ratio means something on any machine.
//!
//! Each side starts from a portfolio without tasks and plans the same loans for the same month;
//! both must create the same number of tasks or the run fails. The set-based side runs first and
//! again last, so a cold cache cannot favour it.

use std::{io::Write, time::Instant};

use chrono::NaiveDate;
use loanwatch_store::{DbConn, repo::task};

use crate::{
    Config,
    bench::met,
    tasks::{InsertPath, PlanReport, plan_portfolio},
};

/// What to measure.
#[derive(Debug, Clone)]
pub struct PlanBenchSpec {
    /// Loans to seed when the database is empty.
    pub loans: u64,
    /// The first day of the month planned.
    pub date: NaiveDate,
}

/// One side's figures.
#[derive(Debug, Clone)]
pub struct Side {
    /// What the plan run did.
    pub report: PlanReport,
    /// Seconds.
    pub seconds: f64,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct PlanBenchReport {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Loans in the database.
    pub loans_in_db: i64,
    /// The set-based path, first and last.
    pub set_based: [Side; 2],
    /// The row-at-a-time loop.
    pub row_at_a_time: Side,
}

impl PlanBenchReport {
    /// The slower of the set-based runs.
    pub fn set_based_seconds(&self) -> f64 {
        self.set_based[0].seconds.max(self.set_based[1].seconds)
    }

    /// How many times faster the set-based path is (its slower run against the loop).
    pub fn ratio(&self) -> f64 {
        self.row_at_a_time.seconds / self.set_based_seconds()
    }
}

fn side(
    conn: &mut DbConn,
    reader: &mut DbConn,
    date: NaiveDate,
    path: InsertPath,
) -> anyhow::Result<Side> {
    task::delete_unworked(conn)?;
    let started = Instant::now();
    let report =
        plan_portfolio(conn, Some(reader), date, 1, path).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Side {
        report,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Runs the benchmark on the configured database and returns its figures.
pub fn run(config: &Config, spec: &PlanBenchSpec) -> anyhow::Result<PlanBenchReport> {
    let pool = loanwatch_store::build_pool(&config.database.url, 2)?;
    let mut conn = pool.get()?;
    let mut reader = pool.get()?;
    crate::bench::prepare_demo(&mut conn, spec.loans, spec.date)?;
    anyhow::ensure!(
        !task::any_worked_on(&mut conn)?,
        "tasks in this database were worked on; `bench plan` deletes tasks, so it needs a \
         database of its own (an empty one is seeded with the demo portfolio)"
    );
    let loans_in_db = crate::bench::count_loans(&mut conn)?;
    let first = side(&mut conn, &mut reader, spec.date, InsertPath::SetBased)?;
    let row_at_a_time = side(&mut conn, &mut reader, spec.date, InsertPath::RowAtATime)?;
    let last = side(&mut conn, &mut reader, spec.date, InsertPath::SetBased)?;
    for s in [&first, &last] {
        anyhow::ensure!(
            s.report.created == row_at_a_time.report.created,
            "the two paths created different numbers of tasks ({} and {})",
            s.report.created,
            row_at_a_time.report.created
        );
    }
    Ok(PlanBenchReport {
        backend: crate::bench::backend_name(&conn),
        loans_in_db,
        set_based: [first, last],
        row_at_a_time,
    })
}

/// Writes the report with the goals.
pub fn print(
    out: &mut impl Write,
    spec: &PlanBenchSpec,
    r: &PlanBenchReport,
) -> std::io::Result<()> {
    let goal = if r.backend == "sqlite" { 1.0 } else { 2.0 };
    let s = &r.set_based;
    writeln!(
        out,
        "loanwatch bench plan — one month of tasks from {} ({} loans in {}, {} active)",
        spec.date, r.loans_in_db, r.backend, s[0].report.loans
    )?;
    writeln!(
        out,
        "  set-based:      {:>8.3} s first, {:.3} s last   {} tasks created ({} waiting for a calendar year)",
        s[0].seconds, s[1].seconds, s[0].report.created, s[0].report.waiting
    )?;
    writeln!(
        out,
        "  row at a time:  {:>8.3} s                    {} tasks created",
        r.row_at_a_time.seconds, r.row_at_a_time.report.created
    )?;
    writeln!(
        out,
        "  set-based {:.3} s (goal ≤ {goal} s: {})   ratio {:.1}× (goal ≥ 50×: {})",
        r.set_based_seconds(),
        met(r.set_based_seconds() <= goal),
        r.ratio(),
        met(r.ratio() >= 50.0)
    )
}
