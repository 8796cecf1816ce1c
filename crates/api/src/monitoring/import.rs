//! `loanwatch import transfers FILE`: fund transfers from a CSV or XLSX export of the core
//! system, through the same checks and evaluation as `POST /api/v1/transfers`.
//!
//! The file is checked whole before anything is written: every rejected row is reported with
//! its line and reason and nothing is imported. Then it goes in batches, each its own
//! transaction; an interrupted import is resumed by running it again (stored rows replay).

use std::{collections::HashMap, path::Path};

use calamine::{Data, DataType, Reader};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use loanwatch_api_types::monitoring::NewTransfer;
use loanwatch_store::{AuditContext, DbConn, ScopeFilter};

use super::{
    ingest::store,
    routes::{MAX_BATCH, check, check_transfer, content_hash, repeats},
    rules,
};

/// A row refused, by line (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Line in the file (row in the sheet).
    pub line: usize,
    /// The column at fault, or empty for the whole row.
    pub column: String,
    /// Why.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows read.
    pub rows: usize,
    /// Transfers stored now.
    pub accepted: u64,
    /// Rows already stored with the same content.
    pub replayed: u64,
    /// Warnings raised.
    pub warnings: u64,
}

/// The columns, by header name; the first five are required.
const COLUMNS: [&str; 7] = [
    "id",
    "booked_at",
    "from_account",
    "to_account",
    "amount_fen",
    "loan_id",
    "memo",
];

/// One cell as read from either format.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Int(i64),
    Float(f64),
    Local(NaiveDateTime),
    Empty,
}

impl Cell {
    fn text(&self) -> Option<String> {
        match self {
            Cell::Text(s) if s.trim().is_empty() => None,
            Cell::Text(s) => Some(s.trim().to_owned()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{f:.0}")),
            Cell::Float(f) => Some(f.to_string()),
            Cell::Local(t) => Some(t.to_string()),
            Cell::Empty => None,
        }
    }
}

fn from_sheet(d: &Data) -> Cell {
    match d {
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(_) => d.as_datetime().map_or(Cell::Empty, Cell::Local),
        Data::Error(e) => Cell::Text(format!("#{e}")),
        Data::Empty => Cell::Empty,
    }
}

/// The rows of the file with their line numbers, header first.
fn read_rows(path: &Path) -> anyhow::Result<Vec<(usize, Vec<Cell>)>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_path(path)?;
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record?;
                let line = record.position().map_or(0, |p| p.line() as usize);
                rows.push((
                    line,
                    record.iter().map(|c| Cell::Text(c.to_owned())).collect(),
                ));
            }
            Ok(rows)
        }
        Some("xlsx" | "xls" | "xlsm" | "ods") => {
            let mut book = calamine::open_workbook_auto(path)?;
            let range = book
                .worksheet_range_at(0)
                .ok_or_else(|| anyhow::anyhow!("{} has no sheet", path.display()))??;
            let first = range.start().map_or(0, |(row, _)| row as usize);
            Ok(range
                .rows()
                .enumerate()
                .map(|(i, r)| (first + i + 1, r.iter().map(from_sheet).collect()))
                .collect())
        }
        _ => anyhow::bail!(
            "{}: import reads .csv and .xlsx (also .xls, .xlsm, .ods) files",
            path.display()
        ),
    }
}

/// A booking time: RFC 3339, or a local time (`YYYY-MM-DD HH:MM[:SS]`) in the institution's
/// time zone.
fn booked_at(cell: &Cell, tz: Tz) -> Option<DateTime<Utc>> {
    let local = match cell {
        Cell::Local(t) => *t,
        other => {
            let text = other.text()?;
            if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
                return Some(t.with_timezone(&Utc));
            }
            ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok())?
        }
    };
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Transfers read, by line, and the rows refused.
type Parsed = (Vec<(usize, NewTransfer)>, Vec<Rejected>);

/// Parses the rows into transfers and the rows refused; a bad header refuses the file.
fn parse(rows: Vec<(usize, Vec<Cell>)>, tz: Tz) -> Result<Parsed, Vec<Rejected>> {
    let reject = |line, column: &str, reason: String| Rejected {
        line,
        column: column.to_owned(),
        reason,
    };
    let mut rows = rows.into_iter();
    let Some((header_line, header)) = rows.next() else {
        return Err(vec![reject(1, "", "the file is empty".into())]);
    };
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut rejected = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let name = cell.text().unwrap_or_default();
        match COLUMNS.iter().find(|c| **c == name) {
            Some(c) => {
                at.insert(c, i);
            }
            None => rejected.push(reject(
                header_line,
                &name,
                format!("unknown column; the columns are {}", COLUMNS.join(", ")),
            )),
        }
    }
    for required in &COLUMNS[..5] {
        if !at.contains_key(required) {
            rejected.push(reject(header_line, required, "missing column".into()));
        }
    }
    if !rejected.is_empty() {
        return Err(rejected);
    }
    let mut out = Vec::new();
    for (line, cells) in rows {
        if cells.iter().all(|c| c.text().is_none()) {
            continue;
        }
        let get = |name: &str| {
            at.get(name)
                .and_then(|i| cells.get(*i))
                .unwrap_or(&Cell::Empty)
        };
        let text = |name: &str| get(name).text();
        let Some(when) = booked_at(get("booked_at"), tz) else {
            rejected.push(reject(
                line,
                "booked_at",
                "is not a time (RFC 3339, or YYYY-MM-DD HH:MM:SS local)".into(),
            ));
            continue;
        };
        let Some(amount) = text("amount_fen").and_then(|a| a.parse::<i64>().ok()) else {
            rejected.push(reject(
                line,
                "amount_fen",
                "is not a whole number of fen".into(),
            ));
            continue;
        };
        out.push((
            line,
            NewTransfer {
                id: text("id").unwrap_or_default(),
                booked_at: when,
                from_account: text("from_account").unwrap_or_default(),
                to_account: text("to_account").unwrap_or_default(),
                amount_fen: amount,
                loan_id: text("loan_id"),
                memo: text("memo"),
            },
        ));
    }
    Ok((out, rejected))
}

/// Imports the transfers of `path`; `progress` hears (rows done, rows in all) after each batch.
/// `Ok(Err(rows))` lists the rows refused (nothing was imported).
pub fn import_transfers(
    conn: &mut DbConn,
    path: &Path,
    tz: Tz,
    today: NaiveDate,
    batch: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Result<ImportReport, Vec<Rejected>>> {
    let batch = batch.clamp(1, MAX_BATCH);
    let (transfers, mut rejected) = match parse(read_rows(path)?, tz) {
        Ok(t) => t,
        Err(rejected) => return Ok(Err(rejected)),
    };
    // Each row on its own, and ids repeated in the file with other content.
    let now = Utc::now();
    let mut candidates: Vec<(usize, NewTransfer, String)> = Vec::new();
    for (line, t) in transfers {
        if let Some((column, reason)) = check_transfer(&t, now) {
            rejected.push(Rejected {
                line,
                column: column.to_owned(),
                reason,
            });
            continue;
        }
        let hash = content_hash(&t).map_err(|e| anyhow::anyhow!("{e}"))?;
        candidates.push((line, t, hash));
    }
    let again = repeats(candidates.iter().map(|(_, t, h)| (t.id.as_str(), h)));
    for r in again.iter().filter(|r| !r.same) {
        rejected.push(Rejected {
            line: candidates.get(r.at).map_or(0, |c| c.0),
            column: "id".into(),
            reason: format!(
                "also on line {} with other content",
                candidates.get(r.first).map_or(0, |c| c.0)
            ),
        });
    }
    let repeated: std::collections::BTreeSet<usize> = again.iter().map(|r| r.at).collect();
    let rows: Vec<(usize, NewTransfer, String)> = candidates
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !repeated.contains(i))
        .map(|(_, c)| c)
        .collect();
    let scope = ScopeFilter::Subtree {
        path_prefix: "/".to_owned(),
    };
    let ctx = || AuditContext {
        actor: "cli:import-transfers".to_owned(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    // Against the database: accounts, loans, ids stored with other content. Nothing written.
    for chunk in rows.chunks(batch) {
        let (transfers, hashes): (Vec<NewTransfer>, Vec<String>) =
            chunk.iter().map(|(_, t, h)| (t.clone(), h.clone())).unzip();
        if let Err(e) = check(conn, &scope, &transfers, &hashes) {
            let problem = e.problem();
            if problem.errors.is_empty() {
                anyhow::bail!("{e}");
            }
            for fault in problem.errors {
                let mut parts = fault.pointer.trim_start_matches('/').split('/').skip(1);
                let index: usize = parts.next().and_then(|i| i.parse().ok()).unwrap_or(0);
                rejected.push(Rejected {
                    line: chunk.get(index).map_or(0, |(l, _, _)| *l),
                    column: parts.next().unwrap_or_default().to_owned(),
                    reason: fault.message,
                });
            }
        }
    }
    if !rejected.is_empty() {
        rejected.sort_by_key(|r| r.line);
        return Ok(Err(rejected));
    }
    let mut report = ImportReport {
        rows: rows.len(),
        ..ImportReport::default()
    };
    let mut done = 0;
    // The rule sets, parsed once for the whole file.
    let mut parsed = rules::Parsed::default();
    for chunk in rows.chunks(batch) {
        let (transfers, hashes): (Vec<NewTransfer>, Vec<String>) =
            chunk.iter().map(|(_, t, h)| (t.clone(), h.clone())).unzip();
        let checked =
            check(conn, &scope, &transfers, &hashes).map_err(|e| anyhow::anyhow!("{e}"))?;
        let r = loanwatch_store::write(conn, ctx(), |tx| {
            store(tx, &scope, checked, &mut parsed, tz, today)
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        report.accepted += r.accepted;
        report.replayed += r.replayed;
        report.warnings += r.warnings.len() as u64;
        done += chunk.len();
        progress(done, rows.len());
    }
    Ok(Ok(report))
}
