//! Positions, current schedules and repayments through the API.

use loanwatch_e2e::{TestApp, enterprise, seed_institution};
use serde_json::json;

fn positions_follow_repayments_arrears_and_extensions(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京永盛纺织有限公司", 81),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default();
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": "P-1", "borrower_id": bid, "product": "流动资金贷款", "principal_fen": 120_000_00,
            "currency": "CNY", "annual_rate": "6", "repayment_method": "equal_principal", "guarantee_method": "credit",
            "purpose": "采购原材料", "disbursement_date": "2026-01-10", "maturity_date": "2027-01-10",
        }),
    )?;
    assert_eq!(l.status, 201, "{}", l.text);
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();
    let pos = |as_of: &str| {
        app.get(
            &format!("/api/v1/loans/{lid}/position?as_of={as_of}"),
            officer,
        )
    };

    let schedule = app.get(&format!("/api/v1/loans/{lid}/schedule"), officer)?;
    assert_eq!(schedule.status, 200, "{}", schedule.text);
    assert_eq!(
        schedule.body["instalments"].as_array().map(Vec::len),
        Some(12)
    );
    let first = schedule.body["instalments"][0].clone();
    assert_eq!(
        (
            first["due_date"].as_str(),
            first["principal_fen"].as_i64(),
            first["interest_fen"].as_i64()
        ),
        (Some("2026-02-10"), Some(10_000_00), Some(600_00))
    );

    let fresh = pos("2026-01-20")?;
    assert_eq!(
        (
            fresh.status,
            fresh.body["days_past_due"].as_i64(),
            fresh.body["next_due_date"].as_str()
        ),
        (200, Some(0), Some("2026-02-10"))
    );
    let late = pos("2026-03-12")?;
    assert_eq!(
        (
            late.body["days_past_due"].as_i64(),
            late.body["bucket"].as_str()
        ),
        (Some(30), Some("m1")),
        "{}",
        late.text
    );
    assert!(
        late.body["penalty_interest_fen"]
            .as_i64()
            .unwrap_or_default()
            > 0
    );

    // Pay both instalments on their dates: nothing is past due any more.
    for (date, amount) in [
        (
            "2026-02-10",
            first["total_fen"].as_i64().unwrap_or_default(),
        ),
        (
            "2026-03-10",
            schedule.body["instalments"][1]["total_fen"]
                .as_i64()
                .unwrap_or_default(),
        ),
    ] {
        let r = app.send(
            "POST",
            &format!("/api/v1/loans/{lid}/repayments"),
            Some(officer),
            Some(&json!({ "business_date": date, "amount_fen": amount }).to_string()),
            &[("idempotency-key", date)],
        )?;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let replay = app.send(
        "POST",
        &format!("/api/v1/loans/{lid}/repayments"),
        Some(officer),
        Some(
            &json!({ "business_date": "2026-02-10", "amount_fen": first["total_fen"] }).to_string(),
        ),
        &[("idempotency-key", "2026-02-10")],
    )?;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let cured = pos("2026-03-12")?;
    assert_eq!(
        (
            cured.body["days_past_due"].as_i64(),
            cured.body["penalty_interest_fen"].as_i64()
        ),
        (Some(0), Some(0)),
        "{}",
        cured.text
    );
    assert_eq!(
        cured.body["outstanding_principal_fen"].as_i64(),
        Some(100_000_00)
    );

    // More than the payoff is refused and writes nothing.
    let events_before = app.count("loan_events")?;
    let too_much = app.post(
        &format!("/api/v1/loans/{lid}/repayments"),
        officer,
        &json!({ "business_date": "2026-03-12", "amount_fen": 999_999_99 }),
    )?;
    assert_eq!(
        (too_much.status, too_much.pointer()),
        (422, "/amount_fen"),
        "{}",
        too_much.text
    );
    let via_events = app.post(
        &format!("/api/v1/loans/{lid}/events"),
        officer,
        &json!({ "kind": "repayment", "business_date": "2026-03-12", "amount_fen": 999_999_99 }),
    )?;
    assert_eq!(via_events.status, 422);
    assert_eq!(app.count("loan_events")?, events_before);

    // Prepayments: refused beyond the principal not yet due; shortening keeps the instalment.
    let prepay = |body: serde_json::Value| {
        app.post(&format!("/api/v1/loans/{lid}/prepayments"), officer, &body)
    };
    let excessive = prepay(
        json!({ "business_date": "2026-03-10", "amount_fen": 100_000_01, "mode": "shorten_term" }),
    )?;
    assert_eq!(
        (excessive.status, excessive.pointer()),
        (422, "/amount_fen"),
        "{}",
        excessive.text
    );
    let bad_mode =
        prepay(json!({ "business_date": "2026-03-10", "amount_fen": 100, "mode": "sooner" }))?;
    assert_eq!((bad_mode.status, bad_mode.pointer()), (400, "/mode"));
    let shortened = prepay(
        json!({ "business_date": "2026-03-10", "amount_fen": 50_000_00, "mode": "shorten_term" }),
    )?;
    assert_eq!(
        (shortened.status, shortened.body["prepayment_mode"].as_str()),
        (201, Some("shorten_term")),
        "{}",
        shortened.text
    );
    let after_prepay = app.get(&format!("/api/v1/loans/{lid}/schedule"), officer)?;
    assert_eq!(
        after_prepay.body["instalments"].as_array().map(Vec::len),
        Some(7),
        "{}",
        after_prepay.text
    );
    let p = pos("2026-03-11")?;
    assert_eq!(
        p.body["outstanding_principal_fen"].as_i64(),
        Some(50_000_00)
    );

    // An extension re-amortises what is not yet due to the new maturity.
    let ext = app.post(&format!("/api/v1/loans/{lid}/events"), officer, &json!({ "kind": "extension", "business_date": "2026-03-10", "new_maturity_date": "2027-07-10" }))?;
    assert_eq!(ext.status, 201, "{}", ext.text);
    let longer = app.get(&format!("/api/v1/loans/{lid}/schedule"), officer)?;
    let dues: Vec<&str> = longer.body["instalments"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["due_date"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(dues.last().copied(), Some("2027-07-10"), "{dues:?}");
    assert_eq!(dues.len(), 18);
    // Instalments carry what was not prepaid: 120,000 less the 50,000 prepaid.
    assert_eq!(longer.body["total_principal_fen"].as_i64(), Some(70_000_00));

    // An extension no schedule can carry is refused, and the loan stays computable.
    let absurd = app.post(&format!("/api/v1/loans/{lid}/events"), officer, &json!({ "kind": "extension", "business_date": "2026-03-10", "new_maturity_date": "2300-01-01" }))?;
    assert_eq!(
        (absurd.status, absurd.pointer()),
        (422, "/new_maturity_date"),
        "{}",
        absurd.text
    );
    assert_eq!(
        pos("2026-03-12")?.status,
        200,
        "the refused extension broke the loan"
    );

    // Scope and bad input.
    assert_eq!(
        app.get(
            &format!("/api/v1/loans/{lid}/position"),
            inst.token("b.officer")
        )?
        .status,
        404
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/loans/{lid}/position"),
            inst.token("admin")
        )?
        .status,
        403
    );
    assert_eq!(pos("yesterday")?.status, 400);
    let negative = app.post(
        &format!("/api/v1/loans/{lid}/repayments"),
        officer,
        &json!({ "business_date": "2026-03-12", "amount_fen": -5 }),
    )?;
    assert_eq!((negative.status, negative.pointer()), (422, "/amount_fen"));
    let before_disbursement = app.post(
        &format!("/api/v1/loans/{lid}/repayments"),
        officer,
        &json!({ "business_date": "2025-12-01", "amount_fen": 5 }),
    )?;
    assert_eq!(before_disbursement.status, 422);
    Ok(())
}

loanwatch_e2e::on_both_backends!(positions_follow_repayments_arrears_and_extensions);
