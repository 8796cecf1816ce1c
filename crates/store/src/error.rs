//! Store errors. Unique violations become [`StoreError::Conflict`] here, once.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use thiserror::Error;

/// What went wrong in persistence.
#[derive(Debug, Error)]
pub enum StoreError {
    /// No row, or none the caller may see.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; `constraint` names it when the database says.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// A foreign key pointed nowhere.
    #[error("reference to a missing {constraint}")]
    MissingReference { constraint: String },
    /// A page cursor that this store did not issue for this ordering.
    #[error("the cursor is not valid for this list and order")]
    BadCursor,
    /// Stored data that should be valid is not (a bug or tampering).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error(transparent)]
    Db(DieselError),
    /// The pool could not hand out a connection in time.
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migration(String),
    /// Configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The object storage failed or could not be reached.
    #[error("object storage: {0}")]
    ObjectStorage(String),
    /// The database could not take the write in time (SQLite's lock held too long by another
    /// process, a PostgreSQL serialization failure): nothing was written, retrying is safe.
    #[error("database busy: {0}")]
    Busy(String),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Conflict {
                    constraint: info
                        .constraint_name()
                        .map(str::to_owned)
                        .unwrap_or_else(|| info.message().to_owned()),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                Self::MissingReference {
                    constraint: info
                        .constraint_name()
                        .map(str::to_owned)
                        .unwrap_or_else(|| info.message().to_owned()),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                Self::Busy(info.message().to_owned())
            }
            DieselError::DatabaseError(_, info)
                if info.message().starts_with("database is locked")
                    || info.message().starts_with("database table is locked") =>
            {
                Self::Busy(info.message().to_owned())
            }
            other => Self::Db(other),
        }
    }
}
