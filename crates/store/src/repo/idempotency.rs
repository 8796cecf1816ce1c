//! `Idempotency-Key` bookkeeping: the first request under a key runs; a repeat with the same body
//! gets the first answer again; a repeat with another body is refused; a repeat while the first is
//! still running is told so.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::{DbConn, StoreError, StoreResult, models::IdempotencyRow, schema::idempotency_keys};

/// How long an unfinished claim blocks its key. After this, the first request is presumed dead
/// (its process crashed between claim and completion) and the key may be claimed again.
pub const IN_FLIGHT_TIMEOUT: Duration = Duration::seconds(60);

/// What to do with a request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: go ahead, then [`complete`] or [`release`].
    Fresh,
    /// Done before with the same body: answer this.
    Replay { status: u16, body: String },
    /// Used before with a different body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

/// Claims `key` for `actor` and a request whose body hashes to `request_hash`.
pub fn claim(
    conn: &mut DbConn,
    actor: &str,
    key: &str,
    request_hash: &str,
    now: NaiveDateTime,
) -> StoreResult<Claim> {
    let row = IdempotencyRow {
        actor: actor.to_owned(),
        key: key.to_owned(),
        request_hash: request_hash.to_owned(),
        status: "in_flight".to_owned(),
        response_status: None,
        response_body: None,
        created_at: now,
    };
    match diesel::insert_into(idempotency_keys::table)
        .values(&row)
        .execute(conn)
        .map_err(StoreError::from)
    {
        Ok(_) => return Ok(Claim::Fresh),
        Err(StoreError::Conflict { .. }) => {}
        Err(other) => return Err(other),
    }
    let existing: IdempotencyRow = idempotency_keys::table
        .find((actor, key))
        .select(IdempotencyRow::as_select())
        .first(conn)?;
    if existing.request_hash != request_hash {
        return Ok(Claim::Mismatch);
    }
    match (
        existing.status.as_str(),
        existing.response_status,
        existing.response_body,
    ) {
        ("done", Some(status), Some(body)) => Ok(Claim::Replay {
            status: u16::try_from(status).unwrap_or(200),
            body,
        }),
        _ if now - existing.created_at > IN_FLIGHT_TIMEOUT => {
            // Take over an abandoned claim, only if nobody else did in the meantime.
            let n = diesel::update(
                idempotency_keys::table
                    .find((actor, key))
                    .filter(idempotency_keys::created_at.eq(existing.created_at))
                    .filter(idempotency_keys::status.eq("in_flight")),
            )
            .set(idempotency_keys::created_at.eq(now))
            .execute(conn)?;
            Ok(if n == 1 {
                Claim::Fresh
            } else {
                Claim::InFlight
            })
        }
        _ => Ok(Claim::InFlight),
    }
}

/// Records the answer given under a claimed key.
pub fn complete(
    conn: &mut DbConn,
    actor: &str,
    key: &str,
    status: u16,
    body: &str,
) -> StoreResult<()> {
    diesel::update(idempotency_keys::table.find((actor, key)))
        .set((
            idempotency_keys::status.eq("done"),
            idempotency_keys::response_status.eq(Some(i32::from(status))),
            idempotency_keys::response_body.eq(Some(body)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives a key back after the request failed without writing anything, so the caller may retry.
pub fn release(conn: &mut DbConn, actor: &str, key: &str) -> StoreResult<()> {
    diesel::delete(
        idempotency_keys::table
            .find((actor, key))
            .filter(idempotency_keys::status.eq("in_flight")),
    )
    .execute(conn)?;
    Ok(())
}
