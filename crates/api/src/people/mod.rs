//! Organisations, users and integrator API clients: administered by `admin`, who in turn reads
//! no customer data.

pub mod routes;
pub mod service;
