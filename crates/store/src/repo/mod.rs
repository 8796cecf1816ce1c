//! Repositories: the only place SQL is written. Functions that return customer data take a
//! [`crate::ScopeFilter`]; writes take a [`crate::WriteTx`] so they are audited.

pub mod auth;
pub mod borrower;
pub mod calendar;
pub mod field;
pub mod health;
pub mod idempotency;
pub mod incident;
pub mod inspection;
pub mod loan;
pub mod monitoring;
pub mod notice;
pub mod notification;
pub mod party;
pub mod people;
pub mod product;
pub mod task;
pub mod work_log;

/// Keys per `IN (…)` list and rows per multi-row statement: with at most 15 columns a row, both
/// backends stay under their limits on bound parameters.
pub(crate) const CHUNK: usize = 1000;

/// Runs `load` over `keys` in chunks of [`CHUNK`] and joins the rows.
pub(crate) fn chunked<T>(
    keys: &[String],
    mut load: impl FnMut(&[String]) -> crate::StoreResult<Vec<T>>,
) -> crate::StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        out.extend(load(chunk)?);
    }
    Ok(out)
}

/// Runs `load` over every pair of chunks of two key lists (a lookup by both) and joins the rows.
pub(crate) fn chunked_pairs<T>(
    keys: &[String],
    other: &[String],
    mut load: impl FnMut(&[String], &[String]) -> crate::StoreResult<Vec<T>>,
) -> crate::StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        out.extend(chunked(other, |others| load(chunk, others))?);
    }
    Ok(out)
}
