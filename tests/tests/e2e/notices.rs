//! The daily notice job and the notice endpoints.

use chrono::NaiveDate;
use loanwatch_e2e::{TestApp, enterprise, individual, seed_institution};
use serde_json::json;

fn the_notice_job_creates_each_notice_once_with_deadlines_in_working_days(
    app: &TestApp,
) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京德信机械有限公司", 91),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default();
    // Disbursed 26 Sep 2025: the first instalment falls due on Sun 26 Oct 2025.
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": "N-1", "borrower_id": bid, "product": "流动资金贷款", "principal_fen": 120_000_00,
            "currency": "CNY", "annual_rate": "6", "repayment_method": "equal_principal", "guarantee_method": "guarantee",
            "purpose": "采购原材料", "disbursement_date": "2025-09-26", "maturity_date": "2026-09-26",
        }),
    )?;
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();
    let g = app.post("/api/v1/guarantors", officer, &individual("赵敏", 12))?;
    let gid = g.body["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        app.post(
            &format!("/api/v1/loans/{lid}/guarantors"),
            officer,
            &json!({ "guarantor_id": gid })
        )?
        .status,
        201
    );

    // The day after the unpaid due date.
    let day = NaiveDate::from_ymd_opt(2025, 10, 27).unwrap_or_default();
    let first = loanwatch_api::notices::run(&mut app.conn()?, day, false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Due-date check, principal and interest collection, guarantee performance, default report;
    // the next interest reminder only starts on 12 Nov.
    assert!(first.ran && first.created == 5, "{first:?}");
    let again = loanwatch_api::notices::run(&mut app.conn()?, day, false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(!again.ran, "a second run for the same day was not refused");
    let forced = loanwatch_api::notices::run(&mut app.conn()?, day, true)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(forced.created, 0, "a forced rerun created notices twice");

    let list = app.get(&format!("/api/v1/notices?loan_id={lid}&limit=500"), officer)?;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len() as u64, first.created);
    let find = |kind: &str| {
        items
            .iter()
            .find(|n| n["kind"] == kind)
            .cloned()
            .unwrap_or_default()
    };
    // Within 10 working days after Sun 26 Oct 2025: Fri 7 Nov; interest within 5: Fri 31 Oct.
    assert_eq!(
        find("principal_collection")["due_date"].as_str(),
        Some("2025-11-07")
    );
    assert_eq!(
        find("interest_collection")["due_date"].as_str(),
        Some("2025-10-31")
    );
    assert_eq!(
        find("guarantee_performance")["addressee_id"].as_str(),
        Some(gid.as_str())
    );
    assert_eq!(
        find("default_report")["addressee_id"].as_str(),
        Some(inst.branch_a.as_str())
    );
    assert_eq!(
        find("due_date_check")["addressee_kind"].as_str(),
        Some("officer")
    );

    // Printable text, status forward only, and scope.
    let id = find("guarantee_performance")["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let one = app.get(&format!("/api/v1/notices/{id}"), officer)?;
    let zh = one.body["text"]["zh_cn"].as_str().unwrap_or_default();
    assert!(
        zh.contains("履行担保责任通知书") && zh.contains("赵敏") && zh.contains("N-1"),
        "{zh}"
    );
    assert!(
        one.body["text"]["en"]
            .as_str()
            .unwrap_or_default()
            .contains("perform your guarantee")
    );
    let sent = app.patch(
        &format!("/api/v1/notices/{id}"),
        officer,
        &json!({ "status": "sent", "note": "挂号信寄出" }),
    )?;
    assert_eq!(
        (sent.status, sent.body["status"].as_str()),
        (200, Some("sent")),
        "{}",
        sent.text
    );
    assert_eq!(
        sent.body["acted_by"].as_str(),
        Some(format!("user:{}", inst.user("a.officer")).as_str())
    );
    let back = app.patch(
        &format!("/api/v1/notices/{id}"),
        officer,
        &json!({ "status": "pending" }),
    )?;
    assert_eq!(back.status, 409);
    assert_eq!(
        app.get(&format!("/api/v1/notices/{id}"), inst.token("b.officer"))?
            .status,
        404
    );
    assert_eq!(
        app.get("/api/v1/notices", inst.token("b.supervisor"))?.body["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        app.patch(
            &format!("/api/v1/notices/{id}"),
            inst.token("auditor"),
            &json!({ "status": "acknowledged" })
        )?
        .status,
        403
    );
    let pending = app.get(
        &format!("/api/v1/notices?loan_id={lid}&status=pending&limit=500"),
        inst.token("a.supervisor"),
    )?;
    assert_eq!(
        pending.body["items"].as_array().map(Vec::len),
        Some(items.len() - 1)
    );
    assert_eq!(
        app.get("/api/v1/notices?kind=love_letter", officer)?.status,
        400
    );
    Ok(())
}

loanwatch_e2e::on_both_backends!(
    the_notice_job_creates_each_notice_once_with_deadlines_in_working_days
);
