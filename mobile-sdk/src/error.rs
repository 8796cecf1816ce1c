//! The few errors an app acts on, each with a detail a person can read. (The field is not
//! called `message`: Kotlin exceptions have a `message` of their own, which the generated
//! `SdkException` derives from the `Display` text below.)

use loanwatch_api_types::Problem;

/// What went wrong, in the terms the app acts on.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum SdkError {
    /// The server could not be reached or answered with a fault of its own; try again later.
    /// Nothing queued is lost.
    #[error("no connection to the server: {detail}")]
    Network {
        /// What happened.
        detail: String,
    },
    /// Not signed in, or the session ended: sign in again.
    #[error("sign in again: {detail}")]
    Auth {
        /// What happened.
        detail: String,
    },
    /// An input is wrong; `field` names it (a JSON pointer, or an item key).
    #[error("{field}: {detail}")]
    Validation {
        /// The input at fault.
        field: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The server holds something else under this id, or the task moved on (for example a
    /// supervisor returned it).
    #[error("conflict: {detail}")]
    Conflict {
        /// What happened.
        detail: String,
    },
    /// The device's storage failed (full disk, unreadable file).
    #[error("device storage: {detail}")]
    Storage {
        /// What happened.
        detail: String,
    },
}

impl SdkError {
    pub(crate) fn network(e: impl std::fmt::Display) -> Self {
        Self::Network {
            detail: e.to_string(),
        }
    }

    pub(crate) fn storage(e: impl std::fmt::Display) -> Self {
        Self::Storage {
            detail: e.to_string(),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict {
            detail: detail.into(),
        }
    }

    /// The error an HTTP answer means: the problem's detail and first field for a 4xx, a network
    /// error for a 5xx (the server's fault; retrying is right).
    pub(crate) fn from_answer(status: u16, body: &str) -> Self {
        let problem: Option<Problem> = serde_json::from_str(body).ok();
        let detail = problem
            .as_ref()
            .map(|p| p.detail.clone())
            .unwrap_or_else(|| format!("HTTP {status}"));
        match status {
            401 => Self::Auth { detail },
            // For the officer's work, 403 and 404 mean the task moved on: handed over to someone
            // else, or out of reach. The app shows it like any other conflict.
            403 | 404 | 409 => Self::Conflict { detail },
            400..=499 => {
                let (field, detail) = problem
                    .and_then(|p| p.errors.into_iter().next())
                    .map(|e| (e.pointer, e.message))
                    .unwrap_or_else(|| (String::new(), detail));
                Self::Validation { field, detail }
            }
            _ => Self::Network {
                detail: format!("the server answered {status}: {detail}"),
            },
        }
    }

    /// Whether sending again later may succeed (the outbox keeps the entry and backs off).
    pub(crate) fn retryable(&self) -> bool {
        matches!(self, Self::Network { .. } | Self::Auth { .. })
    }
}

impl From<rusqlite::Error> for SdkError {
    fn from(e: rusqlite::Error) -> Self {
        Self::storage(e)
    }
}

impl From<std::io::Error> for SdkError {
    fn from(e: std::io::Error) -> Self {
        Self::storage(e)
    }
}

impl From<serde_json::Error> for SdkError {
    fn from(e: serde_json::Error) -> Self {
        Self::storage(format!("unreadable stored record: {e}"))
    }
}
