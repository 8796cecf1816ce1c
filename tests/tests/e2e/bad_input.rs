//! Bad input gets a 4xx problem with a stable code and a pointer, and changes nothing.

use loanwatch_e2e::{TestApp, enterprise, individual, loan_body, seed_institution};
use serde_json::json;

fn bad_input_is_refused_and_nothing_is_written(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京天成化工有限公司", 61),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let counts = || -> anyhow::Result<(i64, i64, i64, i64)> {
        Ok((
            app.count("borrowers")?,
            app.count("loans")?,
            app.count("loan_events")?,
            app.count("audit_log")?,
        ))
    };
    let before = counts()?;

    let raw = |path: &str, body: &str| app.send("POST", path, Some(officer), Some(body), &[]);
    let cases: Vec<(loanwatch_e2e::Resp, u16, &str, &str)> = vec![
        (
            raw("/api/v1/borrowers", "{\"kind\": \"enterprise\", ")?,
            400,
            "invalid_body",
            "",
        ),
        (raw("/api/v1/borrowers", "[]")?, 400, "invalid_body", ""),
        (
            raw(
                "/api/v1/borrowers",
                &json!({ "kind": "enterprise", "name": 42 }).to_string(),
            )?,
            400,
            "invalid_body",
            "/name",
        ),
        (
            raw(
                "/api/v1/borrowers",
                &json!({ "kind": "enterprise", "name": "x", "colour": "red" }).to_string(),
            )?,
            400,
            "invalid_body",
            "",
        ),
        (
            raw(
                "/api/v1/borrowers",
                &json!({ "kind": "company", "name": "x" }).to_string(),
            )?,
            400,
            "invalid_body",
            "/kind",
        ),
        (
            raw(
                "/api/v1/borrowers",
                &{
                    let mut e = enterprise("x", 62);
                    e["credit_code"] = json!("91350100M000100Y44");
                    e
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/credit_code",
        ),
        (
            raw(
                "/api/v1/borrowers",
                &{
                    let mut e = enterprise("x", 63);
                    e["credit_code"] = json!("91350100I000100Y43");
                    e
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/credit_code",
        ),
        (
            raw(
                "/api/v1/borrowers",
                &{
                    let mut p = individual("x", 64);
                    p["id_number"] = json!("110105194912310021");
                    p
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/id_number",
        ),
        (
            raw(
                "/api/v1/borrowers",
                &{
                    let mut p = individual("x", 65);
                    p["phone"] = json!("12345");
                    p
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/phone",
        ),
        (
            raw(
                "/api/v1/borrowers",
                &json!({ "kind": "enterprise", "name": "x" }).to_string(),
            )?,
            422,
            "validation_failed",
            "/credit_code",
        ),
        (
            raw(
                "/api/v1/borrowers",
                &{
                    let mut e = enterprise("  ", 66);
                    e["name"] = json!("   ");
                    e
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/name",
        ),
        (
            raw(
                "/api/v1/loans",
                &{
                    let mut l = loan_body(&bid, "N-1", 100, "2027-01-15");
                    l["principal_fen"] = json!(-5);
                    l
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/principal_fen",
        ),
        (
            raw(
                "/api/v1/loans",
                &{
                    let mut l = loan_body(&bid, "N-2", 100, "2027-01-15");
                    l["principal_fen"] = json!(0);
                    l
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/principal_fen",
        ),
        (
            raw(
                "/api/v1/loans",
                &loan_body(&bid, "N-3", 100, "2027-01-15")
                    .to_string()
                    .replace(
                        "\"principal_fen\":100",
                        "\"principal_fen\":99999999999999999999",
                    ),
            )?,
            400,
            "invalid_body",
            "/principal_fen",
        ),
        (
            raw(
                "/api/v1/loans",
                &{
                    let mut l = loan_body(&bid, "N-4", 100, "2027-01-15");
                    l["principal_fen"] = json!(1.5);
                    l
                }
                .to_string(),
            )?,
            400,
            "invalid_body",
            "/principal_fen",
        ),
        (
            raw(
                "/api/v1/loans",
                &{
                    let mut l = loan_body(&bid, "N-5", 100, "2027-01-15");
                    l["principal_fen"] = json!(9_000_000_000_000_000_000i64);
                    l
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/principal_fen",
        ),
        (
            raw(
                "/api/v1/loans",
                &loan_body(&bid, "N-6", 100, "2025-01-15").to_string(),
            )?,
            422,
            "validation_failed",
            "/maturity_date",
        ),
        (
            raw(
                "/api/v1/loans",
                &loan_body(&bid, "N-7", 100, "2027-02-30").to_string(),
            )?,
            400,
            "invalid_body",
            "/maturity_date",
        ),
        (
            raw(
                "/api/v1/loans",
                &{
                    let mut l = loan_body(&bid, "N-8", 100, "2027-01-15");
                    l["annual_rate"] = json!("4.35%");
                    l
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/annual_rate",
        ),
        (
            raw(
                "/api/v1/loans",
                &{
                    let mut l = loan_body(&bid, "N-9", 100, "2027-01-15");
                    l["annual_rate"] = json!("150");
                    l
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/annual_rate",
        ),
        (
            raw(
                "/api/v1/loans",
                &{
                    let mut l = loan_body(&bid, "N-10", 100, "2027-01-15");
                    l["currency"] = json!("RMB");
                    l
                }
                .to_string(),
            )?,
            400,
            "invalid_body",
            "/currency",
        ),
        (
            raw(
                "/api/v1/loans",
                &{
                    let mut l = loan_body(&bid, "N-11", 100, "2099-01-15");
                    l["disbursement_date"] = json!("2098-01-15");
                    l
                }
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/disbursement_date",
        ),
        (
            raw(
                "/api/v1/loans",
                &loan_body(
                    "01900000-0000-7000-8000-000000000000",
                    "N-12",
                    100,
                    "2027-01-15",
                )
                .to_string(),
            )?,
            422,
            "validation_failed",
            "/borrower_id",
        ),
        (
            raw(
                "/api/v1/loans",
                &loan_body("not-a-uuid", "N-13", 100, "2027-01-15").to_string(),
            )?,
            400,
            "invalid_body",
            "/borrower_id",
        ),
    ];
    for (i, (resp, status, code, pointer)) in cases.iter().enumerate() {
        assert_eq!(
            (resp.status, resp.code()),
            (*status, *code),
            "case {i}: {}",
            resp.text
        );
        assert_eq!(
            resp.header("content-type"),
            Some("application/problem+json"),
            "case {i}"
        );
        assert!(
            resp.body["request_id"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "case {i}: no request id"
        );
        if !pointer.is_empty() {
            assert_eq!(resp.pointer(), *pointer, "case {i}: {}", resp.text);
        }
    }

    let no_type = app.send(
        "POST",
        "/api/v1/borrowers",
        Some(officer),
        Some("{}"),
        &[("content-type", "text/plain")],
    )?;
    assert_eq!(
        (no_type.status, no_type.code()),
        (415, "unsupported_media_type")
    );
    let huge = format!(
        "{{\"kind\":\"enterprise\",\"name\":\"{}\"}}",
        "x".repeat(1_100_000)
    );
    let too_big = app.send("POST", "/api/v1/borrowers", Some(officer), Some(&huge), &[])?;
    assert_eq!((too_big.status, too_big.code()), (413, "payload_too_large"));
    let bad_id = app.get("/api/v1/loans/not-a-uuid", officer)?;
    assert_eq!(bad_id.status, 404);
    let bad_limit = app.get("/api/v1/loans?limit=100000", officer)?;
    assert_eq!(
        (bad_limit.status, bad_limit.pointer()),
        (400, "#/query/limit")
    );
    let bad_date = app.get("/api/v1/loans?maturity_from=tomorrow", officer)?;
    assert_eq!(bad_date.status, 400);
    let bad_cursor = app.get("/api/v1/loans?cursor=%%%", officer)?;
    assert_eq!(bad_cursor.status, 400);
    let wrong_method = app.send("PUT", "/api/v1/loans", Some(officer), None, &[])?;
    assert!(
        wrong_method.status == 404 || wrong_method.status == 405,
        "{}",
        wrong_method.status
    );

    assert_eq!(counts()?, before, "a refused request wrote something");
    Ok(())
}

loanwatch_e2e::on_both_backends!(bad_input_is_refused_and_nothing_is_written);
