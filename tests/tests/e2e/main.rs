//! End-to-end scenarios: one test binary, each scenario run on SQLite and on PostgreSQL.

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]
#![allow(
    clippy::inconsistent_digit_grouping,
    reason = "amounts are written yuan_fen, e.g. 3_000_000_00 is three million yuan"
)]

mod auth;
mod bad_input;
mod bindings;
mod calendar;
mod evidence;
mod field;
mod health;
mod idempotency;
mod incidents;
mod inspections;
mod ledger;
mod monitoring;
mod notices;
mod platform;
mod positions;
mod products;
mod schedules;
mod scope;
mod sdk;
mod tasks;
mod work_logs;
