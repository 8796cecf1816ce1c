//! Authentication: passwords (argon2id), access tokens (HS256 JWT, pinned), opaque refresh
//! tokens with single-use rotation and reuse detection, client credentials for integrators, and
//! the [`Actor`] every handler receives.

pub mod actor;
pub mod jwt;
pub mod password;
pub mod routes;
pub mod service;

pub use actor::Actor;
