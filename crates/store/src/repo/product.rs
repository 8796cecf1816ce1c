//! Product settings. Not customer data.

use diesel::prelude::*;

use crate::{DbConn, StoreResult, WriteTx, models::ProductRow, schema::products};

/// Every product with settings.
pub fn all(conn: &mut DbConn) -> StoreResult<Vec<ProductRow>> {
    Ok(products::table
        .order(products::code.asc())
        .select(ProductRow::as_select())
        .load(conn)?)
}

/// One product's settings, if any.
pub fn get(conn: &mut DbConn, code: &str) -> StoreResult<Option<ProductRow>> {
    Ok(products::table
        .find(code)
        .select(ProductRow::as_select())
        .first(conn)
        .optional()?)
}

/// Inserts or replaces a product's settings, under the write lock (no backend-specific upsert).
pub fn put(tx: &mut WriteTx<'_>, row: &ProductRow) -> StoreResult<bool> {
    let updated = diesel::update(products::table.find(&row.code))
        .set(row)
        .execute(tx.conn())?;
    if updated == 0 {
        diesel::insert_into(products::table)
            .values(row)
            .execute(tx.conn())?;
    }
    Ok(updated == 0)
}
