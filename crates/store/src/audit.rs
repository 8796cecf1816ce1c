//! Write transactions and the audit chain.
//!
//! Every write goes through [`write`]: it opens a transaction, first locks the single
//! `audit_head` row and reads it in the same statement (a row lock on PostgreSQL, the database
//! write lock on SQLite, taken before any read so SQLite never has to upgrade a stale snapshot),
//! lets the caller work and append audit entries, then stores the entries (one multi-row insert)
//! and moves the head. Each entry's hash covers the previous entry's hash, so
//! changing, removing or reordering a row breaks the chain at that row; [`verify`] finds it.

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::{
    DbConn, StoreError, StoreResult,
    models::AuditRow,
    schema::{audit_head, audit_log},
};

/// Hash that precedes the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who is writing, for the audit entries of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// `user:<id>`, `client:<id>`, `system:<job>` or `cli:<command>`.
    pub actor: String,
    /// The request id (or a job run id).
    pub request_id: String,
}

/// An open write transaction.
#[derive(Debug)]
pub struct WriteTx<'c> {
    conn: &'c mut DbConn,
    ctx: AuditContext,
    seq: i64,
    hash: String,
    now: NaiveDateTime,
    /// Entries appended, stored together before the commit: a group commit of many requests
    /// writes their entries in one statement, not a round trip each.
    entries: Vec<AuditRow>,
}

/// The current time as stored: UTC, truncated to microseconds (what PostgreSQL keeps), so a
/// value reads back exactly as it was hashed.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

impl WriteTx<'_> {
    /// The connection, inside the transaction.
    pub fn conn(&mut self) -> &mut DbConn {
        self.conn
    }

    /// The transaction's timestamp, the same for every row it writes.
    pub fn now(&self) -> NaiveDateTime {
        self.now
    }

    /// Who is writing.
    pub fn actor(&self) -> &str {
        &self.ctx.actor
    }

    /// Who is writing, with the request.
    pub fn context(&self) -> &AuditContext {
        &self.ctx
    }

    /// Writes what follows on behalf of `ctx` (its audit entries, the actor of its steps) and
    /// returns whom it was written for. A transaction that commits the work of several requests
    /// (group commit) audits each under its own sender.
    pub fn act_for(&mut self, ctx: AuditContext) -> AuditContext {
        std::mem::replace(&mut self.ctx, ctx)
    }

    /// Appends an audit entry. `detail` is a short JSON document; it must never hold personal
    /// data in clear (ID or phone numbers).
    pub fn audit(
        &mut self,
        action: &str,
        entity_type: &str,
        entity_id: &str,
        detail: &serde_json::Value,
    ) -> StoreResult<()> {
        let mut row = AuditRow {
            seq: self.seq + 1,
            at: self.now,
            actor: self.ctx.actor.clone(),
            action: action.to_owned(),
            entity_type: entity_type.to_owned(),
            entity_id: entity_id.to_owned(),
            request_id: self.ctx.request_id.clone(),
            detail: detail.to_string(),
            prev_hash: self.hash.clone(),
            hash: String::new(),
        };
        row.hash = entry_hash(&row);
        self.seq = row.seq;
        self.hash.clone_from(&row.hash);
        self.entries.push(row);
        Ok(())
    }

    /// Stores the entries appended so far.
    fn store_entries(&mut self) -> StoreResult<()> {
        // 10 columns a row: 1,000 rows stay under both backends' limits on bound parameters.
        crate::insert_rows!(
            &mut *self.conn,
            audit_log::table,
            self.entries.as_slice(),
            1000
        )?;
        self.entries.clear();
        Ok(())
    }
}

/// SQLite takes one writer at a time. Writers of this process queue here rather than in
/// SQLite's busy handler, which polls with sleeps of up to 100 ms and lets a late writer overtake:
/// under load the wait is the writes ahead, not a sleep, and no writer starves into
/// `database is locked`. Writers in other processes still meet the busy timeout.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    /// Whether this thread holds [`SQLITE_WRITER`]. A write nested in a write is a bug (the
    /// inner one would reuse the outer's audit sequence and fail on its uniqueness); it must
    /// fail that way, not wait for itself forever.
    static HOLDS_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// This thread's turn to write to SQLite, until dropped.
struct WriterTurn(Option<std::sync::MutexGuard<'static, ()>>);

impl WriterTurn {
    fn take(conn: &DbConn) -> Self {
        if !matches!(conn, DbConn::Sqlite(_)) || HOLDS_WRITER.get() {
            return Self(None);
        }
        // A writer that panicked left nothing behind to protect: the transaction rolled back.
        let guard = SQLITE_WRITER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        HOLDS_WRITER.set(true);
        Self(Some(guard))
    }
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        if self.0.is_some() {
            HOLDS_WRITER.set(false);
        }
    }
}

/// A statement of fixed text and no parameters that diesel keeps in its statement cache, as it
/// keeps no UPDATE it builds and no `sql_query`: those are prepared again at every use, and on
/// PostgreSQL preparing is a round trip of its own.
macro_rules! fixed_statement {
    ($(#[$doc:meta])* $name:ident, $sql:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        struct $name;

        impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
            ) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl<C> RunQueryDsl<C> for $name {}
    };
}

fixed_statement!(
    /// Locks the audit head and reads it. With [`MoveHead`], it was built with `diesel::update`
    /// and prepared again in every write transaction (4% of the transfer writer's time on
    /// SQLite).
    LockHead,
    "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash"
);

impl diesel::query_builder::Query for LockHead {
    type SqlType = (diesel::sql_types::BigInt, diesel::sql_types::Text);
}

fixed_statement!(
    /// Makes a PostgreSQL read transaction a read-only snapshot; as a `sql_query`, it was
    /// prepared in every read transaction, a round trip more for each.
    ReadOnlySnapshot,
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
);

/// Moves the audit head to the last entry stored: `UPDATE audit_head SET seq = ?, hash = ?`, a
/// cached statement like [`LockHead`].
#[derive(Debug, Clone, diesel::query_builder::QueryId)]
struct MoveHead {
    seq: i64,
    hash: String,
}

impl<DB> diesel::query_builder::QueryFragment<DB> for MoveHead
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>
        + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE audit_head SET seq = ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.seq)?;
        out.push_sql(", hash = ");
        out.push_bind_param::<diesel::sql_types::Text, _>(&self.hash)?;
        out.push_sql(" WHERE id = 1");
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for MoveHead {}

/// Runs `work` in a write transaction; commits when it returns `Ok`, rolls back otherwise.
pub fn write<T, E>(
    conn: &mut DbConn,
    ctx: AuditContext,
    work: impl FnOnce(&mut WriteTx<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error> + From<StoreError>,
{
    let _turn = WriterTurn::take(conn);
    conn.transaction::<T, E, _>(|conn| {
        // Portable lock: an UPDATE takes PostgreSQL's row lock and SQLite's write lock alike,
        // and returns the head it locked.
        let (seq, hash) = LockHead.get_result::<(i64, String)>(conn)?;
        let mut tx = WriteTx {
            conn,
            ctx,
            seq,
            hash,
            now: now(),
            entries: Vec::new(),
        };
        let out = work(&mut tx)?;
        tx.store_entries()?;
        if tx.seq != seq {
            MoveHead {
                seq: tx.seq,
                hash: tx.hash.clone(),
            }
            .execute(tx.conn)?;
        }
        Ok(out)
    })
}

/// Runs `work` in a read-only transaction that sees one state of the database throughout:
/// `REPEATABLE READ` on PostgreSQL; on SQLite a deferred transaction, whose snapshot is taken at
/// its first read. It takes no write lock, so writers in other connections go on meanwhile.
pub fn read<T, E>(conn: &mut DbConn, work: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.transaction::<T, E, _>(|conn| {
        if let DbConn::Postgres(_) = conn {
            ReadOnlySnapshot.execute(conn)?;
        }
        work(conn)
    })
}

fn entry_hash(row: &AuditRow) -> String {
    let mut h = Sha256::new();
    for part in [
        row.prev_hash.as_str(),
        &row.seq.to_string(),
        &row.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        &row.actor,
        &row.action,
        &row.entity_type,
        &row.entity_id,
        &row.request_id,
        &row.detail,
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries checked.
    pub entries: i64,
    /// The first entry that does not link, and why; `None` when the chain is whole.
    pub first_broken: Option<(i64, String)>,
}

/// Walks the chain in sequence order, in pages, and names the first broken link.
pub fn verify(conn: &mut DbConn) -> StoreResult<VerifyReport> {
    const PAGE: i64 = 5_000;
    let mut expected_seq = 1;
    let mut prev = GENESIS_HASH.to_owned();
    loop {
        let rows: Vec<AuditRow> = audit_log::table
            .filter(audit_log::seq.ge(expected_seq))
            .order(audit_log::seq.asc())
            .limit(PAGE)
            .select(AuditRow::as_select())
            .load(conn)?;
        let page_len = rows.len() as i64;
        for row in rows {
            let broken = if row.seq != expected_seq {
                Some(format!("entry {expected_seq} is missing"))
            } else if row.prev_hash != prev {
                Some("does not point to the previous entry's hash".to_owned())
            } else if entry_hash(&row) != row.hash {
                Some("its content does not match its hash".to_owned())
            } else {
                None
            };
            if let Some(reason) = broken {
                return Ok(VerifyReport {
                    entries: expected_seq - 1,
                    first_broken: Some((expected_seq, reason)),
                });
            }
            prev = row.hash;
            expected_seq += 1;
        }
        if page_len < PAGE {
            break;
        }
    }
    let (head_seq, head_hash) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first::<(i64, String)>(conn)?;
    let first_broken = if head_seq != expected_seq - 1 {
        Some((
            expected_seq,
            format!(
                "the chain ends at entry {} but the head records {head_seq}: entries were removed",
                expected_seq - 1
            ),
        ))
    } else if head_hash != prev {
        Some((
            head_seq,
            "the head's hash does not match the last entry".to_owned(),
        ))
    } else {
        None
    };
    Ok(VerifyReport {
        entries: expected_seq - 1,
        first_broken,
    })
}
