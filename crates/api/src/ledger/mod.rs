//! The ledger: borrowers, groups, guarantors, collateral, loans and loan events. Every read and
//! write goes through the caller's scope; an out-of-scope record answers 404, as if absent.

pub mod routes;
pub mod service;
