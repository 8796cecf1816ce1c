//! Evidence upload through both storages (the embedded one, and a real S3 server that checks
//! signatures): declare, upload to signed URLs, complete with verification, download through a
//! short-lived URL in scope; a video in parts with a resumed part on S3.

use loanwatch_e2e::{
    TestApp, attach_photo, jpeg_bytes, jpeg_of, open_task, put_to, scene, seed_institution,
    sha256_hex,
};
use loanwatch_store::object::{ObjectStore, S3Objects};
use serde_json::{Value, json};

fn jpeg(seed: u8, width: u32) -> Vec<u8> {
    jpeg_bytes(seed, width)
}

fn sha(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

/// One capture time for the run, so a replayed declaration is the same request.
static CAPTURED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| chrono::Utc::now().to_rfc3339());

fn declaration(id: &str, bytes: &[u8], extra: Value) -> Value {
    let mut body = json!({
        "id": id, "item_key": "site_photos", "kind": "photo", "content_type": "image/jpeg",
        "size_bytes": bytes.len(), "sha256": sha(bytes), "captured_at": *CAPTURED,
        "capture": { "latitude": 39.91, "longitude": 116.38, "datum": "wgs84", "accuracy_m": 8.0 },
    });
    if let (Some(o), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    body
}

fn upload(
    app: &TestApp,
    declared: &Value,
    bytes: &[u8],
    content_type: &str,
) -> anyhow::Result<u16> {
    put_to(
        app,
        &declared["upload"],
        bytes,
        &[("content-type", Some(content_type))],
    )
}

/// The bucket of an app on S3, reached directly (as something other than a phone would).
fn bucket(app: &TestApp) -> Option<ObjectStore> {
    app.s3
        .as_ref()
        .map(|s3| ObjectStore::S3(S3Objects::new(&s3.config())))
}

/// The URL with the last character of its signature changed.
fn tampered(url: &str) -> String {
    let mut t = url.to_owned();
    let last = if t.ends_with('0') { "1" } else { "0" };
    t.pop();
    t.push_str(last);
    t
}

fn evidence_is_uploaded_verified_and_served_in_scope(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let task = open_task(app, officer, "北京恒远纺织有限公司", 401)?;
    let declare = format!("/api/v1/tasks/{task}/evidence");

    // Bad declarations: refused, nothing kept.
    let photo = jpeg(1, 800);
    for (extra, pointer) in [
        (json!({ "size_bytes": 0 }), "/size_bytes"),
        (json!({ "size_bytes": 30u64 << 20 }), "/size_bytes"),
        (json!({ "content_type": "video/mp4" }), "/content_type"),
        (json!({ "sha256": "not-a-digest" }), "/sha256"),
        (json!({ "id": "photo-1" }), "/id"),
        (
            json!({ "captured_at": "1999-12-31T23:59:59Z" }),
            "/captured_at",
        ),
    ] {
        let r = app.post(
            &declare,
            officer,
            &declaration("0196b000-0000-7000-8000-000000000009", &photo, extra),
        )?;
        assert_eq!((r.status, r.pointer()), (422, pointer), "{}", r.text);
    }
    let foreign = app.post(
        &declare,
        inst.token("a.officer2"),
        &declaration("0196b000-0000-7000-8000-000000000009", &photo, json!({})),
    )?;
    assert_eq!(foreign.status, 404);
    assert_eq!(app.count("evidence")?, 0);

    // Declare, then upload to the signed URL. The embedded storage answers a wrong request with
    // 422; S3, where type and length are part of the signature, with 403.
    let on_s3 = app.s3.is_some();
    let refused = if on_s3 { 403 } else { 422 };
    let id = "0196b000-0000-7000-8000-000000000001";
    let d = app.post(&declare, officer, &declaration(id, &photo, json!({})))?;
    assert_eq!(d.status, 201, "{}", d.text);
    assert_eq!(d.body["evidence"]["status"], "declared");
    assert_eq!(d.body["upload"]["mode"], "single");
    let url = d.body["upload"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        url.starts_with(&format!("{}/", bucket_base(app))),
        on_s3,
        "{url}"
    );
    let complete = format!("/api/v1/evidence/{id}/complete");
    let early = app.post(&complete, officer, &json!({}))?;
    assert_eq!(early.status, 409, "{}", early.text);
    assert_eq!(
        upload(app, &d.body, &photo, "image/png")?,
        refused,
        "another content type"
    );
    let mut longer = photo.clone();
    longer.extend_from_slice(b"trailing");
    assert_eq!(
        upload(app, &d.body, &longer, "image/jpeg")?,
        refused,
        "longer than declared"
    );
    let mut forged = d.body["upload"].clone();
    forged["url"] = json!(tampered(&url));
    assert_eq!(put_to(app, &forged, &photo, &[])?, 403, "tampered");
    assert_eq!(app.post(&complete, officer, &json!({}))?.status, 409);
    assert_eq!(upload(app, &d.body, &photo, "image/jpeg")?, 200);

    // Only the officer completes it; the server re-reads the bytes.
    assert_eq!(
        app.post(&complete, inst.token("a.officer2"), &json!({}))?
            .status,
        404
    );
    let done = app.post(&complete, officer, &json!({}))?;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["status"], "stored");
    assert_eq!(app.post(&complete, officer, &json!({}))?.status, 409);
    // A replay of the declaration: the same evidence, nothing to upload any more.
    let again = app.post(&declare, officer, &declaration(id, &photo, json!({})))?;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["evidence"]["status"], "stored");
    assert!(again.body["upload"].is_null());
    let clash = app.post(&declare, officer, &declaration(id, &jpeg(2, 64), json!({})))?;
    assert_eq!(clash.status, 409);

    // Bytes that are not what was declared are rejected and removed. S3 refuses them at upload
    // (the checksum is signed); put there behind the phone's back, completion still finds out.
    let other = jpeg(3, 400);
    let wrong_sha = app.post(
        &declare,
        officer,
        &declaration(
            "0196b000-0000-7000-8000-000000000002",
            &other,
            json!({ "sha256": sha(b"something else") }),
        ),
    )?;
    match bucket(app) {
        None => assert_eq!(upload(app, &wrong_sha.body, &other, "image/jpeg")?, 200),
        Some(s3) => {
            assert_eq!(upload(app, &wrong_sha.body, &other, "image/jpeg")?, 400);
            let key = format!("evidence/{task}/0196b000-0000-7000-8000-000000000002");
            runtime()?.block_on(s3.put(&key, other.clone(), "image/jpeg"))?;
        }
    }
    let r = app.post(
        "/api/v1/evidence/0196b000-0000-7000-8000-000000000002/complete",
        officer,
        &json!({}),
    )?;
    assert_eq!(r.status, 422, "{}", r.text);
    let pdf = b"%PDF-1.7 not a photo at all".to_vec();
    let renamed = app.post(
        &declare,
        officer,
        &declaration("0196b000-0000-7000-8000-000000000003", &pdf, json!({})),
    )?;
    assert_eq!(upload(app, &renamed.body, &pdf, "image/jpeg")?, 200);
    let r = app.post(
        "/api/v1/evidence/0196b000-0000-7000-8000-000000000003/complete",
        officer,
        &json!({}),
    )?;
    assert_eq!(r.status, 422, "{}", r.text);
    let listed = app.get(&declare, inst.token("a.supervisor"))?;
    let statuses: Vec<&str> = listed
        .body
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        statuses,
        ["stored", "rejected", "rejected"],
        "{}",
        listed.text
    );
    assert_eq!(
        app.get(
            "/api/v1/evidence/0196b000-0000-7000-8000-000000000002/download",
            officer
        )?
        .status,
        409
    );

    // Downloads: short-lived URLs, in scope only; an expired or forged URL is refused.
    let dl = app.get(
        &format!("/api/v1/evidence/{id}/download"),
        inst.token("a.supervisor"),
    )?;
    assert_eq!(dl.status, 200, "{}", dl.text);
    let dl_url = dl.body["url"].as_str().unwrap_or_default();
    let (status, bytes) = app.raw("GET", dl_url, None, &[])?;
    assert_eq!((status, bytes == photo), (200, true));
    assert_eq!(app.raw("GET", &tampered(dl_url), None, &[])?.0, 403);
    // The thumbnail: a small JPEG of the same picture.
    let th = app.get(
        &format!("/api/v1/evidence/{id}/thumbnail"),
        inst.token("a.supervisor"),
    )?;
    assert_eq!(th.status, 200, "{}", th.text);
    let (status, thumb) = app.raw(
        "GET",
        th.body["url"].as_str().unwrap_or_default(),
        None,
        &[],
    )?;
    assert_eq!(status, 200);
    let thumb = image::load_from_memory(&thumb)?;
    assert!(thumb.width() <= 320 && thumb.height() <= 320);
    assert_eq!(
        app.get(
            &format!("/api/v1/evidence/{id}/thumbnail"),
            inst.token("b.supervisor")
        )?
        .status,
        404
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/evidence/{id}/download"),
            inst.token("b.supervisor")
        )?
        .status,
        404
    );
    let key = format!("evidence/{task}/{id}");
    if on_s3 {
        // This server serves no objects when they live in S3.
        assert_eq!(
            app.raw("GET", "/api/v1/objects/anything", None, &[])?.0,
            404
        );
    }
    let expired = app.sign_token(&json!({ "sub": key, "m": "GET", "exp": 1_700_000_000, "iss": "loanwatch", "aud": "loanwatch:objects" }), None)?;
    assert_eq!(
        app.raw("GET", &format!("/api/v1/objects/{expired}"), None, &[])?
            .0,
        if on_s3 { 404 } else { 403 }
    );
    let forged = app.sign_token(&json!({ "sub": key, "m": "GET", "exp": 4_000_000_000u64, "iss": "loanwatch", "aud": "loanwatch:objects" }), Some(b"another key of at least 32 bytes!!"))?;
    assert_eq!(
        app.raw("GET", &format!("/api/v1/objects/{forged}"), None, &[])?
            .0,
        if on_s3 { 404 } else { 403 }
    );
    // A download URL does not allow an upload, nor an access token a download.
    assert_eq!(
        app.raw(
            "PUT",
            dl.body["url"].as_str().unwrap_or_default(),
            Some(&photo),
            &[("content-type", "image/jpeg")]
        )?
        .0,
        403
    );
    assert_eq!(
        app.raw("GET", &format!("/api/v1/objects/{officer}"), None, &[])?
            .0,
        if on_s3 { 404 } else { 403 }
    );
    // The photo reappears on another borrower's inspection: the same bytes, then a resized
    // re-encoded copy. Both are linked to the first, on both sides.
    let task2 = open_task(app, officer, "北京宏达物流有限公司", 402)?;
    anyhow::ensure!(!task2.is_empty() && task2 != task, "no second task");
    let same = attach_photo(app, officer, &task2, "site_photos", &photo)?;
    let reuse = |e: &Value| -> Vec<(String, String)> {
        e["reuse"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (
                            r["evidence_id"].as_str().unwrap_or_default().to_owned(),
                            r["reason"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        reuse(&same),
        [(id.to_owned(), "same_bytes".to_owned())],
        "{same}"
    );
    let resized = jpeg_of(&scene(1, 800).resize(560, 420, image::imageops::FilterType::Lanczos3));
    let similar = attach_photo(app, officer, &task2, "site_photos", &resized)?;
    let links = reuse(&similar);
    assert!(
        links.contains(&(id.to_owned(), "similar_image".to_owned())),
        "{similar}"
    );
    // The first photo now shows both links.
    let first_now = app.get(&declare, inst.token("a.supervisor"))?;
    let first_links = first_now
        .body
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == id).cloned())
        .unwrap_or_default();
    assert_eq!(reuse(&first_links).len(), 2, "{first_links}");
    assert!(
        first_links["reuse"]
            .as_array()
            .is_some_and(|a| a.iter().all(|r| r["task_id"] == json!(task2)))
    );
    // The officer sees which task the reused photo is on; another branch's officer is told of
    // the reuse but not shown a task outside their scope.
    let on_task = |e: &Value, other: &str| -> Option<Value> {
        e["reuse"].as_array().and_then(|a| {
            a.iter()
                .find(|r| r["evidence_id"] == other)
                .map(|r| r["task_id"].clone())
        })
    };
    assert_eq!(on_task(&same, id), Some(json!(task)), "{same}");
    let foreign_officer = inst.token("b.officer");
    let task3 = open_task(app, foreign_officer, "杭州远景纺织有限公司", 403)?;
    let elsewhere = attach_photo(app, foreign_officer, &task3, "site_photos", &photo)?;
    assert_eq!(on_task(&elsewhere, id), Some(Value::Null), "{elsewhere}");

    // A different picture is not linked.
    let fresh = attach_photo(app, officer, &task2, "site_photos", &jpeg(2, 800))?;
    assert!(reuse(&fresh).is_empty(), "{fresh}");

    // A file that looks like a JPEG but does not decode is rejected and removed.
    let mut broken = photo[..64].to_vec();
    broken.extend(std::iter::repeat_n(0u8, 4_000));
    let bad = app.post(
        &declare,
        officer,
        &declaration("0196b000-0000-7000-8000-000000000004", &broken, json!({})),
    )?;
    assert_eq!(upload(app, &bad.body, &broken, "image/jpeg")?, 200);
    let r = app.post(
        "/api/v1/evidence/0196b000-0000-7000-8000-000000000004/complete",
        officer,
        &json!({}),
    )?;
    assert_eq!(r.status, 422, "{}", r.text);
    Ok(())
}

fn runtime() -> anyhow::Result<actix_web::rt::Runtime> {
    Ok(actix_web::rt::Runtime::new()?)
}

/// `http://127.0.0.1:<port>` of the app's S3 server (nothing when it runs without).
fn bucket_base(app: &TestApp) -> String {
    app.s3
        .as_ref()
        .map(|s| s.endpoint.clone())
        .unwrap_or_else(|| "s3-not-in-use".into())
}

loanwatch_e2e::on_both_backends!(evidence_is_uploaded_verified_and_served_in_scope);
loanwatch_e2e::on_s3!(evidence_is_uploaded_verified_and_served_in_scope);

/// A video of 2½ parts of 5 MiB: on S3 it travels in parts, one of which is sent late (as after
/// a lost network) and found missing by completion, then resumed; on the embedded storage it
/// travels in one PUT. Either way the server verifies the whole file.
fn a_video_travels_in_parts_and_resumes(app: &TestApp) -> anyhow::Result<()> {
    let inst = seed_institution(app)?;
    let officer = inst.token("a.officer");
    let task = open_task(app, officer, "北京恒远纺织有限公司", 501)?;
    let part = 5usize << 20;
    let mut video = vec![0, 0, 0, 0x20];
    video.extend_from_slice(b"ftypisom");
    video.extend((0..2 * part + 123_457 - 12).map(|i| (i as u8).wrapping_mul(13)));
    let id = "0196b000-0000-7000-8000-0000000000a1";
    let declared = json!({
        "id": id, "item_key": "site_video", "kind": "video", "content_type": "video/mp4",
        "size_bytes": video.len(), "sha256": sha(&video), "captured_at": *CAPTURED,
    });
    let declare = format!("/api/v1/tasks/{task}/evidence");
    let d = app.post(&declare, officer, &declared)?;
    assert_eq!(d.status, 201, "{}", d.text);
    let complete = format!("/api/v1/evidence/{id}/complete");
    if app.s3.is_none() {
        assert_eq!(d.body["upload"]["mode"], "single");
        assert_eq!(put_to(app, &d.body["upload"], &video, &[])?, 200);
    } else {
        assert_eq!(d.body["upload"]["mode"], "multipart", "{}", d.text);
        let parts = d.body["upload"]["parts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let cut: Vec<(u64, u64)> = parts
            .iter()
            .map(|p| {
                (
                    p["offset"].as_u64().unwrap_or(0),
                    p["size_bytes"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let p = part as u64;
        assert_eq!(cut, [(0, p), (p, p), (2 * p, video.len() as u64 - 2 * p)]);
        let bytes_of = |i: usize| {
            let (o, n) = cut[i];
            &video[o as usize..(o + n) as usize]
        };
        assert_eq!(put_to(app, &parts[0], bytes_of(0), &[])?, 200);
        assert_eq!(put_to(app, &parts[2], bytes_of(2), &[])?, 200);
        // A part cannot be sent with other bytes' length.
        assert_eq!(put_to(app, &parts[1], bytes_of(2), &[])?, 403);
        let early = app.post(&complete, officer, &json!({}))?;
        assert_eq!(early.status, 409, "{}", early.text);
        assert!(early.text.contains("parts 2 of 3"), "{}", early.text);
        // Resuming: fresh URLs, and which parts the storage holds.
        let resume = app.get(&format!("/api/v1/evidence/{id}/upload"), officer)?;
        assert_eq!(resume.status, 200, "{}", resume.text);
        let held: Vec<bool> = resume.body["parts"]
            .as_array()
            .map(|a| a.iter().map(|p| p["uploaded"] == true).collect())
            .unwrap_or_default();
        assert_eq!(held, [true, false, true]);
        assert_eq!(
            app.get(
                &format!("/api/v1/evidence/{id}/upload"),
                inst.token("a.officer2")
            )?
            .status,
            404
        );
        assert_eq!(
            put_to(app, &resume.body["parts"][1], bytes_of(1), &[])?,
            200
        );
        // A replayed declaration keeps the same upload.
        let again = app.post(&declare, officer, &declared)?;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(
            again.body["upload"]["parts"]
                .as_array()
                .map(|a| a.iter().all(|p| p["uploaded"] == true)),
            Some(true),
            "{}",
            again.text
        );
    }
    let done = app.post(&complete, officer, &json!({}))?;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["status"], "stored");
    assert_eq!(done.body["size_bytes"], video.len());
    let dl = app.get(&format!("/api/v1/evidence/{id}/download"), officer)?;
    let (status, bytes) = app.raw(
        "GET",
        dl.body["url"].as_str().unwrap_or_default(),
        None,
        &[],
    )?;
    assert_eq!((status, sha(&bytes)), (200, sha(&video)));
    // No thumbnail for a video.
    assert_eq!(
        app.get(&format!("/api/v1/evidence/{id}/thumbnail"), officer)?
            .status,
        404
    );
    let settled = app.get(&format!("/api/v1/evidence/{id}/upload"), officer)?;
    assert_eq!(settled.status, 409);
    Ok(())
}

const FIVE_MIB_PARTS: &[(&str, &str)] = &[("EVIDENCE_PART_BYTES", "5242880")];

mod video {
    use loanwatch_e2e::{Backend, spawn_app_on_s3, spawn_app_with};

    use super::{FIVE_MIB_PARTS, a_video_travels_in_parts_and_resumes as scenario};

    #[test]
    fn sqlite_local() -> anyhow::Result<()> {
        spawn_app_with(Backend::Sqlite, FIVE_MIB_PARTS)?.map_or(Ok(()), |app| scenario(&app))
    }

    #[test]
    fn postgres_local() -> anyhow::Result<()> {
        spawn_app_with(Backend::Postgres, FIVE_MIB_PARTS)?.map_or(Ok(()), |app| scenario(&app))
    }

    #[test]
    fn sqlite_s3() -> anyhow::Result<()> {
        spawn_app_on_s3(Backend::Sqlite, FIVE_MIB_PARTS)?.map_or(Ok(()), |app| scenario(&app))
    }

    #[test]
    fn postgres_s3() -> anyhow::Result<()> {
        spawn_app_on_s3(Backend::Postgres, FIVE_MIB_PARTS)?.map_or(Ok(()), |app| scenario(&app))
    }
}
