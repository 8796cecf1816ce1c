//! Notifications to members of staff. Each person sees only their own.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::{
    DbConn, PageOf, StoreError, StoreResult, WriteTx,
    models::NotificationRow,
    schema::{notifications, organisations, users},
};

/// Inserts notifications, skipping any (user, kind, subject) that exists: a rerun tells nobody
/// twice. Returns how many were new.
pub fn insert_new(tx: &mut WriteTx<'_>, rows: &[NotificationRow]) -> StoreResult<usize> {
    let mut n = 0;
    // 8 columns a row: 1,000 rows stay under both backends' limits on bound parameters.
    for chunk in rows.chunks(1000) {
        n += crate::on_backend!(tx.conn(), |c| diesel::insert_into(notifications::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(n)
}

/// A person's notifications, newest first, after (created_at, id).
pub fn list(
    conn: &mut DbConn,
    user_id: &str,
    unread_only: bool,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> StoreResult<PageOf<NotificationRow>> {
    let mut q = notifications::table
        .filter(notifications::user_id.eq(user_id.to_owned()))
        .into_boxed();
    if unread_only {
        q = q.filter(notifications::read_at.is_null());
    }
    if let Some((at, id)) = after {
        q = q.filter(notifications::created_at.le(at)).filter(
            notifications::created_at
                .lt(at)
                .or(notifications::created_at
                    .eq(at)
                    .and(notifications::id.lt(id))),
        );
    }
    let rows = q
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .limit(limit + 1)
        .select(NotificationRow::as_select())
        .load(conn)?;
    Ok(PageOf::from_overfetch(rows, limit))
}

/// Marks one of a person's notifications read (once; reading again changes nothing).
pub fn mark_read(tx: &mut WriteTx<'_>, user_id: &str, id: &str) -> StoreResult<NotificationRow> {
    let now = tx.now();
    diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::user_id.eq(user_id))
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(Some(now)))
    .execute(tx.conn())?;
    notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::user_id.eq(user_id))
        .select(NotificationRow::as_select())
        .first(tx.conn())
        .map_err(|_| StoreError::NotFound)
}

/// The active people with one of `roles` nearest above an organisation: those in the organisation
/// itself if any, else in its parent, and so on up to the root.
pub fn nearest_with_roles(
    conn: &mut DbConn,
    organisation_id: &str,
    roles: &[&str],
) -> StoreResult<Vec<String>> {
    let path: String = organisations::table
        .find(organisation_id)
        .select(organisations::path)
        .first(conn)?;
    // Paths are `/root/…/self/`: the ancestors, nearest last.
    let chain: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let found: Vec<(String, String)> = users::table
        .filter(users::organisation_id.eq_any(&chain))
        .filter(users::role.eq_any(roles))
        .filter(users::active.eq(true))
        .order(users::id.asc())
        .select((users::id, users::organisation_id))
        .load(conn)?;
    for org in chain.iter().rev() {
        let here: Vec<String> = found
            .iter()
            .filter(|(_, o)| o == org)
            .map(|(u, _)| u.clone())
            .collect();
        if !here.is_empty() {
            return Ok(here);
        }
    }
    Ok(Vec::new())
}
