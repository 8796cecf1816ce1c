//! Loanwatch HTTP API: actix-web routes by feature, JWT authentication and data scope,
//! `application/problem+json` errors, the OpenAPI document generated from the routes, and the
//! commands of the `loanwatch` binary.
//!
//! The way of a request: a handler (`<feature>/routes.rs`) authenticates the [`auth::Actor`],
//! parses the body, and calls one use case (`<feature>/service.rs`) inside one audited
//! transaction; domain rules come from `loanwatch_domain`, SQL from `loanwatch_store`.

pub mod app;
pub mod auth;
pub mod bench;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod evidence_bench;
pub mod extract;
pub mod field;
pub mod flow_bench;
pub mod health;
pub mod health_bench;
pub mod ledger;
pub mod monitoring;
pub mod notices;
pub mod openapi;
pub mod people;
pub mod plan_bench;
pub mod position;
pub mod schedule;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod views;
pub mod write;

pub use app::Application;
pub use config::Config;
pub use error::ApiError;
pub use state::AppState;
