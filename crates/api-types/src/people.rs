//! Organisations, users and integrator API clients.

use chrono::{DateTime, Utc};
use loanwatch_domain::{
    ApiClientId, OrgId, UserId,
    people::{OrgKind, Role},
};
use serde::{Deserialize, Serialize};

/// A new organisation under an existing one (or the head office, without a parent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateOrganisation {
    /// Name, e.g. `北京分行`.
    pub name: String,
    /// Institution code, unique, e.g. `BJ01`.
    pub code: String,
    /// Level in the tree.
    pub kind: OrgKind,
    /// Parent organisation; absent only for the head office.
    #[serde(default)]
    pub parent_id: Option<OrgId>,
}

/// An organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Organisation {
    /// Id.
    pub id: OrgId,
    /// Name.
    pub name: String,
    /// Institution code.
    pub code: String,
    /// Level in the tree.
    pub kind: OrgKind,
    /// Parent, absent for the head office.
    pub parent_id: Option<OrgId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A new person who signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name: 3–64 characters of letters, digits, `.`, `_`, `-`.
    pub username: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Initial password: at least 10 characters.
    pub password: String,
    /// Role.
    pub role: Role,
    /// Organisation the person works in.
    pub organisation_id: OrgId,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New role.
    #[serde(default)]
    pub role: Option<Role>,
    /// New organisation.
    #[serde(default)]
    pub organisation_id: Option<OrgId>,
    /// `false` disables sign-in and revokes the user's refresh tokens.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A person who signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Organisation.
    pub organisation_id: OrgId,
    /// Whether the user may sign in.
    pub active: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// What an integrator may do in its organisation subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClientAccess {
    /// Read customer data.
    Read,
    /// Read and write customer data.
    ReadWrite,
}

/// A new integrator API client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiClient {
    /// What the client is, e.g. `core-banking`.
    pub name: String,
    /// The organisation subtree the client may see.
    pub organisation_id: OrgId,
    /// Read only, or read and write.
    pub access: ClientAccess,
}

/// An integrator API client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiClient {
    /// Id.
    pub id: ApiClientId,
    /// The public client id used to obtain tokens.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Organisation subtree it may see.
    pub organisation_id: OrgId,
    /// Access level.
    pub access: ClientAccess,
    /// Whether it may obtain tokens.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The secret, present only in the answer that created the client; it is stored hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}
