//! Loanwatch domain: the rules of post-loan management, free of I/O.
//!
//! Nothing here knows about HTTP, SQL or files, so the server and the phone SDK apply the same
//! rules. Types parse their input (`parse`, `TryFrom`) and refuse what is invalid with an error
//! that says what is wrong in the terms a loan officer uses.

#[macro_use]
mod text_enum;
pub mod calendar;
pub mod error;
pub mod field;
pub mod identity;
pub mod ids;
pub mod ledger;
pub mod masking;
pub mod money;
pub mod monitoring;
pub mod notice;
pub mod people;
pub mod position;
pub mod schedule;
pub mod supervision;

pub use error::DomainError;
pub use ids::*;
pub use money::{AnnualRate, Currency, Money};
