//! The commands of the `loanwatch` binary.

use std::io::{BufRead, Write};

use clap::{Parser, Subcommand};

use crate::{Application, Config, auth::password, demo, openapi, telemetry};

/// Loanwatch: post-loan management.
#[derive(Debug, Parser)]
#[command(name = "loanwatch", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (no configuration: SQLite and files under ./data, 127.0.0.1:8080).
    Serve {
        /// Seed the demo institution first if the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Administer people.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Seed a demo institution into an empty database and print its logins.
    Demo {
        /// Number of loans to generate.
        #[arg(long, default_value_t = 300)]
        loans: u64,
        /// Seed of the generator: the same seed gives the same portfolio.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run a daily job now (serve runs them by itself unless JOBS_ENABLED=false).
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Import data from files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// The working-day calendar.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Benchmarks (PostgreSQL): `bench loans` measures scoped GET /api/v1/loans/{id} beside
    /// pgbench's point-select rate on the same database.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Fund transfers from a CSV or XLSX file with the columns id, booked_at, from_account,
    /// to_account, amount_fen and optionally loan_id, memo. The whole file is checked first: any
    /// rejected row is listed with its line and reason and nothing is imported (exit 1).
    /// `import transactions` is the same command.
    #[command(alias = "transactions")]
    Transfers {
        /// The file (.csv or .xlsx).
        file: std::path::PathBuf,
        /// Transfers per transaction (at most 10,000).
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Create the supervision tasks of every active loan due in the coming months (idempotent).
    Plan {
        /// The business date; today in the institution's time zone if absent.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// How many months ahead to plan.
        #[arg(long, default_value_t = 1)]
        months: u32,
        /// Run even if a run for the date is already recorded (nothing is created twice).
        #[arg(long)]
        force: bool,
    },
    /// Escalate the tasks overdue on a date to the nearest supervisor (each task once).
    Escalate {
        /// The business date; today in the institution's time zone if absent.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Run even if a run for the date is already recorded (nothing is escalated twice).
        #[arg(long)]
        force: bool,
    },
    /// Evaluate the warning rules over the whole portfolio up to the end of a date (idempotent:
    /// a warning is kept once per borrower, rule and month).
    Monitor {
        /// The business date; today in the institution's time zone if absent.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Run even if a run for the date is already recorded (nothing is raised twice).
        #[arg(long)]
        force: bool,
    },
    /// Create the statutory notices due on a date (idempotent).
    Notices {
        /// The business date; today in the institution's time zone if absent.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Run even if a run for the date is already recorded (nothing is created twice).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CalendarCommand {
    /// Load or replace a year from a JSON file: `{"year", "source", "holidays": [{"name", "from",
    /// "to"}], "makeup_workdays": [{"date", "for"}]}`, as in crates/domain/data/calendar/.
    Import {
        /// The file.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Completing a 12-megapixel JPEG (ms and peak memory, beside the SHA-256 alone), and
    /// uploads through presigned S3 URLs beside plain PutObject to the same server. Uses the
    /// configured S3 (`OBJECT_STORE=s3`) or starts `.tools/bin/s3s-fs` (or `$S3S_FS`).
    Evidence {
        /// Completions timed.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Size of each upload, MiB.
        #[arg(long, default_value_t = 64)]
        upload_mib: u64,
        /// Uploads timed on each side.
        #[arg(long, default_value_t = 5)]
        uploads: usize,
    },
    /// One month of supervision tasks for the whole portfolio: the plan job's set-based path
    /// beside a row-at-a-time insert loop (SQLite or PostgreSQL). Deletes the tasks nobody worked
    /// on, so give it a database of its own; an empty one is seeded with the demo portfolio.
    Plan {
        /// Loans to seed into an empty database.
        #[arg(long, default_value_t = 1_000_000)]
        loans: u64,
        /// The first day planned; today in the institution's time zone if absent.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// The health check of every borrower by the nightly batch, beside a per-borrower loop over a
    /// sample (extrapolated) and one incremental pass over the same sample, which must store the
    /// batch's health. Raises and stores warnings like the nightly job, so give it a database of
    /// its own; an empty one is seeded with the demo portfolio.
    Health {
        /// Loans to seed into an empty database.
        #[arg(long, default_value_t = 1_000_000)]
        loans: u64,
        /// The business day checked; today in the institution's time zone if absent.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Borrowers in the loop's sample and the incremental pass.
        #[arg(long, default_value_t = 2_000)]
        sample: usize,
    },
    /// The fund-flow rules over a synthetic stream of transfers: in memory on one core, end to
    /// end from the database, against one SQL query per rule, and single-transfer POSTs at a
    /// fixed rate. Builds its own parties and stream, so give it a database of its own; an empty
    /// one is seeded with the demo portfolio.
    Flow {
        /// Loans to seed into an empty database.
        #[arg(long, default_value_t = 100_000)]
        loans: u64,
        /// Transfers in the stream.
        #[arg(long, default_value_t = 20_000_000)]
        transfers: u64,
        /// Days the stream spans (ending an hour ago).
        #[arg(long, default_value_t = 210)]
        days: i64,
        /// Real-time transfers posted per second.
        #[arg(long, default_value_t = 2_000)]
        rate: u32,
        /// Seconds of real-time load.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Client connections posting them.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Demo user who posts the real-time transfers.
        #[arg(long, default_value = "ho.risk")]
        user: String,
    },
    /// Authenticated, scoped GET /api/v1/loans/{id}; seeds the demo portfolio if the database
    /// is empty.
    Loans {
        /// Loans to seed into an empty database.
        #[arg(long, default_value_t = 100_000)]
        loans: u64,
        /// Seconds of measured load, for each side.
        #[arg(long, default_value_t = 15)]
        duration: u64,
        /// Concurrent connections, for each side.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Demo user whose scope the requests run under.
        #[arg(long, default_value = "ho.risk")]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator; the password is read from standard input. Creates the head office
    /// first if there is no organisation yet.
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Display name.
        #[arg(long, default_value = "Administrator")]
        display_name: String,
        /// Name of the head office, if it has to be created.
        #[arg(long, default_value = "总行")]
        org_name: String,
        /// Code of the head office, if it has to be created.
        #[arg(long, default_value = "HO")]
        org_code: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain; names the first broken link and exits 1 if there is one.
    Verify,
}

/// Runs the command line; returns the process exit code.
pub fn run() -> anyhow::Result<i32> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        std::io::stdout()
            .lock()
            .write_all(openapi::spec_json().as_bytes())?;
        return Ok(0);
    }
    let config = Config::from_env()?;
    // A benchmark measures the server, not the terminal: one log line per request would.
    let default_level = if matches!(cli.command, Command::Bench { .. }) {
        "warn"
    } else {
        "info"
    };
    telemetry::init(config.json_logs, default_level);
    match cli.command {
        Command::Openapi => Ok(0),
        Command::Serve { demo } => serve(config, demo),
        Command::Migrate => {
            let pool = loanwatch_store::build_pool(&config.database.url, 1)?;
            let prepared = crate::app::prepare_database(&mut *pool.get()?)?;
            writeln!(
                std::io::stderr(),
                "migrations applied: {}; shipped calendar years loaded: {:?}",
                prepared.migrations,
                prepared.calendar_years
            )?;
            Ok(0)
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    display_name,
                    org_name,
                    org_code,
                },
        } => admin_create(&config, &username, &display_name, &org_name, &org_code),
        Command::Demo { loans, seed } => {
            let pool = migrated_pool(&config)?;
            let mut conn = pool.get()?;
            let logins = seed_demo(&config, &mut conn, loans, seed)?;
            demo::print_logins(&mut std::io::stdout().lock(), &logins)?;
            Ok(0)
        }
        Command::Jobs {
            command:
                JobsCommand::Plan {
                    date,
                    months,
                    force,
                },
        } => {
            let today = business_date(&config, date);
            let pool = migrated_pool(&config)?;
            let mut conn = pool.get()?;
            let mut reader = pool.get()?;
            let r = crate::tasks::run(&mut conn, Some(&mut reader), today, months, force)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = std::io::stdout().lock();
            if r.ran {
                writeln!(
                    out,
                    "tasks from {today} for {months} month(s): {} loans examined, {} tasks created, {} tasks waiting for a calendar year",
                    r.loans, r.created, r.waiting
                )?;
            } else {
                writeln!(
                    out,
                    "task planning for {today} already ran (use --force to run again; nothing is created twice)"
                )?;
            }
            Ok(0)
        }
        Command::Jobs {
            command: JobsCommand::Escalate { date, force },
        } => {
            let today = business_date(&config, date);
            let pool = migrated_pool(&config)?;
            let mut conn = pool.get()?;
            let r = crate::tasks::escalation::run(&mut conn, today, force)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = std::io::stdout().lock();
            if r.ran {
                writeln!(
                    out,
                    "escalation for {today}: {} overdue tasks escalated, {} notifications, {} with nobody above to tell",
                    r.tasks, r.notified, r.unowned
                )?;
            } else {
                writeln!(
                    out,
                    "escalation for {today} already ran (use --force to run again; nothing is escalated twice)"
                )?;
            }
            Ok(0)
        }
        Command::Jobs {
            command: JobsCommand::Monitor { date, force },
        } => {
            let today = business_date(&config, date);
            let pool = migrated_pool(&config)?;
            let mut conn = pool.get()?;
            let mut reader = pool.get()?;
            let r = crate::monitoring::rules::run_nightly(
                &mut conn,
                Some(&mut reader),
                today,
                config.time_zone,
                force,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = std::io::stdout().lock();
            if r.ran {
                writeln!(
                    out,
                    "monitoring up to {today}: {} transfers evaluated, {} flow rules broken, {} borrowers checked, {} new warnings",
                    r.transfers, r.hits, r.borrowers, r.raised
                )?;
            } else {
                writeln!(
                    out,
                    "monitoring for {today} already ran (use --force to run again; nothing is raised twice)"
                )?;
            }
            Ok(0)
        }
        Command::Jobs {
            command: JobsCommand::Notices { date, force },
        } => {
            let today = business_date(&config, date);
            let pool = migrated_pool(&config)?;
            let mut conn = pool.get()?;
            let report =
                crate::notices::run(&mut conn, today, force).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = std::io::stdout().lock();
            if report.ran {
                writeln!(
                    out,
                    "notices for {today}: {} loans examined, {} notices created, {} loans skipped (calendar year missing)",
                    report.loans, report.created, report.skipped
                )?;
            } else {
                writeln!(
                    out,
                    "notices for {today} already ran (use --force to run again; nothing is created twice)"
                )?;
            }
            Ok(0)
        }
        Command::Import {
            command: ImportCommand::Transfers { file, batch },
        } => {
            let pool = migrated_pool(&config)?;
            let mut conn = pool.get()?;
            let today = business_date(&config, None);
            let mut progress = |done: usize, all: usize| {
                let width = 40;
                let filled = (done * width).checked_div(all).unwrap_or(width);
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r[{}{}] {done}/{all} transfers",
                    "#".repeat(filled),
                    " ".repeat(width - filled)
                );
                if done == all {
                    let _ = writeln!(err);
                }
            };
            let outcome = crate::monitoring::import::import_transfers(
                &mut conn,
                &file,
                config.time_zone,
                today,
                batch,
                &mut progress,
            )?;
            let mut out = std::io::stdout().lock();
            match outcome {
                Ok(r) => {
                    writeln!(
                        out,
                        "{}: {} rows, {} new transfers, {} already stored, {} warnings raised",
                        file.display(),
                        r.rows,
                        r.accepted,
                        r.replayed,
                        r.warnings
                    )?;
                    Ok(0)
                }
                Err(rejected) => {
                    for r in &rejected {
                        writeln!(out, "line {}: {}: {}", r.line, r.column, r.reason)?;
                    }
                    writeln!(
                        out,
                        "{}: {} rows rejected; nothing was imported",
                        file.display(),
                        rejected.len()
                    )?;
                    Ok(1)
                }
            }
        }
        Command::Calendar {
            command: CalendarCommand::Import { file },
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let year: loanwatch_domain::calendar::CalendarYear = serde_json::from_str(&text)
                .map_err(|e| {
                    anyhow::anyhow!("{} is not a calendar year document: {e}", file.display())
                })?;
            let pool = migrated_pool(&config)?;
            let ctx = loanwatch_store::AuditContext {
                actor: "cli:calendar-import".to_owned(),
                request_id: uuid::Uuid::now_v7().to_string(),
            };
            let mut conn = pool.get()?;
            loanwatch_store::write(&mut conn, ctx, |tx| crate::calendar::put_year(tx, &year))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            writeln!(
                std::io::stdout().lock(),
                "calendar {} loaded from {}",
                year.year,
                file.display()
            )?;
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Loans {
                    loans,
                    duration,
                    connections,
                    user,
                },
        } => {
            let spec = crate::bench::BenchSpec {
                loans,
                duration_secs: duration,
                connections,
                user,
            };
            let report = crate::bench::run(config, &spec)?;
            crate::bench::print(&mut std::io::stdout().lock(), &spec, &report)?;
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Evidence {
                    rounds,
                    upload_mib,
                    uploads,
                },
        } => {
            let spec = crate::evidence_bench::EvidenceBenchSpec {
                rounds,
                upload_mib,
                uploads,
            };
            let report = crate::evidence_bench::run(&config, &spec)?;
            crate::evidence_bench::print(&mut std::io::stdout().lock(), &spec, &report)?;
            Ok(0)
        }
        Command::Bench {
            command: BenchCommand::Plan { loans, date },
        } => {
            let date = business_date(&config, date);
            let spec = crate::plan_bench::PlanBenchSpec { loans, date };
            let report = crate::plan_bench::run(&config, &spec)?;
            crate::plan_bench::print(&mut std::io::stdout().lock(), &spec, &report)?;
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Flow {
                    loans,
                    transfers,
                    days,
                    rate,
                    seconds,
                    connections,
                    seed,
                    user,
                },
        } => {
            let spec = crate::flow_bench::FlowBenchSpec {
                loans,
                transfers,
                days,
                rate,
                seconds,
                connections,
                seed,
                user,
                as_of: business_date(&config, None),
            };
            let report = crate::flow_bench::run(&config, &spec)?;
            crate::flow_bench::print(&mut std::io::stdout().lock(), &spec, &report)?;
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Health {
                    loans,
                    date,
                    sample,
                },
        } => {
            let date = business_date(&config, date);
            let spec = crate::health_bench::HealthBenchSpec {
                loans,
                date,
                sample,
            };
            let report = crate::health_bench::run(&config, &spec)?;
            crate::health_bench::print(&mut std::io::stdout().lock(), &spec, &report)?;
            Ok(0)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let pool = loanwatch_store::build_pool(&config.database.url, 1)?;
            let report = loanwatch_store::audit::verify(&mut *pool.get()?)?;
            let mut out = std::io::stdout().lock();
            match report.first_broken {
                None => {
                    writeln!(out, "audit chain intact: {} entries", report.entries)?;
                    Ok(0)
                }
                Some((seq, why)) => {
                    writeln!(
                        out,
                        "audit chain BROKEN at entry {seq}: {why} ({} entries before it verified)",
                        report.entries
                    )?;
                    Ok(1)
                }
            }
        }
    }
}

fn migrated_pool(config: &Config) -> anyhow::Result<loanwatch_store::Pool> {
    let pool = loanwatch_store::build_pool(&config.database.url, 2)?;
    crate::app::prepare_database(&mut *pool.get()?)?;
    Ok(pool)
}

/// The given business date, or today in the institution's time zone.
fn business_date(config: &Config, date: Option<chrono::NaiveDate>) -> chrono::NaiveDate {
    date.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&config.time_zone)
            .date_naive()
    })
}

fn seed_demo(
    config: &Config,
    conn: &mut loanwatch_store::DbConn,
    loans: u64,
    seed: u64,
) -> anyhow::Result<Vec<demo::DemoLogin>> {
    let today = business_date(config, None);
    demo::seed_with_progress(conn, demo::DemoSpec { loans, seed, today })
}

fn serve(config: Config, demo: bool) -> anyhow::Result<i32> {
    if demo {
        let pool = migrated_pool(&config)?;
        let mut conn = pool.get()?;
        if demo::already_seeded(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))? {
            tracing::info!("the database already holds an institution; not seeding the demo");
        } else {
            let logins = seed_demo(&config, &mut conn, 300, 1)?;
            demo::print_logins(&mut std::io::stdout().lock(), &logins)?;
        }
    }
    let bind = config.bind;
    let db = format!("{:?}", config.database.url);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config)?;
        tracing::info!(%bind, port = app.port(), database = %db, "loanwatch listening; API docs at /docs/");
        app.run_until_stopped().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

fn admin_create(
    config: &Config,
    username: &str,
    display_name: &str,
    org_name: &str,
    org_code: &str,
) -> anyhow::Result<i32> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let secret = line.trim_end_matches(['\r', '\n']);
    password::check_new(secret, "password").map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = password::hash(secret).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = migrated_pool(config)?;
    let mut conn = pool.get()?;
    let user_id = crate::people::service::bootstrap_admin(
        &mut conn,
        username,
        display_name,
        hash,
        org_name,
        org_code,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    writeln!(
        std::io::stdout().lock(),
        "administrator {username} created ({user_id})"
    )?;
    Ok(0)
}
