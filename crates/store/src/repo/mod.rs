//! Repositories: the only place SQL is written. Functions that return customer data take a
//! [`crate::ScopeFilter`]; writes take a [`crate::WriteTx`] so they are audited.

pub mod auth;
pub mod borrower;
pub mod calendar;
pub mod field;
pub mod health;
pub mod idempotency;
pub mod incident;
pub mod inspection;
pub mod loan;
pub mod monitoring;
pub mod notice;
pub mod notification;
pub mod party;
pub mod people;
pub mod product;
pub mod task;
pub mod work_log;
