//! Use cases of organisations, users and API clients.

use loanwatch_api_types::people::{
    ApiClient, CreateApiClient, CreateOrganisation, CreateUser, Organisation, UpdateUser, User,
};
use loanwatch_domain::people::{OrgKind, Role};
use loanwatch_store::{
    WriteTx,
    models::{ApiClientRow, OrganisationRow, UserChangeset, UserRow},
    repo::{auth as tokens, people},
};
use serde_json::json;

use crate::{ApiError, auth::password, views};

fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Creates an organisation, checking that it fits the tree.
pub fn create_org(
    tx: &mut WriteTx<'_>,
    input: CreateOrganisation,
) -> Result<Organisation, ApiError> {
    let name = required_text("name", &input.name, 200)?;
    let code = required_text("code", &input.code, 32)?;
    let parent_kind = match input.parent_id {
        Some(parent) => {
            let row = people::get_org(tx.conn(), &parent.to_string())
                .map_err(|_| ApiError::invalid("parent_id", "no such organisation"))?;
            Some(views::stored::<OrgKind>(&row.kind, "kind")?)
        }
        None => {
            if people::any_org(tx.conn())? {
                return Err(ApiError::invalid(
                    "parent_id",
                    "the head office exists already; name a parent",
                ));
            }
            None
        }
    };
    if !input.kind.may_sit_under(parent_kind) {
        return Err(ApiError::invalid(
            "kind",
            format!(
                "a {} cannot sit under {}",
                input.kind,
                parent_kind.map_or("nothing".to_owned(), |k| format!("a {k}"))
            ),
        ));
    }
    let row = people::insert_org(
        tx,
        OrganisationRow {
            id: uuid::Uuid::now_v7().to_string(),
            parent_id: input.parent_id.map(|p| p.to_string()),
            kind: input.kind.as_str().to_owned(),
            name,
            code,
            path: String::new(),
            created_at: tx.now(),
        },
    )?;
    tx.audit(
        "organisation.create",
        "organisation",
        &row.id,
        &json!({ "code": row.code }),
    )?;
    views::organisation(row)
}

fn check_username(name: &str) -> Result<(), ApiError> {
    let ok = (3..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "username",
            "must be 3–64 characters of letters, digits, '.', '_' or '-'",
        ))
    }
}

/// Creates a user. The password is hashed before the transaction starts.
pub fn create_user(
    tx: &mut WriteTx<'_>,
    input: CreateUser,
    password_hash: String,
) -> Result<User, ApiError> {
    check_username(&input.username)?;
    let display_name = required_text("display_name", &input.display_name, 100)?;
    people::get_org(tx.conn(), &input.organisation_id.to_string())
        .map_err(|_| ApiError::invalid("organisation_id", "no such organisation"))?;
    if input.role == Role::Integrator {
        return Err(ApiError::invalid(
            "role",
            "integrators are API clients, not users",
        ));
    }
    let row = insert_new_user(
        tx,
        input.organisation_id.to_string(),
        input.username,
        display_name,
        password_hash,
        input.role,
    )?;
    views::user(row)
}

/// Inserts an active user and records it in the audit trail.
pub fn insert_new_user(
    tx: &mut WriteTx<'_>,
    organisation_id: String,
    username: String,
    display_name: String,
    password_hash: String,
    role: Role,
) -> Result<UserRow, ApiError> {
    let now = tx.now();
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        organisation_id,
        username,
        display_name,
        password_hash,
        role: role.as_str().to_owned(),
        active: true,
        password_changed_at: now,
        created_at: now,
    };
    people::insert_user(tx, &row)?;
    tx.audit(
        "user.create",
        "user",
        &row.id,
        &json!({ "username": row.username, "role": row.role }),
    )?;
    Ok(row)
}

/// Hashes the initial password of a new user, after checking it.
pub fn hash_initial_password(input: &CreateUser) -> Result<String, ApiError> {
    password::check_new(&input.password, "password")?;
    password::hash(&input.password)
}

/// Changes a user; deactivation revokes the user's refresh tokens.
pub fn update_user(tx: &mut WriteTx<'_>, id: &str, input: UpdateUser) -> Result<User, ApiError> {
    let display_name = input
        .display_name
        .as_deref()
        .map(|n| required_text("display_name", n, 100))
        .transpose()?;
    if let Some(org) = input.organisation_id {
        people::get_org(tx.conn(), &org.to_string())
            .map_err(|_| ApiError::invalid("organisation_id", "no such organisation"))?;
    }
    if input.role == Some(Role::Integrator) {
        return Err(ApiError::invalid(
            "role",
            "integrators are API clients, not users",
        ));
    }
    let changes = UserChangeset {
        display_name,
        role: input.role.map(|r| r.as_str().to_owned()),
        organisation_id: input.organisation_id.map(|o| o.to_string()),
        active: input.active,
        ..Default::default()
    };
    let row = people::update_user(tx, id, &changes).map_err(|_| ApiError::not_found("user"))?;
    if input.active == Some(false) || input.role.is_some() || input.organisation_id.is_some() {
        let now = tx.now();
        tokens::revoke_user(tx, id, now)?;
    }
    tx.audit(
        "user.update",
        "user",
        id,
        &json!({ "role": input.role, "organisation_id": input.organisation_id, "active": input.active }),
    )?;
    views::user(row)
}

/// Creates an API client; its secret is returned once and stored hashed.
pub fn create_client(
    tx: &mut WriteTx<'_>,
    input: CreateApiClient,
    secret: String,
    secret_hash: String,
) -> Result<ApiClient, ApiError> {
    let name = required_text("name", &input.name, 100)?;
    people::get_org(tx.conn(), &input.organisation_id.to_string())
        .map_err(|_| ApiError::invalid("organisation_id", "no such organisation"))?;
    let row = ApiClientRow {
        id: uuid::Uuid::now_v7().to_string(),
        client_id: format!("lw_{}", uuid::Uuid::now_v7().simple()),
        secret_hash,
        name,
        organisation_id: input.organisation_id.to_string(),
        access: views::access_text(input.access).to_owned(),
        active: true,
        created_at: tx.now(),
    };
    people::insert_client(tx, &row)?;
    tx.audit(
        "api_client.create",
        "api_client",
        &row.id,
        &json!({ "client_id": row.client_id, "access": row.access }),
    )?;
    views::api_client(row, Some(secret))
}

/// Creates an administrator (and the head office, if there is no organisation yet), as
/// `loanwatch admin create` does on a new installation. Returns the user id.
pub fn bootstrap_admin(
    conn: &mut loanwatch_store::DbConn,
    username: &str,
    display_name: &str,
    password_hash: String,
    org_name: &str,
    org_code: &str,
) -> Result<String, ApiError> {
    check_username(username)?;
    let ctx = loanwatch_store::AuditContext {
        actor: "cli:admin-create".to_owned(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    loanwatch_store::write(conn, ctx, |tx| {
        let now = tx.now();
        let existing_root = people::list_orgs(tx.conn())?
            .into_iter()
            .find(|o| o.parent_id.is_none());
        let head_office = match existing_root {
            Some(org) => org,
            None => {
                let org = people::insert_org(
                    tx,
                    OrganisationRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        parent_id: None,
                        kind: OrgKind::HeadOffice.as_str().to_owned(),
                        name: org_name.to_owned(),
                        code: org_code.to_owned(),
                        path: String::new(),
                        created_at: now,
                    },
                )?;
                tx.audit(
                    "organisation.create",
                    "organisation",
                    &org.id,
                    &json!({ "code": org.code }),
                )?;
                org
            }
        };
        let row = insert_new_user(
            tx,
            head_office.id,
            username.to_owned(),
            display_name.to_owned(),
            password_hash,
            Role::Admin,
        )?;
        Ok(row.id)
    })
}
