//! One connection type over PostgreSQL and SQLite, chosen from the URL scheme.
//!
//! `MultiConnection::establish` would try each backend in turn, and SQLite accepts any path, so a
//! mistyped PostgreSQL URL would silently create an empty SQLite file. [`DatabaseUrl::parse`]
//! decides the backend from the scheme instead.

use std::{fmt, path::PathBuf};

use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

use crate::{StoreError, StoreResult};

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL.
    Postgres(PgConnection),
    /// SQLite (bundled; no system library).
    Sqlite(SqliteConnection),
}

impl fmt::Debug for DbConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres(_) => "DbConn::Postgres",
            Self::Sqlite(_) => "DbConn::Sqlite",
        })
    }
}

/// The backend behind a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// A database URL whose backend is known.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://…` or `postgresql://…`, kept whole for libpq.
    Postgres(String),
    /// `sqlite://path` or `sqlite:path`; the file path.
    Sqlite(PathBuf),
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postgres(url) => write!(f, "Postgres({})", redact(url)),
            Self::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl DatabaseUrl {
    /// Reads the backend from the scheme; anything else is refused with a message saying what is
    /// accepted.
    pub fn parse(url: &str) -> StoreResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                StoreError::Config(format!(
                    "DATABASE_URL {:?} has no known scheme: use postgres://user@host/db or sqlite://path/to/file.db",
                    redact(url)
                ))
            })?;
        if path.is_empty() {
            return Err(StoreError::Config(
                "DATABASE_URL sqlite:// needs a file path, e.g. sqlite://./data/loanwatch.db"
                    .into(),
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The backend the URL names.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Opens a connection of the right variant and prepares it: SQLite gets WAL, foreign keys,
    /// `synchronous = NORMAL`, a busy timeout, memory-mapped reads and a larger page cache.
    pub fn connect(&self) -> StoreResult<DbConn> {
        match self {
            Self::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Postgres)
                .map_err(|e| StoreError::Config(format!("cannot connect to PostgreSQL: {e}"))),
            Self::Sqlite(path) => {
                let path_text = path.to_str().ok_or_else(|| {
                    StoreError::Config(format!("SQLite path {} is not UTF-8", path.display()))
                })?;
                let mut conn = SqliteConnection::establish(path_text).map_err(|e| {
                    StoreError::Config(format!("cannot open SQLite file {}: {e}", path.display()))
                })?;
                diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut conn)?;
                diesel::sql_query("PRAGMA journal_mode = WAL").execute(&mut conn)?;
                diesel::sql_query("PRAGMA synchronous = NORMAL").execute(&mut conn)?;
                diesel::sql_query("PRAGMA foreign_keys = ON").execute(&mut conn)?;
                // The default page cache is 2 MiB: a million-loan database then reads the same
                // index pages through a system call each time. Map the file instead (read-only
                // pages shared through the OS cache, SQLite caps the size) and give each
                // connection a 64 MiB cache for the pages it writes. A server's pool maps
                // nothing outside its batches (`pool::build_server_pool`).
                set_mmap_size(&mut conn, MAPPED_BYTES)?;
                diesel::sql_query("PRAGMA cache_size = -65536").execute(&mut conn)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

impl DbConn {
    /// Which backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// What a connection maps of a SQLite file to read it (SQLite's ceiling, just under 2 GiB).
const MAPPED_BYTES: i64 = 2_147_418_112;

#[derive(diesel::QueryableByName)]
struct MmapSize {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    mmap_size: i64,
}

/// The bytes of the file a SQLite connection maps.
pub(crate) fn mmap_size(conn: &mut SqliteConnection) -> Result<i64, diesel::result::Error> {
    Ok(diesel::sql_query("PRAGMA mmap_size")
        .get_result::<MmapSize>(conn)?
        .mmap_size)
}

fn set_mmap_size(conn: &mut SqliteConnection, bytes: i64) -> Result<(), diesel::result::Error> {
    diesel::sql_query(format!("PRAGMA mmap_size = {bytes}")).execute(conn)?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Whether this SQLite library plans a statement once whatever values are bound to it: the
/// query planner stability guarantee, compiled in (`SQLITE_ENABLE_QPSG`) for every build from
/// this repository by `.cargo/config.toml`. Without it, once `ANALYZE` has stored
/// `sqlite_stat4` samples, SQLite plans a cached lookup again each time a new key is bound to it:
/// 9% of the transfer writer's time, and group commit's p99 at 2,000 posted transfers a second
/// was 191–419 ms against 39–47 ms with it.
pub fn plans_are_stable(conn: &mut SqliteConnection) -> Result<bool, diesel::result::Error> {
    Ok(diesel::sql_query(
        "SELECT COUNT(*) AS n FROM pragma_compile_options WHERE compile_options = 'ENABLE_QPSG'",
    )
    .get_result::<Count>(conn)?
    .n > 0)
}

/// Turns off the memory map of a SQLite connection (nothing on PostgreSQL), for connections
/// that serve many short transactions while others write. SQLite drops a connection's map
/// whenever it finds the database changed at the start of a read, so every request after a
/// write unmapped the file (a system call that stops the other core to flush its page tables)
/// and faulted each page in again. Reading the pages it needs through `pread` costs less.
pub fn unmap_file(conn: &mut DbConn) -> StoreResult<()> {
    if let DbConn::Sqlite(c) = conn {
        set_mmap_size(c, 0)?;
    }
    Ok(())
}

/// Runs `f` with the SQLite file memory-mapped for reading, then gives the connection back its
/// own setting; on PostgreSQL just runs `f`. For batches that read much of the database in one
/// snapshot on a connection that is otherwise unmapped ([`unmap_file`]).
pub fn with_file_mapped<T, E: From<StoreError>>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    let before = match conn {
        DbConn::Sqlite(c) => {
            let before = mmap_size(c).map_err(StoreError::from)?;
            set_mmap_size(c, MAPPED_BYTES).map_err(StoreError::from)?;
            Some(before)
        }
        DbConn::Postgres(_) => None,
    };
    let out = f(conn);
    if let (Some(bytes), DbConn::Sqlite(c)) = (before, conn) {
        let restored = set_mmap_size(c, bytes).map_err(StoreError::from);
        let out = out?;
        restored?;
        return Ok(out);
    }
    out
}

/// [`with_file_mapped`] for a batch's writing connection and its reader, if it has one.
pub fn with_files_mapped<T, E: From<StoreError>>(
    conn: &mut DbConn,
    reader: Option<&mut DbConn>,
    f: impl FnOnce(&mut DbConn, Option<&mut DbConn>) -> Result<T, E>,
) -> Result<T, E> {
    with_file_mapped(conn, |conn| match reader {
        Some(reader) => with_file_mapped(reader, |reader| f(conn, Some(reader))),
        None => f(conn, None),
    })
}

/// Runs `$body` with `$c` bound to the inner connection of either backend. For statements that
/// diesel's multi-backend cannot express (batch inserts); the SQL is the same on both.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::DbConn::Postgres($c) => $body,
            $crate::DbConn::Sqlite($c) => $body,
        }
    };
}

/// Inserts the rows of the slice `$rows` into `$table`; evaluates to the rows inserted, or the
/// first error. diesel prepares a multi-row insert afresh each time it runs (its text depends on
/// the number of rows), but keeps a single-row insert of a type that binds every column
/// (`treat_none_as_default_value = false`) prepared on the connection. So on SQLite, where
/// running a prepared statement costs no round trip, every row goes in through the one kept
/// statement; on PostgreSQL one row alone does (a statement prepared afresh is a round trip
/// more), and more go in as multi-row inserts of at most `$chunk` rows. The common case, a
/// posted transfer and its audit entry, is one row each.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr, $chunk:expr) => {
        match ($conn, $rows) {
            ($crate::DbConn::Sqlite(c), rows) => rows.iter().try_fold(0, |n, row| {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values(row), c)
                    .map(|m| n + m)
            }),
            ($crate::DbConn::Postgres(c), [row]) => {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values(row), c)
            }
            ($crate::DbConn::Postgres(c), rows) => rows.chunks($chunk).try_fold(0, |n, chunk| {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values(chunk), c)
                    .map(|m| n + m)
            }),
        }
    };
}

/// Plans the rest of the current transaction's queries as index lookups on PostgreSQL
/// (`SET LOCAL enable_seqscan = off`); nothing on SQLite. For batches that look rows up by key,
/// a page at a time, in tables they fill as they go (warnings, tasks, health). PostgreSQL keeps
/// the generic plan of a prepared statement until the table's statistics change: planned while
/// such a table was nearly empty, `key = ANY($1)` stays a sequential scan comparing every row
/// with every key, a cost that grows with the square of the batch. Autovacuum's next `ANALYZE`
/// replans it, but only if autovacuum runs, and not before its next round.
pub fn prefer_index_lookups(conn: &mut DbConn) -> Result<(), diesel::result::Error> {
    if let DbConn::Postgres(_) = conn {
        diesel::sql_query("SET LOCAL enable_seqscan = off").execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_comes_from_the_scheme() -> StoreResult<()> {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db")?.backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db")?.backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/x.db")?,
            DatabaseUrl::Sqlite(PathBuf::from("./data/x.db"))
        );
        Ok(())
    }

    #[test]
    fn a_mistyped_scheme_is_refused_instead_of_creating_a_file() {
        assert!(DatabaseUrl::parse("postgress://u@h/db").is_err());
        assert!(DatabaseUrl::parse("./data/x.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
