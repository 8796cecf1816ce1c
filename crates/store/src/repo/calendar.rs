//! Working-day calendars: one document per year. Not customer data.

use diesel::prelude::*;

use crate::{DbConn, StoreResult, WriteTx, models::CalendarYearRow, schema::calendar_years};

/// Every loaded year, in order.
pub fn all(conn: &mut DbConn) -> StoreResult<Vec<CalendarYearRow>> {
    Ok(calendar_years::table
        .order(calendar_years::year.asc())
        .select(CalendarYearRow::as_select())
        .load(conn)?)
}

/// One year, if loaded.
pub fn get(conn: &mut DbConn, year: i32) -> StoreResult<Option<CalendarYearRow>> {
    Ok(calendar_years::table
        .find(year)
        .select(CalendarYearRow::as_select())
        .first(conn)
        .optional()?)
}

/// Inserts or replaces a year. Runs under the write lock of [`WriteTx`], so the read-then-write
/// cannot race and no backend-specific upsert is needed.
pub fn put(tx: &mut WriteTx<'_>, row: &CalendarYearRow) -> StoreResult<bool> {
    let updated = diesel::update(calendar_years::table.find(row.year))
        .set(row)
        .execute(tx.conn())?;
    if updated == 0 {
        diesel::insert_into(calendar_years::table)
            .values(row)
            .execute(tx.conn())?;
    }
    Ok(updated == 0)
}
