//! The r2d2 pool over [`DbConn`]. Connections are made by [`DatabaseUrl::connect`], never by
//! trying each backend.

use std::{
    sync::mpsc::{self, RecvTimeoutError, SyncSender},
    time::Duration,
};

use diesel::RunQueryDsl;

use crate::{DatabaseUrl, DbConn, StoreError, StoreResult};

/// A pool of prepared connections.
pub type Pool = r2d2::Pool<Manager>;
/// A connection checked out of the pool.
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Makes and checks connections for r2d2.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    /// Set for a server's SQLite pool: its connections leave checkpoints to the background
    /// thread, which stops when this (and with it the pool) is dropped.
    checkpointer: Option<SyncSender<()>>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConn, StoreError> {
        let mut conn = self.url.connect()?;
        if self.checkpointer.is_some() {
            diesel::sql_query("PRAGMA wal_autocheckpoint = 0").execute(&mut conn)?;
            crate::unmap_file(&mut conn)?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        ping(conn)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        // Cheap and local: a connection left inside a broken transaction is not reused.
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// Builds a pool of `size` connections. SQLite gets few: it has one writer anyway.
pub fn build_pool(url: &DatabaseUrl, size: u32) -> StoreResult<Pool> {
    pool_of(url, size, None)
}

/// How often a server's SQLite write-ahead log is copied back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Builds the pool of a long-running server. On SQLite, the commit that takes the write-ahead
/// log past its threshold (1,000 pages) copies the log back into the database before it returns:
/// one request now and then pays for everyone's writes, and meanwhile holds the write lock. In
/// this pool commits only append, and a background thread checkpoints every 200 ms, passively
/// (it never waits for, or blocks, readers or writers), until the pool is dropped; once the log
/// reaches 4 GiB, it also restarts it, holding writers back briefly (see
/// `background_checkpoint`). Its connections map nothing of the file ([`crate::unmap_file`]);
/// the nightly batches map it for their run ([`crate::with_file_mapped`]). PostgreSQL needs none
/// of this.
pub fn build_server_pool(url: &DatabaseUrl, size: u32) -> StoreResult<Pool> {
    server_pool(url, size, RESTART_AT_FRAMES)
}

/// Frames of write-ahead log (4 KiB pages) past which the background checkpoint restarts it:
/// 4 GiB, about 40 seconds of 2,000 single posted transfers a second. The limit bounds the disk
/// the log takes under a load that never pauses; it is high because a restart holds the writers
/// back for one synchronisation of the files, 3–100 ms on the development machine, and with a
/// 1 GiB limit the posted transfers' p99 rose from about 5 ms to 6.6 and 48.8 ms.
const RESTART_AT_FRAMES: i32 = 1_048_576;

fn server_pool(url: &DatabaseUrl, size: u32, restart_at: i32) -> StoreResult<Pool> {
    let DatabaseUrl::Sqlite(_) = url else {
        return build_pool(url, size);
    };
    let (stop, stopped) = mpsc::sync_channel::<()>(0);
    let pool = pool_of(url, size, Some(stop))?;
    let mut conn = url.connect()?;
    std::thread::Builder::new()
        .name("loanwatch-checkpoint".into())
        .spawn(move || {
            // Nothing is ever sent: the channel closes when the pool's manager is dropped.
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                if let Err(e) = background_checkpoint(&mut conn, restart_at, RESTART_PATIENCE) {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
                }
            }
        })
        .map_err(|e| StoreError::Config(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(pool)
}

fn pool_of(
    url: &DatabaseUrl,
    size: u32,
    checkpointer: Option<SyncSender<()>>,
) -> StoreResult<Pool> {
    if let DatabaseUrl::Sqlite(path) = url
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Config(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    // Fail fast with the real reason rather than r2d2's generic timeout.
    if let DbConn::Sqlite(conn) = &mut url.connect()?
        && !crate::conn::plans_are_stable(conn)?
    {
        tracing::warn!(
            "this SQLite library was built without SQLITE_ENABLE_QPSG (build from the \
             repository's root, where .cargo/config.toml sets it): once ANALYZE has run, every \
             keyed lookup is planned again each time it is used"
        );
    }
    r2d2::Pool::builder()
        .max_size(size.max(1))
        // Checking every connection on checkout costs a round trip per request; a broken
        // connection shows itself on its first query and is replaced then.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .build(Manager {
            url: url.clone(),
            checkpointer,
        })
        .map_err(StoreError::Pool)
}

/// What a checkpoint of a SQLite write-ahead log did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::QueryableByName)]
struct Checkpoint {
    /// Whether it could not finish: a reader or writer it waits for (`RESTART`), or another
    /// checkpoint, was in the way.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
    /// Frames in the log.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
    /// Frames of it copied back into the database.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    checkpointed: i32,
}

/// How a checkpoint treats the connections it meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckpointMode {
    /// Copies as much of the log as no reader still needs, waiting for nobody.
    Passive,
    /// Waits for the writer and blocks the next one while it copies all of the log, then waits
    /// for the readers to leave it, so that the next write starts the log over.
    Restart,
}

/// Checkpoints a SQLite write-ahead log; `None` on PostgreSQL.
fn checkpoint(conn: &mut DbConn, mode: CheckpointMode) -> StoreResult<Option<Checkpoint>> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(None);
    };
    let sql = match mode {
        CheckpointMode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        CheckpointMode::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    Ok(Some(diesel::sql_query(sql).get_result(c)?))
}

/// The background checkpoint of a server's pool: passive, unless the log has reached
/// `restart_at` frames.
///
/// SQLite starts the log over only at a write that finds all of it copied back, and a passive
/// checkpoint beside a busy writer never leaves it so: the writer has always appended since. Under
/// a steady load (2,000 posted transfers a second append about 100 MB a second) the log then grows
/// for as long as the load lasts, and each append extends the file, which the file system zeroes
/// first. Past `restart_at`, it restarts the log, which holds the writers back while it copies
/// what is left. So it first catches up passively: each pass copies what the writers appended
/// during the one before, which at a copy rate several times the append rate leaves the restart
/// a few milliseconds of writes to copy. The restart also waits, writers held back, for the
/// readers still in the log to finish; it waits at most `patience` for them (and for the writer
/// it must follow), then gives up until the next round, so a long read never stops the writers.
fn background_checkpoint(
    conn: &mut DbConn,
    restart_at: i32,
    patience: Duration,
) -> StoreResult<Option<Checkpoint>> {
    let first = checkpoint(conn, CheckpointMode::Passive)?;
    if first.is_none_or(|c| c.log < restart_at) {
        return Ok(first);
    }
    for _ in 0..CATCH_UP_PASSES {
        checkpoint(conn, CheckpointMode::Passive)?;
    }
    diesel::sql_query(format!("PRAGMA busy_timeout = {}", patience.as_millis())).execute(conn)?;
    checkpoint(conn, CheckpointMode::Restart)
}

/// How long a restart of the log may hold the writers back waiting for others.
const RESTART_PATIENCE: Duration = Duration::from_millis(100);

/// Passive passes before a restart.
const CATCH_UP_PASSES: usize = 3;

/// Whether the database answers (readiness probes, pool validation).
pub fn ping(conn: &mut DbConn) -> StoreResult<()> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn main_file_len(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or_default()
    }

    #[derive(diesel::QueryableByName)]
    struct AutoCheckpoint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        wal_autocheckpoint: i64,
    }

    #[test]
    fn sqlite_keeps_a_statements_plan_whatever_is_bound_to_it() -> StoreResult<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Config(e.to_string()))?;
        let DbConn::Sqlite(mut conn) = DatabaseUrl::Sqlite(dir.path().join("lw.db")).connect()?
        else {
            return Err(StoreError::Config("not SQLite".into()));
        };
        assert!(
            crate::conn::plans_are_stable(&mut conn)?,
            "SQLite was built without SQLITE_ENABLE_QPSG: .cargo/config.toml did not apply"
        );
        Ok(())
    }

    #[test]
    fn a_server_pool_commits_to_the_log_and_checkpoints_in_the_background() -> StoreResult<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Config(e.to_string()))?;
        let path = dir.path().join("lw.db");
        let url = DatabaseUrl::Sqlite(path.clone());
        let pool = build_server_pool(&url, 2)?;
        let mut conn = pool.get()?;
        // No commit of the pool's copies the log back: that is the background thread's work.
        let pages: AutoCheckpoint =
            diesel::sql_query("PRAGMA wal_autocheckpoint").get_result(&mut *conn)?;
        assert_eq!(pages.wal_autocheckpoint, 0);
        diesel::sql_query("CREATE TABLE filler (b BLOB NOT NULL)").execute(&mut *conn)?;
        let before = main_file_len(&path);
        // 4 MiB: four times the threshold at which a commit would checkpoint by itself.
        for _ in 0..64 {
            diesel::sql_query("INSERT INTO filler (b) VALUES (zeroblob(65536))")
                .execute(&mut *conn)?;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while main_file_len(&path) < before + (4 << 20) {
            assert!(
                std::time::Instant::now() < deadline,
                "the background checkpoint did not copy the log back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn fill(conn: &mut DbConn, rows: usize) -> StoreResult<()> {
        for _ in 0..rows {
            diesel::sql_query("INSERT INTO filler (b) VALUES (zeroblob(4096))").execute(conn)?;
        }
        Ok(())
    }

    /// Frames in the log after a write that follows the background checkpoint, when a reader held
    /// back the first part of that checkpoint and the writer appended meanwhile.
    fn log_after_a_held_back_checkpoint(restart_at: i32) -> StoreResult<i32> {
        let (done, log) = held_back_checkpoint(
            restart_at,
            Duration::from_millis(300),
            Duration::from_secs(10),
        )?;
        assert!(done.is_some_and(|c| c.busy == 0), "{done:?}");
        Ok(log)
    }

    /// The background checkpoint while a reader holds its snapshot of the first half of the log
    /// for `hold`, and the frames in the log after the next write.
    fn held_back_checkpoint(
        restart_at: i32,
        hold: Duration,
        patience: Duration,
    ) -> StoreResult<(Option<Checkpoint>, i32)> {
        use diesel::Connection;
        let dir = tempfile::tempdir().map_err(|e| StoreError::Config(e.to_string()))?;
        let url = DatabaseUrl::Sqlite(dir.path().join("lw.db"));
        let mut writer = url.connect()?;
        diesel::sql_query("PRAGMA wal_autocheckpoint = 0").execute(&mut writer)?;
        diesel::sql_query("CREATE TABLE filler (b BLOB NOT NULL)").execute(&mut writer)?;
        fill(&mut writer, 32)?;
        // A reader holds its snapshot of the log so far for a while.
        let (holding, held) = mpsc::channel();
        let reader_url = url.clone();
        let reader = std::thread::spawn(move || -> StoreResult<()> {
            let mut conn = reader_url.connect()?;
            conn.transaction(|c| {
                diesel::sql_query("SELECT b FROM filler LIMIT 1").execute(c)?;
                let _ = holding.send(());
                std::thread::sleep(hold);
                Ok::<_, StoreError>(())
            })
        });
        held.recv()
            .map_err(|_| StoreError::Config("the reader did not start".into()))?;
        fill(&mut writer, 32)?;
        let done = background_checkpoint(&mut url.connect()?, restart_at, patience)?;
        reader
            .join()
            .map_err(|_| StoreError::Config("the reader panicked".into()))??;
        fill(&mut writer, 1)?;
        let after = checkpoint(&mut writer, CheckpointMode::Passive)?;
        Ok((done, after.map_or(-1, |c| c.log)))
    }

    #[test]
    fn a_log_past_its_limit_starts_over_though_a_busy_writer_never_left_it_copied()
    -> StoreResult<()> {
        // Under the limit: the passive checkpoint stops at the reader's snapshot, so the next
        // write finds the log not all copied back and appends to it.
        let grown = log_after_a_held_back_checkpoint(i32::MAX)?;
        assert!(grown > 64, "{grown} frames");
        // Past it: the checkpoint waits for the reader, copies the rest, and the next write
        // starts the log over.
        let restarted = log_after_a_held_back_checkpoint(48)?;
        assert!((1..8).contains(&restarted), "{restarted} frames");
        Ok(())
    }

    #[test]
    fn a_restart_gives_up_on_a_long_reader_rather_than_hold_the_writers_back() -> StoreResult<()> {
        // The reader reads for 2 s; the restart waits 50 ms for it, writers held back, then
        // leaves the log to grow until a later round finds no reader in the way.
        let (done, log) =
            held_back_checkpoint(48, Duration::from_secs(2), Duration::from_millis(50))?;
        assert!(done.is_some_and(|c| c.busy == 1), "{done:?}");
        assert!(log > 64, "{log} frames");
        Ok(())
    }

    fn mapped_bytes(conn: &mut DbConn) -> StoreResult<i64> {
        let DbConn::Sqlite(c) = conn else {
            return Err(StoreError::Config("not SQLite".into()));
        };
        Ok(crate::conn::mmap_size(c)?)
    }

    #[test]
    fn a_server_pool_maps_the_file_only_for_a_batch() -> StoreResult<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Config(e.to_string()))?;
        let url = DatabaseUrl::Sqlite(dir.path().join("lw.db"));
        // Connections of their own (the CLI's, the jobs') map the file.
        assert!(mapped_bytes(&mut url.connect()?)? > 0);
        let pool = build_server_pool(&url, 2)?;
        let (mut conn, mut reader) = (pool.get()?, pool.get()?);
        assert_eq!(mapped_bytes(&mut conn)?, 0);
        let inside = crate::with_files_mapped(&mut conn, Some(&mut reader), |c, r| {
            let r = r.ok_or_else(|| StoreError::Config("no reader".into()))?;
            Ok::<_, StoreError>((mapped_bytes(c)?, mapped_bytes(r)?))
        })?;
        assert!(inside.0 > 0 && inside.1 > 0, "{inside:?}");
        assert_eq!(
            (mapped_bytes(&mut conn)?, mapped_bytes(&mut reader)?),
            (0, 0)
        );
        // A batch that fails gives the setting back too.
        let failed = crate::with_file_mapped(&mut conn, |_| {
            Err::<(), _>(StoreError::Config("the batch failed".into()))
        });
        assert!(failed.is_err());
        assert_eq!(mapped_bytes(&mut conn)?, 0);
        Ok(())
    }
}
