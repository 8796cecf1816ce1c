//! The field SDK against a real server: sign in, download the agenda, do the visit offline,
//! sync once the network returns; a kill after every acknowledged step loses and doubles
//! nothing; a returned inspection comes back and is resubmitted.

use chrono::NaiveDate;
use loanwatch_e2e::{Institution, PASSWORD, TestApp, enterprise, seed_institution};
use loanwatch_sdk::{Client, LocationFix, SdkError, SyncProgress, Watermarker, watermark};
use serde_json::json;

const GATE_WGS: (f64, f64) = (39.911954, 116.377817);
const GATE_GCJ: (f64, f64) = (39.91334545536069, 116.38404722455657);

/// A CJK font (Debian's fonts-wqy-microhei), required on CI.
pub(crate) fn font() -> Option<String> {
    let path = std::env::var("LOANWATCH_TEST_FONT")
        .unwrap_or_else(|_| "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc".into());
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "no CJK font at {path}: install fonts-wqy-microhei (CI must not skip the SDK visit)"
    );
    eprintln!("SKIPPED: the SDK visit needs a CJK font (install fonts-wqy-microhei)");
    None
}

pub(crate) fn fix() -> LocationFix {
    LocationFix {
        latitude: GATE_WGS.0,
        longitude: GATE_WGS.1,
        datum: "wgs84".into(),
        accuracy_m: 9.0,
        provider: "gps".into(),
        mock_location: false,
        fix_time_ms: chrono::Utc::now().timestamp_millis() - 5_000,
    }
}

/// Stops a sync after one entry.
struct One;

impl SyncProgress for One {
    fn on_progress(&self, _done: u32, _total: u32, _what: String) -> bool {
        false
    }
}

/// The outbox as stored on the device: (seq, task, op, step).
fn outbox_rows(db: &std::path::Path) -> anyhow::Result<Vec<(i64, String, String, i64)>> {
    let conn = rusqlite::Connection::open(db)?;
    let mut stmt = conn.prepare("SELECT seq, task_id, op, step FROM outbox ORDER BY seq")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// An institution, a borrower with a site at its gate, a loan and its first on-site inspection
/// assigned to `a.officer`: the task's id.
pub(crate) fn visit_fixture(app: &TestApp) -> anyhow::Result<(Institution, String)> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let b = app.post(
        "/api/v1/borrowers",
        officer,
        &enterprise("北京汇通商贸有限公司", 77),
    )?;
    anyhow::ensure!(b.status == 201, "{}", b.text);
    let bid = b.body["id"].as_str().unwrap_or_default().to_owned();
    let site = app.post(
        &format!("/api/v1/borrowers/{bid}/sites"),
        officer,
        &json!({ "name": "厂区大门", "datum": "gcj02", "geometry": { "circle": { "center": { "latitude": GATE_GCJ.0, "longitude": GATE_GCJ.1 }, "radius_m": 150.0 } } }),
    )?;
    anyhow::ensure!(site.status == 201, "{}", site.text);
    let l = app.post(
        "/api/v1/loans",
        officer,
        &json!({
            "contract_no": "SDK-1", "borrower_id": bid, "product": "流动资金贷款", "principal_fen": 200_000_00,
            "currency": "CNY", "annual_rate": "4.5", "repayment_method": "monthly_interest", "guarantee_method": "credit",
            "purpose": "采购原材料", "disbursement_date": "2026-06-15", "maturity_date": "2027-06-15",
        }),
    )?;
    anyhow::ensure!(l.status == 201, "{}", l.text);
    let lid = l.body["id"].as_str().unwrap_or_default().to_owned();
    loanwatch_api::tasks::run(
        &mut app.conn()?,
        None,
        NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default(),
        3,
        false,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tasks = app.get(&format!("/api/v1/tasks?loan_id={lid}"), officer)?;
    let task = tasks.body["items"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["kind"] == "on_site_inspection"))
        .and_then(|t| t["id"].as_str())
        .unwrap_or_default()
        .to_owned();

    Ok((inst, task))
}

/// Checks on the server that the visit arrived once: two check-ins, the photos with exactly
/// `hashes`, the signed inspection and one submission.
pub(crate) fn arrived_once(
    app: &TestApp,
    inst: &Institution,
    task: &str,
    mut hashes: Vec<String>,
) -> anyhow::Result<()> {
    let officer = inst.token("a.officer");
    assert_eq!(app.count("checkins")?, 2);
    let evidence = app.get(&format!("/api/v1/tasks/{task}/evidence"), officer)?;
    let mut stored: Vec<String> = evidence.body.as_array().map_or(vec![], |a| {
        a.iter()
            .filter(|e| e["status"] == "stored")
            .filter_map(|e| e["sha256"].as_str().map(str::to_owned))
            .collect()
    });
    stored.sort();
    hashes.sort();
    assert_eq!(stored, hashes, "{}", evidence.text);
    // Each signed by the phone's registered key, verified on completion.
    let devices = app.get("/api/v1/me/devices", officer)?;
    let device = devices.body[0]["id"].as_str().unwrap_or_default();
    assert_eq!(
        devices.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        devices.text
    );
    for e in evidence.body.as_array().into_iter().flatten() {
        assert_eq!(
            (e["device_id"].as_str(), e["signature_verified"].as_bool()),
            (Some(device), Some(true)),
            "{e}"
        );
    }
    let inspection = app.get(&format!("/api/v1/tasks/{task}/inspection"), officer)?;
    assert!(
        inspection.body["signed_by"].is_string(),
        "{}",
        inspection.text
    );
    assert_eq!(inspection.body["answers"]["capacity_utilisation_pct"], 85);
    let t = app.get(&format!("/api/v1/tasks/{task}"), officer)?;
    assert_eq!(t.body["status"], "submitted", "{}", t.text);
    let submits = t.body["history"]
        .as_array()
        .map_or(0, |h| h.iter().filter(|e| e["action"] == "submit").count());
    assert_eq!(submits, 1, "{}", t.text);
    Ok(())
}

/// The supervisor returns the task with a comment.
pub(crate) fn return_task(app: &TestApp, inst: &Institution, task: &str) -> anyhow::Result<()> {
    let t = app.get(&format!("/api/v1/tasks/{task}"), inst.token("a.officer"))?;
    let version = t.body["version"].as_i64().unwrap_or_default();
    let returned = app.post(
        &format!("/api/v1/tasks/{task}/actions"),
        inst.token("a.supervisor"),
        &json!({ "action": "return", "comment": "补拍仓库照片", "version": version }),
    )?;
    anyhow::ensure!(returned.status == 200, "{}", returned.text);
    Ok(())
}

/// After the rework: submitted again, one return on record.
pub(crate) fn resubmitted(app: &TestApp, inst: &Institution, task: &str) -> anyhow::Result<()> {
    let t = app.get(&format!("/api/v1/tasks/{task}"), inst.token("a.officer"))?;
    assert_eq!(t.body["status"], "submitted", "{}", t.text);
    assert_eq!(t.body["returns"], 1);
    Ok(())
}

fn field_visit_offline_then_synced(app: &TestApp) -> anyhow::Result<()> {
    let Some(font) = font() else {
        return Ok(());
    };
    let (inst, task) = visit_fixture(app)?;

    // Online: sign in and take the agenda along.
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_string_lossy().into_owned();
    let db = dir.path().join("loanwatch.db");
    let online = Client::new(app.base.clone(), data.clone())?;
    assert!(matches!(
        online.login("a.officer".into(), "wrong".into()),
        Err(SdkError::Auth { .. })
    ));
    let me = online.login("a.officer".into(), PASSWORD.into())?;
    assert_eq!(me.id, inst.user("a.officer"));
    let agenda = online.download_agenda(None, None)?;
    let mine = agenda
        .iter()
        .find(|t| t.id == task)
        .ok_or_else(|| anyhow::anyhow!("the task is not on the agenda: {agenda:?}"))?;
    assert_eq!(
        (mine.borrower_name.as_str(), mine.status.as_str()),
        ("北京汇通商贸有限公司", "assigned")
    );
    drop(online);

    // Offline (nothing listens on port 9): the whole visit is done on the device.
    let offline = Client::new("http://127.0.0.1:9".into(), data.clone())?;
    assert_eq!(offline.officer()?.map(|o| o.id), Some(me.id.clone()));
    offline.start_task(task.clone())?;
    let verdict = offline.check_in(task.clone(), fix())?;
    assert!(verdict.trusted, "{verdict:?}");
    assert_eq!(verdict.site_name.as_deref(), Some("厂区大门"));
    let mut far = fix();
    far.latitude += 0.05;
    far.mock_location = true;
    let warned = offline.check_in(task.clone(), far);
    let flags: Vec<String> = warned?.reasons.into_iter().map(|r| r.flag).collect();
    assert!(
        flags.contains(&"outside_geofence".to_owned()) && flags.contains(&"mock_location".into()),
        "{flags:?}"
    );
    let list = offline.checklist(task.clone())?;
    assert_eq!(list.template_code, "enterprise_first_inspection");
    assert!(list.checked_in);
    // Same validation as the server's, by item.
    assert!(matches!(
        offline.answer(task.clone(), "operations_status".into(), "\"booming\"".into()),
        Err(SdkError::Validation { field, .. }) if field == "operations_status"
    ));
    for (k, v) in [
        ("proceeds_as_agreed", "false"),
        ("proceeds_deviation", "\"部分资金流入关联企业\""),
        ("payee_matches_contract", "true"),
        ("operations_status", "\"normal\""),
        ("capacity_utilisation_pct", "85"),
        ("inventory_reasonable", "true"),
        ("risk_assessment", "\"attention\""),
    ] {
        offline.answer(task.clone(), k.into(), v.into())?;
    }
    assert!(matches!(
        offline.sign_off(task.clone()),
        Err(SdkError::Validation { field, .. }) if field == "site_photos"
    ));
    let marker = Watermarker::new(font, 0)?;
    let mut hashes = Vec::new();
    for (item, seed) in [
        ("site_photos", 1u16),
        ("site_photos", 6),
        ("proceeds_evidence", 1),
    ] {
        let camera = watermark::sample_jpeg(800 + u32::from(seed), 600, seed)?;
        let stamp = offline.stamp(task.clone(), fix())?;
        let photo = marker.watermark(camera, stamp.clone())?;
        hashes.push(photo.sha256.clone());
        offline.add_photo(task.clone(), item.into(), photo, stamp)?;
    }
    assert!(offline.sign_off(task.clone())?.signed);
    offline.submit(task.clone())?;
    let queued = offline.outbox()?;
    let kinds: Vec<&str> = queued.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "start_task",
            "check_in",
            "check_in",
            "start_inspection",
            "answers",
            "answers",
            "answers",
            "answers",
            "answers",
            "answers",
            "answers",
            "evidence",
            "evidence",
            "evidence",
            "sign_off",
            "submit"
        ]
    );
    // No network: the sync fails as a network error and keeps everything.
    assert!(matches!(
        offline.sync(true, None),
        Err(SdkError::Network { .. })
    ));
    assert_eq!(offline.outbox()?.len(), queued.len());
    assert_eq!(app.count("checkins")?, 0);
    drop(offline);

    // Back online, the app killed after every acknowledged step: the server's answer is lost
    // and the entry is sent again after the restart.
    let mut snapshot = outbox_rows(&db)?;
    snapshot.reverse();
    let mut sent = 0;
    while let Some((seq, task_id, op, _)) = snapshot.pop() {
        let client = Client::new(app.base.clone(), data.clone())?;
        let report = client.sync(true, Some(Box::new(One)))?;
        assert_eq!((report.sent, report.parked), (1, 0), "{seq}: {report:?}");
        drop(client);
        // The kill: the entry is back as if its removal never reached the disk.
        let conn = rusqlite::Connection::open(&db)?;
        conn.execute(
            "INSERT INTO outbox (seq, task_id, op) VALUES (?1, ?2, ?3)",
            rusqlite::params![seq, task_id, op],
        )?;
        let client = Client::new(app.base.clone(), data.clone())?;
        let report = client.sync(true, Some(Box::new(One)))?;
        assert_eq!(
            (report.sent, report.parked),
            (1, 0),
            "replay of {seq} ({op}): {:?}",
            client.outbox()?
        );
        sent += 1;
    }
    assert_eq!(sent, queued.len());
    let client = Client::new(app.base.clone(), data.clone())?;
    assert!(client.outbox()?.is_empty());

    // On the server, everything once, with matching hashes.
    arrived_once(app, &inst, &task, hashes.clone())?;

    // The supervisor returns it; the device shows why, and the officer reworks and resubmits.
    return_task(app, &inst, &task)?;
    let agenda = client.download_agenda(None, None)?;
    let back = agenda
        .iter()
        .find(|t| t.id == task)
        .ok_or_else(|| anyhow::anyhow!("the returned task is not on the agenda"))?;
    assert_eq!(back.status, "returned");
    assert_eq!(back.return_comment.as_deref(), Some("补拍仓库照片"));
    client.start_task(task.clone())?;
    let again = client.checklist(task.clone())?;
    assert!(!again.signed && again.missing.is_empty(), "{again:?}");
    let stamp = client.stamp(task.clone(), fix())?;
    let photo = marker.watermark(watermark::sample_jpeg(640, 480, 1)?, stamp.clone())?;
    client.add_photo(task.clone(), "site_photos".into(), photo, stamp)?;
    client.sign_off(task.clone())?;
    client.submit(task.clone())?;
    let report = client.sync(false, None)?;
    assert_eq!((report.remaining, report.parked), (0, 0), "{report:?}");
    resubmitted(app, &inst, &task)?;

    // Signing out forgets the session; the next call asks for a sign-in.
    client.logout()?;
    assert!(client.officer()?.is_none());
    assert!(matches!(
        client.download_agenda(None, None),
        Err(SdkError::Auth { .. })
    ));
    Ok(())
}

/// Declares a photo for `task`, signed as given, uploads it and completes it.
fn signed_photo(
    app: &TestApp,
    token: &str,
    task: &str,
    bytes: &[u8],
    sign: impl Fn(&str, &serde_json::Value) -> serde_json::Value,
) -> anyhow::Result<(loanwatch_e2e::Resp, String)> {
    let id = uuid::Uuid::now_v7().to_string();
    let mut body = json!({
        "id": id, "item_key": "site_photos", "kind": "photo", "content_type": "image/jpeg",
        "size_bytes": bytes.len(), "sha256": loanwatch_e2e::sha256_hex(bytes),
        "captured_at": "2026-11-24T08:00:00.250Z",
        "capture": { "latitude": 39.911954, "longitude": 116.377817, "datum": "wgs84", "accuracy_m": 9.0 },
    });
    body["device_signature"] = sign(&id, &body);
    let declared = app.post(&format!("/api/v1/tasks/{task}/evidence"), token, &body)?;
    if declared.status != 201 {
        return Ok((declared, id));
    }
    let put = loanwatch_e2e::put_to(app, &declared.body["upload"], bytes, &[])?;
    anyhow::ensure!(put == 200, "upload: {put}");
    let done = app.post(
        &format!("/api/v1/evidence/{id}/complete"),
        token,
        &json!({}),
    )?;
    Ok((done, id))
}

fn device_keys_sign_evidence(app: &TestApp) -> anyhow::Result<()> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use ed25519_dalek::{Signer, SigningKey};

    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let task = loanwatch_e2e::open_task(app, officer, "杭州精工机械有限公司", 31)?;
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = STANDARD.encode(key.verifying_key().to_bytes());

    // Registration: bad keys are refused; the same key again is a replay; another person's
    // registration of it is a conflict.
    let register = |token: &str, public_key: &str| {
        app.post(
            "/api/v1/me/devices",
            token,
            &json!({ "name": "Pixel 8", "public_key": public_key }),
        )
    };
    let bad = register(officer, "c2hvcnQ=")?;
    assert_eq!(
        (bad.status, bad.pointer()),
        (422, "/public_key"),
        "{}",
        bad.text
    );
    let first = register(officer, &public)?;
    assert_eq!(first.status, 201, "{}", first.text);
    let device = first.body["id"].as_str().unwrap_or_default().to_owned();
    let again = register(officer, &public)?;
    assert_eq!(
        (again.status, again.body["id"].as_str()),
        (200, Some(device.as_str()))
    );
    assert_eq!(register(inst.token("a.officer2"), &public)?.status, 409);
    let theirs = SigningKey::from_bytes(&[9u8; 32]);
    let other = register(
        inst.token("a.officer2"),
        &STANDARD.encode(theirs.verifying_key().to_bytes()),
    )?;
    let other_device = other.body["id"].as_str().unwrap_or_default().to_owned();

    let sign_with = |k: &SigningKey, device: &str, size_delta: u64| {
        let device = device.to_owned();
        let k = k.clone();
        let task = task.clone();
        move |id: &str, body: &serde_json::Value| {
            let message = loanwatch_domain::field::device::evidence_message(
                id,
                &task,
                body["sha256"].as_str().unwrap_or_default(),
                body["size_bytes"].as_u64().unwrap_or_default() + size_delta,
                chrono::DateTime::parse_from_rfc3339(
                    body["captured_at"].as_str().unwrap_or_default(),
                )
                .map(|t| t.to_utc())
                .unwrap_or_default(),
                &body["capture"],
            );
            json!({ "device_id": device, "signature": STANDARD.encode(k.sign(&message).to_bytes()) })
        }
    };
    let before = app.count("evidence")?;

    // A good signature verifies on completion.
    let (done, _) = signed_photo(
        app,
        officer,
        &task,
        &loanwatch_e2e::jpeg_bytes(1, 320),
        sign_with(&key, &device, 0),
    )?;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        (
            done.body["device_id"].as_str(),
            done.body["signature_verified"].as_bool()
        ),
        (Some(device.as_str()), Some(true))
    );
    // A signature over other facts (another size) is rejected at completion, with its bytes.
    let (forged, id) = signed_photo(
        app,
        officer,
        &task,
        &loanwatch_e2e::jpeg_bytes(2, 320),
        sign_with(&key, &device, 1),
    )?;
    assert_eq!(forged.status, 422, "{}", forged.text);
    let listed = app.get(&format!("/api/v1/tasks/{task}/evidence"), officer)?;
    let rejected = listed
        .body
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["id"] == id.as_str());
    assert_eq!(
        rejected.map(|e| (e["status"].clone(), e["signature_verified"].clone())),
        Some((json!("rejected"), json!(false))),
        "{}",
        listed.text
    );
    // Someone else's device, a malformed signature: refused at declaration, nothing written.
    let (mine_not, _) = signed_photo(
        app,
        officer,
        &task,
        &loanwatch_e2e::jpeg_bytes(3, 320),
        sign_with(&theirs, &other_device, 0),
    )?;
    assert_eq!(
        (mine_not.status, mine_not.pointer()),
        (422, "/device_signature/device_id"),
        "{}",
        mine_not.text
    );
    let (short, _) = signed_photo(
        app,
        officer,
        &task,
        &loanwatch_e2e::jpeg_bytes(4, 320),
        |_, _| json!({ "device_id": device, "signature": "c2hvcnQ=" }),
    )?;
    assert_eq!(
        (short.status, short.pointer()),
        (422, "/device_signature/signature"),
        "{}",
        short.text
    );
    assert_eq!(app.count("evidence")?, before + 2);

    // A revoked device signs nothing more.
    let revoked = app.post(
        &format!("/api/v1/me/devices/{device}/revoke"),
        officer,
        &json!({}),
    )?;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert!(revoked.body["revoked_at"].is_string());
    let (late, _) = signed_photo(
        app,
        officer,
        &task,
        &loanwatch_e2e::jpeg_bytes(5, 320),
        sign_with(&key, &device, 0),
    )?;
    assert_eq!(
        (late.status, late.pointer()),
        (422, "/device_signature/device_id"),
        "{}",
        late.text
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/me/devices/{device}/revoke"),
            inst.token("a.officer2"),
            &json!({})
        )?
        .status,
        404
    );
    Ok(())
}

/// The task is handed over while the officer works offline: the sync parks the work as a
/// conflict the app shows, sends nothing after it for that task, and the officer discards it.
fn work_on_a_task_handed_over_meanwhile_is_parked(app: &TestApp) -> anyhow::Result<()> {
    let (inst, task) = visit_fixture(app)?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_string_lossy().into_owned();
    let client = Client::new(app.base.clone(), data)?;
    client.login("a.officer".into(), PASSWORD.into())?;
    client.download_agenda(None, None)?;
    client.start_task(task.clone())?;
    client.check_in(task.clone(), fix())?;
    let moved = app.post(
        &format!("/api/v1/users/{}/hand-over", inst.user("a.officer")),
        inst.token("a.supervisor"),
        &json!({ "to_officer_id": inst.user("a.officer2") }),
    )?;
    anyhow::ensure!(moved.status == 200, "{}", moved.text);

    let report = client.sync(true, None)?;
    assert_eq!(
        (report.sent, report.parked, report.remaining),
        (0, 1, 2),
        "{report:?}"
    );
    let outbox = client.outbox()?;
    let states: Vec<(&str, &str)> = outbox
        .iter()
        .map(|e| (e.kind.as_str(), e.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [("start_task", "conflict"), ("check_in", "pending")]
    );
    assert!(
        outbox[0].detail.as_deref().is_some_and(|d| !d.is_empty()),
        "{outbox:?}"
    );
    assert_eq!(
        app.count("checkins")?,
        0,
        "nothing after the parked entry was sent"
    );
    // Retrying does not change what the server says; the officer gives the work up.
    client.retry(outbox[0].seq)?;
    assert_eq!(client.sync(true, None)?.parked, 1);
    for e in &outbox {
        client.discard(e.seq)?;
    }
    assert!(client.outbox()?.is_empty());
    let agenda = client.download_agenda(None, None)?;
    assert!(agenda.iter().all(|t| t.id != task), "{agenda:?}");
    Ok(())
}

loanwatch_e2e::on_both_backends!(
    field_visit_offline_then_synced,
    device_keys_sign_evidence,
    work_on_a_task_handed_over_meanwhile_is_parked
);

/// A video taken over from the camera, hashed as a stream, uploaded (in 5 MiB parts on S3) and
/// verified with its device signature.
fn a_video_goes_up_from_the_device(app: &TestApp) -> anyhow::Result<()> {
    let (inst, task) = visit_fixture(app)?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("device");
    std::fs::create_dir_all(&data)?;
    let client = Client::new(app.base.clone(), data.to_string_lossy().into_owned())?;
    client.login("a.officer".into(), PASSWORD.into())?;
    client.download_agenda(None, None)?;
    client.start_task(task.clone())?;
    // 11 MiB and a bit: three parts of 5 MiB on S3, one PUT on the embedded storage.
    let mut video = vec![0, 0, 0, 0x20];
    video.extend_from_slice(b"ftypisom");
    video.extend((0..(11 << 20) + 4321).map(|i: u32| (i % 251) as u8));
    let camera = dir.path().join("VID_0001.mp4");
    std::fs::write(&camera, &video)?;
    let stamp = client.stamp(task.clone(), fix())?;
    assert!(matches!(
        client.add_video(task.clone(), "site_video".into(), camera.to_string_lossy().into_owned(), "video/webm".into(), stamp.clone()),
        Err(SdkError::Validation { field, .. }) if field == "content_type"
    ));
    let id = client.add_video(
        task.clone(),
        "site_video".into(),
        camera.to_string_lossy().into_owned(),
        "video/mp4".into(),
        stamp,
    )?;
    assert!(!camera.exists(), "the SDK takes the file over");
    let report = client.sync(true, None)?;
    assert_eq!((report.sent, report.remaining), (2, 0), "{report:?}");
    let listed = app.get(
        &format!("/api/v1/tasks/{task}/evidence"),
        inst.token("a.officer"),
    )?;
    let e = listed
        .body
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == id.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            e["status"].as_str(),
            e["kind"].as_str(),
            e["size_bytes"].as_u64()
        ),
        (Some("stored"), Some("video"), Some(video.len() as u64)),
        "{}",
        listed.text
    );
    assert_eq!(
        e["sha256"].as_str(),
        Some(loanwatch_e2e::sha256_hex(&video).as_str())
    );
    assert_eq!(e["signature_verified"], true);
    assert_eq!(e["capture"]["latitude"], GATE_WGS.0);
    Ok(())
}

/// With the institution's thresholds (accuracy at most 5 m here), the phone's instant verdict
/// and the server's agree.
fn the_phone_judges_by_the_institution_s_thresholds(app: &TestApp) -> anyhow::Result<()> {
    let (inst, task) = visit_fixture(app)?;
    let dir = tempfile::tempdir()?;
    let client = Client::new(app.base.clone(), dir.path().to_string_lossy().into_owned())?;
    client.login("a.officer".into(), PASSWORD.into())?;
    client.download_agenda(None, None)?;
    client.start_task(task.clone())?;
    let verdict = client.check_in(task.clone(), fix())?;
    let flags: Vec<String> = verdict.reasons.into_iter().map(|r| r.flag).collect();
    assert_eq!(flags, ["low_accuracy"]);
    // Leaving at once: the visit is too short, on the phone as on the server.
    let out = client.check_out(verdict.checkin_id.clone())?;
    let out: Vec<String> = out.into_iter().map(|r| r.flag).collect();
    assert_eq!(out, ["short_dwell"]);
    assert!(matches!(
        client.check_out(verdict.checkin_id.clone()),
        Err(SdkError::Conflict { .. })
    ));
    let db = dir.path().join("loanwatch.db");
    let queued = outbox_rows(&db)?;
    assert_eq!(client.sync(true, None)?.sent, 3);
    let server = app.get(
        &format!("/api/v1/tasks/{task}/checkins"),
        inst.token("a.officer"),
    )?;
    let server_flags: Vec<&str> = server.body[0]["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["flag"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        server_flags,
        ["low_accuracy", "short_dwell"],
        "{}",
        server.text
    );
    assert!(server.body[0]["checked_out_at"].is_string());
    // The check-out's answer was lost: sent again, it is acknowledged, not parked.
    let (seq, task_id, op, _) = queued
        .into_iter()
        .find(|(_, _, op, _)| op.contains("check_out"))
        .ok_or_else(|| anyhow::anyhow!("no check-out queued"))?;
    rusqlite::Connection::open(&db)?.execute(
        "INSERT INTO outbox (seq, task_id, op) VALUES (?1, ?2, ?3)",
        rusqlite::params![seq, task_id, op],
    )?;
    let report = client.sync(true, None)?;
    assert_eq!((report.sent, report.parked), (1, 0), "{report:?}");
    Ok(())
}

#[test]
fn the_phone_judges_by_the_institution_s_thresholds_on_sqlite() -> anyhow::Result<()> {
    loanwatch_e2e::spawn_app_with(
        loanwatch_e2e::Backend::Sqlite,
        &[("CHECKIN_MAX_ACCURACY_M", "5")],
    )?
    .map_or(Ok(()), |app| {
        the_phone_judges_by_the_institution_s_thresholds(&app)
    })
}

/// The session keeps itself alive: with 30 s access tokens every call refreshes first (each
/// refresh token works once, so a chain of them must be kept right); a token the server refuses
/// is refreshed and the call repeated; a session revoked elsewhere asks for a sign-in.
fn the_session_refreshes_itself(app: &TestApp) -> anyhow::Result<()> {
    let (_inst, _task) = visit_fixture(app)?;
    let dir = tempfile::tempdir()?;
    let client = Client::new(app.base.clone(), dir.path().to_string_lossy().into_owned())?;
    client.login("a.officer".into(), PASSWORD.into())?;
    for _ in 0..3 {
        client.download_agenda(None, None)?;
    }
    client.refresh()?;
    // The server refuses the access token the device holds: refreshed, then repeated.
    let db = rusqlite::Connection::open(dir.path().join("loanwatch.db"))?;
    db.execute(
        "UPDATE kv SET value = 'not-a-token' WHERE key = 'access_token'",
        [],
    )?;
    db.execute(
        "UPDATE kv SET value = '9999999999999' WHERE key = 'access_expires_ms'",
        [],
    )?;
    assert!(!client.download_agenda(None, None)?.is_empty());
    // The refresh token is revoked (signed out on another device): sign in again.
    let refresh: String = db.query_row(
        "SELECT value FROM kv WHERE key = 'refresh_token'",
        [],
        |r| r.get(0),
    )?;
    let out = app.send(
        "POST",
        "/api/v1/auth/logout",
        None,
        Some(&json!({ "refresh_token": refresh }).to_string()),
        &[("content-type", "application/json")],
    )?;
    anyhow::ensure!(out.status < 300, "{}", out.text);
    db.execute(
        "UPDATE kv SET value = '0' WHERE key = 'access_expires_ms'",
        [],
    )?;
    assert!(matches!(
        client.download_agenda(None, None),
        Err(SdkError::Auth { .. })
    ));
    assert!(client.officer()?.is_none());
    Ok(())
}

#[test]
fn the_session_refreshes_itself_on_sqlite() -> anyhow::Result<()> {
    loanwatch_e2e::spawn_app_with(
        loanwatch_e2e::Backend::Sqlite,
        &[("ACCESS_TOKEN_TTL_SECS", "30")],
    )?
    .map_or(Ok(()), |app| the_session_refreshes_itself(&app))
}

/// An outbox entry this version cannot read (a newer app's, or damaged) is parked for the app to
/// show; it does not stop the sync of everything else.
fn an_unreadable_entry_is_parked_not_blocking(app: &TestApp) -> anyhow::Result<()> {
    let (_inst, task) = visit_fixture(app)?;
    let dir = tempfile::tempdir()?;
    let client = Client::new(app.base.clone(), dir.path().to_string_lossy().into_owned())?;
    client.login("a.officer".into(), PASSWORD.into())?;
    client.download_agenda(None, None)?;
    rusqlite::Connection::open(dir.path().join("loanwatch.db"))?.execute(
        "INSERT INTO outbox (task_id, op) VALUES ('another-task', '{\"op\":\"teleport\"}')",
        [],
    )?;
    client.start_task(task.clone())?;
    let report = client.sync(true, None)?;
    assert_eq!(
        (report.sent, report.parked, report.remaining),
        (1, 1, 1),
        "{report:?}"
    );
    let outbox = client.outbox()?;
    assert_eq!(
        (outbox[0].kind.as_str(), outbox[0].state.as_str()),
        ("unknown", "rejected")
    );
    client.discard(outbox[0].seq)?;
    assert!(client.outbox()?.is_empty());
    Ok(())
}

#[test]
fn an_unreadable_entry_is_parked_not_blocking_on_sqlite() -> anyhow::Result<()> {
    loanwatch_e2e::spawn_app(loanwatch_e2e::Backend::Sqlite)?.map_or(Ok(()), |app| {
        an_unreadable_entry_is_parked_not_blocking(&app)
    })
}

mod video {
    use loanwatch_e2e::{Backend, spawn_app_on_s3, spawn_app_with};

    const FIVE_MIB_PARTS: &[(&str, &str)] = &[("EVIDENCE_PART_BYTES", "5242880")];

    #[test]
    fn sqlite_local() -> anyhow::Result<()> {
        spawn_app_with(Backend::Sqlite, FIVE_MIB_PARTS)?
            .map_or(Ok(()), |app| super::a_video_goes_up_from_the_device(&app))
    }

    #[test]
    fn postgres_s3() -> anyhow::Result<()> {
        spawn_app_on_s3(Backend::Postgres, FIVE_MIB_PARTS)?
            .map_or(Ok(()), |app| super::a_video_goes_up_from_the_device(&app))
    }
}
