//! The working-day calendar: shipped years, deadlines across holidays, administrators load years.

use loanwatch_e2e::{TestApp, seed_institution};
use serde_json::json;

/// A made-up 2027 arrangement for tests only (not the official one).
fn fixture_2027(makeup: &str) -> serde_json::Value {
    json!({
        "year": 2027,
        "source": "test fixture, not an official arrangement",
        "holidays": [{ "name": "元旦", "from": "2027-01-01", "to": "2027-01-03" }],
        "makeup_workdays": [{ "date": makeup, "for": "元旦" }],
    })
}

fn shipped_years_and_deadlines_across_holidays(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let years = app.get("/api/v1/calendar", officer)?;
    let loaded: Vec<i64> = years
        .body
        .as_array()
        .map(|a| a.iter().filter_map(|y| y["year"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(loaded, [2024, 2025, 2026]);
    let y2026 = app.get("/api/v1/calendar/2026", officer)?;
    assert_eq!(y2026.body["holidays"][1]["name"].as_str(), Some("春节"));
    assert_eq!(app.get("/api/v1/calendar/2031", officer)?.status, 404);

    // Ten working days after Friday 26 Sep 2025 cross National Day and count both make-up days.
    let d = app.get(
        "/api/v1/calendar/deadline?from=2025-09-26&working_days=10",
        officer,
    )?;
    assert_eq!(
        (d.status, d.body["date"].as_str()),
        (200, Some("2025-10-16")),
        "{}",
        d.text
    );
    let missing = app.get(
        "/api/v1/calendar/deadline?from=2026-12-30&working_days=5",
        officer,
    )?;
    assert_eq!((missing.status, missing.code()), (422, "validation_failed"));
    assert!(
        missing.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("2027")
    );

    // Only administrators load years, and only consistent ones.
    assert_eq!(
        app.send(
            "PUT",
            "/api/v1/calendar/2027",
            Some(officer),
            Some(&fixture_2027("2027-01-09").to_string()),
            &[]
        )?
        .status,
        403
    );
    let admin = inst.token("admin");
    let weekday = app.send(
        "PUT",
        "/api/v1/calendar/2027",
        Some(admin),
        Some(&fixture_2027("2027-01-06").to_string()),
        &[],
    )?;
    assert_eq!(
        (weekday.status, weekday.pointer()),
        (422, "/makeup_workdays"),
        "{}",
        weekday.text
    );
    let wrong_year = app.send(
        "PUT",
        "/api/v1/calendar/2028",
        Some(admin),
        Some(&fixture_2027("2027-01-09").to_string()),
        &[],
    )?;
    assert_eq!(wrong_year.status, 422);
    assert_eq!(
        app.get("/api/v1/calendar/2027", officer)?.status,
        404,
        "a refused document was stored"
    );
    let ok = app.send(
        "PUT",
        "/api/v1/calendar/2027",
        Some(admin),
        Some(&fixture_2027("2027-01-09").to_string()),
        &[],
    )?;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // Thu 31 Dec 2026 + 5: Jan 1–3 off, Mon 4, Tue 5, Wed 6, Thu 7, Fri 8 → 8 Jan 2027.
    let across = app.get(
        "/api/v1/calendar/deadline?from=2026-12-31&working_days=5",
        officer,
    )?;
    assert_eq!(
        across.body["date"].as_str(),
        Some("2027-01-08"),
        "{}",
        across.text
    );
    // …and Sat 9 Jan is a make-up working day.
    let sat = app.get(
        "/api/v1/calendar/deadline?from=2027-01-08&working_days=1",
        officer,
    )?;
    assert_eq!(sat.body["date"].as_str(), Some("2027-01-09"));
    let bad = app.get(
        "/api/v1/calendar/deadline?from=2026-01-01&working_days=9999",
        officer,
    )?;
    assert_eq!((bad.status, bad.pointer()), (400, "#/query/working_days"));
    Ok(())
}

loanwatch_e2e::on_both_backends!(shipped_years_and_deadlines_across_holidays);
