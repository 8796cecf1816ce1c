//! Shared state of the running application, passed explicitly (no globals), so tests can run
//! many applications with different configurations in one process.

use std::sync::Arc;

use actix_web::web;
use chrono::NaiveDate;
use loanwatch_store::{DbConn, Pool};

use crate::{ApiError, Config, auth::jwt::JwtKeys};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub pool: Pool,
    /// The configuration.
    pub config: Arc<Config>,
    /// Token keys.
    pub keys: Arc<JwtKeys>,
    /// The OpenAPI document as served, byte for byte.
    pub spec_json: Arc<String>,
    /// Where evidence objects live.
    pub objects: Arc<loanwatch_store::object::ObjectStore>,
    /// The queue of posted transfers to their writer (group commit).
    pub transfers: crate::monitoring::ingest::TransferWriter,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("bind", &self.config.bind)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Runs blocking database work on the blocking pool, never on the async executor.
    pub async fn db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        web::block(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(loanwatch_store::StoreError::from)?;
            work(&mut conn)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Today's business date in the institution's time zone.
    pub fn today(&self) -> NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.config.time_zone)
            .date_naive()
    }
}
