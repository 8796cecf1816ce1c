//! Loanwatch wire types: the JSON bodies of requests and responses.
//!
//! Shared by the server and the mobile SDK so both agree on the format. Conventions: snake_case
//! fields; money as integer fen plus an ISO 4217 currency; timestamps RFC 3339 in UTC; business
//! dates as `YYYY-MM-DD`; lists as [`Page`]. Request bodies refuse unknown fields.
//! utoipa schemas are derived behind the `openapi` feature, which the phone build leaves off.

pub mod auth;
pub mod common;
pub mod field;
pub mod ledger;
pub mod monitoring;
pub mod notice;
pub mod notification;
pub mod people;
pub mod schedule;
pub mod task;

pub use common::{FieldError, Page, Problem};
