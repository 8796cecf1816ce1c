//! `ApiError`: every failure becomes an `application/problem+json` answer (RFC 9457) with a
//! stable `code`, field pointers where an input is at fault, and the request id.
//!
//! 4xx answers say what the caller can fix. A 5xx answer is our fault: the client sees a generic
//! text and the request id; the cause is logged with the same id, never sent.

use std::fmt;

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use loanwatch_api_types::{FieldError, Problem};
use loanwatch_domain::DomainError;
use loanwatch_store::StoreError;

tokio::task_local! {
    /// The id of the request being handled, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

/// The current request id, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

/// Stable, machine-readable problem codes. Never renamed: integrators match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The body is not JSON, or does not match the schema (types, unknown fields).
    InvalidBody,
    /// A query or path parameter is malformed.
    InvalidParameter,
    /// The request is well-formed but breaks a business rule.
    ValidationFailed,
    /// The body exceeds the size limit.
    PayloadTooLarge,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// No valid credentials.
    Unauthorized,
    /// Wrong username or password (or client credentials).
    InvalidCredentials,
    /// The refresh token is unknown, expired or revoked.
    InvalidRefreshToken,
    /// A spent refresh token was presented again; its family is revoked.
    RefreshTokenReused,
    /// The caller's role may not do this.
    Forbidden,
    /// No such resource in the caller's scope.
    NotFound,
    /// The resource exists already, or the change conflicts with its state.
    Conflict,
    /// The same `Idempotency-Key` came with a different body.
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` is still running.
    IdempotencyInFlight,
    /// Too many failed sign-ins; wait.
    TooManyAttempts,
    /// No route for this path.
    RouteNotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The database is unavailable or saturated.
    ServiceUnavailable,
    /// Our bug.
    Internal,
}

impl ErrorCode {
    /// The wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidBody => "invalid_body",
            Self::InvalidParameter => "invalid_parameter",
            Self::ValidationFailed => "validation_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyInFlight => "idempotency_in_flight",
            Self::TooManyAttempts => "too_many_attempts",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Internal => "internal_error",
        }
    }

    /// The HTTP status of the code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidBody | Self::InvalidParameter => StatusCode::BAD_REQUEST,
            Self::ValidationFailed | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized
            | Self::InvalidCredentials
            | Self::InvalidRefreshToken
            | Self::RefreshTokenReused => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::Conflict | Self::IdempotencyInFlight => StatusCode::CONFLICT,
            Self::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::InvalidBody => "The request body is not valid",
            Self::InvalidParameter => "A request parameter is not valid",
            Self::ValidationFailed => "The request breaks a rule",
            Self::PayloadTooLarge => "The request body is too large",
            Self::UnsupportedMediaType => "The request body must be application/json",
            Self::Unauthorized => "Authentication is required",
            Self::InvalidCredentials => "The credentials are not valid",
            Self::InvalidRefreshToken => "The refresh token is not valid",
            Self::RefreshTokenReused => "The refresh token was already used",
            Self::Forbidden => "Not allowed for this role",
            Self::NotFound => "Not found",
            Self::Conflict => "Conflict",
            Self::IdempotencyKeyReused => "The idempotency key was used with another request",
            Self::IdempotencyInFlight => "A request with this idempotency key is in progress",
            Self::TooManyAttempts => "Too many failed attempts",
            Self::RouteNotFound => "No such route",
            Self::MethodNotAllowed => "Method not allowed",
            Self::ServiceUnavailable => "Service unavailable",
            Self::Internal => "Internal error",
        }
    }
}

/// An error answer in the making.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_secs: Option<u64>,
    source: Option<anyhow::Error>,
}

impl ApiError {
    /// An error of `code` with a human-readable `detail`.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
            source: None,
        }
    }

    /// A field at fault: `pointer` is a JSON Pointer such as `/principal_fen`.
    pub fn field(code: ErrorCode, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let pointer = pointer.into();
        Self {
            detail: format!("{pointer}: {message}"),
            errors: vec![FieldError { pointer, message }],
            ..Self::new(code, "")
        }
    }

    /// Several inputs at fault (a batch's rows), answered together.
    pub fn fields(code: ErrorCode, detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(code, detail)
        }
    }

    /// 422 for a body field breaking a rule.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::field(ErrorCode::ValidationFailed, format!("/{field}"), message)
    }

    /// 404 for a resource outside the caller's scope or absent.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no such {what}"))
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, detail)
    }

    /// 409.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }

    /// 500 with a cause that is logged, not sent.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(
                ErrorCode::Internal,
                "an internal error occurred; quote the request id to support",
            )
        }
    }

    /// Sets a `Retry-After` header.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The problem document this error renders to.
    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:loanwatch:problem:{}", self.code.as_str()),
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code.as_str().to_owned(),
            request_id: current_request_id(),
            errors: self.errors.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.code.status().is_server_error() {
            match &self.source {
                Some(source) => {
                    tracing::error!(code = self.code.as_str(), error = ?source, "request failed")
                }
                None => {
                    tracing::error!(code = self.code.as_str(), detail = %self.detail, "request failed")
                }
            }
        }
        let mut res = HttpResponse::build(self.code.status());
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Some(secs) = self.retry_after_secs {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.code.status() == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        match serde_json::to_string(&self.problem()) {
            Ok(body) => res.body(body),
            Err(_) => res.finish(),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Invalid { field, reason } => Self::invalid(field, reason),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::new(ErrorCode::NotFound, "no such resource"),
            StoreError::Conflict { constraint } => Self::conflict(conflict_detail(&constraint)),
            StoreError::MissingReference { constraint } => Self::new(
                ErrorCode::ValidationFailed,
                format!("a referenced record does not exist ({constraint})"),
            ),
            StoreError::BadCursor => Self::field(
                ErrorCode::InvalidParameter,
                "#/query/cursor",
                "not a cursor of this list and order",
            ),
            StoreError::Pool(e) => Self {
                source: Some(e.into()),
                ..Self::new(
                    ErrorCode::ServiceUnavailable,
                    "the database is not available; retry later",
                )
            }
            .retry_after(1),
            StoreError::Busy(e) => Self {
                source: Some(anyhow::anyhow!("{e}")),
                ..Self::new(
                    ErrorCode::ServiceUnavailable,
                    "the database is busy with other writes; nothing was written, retry shortly",
                )
            }
            .retry_after(1),
            StoreError::ObjectStorage(e) => Self {
                source: Some(anyhow::anyhow!("{e}")),
                ..Self::new(
                    ErrorCode::ServiceUnavailable,
                    "the object storage is not available; retry later",
                )
            }
            .retry_after(5),
            other => Self::internal(other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        StoreError::from(err).into()
    }
}

/// Says which unique rule was broken, in the caller's terms.
fn conflict_detail(constraint: &str) -> String {
    let what = [
        (
            "contract_no",
            "a loan with this contract number exists already",
        ),
        (
            "credit_code",
            "a borrower with this credit code exists already",
        ),
        ("id_number", "a borrower with this ID number exists already"),
        ("username", "this username is taken"),
        ("code", "an organisation with this code exists already"),
        (
            "loan_guarantors",
            "this guarantor is already linked to the loan",
        ),
        (
            "loan_collateral",
            "this collateral is already linked to the loan",
        ),
    ]
    .iter()
    .find(|(needle, _)| constraint.contains(needle))
    .map(|(_, text)| *text);
    what.unwrap_or("the record conflicts with an existing one")
        .to_owned()
}
