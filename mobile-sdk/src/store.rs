//! The device's own database: the session, the offline agenda and the outbox.
//!
//! SQLite in WAL mode with `synchronous=FULL`: a call that queued something has it on disk when
//! it returns, so a kill or a power cut loses nothing. Every change to local state and the
//! outbox entry that carries it to the server are written in one transaction.

use std::{
    path::Path,
    sync::{Mutex, MutexGuard},
};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::SdkError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS borrowers (id TEXT PRIMARY KEY, name TEXT NOT NULL, sites TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS loans (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS templates (code TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (code, version));
CREATE TABLE IF NOT EXISTS inspections (
    task_id TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    answers TEXT NOT NULL,
    evidence TEXT NOT NULL,
    checked_in INTEGER NOT NULL,
    signed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    op TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    detail TEXT
);
";

/// The device database.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

/// One queued entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Order of queueing.
    pub seq: i64,
    /// Task it belongs to.
    pub task_id: String,
    /// The operation, JSON.
    pub op: String,
    /// Steps already acknowledged (multi-step operations such as evidence).
    pub step: i64,
    /// `pending`, `conflict` or `rejected`.
    pub state: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Not before (device clock, ms).
    pub next_attempt_ms: i64,
    /// Why it is not pending.
    pub detail: Option<String>,
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, SdkError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The connection (one caller at a time).
    pub fn lock(&self) -> Result<MutexGuard<'_, Connection>, SdkError> {
        self.conn
            .lock()
            .map_err(|_| SdkError::storage("an earlier call panicked while writing"))
    }

    /// Runs `f` in one transaction.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, SdkError>,
    ) -> Result<T, SdkError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// A stored value.
    pub fn get(&self, key: &str) -> Result<Option<String>, SdkError> {
        Ok(self
            .lock()?
            .query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
}

/// Sets or clears a value.
pub fn put(tx: &Connection, key: &str, value: Option<&str>) -> Result<(), SdkError> {
    match value {
        Some(v) => tx.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, v],
        )?,
        None => tx.execute("DELETE FROM kv WHERE key = ?1", [key])?,
    };
    Ok(())
}

/// Queues an operation.
pub fn enqueue(tx: &Connection, task_id: &str, op: &str) -> Result<i64, SdkError> {
    tx.execute(
        "INSERT INTO outbox (task_id, op) VALUES (?1, ?2)",
        params![task_id, op],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Every queued entry, oldest first.
pub fn entries(conn: &Connection) -> Result<Vec<Entry>, SdkError> {
    let mut stmt = conn.prepare(
        "SELECT seq, task_id, op, step, state, attempts, next_attempt_ms, detail
         FROM outbox ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Entry {
            seq: r.get(0)?,
            task_id: r.get(1)?,
            op: r.get(2)?,
            step: r.get(3)?,
            state: r.get(4)?,
            attempts: r.get(5)?,
            next_attempt_ms: r.get(6)?,
            detail: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes an acknowledged entry.
pub fn remove(conn: &Connection, seq: i64) -> Result<(), SdkError> {
    conn.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
    Ok(())
}

/// Records an acknowledged step of a multi-step entry.
pub fn set_step(conn: &Connection, seq: i64, step: i64) -> Result<(), SdkError> {
    conn.execute(
        "UPDATE outbox SET step = ?2, attempts = 0, detail = NULL WHERE seq = ?1",
        params![seq, step],
    )?;
    Ok(())
}

/// Records a failed attempt: retry later, or park the entry as a conflict or a rejection the
/// app shows.
pub fn fail(
    conn: &Connection,
    seq: i64,
    state: &str,
    detail: &str,
    next_attempt_ms: i64,
) -> Result<(), SdkError> {
    conn.execute(
        "UPDATE outbox SET state = ?2, detail = ?3, attempts = attempts + 1, next_attempt_ms = ?4
         WHERE seq = ?1",
        params![seq, state, detail, next_attempt_ms],
    )?;
    Ok(())
}

/// Puts a parked entry back in the queue.
pub fn retry(conn: &Connection, seq: i64) -> Result<bool, SdkError> {
    Ok(conn.execute(
        "UPDATE outbox SET state = 'pending', next_attempt_ms = 0 WHERE seq = ?1",
        [seq],
    )? > 0)
}
