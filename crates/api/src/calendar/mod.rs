//! The working-day calendar: years shipped with Loanwatch are loaded on migration (never over an
//! institution's own edits); administrators replace a year through the API or
//! `loanwatch calendar import FILE`.

pub mod routes;

use loanwatch_domain::calendar::{CalendarYear, WorkingCalendar};
use loanwatch_store::{AuditContext, DbConn, WriteTx, models::CalendarYearRow, repo::calendar};
use serde_json::json;

use crate::ApiError;

/// Loads the shipped years that are not in the database yet; returns the years added.
pub fn seed_shipped(conn: &mut DbConn) -> Result<Vec<i32>, ApiError> {
    let ctx = AuditContext {
        actor: "system:calendar-seed".to_owned(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    loanwatch_store::write(conn, ctx, |tx| {
        let mut added = Vec::new();
        for year in CalendarYear::shipped() {
            if calendar::get(tx.conn(), year.year)?.is_none() {
                put_year(tx, &year)?;
                added.push(year.year);
            }
        }
        Ok(added)
    })
}

/// Validates and stores a year (insert or replace), with an audit entry.
pub fn put_year(tx: &mut WriteTx<'_>, year: &CalendarYear) -> Result<(), ApiError> {
    year.validate()?;
    let row = CalendarYearRow {
        year: year.year,
        document: serde_json::to_string(year).map_err(ApiError::internal)?,
        updated_at: tx.now(),
        updated_by: tx.actor().to_owned(),
    };
    let created = calendar::put(tx, &row)?;
    tx.audit(
        if created { "calendar.create" } else { "calendar.replace" },
        "calendar_year",
        &year.year.to_string(),
        &json!({ "holidays": year.holidays.len(), "makeup_workdays": year.makeup_workdays.len(), "source": year.source }),
    )?;
    Ok(())
}

/// Every stored year, parsed.
pub fn load_years(conn: &mut DbConn) -> Result<Vec<CalendarYear>, ApiError> {
    calendar::all(conn)?
        .into_iter()
        .map(|row| {
            serde_json::from_str(&row.document).map_err(|e| {
                ApiError::internal(anyhow::anyhow!("stored calendar {}: {e}", row.year))
            })
        })
        .collect()
}

/// The working calendar over every stored year.
pub fn load(conn: &mut DbConn) -> Result<WorkingCalendar, ApiError> {
    Ok(WorkingCalendar::new(&load_years(conn)?))
}
