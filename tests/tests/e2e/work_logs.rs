//! Work logs: written about borrowers in scope, signed by someone else, shortfalls listed.

use loanwatch_e2e::{TestApp, enterprise, seed_institution};
use serde_json::json;

fn work_logs_are_written_signed_and_counted(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b1 = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京恒远纺织有限公司", 101),
    )?;
    let b2 = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京宏达物流有限公司", 102),
    )?;
    for (b, no) in [(&b1, "W-1"), (&b2, "W-2")] {
        let l = app.post(
            "/api/v1/loans",
            officer,
            &json!({
                "contract_no": no, "borrower_id": b.body["id"], "product": "流动资金贷款", "principal_fen": 100_000_00,
                "currency": "CNY", "annual_rate": "4", "repayment_method": "bullet", "guarantee_method": "credit",
                "purpose": "采购原材料", "disbursement_date": "2026-01-05", "maturity_date": "2027-01-05",
            }),
        )?;
        assert_eq!(l.status, 201, "{}", l.text);
    }
    let b1_id = b1.body["id"].as_str().unwrap_or_default();
    // Thu 24 Sep 2026: two working days later, across Mid-Autumn (25–27 Sep), is Tue 29 Sep.
    let entry = app.post(
        "/api/v1/work-logs",
        officer,
        &json!({ "borrower_id": b1_id, "activity": "inspection", "activity_date": "2026-09-24", "content": "现场查看生产正常，库存充足。" }),
    )?;
    assert_eq!(entry.status, 201, "{}", entry.text);
    assert_eq!(entry.body["due_date"].as_str(), Some("2026-09-29"));
    assert_eq!(
        entry.body["late"].as_bool(),
        Some(true),
        "written in November for a September visit"
    );
    let id = entry.body["id"].as_str().unwrap_or_default().to_owned();

    for (body, pointer) in [
        (
            json!({ "borrower_id": b1_id, "activity": "gossip", "activity_date": "2026-09-24", "content": "x" }),
            "/activity",
        ),
        (
            json!({ "borrower_id": b1_id, "activity": "analysis", "activity_date": "2099-01-01", "content": "x" }),
            "/activity_date",
        ),
        (
            json!({ "borrower_id": b1_id, "activity": "analysis", "activity_date": "2026-09-24", "content": "  " }),
            "/content",
        ),
    ] {
        let r = app.post("/api/v1/work-logs", officer, &body)?;
        assert_eq!((r.status, r.pointer()), (422, pointer), "{}", r.text);
    }
    assert_eq!(app.post("/api/v1/work-logs", inst.token("b.officer"), &json!({ "borrower_id": b1_id, "activity": "analysis", "activity_date": "2026-09-24", "content": "x" }))?.status, 422);

    assert_eq!(
        app.post(&format!("/api/v1/work-logs/{id}/sign"), officer, &json!({}))?
            .status,
        403
    );
    let signed = app.post(
        &format!("/api/v1/work-logs/{id}/sign"),
        inst.token("a.supervisor"),
        &json!({}),
    )?;
    assert_eq!(signed.status, 200, "{}", signed.text);
    assert!(signed.body["signed_by"].as_str().is_some());
    assert_eq!(
        app.post(
            &format!("/api/v1/work-logs/{id}/sign"),
            inst.token("a.supervisor"),
            &json!({})
        )?
        .status,
        409
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/work-logs/{id}/sign"),
            inst.token("b.supervisor"),
            &json!({})
        )?
        .status,
        404
    );

    let listed = app.get(
        "/api/v1/work-logs?from=2026-09-01&to=2026-09-30",
        inst.token("a.supervisor"),
    )?;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
    assert_eq!(
        app.get(
            "/api/v1/work-logs?from=2026-09-01&to=2026-09-30",
            inst.token("b.supervisor")
        )?
        .body
        .as_array()
        .map(Vec::len),
        Some(0)
    );

    // September: the second borrower has no entry.
    let short = app.get("/api/v1/work-logs/shortfalls?month=2026-09", officer)?;
    let names: Vec<&str> = short
        .body
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["borrower_name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(names, ["北京宏达物流有限公司"], "{}", short.text);
    let two = app.get(
        "/api/v1/work-logs/shortfalls?month=2026-09&minimum=2",
        officer,
    )?;
    assert_eq!(two.body.as_array().map(Vec::len), Some(2));
    assert_eq!(
        app.get("/api/v1/work-logs/shortfalls?month=September", officer)?
            .status,
        400
    );
    Ok(())
}

loanwatch_e2e::on_both_backends!(work_logs_are_written_signed_and_counted);
