//! Schedule preview, and loans booked with their schedule terms.

use loanwatch_e2e::{TestApp, enterprise, loan_body, seed_institution};
use serde_json::json;

fn schedules_are_previewed_and_terms_are_checked_at_booking(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let preview = |body: serde_json::Value| app.post("/api/v1/schedules/preview", officer, &body);
    let mortgage = json!({
        "principal_fen": 1_000_000_00, "annual_rate": "4.9", "repayment_method": "equal_instalment",
        "start_date": "2025-01-15", "maturity_date": "2055-01-15",
    });
    let s = preview(mortgage.clone())?;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.body["instalments"].as_array().map(Vec::len), Some(360));
    assert_eq!(
        s.body["instalments"][0]["total_fen"].as_i64(),
        Some(5_307_27)
    );
    assert_eq!(s.body["total_principal_fen"].as_i64(), Some(1_000_000_00));
    assert_eq!(s.body["currency"].as_str(), Some("CNY"));

    let quarterly = preview(json!({
        "principal_fen": 100_000_00, "annual_rate": "3.6", "repayment_method": "monthly_interest",
        "start_date": "2026-01-10", "maturity_date": "2027-01-10", "repayment_frequency": "quarterly", "repayment_day": 21,
    }))?;
    assert_eq!(quarterly.status, 200, "{}", quarterly.text);
    assert_eq!(
        quarterly.body["instalments"][0]["due_date"].as_str(),
        Some("2026-01-21")
    );
    assert_eq!(
        quarterly.body["instalments"][0]["regular"].as_bool(),
        Some(false)
    );

    for (patch, status, pointer) in [
        (json!({ "principal_fen": 0 }), 422, "/principal_fen"),
        (json!({ "annual_rate": "-1" }), 422, "/annual_rate"),
        (
            json!({ "maturity_date": "2024-01-01" }),
            422,
            "/maturity_date",
        ),
        (
            json!({ "repayment_method": "balloon" }),
            400,
            "/repayment_method",
        ),
        (
            json!({ "repayment_method": "custom" }),
            422,
            "/custom_schedule",
        ),
        (json!({ "custom_schedule": [] }), 422, "/custom_schedule"),
        (json!({ "repayment_day": 40 }), 422, "/repayment_day"),
        (
            json!({ "maturity_date": "2099-01-15" }),
            422,
            "/maturity_date",
        ),
    ] {
        let mut body = mortgage.clone();
        for (k, v) in patch.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let r = preview(body)?;
        assert_eq!(
            (r.status, r.pointer()),
            (status, pointer),
            "{patch}: {}",
            r.text
        );
    }

    // Booking stores the terms; a custom schedule that does not add up is refused, unwritten.
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京海纳物流有限公司", 71),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let mut body = loan_body(&bid, "Q-1", 100_000_00, "2027-01-15");
    body["repayment_frequency"] = json!("quarterly");
    body["repayment_day"] = json!(20);
    body["day_count"] = json!("act_365");
    let l = app.post("/api/v1/loans", officer, &body)?;
    assert_eq!(l.status, 201, "{}", l.text);
    assert_eq!(
        (
            l.body["repayment_frequency"].as_str(),
            l.body["repayment_day"].as_i64(),
            l.body["day_count"].as_str()
        ),
        (Some("quarterly"), Some(20), Some("act_365"))
    );
    let loans_before = app.count("loans")?;
    let mut custom = loan_body(&bid, "Q-2", 100_000_00, "2027-01-15");
    custom["repayment_method"] = json!("custom");
    custom["custom_schedule"] = json!([{ "due_date": "2026-07-15", "principal_fen": 40_000_00 }, { "due_date": "2027-01-15", "principal_fen": 50_000_00 }]);
    let refused = app.post("/api/v1/loans", officer, &custom)?;
    assert_eq!(
        (refused.status, refused.pointer()),
        (422, "/custom_schedule"),
        "{}",
        refused.text
    );
    assert_eq!(app.count("loans")?, loans_before);
    custom["custom_schedule"][1]["principal_fen"] = json!(60_000_00);
    let accepted = app.post("/api/v1/loans", officer, &custom)?;
    assert_eq!(accepted.status, 201, "{}", accepted.text);
    assert_eq!(
        accepted.body["custom_schedule"][1]["principal_fen"].as_i64(),
        Some(60_000_00)
    );
    Ok(())
}

loanwatch_e2e::on_both_backends!(schedules_are_previewed_and_terms_are_checked_at_booking);
