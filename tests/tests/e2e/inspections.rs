//! Guided checklists: templates chosen by task, answers validated, sign-off and submission
//! blocked while anything is missing, new template versions leave started inspections alone.

use chrono::NaiveDate;
use loanwatch_e2e::{TestApp, enterprise, seed_institution};
use serde_json::{Value, json};

fn checklists_guide_and_gate_the_inspection(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京汇通商贸有限公司", 99),
    )?;
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": "I-1", "borrower_id": b.body["id"], "product": "流动资金贷款", "principal_fen": 200_000_00,
            "currency": "CNY", "annual_rate": "4.5", "repayment_method": "monthly_interest", "guarantee_method": "credit",
            "purpose": "采购原材料", "disbursement_date": "2026-06-15", "maturity_date": "2027-06-15",
        }),
    )?;
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();
    let day = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default();
    loanwatch_api::tasks::run(&mut app.conn()?, None, day, 3, false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tasks = app.get(&format!("/api/v1/tasks?loan_id={lid}"), officer)?;
    let first: Value = tasks.body["items"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|t| t["kind"] == "on_site_inspection")
                .cloned()
        })
        .unwrap_or_default();
    let id = first["id"].as_str().unwrap_or_default().to_owned();
    let act = |body: Value| app.post(&format!("/api/v1/tasks/{id}/actions"), officer, &body);

    assert_eq!(
        app.post(
            &format!("/api/v1/tasks/{id}/inspection"),
            officer,
            &json!({})
        )?
        .status,
        409,
        "started before the task"
    );
    assert_eq!(act(json!({ "action": "start", "version": 1 }))?.status, 200);
    let started = app.send(
        "POST",
        &format!("/api/v1/tasks/{id}/inspection"),
        Some(officer),
        None,
        &[],
    )?;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(
        started.body["template"]["code"].as_str(),
        Some("enterprise_first_inspection")
    );
    assert!(
        started.body["missing"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x["pointer"] == "/answers/check_in"))
    );
    // Starting again (a phone replaying its queue) answers the same inspection.
    let again = app.send(
        "POST",
        &format!("/api/v1/tasks/{id}/inspection"),
        Some(officer),
        None,
        &[],
    )?;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["template"], started.body["template"]);
    assert_eq!(app.count("inspections")?, 1);
    let save = |body: Value| app.patch(&format!("/api/v1/tasks/{id}/inspection"), officer, &body);

    let wrong = save(json!({ "answers": { "operations_status": "booming" } }))?;
    assert_eq!(
        (wrong.status, wrong.pointer()),
        (422, "/answers/operations_status"),
        "{}",
        wrong.text
    );
    let hidden = save(
        json!({ "answers": { "proceeds_as_agreed": true, "proceeds_deviation": "流入股市" } }),
    )?;
    assert_eq!(
        (hidden.status, hidden.pointer()),
        (422, "/answers/proceeds_deviation")
    );
    let unknown = save(json!({ "answers": { "favourite_colour": "red" } }))?;
    assert_eq!(unknown.status, 422);
    let ok = save(json!({ "answers": {
        "proceeds_as_agreed": false, "proceeds_deviation": "部分资金流入关联企业", "payee_matches_contract": true,
        "operations_status": "normal", "capacity_utilisation_pct": 85, "inventory_reasonable": true,
        "risk_assessment": "attention",
    } }))?;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // The GPS check-in and the photos are missing: sign-off is refused.
    let sign = save(json!({ "sign": true }))?;
    assert_eq!(
        (sign.status, sign.pointer()),
        (422, "/answers/check_in"),
        "{}",
        sign.text
    );
    // A check-in on the task satisfies the check-in item; the photos still block (media upload
    // is not built yet).
    let now = chrono::Utc::now().to_rfc3339();
    let checked = app.post(
        &format!("/api/v1/tasks/{id}/checkins"),
        officer,
        &json!({
            "id": "0196a000-0000-7000-8000-0000000000aa", "position": { "latitude": 39.91, "longitude": 116.38 },
            "datum": "wgs84", "accuracy_m": 10.0, "provider": "gps", "mock_location": false,
            "device_time": now, "fix_time": now,
        }),
    )?;
    assert_eq!(checked.status, 201, "{}", checked.text);
    let sign = save(json!({ "sign": true }))?;
    assert_eq!(sign.status, 422, "{}", sign.text);
    let blocking: Vec<&str> = sign.body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["pointer"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !blocking.is_empty() && !blocking.contains(&"/answers/check_in"),
        "{}",
        sign.text
    );
    let submit = act(json!({ "action": "submit", "version": 2 }))?;
    assert_eq!(
        (submit.status, submit.pointer()),
        (422, "/action"),
        "{}",
        submit.text
    );
    assert_eq!(
        app.patch(
            &format!("/api/v1/tasks/{id}/inspection"),
            inst.token("a.officer2"),
            &json!({ "sign": true })
        )?
        .status,
        404
    );

    // Photos uploaded and verified count towards their items: the inspection signs off and the
    // task is submitted.
    for (item, n) in [("site_photos", 2u8), ("proceeds_evidence", 1)] {
        for k in 0..n {
            loanwatch_e2e::attach_photo(
                app,
                officer,
                &id,
                item,
                &loanwatch_e2e::jpeg_bytes(k, 320),
            )?;
        }
    }
    let signed = save(json!({ "sign": true }))?;
    assert_eq!(signed.status, 200, "{}", signed.text);
    assert!(
        signed.body["signed_by"].as_str().is_some(),
        "{}",
        signed.text
    );
    let submitted = act(json!({ "action": "submit", "version": 2 }))?;
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    assert_eq!(submitted.body["status"], "submitted");

    // A new version of the template does not change the started inspection.
    let mut v2: Value = started.body["template"].clone();
    v2["sections"][0]["items"][1]["kind"]["min_count"] = json!(4);
    assert_eq!(
        app.send(
            "PUT",
            "/api/v1/checklist-templates/enterprise_first_inspection",
            Some(officer),
            Some(&v2.to_string()),
            &[]
        )?
        .status,
        403
    );
    let published = app.send(
        "PUT",
        "/api/v1/checklist-templates/enterprise_first_inspection",
        Some(inst.token("ho.risk")),
        Some(&v2.to_string()),
        &[],
    )?;
    assert_eq!(
        (published.status, published.body["version"].as_i64()),
        (200, Some(2)),
        "{}",
        published.text
    );
    let still = app.get(&format!("/api/v1/tasks/{id}/inspection"), officer)?;
    assert_eq!(still.body["template"]["version"].as_i64(), Some(1));
    assert_eq!(
        still.body["answers"]["operations_status"].as_str(),
        Some("normal")
    );

    // Tasks without a checklist are submitted directly.
    let confirm: Value = tasks.body["items"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|t| t["kind"] != "on_site_inspection")
                .cloned()
        })
        .unwrap_or_default();
    let cid = confirm["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the plan has no task without a checklist"))?
        .to_owned();
    let go = |body: Value| app.post(&format!("/api/v1/tasks/{cid}/actions"), officer, &body);
    assert_eq!(go(json!({ "action": "start", "version": 1 }))?.status, 200);
    assert_eq!(go(json!({ "action": "submit", "version": 2 }))?.status, 200);
    Ok(())
}

loanwatch_e2e::on_both_backends!(checklists_guide_and_gate_the_inspection);
