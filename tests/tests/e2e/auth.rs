//! Sign-in, refresh rotation with reuse detection, logout, password change, throttling, clients.

use loanwatch_e2e::{PASSWORD, TestApp, seed_institution};
use serde_json::json;

fn refresh(app: &TestApp, token: &str) -> anyhow::Result<loanwatch_e2e::Resp> {
    app.send(
        "POST",
        "/api/v1/auth/refresh",
        None,
        Some(&json!({ "refresh_token": token }).to_string()),
        &[],
    )
}

fn refresh_rotates_and_reuse_revokes_the_family(app: &TestApp) -> anyhow::Result<()> {
    seed_institution(app)?;
    let first = app.login_full("a.officer", PASSWORD)?;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["token_type"], "Bearer");
    let r1 = first.body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let second = refresh(app, &r1)?;
    assert_eq!(second.status, 200, "{}", second.text);
    let r2 = second.body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(r1, r2);
    let me = app.get(
        "/api/v1/me",
        second.body["access_token"].as_str().unwrap_or_default(),
    )?;
    assert_eq!(
        (me.status, me.body["name"].as_str()),
        (200, Some("a.officer"))
    );

    // r1 was spent: presenting it again is theft; the whole family, r2 included, is revoked.
    let reuse = refresh(app, &r1)?;
    assert_eq!((reuse.status, reuse.code()), (401, "refresh_token_reused"));
    let after = refresh(app, &r2)?;
    assert_eq!((after.status, after.code()), (401, "invalid_refresh_token"));

    // Another sign-in is another family and unaffected.
    let other = app.login_full("a.officer", PASSWORD)?;
    let r3 = other.body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let logout = app.send(
        "POST",
        "/api/v1/auth/logout",
        None,
        Some(&json!({ "refresh_token": r3 }).to_string()),
        &[],
    )?;
    assert_eq!(logout.status, 204);
    assert_eq!(refresh(app, &r3)?.status, 401);
    assert_eq!(refresh(app, "not-a-token")?.code(), "invalid_refresh_token");
    Ok(())
}

fn wrong_passwords_are_refused_and_then_throttled(app: &TestApp) -> anyhow::Result<()> {
    seed_institution(app)?;
    let unknown = app.login_full("nobody", "whatever-password")?;
    assert_eq!(
        (unknown.status, unknown.code()),
        (401, "invalid_credentials")
    );
    for _ in 0..5 {
        let r = app.login_full("a.officer2", "wrong password!")?;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    // The account is locked now, even for the right password.
    let locked = app.login_full("a.officer2", PASSWORD)?;
    assert_eq!(
        (locked.status, locked.code()),
        (429, "too_many_attempts"),
        "{}",
        locked.text
    );
    assert!(locked.header("retry-after").is_some());
    // Other accounts still sign in.
    assert_eq!(app.login_full("a.officer", PASSWORD)?.status, 200);
    Ok(())
}

fn bad_expired_and_forged_tokens_are_refused(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let none = app.send("GET", "/api/v1/me", None, None, &[])?;
    assert_eq!((none.status, none.code()), (401, "unauthorized"));
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(app.get("/api/v1/me", "garbage")?.status, 401);
    let basic = app.send(
        "GET",
        "/api/v1/me",
        None,
        None,
        &[("authorization", "Basic YTpi")],
    )?;
    assert_eq!(basic.status, 401);

    let now = chrono::Utc::now().timestamp();
    let claims = |iat: i64, exp: i64, aud: &str| {
        json!({
            "sub": format!("user:{}", inst.user("ho.risk")), "role": "head_office", "org": inst.head_office,
            "orgp": format!("/{}/", inst.head_office),
            "iss": "loanwatch", "aud": aud, "iat": iat, "exp": exp,
        })
    };
    // The server's own key and valid claims: accepted, which shows the checks below are real.
    let good = app.sign_token(&claims(now, now + 300, "loanwatch-api"), None)?;
    assert_eq!(app.get("/api/v1/me", &good)?.status, 200);
    let expired = app.sign_token(&claims(now - 600, now - 120, "loanwatch-api"), None)?;
    let r = app.get("/api/v1/me", &expired)?;
    assert_eq!(r.status, 401);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{}",
        r.text
    );
    let other_audience = app.sign_token(&claims(now, now + 300, "someone-else"), None)?;
    assert_eq!(app.get("/api/v1/me", &other_audience)?.status, 401);
    let forged = app.sign_token(
        &claims(now, now + 300, "loanwatch-api"),
        Some(b"an attacker's key of thirty-two bytes!"),
    )?;
    assert_eq!(app.get("/api/v1/me", &forged)?.status, 401);
    // alg=none is never accepted: the algorithm is pinned.
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims(now, now + 300, "loanwatch-api")
            .to_string()
            .as_bytes())
    );
    assert_eq!(app.get("/api/v1/me", &unsigned)?.status, 401);
    Ok(())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn changing_the_password_revokes_refresh_tokens(app: &TestApp) -> anyhow::Result<()> {
    seed_institution(app)?;
    let session = app.login_full("b.officer", PASSWORD)?;
    let access = session.body["access_token"].as_str().unwrap_or_default();
    let refresh_token = session.body["refresh_token"].as_str().unwrap_or_default();
    let wrong = app.post(
        "/api/v1/me/password",
        access,
        &json!({ "current_password": "nope", "new_password": "a brand new password" }),
    )?;
    assert_eq!((wrong.status, wrong.pointer()), (401, "/current_password"));
    let short = app.post(
        "/api/v1/me/password",
        access,
        &json!({ "current_password": PASSWORD, "new_password": "short" }),
    )?;
    assert_eq!((short.status, short.pointer()), (422, "/new_password"));
    let ok = app.post(
        "/api/v1/me/password",
        access,
        &json!({ "current_password": PASSWORD, "new_password": "a brand new password" }),
    )?;
    assert_eq!(ok.status, 204, "{}", ok.text);
    assert_eq!(refresh(app, refresh_token)?.status, 401);
    assert_eq!(app.login_full("b.officer", PASSWORD)?.status, 401);
    assert_eq!(
        app.login_full("b.officer", "a brand new password")?.status,
        200
    );
    Ok(())
}

fn integrators_get_tokens_with_their_own_scope(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let admin = inst.token("admin");
    let created = app.post(
        "/api/v1/api-clients",
        admin,
        &json!({ "name": "core-banking", "organisation_id": inst.branch_a, "access": "read" }),
    )?;
    assert_eq!(created.status, 201, "{}", created.text);
    let client_id = created.body["client_id"].as_str().unwrap_or_default();
    let secret = created.body["client_secret"].as_str().unwrap_or_default();
    let listed = app.get("/api/v1/api-clients", admin)?;
    assert!(
        listed.body[0].get("client_secret").is_none(),
        "secret shown again"
    );

    let bad = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({ "client_id": client_id, "client_secret": "wrong" }).to_string()),
        &[],
    )?;
    assert_eq!(bad.status, 401);
    let token = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({ "client_id": client_id, "client_secret": secret }).to_string()),
        &[],
    )?;
    assert_eq!(token.status, 200, "{}", token.text);
    assert!(token.body.get("refresh_token").is_none());
    let access = token.body["access_token"].as_str().unwrap_or_default();

    let b_borrower = app.post(
        "/api/v1/borrowers",
        inst.token("b.officer"),
        &loanwatch_e2e::enterprise("杭州客户", 1),
    )?;
    let a_borrower = app.post(
        "/api/v1/borrowers",
        inst.token("a.officer"),
        &loanwatch_e2e::enterprise("北京客户", 2),
    )?;
    let me = app.get("/api/v1/me", access)?;
    assert_eq!(
        (me.body["kind"].as_str(), me.body["can_write"].as_bool()),
        (Some("api_client"), Some(false))
    );
    let a_id = a_borrower.body["id"].as_str().unwrap_or_default();
    let b_id = b_borrower.body["id"].as_str().unwrap_or_default();
    assert_eq!(
        app.get(&format!("/api/v1/borrowers/{a_id}"), access)?
            .status,
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/borrowers/{b_id}"), access)?
            .status,
        404
    );
    let write = app.post(
        "/api/v1/borrowers",
        access,
        &loanwatch_e2e::enterprise("x", 3),
    )?;
    assert_eq!((write.status, write.code()), (403, "forbidden"));
    Ok(())
}

loanwatch_e2e::on_both_backends!(
    refresh_rotates_and_reuse_revokes_the_family,
    wrong_passwords_are_refused_and_then_throttled,
    bad_expired_and_forged_tokens_are_refused,
    changing_the_password_revokes_refresh_tokens,
    integrators_get_tokens_with_their_own_scope,
);
