//! Sign-in, refresh rotation, logout, client credentials and password change.
//!
//! Password checks (argon2id, deliberately slow) run outside write transactions so they never
//! hold the write lock. Outcomes that must be recorded even though the caller is refused (a
//! failed sign-in, a reused refresh token) commit first and are turned into errors afterwards.

use chrono::Duration;
use loanwatch_api_types::auth::TokenResponse;
use loanwatch_domain::{OrgId, UserId, people::Role};
use loanwatch_store::{
    AuditContext, DbConn, WriteTx,
    models::{RefreshTokenRow, ThrottleRow, UserChangeset},
    repo::{auth as tokens, people},
};
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::password,
    error::{ErrorCode, current_request_id},
    views::stored,
};

/// Why a sign-in was refused, or the tokens.
enum Gate {
    Open,
    Locked(i64),
}

fn anonymous(who: &str) -> AuditContext {
    AuditContext {
        actor: format!("anonymous:{who}"),
        request_id: current_request_id(),
    }
}

fn locked_error(secs: i64) -> ApiError {
    ApiError::new(
        ErrorCode::TooManyAttempts,
        format!("too many failed attempts; try again in {secs} seconds"),
    )
    .retry_after(secs.max(1) as u64)
}

fn gate(conn: &mut DbConn, keys: &[String]) -> Result<Gate, ApiError> {
    let now = loanwatch_store::audit::now();
    for key in keys {
        if let Some(row) = tokens::throttle(conn, key)?
            && let Some(until) = row.locked_until
            && until > now
        {
            return Ok(Gate::Locked((until - now).num_seconds() + 1));
        }
    }
    Ok(Gate::Open)
}

fn record_failure(
    tx: &mut WriteTx<'_>,
    key: &str,
    max: i32,
    window_secs: i64,
) -> Result<(), ApiError> {
    let now = tx.now();
    let window = Duration::seconds(window_secs);
    let mut row = match tokens::throttle(tx.conn(), key)? {
        Some(row) if now - row.window_start <= window => row,
        _ => ThrottleRow {
            key: key.to_owned(),
            failures: 0,
            window_start: now,
            locked_until: None,
        },
    };
    row.failures += 1;
    if row.failures >= max {
        row.locked_until = Some(now + window);
    }
    tokens::put_throttle(tx, &row)?;
    Ok(())
}

fn new_refresh(
    tx: &mut WriteTx<'_>,
    state: &AppState,
    user_id: &str,
    family: &str,
) -> Result<String, ApiError> {
    let token = password::random_token(32)?;
    let now = tx.now();
    tokens::insert_refresh(
        tx,
        &RefreshTokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.to_owned(),
            family_id: family.to_owned(),
            token_hash: password::token_hash(&token),
            issued_at: now,
            expires_at: now + Duration::days(state.config.auth.refresh_ttl_days),
            used_at: None,
            revoked_at: None,
        },
    )?;
    Ok(token)
}

fn user_tokens(
    conn: &mut DbConn,
    state: &AppState,
    user_id: &str,
    role: &str,
    org: &str,
    refresh: String,
) -> Result<TokenResponse, ApiError> {
    let id: UserId = stored(user_id, "user id")?;
    let role: Role = stored(role, "role")?;
    let org_path = people::get_org(conn, org)?.path;
    let org: OrgId = stored(org, "organisation id")?;
    Ok(TokenResponse {
        access_token: state
            .keys
            .issue(format!("user:{id}"), role, org, org_path, false)?,
        token_type: "Bearer".to_owned(),
        expires_in: state.keys.ttl_secs,
        refresh_token: Some(refresh),
    })
}

/// `POST /auth/login`.
pub fn login(
    conn: &mut DbConn,
    state: &AppState,
    username: &str,
    secret: &str,
    address: &str,
) -> Result<TokenResponse, ApiError> {
    let auth = &state.config.auth;
    let account_key = format!("user:{username}");
    let address_key = format!("addr:{address}");
    if let Gate::Locked(secs) = gate(conn, &[account_key.clone(), address_key.clone()])? {
        return Err(locked_error(secs));
    }
    let user = people::user_by_username(conn, username)?;
    let verified = match &user {
        Some(u) => password::verify(secret, &u.password_hash) && u.active,
        None => {
            password::verify(secret, password::decoy_hash());
            false
        }
    };
    let ctx = match (&user, verified) {
        (Some(u), true) => AuditContext {
            actor: format!("user:{}", u.id),
            request_id: current_request_id(),
        },
        _ => anonymous(address),
    };
    let outcome = loanwatch_store::write(conn, ctx, |tx| match (&user, verified) {
        (Some(u), true) => {
            tokens::clear_throttle(tx, &account_key)?;
            let family = uuid::Uuid::now_v7().to_string();
            let refresh = new_refresh(tx, state, &u.id, &family)?;
            tx.audit("auth.login", "user", &u.id, &json!({ "family": family }))?;
            Ok::<_, ApiError>(Some(user_tokens(
                tx.conn(),
                state,
                &u.id,
                &u.role,
                &u.organisation_id,
                refresh,
            )?))
        }
        _ => {
            record_failure(
                tx,
                &account_key,
                auth.max_failures_per_account,
                auth.window_secs,
            )?;
            record_failure(
                tx,
                &address_key,
                auth.max_failures_per_address,
                auth.window_secs,
            )?;
            tx.audit(
                "auth.login_failed",
                "user",
                username,
                &json!({ "address": address }),
            )?;
            Ok(None)
        }
    })?;
    outcome
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidCredentials, "wrong username or password"))
}

enum Refresh {
    Tokens(TokenResponse),
    Invalid,
    Reused,
}

/// `POST /auth/refresh`: single-use rotation; a spent token presented again revokes its family.
pub fn refresh(
    conn: &mut DbConn,
    state: &AppState,
    token: &str,
) -> Result<TokenResponse, ApiError> {
    let hash = password::token_hash(token);
    let Some(found) = tokens::refresh_by_hash(conn, &hash)? else {
        return Err(invalid_refresh());
    };
    let ctx = AuditContext {
        actor: format!("user:{}", found.user_id),
        request_id: current_request_id(),
    };
    let outcome = loanwatch_store::write(conn, ctx, |tx| {
        // Read again under the write lock: the token may have been spent meanwhile.
        let Some(row) = tokens::refresh_by_hash(tx.conn(), &hash)? else {
            return Ok::<_, ApiError>(Refresh::Invalid);
        };
        if row.revoked_at.is_some() {
            return Ok(Refresh::Invalid);
        }
        if row.used_at.is_some() || !tokens::spend_refresh(tx, &row.id, tx.now())? {
            let now = tx.now();
            let revoked = tokens::revoke_family(tx, &row.family_id, now)?;
            tx.audit(
                "auth.refresh_reused",
                "user",
                &row.user_id,
                &json!({ "family": row.family_id, "revoked": revoked }),
            )?;
            return Ok(Refresh::Reused);
        }
        if row.expires_at <= tx.now() {
            return Ok(Refresh::Invalid);
        }
        let user = people::get_user(tx.conn(), &row.user_id)?;
        if !user.active {
            return Ok(Refresh::Invalid);
        }
        let next = new_refresh(tx, state, &user.id, &row.family_id)?;
        tx.audit(
            "auth.refresh",
            "user",
            &user.id,
            &json!({ "family": row.family_id }),
        )?;
        Ok(Refresh::Tokens(user_tokens(
            tx.conn(),
            state,
            &user.id,
            &user.role,
            &user.organisation_id,
            next,
        )?))
    })?;
    match outcome {
        Refresh::Tokens(t) => Ok(t),
        Refresh::Invalid => Err(invalid_refresh()),
        Refresh::Reused => Err(ApiError::new(
            ErrorCode::RefreshTokenReused,
            "this refresh token was already used; every session of this sign-in is revoked, sign in again",
        )),
    }
}

fn invalid_refresh() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRefreshToken,
        "the refresh token is unknown, expired or revoked; sign in again",
    )
}

/// `POST /auth/logout`: revokes the token's family. Unknown tokens are ignored, so logout is
/// safe to repeat.
pub fn logout(conn: &mut DbConn, token: &str) -> Result<(), ApiError> {
    let hash = password::token_hash(token);
    let Some(found) = tokens::refresh_by_hash(conn, &hash)? else {
        return Ok(());
    };
    let ctx = AuditContext {
        actor: format!("user:{}", found.user_id),
        request_id: current_request_id(),
    };
    loanwatch_store::write(conn, ctx, |tx| {
        let now = tx.now();
        let n = tokens::revoke_family(tx, &found.family_id, now)?;
        if n > 0 {
            tx.audit(
                "auth.logout",
                "user",
                &found.user_id,
                &json!({ "family": found.family_id }),
            )?;
        }
        Ok(())
    })
}

/// `POST /auth/token`: client credentials of an integrator.
pub fn client_token(
    conn: &mut DbConn,
    state: &AppState,
    client_id: &str,
    secret: &str,
    address: &str,
) -> Result<TokenResponse, ApiError> {
    let auth = &state.config.auth;
    let client_key = format!("client:{client_id}");
    let address_key = format!("addr:{address}");
    if let Gate::Locked(secs) = gate(conn, &[client_key.clone(), address_key.clone()])? {
        return Err(locked_error(secs));
    }
    let client = people::client_by_client_id(conn, client_id)?;
    let verified = match &client {
        Some(c) => password::verify(secret, &c.secret_hash) && c.active,
        None => {
            password::verify(secret, password::decoy_hash());
            false
        }
    };
    let Some(c) = client.filter(|_| verified) else {
        loanwatch_store::write(conn, anonymous(address), |tx| {
            record_failure(
                tx,
                &client_key,
                auth.max_failures_per_account,
                auth.window_secs,
            )?;
            record_failure(
                tx,
                &address_key,
                auth.max_failures_per_address,
                auth.window_secs,
            )?;
            tx.audit(
                "auth.client_failed",
                "api_client",
                client_id,
                &json!({ "address": address }),
            )?;
            Ok::<_, ApiError>(())
        })?;
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong client id or secret",
        ));
    };
    let org_path = people::get_org(conn, &c.organisation_id)?.path;
    let org: OrgId = stored(&c.organisation_id, "organisation id")?;
    let access_token = state.keys.issue(
        format!("client:{}", c.id),
        Role::Integrator,
        org,
        org_path,
        c.access == "read_write",
    )?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.keys.ttl_secs,
        refresh_token: None,
    })
}

/// `POST /me/password`: checks the current password, sets the new one and revokes every refresh
/// token of the user.
pub fn change_password(
    conn: &mut DbConn,
    ctx: AuditContext,
    user_id: &str,
    current: &str,
    new: &str,
) -> Result<(), ApiError> {
    password::check_new(new, "new_password")?;
    let user = people::get_user(conn, user_id)?;
    if !password::verify(current, &user.password_hash) {
        return Err(ApiError::field(
            ErrorCode::InvalidCredentials,
            "/current_password",
            "the current password is wrong",
        ));
    }
    let hash = password::hash(new)?;
    loanwatch_store::write(conn, ctx, |tx| {
        let now = tx.now();
        people::update_user(
            tx,
            user_id,
            &UserChangeset {
                password_hash: Some(hash),
                password_changed_at: Some(now),
                ..Default::default()
            },
        )?;
        let revoked = tokens::revoke_user(tx, user_id, now)?;
        tx.audit(
            "user.password_changed",
            "user",
            user_id,
            &json!({ "revoked_refresh_tokens": revoked }),
        )?;
        Ok(())
    })
}
