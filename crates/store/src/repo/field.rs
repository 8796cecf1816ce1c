//! Borrowers' sites and officers' check-ins. Callers check scope through the borrower or the
//! task first.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::{
    DbConn, StoreError, StoreResult, WriteTx,
    models::{CheckinRow, DeviceKeyRow, EvidenceReuseRow, EvidenceRow, SiteRow},
    schema::{borrower_sites, checkins, device_keys, evidence, evidence_reuse},
};

/// Registers a site.
pub fn insert_site(tx: &mut WriteTx<'_>, row: &SiteRow) -> StoreResult<()> {
    diesel::insert_into(borrower_sites::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// A borrower's sites, oldest first.
pub fn sites_of(conn: &mut DbConn, borrower_id: &str) -> StoreResult<Vec<SiteRow>> {
    Ok(borrower_sites::table
        .filter(borrower_sites::borrower_id.eq(borrower_id))
        .order((borrower_sites::created_at.asc(), borrower_sites::id.asc()))
        .select(SiteRow::as_select())
        .load(conn)?)
}

/// Inserts a check-in unless one with its id exists (the primary key decides, so two
/// concurrent replays cannot both insert); `false` when it existed.
pub fn insert_checkin(tx: &mut WriteTx<'_>, row: &CheckinRow) -> StoreResult<bool> {
    let n = crate::on_backend!(tx.conn(), |c| diesel::insert_into(checkins::table)
        .values(row)
        .on_conflict(checkins::id)
        .do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// A check-in by id.
pub fn checkin(conn: &mut DbConn, id: &str) -> StoreResult<CheckinRow> {
    Ok(checkins::table
        .find(id)
        .select(CheckinRow::as_select())
        .first(conn)?)
}

/// A task's check-ins, in order.
pub fn checkins_of_task(conn: &mut DbConn, task_id: &str) -> StoreResult<Vec<CheckinRow>> {
    Ok(checkins::table
        .filter(checkins::task_id.eq(task_id))
        .order((checkins::checked_in_at.asc(), checkins::id.asc()))
        .select(CheckinRow::as_select())
        .load(conn)?)
}

/// An officer's check-ins between two instants, in order (their trail).
pub fn trail(
    conn: &mut DbConn,
    officer_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Vec<CheckinRow>> {
    Ok(checkins::table
        .filter(checkins::officer_id.eq(officer_id))
        .filter(checkins::checked_in_at.ge(from))
        .filter(checkins::checked_in_at.lt(to))
        .order((checkins::checked_in_at.asc(), checkins::id.asc()))
        .select(CheckinRow::as_select())
        .load(conn)?)
}

/// The officer's latest check-in at or before an instant, other than `except`.
pub fn previous_checkin(
    conn: &mut DbConn,
    officer_id: &str,
    at: NaiveDateTime,
    except: &str,
) -> StoreResult<Option<CheckinRow>> {
    Ok(checkins::table
        .filter(checkins::officer_id.eq(officer_id))
        .filter(checkins::checked_in_at.le(at))
        .filter(checkins::id.ne(except))
        .order((checkins::checked_in_at.desc(), checkins::id.desc()))
        .select(CheckinRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records the check-out, once, with the reasons and trust it leaves.
pub fn check_out(
    tx: &mut WriteTx<'_>,
    id: &str,
    at: NaiveDateTime,
    reasons: &str,
    trusted: bool,
) -> StoreResult<()> {
    let n = diesel::update(
        checkins::table
            .find(id)
            .filter(checkins::checked_out_at.is_null()),
    )
    .set((
        checkins::checked_out_at.eq(Some(at)),
        checkins::reasons.eq(reasons),
        checkins::trusted.eq(trusted),
    ))
    .execute(tx.conn())?;
    if n == 0 {
        return Err(StoreError::Conflict {
            constraint: "checkins.checked_out".into(),
        });
    }
    Ok(())
}

/// Declares evidence unless its id exists (the primary key decides); `false` when it existed.
pub fn insert_evidence(tx: &mut WriteTx<'_>, row: &EvidenceRow) -> StoreResult<bool> {
    let n = crate::on_backend!(tx.conn(), |c| diesel::insert_into(evidence::table)
        .values(row)
        .on_conflict(evidence::id)
        .do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Evidence by id.
pub fn evidence_by_id(conn: &mut DbConn, id: &str) -> StoreResult<EvidenceRow> {
    Ok(evidence::table
        .find(id)
        .select(EvidenceRow::as_select())
        .first(conn)?)
}

/// A task's evidence, in order.
pub fn evidence_of_task(conn: &mut DbConn, task_id: &str) -> StoreResult<Vec<EvidenceRow>> {
    Ok(evidence::table
        .filter(evidence::task_id.eq(task_id))
        .order((evidence::created_at.asc(), evidence::id.asc()))
        .select(EvidenceRow::as_select())
        .load(conn)?)
}

/// Settles declared evidence as stored or rejected, once.
pub fn settle_evidence(
    tx: &mut WriteTx<'_>,
    id: &str,
    status: &str,
    rejected_reason: Option<&str>,
) -> StoreResult<()> {
    let now = tx.now();
    let n = diesel::update(
        evidence::table
            .find(id)
            .filter(evidence::status.eq("declared")),
    )
    .set((
        evidence::status.eq(status),
        evidence::rejected_reason.eq(rejected_reason),
        evidence::completed_at.eq(Some(now)),
    ))
    .execute(tx.conn())?;
    if n == 0 {
        return Err(StoreError::Conflict {
            constraint: "evidence.settled".into(),
        });
    }
    Ok(())
}

/// Records the storage's multipart upload of declared evidence, unless one is recorded already
/// (a concurrent declaration won): `false` then, and the caller gives up its own.
pub fn set_multipart(
    tx: &mut WriteTx<'_>,
    id: &str,
    upload_id: &str,
    part_bytes: i64,
) -> StoreResult<bool> {
    let n = diesel::update(
        evidence::table
            .find(id)
            .filter(evidence::status.eq("declared"))
            .filter(evidence::upload_id.is_null()),
    )
    .set((
        evidence::upload_id.eq(Some(upload_id)),
        evidence::part_bytes.eq(Some(part_bytes)),
    ))
    .execute(tx.conn())?;
    Ok(n == 1)
}

/// Stored evidence of a task counted per checklist item (for an inspection started after the
/// uploads).
pub fn stored_evidence_counts(
    conn: &mut DbConn,
    task_id: &str,
) -> StoreResult<std::collections::BTreeMap<String, u32>> {
    let keys: Vec<String> = evidence::table
        .filter(evidence::task_id.eq(task_id))
        .filter(evidence::status.eq("stored"))
        .select(evidence::item_key)
        .load(conn)?;
    let mut counts = std::collections::BTreeMap::new();
    for k in keys {
        *counts.entry(k).or_insert(0u32) += 1;
    }
    Ok(counts)
}

/// Records what a stored image is: dimensions, perceptual hash, thumbnail.
pub fn set_image(
    tx: &mut WriteTx<'_>,
    id: &str,
    width: i32,
    height: i32,
    phash: i64,
    thumbnail_key: &str,
) -> StoreResult<()> {
    diesel::update(evidence::table.find(id))
        .set((
            evidence::width.eq(Some(width)),
            evidence::height.eq(Some(height)),
            evidence::phash.eq(Some(phash)),
            evidence::thumbnail_key.eq(Some(thumbnail_key)),
        ))
        .execute(tx.conn())?;
    Ok(())
}

/// Stored evidence of other tasks with the same bytes.
pub fn same_bytes_elsewhere(
    conn: &mut DbConn,
    sha256: &str,
    task_id: &str,
) -> StoreResult<Vec<EvidenceRow>> {
    Ok(evidence::table
        .filter(evidence::sha256.eq(sha256))
        .filter(evidence::status.eq("stored"))
        .filter(evidence::task_id.ne(task_id))
        .select(EvidenceRow::as_select())
        .load(conn)?)
}

/// (id, perceptual hash) of every stored image of other tasks. A linear scan: fine for the
/// photos of a portfolio's recent inspections; an index (BK-tree) is the next step at scale.
pub fn hashes_elsewhere(conn: &mut DbConn, task_id: &str) -> StoreResult<Vec<(String, i64)>> {
    let rows: Vec<(String, Option<i64>)> = evidence::table
        .filter(evidence::status.eq("stored"))
        .filter(evidence::task_id.ne(task_id))
        .filter(evidence::phash.is_not_null())
        .select((evidence::id, evidence::phash))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, h)| h.map(|h| (id, h)))
        .collect())
}

/// Links two pieces of evidence both ways (once).
pub fn link_reuse(
    tx: &mut WriteTx<'_>,
    a: &str,
    b: &str,
    reason: &str,
    distance: i32,
) -> StoreResult<()> {
    let now = tx.now();
    for (x, y) in [(a, b), (b, a)] {
        let row = EvidenceReuseRow {
            evidence_id: x.to_owned(),
            other_id: y.to_owned(),
            reason: reason.to_owned(),
            distance,
            found_at: now,
        };
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(evidence_reuse::table)
            .values(&row)
            .on_conflict((evidence_reuse::evidence_id, evidence_reuse::other_id))
            .do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// The reuse links of many pieces of evidence in one query, with the other side's task.
pub fn reuse_of(conn: &mut DbConn, ids: &[String]) -> StoreResult<Vec<(EvidenceReuseRow, String)>> {
    Ok(evidence_reuse::table
        .inner_join(evidence::table.on(evidence::id.eq(evidence_reuse::other_id)))
        .filter(evidence_reuse::evidence_id.eq_any(ids))
        .order((
            evidence_reuse::evidence_id.asc(),
            evidence_reuse::other_id.asc(),
        ))
        .select((EvidenceReuseRow::as_select(), evidence::task_id))
        .load(conn)?)
}

/// Registers a device key; `false` when the public key is registered already.
pub fn insert_device(tx: &mut WriteTx<'_>, row: &DeviceKeyRow) -> StoreResult<bool> {
    let n = crate::on_backend!(tx.conn(), |c| diesel::insert_into(device_keys::table)
        .values(row)
        .on_conflict(device_keys::public_key)
        .do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// The device holding a public key.
pub fn device_by_key(conn: &mut DbConn, public_key: &str) -> StoreResult<DeviceKeyRow> {
    Ok(device_keys::table
        .filter(device_keys::public_key.eq(public_key))
        .select(DeviceKeyRow::as_select())
        .first(conn)?)
}

/// A device by id.
pub fn device(conn: &mut DbConn, id: &str) -> StoreResult<DeviceKeyRow> {
    Ok(device_keys::table
        .find(id)
        .select(DeviceKeyRow::as_select())
        .first(conn)?)
}

/// A user's devices, oldest first.
pub fn devices_of(conn: &mut DbConn, user_id: &str) -> StoreResult<Vec<DeviceKeyRow>> {
    Ok(device_keys::table
        .filter(device_keys::user_id.eq(user_id))
        .order((device_keys::created_at.asc(), device_keys::id.asc()))
        .select(DeviceKeyRow::as_select())
        .load(conn)?)
}

/// Revokes a device (once; a second revocation keeps the first time).
pub fn revoke_device(tx: &mut WriteTx<'_>, id: &str) -> StoreResult<()> {
    let now = tx.now();
    diesel::update(
        device_keys::table
            .find(id)
            .filter(device_keys::revoked_at.is_null()),
    )
    .set(device_keys::revoked_at.eq(Some(now)))
    .execute(tx.conn())?;
    Ok(())
}

/// Records whether evidence's device signature verified.
pub fn set_signature_verified(tx: &mut WriteTx<'_>, id: &str, verified: bool) -> StoreResult<()> {
    diesel::update(evidence::table.find(id))
        .set(evidence::signature_verified.eq(Some(verified)))
        .execute(tx.conn())?;
    Ok(())
}
