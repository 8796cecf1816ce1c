//! Signing in, token refresh, integrator tokens and the caller's own identity.

use loanwatch_domain::{OrgId, people::Role};
use serde::{Deserialize, Serialize};

/// Username and password of a person.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The login name.
    #[cfg_attr(feature = "openapi", schema(example = "bj.officer1"))]
    pub username: String,
    /// The password.
    pub password: String,
}

/// Tokens issued at login, refresh or client-credentials exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// Short-lived JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque, single-use refresh token (people only; integrators ask for a new token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// A refresh token to exchange or revoke.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Client credentials of an integrator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientTokenRequest {
    /// The client id given when the client was created.
    pub client_id: String,
    /// The client secret given once when the client was created.
    pub client_secret: String,
}

/// A new password for the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub current_password: String,
    /// The new password: at least 10 characters.
    pub new_password: String,
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// `user` or `api_client`.
    pub kind: String,
    /// Id of the user or API client.
    pub id: String,
    /// Login name, or the client's name.
    pub name: String,
    /// Display name of a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The role.
    pub role: Role,
    /// The organisation the caller belongs to.
    pub organisation_id: OrgId,
    /// Whether the caller may change customer data.
    pub can_write: bool,
}
