//! `Idempotency-Key`: same key and body → the first answer; other body → 422; in flight → 409.

use loanwatch_e2e::{TestApp, enterprise, seed_institution};

fn a_retried_create_returns_the_first_answer_and_writes_once(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let body = enterprise("北京联创物流有限公司", 51).to_string();
    let key = [("idempotency-key", "create-borrower-51")];
    let first = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(officer),
        Some(&body),
        &key,
    )?;
    assert_eq!(first.status, 201, "{}", first.text);
    let before = app.count("borrowers")?;
    let audit_before = app.count("audit_log")?;
    let again = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(officer),
        Some(&body),
        &key,
    )?;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the replay is not the first answer");
    assert_eq!(
        (app.count("borrowers")?, app.count("audit_log")?),
        (before, audit_before),
        "the retry wrote again"
    );

    let other = enterprise("另一家公司", 52).to_string();
    let mismatch = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(officer),
        Some(&other),
        &key,
    )?;
    assert_eq!(
        (mismatch.status, mismatch.code()),
        (422, "idempotency_key_reused")
    );
    assert_eq!(app.count("borrowers")?, before);

    // Keys belong to the caller: another user's identical key is a different request.
    let theirs = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(inst.token("a.officer2")),
        Some(&enterprise("第三家", 53).to_string()),
        &key,
    )?;
    assert_eq!(theirs.status, 201, "{}", theirs.text);

    // A request still in flight: claim the key as the first request would, then retry.
    let subject = format!("user:{}", inst.user("a.officer"));
    let in_flight_body = enterprise("进行中", 54).to_string();
    let hash = {
        use sha2_like::hash;
        hash(&format!("POST\n/api/v1/borrowers\n{in_flight_body}"))
    };
    loanwatch_store::repo::idempotency::claim(
        &mut app.conn()?,
        &subject,
        "busy-key",
        &hash,
        loanwatch_store::audit::now(),
    )?;
    let busy = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(officer),
        Some(&in_flight_body),
        &[("idempotency-key", "busy-key")],
    )?;
    assert_eq!(
        (busy.status, busy.code()),
        (409, "idempotency_in_flight"),
        "{}",
        busy.text
    );

    // A failed request gives its key back: a corrected retry with the same key goes through.
    let mut bad = enterprise("坏数据", 55);
    bad["registered_capital_fen"] = serde_json::json!(-1);
    let failed = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(officer),
        Some(&bad.to_string()),
        &[("idempotency-key", "retry-me")],
    )?;
    assert_eq!(failed.status, 422);
    let fixed = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(officer),
        Some(&enterprise("好数据", 55).to_string()),
        &[("idempotency-key", "retry-me")],
    )?;
    assert_eq!(fixed.status, 201, "{}", fixed.text);

    let bad_key = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(officer),
        Some(&body),
        &[("idempotency-key", &"k".repeat(300))],
    )?;
    assert_eq!(bad_key.status, 400);
    Ok(())
}

mod sha2_like {
    /// The request hash the server computes: SHA-256 hex of method, path and body.
    pub fn hash(text: &str) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

loanwatch_e2e::on_both_backends!(a_retried_create_returns_the_first_answer_and_writes_once);
