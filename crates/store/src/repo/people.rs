//! Organisations, users and API clients. Not customer data: visible to every signed-in caller
//! (organisations) or to administrators (users, clients); the API decides.

use diesel::prelude::*;

use crate::{
    DbConn, StoreError, StoreResult, WriteTx,
    models::{ApiClientRow, OrganisationRow, UserChangeset, UserRow},
    page::PageOf,
    schema::{api_clients, organisations, users},
};

/// Inserts an organisation under `parent` (or as the root); fills in `path`.
pub fn insert_org(tx: &mut WriteTx<'_>, mut row: OrganisationRow) -> StoreResult<OrganisationRow> {
    let parent_path = match &row.parent_id {
        Some(parent) => organisations::table
            .find(parent)
            .select(organisations::path)
            .first::<String>(tx.conn())
            .optional()?
            .ok_or(StoreError::MissingReference {
                constraint: "parent_id".into(),
            })?,
        None => "/".to_owned(),
    };
    row.path = format!("{parent_path}{}/", row.id);
    diesel::insert_into(organisations::table)
        .values(&row)
        .execute(tx.conn())?;
    Ok(row)
}

/// One organisation.
pub fn get_org(conn: &mut DbConn, id: &str) -> StoreResult<OrganisationRow> {
    Ok(organisations::table
        .find(id)
        .select(OrganisationRow::as_select())
        .first(conn)?)
}

/// Whether any organisation exists yet.
pub fn any_org(conn: &mut DbConn) -> StoreResult<bool> {
    Ok(organisations::table
        .select(organisations::id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

/// All organisations, root first, by path.
pub fn list_orgs(conn: &mut DbConn) -> StoreResult<Vec<OrganisationRow>> {
    Ok(organisations::table
        .order(organisations::path.asc())
        .select(OrganisationRow::as_select())
        .load(conn)?)
}

/// Inserts a user.
pub fn insert_user(tx: &mut WriteTx<'_>, row: &UserRow) -> StoreResult<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// One user by id.
pub fn get_user(conn: &mut DbConn, id: &str) -> StoreResult<UserRow> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)?)
}

/// One user by login name.
pub fn user_by_username(conn: &mut DbConn, username: &str) -> StoreResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// Users by id order, optionally of one organisation.
pub fn list_users(
    conn: &mut DbConn,
    organisation_id: Option<&str>,
    after_id: Option<&str>,
    limit: i64,
) -> StoreResult<PageOf<UserRow>> {
    let mut q = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(org) = organisation_id {
        q = q.filter(users::organisation_id.eq(org.to_owned()));
    }
    if let Some(after) = after_id {
        q = q.filter(users::id.gt(after.to_owned()));
    }
    let rows = q.order(users::id.asc()).limit(limit + 1).load(conn)?;
    Ok(PageOf::from_overfetch(rows, limit))
}

/// Applies changes to a user.
pub fn update_user(
    tx: &mut WriteTx<'_>,
    id: &str,
    changes: &UserChangeset,
) -> StoreResult<UserRow> {
    let n = diesel::update(users::table.find(id))
        .set(changes)
        .execute(tx.conn())?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    get_user(tx.conn(), id)
}

/// Inserts an API client.
pub fn insert_client(tx: &mut WriteTx<'_>, row: &ApiClientRow) -> StoreResult<()> {
    diesel::insert_into(api_clients::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// One API client by its public client id.
pub fn client_by_client_id(
    conn: &mut DbConn,
    client_id: &str,
) -> StoreResult<Option<ApiClientRow>> {
    Ok(api_clients::table
        .filter(api_clients::client_id.eq(client_id))
        .select(ApiClientRow::as_select())
        .first(conn)
        .optional()?)
}

/// All API clients.
pub fn list_clients(conn: &mut DbConn) -> StoreResult<Vec<ApiClientRow>> {
    Ok(api_clients::table
        .order(api_clients::id.asc())
        .select(ApiClientRow::as_select())
        .load(conn)?)
}

/// Pages of users, for `loanwatch demo` and tests that need the generated people.
pub fn users_by_role(conn: &mut DbConn, role: &str) -> StoreResult<Vec<UserRow>> {
    Ok(users::table
        .filter(users::role.eq(role))
        .order(users::username.asc())
        .select(UserRow::as_select())
        .load(conn)?)
}

/// One API client by id.
pub fn get_client(conn: &mut DbConn, id: &str) -> StoreResult<ApiClientRow> {
    Ok(api_clients::table
        .find(id)
        .select(ApiClientRow::as_select())
        .first(conn)?)
}
