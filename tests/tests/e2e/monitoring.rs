//! Early warning: parties, accounts and transfers in; warnings raised as transfers arrive, with
//! the task and notifications of their tier; their life; versioned rules with a backtest; the
//! nightly batch finding what the real-time path found.

use std::collections::BTreeSet;

use loanwatch_e2e::{TestApp, enterprise, seed_institution};
use serde_json::{Value, json};

fn transfer(id: &str, at: &str, from: &str, to: &str, yuan: i64, loan: Option<&str>) -> Value {
    json!({
        "id": id, "booked_at": at, "from_account": from, "to_account": to,
        "amount_fen": yuan * 100, "loan_id": loan,
    })
}

/// Whether a warning is of a fund-flow rule. The loans of these scenarios are booked on fixed
/// dates in 2026; the suite runs on the machine's date, when their interest may be past due and
/// the health check rightly adds workflow warnings, which the scenarios leave aside.
fn is_flow(rule: &str) -> bool {
    rule.parse::<loanwatch_domain::monitoring::flow::FlowRule>()
        .is_ok()
}

fn batch(transfers: &[Value]) -> Value {
    json!({ "transfers": transfers })
}

/// (rule, tier, status, facts) of every warning the token sees, sorted.
fn warnings(app: &TestApp, token: &str) -> anyhow::Result<Vec<(String, String, String, Value)>> {
    let r = app.get("/api/v1/warnings?limit=500", token)?;
    anyhow::ensure!(r.status == 200, "{}", r.text);
    let mut out: Vec<(String, String, String, Value)> = r.body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|w| is_flow(w["rule"].as_str().unwrap_or_default()))
                .map(|w| {
                    (
                        w["rule"].as_str().unwrap_or_default().to_owned(),
                        w["tier"].as_str().unwrap_or_default().to_owned(),
                        w["period"].as_str().unwrap_or_default().to_owned(),
                        w["facts"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
    Ok(out)
}

fn find<'a>(list: &'a Value, rule: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|w| w["rule"] == rule))
        .unwrap_or(&Value::Null)
}

/// A borrower paying its loan's proceeds from account A-ME (party ME) to its supplier's A-S
/// (party SUPPLIER, the contract counterparty); returns the loan id.
fn watched_loan(app: &TestApp, officer: &str, n: u32) -> anyhow::Result<String> {
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京恒远机械有限公司", n),
    )?;
    anyhow::ensure!(b.status == 201, "{}", b.text);
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": format!("M-{n}"), "borrower_id": bid, "product": "流动资金贷款",
            "principal_fen": 10_000_000_00, "currency": "CNY", "annual_rate": "4",
            "repayment_method": "monthly_interest", "guarantee_method": "credit",
            "purpose": "采购钢材", "counterparty": "SUPPLIER",
            "disbursement_date": "2026-10-08", "maturity_date": "2027-10-08",
        }),
    )?;
    anyhow::ensure!(l.status == 201, "{}", l.text);
    for (path, body) in [
        (
            "/api/v1/parties/ME",
            json!({ "name": "恒远", "kind": "company", "borrower_id": bid }),
        ),
        (
            "/api/v1/parties/SUPPLIER",
            json!({ "name": "宝钢", "kind": "company" }),
        ),
        ("/api/v1/accounts/A-ME", json!({ "party_id": "ME" })),
        ("/api/v1/accounts/A-S", json!({ "party_id": "SUPPLIER" })),
    ] {
        let r = app.put(path, officer, &body)?;
        anyhow::ensure!(r.status == 200, "{path}: {}", r.text);
    }
    Ok(l.body["id"].as_str().unwrap_or_default().to_owned())
}

fn transfers_raise_tiered_warnings_with_their_tasks(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let risk = inst.token("ho.risk");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京恒远机械有限公司", 301),
    )?;
    assert_eq!(b.status, 201, "{}", b.text);
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": "M-1", "borrower_id": bid, "product": "流动资金贷款",
            "principal_fen": 10_000_000_00, "currency": "CNY", "annual_rate": "4",
            "repayment_method": "monthly_interest", "guarantee_method": "credit",
            "purpose": "采购钢材", "counterparty": "上海宝钢供应有限公司",
            "disbursement_date": "2026-10-08", "maturity_date": "2027-10-08",
        }),
    )?;
    assert_eq!(l.status, 201, "{}", l.text);
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();

    // Who is who.
    for (id, body) in [
        (
            "91110105MA0000301",
            json!({ "name": "北京恒远机械有限公司", "kind": "company", "borrower_id": bid }),
        ),
        (
            "SUPPLIER",
            json!({ "name": "上海宝钢供应有限公司", "kind": "company", "category": "manufacturing" }),
        ),
        (
            "DEVELOPER",
            json!({ "name": "恒大置业有限公司", "kind": "company", "category": "real_estate" }),
        ),
        (
            "SHAREHOLDER",
            json!({ "name": "王强", "kind": "individual" }),
        ),
    ] {
        let r = app.put(&format!("/api/v1/parties/{id}"), officer, &body)?;
        assert_eq!(r.status, 200, "{id}: {}", r.text);
    }
    let twice = app.put(
        "/api/v1/parties/OTHER",
        officer,
        &json!({ "name": "别的公司", "kind": "company", "borrower_id": bid }),
    )?;
    assert_eq!(twice.status, 409, "{}", twice.text);
    let bad_category = app.put(
        "/api/v1/parties/X",
        officer,
        &json!({ "name": "某公司", "kind": "company", "category": "Real Estate!" }),
    )?;
    assert_eq!(
        (bad_category.status, bad_category.pointer()),
        (422, "/category")
    );
    let related = app.put(
        &format!("/api/v1/borrowers/{bid}/related-parties"),
        officer,
        &json!({ "parties": [{ "party_id": "SHAREHOLDER", "relation": "shareholder" }] }),
    )?;
    assert_eq!(related.status, 200, "{}", related.text);
    let unknown_related = app.put(
        &format!("/api/v1/borrowers/{bid}/related-parties"),
        officer,
        &json!({ "parties": [
            { "party_id": "SHAREHOLDER", "relation": "shareholder" },
            { "party_id": "NOBODY", "relation": "director" },
        ] }),
    )?;
    assert_eq!(
        (
            unknown_related.status,
            unknown_related.body["errors"][0]["pointer"].as_str()
        ),
        (422, Some("/parties/1/party_id"))
    );
    for (no, party) in [
        ("6222-B", "91110105MA0000301"),
        ("6222-S", "SUPPLIER"),
        ("6222-D", "DEVELOPER"),
        ("6222-W", "SHAREHOLDER"),
    ] {
        let r = app.put(
            &format!("/api/v1/accounts/{no}"),
            officer,
            &json!({ "party_id": party }),
        )?;
        assert_eq!(r.status, 200, "{no}: {}", r.text);
    }
    let again = app.put(
        "/api/v1/accounts/6222-B",
        officer,
        &json!({ "party_id": "91110105MA0000301" }),
    )?;
    assert_eq!(again.status, 200);
    let moved = app.put(
        "/api/v1/accounts/6222-B",
        officer,
        &json!({ "party_id": "SUPPLIER" }),
    )?;
    assert_eq!(moved.status, 409, "{}", moved.text);
    let orphan = app.put(
        "/api/v1/accounts/6222-Z",
        officer,
        &json!({ "party_id": "NOBODY" }),
    )?;
    assert_eq!((orphan.status, orphan.pointer()), (422, "/party_id"));
    // A borrower's party follows the borrower's scope: another branch can neither rename it
    // nor hang accounts or relations on it.
    let b_officer = inst.token("b.officer");
    let renamed = app.put(
        "/api/v1/parties/91110105MA0000301",
        b_officer,
        &json!({ "name": "改名", "kind": "company" }),
    )?;
    assert_eq!(renamed.status, 404, "{}", renamed.text);
    let foreign_account = app.put(
        "/api/v1/accounts/6222-Q",
        b_officer,
        &json!({ "party_id": "91110105MA0000301" }),
    )?;
    assert_eq!(
        (foreign_account.status, foreign_account.pointer()),
        (422, "/party_id")
    );
    let map = app.get(&format!("/api/v1/borrowers/{bid}/parties"), officer)?;
    assert_eq!(map.status, 200, "{}", map.text);
    assert_eq!(map.body["accounts"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        app.get(
            &format!("/api/v1/borrowers/{bid}/parties"),
            inst.token("b.officer")
        )?
        .status,
        404
    );

    // Bad rows refuse the whole batch, each named; nothing is stored.
    let t1 = transfer(
        "T1",
        "2026-11-02T10:00:00+08:00",
        "6222-B",
        "6222-S",
        2_000_000,
        Some(&lid),
    );
    let t2 = transfer(
        "T2",
        "2026-11-03T10:00:00+08:00",
        "6222-B",
        "6222-D",
        6_000_000,
        Some(&lid),
    );
    let bad = app.post(
        "/api/v1/transfers",
        risk,
        &batch(&[
            t1.clone(),
            transfer(
                "Z1",
                "2026-11-02T10:00:00+08:00",
                "6222-B",
                "6222-S",
                0,
                None,
            ),
            transfer(
                "Z2",
                "2026-11-02T10:00:00+08:00",
                "9999-1",
                "9999-2",
                10,
                None,
            ),
            transfer(
                "Z3",
                "2026-11-02T10:00:00+08:00",
                "6222-S",
                "6222-B",
                10,
                Some(&lid),
            ),
            transfer(
                "Z4",
                "2099-11-02T10:00:00+08:00",
                "6222-B",
                "6222-S",
                10,
                None,
            ),
        ]),
    )?;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.body["errors"][0]["pointer"], "/transfers/1/amount_fen");
    assert_eq!(bad.body["errors"][1]["pointer"], "/transfers/4/booked_at");
    let bad = app.post(
        "/api/v1/transfers",
        risk,
        &batch(&[
            t1.clone(),
            transfer(
                "Z2",
                "2026-11-02T10:00:00+08:00",
                "9999-1",
                "9999-2",
                10,
                None,
            ),
            transfer(
                "Z3",
                "2026-11-02T10:00:00+08:00",
                "6222-S",
                "6222-B",
                10,
                Some(&lid),
            ),
            transfer(
                "Z5",
                "2026-11-02T10:00:00+08:00",
                "6222-B",
                "6222-S",
                10,
                Some("no-such-loan"),
            ),
        ]),
    )?;
    assert_eq!(bad.status, 422, "{}", bad.text);
    let pointers: Vec<&str> = bad.body["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        pointers,
        [
            "/transfers/1/from_account",
            "/transfers/2/from_account",
            "/transfers/3/loan_id"
        ]
    );
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| {
            transfer(
                &format!("N{i}"),
                "2026-11-02T10:00:00+08:00",
                "6222-B",
                "6222-S",
                1,
                None,
            )
        })
        .collect();
    let r = app.post("/api/v1/transfers", risk, &batch(&too_many))?;
    assert_eq!((r.status, r.pointer()), (422, "/transfers"));
    let doubled = app.post(
        "/api/v1/transfers",
        risk,
        &batch(&[
            t1.clone(),
            transfer(
                "T1",
                "2026-11-02T10:00:00+08:00",
                "6222-B",
                "6222-S",
                3,
                None,
            ),
        ]),
    )?;
    assert_eq!(
        (doubled.status, doubled.pointer()),
        (409, "/transfers/1/id")
    );
    assert_eq!(app.count("fund_transfers")?, 0);
    assert_eq!(app.count("warnings")?, 0);

    // Proceeds to the counterparty are fine; a large payment to a developer is not.
    // Another branch cannot write transfers on this branch's borrower's accounts, with or
    // without a loan.
    let other_branch = app.post(
        "/api/v1/transfers",
        inst.token("b.officer"),
        &batch(&[transfer(
            "Z6",
            "2026-11-02T10:00:00+08:00",
            "6222-S",
            "6222-B",
            10,
            None,
        )]),
    )?;
    assert_eq!(
        (other_branch.status, other_branch.pointer()),
        (422, "/transfers/0/to_account"),
        "{}",
        other_branch.text
    );
    let first = app.post("/api/v1/transfers", risk, &batch(&[t1.clone(), t2.clone()]))?;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        (
            first.body["accepted"].as_u64(),
            first.body["replayed"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let raised: BTreeSet<(String, String)> = first.body["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|w| is_flow(w["rule"].as_str().unwrap_or_default()))
                .map(|w| {
                    (
                        w["rule"].as_str().unwrap_or_default().to_owned(),
                        w["tier"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        raised,
        [
            ("large_transfer".to_owned(), "yellow".to_owned()),
            ("not_counterparty".to_owned(), "yellow".to_owned()),
            ("restricted_category".to_owned(), "red".to_owned()),
        ]
        .into()
    );
    // A resend is a replay; the same id with other content is refused.
    let resend = app.post("/api/v1/transfers", risk, &batch(&[t1.clone(), t2.clone()]))?;
    assert_eq!(resend.status, 200, "{}", resend.text);
    assert_eq!(
        (
            resend.body["accepted"].as_u64(),
            resend.body["replayed"].as_u64()
        ),
        (Some(0), Some(2))
    );
    assert_eq!(resend.body["warnings"], json!([]));
    let changed = app.post(
        "/api/v1/transfers",
        risk,
        &batch(&[transfer(
            "T2",
            "2026-11-03T10:00:00+08:00",
            "6222-B",
            "6222-D",
            6_000_001,
            Some(&lid),
        )]),
    )?;
    assert_eq!(
        (changed.status, changed.pointer()),
        (409, "/transfers/0/id"),
        "{}",
        changed.text
    );

    // The supplier pays most of it on to the shareholder: flow-back, found as it arrives.
    // Posted by someone of another branch: stored and evaluated, but the warning it raises on
    // this branch's borrower is not shown to them.
    let back = app.post(
        "/api/v1/transfers",
        inst.token("b.officer"),
        &batch(&[transfer(
            "T3",
            "2026-11-05T09:00:00+08:00",
            "6222-S",
            "6222-W",
            1_500_000,
            None,
        )]),
    )?;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["accepted"], 1);
    assert_eq!(back.body["warnings"], json!([]));
    let mine = app.get("/api/v1/warnings?rule=flow_back", officer)?;
    let flow_back = find(&mine.body["items"], "flow_back").clone();
    assert_eq!(flow_back["tier"], "red", "{}", mine.text);
    assert_eq!(flow_back["facts"], json!(["T1", "T3"]));
    assert_eq!(flow_back["period"], "2026-11");

    // Red: an on-site inspection for the officer, the supervisor told. Both red warnings of the
    // day share the one task.
    let task_id = flow_back["task_id"].as_str().unwrap_or_default().to_owned();
    let restricted = find(&first.body["warnings"], "restricted_category");
    assert_eq!(restricted["task_id"].as_str(), Some(task_id.as_str()));
    let task = app.get(&format!("/api/v1/tasks/{task_id}"), officer)?;
    assert_eq!(task.status, 200, "{}", task.text);
    assert_eq!(task.body["kind"], "on_site_inspection");
    let large = find(&first.body["warnings"], "large_transfer");
    let follow_up = app.get(
        &format!(
            "/api/v1/tasks/{}",
            large["task_id"].as_str().unwrap_or_default()
        ),
        officer,
    )?;
    assert_eq!(
        follow_up.body["kind"], "phone_follow_up",
        "{}",
        follow_up.text
    );
    let told = app.get("/api/v1/me/notifications", inst.token("a.supervisor"))?;
    let kinds: Vec<&str> = told.body["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds.iter().filter(|k| **k == "warning.raised").count(),
        2,
        "{}",
        told.text
    );

    // Scope: another branch sees none of it.
    assert!(warnings(app, inst.token("b.officer"))?.is_empty());
    let id = flow_back["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        app.get(&format!("/api/v1/warnings/{id}"), inst.token("b.officer"))?
            .status,
        404
    );
    assert_eq!(warnings(app, officer)?.len(), 4);

    // Its life: acknowledged, escalated, resolved by the supervisor with a reason.
    let act = |token: &str, body: Value| {
        app.post(&format!("/api/v1/warnings/{id}/actions"), token, &body)
    };
    let ack = act(officer, json!({ "action": "acknowledge", "version": 1 }))?;
    assert_eq!(
        (ack.status, ack.body["status"].as_str()),
        (200, Some("acknowledged")),
        "{}",
        ack.text
    );
    assert_eq!(
        act(officer, json!({ "action": "escalate", "version": 1 }))?.status,
        409
    );
    assert_eq!(
        act(officer, json!({ "action": "acknowledge", "version": 2 }))?.status,
        409
    );
    let no_reason = act(officer, json!({ "action": "resolve", "version": 2 }))?;
    assert_eq!((no_reason.status, no_reason.pointer()), (422, "/comment"));
    let up = act(
        officer,
        json!({ "action": "escalate", "version": 2, "comment": "回流至股东，需风险部判断" }),
    )?;
    assert_eq!(up.body["status"], "escalated", "{}", up.text);
    assert_eq!(
        act(
            officer,
            json!({ "action": "resolve", "version": 3, "comment": "已说明" })
        )?
        .status,
        403
    );
    let done = act(
        inst.token("a.supervisor"),
        json!({ "action": "resolve", "version": 3, "comment": "股东归还借款，已核实合同" }),
    )?;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["status"], "resolved");
    assert_eq!(done.body["resolution"], "股东归还借款，已核实合同");
    let steps: Vec<&str> = done.body["history"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(steps, ["raise", "acknowledge", "escalate", "resolve"]);
    assert_eq!(
        app.get("/api/v1/warnings?status=resolved", officer)?.body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        app.get("/api/v1/warnings?status=closed", officer)?.status,
        400
    );

    // The nightly batch over the same history finds exactly what the real-time path found.
    let live = warnings(app, officer)?;
    {
        use diesel::RunQueryDsl;
        let mut conn = app.conn()?;
        diesel::sql_query("DELETE FROM warning_events").execute(&mut conn)?;
        diesel::sql_query("DELETE FROM warnings").execute(&mut conn)?;
    }
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 6).unwrap_or_default();
    let nightly = loanwatch_api::monitoring::rules::run_nightly(
        &mut app.conn()?,
        None,
        as_of,
        app.state.config.time_zone,
        false,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!((nightly.transfers, nightly.raised), (3, 4));
    assert_eq!(warnings(app, officer)?, live);

    // A batch is checked before its write transaction; the same batch stored by another request
    // in between is a replay when the store comes, and another content under its id a conflict.
    use loanwatch_api::monitoring::{ingest::store, routes::check};
    let raw = transfer(
        "T-RACE",
        "2026-11-05T09:00:00Z",
        "6222-S",
        "6222-D",
        10,
        None,
    );
    let new: loanwatch_api_types::monitoring::NewTransfer = serde_json::from_value(raw.clone())?;
    let hash = loanwatch_api::extract::content_hash(&new).map_err(|e| anyhow::anyhow!("{e}"))?;
    let scope = loanwatch_store::ScopeFilter::Subtree {
        path_prefix: "/".to_owned(),
    };
    let mut conn = app.conn()?;
    let checked = check(&mut conn, &scope, &[new], &[hash]).map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!((checked.rows.len(), checked.replayed), (1, 0));
    let first = app.post("/api/v1/transfers", risk, &batch(&[raw]))?;
    assert_eq!(first.body["accepted"], 1, "{}", first.text);
    let (tz, today) = (app.state.config.time_zone, app.state.today());
    let ctx = loanwatch_store::AuditContext {
        actor: "test".to_owned(),
        request_id: "race".to_owned(),
    };
    let mut rules = loanwatch_api::monitoring::rules::Parsed::default();
    let late = loanwatch_store::write(&mut conn, ctx.clone(), |tx| {
        store(tx, &scope, checked.clone(), &mut rules, tz, today)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!((late.accepted, late.replayed), (0, 1));
    let mut other = checked;
    other.rows[0].1.amount_fen += 1;
    other.rows[0].1.content_hash = "another content".to_owned();
    let refused = loanwatch_store::write(&mut conn, ctx, |tx| {
        store(tx, &scope, other, &mut rules, tz, today)
    })
    .err()
    .map(|e| e.problem());
    assert_eq!(
        refused.map(|p| (p.status, p.errors[0].pointer.clone())),
        Some((409, "/transfers/0/id".to_owned()))
    );
    Ok(())
}

fn rule_sets_are_versioned_backtested_and_activated(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let risk = inst.token("ho.risk");
    let list = app.get("/api/v1/rule-sets", officer)?;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body[0]["status"], "active");
    assert_eq!(
        list.body[0]["definition"]["actions"]["red"]["task"],
        "on_site_inspection"
    );

    let draft = |definition: Value| {
        app.post(
            "/api/v1/rule-sets",
            risk,
            &json!({ "definition": definition, "note": "提高大额阈值" }),
        )
    };
    assert_eq!(
        app.post("/api/v1/rule-sets", officer, &json!({ "definition": {} }))?
            .status,
        403
    );
    for (definition, pointer) in [
        (
            json!({ "flow": { "large_transfer_fen": 0 } }),
            "/definition/flow/large_transfer_fen",
        ),
        (json!({ "flow": { "large": 1 } }), "/definition/flow"),
        (
            json!({ "flow": { "restricted_categories": ["Real Estate"] } }),
            "/definition/flow/restricted_categories",
        ),
        (
            json!({ "actions": { "red": { "task": "work_log", "within_working_days": 3, "notify_supervisor": true } } }),
            "/definition/actions/red/task",
        ),
    ] {
        let r = draft(definition)?;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(
            r.pointer().starts_with(pointer),
            "{} vs {pointer}",
            r.pointer()
        );
    }
    assert_eq!(app.count("rule_sets")?, 1);

    let v2 = draft(json!({ "flow": { "large_transfer_fen": 1_000_000_000 } }))?;
    assert_eq!(v2.status, 201, "{}", v2.text);
    assert_eq!(
        (v2.body["version"].as_i64(), v2.body["status"].as_str()),
        (Some(2), Some("draft"))
    );
    assert_eq!(v2.body["definition"]["flow"]["flow_back_days"], 30);

    // A borrower paying 6 million to a supplier: large under version 1, not under the draft.
    let lid = watched_loan(app, officer, 302)?;
    let r = app.post(
        "/api/v1/transfers",
        risk,
        &batch(&[transfer(
            "P1",
            "2026-11-02T10:00:00+08:00",
            "A-ME",
            "A-S",
            6_000_000,
            Some(&lid),
        )]),
    )?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        find(&r.body["warnings"], "large_transfer")["rule_version"],
        1
    );

    let test = app.post(
        "/api/v1/rule-sets/2/backtest",
        risk,
        &json!({ "from": "2026-10-01", "to": "2026-11-20" }),
    )?;
    assert_eq!(test.status, 200, "{}", test.text);
    assert_eq!(test.body["transfers"], 1);
    assert_eq!(test.body["would_raise"], json!([]));
    assert_eq!(
        test.body["in_force"],
        json!([{ "rule": "large_transfer", "tier": "yellow", "count": 1 }])
    );
    assert_eq!(
        app.post("/api/v1/rule-sets/9/backtest", risk, &json!({}))?
            .status,
        404
    );
    let backwards = app.post(
        "/api/v1/rule-sets/2/backtest",
        risk,
        &json!({ "from": "2026-11-20", "to": "2026-10-01" }),
    )?;
    assert_eq!((backwards.status, backwards.pointer()), (422, "/from"));

    let past = app.post(
        "/api/v1/rule-sets/2/activate",
        risk,
        &json!({ "active_from": "2026-01-01" }),
    )?;
    assert_eq!((past.status, past.pointer()), (422, "/active_from"));
    let tomorrow = (app.state.today() + chrono::Duration::days(1)).to_string();
    let on = app.post(
        "/api/v1/rule-sets/2/activate",
        risk,
        &json!({ "active_from": tomorrow }),
    )?;
    assert_eq!(on.status, 200, "{}", on.text);
    assert_eq!(on.body["status"], "scheduled");
    assert_eq!(
        app.post(
            "/api/v1/rule-sets/2/activate",
            risk,
            &json!({ "active_from": tomorrow })
        )?
        .status,
        409
    );
    Ok(())
}

/// A minimal workbook: one sheet of inline strings and numbers.
fn xlsx(path: &std::path::Path, rows: &[Vec<Value>]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, v) in row.iter().enumerate() {
            let at = format!("{}{}", char::from(b'A' + c as u8), r + 1);
            match v {
                Value::Number(n) => sheet.push_str(&format!(r#"<c r="{at}"><v>{n}</v></c>"#)),
                other => sheet.push_str(&format!(
                    r#"<c r="{at}" t="inlineStr"><is><t>{}</t></is></c>"#,
                    other.as_str().unwrap_or_default()
                )),
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_owned()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned()),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="流水" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned()),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_owned()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    for (name, text) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())?;
        zip.write_all(text.as_bytes())?;
    }
    zip.finish()?;
    Ok(())
}

fn transfers_import_from_csv_and_xlsx(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let lid = watched_loan(app, officer, 303)?;

    let dir = tempfile::tempdir()?;
    let tz = app.state.config.time_zone;
    let today = app.state.today();
    let import = |path: &std::path::Path| {
        let mut seen = Vec::new();
        let out = loanwatch_api::monitoring::import::import_transfers(
            &mut app.conn()?,
            path,
            tz,
            today,
            2,
            &mut |done, all| seen.push((done, all)),
        );
        out.map(|r| (r, seen))
    };

    // Malformed rows: every one reported by line, nothing imported.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "id,booked_at,from_account,to_account,amount_fen,loan_id,memo\n\
             C1,2026-11-02 10:00:00,A-ME,A-S,100000000,{lid},货款\n\
             C2,2026-11-02 11:00:00,A-ME,A-S,12.5,,\n\
             C3,yesterday,A-ME,A-S,100,,\n\
             C4,2026-11-02 12:00:00,X-1,X-2,100,,\n\
             C1,2026-11-02 10:00:00,A-ME,A-S,1,,\n"
        ),
    )?;
    let (outcome, _) = import(&bad)?;
    let rejected = outcome.err().unwrap_or_default();
    let lines: Vec<(usize, &str)> = rejected
        .iter()
        .map(|r| (r.line, r.column.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (3, "amount_fen"),
            (4, "booked_at"),
            (5, "from_account"),
            (6, "id")
        ],
        "{rejected:?}"
    );
    assert_eq!(app.count("fund_transfers")?, 0);
    let unknown = dir.path().join("unknown.csv");
    std::fs::write(&unknown, "id,when,from_account,to_account,amount_fen\n")?;
    let (outcome, _) = import(&unknown)?;
    assert_eq!(outcome.err().map(|r| r.len()), Some(2));

    // A clean file goes in batches (of 2 here), with progress; a rerun replays.
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!(
            "id,booked_at,from_account,to_account,amount_fen,loan_id\n\
             C1,2026-11-02 10:00:00,A-ME,A-S,100000000,{lid}\n\
             C2,2026-11-02T11:00:00+08:00,A-ME,A-S,600000000,{lid}\n\
             C3,2026-11-03 09:30,A-S,A-ME,100,\n"
        ),
    )?;
    let (outcome, seen) = import(&good)?;
    let report = outcome.map_err(|r| anyhow::anyhow!("{r:?}"))?;
    assert_eq!((report.rows, report.accepted, report.replayed), (3, 3, 0));
    let large = app.get("/api/v1/warnings?rule=large_transfer", officer)?;
    assert_eq!(
        large.body["items"].as_array().map(Vec::len),
        Some(1),
        "the 6-million payment is large: {}",
        large.text
    );
    assert_eq!(report.warnings as i64, app.count("warnings")?);
    assert_eq!(seen, [(2, 3), (3, 3)]);
    let (outcome, _) = import(&good)?;
    let again = outcome.map_err(|r| anyhow::anyhow!("{r:?}"))?;
    assert_eq!((again.accepted, again.replayed, again.warnings), (0, 3, 0));

    // The same from a workbook, numbers as numbers.
    let book = dir.path().join("flow.xlsx");
    xlsx(
        &book,
        &[
            vec![
                json!("id"),
                json!("booked_at"),
                json!("from_account"),
                json!("to_account"),
                json!("amount_fen"),
                json!("loan_id"),
            ],
            vec![
                json!("X1"),
                json!("2026-11-04 10:00:00"),
                json!("A-ME"),
                json!("A-S"),
                json!(250000),
                json!(lid),
            ],
            vec![
                json!("X2"),
                json!("2026-11-04 11:00:00"),
                json!("A-ME"),
                json!("A-S"),
                json!(-5),
                json!(lid),
            ],
        ],
    )?;
    let (outcome, _) = import(&book)?;
    let rejected = outcome.err().unwrap_or_default();
    assert_eq!(
        rejected
            .iter()
            .map(|r| (r.line, r.column.as_str()))
            .collect::<Vec<_>>(),
        [(3, "amount_fen")]
    );
    xlsx(
        &book,
        &[
            vec![
                json!("id"),
                json!("booked_at"),
                json!("from_account"),
                json!("to_account"),
                json!("amount_fen"),
                json!("loan_id"),
            ],
            vec![
                json!("X1"),
                json!("2026-11-04 10:00:00"),
                json!("A-ME"),
                json!("A-S"),
                json!(250000),
                json!(lid),
            ],
        ],
    )?;
    let (outcome, _) = import(&book)?;
    let report = outcome.map_err(|r| anyhow::anyhow!("{r:?}"))?;
    assert_eq!((report.rows, report.accepted), (1, 1));
    assert_eq!(app.count("fund_transfers")?, 4);
    Ok(())
}

/// The borrower's settlement at this bank falls from 3 million yuan over May–July to 0.6
/// million over August–October: the nightly batch raises it once for November.
fn settlement_falling_is_found_by_the_nightly_batch(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    watched_loan(app, officer, 411)?;
    let receipts: Vec<Value> = [
        (5, 1_000_000),
        (6, 1_000_000),
        (7, 1_000_000),
        (8, 200_000),
        (9, 200_000),
        (10, 200_000),
    ]
    .into_iter()
    .map(|(month, yuan)| {
        transfer(
            &format!("S-{month}"),
            &format!("2026-{month:02}-15T10:00:00+08:00"),
            "A-S",
            "A-ME",
            yuan,
            None,
        )
    })
    .collect();
    let posted = app.post(
        "/api/v1/transfers",
        inst.token("ho.risk"),
        &batch(&receipts),
    )?;
    assert_eq!(posted.status, 200, "{}", posted.text);
    assert!(
        !warnings(app, officer)?
            .iter()
            .any(|w| w.0 == "settlement_falling"),
        "a monthly rule is the nightly batch's"
    );
    let run = |day: u32| {
        loanwatch_api::monitoring::rules::run_nightly(
            &mut app.conn()?,
            Some(&mut app.conn()?),
            chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap_or_default(),
            app.state.config.time_zone,
            true,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
    };
    run(5)?;
    run(6)?;
    let found: Vec<_> = warnings(app, officer)?
        .into_iter()
        .filter(|w| w.0 == "settlement_falling")
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].1.as_str(), found[0].2.as_str()),
        ("yellow", "2026-11")
    );
    let listed = app.get("/api/v1/warnings?limit=500", officer)?;
    let w = find(&listed.body["items"], "settlement_falling");
    let detail = w["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("3,000,000.00") && detail.contains("600,000.00"),
        "{w}"
    );
    // The facts are the six months compared, with their volumes in fen.
    let months: Vec<String> = (5..=10)
        .map(|m| {
            let fen = if m <= 7 { 100_000_000 } else { 20_000_000 };
            format!("settlement:2026-{m:02}:{fen}")
        })
        .collect();
    assert_eq!(w["facts"], json!(months), "{w}");
    assert!(
        w["task_id"].is_string(),
        "a yellow warning creates its task: {w}"
    );
    Ok(())
}

/// `loanwatch bench flow` at a small scale, as a cross-check: on a generated stream over the
/// demo portfolio, every rule's SQL query must count exactly what the engine found (the run
/// fails otherwise), the nightly batch from the database must find what the engine found in
/// memory, the real-time path evaluating transfers one by one (the stream's last ones, and
/// those the batch found hits on) must find what the batch found on them, and every real-time POST must be answered 200.
fn the_flow_rules_agree_with_one_sql_query_per_rule(app: &TestApp) -> anyhow::Result<()> {
    let config = (*app.state.config).clone();
    let spec = loanwatch_api::flow_bench::FlowBenchSpec {
        loans: 400,
        transfers: 30_000,
        days: 200,
        rate: 20,
        seconds: 1,
        connections: 2,
        seed: 7,
        user: "ho.risk".to_owned(),
        as_of: chrono::Utc::now()
            .with_timezone(&config.time_zone)
            .date_naive(),
    };
    let report = loanwatch_api::flow_bench::run(&config, &spec)?;
    assert_eq!(report.transfers, 30_000);
    for rule in &report.rules {
        assert!(!rule.exact || rule.sql == rule.engine, "{rule:?}");
    }
    // The stream exercises the rules that need history, not only the one-transfer ones.
    for name in [
        "flow_back_1_hop",
        "flow_back_2_hops",
        "not_counterparty",
        "settlement_falling",
    ] {
        let found = report
            .rules
            .iter()
            .find(|r| r.rule == name)
            .map_or(0, |r| r.engine);
        assert!(found > 0, "{name} found nothing: {:?}", report.rules);
    }
    assert!(report.e2e_raised > 0);
    assert!(report.replayed > 2_000, "no hit was replayed");
    assert!(
        report.replay_hits > 0,
        "the replayed transfers broke no rule"
    );
    assert_eq!(report.realtime_sent, 20);
    Ok(())
}

/// A request's answer as compared: what it stored and raised, or its refusal.
type Outcome = Result<(u64, u64, Vec<(String, String, Option<String>, Vec<String>)>), Refusal>;

fn outcome(a: &loanwatch_api::monitoring::ingest::Answer) -> Outcome {
    match a {
        Ok(r) => {
            let mut w: Vec<_> = r
                .warnings
                .iter()
                .filter(|w| is_flow(&w.rule))
                .map(|w| {
                    (
                        w.rule.clone(),
                        w.tier.as_str().to_owned(),
                        w.loan_id.clone(),
                        w.facts.clone(),
                    )
                })
                .collect();
            w.sort();
            Ok((r.accepted, r.replayed, w))
        }
        Err(e) => {
            let p = e.problem();
            Err((p.status, p.errors.into_iter().map(|f| f.pointer).collect()))
        }
    }
}

/// Transfers as a handler has them: parsed, each with its content hash.
fn parsed_and_hashed<'a>(
    ts: impl IntoIterator<Item = &'a Value>,
) -> anyhow::Result<(
    Vec<loanwatch_api_types::monitoring::NewTransfer>,
    Vec<String>,
)> {
    let transfers: Vec<loanwatch_api_types::monitoring::NewTransfer> = ts
        .into_iter()
        .map(|t| serde_json::from_value(t.clone()))
        .collect::<Result<_, _>>()?;
    let hashes = transfers
        .iter()
        .map(loanwatch_api::extract::content_hash)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((transfers, hashes))
}

/// A refusal as compared: status and field pointers.
type Refusal = (u16, Vec<String>);

/// Each outcome's (accepted, replayed), or its refusal.
fn counts(outcomes: &[Outcome]) -> Vec<Result<(u64, u64), Refusal>> {
    outcomes
        .iter()
        .map(|o| o.as_ref().map(|(a, r, _)| (*a, *r)).map_err(Clone::clone))
        .collect()
}

/// The outcomes of a group written in a transaction that is then rolled back.
fn rolled_back(
    conn: &mut loanwatch_store::DbConn,
    group: impl FnOnce(
        &mut loanwatch_store::WriteTx<'_>,
    ) -> Result<
        Vec<loanwatch_api::monitoring::ingest::Answer>,
        loanwatch_api::ApiError,
    >,
) -> anyhow::Result<Vec<Outcome>> {
    let ctx = loanwatch_store::AuditContext {
        actor: "test:group".to_owned(),
        request_id: "group".to_owned(),
    };
    let mut outcomes = Vec::new();
    let written = loanwatch_store::write(conn, ctx, |tx| {
        outcomes = group(tx)?.iter().map(outcome).collect();
        Err::<(), loanwatch_api::ApiError>(diesel::result::Error::RollbackTransaction.into())
    });
    anyhow::ensure!(
        written.is_err(),
        "the group's transaction was not rolled back"
    );
    Ok(outcomes)
}

/// Posted batches are stored together (group commit), yet each request is answered as if
/// stored alone, in arrival order: its replays, a conflict that refuses it alone, the warnings
/// it raised and may see; its audit entry and its warnings' steps under its own sender. Many
/// requests posted at once are all stored, a transfer sent by several of them exactly once.
fn transfers_stored_together_answer_as_if_stored_alone(app: &TestApp) -> anyhow::Result<()> {
    use diesel::RunQueryDsl;
    use loanwatch_api::monitoring::{
        ingest::{Job, store, store_group},
        routes::check,
        rules::Parsed,
    };
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let lid = watched_loan(app, officer, 401)?;
    for (path, body) in [
        (
            "/api/v1/parties/DEV",
            json!({ "name": "恒大置业有限公司", "kind": "company", "category": "real_estate" }),
        ),
        (
            "/api/v1/parties/PERSON",
            json!({ "name": "王强", "kind": "individual" }),
        ),
        ("/api/v1/accounts/A-D", json!({ "party_id": "DEV" })),
        ("/api/v1/accounts/A-P", json!({ "party_id": "PERSON" })),
    ] {
        let r = app.put(path, officer, &body)?;
        anyhow::ensure!(r.status == 200, "{path}: {}", r.text);
    }
    let l = Some(lid.as_str());
    let g1 = transfer(
        "G1",
        "2026-11-02T10:00:00+08:00",
        "A-ME",
        "A-S",
        2_000_000,
        l,
    );
    let g2 = transfer(
        "G2",
        "2026-11-03T10:00:00+08:00",
        "A-ME",
        "A-D",
        6_000_000,
        l,
    );
    let g3 = transfer("G3", "2026-11-04T10:00:00+08:00", "A-ME", "A-P", 10, l);
    let g2x = transfer(
        "G2",
        "2026-11-03T10:00:00+08:00",
        "A-ME",
        "A-D",
        6_000_001,
        l,
    );
    let g4 = transfer(
        "G4",
        "2026-11-05T10:00:00+08:00",
        "A-S",
        "A-ME",
        1_900_000,
        None,
    );
    let scope = loanwatch_store::ScopeFilter::Subtree {
        path_prefix: "/".to_owned(),
    };
    let (tz, today) = (app.state.config.time_zone, app.state.today());
    let mut conn = app.conn()?;
    let job = |conn: &mut loanwatch_store::DbConn,
               who: &str,
               sees: &loanwatch_store::ScopeFilter,
               ts: &[&Value]| {
        let (batch, hashes) = parsed_and_hashed(ts.iter().copied())?;
        let checked = check(conn, &scope, &batch, &hashes).map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::Ok(Job {
            ctx: loanwatch_store::AuditContext {
                actor: format!("test:{who}"),
                request_id: who.to_owned(),
            },
            scope: sees.clone(),
            checked,
            today,
        })
    };
    // The last job may see nothing: its flow-back warning is raised but not shown to it.
    let jobs = [
        job(&mut conn, "a", &scope, &[&g1, &g2])?,
        job(&mut conn, "b", &scope, &[&g1, &g3])?,
        job(&mut conn, "c", &scope, &[&g2x])?,
        job(
            &mut conn,
            "d",
            &loanwatch_store::ScopeFilter::Nothing,
            &[&g4],
        )?,
    ];
    let ctx = |who: &str| loanwatch_store::AuditContext {
        actor: format!("test:{who}"),
        request_id: who.to_owned(),
    };
    // Together, rolled back; then each alone, in order, committed.
    let together = rolled_back(&mut conn, |tx| {
        store_group(tx, &jobs, &mut Parsed::default(), tz)
    })?;
    let stored = |conn: &mut loanwatch_store::DbConn| -> anyhow::Result<i64> {
        Ok(diesel::sql_query(
            "SELECT COUNT(*) AS n FROM fund_transfers WHERE id IN ('G1', 'G2', 'G3', 'G4')",
        )
        .get_result::<Count>(conn)?
        .n)
    };
    assert_eq!(
        stored(&mut conn)?,
        0,
        "the rolled-back group stored nothing"
    );
    let mut alone = Vec::new();
    for job in &jobs {
        let answer = loanwatch_store::write(&mut conn, job.ctx.clone(), |tx| {
            store(
                tx,
                &job.scope,
                job.checked.clone(),
                &mut Parsed::default(),
                tz,
                job.today,
            )
        });
        alone.push(outcome(&answer));
    }
    assert_eq!(together, alone);
    assert_eq!(stored(&mut conn)?, 4);
    let rules = |o: &Outcome| -> Vec<String> {
        o.as_ref()
            .map(|(_, _, w)| w.iter().map(|w| w.0.clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        counts(&together),
        [
            Ok((2, 0)),
            Ok((1, 1)),
            Err((409, vec!["/transfers/0/id".to_owned()])),
            Ok((1, 0))
        ]
    );
    assert_eq!(
        rules(&together[0]),
        ["large_transfer", "not_counterparty", "restricted_category"]
    );
    assert_eq!(rules(&together[3]), Vec::<String>::new());
    let back = warnings(app, officer)?;
    assert!(back.iter().any(|w| w.0 == "flow_back"), "{back:?}");

    // Committed together: each request's entry and its warnings' steps are its own.
    let jobs = [
        job(
            &mut conn,
            "e",
            &scope,
            &[&transfer(
                "G5",
                "2026-10-20T10:00:00+08:00",
                "A-ME",
                "A-D",
                100,
                l,
            )],
        )?,
        job(
            &mut conn,
            "f",
            &scope,
            &[&transfer(
                "G6",
                "2026-10-21T10:00:00+08:00",
                "A-ME",
                "A-S",
                6_000_000,
                l,
            )],
        )?,
    ];
    let answers = loanwatch_store::write(&mut conn, ctx("group"), |tx| {
        store_group(tx, &jobs, &mut Parsed::default(), tz)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let raised: Vec<Vec<String>> = answers.iter().map(|a| rules(&outcome(a))).collect();
    assert_eq!(
        raised,
        [
            vec![
                "not_counterparty".to_owned(),
                "restricted_category".to_owned()
            ],
            vec!["large_transfer".to_owned()]
        ]
    );
    let actors = |sql: &str, conn: &mut loanwatch_store::DbConn| -> anyhow::Result<Vec<String>> {
        Ok(diesel::sql_query(sql)
            .load::<Actor>(conn)?
            .into_iter()
            .map(|a| a.actor)
            .collect())
    };
    assert_eq!(
        actors(
            "SELECT actor FROM audit_log WHERE action = 'transfer.ingest' AND entity_id IN ('G5', 'G6') ORDER BY seq",
            &mut conn
        )?,
        ["test:e", "test:f"]
    );
    assert_eq!(
        actors(
            "SELECT e.actor FROM warning_events e JOIN warnings w ON w.id = e.warning_id \
                WHERE w.period = '2026-10' AND w.rule IN ('restricted_category', 'large_transfer') ORDER BY w.rule",
            &mut conn
        )?,
        ["test:f", "test:e"]
    );
    let chain = loanwatch_store::audit::verify(&mut conn)?;
    assert_eq!(chain.first_broken, None);

    // Through the server, at once: every request answered, the shared transfer stored once.
    let risk = inst.token("ho.risk");
    let answers: Vec<(u16, u64, u64)> = std::thread::scope(|s| {
        let posts: Vec<_> = (0..4)
            .map(|c| {
                s.spawn(move || -> anyhow::Result<Vec<(u16, u64, u64)>> {
                    (0..10)
                        .map(|k| {
                            let mine = transfer(
                                &format!("P{c}-{k}"),
                                "2026-11-06T10:00:00+08:00",
                                "A-S",
                                "A-P",
                                1 + k,
                                None,
                            );
                            let shared = transfer(
                                "P-SHARED",
                                "2026-11-06T11:00:00+08:00",
                                "A-S",
                                "A-P",
                                7,
                                None,
                            );
                            let r = app.post("/api/v1/transfers", risk, &batch(&[mine, shared]))?;
                            Ok((
                                r.status,
                                r.body["accepted"].as_u64().unwrap_or(0),
                                r.body["replayed"].as_u64().unwrap_or(0),
                            ))
                        })
                        .collect()
                })
            })
            .collect();
        posts
            .into_iter()
            .map(|p| p.join().map_err(|_| anyhow::anyhow!("a poster panicked"))?)
            .collect::<anyhow::Result<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect())
    })?;
    assert!(answers.iter().all(|a| a.0 == 200), "{answers:?}");
    let accepted: u64 = answers.iter().map(|a| a.1).sum();
    let replayed: u64 = answers.iter().map(|a| a.2).sum();
    assert_eq!((accepted, replayed), (41, 39));
    let posted = diesel::sql_query("SELECT COUNT(*) AS n FROM fund_transfers WHERE id LIKE 'P%'")
        .get_result::<Count>(&mut conn)?
        .n;
    assert_eq!(posted, 41);
    let entries = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'transfer.ingest' AND entity_id LIKE 'P%' AND actor LIKE 'user:%'",
    )
    .get_result::<Count>(&mut conn)?
    .n;
    assert_eq!(entries, 40, "one entry per request, under its sender");
    assert_eq!(
        loanwatch_store::audit::verify(&mut conn)?.first_broken,
        None
    );
    Ok(())
}

/// Requests that queue while the writer waits for the write lock are stored by it in one
/// transaction (their transfers share its timestamp); with `TRANSFER_GROUP_ROWS=1` each is
/// stored alone.
fn queued_posts_are_stored_in_one_transaction(app: &TestApp) -> anyhow::Result<()> {
    use diesel::RunQueryDsl;
    use loanwatch_api::monitoring::ingest::{Batch, Posted, TransferWriter};
    use std::future::Future;
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    watched_loan(app, officer, 402)?;
    let scope = loanwatch_store::ScopeFilter::Subtree {
        path_prefix: "/".to_owned(),
    };
    let (tz, today) = (app.state.config.time_zone, app.state.today());
    let mut conn = app.conn()?;
    for (rows, prefix, transactions) in [(10_000, "Q", 1..=2), (1, "R", 10..=10)] {
        let writer = TransferWriter::start(app.state.pool.clone(), tz, rows)?;
        // One request of the group pays between two accounts nobody registered: it alone is
        // refused, and nothing of it is stored.
        let mut requests: Vec<_> = (0..10)
            .map(|k| (format!("{prefix}{k}"), "A-S", "A-ME", 1 + k))
            .collect();
        requests.insert(5, (format!("{prefix}X"), "NOBODY-1", "NOBODY-2", 5));
        let mut jobs = Vec::new();
        for (id, from, to, yuan) in requests {
            let t: loanwatch_api_types::monitoring::NewTransfer = serde_json::from_value(
                transfer(&id, "2026-11-06T10:00:00+08:00", from, to, yuan, None),
            )?;
            let hash =
                loanwatch_api::extract::content_hash(&t).map_err(|e| anyhow::anyhow!("{e}"))?;
            jobs.push(Posted {
                ctx: loanwatch_store::AuditContext {
                    actor: "test:queue".to_owned(),
                    request_id: id,
                },
                scope: scope.clone(),
                batch: Batch::Unchecked {
                    transfers: vec![t],
                    hashes: vec![hash],
                },
                today,
            });
        }
        // Another writer holds the lock (SQLite's writer turn, PostgreSQL's audit head) while
        // the ten requests are queued: each future sends its job on its first poll.
        let (locked, holding) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let mut other = app.conn()?;
        let holder = std::thread::spawn(move || {
            loanwatch_store::write(
                &mut other,
                loanwatch_store::AuditContext {
                    actor: "test:holder".to_owned(),
                    request_id: "holder".to_owned(),
                },
                |_| {
                    let _ = locked.send(());
                    let _ = released.recv();
                    Ok::<_, loanwatch_api::ApiError>(())
                },
            )
        });
        holding.recv()?;
        let mut pending: Vec<_> = jobs
            .into_iter()
            .map(|j| Box::pin(writer.store(j)))
            .collect();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        for p in &mut pending {
            assert!(
                p.as_mut().poll(&mut cx).is_pending(),
                "answered while the lock is held"
            );
        }
        release.send(())?;
        holder
            .join()
            .map_err(|_| anyhow::anyhow!("the holder panicked"))?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let rt = actix_web::rt::Runtime::new()?;
        for (k, p) in pending.into_iter().enumerate() {
            match rt.block_on(p) {
                Ok(answer) => {
                    assert_ne!(k, 5, "the request without a registered account was stored");
                    assert_eq!((answer.accepted, answer.replayed), (1, 0));
                }
                Err(e) => {
                    assert_eq!(k, 5, "request {k} refused: {e}");
                    let problem = e.problem();
                    assert_eq!(
                        (problem.status, problem.code.as_str()),
                        (422, "validation_failed")
                    );
                    assert_eq!(problem.errors[0].pointer, "/transfers/0/from_account");
                }
            }
        }
        let refused = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM fund_transfers WHERE id = '{prefix}X'"
        ))
        .get_result::<Count>(&mut conn)?
        .n;
        assert_eq!(refused, 0);
        let n = diesel::sql_query(format!(
            "SELECT COUNT(DISTINCT received_at) AS n FROM fund_transfers WHERE id LIKE '{prefix}%'"
        ))
        .get_result::<Count>(&mut conn)?
        .n;
        assert!(transactions.contains(&n), "{prefix}: {n} transactions");
    }
    assert_eq!(
        loanwatch_store::audit::verify(&mut conn)?.first_broken,
        None
    );
    Ok(())
}

/// On SQLite the transfer writer checks the posted batches of a group against the database in
/// the group's transaction, then stores those that pass together: every request is answered as
/// if it had been checked and stored alone, in order (its refusal its own, a transfer an earlier
/// request of the group stored a replay), whatever scope the others were sent under.
fn unchecked_batches_checked_in_a_group_answer_as_if_checked_alone(
    app: &TestApp,
) -> anyhow::Result<()> {
    use loanwatch_api::monitoring::{
        ingest::{Batch, Posted, check_and_store, store},
        routes::check,
        rules::Parsed,
    };
    use loanwatch_store::ScopeFilter;
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let lid = watched_loan(app, officer, 402)?;
    let l = Some(lid.as_str());
    // An account only a later request of the group names (a check that read only the first
    // request's accounts would refuse it).
    for (path, body) in [
        (
            "/api/v1/parties/OTHER",
            json!({ "name": "华东物流有限公司", "kind": "company" }),
        ),
        ("/api/v1/accounts/A-Q", json!({ "party_id": "OTHER" })),
    ] {
        let r = app.put(path, officer, &body)?;
        anyhow::ensure!(r.status == 200, "{path}: {}", r.text);
    }
    let all = ScopeFilter::Subtree {
        path_prefix: "/".to_owned(),
    };
    let (tz, today) = (app.state.config.time_zone, app.state.today());
    let at = "2026-11-02T10:00:00+08:00";
    let posted = |who: &str, scope: &ScopeFilter, ts: &[Value]| -> anyhow::Result<Posted> {
        let (transfers, hashes) = parsed_and_hashed(ts)?;
        Ok(Posted {
            ctx: loanwatch_store::AuditContext {
                actor: format!("test:{who}"),
                request_id: who.to_owned(),
            },
            scope: scope.clone(),
            batch: Batch::Unchecked { transfers, hashes },
            today,
        })
    };
    let u1 = transfer("U1", at, "A-ME", "A-S", 2_000_000, l);
    let group = [
        posted("a", &all, std::slice::from_ref(&u1))?,
        posted(
            "b",
            &all,
            &[transfer("U2", at, "A-ME", "A-S", 10, Some("NO-SUCH-LOAN"))],
        )?,
        posted(
            "c",
            &ScopeFilter::Nothing,
            &[transfer("U3", at, "A-ME", "A-S", 10, None)],
        )?,
        posted("d", &all, &[u1, transfer("U4", at, "A-Q", "A-Y", 20, None)])?,
        posted(
            "e",
            &ScopeFilter::Nothing,
            &[transfer("U5", at, "A-S", "A-X", 30, None)],
        )?,
        posted("f", &all, &[transfer("U6", at, "A-Y", "A-Z", 40, None)])?,
    ];
    let mut conn = app.conn()?;
    // Together, rolled back; then each alone, checked and stored in order, committed.
    let together = rolled_back(&mut conn, |tx| {
        check_and_store(tx, &group, &mut Parsed::default(), tz)
    })?;
    let mut alone = Vec::new();
    for p in &group {
        let Batch::Unchecked { transfers, hashes } = &p.batch else {
            anyhow::bail!("every batch here is unchecked");
        };
        let answer = loanwatch_store::write(&mut conn, p.ctx.clone(), |tx| {
            let checked = check(tx.conn(), &p.scope, transfers, hashes)?;
            store(tx, &p.scope, checked, &mut Parsed::default(), tz, p.today)
        });
        alone.push(outcome(&answer));
    }
    assert_eq!(together, alone);
    assert_eq!(
        counts(&together),
        [
            Ok((1, 0)),
            Err((422, vec!["/transfers/0/loan_id".to_owned()])),
            Err((422, vec!["/transfers/0/from_account".to_owned()])),
            Ok((1, 1)),
            Ok((1, 0)),
            Err((422, vec!["/transfers/0/from_account".to_owned()])),
        ]
    );
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Actor {
    #[diesel(sql_type = diesel::sql_types::Text)]
    actor: String,
}

loanwatch_e2e::on_both_backends!(
    transfers_raise_tiered_warnings_with_their_tasks,
    rule_sets_are_versioned_backtested_and_activated,
    transfers_import_from_csv_and_xlsx,
    settlement_falling_is_found_by_the_nightly_batch,
    the_flow_rules_agree_with_one_sql_query_per_rule,
    transfers_stored_together_answer_as_if_stored_alone,
    unchecked_batches_checked_in_a_group_answer_as_if_checked_alone,
    queued_posts_are_stored_in_one_transaction
);
