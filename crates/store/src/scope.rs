//! Data scope in SQL terms: every query that returns customer data filters through this.

use diesel::prelude::*;
use loanwatch_domain::people::Scope;

use crate::{DbConn, StoreError, StoreResult, schema::organisations};

/// A [`Scope`] resolved to what SQL filters need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeFilter {
    /// `officer_id = <id>`; `org` is the officer's own organisation.
    Officer { officer: String, org: String },
    /// Organisation ids whose path starts with this prefix.
    Subtree { path_prefix: String },
    /// Nothing at all.
    Nothing,
}

impl ScopeFilter {
    /// Resolves a scope; a subtree needs its root's path.
    pub fn resolve(conn: &mut DbConn, scope: &Scope) -> StoreResult<Self> {
        Ok(match scope {
            Scope::Assigned { officer, org } => Self::Officer {
                officer: officer.to_string(),
                org: org.to_string(),
            },
            Scope::Subtree(org) => {
                let path = organisations::table
                    .find(org.to_string())
                    .select(organisations::path)
                    .first::<String>(conn)
                    .optional()?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("caller's organisation {org} does not exist"))
                    })?;
                Self::Subtree { path_prefix: path }
            }
            Scope::Nothing => Self::Nothing,
        })
    }

    /// The `LIKE` pattern matching the subtree's organisation paths.
    pub(crate) fn like_pattern(prefix: &str) -> String {
        // Paths hold only UUIDs and slashes, so no LIKE wildcard needs escaping.
        format!("{prefix}%")
    }

    /// Whether an organisation (by its path) is inside this scope's subtree. Officers' scope is
    /// not organisational, so they are answered by the caller.
    pub fn covers_path(&self, org_path: &str) -> bool {
        match self {
            Self::Subtree { path_prefix } => org_path.starts_with(path_prefix.as_str()),
            Self::Officer { .. } | Self::Nothing => false,
        }
    }
}

/// Ids of the organisations in a subtree, as a subquery.
macro_rules! subtree_org_ids {
    ($prefix:expr) => {
        $crate::schema::organisations::table
            .filter(
                $crate::schema::organisations::path
                    .like($crate::scope::ScopeFilter::like_pattern($prefix)),
            )
            .select($crate::schema::organisations::id)
    };
}
pub(crate) use subtree_org_ids;
