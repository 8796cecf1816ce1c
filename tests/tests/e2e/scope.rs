//! Every role sees exactly its part: officers their own, others their subtree; auditors never
//! write; administrators never read customer data; personal data masked where not needed.

use loanwatch_e2e::{TestApp, enterprise, individual, loan_body, seed_institution};
use serde_json::json;

fn each_role_sees_exactly_its_part(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let mine = app.post(
        "/api/v1/borrowers",
        inst.token("a.officer"),
        &enterprise("北京恒远机械有限公司", 1),
    )?;
    assert_eq!(mine.status, 201, "{}", mine.text);
    assert_eq!(
        mine.body["officer_id"].as_str(),
        Some(inst.user("a.officer"))
    );
    let a_id = mine.body["id"].as_str().unwrap_or_default().to_owned();
    let b = app.post(
        "/api/v1/borrowers",
        inst.token("b.officer"),
        &enterprise("杭州华盛纺织有限公司", 2),
    )?;
    let b_id = b.body["id"].as_str().unwrap_or_default().to_owned();
    let sub = app.post(
        "/api/v1/borrowers",
        inst.token("a1.officer"),
        &enterprise("朝阳支行客户", 3),
    )?;
    let sub_id = sub.body["id"].as_str().unwrap_or_default().to_owned();
    let loan = app.post(
        "/api/v1/loans",
        inst.token("a.officer"),
        &loan_body(&a_id, "A-001", 500_000_00, "2027-01-15"),
    )?;
    assert_eq!(loan.status, 201, "{}", loan.text);
    let loan_id = loan.body["id"].as_str().unwrap_or_default().to_owned();

    let sees = |user: &str, id: &str| -> anyhow::Result<u16> {
        Ok(app
            .get(&format!("/api/v1/borrowers/{id}"), inst.token(user))?
            .status)
    };
    // The officer of branch A: own borrower only.
    assert_eq!(sees("a.officer", &a_id)?, 200);
    assert_eq!(
        sees("a.officer", &b_id)?,
        404,
        "an officer of A read branch B's borrower"
    );
    assert_eq!(
        sees("a.officer2", &a_id)?,
        404,
        "an officer read a colleague's borrower"
    );
    // Supervisors: their subtree, sub-branches included.
    assert_eq!(sees("a.supervisor", &a_id)?, 200);
    assert_eq!(sees("a.supervisor", &sub_id)?, 200);
    assert_eq!(sees("a.supervisor", &b_id)?, 404);
    assert_eq!(sees("b.supervisor", &a_id)?, 404);
    // Head office and auditors: everything.
    for user in ["ho.risk", "auditor"] {
        assert_eq!(sees(user, &a_id)?, 200);
        assert_eq!(sees(user, &b_id)?, 200);
    }
    // Lists follow the same scope.
    let count = |user: &str| -> anyhow::Result<usize> {
        let r = app.get("/api/v1/borrowers", inst.token(user))?;
        Ok(r.body["items"].as_array().map_or(0, Vec::len))
    };
    assert_eq!(
        (
            count("a.officer")?,
            count("a.supervisor")?,
            count("b.supervisor")?,
            count("ho.risk")?
        ),
        (1, 2, 1, 3)
    );
    let loans_b = app.get("/api/v1/loans", inst.token("b.supervisor"))?;
    assert_eq!(loans_b.body["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        app.get(&format!("/api/v1/loans/{loan_id}"), inst.token("b.officer"))?
            .status,
        404
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/loans/{loan_id}/events"),
            inst.token("b.officer")
        )?
        .status,
        404
    );

    // Auditors read but never write.
    let audit_write = app.post(
        "/api/v1/borrowers",
        inst.token("auditor"),
        &enterprise("x", 4),
    )?;
    assert_eq!((audit_write.status, audit_write.code()), (403, "forbidden"));
    let audit_patch = app.patch(
        &format!("/api/v1/loans/{loan_id}"),
        inst.token("auditor"),
        &json!({ "class": "loss" }),
    )?;
    assert_eq!(audit_patch.status, 403);
    // Administrators manage people but read no customer data.
    let admin_read = app.get("/api/v1/borrowers", inst.token("admin"))?;
    assert_eq!((admin_read.status, admin_read.code()), (403, "forbidden"));
    assert_eq!(
        app.get(&format!("/api/v1/loans/{loan_id}"), inst.token("admin"))?
            .status,
        403
    );
    // …and others do not manage people.
    assert_eq!(app.get("/api/v1/users", inst.token("ho.risk"))?.status, 403);

    // Out-of-scope writes are refused like absent records.
    let foreign_event = app.post(
        &format!("/api/v1/loans/{loan_id}/events"),
        inst.token("b.officer"),
        &json!({ "kind": "repayment", "business_date": "2026-02-01", "amount_fen": 100 }),
    )?;
    assert_eq!(foreign_event.status, 404);
    let hand_over = app.patch(
        &format!("/api/v1/borrowers/{b_id}"),
        inst.token("a.supervisor"),
        &json!({ "officer_id": inst.user("a.officer2") }),
    )?;
    assert_eq!(hand_over.status, 404);
    // An officer cannot book a borrower for someone else, nor in another branch.
    let for_other = app.post("/api/v1/borrowers", inst.token("a.officer"), &{
        let mut b = enterprise("y", 5);
        b["officer_id"] = json!(inst.user("a.officer2"));
        b
    })?;
    assert_eq!(
        (for_other.status, for_other.pointer()),
        (422, "/officer_id")
    );
    let elsewhere = app.post("/api/v1/borrowers", inst.token("a.supervisor"), &{
        let mut b = enterprise("z", 6);
        b["organisation_id"] = json!(inst.branch_b);
        b["officer_id"] = json!(inst.user("b.officer"));
        b
    })?;
    assert_eq!(
        (elsewhere.status, elsewhere.pointer()),
        (422, "/organisation_id")
    );
    Ok(())
}

fn personal_data_is_masked_for_roles_that_do_not_need_it(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let person = individual("王芳", 7);
    let full_id = person["id_number"].as_str().unwrap_or_default().to_owned();
    let created = app.post("/api/v1/borrowers", inst.token("a.officer"), &person)?;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap_or_default();
    assert_eq!(created.body["id_number"].as_str(), Some(full_id.as_str()));
    assert_eq!(created.body["phone"].as_str(), Some("13912345678"));
    for user in ["auditor", "ho.risk"] {
        let seen = app.get(&format!("/api/v1/borrowers/{id}"), inst.token(user))?;
        let shown = seen.body["id_number"].as_str().unwrap_or_default();
        assert_ne!(shown, full_id, "{user} saw the full ID number");
        assert_eq!(shown.len(), 18);
        assert!(shown.contains("********"));
        assert_eq!(seen.body["phone"].as_str(), Some("139****5678"));
    }
    // The ID number appears nowhere in the audit trail.
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct D {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let details: Vec<D> =
        diesel::sql_query("SELECT detail FROM audit_log").load(&mut app.conn()?)?;
    assert!(details.iter().all(|d| !d.detail.contains(&full_id)));
    Ok(())
}

loanwatch_e2e::on_both_backends!(
    each_role_sees_exactly_its_part,
    personal_data_is_masked_for_roles_that_do_not_need_it
);
