//! Major incident reports signed at three levels (tightening the loans' management), staff
//! notifications, and the escalation of overdue tasks to the supervisor.

use chrono::NaiveDate;
use loanwatch_e2e::{TestApp, enterprise, seed_institution};
use serde_json::{Value, json};

fn loan(
    app: &TestApp,
    token: &str,
    borrower: &Value,
    no: &str,
    disbursed: &str,
) -> anyhow::Result<String> {
    let l = app.post(
        "/api/v1/loans",
        token,
        &json!({
            "contract_no": no, "borrower_id": borrower["id"], "product": "流动资金贷款", "principal_fen": 500_000_00,
            "currency": "CNY", "annual_rate": "4", "repayment_method": "monthly_interest", "guarantee_method": "credit",
            "purpose": "采购原材料", "disbursement_date": disbursed, "maturity_date": "2028-01-05",
        }),
    )?;
    anyhow::ensure!(l.status == 201, "loan {no}: {}", l.text);
    Ok(l.body["id"].as_str().unwrap_or_default().to_owned())
}

fn kinds_of(app: &TestApp, token: &str) -> anyhow::Result<Vec<(String, String)>> {
    let r = app.get("/api/v1/me/notifications?unread=true", token)?;
    anyhow::ensure!(r.status == 200, "{}", r.text);
    Ok(r.body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| {
                    (
                        n["kind"].as_str().unwrap_or_default().to_owned(),
                        n["subject_id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

fn incident_reports_are_signed_at_three_levels(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京恒远纺织有限公司", 201),
    )?;
    assert_eq!(b.status, 201, "{}", b.text);
    let l1 = loan(app, officer, &b.body, "I-1", "2026-01-05")?;
    let l2 = loan(app, officer, &b.body, "I-2", "2026-02-05")?;
    let bid = b.body["id"].as_str().unwrap_or_default();
    let report = |extra: Value| {
        let mut body = json!({
            "borrower_id": bid, "category": "litigation", "learned_on": "2026-09-30",
            "summary": "法定代表人因民间借贷纠纷被起诉，涉案金额800万元。",
            "measures": "已约谈实际控制人，拟增加保证人并按月现场检查。",
            "proposed_mode": "focused",
        });
        if let (Some(o), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        body
    };

    // Bad input: refused with the field named, nothing filed.
    // A value the wire type cannot hold is 400 (invalid body); one it holds but the rules refuse
    // is 422.
    for (extra, status, pointer) in [
        (json!({ "learned_on": "2099-01-01" }), 422, "/learned_on"),
        (json!({ "proposed_mode": "regular" }), 422, "/proposed_mode"),
        (json!({ "category": "rumour" }), 400, "/category"),
        (json!({ "summary": " " }), 422, "/summary"),
        (json!({ "loan_id": "no-such-loan" }), 422, "/loan_id"),
    ] {
        let r = app.post("/api/v1/incident-reports", officer, &report(extra))?;
        assert_eq!((r.status, r.pointer()), (status, pointer), "{}", r.text);
    }
    let foreign = app.post(
        "/api/v1/incident-reports",
        inst.token("b.officer"),
        &report(json!({})),
    )?;
    assert_eq!((foreign.status, foreign.pointer()), (422, "/borrower_id"));
    assert_eq!(
        app.post(
            "/api/v1/incident-reports",
            inst.token("auditor"),
            &report(json!({}))
        )?
        .status,
        403
    );
    assert_eq!(app.count("incident_reports")?, 0);

    // Learned on Wed 30 Sep, the eve of National Day (1–7 Oct): due Thu 8 Oct, so filing it in
    // November is late.
    let filed = app.post("/api/v1/incident-reports", officer, &report(json!({})))?;
    assert_eq!(filed.status, 201, "{}", filed.text);
    assert_eq!(filed.body["due_date"].as_str(), Some("2026-10-08"));
    assert_eq!(filed.body["late"], true);
    assert_eq!(filed.body["status"], "awaiting_supervisor");
    assert_eq!(filed.body["signatures"].as_array().map(Vec::len), Some(1));
    let id = filed.body["id"].as_str().unwrap_or_default().to_owned();
    let sign = format!("/api/v1/incident-reports/{id}/sign");

    // The supervisor is told; the other branch is not.
    assert!(
        kinds_of(app, inst.token("a.supervisor"))?
            .contains(&("incident.to_sign".into(), id.clone()))
    );
    assert!(kinds_of(app, inst.token("b.supervisor"))?.is_empty());

    // Level 2: not the reporter again, not an officer the borrower is not assigned to, not
    // another branch.
    let again = app.post(&sign, officer, &json!({}))?;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(
        app.post(&sign, inst.token("a.officer2"), &json!({}))?
            .status,
        404
    );
    assert_eq!(
        app.post(&sign, inst.token("b.supervisor"), &json!({}))?
            .status,
        404
    );
    let two = app.post(
        &sign,
        inst.token("a.supervisor"),
        &json!({ "comment": "同意，请风险部门审定。" }),
    )?;
    assert_eq!(two.status, 200, "{}", two.text);
    assert_eq!(two.body["status"], "awaiting_risk");
    assert_eq!(
        app.post(&sign, inst.token("a.supervisor"), &json!({}))?
            .status,
        409
    );
    assert!(
        kinds_of(app, inst.token("ho.risk"))?.contains(&("incident.to_sign".into(), id.clone()))
    );
    // Level 3 is the risk level's: a second supervisor of the branch may not sign it.
    let u = app.post(
        "/api/v1/users",
        inst.token("admin"),
        &json!({ "username": "a.supervisor2", "display_name": "a.supervisor2", "password": loanwatch_e2e::PASSWORD, "role": "supervisor", "organisation_id": inst.branch_a }),
    )?;
    assert_eq!(u.status, 201, "{}", u.text);
    let supervisor2 = app.login("a.supervisor2", loanwatch_e2e::PASSWORD)?;
    let wrong = app.post(&sign, &supervisor2, &json!({}))?;
    assert_eq!(
        (wrong.status, wrong.code()),
        (403, "forbidden"),
        "{}",
        wrong.text
    );
    // Nothing tightened before the last level.
    let l1_now = app.get(&format!("/api/v1/loans/{l1}"), officer)?;
    assert_eq!(l1_now.body["management_mode"], "regular");

    // The loans' plans so far: regular mode, one review level.
    let planned = loanwatch_api::tasks::run(
        &mut app.conn()?,
        None,
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
        3,
        false,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(planned.created > 0, "{planned:?}");
    let levels_of = |token: &str| -> anyhow::Result<Vec<i64>> {
        let r = app.get(&format!("/api/v1/tasks?loan_id={l1}&status=open"), token)?;
        Ok(r.body["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["review_levels"].as_i64())
                    .collect()
            })
            .unwrap_or_default())
    };
    let before = levels_of(officer)?;
    assert!(
        !before.is_empty() && before.iter().all(|l| *l == 1),
        "{before:?} {}",
        app.get("/api/v1/tasks", officer)?.text
    );

    // Level 3 tightens both active loans of the borrower and re-plans them.
    let three = app.post(
        &sign,
        inst.token("ho.risk"),
        &json!({ "comment": "同意，转重点管理。" }),
    )?;
    assert_eq!(three.status, 200, "{}", three.text);
    assert_eq!(three.body["status"], "signed");
    let mut tightened: Vec<String> = three.body["tightened_loans"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    tightened.sort();
    let mut both = vec![l1.clone(), l2.clone()];
    both.sort();
    assert_eq!(tightened, both);
    let levels: Vec<i64> = three.body["signatures"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["level"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(levels, [1, 2, 3]);
    for l in [&l1, &l2] {
        assert_eq!(
            app.get(&format!("/api/v1/loans/{l}"), officer)?.body["management_mode"],
            "focused"
        );
    }
    let after = levels_of(officer)?;
    assert!(
        after.len() >= before.len() && after.iter().all(|l| *l == 2),
        "{after:?}"
    );
    assert_eq!(
        app.post(&sign, inst.token("auditor"), &json!({}))?.status,
        403
    );
    let fourth = app.post(&sign, &supervisor2, &json!({}))?;
    assert_eq!(fourth.status, 409, "{}", fourth.text);

    // The reporter hears it is signed, and reads it; nobody else can read their notification.
    let mine = app.get("/api/v1/me/notifications?unread=true", officer)?;
    let signed = mine.body["items"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["kind"] == "incident.signed"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        signed["subject_id"].as_str(),
        Some(id.as_str()),
        "{}",
        mine.text
    );
    let nid = signed["id"].as_str().unwrap_or_default();
    assert_eq!(
        app.post(
            &format!("/api/v1/me/notifications/{nid}/read"),
            inst.token("a.supervisor"),
            &json!({})
        )?
        .status,
        404
    );
    let read = app.post(
        &format!("/api/v1/me/notifications/{nid}/read"),
        officer,
        &json!({}),
    )?;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(read.body["read_at"].as_str().is_some());
    assert!(
        kinds_of(app, officer)?
            .iter()
            .all(|(k, _)| k != "incident.signed")
    );

    // Scope of the list.
    let listed = app.get(
        "/api/v1/incident-reports?status=signed",
        inst.token("a.supervisor"),
    )?;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
    assert_eq!(
        app.get("/api/v1/incident-reports", inst.token("b.supervisor"))?
            .body["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/incident-reports/{id}"),
            inst.token("b.officer")
        )?
        .status,
        404
    );
    assert_eq!(
        app.get("/api/v1/incident-reports?status=lost", officer)?
            .status,
        400
    );
    Ok(())
}

fn overdue_tasks_escalate_to_the_supervisor_once(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京宏达物流有限公司", 202),
    )?;
    assert_eq!(b.status, 201, "{}", b.text);
    let lid = loan(app, officer, &b.body, "E-1", "2026-07-10")?;
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default();
    // The first on-site inspection is due a month after disbursement, on 10 Aug.
    let planned = loanwatch_api::tasks::run(&mut app.conn()?, None, day(8, 1), 1, false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(planned.created >= 1, "{planned:?}");

    // Not overdue on its due date.
    let on_time = loanwatch_api::tasks::escalation::run(&mut app.conn()?, day(8, 10), false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!((on_time.ran, on_time.tasks), (true, 0), "{on_time:?}");
    let late = loanwatch_api::tasks::escalation::run(&mut app.conn()?, day(8, 11), false)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(
        (late.tasks, late.notified, late.unowned),
        (1, 1, 0),
        "{late:?}"
    );
    let told = kinds_of(app, inst.token("a.supervisor"))?;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "task.overdue");
    assert!(kinds_of(app, inst.token("b.supervisor"))?.is_empty());
    assert!(kinds_of(app, officer)?.is_empty());

    // Once: a forced rerun and the next day's run escalate nothing again.
    for (date, force) in [(day(8, 11), true), (day(8, 12), false)] {
        let r = loanwatch_api::tasks::escalation::run(&mut app.conn()?, date, force)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        assert_eq!(r.tasks, 0, "{r:?}");
    }
    assert_eq!(kinds_of(app, inst.token("a.supervisor"))?.len(), 1);

    // The task's history says so.
    let task_id = &told[0].1;
    let task = app.get(&format!("/api/v1/tasks/{task_id}"), officer)?;
    assert_eq!(task.body["loan_id"].as_str(), Some(lid.as_str()));
    let actions: Vec<&str> = task.body["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, ["escalate"], "{}", task.text);
    Ok(())
}

loanwatch_e2e::on_both_backends!(
    incident_reports_are_signed_at_three_levels,
    overdue_tasks_escalate_to_the_supervisor_once
);
