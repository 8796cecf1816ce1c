//! The r2d2 pool over [`DbConn`]. Connections are made by [`DatabaseUrl::connect`], never by
//! trying each backend.

use std::time::Duration;

use crate::{DatabaseUrl, DbConn, StoreError, StoreResult};

/// A pool of prepared connections.
pub type Pool = r2d2::Pool<Manager>;
/// A connection checked out of the pool.
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Makes and checks connections for r2d2.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConn, StoreError> {
        self.url.connect()
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
    drop(url.connect()?);
    r2d2::Pool::builder()
        .max_size(size.max(1))
        // Checking every connection on checkout costs a round trip per request; a broken
        // connection shows itself on its first query and is replaced then.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .build(Manager { url: url.clone() })
        .map_err(StoreError::Pool)
}

/// Whether the database answers (readiness probes, pool validation).
pub fn ping(conn: &mut DbConn) -> StoreResult<()> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}
