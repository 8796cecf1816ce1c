//! The authenticated caller, extracted from `Authorization: Bearer …` on every protected route.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use loanwatch_domain::{
    ApiClientId, OrgId, UserId,
    people::{Role, Scope},
};
use loanwatch_store::AuditContext;

use crate::{ApiError, AppState, error::current_request_id};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person.
    User(UserId),
    /// An integrator.
    Client(ApiClientId),
}

/// The authenticated caller: identity, role, organisation and write right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Identity.
    pub principal: Principal,
    /// Role.
    pub role: Role,
    /// Organisation.
    pub org: OrgId,
    /// The organisation's path in the tree, from the token.
    pub org_path: String,
    /// Whether the caller may change customer data.
    pub can_write: bool,
}

impl Actor {
    /// `user:<id>` or `client:<id>`, as audit entries and `recorded_by` name the caller.
    pub fn subject(&self) -> String {
        match &self.principal {
            Principal::User(id) => format!("user:{id}"),
            Principal::Client(id) => format!("client:{id}"),
        }
    }

    /// The user id, if the caller is a person.
    pub fn user_id(&self) -> Option<UserId> {
        match self.principal {
            Principal::User(id) => Some(id),
            Principal::Client(_) => None,
        }
    }

    /// The part of the portfolio the caller may see.
    pub fn scope(&self) -> Scope {
        Scope::of(self.role, self.user_id(), self.org)
    }

    /// Audit context for a write by this caller in this request.
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            actor: self.subject(),
            request_id: current_request_id(),
        }
    }

    /// Refuses callers that may not read customer data (administrators).
    pub fn require_read(&self) -> Result<(), ApiError> {
        if self.role.reads_customer_data() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "administrators manage people and organisations but do not read customer data",
            ))
        }
    }

    /// Refuses callers that may not change customer data (auditors, read-only integrators,
    /// administrators).
    pub fn require_write(&self) -> Result<(), ApiError> {
        self.require_read()?;
        if self.can_write {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this role may read but not change customer data",
            ))
        }
    }

    /// Refuses everyone but administrators.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role.manages_people() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "only administrators manage people, organisations and API clients",
            ))
        }
    }

    /// Whether the caller sees ID and phone numbers in full.
    pub fn sees_personal_data(&self) -> bool {
        self.role.sees_personal_data()
    }
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Actor, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState missing")))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <access token>"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <access token>`")
        })?;
    let claims = state.keys.verify(token)?;
    let bad_subject = || ApiError::unauthorized("the access token is not valid");
    let principal = match claims.sub.split_once(':') {
        Some(("user", id)) => Principal::User(id.parse().map_err(|_| bad_subject())?),
        Some(("client", id)) => Principal::Client(id.parse().map_err(|_| bad_subject())?),
        _ => return Err(bad_subject()),
    };
    let can_write = match principal {
        Principal::User(_) => claims.role.writes_customer_data(),
        Principal::Client(_) => claims.wr && claims.role.writes_customer_data(),
    };
    Ok(Actor {
        principal,
        role: claims.role,
        org: claims.org,
        org_path: claims.orgp,
        can_write,
    })
}
