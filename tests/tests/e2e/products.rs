//! Product settings drive penalty interest, allocation and overpayment; diversion raises the
//! penalty from its date.

use loanwatch_e2e::{TestApp, enterprise, seed_institution};
use serde_json::json;

fn product_settings_and_diversion_change_the_position(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京星辰电子科技有限公司", 95),
    )?;
    let bid = b.body["id"].as_str().unwrap_or_default();
    let book = |contract: &str, product: &str| {
        app.post(
            "/api/v1/loans",
            officer,
            &json!({
                "contract_no": contract, "borrower_id": bid, "product": product, "principal_fen": 100_000_00,
                "currency": "CNY", "annual_rate": "6", "repayment_method": "bullet", "guarantee_method": "credit",
                "purpose": "采购原材料", "disbursement_date": "2025-06-01", "maturity_date": "2025-12-01",
            }),
        )
    };
    let plain = book("PR-1", "普通贷款")?;
    let special = book("PR-2", "优惠贷款")?;
    assert_eq!((plain.status, special.status), (201, 201));
    let (plain_id, special_id) = (
        plain.body["id"].as_str().unwrap_or_default().to_owned(),
        special.body["id"].as_str().unwrap_or_default().to_owned(),
    );

    // Defaults until a product has settings of its own.
    let defaults = app.get(
        "/api/v1/products/%E4%BC%98%E6%83%A0%E8%B4%B7%E6%AC%BE",
        officer,
    )?;
    assert_eq!(
        (
            defaults.status,
            defaults.body["overdue_uplift_pct"].as_str()
        ),
        (200, Some("50")),
        "{}",
        defaults.text
    );
    let settings = json!({ "overdue_uplift_pct": "30", "allocation": ["principal", "interest", "penalty", "compound"], "allow_overpayment": true });
    let path = "/api/v1/products/%E4%BC%98%E6%83%A0%E8%B4%B7%E6%AC%BE";
    assert_eq!(
        app.send("PUT", path, Some(officer), Some(&settings.to_string()), &[])?
            .status,
        403
    );
    let bad = app.send(
        "PUT",
        path,
        Some(inst.token("admin")),
        Some(&json!({ "allocation": ["principal"] }).to_string()),
        &[],
    )?;
    assert_eq!((bad.status, bad.pointer()), (422, "/allocation"));
    let ok = app.send(
        "PUT",
        path,
        Some(inst.token("ho.risk")),
        Some(&settings.to_string()),
        &[],
    )?;
    assert_eq!(ok.status, 200, "{}", ok.text);

    // Ten days past maturity: 100,000 yuan at 6 % × (1 + uplift) × 10 / 360.
    let penalty = |id: &str| -> anyhow::Result<i64> {
        let p = app.get(
            &format!("/api/v1/loans/{id}/position?as_of=2025-12-11"),
            officer,
        )?;
        Ok(p.body["penalty_interest_fen"].as_i64().unwrap_or_default())
    };
    assert_eq!(
        penalty(&plain_id)?,
        250_00,
        "+50 %: 10,000,000 × 9 % × 10 / 360"
    );
    assert_eq!(
        penalty(&special_id)?,
        216_67,
        "+30 %: 10,000,000 × 7.8 % × 10 / 360"
    );

    // Diversion established from 6 Dec: +100 % from then on the plain product.
    let diverted = app.patch(
        &format!("/api/v1/loans/{plain_id}"),
        inst.token("a.supervisor"),
        &json!({ "diverted_from": "2025-12-06" }),
    )?;
    assert_eq!(
        (diverted.status, diverted.body["diverted_from"].as_str()),
        (200, Some("2025-12-06")),
        "{}",
        diverted.text
    );
    assert_eq!(penalty(&plain_id)?, 291_67, "5 days at 9 % and 5 at 12 %");
    let too_early = app.patch(
        &format!("/api/v1/loans/{plain_id}"),
        inst.token("a.supervisor"),
        &json!({ "diverted_from": "2025-01-01" }),
    )?;
    assert_eq!(
        (too_early.status, too_early.pointer()),
        (422, "/diverted_from")
    );

    // Overpayment: refused on the plain product, held on the special one.
    let over = json!({ "business_date": "2025-12-11", "amount_fen": 200_000_00 });
    assert_eq!(
        app.post(
            &format!("/api/v1/loans/{plain_id}/repayments"),
            officer,
            &over
        )?
        .status,
        422
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/loans/{special_id}/repayments"),
            officer,
            &over
        )?
        .status,
        201
    );
    let p = app.get(
        &format!("/api/v1/loans/{special_id}/position?as_of=2025-12-11"),
        officer,
    )?;
    assert_eq!(
        (
            p.body["outstanding_principal_fen"].as_i64(),
            p.body["days_past_due"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert!(
        p.body["unapplied_fen"].as_i64().unwrap_or_default() > 0,
        "{}",
        p.text
    );
    Ok(())
}

loanwatch_e2e::on_both_backends!(product_settings_and_diversion_change_the_position);
