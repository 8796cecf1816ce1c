//! Refresh tokens and sign-in throttling.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::{
    DbConn, StoreResult, WriteTx,
    models::{RefreshTokenRow, ThrottleRow},
    schema::{login_throttle, refresh_tokens},
};

/// Stores a refresh token (its hash).
pub fn insert_refresh(tx: &mut WriteTx<'_>, row: &RefreshTokenRow) -> StoreResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Finds a refresh token by the hash of its value.
pub fn refresh_by_hash(
    conn: &mut DbConn,
    token_hash: &str,
) -> StoreResult<Option<RefreshTokenRow>> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a token spent, unless it already was; returns whether this call spent it. The
/// condition in the UPDATE makes two concurrent refreshes with one token yield one winner.
pub fn spend_refresh(tx: &mut WriteTx<'_>, id: &str, at: NaiveDateTime) -> StoreResult<bool> {
    let n = diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(at))
    .execute(tx.conn())?;
    Ok(n == 1)
}

/// Revokes every token of a family (reuse detected, or logout).
pub fn revoke_family(
    tx: &mut WriteTx<'_>,
    family_id: &str,
    at: NaiveDateTime,
) -> StoreResult<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(tx.conn())?)
}

/// Revokes every token of a user (password change, deactivation).
pub fn revoke_user(tx: &mut WriteTx<'_>, user_id: &str, at: NaiveDateTime) -> StoreResult<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(tx.conn())?)
}

/// The failure counter under a key.
pub fn throttle(conn: &mut DbConn, key: &str) -> StoreResult<Option<ThrottleRow>> {
    Ok(login_throttle::table
        .find(key)
        .select(ThrottleRow::as_select())
        .first(conn)
        .optional()?)
}

/// Writes a failure counter. Runs inside a write transaction, which holds the write lock, so a
/// read-then-write here cannot race (no backend-specific upsert needed).
pub fn put_throttle(tx: &mut WriteTx<'_>, row: &ThrottleRow) -> StoreResult<()> {
    let updated = diesel::update(login_throttle::table.find(&row.key))
        .set(row)
        .execute(tx.conn())?;
    if updated == 0 {
        diesel::insert_into(login_throttle::table)
            .values(row)
            .execute(tx.conn())?;
    }
    Ok(())
}

/// Forgets the failures under a key (after a successful sign-in).
pub fn clear_throttle(tx: &mut WriteTx<'_>, key: &str) -> StoreResult<()> {
    diesel::delete(login_throttle::table.find(key)).execute(tx.conn())?;
    Ok(())
}
