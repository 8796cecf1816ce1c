//! The ledger through the API: borrowers, loans, events, security; filters, sorting, cursors.

use std::collections::BTreeSet;

use loanwatch_e2e::{TestApp, enterprise, loan_body, seed_institution};
use serde_json::{Value, json};

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn loans_filter_sort_and_page_without_gaps(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京瑞丰电子科技有限公司", 11),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    for i in 0..23 {
        let maturity = format!("2027-{:02}-15", 1 + i % 12);
        let mut body = loan_body(
            &bid,
            &format!("C-{i:03}"),
            1_000_000 + i64::from(i % 5) * 100_000,
            &maturity,
        );
        if i % 4 == 0 {
            body["class"] = json!("special_mention");
        }
        let r = app.post("/api/v1/loans", officer, &body)?;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // Page through every ordering; the union is every loan exactly once, in order.
    for sort in [
        "id",
        "-id",
        "maturity_date",
        "-maturity_date",
        "principal_fen",
        "-principal_fen",
        "contract_no",
        "-contract_no",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut keys = Vec::new();
        loop {
            let mut path = format!("/api/v1/loans?limit=5&sort={sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = app.get(&path, officer)?;
            assert_eq!(page.status, 200, "{}", page.text);
            for item in page.body["items"].as_array().cloned().unwrap_or_default() {
                let key = match sort.trim_start_matches('-') {
                    "maturity_date" => item["maturity_date"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    "principal_fen" => {
                        format!("{:020}", item["principal_fen"].as_i64().unwrap_or_default())
                    }
                    "contract_no" => item["contract_no"].as_str().unwrap_or_default().to_owned(),
                    _ => item["id"].as_str().unwrap_or_default().to_owned(),
                };
                keys.push((key, item["id"].as_str().unwrap_or_default().to_owned()));
            }
            seen.extend(ids(&page.body));
            cursor = page.body["next_cursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), 23, "{sort}: {} rows", seen.len());
        assert_eq!(
            seen.iter().collect::<BTreeSet<_>>().len(),
            23,
            "{sort}: duplicates"
        );
        let mut expected = keys.clone();
        expected.sort();
        if sort.starts_with('-') {
            expected.reverse();
        }
        assert_eq!(keys, expected, "{sort}: out of order");
    }
    // A cursor of one ordering is refused by another.
    let first = app.get("/api/v1/loans?limit=5&sort=maturity_date", officer)?;
    let c = first.body["next_cursor"].as_str().unwrap_or_default();
    let wrong = app.get(
        &format!("/api/v1/loans?limit=5&sort=principal_fen&cursor={c}"),
        officer,
    )?;
    assert_eq!((wrong.status, wrong.pointer()), (400, "#/query/cursor"));

    let count = |q: &str| -> anyhow::Result<usize> {
        Ok(ids(&app
            .get(&format!("/api/v1/loans?limit=500&{q}"), officer)?
            .body)
        .len())
    };
    assert_eq!(count("class=special_mention")?, 6);
    assert_eq!(count("maturity_from=2027-03-01&maturity_to=2027-04-30")?, 4);
    assert_eq!(count("q=C-01")?, 10);
    assert_eq!(
        count("q=%E7%91%9E%E4%B8%B0")?,
        23,
        "search by borrower name 瑞丰"
    );
    assert_eq!(count(&format!("borrower_id={bid}"))?, 23);
    assert_eq!(
        count(&format!("officer_id={}", inst.user("a.officer2")))?,
        0
    );
    assert_eq!(count(&format!("organisation_id={}", inst.branch_b))?, 0);
    assert_eq!(count(&format!("organisation_id={}", inst.branch_a))?, 23);
    assert_eq!(count("status=settled")?, 0);
    let bad_class = app.get("/api/v1/loans?class=excellent", officer)?;
    assert_eq!(
        (bad_class.status, bad_class.pointer()),
        (400, "#/query/class")
    );
    let bad_sort = app.get("/api/v1/loans?sort=password_hash", officer)?;
    assert_eq!((bad_sort.status, bad_sort.pointer()), (400, "#/query/sort"));
    let typo = app.get("/api/v1/loans?orgnisation_id=x", officer)?;
    assert_eq!(typo.status, 400, "an unknown filter was silently ignored");
    Ok(())
}

fn events_change_the_loan_and_history_is_kept(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京宏达建材有限公司", 21),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let l = app.post(
        "/api/v1/loans",
        officer,
        &loan_body(&bid, "E-1", 3_000_000_00, "2027-01-15"),
    )?;
    assert_eq!(l.status, 201, "{}", l.text);
    assert_eq!(
        (
            l.body["status"].as_str(),
            l.body["class"].as_str(),
            l.body["management_mode"].as_str()
        ),
        (Some("active"), Some("normal"), Some("regular"))
    );
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();
    let ev = |body: Value| app.post(&format!("/api/v1/loans/{lid}/events"), officer, &body);

    let pay =
        ev(json!({ "kind": "repayment", "business_date": "2026-02-15", "amount_fen": 10_875_00 }))?;
    assert_eq!(
        (pay.status, pay.body["currency"].as_str()),
        (201, Some("CNY")),
        "{}",
        pay.text
    );
    let ext = ev(
        json!({ "kind": "extension", "business_date": "2026-06-01", "new_maturity_date": "2027-07-15", "note": "展期半年" }),
    )?;
    assert_eq!(ext.status, 201, "{}", ext.text);
    let earlier = ev(
        json!({ "kind": "extension", "business_date": "2026-06-01", "new_maturity_date": "2027-03-01" }),
    )?;
    assert_eq!(
        (earlier.status, earlier.pointer()),
        (422, "/new_maturity_date")
    );
    let rate = ev(
        json!({ "kind": "rate_change", "business_date": "2026-03-20", "new_annual_rate": "3.95" }),
    )?;
    assert_eq!(rate.status, 201, "{}", rate.text);
    let stray = ev(
        json!({ "kind": "rate_change", "business_date": "2026-03-20", "new_annual_rate": "3.9", "amount_fen": 5 }),
    )?;
    assert_eq!((stray.status, stray.pointer()), (422, "/amount_fen"));
    let guar = ev(
        json!({ "kind": "guarantee_change", "business_date": "2026-04-01", "new_guarantee_method": "mortgage" }),
    )?;
    assert_eq!(guar.status, 201);
    let future =
        ev(json!({ "kind": "repayment", "business_date": "2099-01-01", "amount_fen": 100 }))?;
    assert_eq!((future.status, future.pointer()), (422, "/business_date"));
    let before =
        ev(json!({ "kind": "repayment", "business_date": "2025-12-31", "amount_fen": 100 }))?;
    assert_eq!(before.status, 422);
    let usd = ev(
        json!({ "kind": "repayment", "business_date": "2026-02-16", "amount_fen": 100, "currency": "USD" }),
    )?;
    assert_eq!((usd.status, usd.pointer()), (422, "/currency"));

    let now = app.get(&format!("/api/v1/loans/{lid}"), officer)?;
    assert_eq!(now.body["maturity_date"].as_str(), Some("2027-07-15"));
    assert_eq!(now.body["annual_rate"].as_str(), Some("3.95"));
    assert_eq!(now.body["guarantee_method"].as_str(), Some("mortgage"));

    let settle = ev(json!({ "kind": "settlement", "business_date": "2026-07-01" }))?;
    assert_eq!(settle.status, 201);
    assert_eq!(
        app.get(&format!("/api/v1/loans/{lid}"), officer)?.body["status"].as_str(),
        Some("settled")
    );
    let after = ev(json!({ "kind": "repayment", "business_date": "2026-07-02", "amount_fen": 1 }))?;
    assert_eq!(after.status, 422, "a settled loan took an event");

    let history = app.get(&format!("/api/v1/loans/{lid}/events"), officer)?;
    let kinds: Vec<&str> = history.body["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        [
            "disbursement",
            "repayment",
            "rate_change",
            "guarantee_change",
            "extension",
            "settlement"
        ]
    );
    assert_eq!(
        history.body["items"][0]["amount_fen"].as_i64(),
        Some(3_000_000_00)
    );

    // Class and mode change through PATCH; the audit trail records from and to.
    let patched = app.patch(
        &format!("/api/v1/loans/{lid}"),
        inst.token("a.supervisor"),
        &json!({ "class": "special_mention", "management_mode": "focused" }),
    )?;
    assert_eq!(
        (patched.status, patched.body["class"].as_str()),
        (200, Some("special_mention")),
        "{}",
        patched.text
    );
    Ok(())
}

fn guarantors_and_collateral_secure_loans(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京金泰食品有限公司", 31),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let l = app.post(
        "/api/v1/loans",
        officer,
        &loan_body(&bid, "S-1", 2_000_000_00, "2028-01-15"),
    )?;
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();
    let g = app.post(
        "/api/v1/guarantors",
        officer,
        &loanwatch_e2e::individual("李强", 9),
    )?;
    assert_eq!(g.status, 201, "{}", g.text);
    let gid = g.body["id"].as_str().unwrap_or_default().to_owned();
    let c = app.post(
        "/api/v1/collateral",
        officer,
        &json!({
            "borrower_id": bid, "owner_name": "北京金泰食品有限公司", "security_type": "mortgage",
            "asset_type": "real_estate", "description": "朝阳区厂房 3,200 平方米", "appraised_value_fen": 5_000_000_00,
            "registration_no": "京(2026)朝阳区不动产证明第0001234号", "insurance_expiry": "2027-06-30",
        }),
    )?;
    assert_eq!(c.status, 201, "{}", c.text);
    let cid = c.body["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        app.post(
            &format!("/api/v1/loans/{lid}/guarantors"),
            officer,
            &json!({ "guarantor_id": gid, "amount_fen": 2_000_000_00 })
        )?
        .status,
        201
    );
    let twice = app.post(
        &format!("/api/v1/loans/{lid}/guarantors"),
        officer,
        &json!({ "guarantor_id": gid }),
    )?;
    assert_eq!((twice.status, twice.code()), (409, "conflict"));
    assert_eq!(
        app.post(
            &format!("/api/v1/loans/{lid}/collateral"),
            officer,
            &json!({ "collateral_id": cid })
        )?
        .status,
        201
    );
    let security = app.get(&format!("/api/v1/loans/{lid}/security"), officer)?;
    assert_eq!(
        security.body["guarantors"][0]["id"].as_str(),
        Some(gid.as_str())
    );
    assert_eq!(
        security.body["collateral"][0]["appraised_value_fen"].as_i64(),
        Some(5_000_000_00)
    );
    // Officers of other branches see neither.
    assert_eq!(
        app.get(
            &format!("/api/v1/guarantors/{gid}"),
            inst.token("b.officer")
        )?
        .status,
        404
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/collateral/{cid}"),
            inst.token("b.officer")
        )?
        .status,
        404
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/collateral/{cid}"),
            inst.token("a.supervisor")
        )?
        .status,
        200
    );

    // Groups.
    let grp = app.post(
        "/api/v1/borrower-groups",
        inst.token("a.supervisor"),
        &json!({ "name": "金泰集团" }),
    )?;
    assert_eq!(grp.status, 201, "{}", grp.text);
    let gr_id = grp.body["id"].as_str().unwrap_or_default();
    let joined = app.patch(
        &format!("/api/v1/borrowers/{bid}"),
        officer,
        &json!({ "group_id": gr_id }),
    )?;
    assert_eq!(
        (joined.status, joined.body["group_id"].as_str()),
        (200, Some(gr_id)),
        "{}",
        joined.text
    );
    let members = app.get(
        &format!("/api/v1/borrowers?group_id={gr_id}"),
        inst.token("ho.risk"),
    )?;
    assert_eq!(ids(&members.body), vec![bid.clone()]);
    assert_eq!(
        app.get(
            &format!("/api/v1/borrower-groups/{gr_id}"),
            inst.token("b.supervisor")
        )?
        .status,
        404
    );
    Ok(())
}

fn duplicates_conflict_and_nothing_is_deleted(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京博远医药有限公司", 41),
    )?;
    let again = app.post(
        "/api/v1/borrowers",
        inst.token("a.officer2"),
        &enterprise("另一个名字", 41),
    )?;
    assert_eq!((again.status, again.code()), (409, "conflict"));
    assert!(
        again.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("credit code"),
        "{}",
        again.text
    );
    let bid = b.body["id"].as_str().unwrap_or_default();
    assert_eq!(
        app.post(
            "/api/v1/loans",
            officer,
            &loan_body(bid, "DUP-1", 100_00, "2027-01-15")
        )?
        .status,
        201
    );
    let dup = app.post(
        "/api/v1/loans",
        officer,
        &loan_body(bid, "DUP-1", 100_00, "2027-01-15"),
    )?;
    assert_eq!(dup.status, 409);
    let delete = app.send(
        "DELETE",
        &format!("/api/v1/borrowers/{bid}"),
        Some(officer),
        None,
        &[],
    )?;
    assert!(
        delete.status == 404 || delete.status == 405,
        "{}",
        delete.status
    );
    assert_eq!(
        app.get(&format!("/api/v1/borrowers/{bid}"), officer)?
            .status,
        200
    );
    Ok(())
}

loanwatch_e2e::on_both_backends!(
    loans_filter_sort_and_page_without_gaps,
    events_change_the_loan_and_history_is_kept,
    guarantors_and_collateral_secure_loans,
    duplicates_conflict_and_nothing_is_deleted,
);
