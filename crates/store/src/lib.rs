//! Loanwatch persistence.
//!
//! One diesel schema over PostgreSQL and SQLite ([`DbConn`]), an r2d2 pool, embedded migrations
//! per backend, and repositories ([`repo`]) that are the only place SQL is written. Rules:
//! every repository function that returns customer data takes a [`ScopeFilter`]; every write
//! runs in [`audit::write`] and appends to the audit chain; diesel is synchronous, so callers on
//! an async executor run these functions on a blocking thread.

pub mod audit;
pub mod conn;
pub mod error;
pub mod keys;
pub mod migrate;
pub mod models;
pub mod object;
pub mod page;
pub mod pipeline;
pub mod pool;
pub mod repo;
pub mod schema;
pub mod scope;
pub mod testing;

pub use audit::{AuditContext, WriteTx, read, write};
pub use conn::{
    Backend, DatabaseUrl, DbConn, prefer_index_lookups, unmap_file, with_file_mapped,
    with_files_mapped,
};
pub use error::{StoreError, StoreResult};
pub use page::{PageOf, PageRequest};
pub use pipeline::pipeline;
pub use pool::{Pool, PooledConn, build_pool, build_server_pool};
pub use scope::ScopeFilter;
