//! Errors of the domain, in the words a post-loan officer would use.

use thiserror::Error;

/// What is wrong with a value or a request, before anything is stored.
///
/// `field` names the input that is at fault in snake_case (the wire name), so the API can point
/// at it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A single input value is not acceptable.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl DomainError {
    /// An invalid-value error for `field`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The wire name of the field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Invalid { field, .. } => field,
        }
    }
}
