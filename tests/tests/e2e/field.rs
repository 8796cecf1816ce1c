//! Sites and check-ins: verdicts with reasons, datums, replays, check-out and the trail's privacy.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use loanwatch_e2e::{TestApp, enterprise, seed_institution};
use serde_json::{Value, json};

/// A factory gate in Beijing (WGS-84) and the same spot as AMap (GCJ-02) reports it.
const GATE_WGS: (f64, f64) = (39.911954, 116.377817);
const GATE_GCJ: (f64, f64) = (39.91334545536069, 116.38404722455657);

/// `minutes` from now, as the device would send it.
fn ago(minutes: i64) -> String {
    (Utc::now() - Duration::minutes(minutes)).to_rfc3339()
}

/// A check-in made `minutes` ago (offline until now) with a fix 10 s older.
fn checkin(id: &str, (lat, lng): (f64, f64), datum: &str, minutes: i64, extra: Value) -> Value {
    let made = Utc::now() - Duration::minutes(minutes);
    let mut body = json!({
        "id": id, "position": { "latitude": lat, "longitude": lng }, "datum": datum,
        "accuracy_m": 12.0, "provider": "gps", "mock_location": false,
        "device_time": made.to_rfc3339(), "fix_time": (made - Duration::seconds(10)).to_rfc3339(),
        "sent_at": Utc::now().to_rfc3339(),
    });
    if let (Some(o), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    body
}

fn flags(r: &Value) -> Vec<String> {
    r["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["flag"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn check_ins_are_judged_replayed_and_private(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京恒远纺织有限公司", 301),
    )?;
    anyhow::ensure!(b.status == 201, "{}", b.text);
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": "F-1", "borrower_id": bid, "product": "流动资金贷款", "principal_fen": 100_000_00,
            "currency": "CNY", "annual_rate": "4", "repayment_method": "bullet", "guarantee_method": "credit",
            "purpose": "采购原材料", "disbursement_date": "2026-10-20", "maturity_date": "2027-10-20",
        }),
    )?;
    anyhow::ensure!(l.status == 201, "{}", l.text);
    loanwatch_api::tasks::run(
        &mut app.conn()?,
        None,
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
        1,
        false,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tasks = app.get("/api/v1/tasks?status=open", officer)?;
    let task = tasks.body["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(!task.is_empty(), "no task planned: {}", tasks.text);
    let checkins = format!("/api/v1/tasks/{task}/checkins");

    // Without a registered site the check-in is kept and says so.
    let no_site = app.post(
        &checkins,
        officer,
        &checkin(
            "0196a000-0000-7000-8000-000000000001",
            GATE_WGS,
            "wgs84",
            40,
            json!({}),
        ),
    )?;
    assert_eq!(no_site.status, 201, "{}", no_site.text);
    assert_eq!(flags(&no_site.body), ["no_site"]);

    // A 150 m circle around the gate, drawn on AMap (GCJ-02).
    let site = app.post(
        &format!("/api/v1/borrowers/{bid}/sites"),
        officer,
        &json!({ "name": "厂区大门", "datum": "gcj02", "geometry": { "circle": { "center": { "latitude": GATE_GCJ.0, "longitude": GATE_GCJ.1 }, "radius_m": 150.0 } } }),
    )?;
    assert_eq!(site.status, 201, "{}", site.text);
    for (body, pointer) in [
        (
            json!({ "name": "x", "datum": "gcj02", "geometry": { "circle": { "center": { "latitude": 95.0, "longitude": 116.0 }, "radius_m": 150.0 } } }),
            "/geometry/circle/center",
        ),
        (
            json!({ "name": "x", "datum": "gcj02", "geometry": { "circle": { "center": { "latitude": 39.9, "longitude": 116.0 }, "radius_m": 0.0 } } }),
            "/geometry/circle/radius_m",
        ),
        (
            json!({ "name": "x", "datum": "gcj02", "geometry": { "polygon": { "vertices": [{ "latitude": 39.9, "longitude": 116.0 }] } } }),
            "/geometry/polygon/vertices",
        ),
    ] {
        let r = app.post(&format!("/api/v1/borrowers/{bid}/sites"), officer, &body)?;
        assert_eq!((r.status, r.pointer()), (422, pointer), "{}", r.text);
    }
    let bad_datum = app.post(&format!("/api/v1/borrowers/{bid}/sites"), officer, &json!({ "name": "x", "datum": "wgs72", "geometry": { "circle": { "center": { "latitude": 39.9, "longitude": 116.0 }, "radius_m": 10.0 } } }))?;
    assert_eq!((bad_datum.status, bad_datum.pointer()), (400, "/datum"));
    assert_eq!(
        app.get(
            &format!("/api/v1/borrowers/{bid}/sites"),
            inst.token("b.officer")
        )?
        .status,
        404
    );

    // The GPS fix at the gate, given in WGS-84, is inside the GCJ-02 fence: datums are converted.
    let id = "0196a000-0000-7000-8000-000000000002";
    let body = checkin(id, GATE_WGS, "wgs84", 30, json!({}));
    let first = app.post(&checkins, officer, &body)?;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(flags(&first.body), Vec::<String>::new(), "{}", first.text);
    assert_eq!(first.body["trusted"], true);
    assert_eq!(first.body["distance_m"].as_f64(), Some(0.0));
    // Replays: the same answer, once; other content under the id is a conflict.
    let again = app.post(&checkins, officer, &body)?;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    // A resend after a lost answer leaves the phone later: a new `sent_at` is the same check-in.
    let mut resent = body.clone();
    resent["sent_at"] = json!(Utc::now().to_rfc3339());
    let later = app.post(&checkins, officer, &resent)?;
    assert_eq!(later.status, 200, "{}", later.text);
    assert_eq!(later.body, first.body);
    let other = app.post(
        &checkins,
        officer,
        &checkin(id, GATE_GCJ, "wgs84", 30, json!({})),
    )?;
    assert_eq!(other.status, 409, "{}", other.text);

    // The AMap position declared as WGS-84 lands hundreds of metres off; mock and accuracy flags.
    // The device clock is an hour slow: the skew is flagged and the time corrected.
    let off = app.post(
        &checkins,
        officer,
        &checkin(
            "0196a000-0000-7000-8000-000000000003",
            GATE_GCJ,
            "wgs84",
            70,
            json!({ "mock_location": true, "accuracy_m": 300.0, "sent_at": ago(60) }),
        ),
    )?;
    assert_eq!(off.status, 201, "{}", off.text);
    let mut f = flags(&off.body);
    f.sort();
    assert_eq!(
        f,
        [
            "clock_skew",
            "low_accuracy",
            "mock_location",
            "outside_geofence"
        ],
        "{}",
        off.text
    );
    let corrected = off.body["checked_in_at"]
        .as_str()
        .unwrap_or_default()
        .parse::<DateTime<Utc>>()?;
    let expected = Utc::now() - Duration::minutes(10);
    assert!(
        (corrected - expected).num_seconds().abs() < 60,
        "{corrected} against {expected}"
    );
    assert!(off.body["distance_m"].as_f64().unwrap_or_default() > 300.0);
    assert_eq!(off.body["trusted"], false);

    // Bad input: nothing kept.
    let before = app.count("checkins")?;
    for (body, status, pointer) in [
        (
            checkin(
                "0196a000-0000-7000-8000-000000000009",
                (91.0, 116.0),
                "wgs84",
                5,
                json!({}),
            ),
            422,
            "/position",
        ),
        (
            checkin(
                "0196a000-0000-7000-8000-000000000009",
                GATE_WGS,
                "wgs84",
                5,
                json!({ "accuracy_m": 0.0 }),
            ),
            422,
            "/accuracy_m",
        ),
        (
            checkin(
                "0196a000-0000-7000-8000-000000000009",
                GATE_WGS,
                "utm",
                5,
                json!({}),
            ),
            400,
            "/datum",
        ),
        (
            checkin("not-a-uuid", GATE_WGS, "wgs84", 5, json!({})),
            422,
            "/id",
        ),
        (
            checkin(
                "0196a000-0000-7000-8000-000000000009",
                GATE_WGS,
                "wgs84",
                5,
                json!({ "device_time": "2000-01-01T00:00:00Z" }),
            ),
            422,
            "/device_time",
        ),
        (
            checkin(
                "0196a000-0000-7000-8000-000000000009",
                GATE_WGS,
                "wgs84",
                5,
                json!({ "sent_at": "9999-12-31T00:00:00Z" }),
            ),
            422,
            "/sent_at",
        ),
    ] {
        let r = app.post(&checkins, officer, &body)?;
        assert_eq!((r.status, r.pointer()), (status, pointer), "{}", r.text);
    }
    let foreign = app.post(
        &checkins,
        inst.token("a.officer2"),
        &checkin(
            "0196a000-0000-7000-8000-000000000010",
            GATE_WGS,
            "wgs84",
            5,
            json!({}),
        ),
    )?;
    assert_eq!(foreign.status, 404, "someone else's task: {}", foreign.text);
    assert_eq!(app.count("checkins")?, before);

    // Check-out: a five-minute visit is short; twice is a conflict; only mine.
    let out_path = format!("/api/v1/checkins/{id}/checkout");
    assert_eq!(
        app.post(&out_path, inst.token("a.supervisor"), &json!({}))?
            .status,
        404
    );
    let out = app.post(
        &out_path,
        officer,
        &json!({ "device_time": ago(25), "sent_at": ago(0) }),
    )?;
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(flags(&out.body), ["short_dwell"], "{}", out.text);
    assert_eq!(out.body["trusted"], false);
    assert_eq!(app.post(&out_path, officer, &json!({}))?.status, 409);

    // The supervisor sees the flags on the task and on the officer's trail; others do not.
    let seen = app.get(&checkins, inst.token("a.supervisor"))?;
    assert_eq!(seen.body.as_array().map(Vec::len), Some(3), "{}", seen.text);
    let officer_id = inst.user("a.officer");
    // The trail is by business day (Beijing time): the three check-ins may straddle midnight.
    let beijing = FixedOffset::east_opt(8 * 3600).ok_or_else(|| anyhow::anyhow!("offset"))?;
    let mut days: Vec<NaiveDate> = seen
        .body
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["checked_in_at"].as_str()?.parse::<DateTime<Utc>>().ok())
                .map(|t| t.with_timezone(&beijing).date_naive())
                .collect()
        })
        .unwrap_or_default();
    days.dedup();
    let trail = |token: &str| -> anyhow::Result<(u16, usize)> {
        let mut n = 0;
        let mut status = 200;
        for d in &days {
            let r = app.get(&format!("/api/v1/users/{officer_id}/trail?date={d}"), token)?;
            status = status.max(r.status);
            n += r.body.as_array().map(Vec::len).unwrap_or_default();
        }
        Ok((status, n))
    };
    assert_eq!(trail(officer)?, (200, 3));
    assert_eq!(trail(inst.token("a.supervisor"))?, (200, 3));
    assert_eq!(trail(inst.token("auditor"))?, (200, 3));
    assert_eq!(trail(inst.token("a.officer2"))?.0, 404);
    assert_eq!(trail(inst.token("b.supervisor"))?.0, 404);
    assert_eq!(trail(inst.token("admin"))?.0, 404);
    Ok(())
}

loanwatch_e2e::on_both_backends!(check_ins_are_judged_replayed_and_private);
