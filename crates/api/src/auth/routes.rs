//! Routes of `/auth` and `/me`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use loanwatch_api_types::{
    Problem,
    auth::{
        ChangePasswordRequest, ClientTokenRequest, LoginRequest, Me, RefreshRequest, TokenResponse,
    },
};
use loanwatch_store::repo::people;

use crate::{
    ApiError, AppState,
    auth::{Actor, actor::Principal, service},
    extract::JsonBody,
    views::stored,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(login)
        .service(refresh_token)
        .service(logout)
        .service(create_client_token)
        .service(get_me)
        .service(change_password);
}

fn client_address(req: &HttpRequest) -> String {
    // The direct peer, not X-Forwarded-For, which any client could forge to dodge throttling.
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Sign in with username and password.
///
/// Returns a short-lived access token and a single-use refresh token. Repeated failures lock the
/// account and the client address for a while (429 with `Retry-After`).
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let address = client_address(&req);
    let LoginRequest { username, password } = body.value;
    let st = state.get_ref().clone();
    let tokens = state
        .db(move |conn| service::login(conn, &st, &username, &password, &address))
        .await?;
    Ok(web::Json(tokens))
}

/// Exchange a refresh token for new tokens.
///
/// Each refresh token works once. Presenting a spent token again revokes every token of that
/// sign-in (the family), because it means the token was copied.
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh_token",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Invalid, expired, revoked or reused token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
async fn refresh_token(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let token = body.value.refresh_token;
    let st = state.get_ref().clone();
    let tokens = state
        .db(move |conn| service::refresh(conn, &st, &token))
        .await?;
    Ok(web::Json(tokens))
}

/// Sign out: revoke the refresh token and every token rotated from the same sign-in.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Signed out (also for unknown tokens)"),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.value.refresh_token;
    state.db(move |conn| service::logout(conn, &token)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Obtain an access token with an integrator's client credentials.
#[utoipa::path(
    tag = "auth",
    operation_id = "create_client_token",
    request_body = ClientTokenRequest,
    responses(
        (status = 200, description = "Access token", body = TokenResponse),
        (status = 401, description = "Wrong client id or secret", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/token")]
async fn create_client_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<ClientTokenRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let address = client_address(&req);
    let ClientTokenRequest {
        client_id,
        client_secret,
    } = body.value;
    let st = state.get_ref().clone();
    let tokens = state
        .db(move |conn| service::client_token(conn, &st, &client_id, &client_secret, &address))
        .await?;
    Ok(web::Json(tokens))
}

/// Who am I: identity, role, organisation and whether I may write.
#[utoipa::path(
    tag = "auth",
    operation_id = "get_me",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me")]
async fn get_me(state: web::Data<AppState>, actor: Actor) -> Result<web::Json<Me>, ApiError> {
    let me = state
        .db(move |conn| {
            Ok(match &actor.principal {
                Principal::User(id) => {
                    let u = people::get_user(conn, &id.to_string())
                        .map_err(|_| ApiError::unauthorized("the user no longer exists"))?;
                    Me {
                        kind: "user".to_owned(),
                        id: u.id,
                        name: u.username,
                        display_name: Some(u.display_name),
                        role: stored(&u.role, "role")?,
                        organisation_id: stored(&u.organisation_id, "organisation_id")?,
                        can_write: actor.can_write,
                    }
                }
                Principal::Client(id) => {
                    let c = people::get_client(conn, &id.to_string())
                        .map_err(|_| ApiError::unauthorized("the API client no longer exists"))?;
                    Me {
                        kind: "api_client".to_owned(),
                        id: c.id,
                        name: c.name,
                        display_name: None,
                        role: actor.role,
                        organisation_id: stored(&c.organisation_id, "organisation_id")?,
                        can_write: actor.can_write,
                    }
                }
            })
        })
        .await?;
    Ok(web::Json(me))
}

/// Change my password; every refresh token of mine is revoked.
#[utoipa::path(
    tag = "auth",
    operation_id = "change_password",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed"),
        (status = 401, description = "Current password wrong", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "New password too short", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/password")]
async fn change_password(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let Some(user_id) = actor.user_id() else {
        return Err(ApiError::forbidden(
            "API clients have secrets, not passwords",
        ));
    };
    let ChangePasswordRequest {
        current_password,
        new_password,
    } = body.value;
    let ctx = actor.audit();
    state
        .db(move |conn| {
            service::change_password(
                conn,
                ctx,
                &user_id.to_string(),
                &current_password,
                &new_password,
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
