//! Identifiers: UUIDv7 newtypes, text on the wire and in storage.
//!
//! UUIDv7 sorts by creation time, so cursors over ids follow insertion order. Records created
//! offline on a phone carry the phone's UUID, which makes a retried upload the same record.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(
    /// An organisation: head office, branch or sub-branch.
    OrgId,
    /// A person who signs in: officer, supervisor, admin, …
    UserId,
    /// An integrator's API client.
    ApiClientId,
    /// A borrower, enterprise or individual.
    BorrowerId,
    /// A group of related borrowers (集团客户).
    GroupId,
    /// A guarantor (保证人).
    GuarantorId,
    /// A collateral item (抵押物/质押物).
    CollateralId,
    /// A loan.
    LoanId,
    /// An event in a loan's history.
    EventId,
);
