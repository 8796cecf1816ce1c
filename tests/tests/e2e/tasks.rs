//! Plan job, task lifecycle with review levels and rework, scope and the agenda.

use chrono::NaiveDate;
use loanwatch_e2e::{TestApp, enterprise, seed_institution};
use serde_json::{Value, json};

fn tasks_are_planned_once_and_reviewed_with_rework(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京启航物流有限公司", 97),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default();
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": "T-1", "borrower_id": bid, "product": "流动资金贷款", "principal_fen": 300_000_00,
            "currency": "CNY", "annual_rate": "5", "repayment_method": "monthly_interest", "guarantee_method": "credit",
            "purpose": "采购原材料", "disbursement_date": "2026-06-15", "maturity_date": "2027-06-15",
            "class": "special_mention", "management_mode": "focused",
        }),
    )?;
    assert_eq!(l.status, 201, "{}", l.text);
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();

    // Focused, special mention: monthly. From 1 Aug for three months: inspections 15 Aug, 15 Sep,
    // 15 Oct; reports after 15 Sep and 15 Oct (15 Aug is within two months of disbursement);
    // debt confirmation 15 Sep.
    let day = NaiveDate::from_ymd_opt(2026, 8, 1).unwrap_or_default();
    let r = loanwatch_api::tasks::run(&mut app.conn()?, Some(&mut app.conn()?), day, 3, false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!((r.ran, r.created), (true, 6), "{r:?}");
    let again = loanwatch_api::tasks::run(&mut app.conn()?, None, day, 3, true)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(again.created, 0, "a rerun planned tasks twice");

    let list = app.get(&format!("/api/v1/tasks?loan_id={lid}&limit=50"), officer)?;
    let items = list.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 6, "{}", list.text);
    let of = |kind: &str| {
        items
            .iter()
            .filter(|t| t["kind"] == kind)
            .cloned()
            .collect::<Vec<Value>>()
    };
    assert_eq!(of("on_site_inspection").len(), 3);
    // 10 working days after Tue 15 Sep 2026: the Sun 20 Sep make-up day counts, Mid-Autumn
    // (25–27 Sep) does not: 16, 17, 18, 20, 21, 22, 23, 24, 28, 29 Sep.
    assert_eq!(of("report")[0]["due_date"].as_str(), Some("2026-09-29"));
    assert!(items.iter().all(
        |t| t["assignee_id"].as_str() == Some(inst.user("a.officer")) && t["review_levels"] == 2
    ));
    assert_eq!(
        app.get("/api/v1/tasks", inst.token("b.officer"))?.body["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        app.get("/api/v1/tasks", inst.token("b.supervisor"))?.body["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let agenda = app.get("/api/v1/me/agenda?from=2026-08-01&to=2026-12-31", officer)?;
    assert_eq!(
        agenda.body.as_array().map(Vec::len),
        Some(6),
        "{}",
        agenda.text
    );
    assert!(
        agenda.body[0]["overdue"].as_bool().unwrap_or_default(),
        "2026 Aug tasks are overdue by now"
    );

    let act = |token: &str, id: &str, body: Value| {
        app.post(&format!("/api/v1/tasks/{id}/actions"), token, &body)
    };
    // A report has no checklist, so its review can run here; inspections are in inspections.rs.
    let task = of("report")[0].clone();
    let id = task["id"].as_str().unwrap_or_default().to_owned();
    let start = act(officer, &id, json!({ "action": "start", "version": 1 }))?;
    assert_eq!(
        (start.status, start.body["status"].as_str()),
        (200, Some("in_progress")),
        "{}",
        start.text
    );
    let stale = act(officer, &id, json!({ "action": "submit", "version": 1 }))?;
    assert_eq!((stale.status, stale.code()), (409, "conflict"));
    assert_eq!(
        act(
            inst.token("a.officer2"),
            &id,
            json!({ "action": "submit", "version": 2 })
        )?
        .status,
        404,
        "another officer reached the task"
    );
    assert_eq!(
        act(officer, &id, json!({ "action": "submit", "version": 2 }))?.status,
        200
    );
    assert_eq!(
        act(officer, &id, json!({ "action": "approve", "version": 3 }))?.status,
        403,
        "an officer reviewed"
    );
    assert_eq!(
        act(
            inst.token("auditor"),
            &id,
            json!({ "action": "approve", "version": 3 })
        )?
        .status,
        403
    );
    let no_reason = act(
        inst.token("a.supervisor"),
        &id,
        json!({ "action": "return", "version": 3 }),
    )?;
    assert_eq!((no_reason.status, no_reason.pointer()), (422, "/comment"));
    let returned = act(
        inst.token("a.supervisor"),
        &id,
        json!({ "action": "return", "version": 3, "comment": "照片缺少厂房外景" }),
    )?;
    assert_eq!(
        (
            returned.status,
            returned.body["status"].as_str(),
            returned.body["returns"].as_i64()
        ),
        (200, Some("returned"), Some(1))
    );
    assert_eq!(
        act(officer, &id, json!({ "action": "start", "version": 4 }))?.status,
        200
    );
    assert_eq!(
        act(officer, &id, json!({ "action": "submit", "version": 5 }))?.status,
        200
    );
    let first_level = act(
        inst.token("a.supervisor"),
        &id,
        json!({ "action": "approve", "version": 6 }),
    )?;
    assert_eq!(
        (
            first_level.body["status"].as_str(),
            first_level.body["approvals"].as_i64()
        ),
        (Some("submitted"), Some(1))
    );
    let twice = act(
        inst.token("a.supervisor"),
        &id,
        json!({ "action": "approve", "version": 7 }),
    )?;
    assert_eq!(twice.status, 409, "one reviewer approved both levels");
    let done = act(
        inst.token("ho.risk"),
        &id,
        json!({ "action": "approve", "version": 7 }),
    )?;
    assert_eq!(
        (done.status, done.body["status"].as_str()),
        (200, Some("approved")),
        "{}",
        done.text
    );
    let detail = app.get(&format!("/api/v1/tasks/{id}"), officer)?;
    let actions: Vec<&str> = detail.body["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        actions,
        [
            "start", "submit", "return", "start", "submit", "approve", "approve"
        ]
    );
    assert_eq!(
        detail.body["history"][2]["comment"].as_str(),
        Some("照片缺少厂房外景")
    );
    assert_eq!(
        act(officer, &id, json!({ "action": "start", "version": 8 }))?.status,
        409,
        "a closed task reopened"
    );

    // Reassignment: the officer who leaves loses the task, the successor gets it.
    let other = of("debt_confirmation")[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let moved = act(
        inst.token("a.supervisor"),
        &other,
        json!({ "action": "assign", "assignee_id": inst.user("a.officer2"), "version": 1 }),
    )?;
    assert_eq!(
        moved.body["assignee_id"].as_str(),
        Some(inst.user("a.officer2")),
        "{}",
        moved.text
    );
    assert_eq!(
        app.get(&format!("/api/v1/tasks/{other}"), officer)?.status,
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/tasks/{other}"), inst.token("a.officer2"))?
            .status,
        200
    );
    let to_b = act(
        inst.token("a.supervisor"),
        &other,
        json!({ "action": "assign", "assignee_id": inst.user("b.officer"), "version": 2 }),
    )?;
    assert_eq!((to_b.status, to_b.pointer()), (422, "/assignee_id"));
    assert_eq!(
        app.get("/api/v1/tasks?status=nonsense", officer)?.status,
        400
    );
    Ok(())
}

loanwatch_e2e::on_both_backends!(tasks_are_planned_once_and_reviewed_with_rework);

fn a_class_change_replans_and_a_hand_over_moves_the_work(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    // Deadlines in January 2027 need a calendar for 2027: a test fixture, not the official one.
    let fixture = json!({ "year": 2027, "source": "test fixture", "holidays": [{ "name": "元旦", "from": "2027-01-01", "to": "2027-01-03" }] });
    assert_eq!(
        app.send(
            "PUT",
            "/api/v1/calendar/2027",
            Some(inst.token("admin")),
            Some(&fixture.to_string()),
            &[]
        )?
        .status,
        200
    );
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京联创医药有限公司", 98),
    )?;
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": "R-1", "borrower_id": b.body["id"], "product": "流动资金贷款", "principal_fen": 500_000_00,
            "currency": "CNY", "annual_rate": "5", "repayment_method": "monthly_interest", "guarantee_method": "credit",
            "purpose": "采购原材料", "disbursement_date": "2026-06-20", "maturity_date": "2028-06-20",
            "class": "special_mention", "management_mode": "focused",
        }),
    )?;
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();
    let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
    let r = loanwatch_api::tasks::run(&mut app.conn()?, None, day, 3, false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(r.waiting, 0, "{r:?}");
    let tasks_of = |status: &str| -> anyhow::Result<Vec<Value>> {
        let t = app.get(
            &format!("/api/v1/tasks?loan_id={lid}&status={status}&limit=100"),
            inst.token("a.supervisor"),
        )?;
        Ok(t.body["items"].as_array().cloned().unwrap_or_default())
    };
    let before = tasks_of("open")?;
    let jan: Vec<&Value> = before
        .iter()
        .filter(|t| t["checkpoint"] == "2027-01-20")
        .collect();
    assert_eq!(
        jan.len(),
        2,
        "monthly inspection and report on 20 Jan 2027: {before:?}"
    );
    let dec_report_before = before
        .iter()
        .find(|t| t["kind"] == "report" && t["checkpoint"] == "2026-12-20")
        .cloned()
        .unwrap_or_default();

    // Back to normal and regular: half-yearly. The January tasks go; December's stay, its report
    // now due in 15 working days instead of 10; one approval instead of two.
    let patched = app.patch(
        &format!("/api/v1/loans/{lid}"),
        inst.token("a.supervisor"),
        &json!({ "class": "normal", "management_mode": "regular" }),
    )?;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let superseded = tasks_of("superseded")?;
    assert_eq!(superseded.len(), 2, "{superseded:?}");
    assert!(superseded.iter().all(|t| t["checkpoint"] == "2027-01-20"));
    let after = tasks_of("open")?;
    let dec_report = after
        .iter()
        .find(|t| t["kind"] == "report" && t["checkpoint"] == "2026-12-20")
        .cloned()
        .unwrap_or_default();
    assert_ne!(dec_report["due_date"], dec_report_before["due_date"]);
    assert!(
        after
            .iter()
            .filter(|t| t["checkpoint"].as_str() >= Some("2026-11-23"))
            .all(|t| t["review_levels"] == 1)
    );
    let history = app.get(
        &format!(
            "/api/v1/tasks/{}",
            superseded[0]["id"].as_str().unwrap_or_default()
        ),
        inst.token("a.supervisor"),
    )?;
    assert_eq!(
        history.body["history"][0]["action"].as_str(),
        Some("supersede")
    );

    // The officer leaves: every open task moves to a colleague.
    let open_before = after.len();
    let moved = app.post(
        &format!("/api/v1/users/{}/hand-over", inst.user("a.officer")),
        inst.token("a.supervisor"),
        &json!({ "to_officer_id": inst.user("a.officer2") }),
    )?;
    assert_eq!(
        (moved.status, moved.body["moved"].as_u64()),
        (200, Some(open_before as u64)),
        "{}",
        moved.text
    );
    assert_eq!(
        app.get("/api/v1/tasks?status=open", officer)?.body["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    // …and the customers with them: the successor can open the loan and work its tasks.
    let successor = inst.token("a.officer2");
    assert_eq!(
        app.get(&format!("/api/v1/loans/{lid}"), successor)?.status,
        200,
        "the successor cannot see the loan"
    );
    assert_eq!(
        app.get(&format!("/api/v1/loans/{lid}"), officer)?.status,
        404,
        "the former officer still sees the loan"
    );
    let borrower_id = b.body["id"].as_str().unwrap_or_default();
    assert_eq!(
        app.get(&format!("/api/v1/borrowers/{borrower_id}"), successor)?
            .status,
        200
    );
    let notices = app.get("/api/v1/notices?status=pending", officer)?;
    assert_eq!(
        notices.body["items"].as_array().map(Vec::len),
        Some(0),
        "notices stayed with the former officer"
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/users/{}/hand-over", inst.user("a.officer2")),
            officer,
            &json!({ "to_officer_id": inst.user("a.officer") })
        )?
        .status,
        403
    );
    Ok(())
}

mod replan {
    loanwatch_e2e::on_both_backends!(a_class_change_replans_and_a_hand_over_moves_the_work);
    use super::a_class_change_replans_and_a_hand_over_moves_the_work;
}
