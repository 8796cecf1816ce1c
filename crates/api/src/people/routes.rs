//! Routes of organisations, users and API clients.

use actix_web::{HttpResponse, get, patch, post, web};
use loanwatch_api_types::{
    Page, Problem,
    people::{
        ApiClient, CreateApiClient, CreateOrganisation, CreateUser, Organisation, UpdateUser, User,
    },
};
use loanwatch_domain::UserId;
use loanwatch_store::repo::people;
use serde::Deserialize;

use crate::{
    ApiError, AppState,
    auth::{Actor, password},
    extract::{IdempotencyKey, JsonBody, decode_cursor, encode_cursor, page_limit, path_id},
    people::service,
    views, write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_organisations)
        .service(create_organisation)
        .service(list_users)
        .service(create_user)
        .service(update_user)
        .service(list_api_clients)
        .service(create_api_client);
}

/// The organisation tree, root first. Visible to every signed-in caller.
#[utoipa::path(
    tag = "people",
    operation_id = "list_organisations",
    responses(
        (status = 200, description = "All organisations", body = Vec<Organisation>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/organisations")]
async fn list_organisations(
    state: web::Data<AppState>,
    _actor: Actor,
) -> Result<web::Json<Vec<Organisation>>, ApiError> {
    let rows = state.db(|conn| Ok(people::list_orgs(conn)?)).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(views::organisation)
            .collect::<Result<_, _>>()?,
    ))
}

/// Create an organisation (administrators). The first is the head office; then branches under
/// it and sub-branches under branches.
#[utoipa::path(
    tag = "people",
    operation_id = "create_organisation",
    request_body = CreateOrganisation,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Created", body = Organisation),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Does not fit the tree", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/organisations")]
async fn create_organisation(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateOrganisation>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let input = body.value;
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::create_org(tx, input)
    })
    .await
}

/// Query of the user list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only users of this organisation.
    organisation_id: Option<String>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

/// List users (administrators).
#[utoipa::path(
    tag = "people",
    operation_id = "list_users",
    params(UserQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<User>),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users")]
async fn list_users(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<UserQuery>,
) -> Result<web::Json<Page<User>>, ApiError> {
    actor.require_admin()?;
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref(), "id")?.map(|(_, id)| id);
    let page = state
        .db(move |conn| {
            Ok(people::list_users(
                conn,
                q.organisation_id.as_deref(),
                after.as_deref(),
                limit,
            )?)
        })
        .await?;
    let next_cursor = page
        .has_more
        .then(|| page.items.last().map(|u| encode_cursor("id", &u.id, &u.id)))
        .flatten();
    Ok(web::Json(Page {
        items: page
            .items
            .into_iter()
            .map(views::user)
            .collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// Create a user (administrators).
#[utoipa::path(
    tag = "people",
    operation_id = "create_user",
    request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses(
        (status = 201, description = "Created", body = User),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Username taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
async fn create_user(
    state: web::Data<AppState>,
    actor: Actor,
    key: IdempotencyKey,
    body: JsonBody<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let input = body.value;
    let hash = service::hash_initial_password(&input)?;
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        service::create_user(tx, input, hash)
    })
    .await
}

/// Change a user's name, role, organisation or active flag (administrators). Changing role or
/// organisation, or deactivating, revokes the user's refresh tokens.
#[utoipa::path(
    tag = "people",
    operation_id = "update_user",
    request_body = UpdateUser,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Updated", body = User),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{id}")]
async fn update_user(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<UpdateUser>,
) -> Result<web::Json<User>, ApiError> {
    actor.require_admin()?;
    let id: UserId = path_id(&id, "user")?;
    let input = body.value;
    let user = write::change(&state, &actor, move |tx| {
        service::update_user(tx, &id.to_string(), input)
    })
    .await?;
    Ok(web::Json(user))
}

/// List integrator API clients (administrators). Secrets are never shown again.
#[utoipa::path(
    tag = "people",
    operation_id = "list_api_clients",
    responses(
        (status = 200, description = "All API clients", body = Vec<ApiClient>),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api-clients")]
async fn list_api_clients(
    state: web::Data<AppState>,
    actor: Actor,
) -> Result<web::Json<Vec<ApiClient>>, ApiError> {
    actor.require_admin()?;
    let rows = state.db(|conn| Ok(people::list_clients(conn)?)).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| views::api_client(r, None))
            .collect::<Result<_, _>>()?,
    ))
}

/// Create an integrator API client (administrators). The answer carries the secret, once.
///
/// `Idempotency-Key` is deliberately not honoured here: honouring it would mean keeping the
/// answer, and with it the secret, in clear.
#[utoipa::path(
    tag = "people",
    operation_id = "create_api_client",
    request_body = CreateApiClient,
    responses(
        (status = 201, description = "Created; `client_secret` is shown only here", body = ApiClient),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api-clients")]
async fn create_api_client(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody<CreateApiClient>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let input = body.value;
    let secret = password::random_token(32)?;
    let hash = password::hash(&secret)?;
    write::create(
        &state,
        &actor,
        IdempotencyKey(None),
        body.request_hash,
        move |tx| service::create_client(tx, input, secret, hash),
    )
    .await
}
