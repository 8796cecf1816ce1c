//! The health check (体检) and the rules beyond money: statements and signals in, each fact
//! running the borrower's incremental pass; ratio, signal and workflow warnings with their
//! tasks; a fall from special mention to substandard recommending early recovery; the nightly
//! batch giving the same health and warnings as the incremental passes.

use chrono::Duration;
use loanwatch_e2e::{TestApp, enterprise, loan_body, seed_institution};
use serde_json::{Value, json};

/// A borrower registered as a party with a fresh loan: disbursed ten days ago, maturing in a
/// year, nothing due yet whatever the day the suite runs.
fn fresh_loan(app: &TestApp, officer: &str, n: u32) -> anyhow::Result<(String, String)> {
    let today = app.state.today();
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("杭州明达纺织有限公司", n),
    )?;
    anyhow::ensure!(b.status == 201, "{}", b.text);
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": format!("H-{n}"), "borrower_id": bid, "product": "流动资金贷款",
            "principal_fen": 5_000_000_00, "currency": "CNY", "annual_rate": "4.35",
            "repayment_method": "monthly_interest", "guarantee_method": "credit",
            "purpose": "购买原材料",
            "disbursement_date": (today - Duration::days(10)).to_string(),
            "maturity_date": (today + Duration::days(365)).to_string(),
        }),
    )?;
    anyhow::ensure!(l.status == 201, "{}", l.text);
    let party = app.put(
        &format!("/api/v1/parties/P-{n}"),
        officer,
        &json!({ "name": "明达", "kind": "company", "borrower_id": bid }),
    )?;
    anyhow::ensure!(party.status == 200, "{}", party.text);
    Ok((bid, l.body["id"].as_str().unwrap_or_default().to_owned()))
}

fn statement(current_assets: i64) -> Value {
    json!({
        "current_assets": current_assets, "inventory": 100_00, "total_assets": 10_000_00,
        "current_liabilities": 1_000_00, "total_liabilities": 4_000_00,
        "revenue": 8_000_00, "net_profit": 800_00, "profit_before_tax": 1_000_00,
        "interest_expense": 100_00, "operating_cash_flow": 900_00,
    })
}

fn check<'a>(health: &'a Value, rule: &str) -> &'a Value {
    health["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["rule"] == rule))
        .unwrap_or(&Value::Null)
}

fn rules_of(warnings: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = warnings
        .as_array()
        .map(|a| {
            a.iter()
                .map(|w| {
                    (
                        w["rule"].as_str().unwrap_or_default().to_owned(),
                        w["tier"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// (rule, tier, period, facts, detail) of every warning of a borrower, sorted.
fn warnings_of(app: &TestApp, token: &str, bid: &str) -> anyhow::Result<Vec<Value>> {
    let r = app.get(
        &format!("/api/v1/warnings?borrower_id={bid}&limit=500"),
        token,
    )?;
    anyhow::ensure!(r.status == 200, "{}", r.text);
    let mut out: Vec<Value> = r.body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|w| json!([w["rule"], w["tier"], w["period"], w["facts"], w["detail"]]))
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|v| v.to_string());
    Ok(out)
}

fn health_is_scored_on_each_fact_and_nightly(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let today = app.state.today();
    let (bid, loan_id) = fresh_loan(app, officer, 501)?;
    let health_path = format!("/api/v1/borrowers/{bid}/health");

    // Before any fact: computed on the spot, every rule listed, nothing wrong.
    let h = app.get(&health_path, officer)?;
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!(h.body["checks"].as_array().map(Vec::len), Some(28));
    assert_eq!(
        (h.body["score"].as_u64(), h.body["grade"].as_str()),
        (Some(100), Some("healthy"))
    );
    assert_eq!(check(&h.body, "current_ratio")["status"], "no_data");
    assert_eq!(check(&h.body, "flow_back")["status"], "pass");
    assert_eq!(check(&h.body, "overdue_loan")["status"], "pass");

    // Statements: the current ratio falls to 0.8, past the threshold 1.0.
    let year = today.format("%Y").to_string();
    let last_year: i32 = year.parse::<i32>()? - 1;
    let s = format!("/api/v1/borrowers/{bid}/statements");
    let first = app.put(&format!("{s}/{last_year}Q3"), officer, &statement(2_000_00))?;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["created"], true);
    assert_eq!(first.body["warnings"], json!([]));
    assert_eq!(first.body["statement"]["ratios"]["current_ratio"], "2");
    let period = format!("{last_year}Q4");
    let weak = app.put(&format!("{s}/{period}"), officer, &statement(800_00))?;
    assert_eq!(weak.status, 200, "{}", weak.text);
    assert_eq!(
        rules_of(&weak.body["warnings"]),
        [("current_ratio".to_owned(), "yellow".to_owned())]
    );
    let w = &weak.body["warnings"][0];
    assert_eq!(w["period"].as_str(), Some(period.as_str()));
    assert_eq!(w["facts"], json!([format!("statement:{period}")]));
    let task = app.get(
        &format!(
            "/api/v1/tasks/{}",
            w["task_id"].as_str().unwrap_or_default()
        ),
        officer,
    )?;
    assert_eq!(task.body["kind"], "phone_follow_up", "{}", task.text);
    assert_eq!(weak.body["statement"]["ratios"]["revenue_growth"], "0");
    // Restated: the same warning is not raised twice.
    let again = app.put(&format!("{s}/{period}"), officer, &statement(800_00))?;
    assert_eq!(
        (
            again.body["created"].clone(),
            again.body["warnings"].clone()
        ),
        (json!(false), json!([]))
    );
    // Bad input: nothing stored, every fault pointed at.
    let annual = app.put(&format!("{s}/{last_year}"), officer, &statement(800_00))?;
    assert_eq!(annual.status, 409, "{}", annual.text);
    let bad_period = app.put(&format!("{s}/{last_year}Q5"), officer, &statement(800_00))?;
    assert_eq!(bad_period.status, 422, "{}", bad_period.text);
    assert_eq!(bad_period.body["errors"][0]["pointer"], "/period");
    let mut negative = statement(800_00);
    negative["revenue"] = json!(-1);
    negative["inventory"] = json!(-5);
    let bad = app.put(&format!("{s}/{last_year}Q2"), officer, &negative)?;
    assert_eq!(bad.status, 422, "{}", bad.text);
    let pointers: Vec<&str> = bad.body["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(pointers, ["/inventory", "/revenue"]);
    assert_eq!(app.count("statements")?, 2);
    let listed = app.get(&s, officer)?;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(2));
    let h = app.get(&health_path, officer)?;
    assert_eq!(check(&h.body, "current_ratio")["status"], "hit");
    assert_eq!(check(&h.body, "current_ratio")["tier"], "yellow");
    assert_eq!(h.body["score"], 90, "{}", h.text);

    // Signals: two changes of key persons and a lawsuit within the year.
    let day = |d: i64| (today - Duration::days(d)).to_string();
    let signal = |id: &str, kind: &str, on: String| json!({ "id": id, "borrower_id": bid, "kind": kind, "occurred_on": on });
    let batch = json!({ "signals": [
        signal("S1", "legal_representative_change", day(40)),
        signal("S2", "director_change", day(20)),
        signal("S3", "lawsuit", day(5)),
    ]});
    let posted = app.post("/api/v1/signals", officer, &batch)?;
    assert_eq!(posted.status, 200, "{}", posted.text);
    assert_eq!(posted.body["accepted"], 3);
    assert_eq!(
        rules_of(&posted.body["warnings"]),
        [
            ("key_person_changes".to_owned(), "orange".to_owned()),
            ("lawsuit".to_owned(), "orange".to_owned())
        ]
    );
    let resent = app.post("/api/v1/signals", officer, &batch)?;
    assert_eq!(
        (
            resent.body["accepted"].clone(),
            resent.body["replayed"].clone()
        ),
        (json!(0), json!(3))
    );
    let other = app.post(
        "/api/v1/signals",
        officer,
        &json!({ "signals": [signal("S3", "enforcement", day(5))] }),
    )?;
    assert_eq!(other.status, 409, "{}", other.text);
    assert_eq!(other.body["errors"][0]["pointer"], "/signals/0/id");
    let faults = app.post(
        "/api/v1/signals",
        officer,
        &json!({ "signals": [
            { "id": "S4", "borrower_id": bid, "kind": "other_borrowing", "occurred_on": day(1) },
            { "id": "S5", "borrower_id": bid, "kind": "tax_arrears", "occurred_on": (today + Duration::days(3)).to_string() },
            { "id": "S6", "borrower_id": "nobody", "kind": "tax_arrears", "occurred_on": day(1) },
        ]}),
    )?;
    assert_eq!(faults.status, 422, "{}", faults.text);
    let pointers: Vec<&str> = faults.body["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        pointers,
        ["/signals/0/amount_fen", "/signals/1/occurred_on"]
    );
    let unknown_kind = app.post(
        "/api/v1/signals",
        officer,
        &json!({ "signals": [signal("S6", "bankruptcy", day(1))] }),
    )?;
    assert_eq!(unknown_kind.status, 400, "{}", unknown_kind.text);
    assert_eq!(unknown_kind.body["errors"][0]["pointer"], "/signals/0/kind");
    // Another branch's officer cannot tell anything of this borrower.
    let elsewhere = app.post(
        "/api/v1/signals",
        inst.token("b.officer"),
        &json!({ "signals": [signal("S7", "tax_arrears", day(1))] }),
    )?;
    assert_eq!(elsewhere.status, 422, "{}", elsewhere.text);
    assert_eq!(
        elsewhere.body["errors"][0]["pointer"],
        "/signals/0/borrower_id"
    );
    assert_eq!(app.count("signals")?, 3);
    assert_eq!(app.get(&health_path, inst.token("b.officer"))?.status, 404);
    let listed = app.get(&format!("/api/v1/borrowers/{bid}/signals"), officer)?;
    assert_eq!(listed.body[0]["id"], "S3", "{}", listed.text);
    let h = app.get(&health_path, officer)?;
    assert_eq!(h.body["score"], 50, "{}", h.text);
    assert_eq!(
        (h.body["grade"].as_str(), h.body["worst_tier"].as_str()),
        (Some("concern"), Some("orange"))
    );
    assert!(
        check(&h.body, "key_person_changes")["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("2 changes"))
    );

    // Special mention, then substandard: recover early — a red warning, an on-site inspection,
    // the supervisor told.
    let loan_path = format!("/api/v1/loans/{loan_id}");
    let r = app.patch(&loan_path, officer, &json!({ "class": "special_mention" }))?;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.patch(&loan_path, officer, &json!({ "class": "substandard" }))?;
    assert_eq!(r.status, 200, "{}", r.text);
    let live = warnings_of(app, officer, &bid)?;
    let recovery = live
        .iter()
        .find(|w| w[0] == "early_recovery")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(recovery[1], "red", "{live:?}");
    assert!(
        recovery[4]
            .as_str()
            .is_some_and(|d| d.contains("special_mention to substandard"))
    );
    let red = app.get("/api/v1/warnings?rule=early_recovery", officer)?;
    let task = app.get(
        &format!(
            "/api/v1/tasks/{}",
            red.body["items"][0]["task_id"].as_str().unwrap_or_default()
        ),
        officer,
    )?;
    assert_eq!(task.body["kind"], "on_site_inspection", "{}", task.text);
    let told = app.get("/api/v1/me/notifications", inst.token("a.supervisor"))?;
    assert!(told.text.contains("early recovery"), "{}", told.text);
    let h = app.get(&health_path, officer)?;
    assert_eq!(check(&h.body, "early_recovery")["tier"], "red");
    assert_eq!(
        (h.body["score"].as_u64(), h.body["grade"].as_str()),
        (Some(10), Some("critical"))
    );

    // The nightly batch, from nothing, finds the same warnings and the same health.
    let incremental = h.body.clone();
    {
        use diesel::RunQueryDsl;
        let mut conn = app.conn()?;
        diesel::sql_query("DELETE FROM warning_events").execute(&mut conn)?;
        diesel::sql_query("DELETE FROM warnings").execute(&mut conn)?;
        diesel::sql_query("DELETE FROM borrower_health").execute(&mut conn)?;
    }
    let nightly = loanwatch_api::monitoring::rules::run_nightly(
        &mut app.conn()?,
        Some(&mut app.conn()?),
        today,
        app.state.config.time_zone,
        true,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(nightly.borrowers, 1);
    assert_eq!(nightly.raised as usize, live.len());
    assert_eq!(warnings_of(app, officer, &bid)?, live);
    let batch = app.get(&health_path, officer)?.body;
    for field in [
        "score",
        "grade",
        "worst_tier",
        "checks",
        "as_of",
        "rule_version",
    ] {
        assert_eq!(batch[field], incremental[field], "{field}");
    }
    Ok(())
}

/// Runs the nightly batch for `today`, forced.
fn nightly(app: &TestApp) -> anyhow::Result<loanwatch_api::monitoring::rules::MonitorReport> {
    loanwatch_api::monitoring::rules::run_nightly(
        &mut app.conn()?,
        Some(&mut app.conn()?),
        app.state.today(),
        app.state.config.time_zone,
        true,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

fn a_task_leaving_or_returning_to_the_officer_rescores_the_borrower(
    app: &TestApp,
) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("杭州明达纺织有限公司", 502),
    )?;
    assert_eq!(b.status, 201, "{}", b.text);
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    // Normal, regular, bullet: nothing falls due before maturity. Planned from 1 Aug for two
    // months, the only checkpoint is the debt confirmation of 15 Sep 2026, long overdue.
    let mut body = loan_body(&bid, "H-502", 1_000_000_00, "2036-06-15");
    body["repayment_method"] = json!("bullet");
    body["disbursement_date"] = json!("2026-06-15");
    let l = app.post("/api/v1/loans", officer, &body)?;
    assert_eq!(l.status, 201, "{}", l.text);
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();
    let from = chrono::NaiveDate::from_ymd_opt(2026, 8, 1).unwrap_or_default();
    let planned = loanwatch_api::tasks::run(&mut app.conn()?, None, from, 2, true)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(planned.created, 1, "{planned:?}");
    let open = app.get(&format!("/api/v1/tasks?loan_id={lid}&status=open"), officer)?;
    let task = open.body["items"][0].clone();
    assert_eq!(task["kind"], "debt_confirmation", "{}", open.text);
    let id = task["id"].as_str().unwrap_or_default().to_owned();

    // The nightly batch stores the borrower's health: the confirmation is overdue.
    assert_eq!(nightly(app)?.borrowers, 1);
    let health_path = format!("/api/v1/borrowers/{bid}/health");
    let overdue = |h: &Value| check(h, "inspection_overdue")["status"].clone();
    let h = app.get(&health_path, officer)?;
    assert_eq!(overdue(&h.body), "hit", "{}", h.text);
    assert_eq!(check(&h.body, "inspection_overdue")["tier"], "orange");

    let act =
        |token: &str, body: Value| app.post(&format!("/api/v1/tasks/{id}/actions"), token, &body);
    // Starting keeps the task with the officer: the stored health stands as it was.
    let v = task["version"].as_i64().unwrap_or_default();
    let started = act(officer, json!({ "action": "start", "version": v }))?;
    assert_eq!(started.status, 200, "{}", started.text);
    let still = app.get(&health_path, officer)?;
    assert_eq!(still.body["computed_at"], h.body["computed_at"]);
    // Submitted, the work is done on the officer's side: nothing is overdue, at once.
    let submitted = act(officer, json!({ "action": "submit", "version": v + 1 }))?;
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    let h = app.get(&health_path, officer)?;
    assert_eq!(overdue(&h.body), "pass", "{}", h.text);
    assert_eq!(h.body["score"], 100, "{}", h.text);
    // Returned for rework, it is the officer's and overdue again.
    let returned = act(
        inst.token("a.supervisor"),
        json!({ "action": "return", "version": v + 2, "comment": "缺少对账单签章" }),
    )?;
    assert_eq!(returned.status, 200, "{}", returned.text);
    let h = app.get(&health_path, officer)?;
    assert_eq!(overdue(&h.body), "hit", "{}", h.text);
    // Raised once for the period, however often the task comes back.
    let raised = app.get(
        &format!("/api/v1/warnings?borrower_id={bid}&rule=inspection_overdue"),
        officer,
    )?;
    assert_eq!(
        raised.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        raised.text
    );

    // Focused management re-plans the loan (a routine inspection on the new cadence): the
    // borrower is judged again in the same transaction.
    let focused = app.patch(
        &format!("/api/v1/loans/{lid}"),
        officer,
        &json!({ "management_mode": "focused" }),
    )?;
    assert_eq!(focused.status, 200, "{}", focused.text);
    let replanned = app.get(&health_path, officer)?;
    assert_ne!(replanned.body["computed_at"], h.body["computed_at"]);
    assert_eq!(overdue(&replanned.body), "hit");
    let h = replanned;

    // The nightly batch from nothing judges the same.
    let incremental = h.body.clone();
    {
        use diesel::RunQueryDsl;
        diesel::sql_query("DELETE FROM borrower_health").execute(&mut app.conn()?)?;
    }
    assert_eq!(nightly(app)?.borrowers, 1);
    let batch = app.get(&health_path, officer)?.body;
    for field in ["score", "grade", "worst_tier", "checks", "as_of"] {
        assert_eq!(batch[field], incremental[field], "{field}");
    }
    Ok(())
}

fn collateral_status_warns_every_borrower_the_item_secures(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let today = app.state.today();
    let day = |d: i64| (today - Duration::days(d)).to_string();
    let (bid, lid) = fresh_loan(app, officer, 503)?;
    let (other, other_lid) = fresh_loan(app, officer, 504)?;
    let item = |owner: &str, insured_to: Option<String>| -> anyhow::Result<String> {
        let c = app.post(
            "/api/v1/collateral",
            officer,
            &json!({
                "borrower_id": owner, "owner_name": "明达", "security_type": "mortgage",
                "asset_type": "real_estate", "description": "厂房", "appraised_value_fen": 1_000_000_00,
                "insurance_expiry": insured_to,
            }),
        )?;
        anyhow::ensure!(c.status == 201, "{}", c.text);
        Ok(c.body["id"].as_str().unwrap_or_default().to_owned())
    };
    // The plant secures both borrowers' loans; its insurance ran out three days ago. The
    // warehouse is the first borrower's but secures nothing.
    let plant = item(&bid, Some(day(3)))?;
    let warehouse = item(&bid, None)?;
    let health_path = format!("/api/v1/borrowers/{bid}/health");
    let h = app.get(&health_path, officer)?;
    assert_eq!(check(&h.body, "collateral_seized")["status"], "no_data");
    for l in [&lid, &other_lid] {
        let linked = app.post(
            &format!("/api/v1/loans/{l}/collateral"),
            officer,
            &json!({ "collateral_id": plant }),
        )?;
        assert_eq!(linked.status, 201, "{}", linked.text);
    }
    // Linking runs the incremental pass: the lapse warns for both borrowers at once.
    let h = app.get(&health_path, officer)?;
    assert_eq!(
        check(&h.body, "collateral_seized")["status"],
        "pass",
        "{}",
        h.text
    );
    assert_eq!(
        check(&h.body, "collateral_insurance_lapsed")["tier"],
        "yellow"
    );
    assert_eq!(
        check(&h.body, "collateral_insurance_lapsed")["group"],
        "collateral"
    );
    for b in [&bid, &other] {
        let lapsed = warnings_of(app, officer, b)?;
        assert_eq!(
            lapsed.iter().map(|w| w[0].clone()).collect::<Vec<_>>(),
            [json!("collateral_insurance_lapsed")],
            "{lapsed:?}"
        );
    }

    // Bad input: each fault pointed at, nothing stored.
    let post = |body: Value| app.post("/api/v1/signals", officer, &json!({ "signals": [body] }));
    for (body, pointer) in [
        (
            json!({ "id": "CX1", "borrower_id": bid, "kind": "collateral_seized", "occurred_on": day(1) }),
            "/signals/0/collateral_id",
        ),
        (
            json!({ "id": "CX2", "borrower_id": bid, "kind": "lawsuit", "occurred_on": day(1), "collateral_id": plant }),
            "/signals/0/collateral_id",
        ),
        (
            json!({ "id": "CX3", "borrower_id": bid, "kind": "collateral_revalued", "occurred_on": day(1), "collateral_id": plant }),
            "/signals/0/amount_fen",
        ),
        (
            json!({ "id": "CX4", "borrower_id": other, "kind": "collateral_seized", "occurred_on": day(1), "collateral_id": warehouse }),
            "/signals/0/collateral_id",
        ),
        (
            json!({ "id": "CX5", "borrower_id": bid, "kind": "collateral_seized", "occurred_on": day(1), "collateral_id": "no-such-item" }),
            "/signals/0/collateral_id",
        ),
    ] {
        let r = post(body)?;
        assert_eq!((r.status, r.pointer()), (422, pointer), "{}", r.text);
    }
    assert_eq!(app.count("signals")?, 0);

    // Revalued 21 % below its appraisal: orange, for both borrowers.
    let revalued = post(json!({
        "id": "CS1", "borrower_id": bid, "kind": "collateral_revalued", "occurred_on": day(2),
        "amount_fen": 790_000_00, "collateral_id": plant,
    }))?;
    assert_eq!(revalued.status, 200, "{}", revalued.text);
    let mut raised: Vec<(String, String, String)> = revalued.body["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|w| {
                    (
                        w["borrower_id"].as_str().unwrap_or_default().to_owned(),
                        w["rule"].as_str().unwrap_or_default().to_owned(),
                        w["tier"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    raised.sort();
    let mut expected = Vec::new();
    for b in [&bid, &other] {
        expected.push((b.clone(), "collateral_value_drop".into(), "orange".into()));
    }
    expected.sort();
    assert_eq!(raised, expected, "{}", revalued.text);

    // Seized, as the provider filed it under the other borrower: red for both. The warehouse
    // seized: stored, but it secures no loan, so nothing warns.
    let seized = app.post(
        "/api/v1/signals",
        officer,
        &json!({ "signals": [
            { "id": "CS2", "borrower_id": other, "kind": "collateral_seized", "occurred_on": day(1), "collateral_id": plant, "detail": "（2026）浙0102执保123号" },
            { "id": "CS3", "borrower_id": bid, "kind": "collateral_seized", "occurred_on": day(1), "collateral_id": warehouse },
        ]}),
    )?;
    assert_eq!(seized.status, 200, "{}", seized.text);
    assert_eq!(
        rules_of(&seized.body["warnings"]),
        [
            ("collateral_seized".to_owned(), "red".to_owned()),
            ("collateral_seized".to_owned(), "red".to_owned())
        ]
    );
    let listed = app.get(&format!("/api/v1/borrowers/{other}/signals"), officer)?;
    assert_eq!(
        listed.body[0]["collateral_id"].as_str(),
        Some(plant.as_str())
    );
    let h = app.get(&health_path, officer)?;
    assert_eq!(
        (h.body["score"].as_u64(), h.body["worst_tier"].as_str()),
        (Some(30), Some("red")),
        "{}",
        h.text
    );
    assert!(
        check(&h.body, "collateral_value_drop")["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("790,000.00") && e.contains("1,000,000.00")),
        "{}",
        h.text
    );
    let live = warnings_of(app, officer, &bid)?;
    let seizure = live.iter().find(|w| w[0] == "collateral_seized");
    assert_eq!(
        seizure.map(|w| w[3].clone()),
        Some(json!(["signal:CS2"])),
        "{live:?}"
    );
    let lapse = live.iter().find(|w| w[0] == "collateral_insurance_lapsed");
    assert_eq!(
        lapse.map(|w| w[3].clone()),
        Some(json!([format!("collateral:{plant}")]))
    );

    // The nightly batch from nothing finds the same, for both borrowers.
    let before = (
        live.clone(),
        warnings_of(app, officer, &other)?,
        h.body.clone(),
    );
    {
        use diesel::RunQueryDsl;
        let mut conn = app.conn()?;
        diesel::sql_query("DELETE FROM warning_events").execute(&mut conn)?;
        diesel::sql_query("DELETE FROM warnings").execute(&mut conn)?;
        diesel::sql_query("DELETE FROM borrower_health").execute(&mut conn)?;
    }
    assert_eq!(nightly(app)?.borrowers, 2);
    assert_eq!(warnings_of(app, officer, &bid)?, before.0);
    assert_eq!(warnings_of(app, officer, &other)?, before.1);
    let batch = app.get(&health_path, officer)?.body;
    for field in ["score", "grade", "worst_tier", "checks"] {
        assert_eq!(batch[field], before.2[field], "{field}");
    }

    // The policy renewed: the lapse ends at once for both borrowers.
    let item_path = format!("/api/v1/collateral/{plant}");
    for (body, status) in [
        (json!({ "insurance_expiry": "2027-13-01" }), 400),
        (json!({ "value": 1 }), 400),
        (json!({ "registration_no": " " }), 422),
    ] {
        let r = app.patch(&item_path, officer, &body)?;
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    let elsewhere = app.patch(
        &item_path,
        inst.token("b.officer"),
        &json!({ "insurance_expiry": (today + Duration::days(365)).to_string() }),
    )?;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.text);
    let renewed = app.patch(
        &item_path,
        officer,
        &json!({ "insurance_expiry": (today + Duration::days(365)).to_string() }),
    )?;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    assert_eq!(renewed.body["appraised_value_fen"], 1_000_000_00);
    for b in [&bid, &other] {
        let h = app.get(&format!("/api/v1/borrowers/{b}/health"), officer)?;
        assert_eq!(
            check(&h.body, "collateral_insurance_lapsed")["status"],
            "pass",
            "{}",
            h.text
        );
        assert_eq!(h.body["score"], 40, "{}", h.text);
    }
    Ok(())
}

loanwatch_e2e::on_both_backends!(
    health_is_scored_on_each_fact_and_nightly,
    collateral_status_warns_every_borrower_the_item_secures,
    a_task_leaving_or_returning_to_the_officer_rescores_the_borrower
);
