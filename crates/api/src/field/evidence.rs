//! Evidence upload: declare (size, SHA-256, type), send the bytes to short-lived signed URLs,
//! complete (the server checks the object against the declaration), download through a
//! short-lived signed URL.
//!
//! On the embedded storage the server signs and serves the URLs itself (`/objects/{token}`). On
//! S3 it presigns them and stays out of the data path: a single PUT bound to the length, type and
//! SHA-256, or for a long video one PUT per part, which a phone may resend and resume.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use futures_util::StreamExt;
use loanwatch_api_types::{
    Problem,
    field::{
        DeclareEvidence, DeclaredEvidence, DownloadTarget, Evidence, EvidenceReuse, UploadMode,
        UploadPart, UploadTarget,
    },
};
use loanwatch_domain::field::evidence::{
    EvidenceKind, EvidenceStatus, check_sha256, content_mismatch, decodable_image, hash_distance,
    part_held, part_plan, size_mismatch, uses_parts,
};
use loanwatch_store::{
    DbConn, ScopeFilter, WriteTx,
    models::EvidenceRow,
    object::{ObjectStore, S3Objects},
    repo::{field, inspection, task},
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::JsonBody,
    ledger::service,
    views::{stored, stored_json, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(declare_evidence)
        .service(list_task_evidence)
        .service(upload_evidence)
        .service(complete_evidence)
        .service(download_evidence)
        .service(download_thumbnail)
        .service(put_object)
        .service(get_object);
}

fn ttl(secs: i64) -> std::time::Duration {
    std::time::Duration::from_secs(secs.max(1).unsigned_abs())
}

fn view(r: &EvidenceRow, reuse: Vec<EvidenceReuse>) -> Result<Evidence, ApiError> {
    Ok(Evidence {
        id: r.id.clone(),
        task_id: r.task_id.clone(),
        item_key: r.item_key.clone(),
        officer_id: r.officer_id.clone(),
        kind: stored(&r.kind, "kind")?,
        content_type: r.content_type.clone(),
        size_bytes: r.size_bytes.max(0) as u64,
        sha256: r.sha256.clone(),
        captured_at: utc(r.captured_at),
        capture: stored_json(&r.capture, "capture")?,
        status: stored(&r.status, "status")?,
        rejected_reason: r.rejected_reason.clone(),
        created_at: utc(r.created_at),
        completed_at: r.completed_at.map(utc),
        width: r.width.map(|w| w.max(0) as u32),
        height: r.height.map(|h| h.max(0) as u32),
        reuse,
        device_id: r.device_id.clone(),
        signature_verified: r.signature_verified,
    })
}

/// Evidence with its reuse links, in two queries however many. The other side is named, but its
/// task only when the caller's scope covers it: the link says a picture was reused without
/// showing another branch's work.
fn views_with_reuse(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    rows: &[EvidenceRow],
) -> Result<Vec<Evidence>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let links = field::reuse_of(conn, &ids)?;
    let other_tasks: Vec<String> = links.iter().map(|(_, t)| t.clone()).collect();
    let visible = task::visible_ids(conn, scope, &other_tasks)?;
    let mut by_evidence: HashMap<String, Vec<EvidenceReuse>> = HashMap::new();
    for (link, task_id) in links {
        by_evidence
            .entry(link.evidence_id)
            .or_default()
            .push(EvidenceReuse {
                evidence_id: link.other_id,
                task_id: visible.contains(&task_id).then_some(task_id),
                reason: link.reason,
                distance: link.distance.max(0) as u32,
            });
    }
    rows.iter()
        .map(|r| view(r, by_evidence.remove(&r.id).unwrap_or_default()))
        .collect()
}

/// Links evidence to other tasks' evidence with the same bytes or (photos) a near-identical
/// picture, both ways, and records what was found.
fn link_reuse(
    tx: &mut WriteTx<'_>,
    row: &EvidenceRow,
    phash: Option<u64>,
    max_distance: u32,
) -> Result<(), ApiError> {
    let mut found = 0;
    for other in field::same_bytes_elsewhere(tx.conn(), &row.sha256, &row.task_id)? {
        field::link_reuse(tx, &row.id, &other.id, "same_bytes", 0)?;
        found += 1;
    }
    if let Some(phash) = phash {
        for (other, h) in field::hashes_elsewhere(tx.conn(), &row.task_id)? {
            let d = hash_distance(phash, u64::from_ne_bytes(h.to_ne_bytes()));
            if d <= max_distance {
                field::link_reuse(tx, &row.id, &other, "similar_image", d as i32)?;
                found += 1;
            }
        }
    }
    if found > 0 {
        tx.audit(
            "evidence.reuse_found",
            "task",
            &row.task_id,
            &json!({ "evidence": row.id, "links": found }),
        )?;
    }
    Ok(())
}

/// A URL on this server that carries its own permission (the embedded storage).
fn local_url(
    state: &AppState,
    key: &str,
    method: &str,
    len: Option<u64>,
    content_type: &str,
    ttl_secs: i64,
) -> Result<(String, chrono::DateTime<chrono::Utc>), ApiError> {
    let (token, expires_at) =
        state
            .keys
            .sign_grant(key, method, len, Some(content_type), ttl_secs)?;
    Ok((format!("/api/v1/objects/{token}"), expires_at))
}

/// Where to send the bytes of declared evidence, with fresh URLs; `None` once it is settled.
async fn upload_target(
    state: &AppState,
    r: &EvidenceRow,
) -> Result<Option<UploadTarget>, ApiError> {
    if r.status != EvidenceStatus::Declared.as_str() {
        return Ok(None);
    }
    let size = r.size_bytes.max(0) as u64;
    let field = &state.config.field;
    let single = |url: String, headers: std::collections::BTreeMap<String, String>, expires_at| {
        UploadTarget {
            mode: UploadMode::Single,
            method: "PUT".into(),
            url: Some(url),
            headers,
            parts: Vec::new(),
            expires_at,
        }
    };
    let target = match (&*state.objects, &r.upload_id) {
        (ObjectStore::Local(_), _) => {
            let (url, expires_at) = local_url(
                state,
                &r.object_key,
                "PUT",
                Some(size),
                &r.content_type,
                field.upload_ttl_secs,
            )?;
            let headers = [
                ("Content-Type".to_owned(), r.content_type.clone()),
                ("Content-Length".to_owned(), size.to_string()),
            ];
            single(url, headers.into(), expires_at)
        }
        (ObjectStore::S3(s3), None) => {
            let p = s3
                .presign_put(
                    &r.object_key,
                    size,
                    &r.sha256,
                    &r.content_type,
                    ttl(field.upload_ttl_secs),
                )
                .await?;
            single(p.url, p.headers, p.expires_at)
        }
        (ObjectStore::S3(s3), Some(upload_id)) => {
            multipart_target(s3, r, upload_id, field.upload_ttl_secs).await?
        }
    };
    Ok(Some(target))
}

/// How declared evidence is cut into parts (none unless it travels in parts).
fn parts_of(r: &EvidenceRow) -> Vec<loanwatch_domain::field::evidence::Part> {
    part_plan(
        r.size_bytes.max(0) as u64,
        r.part_bytes.unwrap_or(0).max(0) as u64,
    )
}

/// The parts the storage holds, as (number, size).
fn held_parts(held: &[loanwatch_store::object::UploadedPart]) -> Vec<(u32, u64)> {
    held.iter().map(|h| (h.number, h.size)).collect()
}

async fn multipart_target(
    s3: &S3Objects,
    r: &EvidenceRow,
    upload_id: &str,
    ttl_secs: i64,
) -> Result<UploadTarget, ApiError> {
    let held = held_parts(
        &s3.list_parts(&r.object_key, upload_id)
            .await?
            .unwrap_or_default(),
    );
    let mut parts = Vec::new();
    let mut expires_at = chrono::Utc::now();
    for p in parts_of(r) {
        let signed = s3
            .presign_part(&r.object_key, upload_id, p.number, p.size, ttl(ttl_secs))
            .await?;
        expires_at = signed.expires_at;
        parts.push(UploadPart {
            number: p.number,
            offset: p.offset,
            size_bytes: p.size,
            url: signed.url,
            headers: signed.headers,
            uploaded: part_held(&p, &held),
        });
    }
    Ok(UploadTarget {
        mode: UploadMode::Multipart,
        method: "PUT".into(),
        url: None,
        headers: Default::default(),
        parts,
        expires_at,
    })
}

/// Starts the multipart upload of a long video on S3 once, whoever declares it first.
async fn ensure_multipart(
    state: &AppState,
    actor: &Actor,
    row: EvidenceRow,
) -> Result<EvidenceRow, ApiError> {
    let ObjectStore::S3(s3) = &*state.objects else {
        return Ok(row);
    };
    let part_bytes = state.config.field.part_bytes;
    let kind: EvidenceKind = stored(&row.kind, "kind")?;
    if row.status != EvidenceStatus::Declared.as_str()
        || row.upload_id.is_some()
        || !uses_parts(kind, row.size_bytes.max(0) as u64, part_bytes)
    {
        return Ok(row);
    }
    let upload_id = s3
        .start_multipart(&row.object_key, &row.content_type)
        .await?;
    let (id, upload) = (row.id.clone(), upload_id.clone());
    let (won, row) = write::change(state, actor, move |tx| {
        let won = field::set_multipart(tx, &id, &upload, part_bytes as i64)?;
        Ok((won, field::evidence_by_id(tx.conn(), &id)?))
    })
    .await?;
    if !won {
        s3.abort_multipart(&row.object_key, &upload_id).await?;
    }
    Ok(row)
}

/// Declare a photo, video or document for a task assigned to me. The answer carries signed
/// upload URLs bound to the declared length and type (and on S3 the SHA-256): one URL, or one
/// per part for a long video on S3. Declaring the same evidence again returns it with fresh URLs;
/// other content under the same `id` is a conflict.
#[utoipa::path(
    tag = "field",
    operation_id = "declare_evidence",
    request_body = DeclareEvidence,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 201, description = "Declared", body = DeclaredEvidence),
        (status = 200, description = "A replay", body = DeclaredEvidence),
        (status = 403, description = "Not my task", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This id was used for other evidence", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/tasks/{id}/evidence")]
async fn declare_evidence(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<DeclareEvidence>,
) -> Result<HttpResponse, ApiError> {
    let me = super::field_person(&actor)?;
    let input = body.value;
    let hash = body.request_hash;
    let task_id = id.into_inner();
    uuid::Uuid::parse_str(&input.id).map_err(|_| ApiError::invalid("id", "must be a UUID"))?;
    super::check_times(&[("captured_at", Some(input.captured_at))])?;
    let item_key = service::text("item_key", &input.item_key, 100)?;
    state
        .config
        .field
        .limits
        .check(input.kind, input.size_bytes, &input.content_type)
        .map_err(|e| match e {
            loanwatch_domain::field::evidence::EvidenceError::Size { .. } => {
                ApiError::invalid("size_bytes", e.to_string())
            }
            _ => ApiError::invalid("content_type", e.to_string()),
        })?;
    check_sha256(&input.sha256).map_err(|e| ApiError::invalid("sha256", e.to_string()))?;
    let size = i64::try_from(input.size_bytes)
        .map_err(|_| ApiError::invalid("size_bytes", "is too large"))?;
    let who = actor.clone();
    let (replayed, row) = write::change(&state, &actor, move |tx| {
        let t = super::assigned_task(tx.conn(), &who, &task_id)?;
        if let Some(s) = &input.device_signature {
            super::devices::check_declared(tx.conn(), &me.to_string(), s)?;
        }
        let row = EvidenceRow {
            id: input.id.clone(),
            request_hash: hash.clone(),
            task_id: t.id.clone(),
            item_key,
            officer_id: me.to_string(),
            kind: input.kind.as_str().to_owned(),
            content_type: input.content_type.clone(),
            size_bytes: size,
            sha256: input.sha256.clone(),
            captured_at: input.captured_at.naive_utc(),
            capture: input.capture.to_string(),
            object_key: format!("evidence/{}/{}", t.id, input.id),
            status: EvidenceStatus::Declared.as_str().to_owned(),
            rejected_reason: None,
            created_at: tx.now(),
            completed_at: None,
            width: None,
            height: None,
            phash: None,
            thumbnail_key: None,
            upload_id: None,
            part_bytes: None,
            device_id: input.device_signature.as_ref().map(|s| s.device_id.clone()),
            device_signature: input.device_signature.as_ref().map(|s| s.signature.clone()),
            signature_verified: None,
        };
        if !field::insert_evidence(tx, &row)? {
            let first = field::evidence_by_id(tx.conn(), &input.id)?;
            super::replay(&first.request_hash, &first.officer_id, &hash, &me.to_string(), "evidence")?;
            return Ok((true, first));
        }
        tx.audit(
            "evidence.declare",
            "task",
            &row.task_id,
            &json!({ "evidence": row.id, "kind": row.kind, "size": row.size_bytes, "sha256": row.sha256 }),
        )?;
        Ok((false, row))
    })
    .await?;
    let row = ensure_multipart(&state, &actor, row).await?;
    let answer = DeclaredEvidence {
        evidence: view(&row, Vec::new())?,
        upload: upload_target(&state, &row).await?,
    };
    Ok(super::created_or_replayed(replayed).json(answer))
}

/// Fresh upload URLs for my declared evidence, saying which parts the storage holds already:
/// how a phone resumes an upload after its URLs expired or the app was restarted.
#[utoipa::path(
    tag = "field",
    operation_id = "evidence_upload_target",
    params(("id" = String, Path, description = "Evidence id")),
    responses(
        (status = 200, description = "Where to send the bytes", body = UploadTarget),
        (status = 404, description = "No such evidence of mine", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Settled already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/evidence/{id}/upload")]
async fn upload_evidence(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<UploadTarget>, ApiError> {
    let row = my_evidence(&state, &actor, id.into_inner()).await?;
    let row = ensure_multipart(&state, &actor, row).await?;
    upload_target(&state, &row)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::conflict(format!("the evidence is {} already", row.status)))
}

/// My evidence by id (404 for anyone else's).
async fn my_evidence(state: &AppState, actor: &Actor, id: String) -> Result<EvidenceRow, ApiError> {
    let me = super::field_person(actor)?;
    state
        .db(move |conn| {
            field::evidence_by_id(conn, &id)
                .ok()
                .filter(|r| r.officer_id == me.to_string())
                .ok_or_else(|| ApiError::not_found("evidence"))
        })
        .await
}

/// A task's evidence (whoever sees the task).
#[utoipa::path(
    tag = "field",
    operation_id = "list_task_evidence",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Evidence", body = Vec<Evidence>),
        (status = 404, description = "No such task in scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tasks/{id}/evidence")]
async fn list_task_evidence(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Vec<Evidence>>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    let rows = state
        .db(move |conn| {
            task::get(conn, &scope, &id).map_err(|_| ApiError::not_found("task"))?;
            let rows = field::evidence_of_task(conn, &id)?;
            views_with_reuse(conn, &scope, &rows)
        })
        .await?;
    Ok(web::Json(rows))
}

/// The embedded storage; on S3 this server serves no objects.
fn local_objects(state: &AppState) -> Result<loanwatch_store::object::LocalObjects, ApiError> {
    match &*state.objects {
        ObjectStore::Local(l) => Ok(l.clone()),
        ObjectStore::S3(_) => Err(ApiError::not_found("object")),
    }
}

/// Upload the bytes of declared evidence to its signed URL (no bearer token: the URL is the
/// permission). The body must have exactly the declared length and type; a longer body is
/// refused before it is stored, and an expired or altered URL is refused before anything is
/// written.
#[utoipa::path(
    tag = "field",
    operation_id = "put_object",
    params(("token" = String, Path, description = "The signed grant of the URL")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Stored; complete the evidence next"),
        (status = 403, description = "Expired or invalid URL", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Longer than declared", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not the declared length or type", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/objects/{token}")]
async fn put_object(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let objects = local_objects(&state)?;
    let grant = state.keys.verify_grant(&token.into_inner(), "PUT")?;
    let declared = grant.len.unwrap_or(0);
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if grant.ct.as_deref() != Some(content_type) {
        return Err(ApiError::field(
            ErrorCode::ValidationFailed,
            "#/header/Content-Type",
            format!("must be {}", grant.ct.unwrap_or_default()),
        ));
    }
    let length = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length != Some(declared) {
        return Err(ApiError::field(
            ErrorCode::ValidationFailed,
            "#/header/Content-Length",
            format!("must be the declared {declared} bytes"),
        ));
    }
    let key = grant.sub.clone();
    let mut incoming = web::block(move || objects.incoming(&key))
        .await
        .map_err(ApiError::internal)??;
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                incoming.abort();
                return Err(ApiError::new(
                    ErrorCode::InvalidBody,
                    format!("the upload broke off: {e}"),
                ));
            }
        };
        if incoming.size() + chunk.len() as u64 > declared {
            incoming.abort();
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is longer than the declared {declared} bytes"),
            ));
        }
        incoming = web::block(move || incoming.write(&chunk).map(|()| incoming))
            .await
            .map_err(ApiError::internal)??;
    }
    let (digest, kept) = web::block(move || incoming.finish(|d| d.size == declared))
        .await
        .map_err(ApiError::internal)??;
    if !kept {
        return Err(ApiError::field(
            ErrorCode::ValidationFailed,
            "#/header/Content-Length",
            format!("{} bytes arrived, {declared} were declared", digest.size),
        ));
    }
    Ok(HttpResponse::Ok().json(json!({ "size_bytes": digest.size, "sha256": digest.sha256 })))
}

/// Serve an object to the holder of a signed download URL.
#[utoipa::path(
    tag = "field",
    operation_id = "get_object",
    params(("token" = String, Path, description = "The signed grant of the URL")),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream"),
        (status = 403, description = "Expired or invalid URL", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such object", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/objects/{token}")]
async fn get_object(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let objects = local_objects(&state)?;
    let grant = state.keys.verify_grant(&token.into_inner(), "GET")?;
    let key = grant.sub.clone();
    let (file, len) = web::block(move || objects.open(&key))
        .await
        .map_err(ApiError::internal)??
        .ok_or_else(|| ApiError::not_found("object"))?;
    // Streamed in 64 KiB reads on the blocking pool: a 2 GiB video is never held in memory.
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = web::block(move || {
            let mut buf = vec![0u8; 1 << 16];
            let n = std::io::Read::read(&mut file, &mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await
        .map_err(std::io::Error::other);
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => None,
            Ok(Ok((file, buf))) => Some((Ok(web::Bytes::from(buf)), Some(file))),
            Ok(Err(e)) | Err(e) => Some((Err(e), None)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(
            grant
                .ct
                .unwrap_or_else(|| "application/octet-stream".into()),
        )
        .insert_header(("Cache-Control", "private, no-store"))
        .no_chunking(len)
        .streaming(chunks))
}

/// What the server found the uploaded object to be.
struct Examined {
    /// A decoded photo's width, height and perceptual hash, and its thumbnail's key.
    image: Option<(u32, u32, u64, String)>,
}

enum Completion {
    Stored(Box<Evidence>),
    /// Why, and the objects to remove once the rejection is committed.
    Rejected(String, Vec<String>),
}

/// Joins the parts of a multipart upload into the object: `Err` (409) names the parts still
/// missing. An upload the storage no longer knows was joined by an earlier completion.
async fn join_parts(s3: &S3Objects, row: &EvidenceRow, upload_id: &str) -> Result<(), ApiError> {
    let Some(held) = s3.list_parts(&row.object_key, upload_id).await? else {
        return Ok(());
    };
    if held.is_empty() && s3.stat(&row.object_key).await?.is_some() {
        return Ok(());
    }
    let plan = parts_of(row);
    let reported = held_parts(&held);
    let missing: Vec<String> = plan
        .iter()
        .filter(|p| !part_held(p, &reported))
        .map(|p| p.number.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::conflict(format!(
            "parts {} of {} have not been uploaded",
            missing.join(", "),
            plan.len()
        )));
    }
    let parts: Vec<_> = held
        .into_iter()
        .filter(|h| plan.iter().any(|p| p.number == h.number))
        .collect();
    s3.complete_multipart(&row.object_key, upload_id, &parts)
        .await?;
    Ok(())
}

/// Checks the stored object against the declaration; `Ok(Err(why))` rejects it. Photos are read
/// whole (they are small), hashed, decoded under limits, thumbnailed and perceptually hashed;
/// other files are hashed as a stream, or not at all when S3 verified their SHA-256 on upload.
async fn examine(
    state: &AppState,
    row: &EvidenceRow,
) -> Result<Result<Examined, String>, ApiError> {
    let objects = &state.objects;
    let declared = row.size_bytes.max(0) as u64;
    let not_uploaded = || ApiError::conflict("the bytes have not been uploaded yet");
    let content =
        |sha256: &str, head: &[u8]| content_mismatch(&row.content_type, &row.sha256, sha256, head);
    if !decodable_image(&row.content_type) {
        let stat = objects
            .stat(&row.object_key)
            .await?
            .ok_or_else(not_uploaded)?;
        if let Some(why) = size_mismatch(declared, stat.size) {
            return Ok(Err(why));
        }
        // S3 verified the SHA-256 of a single upload; anything else is read back as a stream.
        let sha256 = match stat.sha256 {
            Some(verified) => verified,
            None => {
                objects
                    .digest(&row.object_key)
                    .await?
                    .ok_or_else(not_uploaded)?
                    .sha256
            }
        };
        let head = objects.head_bytes(&row.object_key, 16).await?;
        return Ok(match content(&sha256, &head) {
            Some(why) => Err(why),
            None => Ok(Examined { image: None }),
        });
    }
    // A photo is read whole (it is small): one read serves the size, hash, type and decoding.
    let Some(bytes) = objects.read(&row.object_key, declared).await? else {
        let stat = objects
            .stat(&row.object_key)
            .await?
            .ok_or_else(not_uploaded)?;
        return Ok(Err(size_mismatch(declared, stat.size)
            .unwrap_or_else(|| "the object changed while it was read".into())));
    };
    if let Some(why) = size_mismatch(declared, bytes.len() as u64)
        .or_else(|| content(&hex::encode(Sha256::digest(&bytes)), &bytes))
    {
        return Ok(Err(why));
    }
    let analysed = match web::block(move || super::images::analyse(&bytes))
        .await
        .map_err(ApiError::internal)?
    {
        Ok(a) => a,
        Err(why) => return Ok(Err(why)),
    };
    let thumbnail_key = format!("thumbnails/{}/{}", row.task_id, row.id);
    objects
        .put(&thumbnail_key, analysed.thumbnail_jpeg, "image/jpeg")
        .await?;
    Ok(Ok(Examined {
        image: Some((
            analysed.width,
            analysed.height,
            analysed.phash,
            thumbnail_key,
        )),
    }))
}

/// Complete declared evidence after its upload (for a multipart upload, after all its parts):
/// the server checks the object's size, SHA-256 and content type against the declaration, and
/// decodes photos. A mismatch rejects the evidence and removes the object (422, recorded); a
/// match stores it, counts it for its checklist item and links it to reused copies elsewhere.
#[utoipa::path(
    tag = "field",
    operation_id = "complete_evidence",
    params(("id" = String, Path, description = "Evidence id")),
    responses(
        (status = 200, description = "Verified and stored", body = Evidence),
        (status = 404, description = "No such evidence of mine", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not (wholly) uploaded yet, or settled already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rejected: the object did not match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/evidence/{id}/complete")]
async fn complete_evidence(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Evidence>, ApiError> {
    let id = id.into_inner();
    let row = my_evidence(&state, &actor, id.clone()).await?;
    if row.status != EvidenceStatus::Declared.as_str() {
        return Err(ApiError::conflict(format!(
            "the evidence is {} already",
            row.status
        )));
    }
    if let (ObjectStore::S3(s3), Some(upload_id)) = (&*state.objects, &row.upload_id) {
        join_parts(s3, &row, upload_id).await?;
    }
    // The object is examined outside the transaction: reading a video back must not hold the
    // write lock. The transaction then settles the evidence if nobody settled it meanwhile.
    let examined = examine(&state, &row).await?;
    let scope = service::scope(&actor);
    let max_distance = state.config.field.similar_max_distance;
    let outcome = write::change(&state, &actor, move |tx| {
        let row = field::evidence_by_id(tx.conn(), &id)?;
        let signed = super::devices::verify(tx.conn(), &row)?;
        let examined = match examined.and_then(|e| signed.clone().map(|_| e)) {
            Ok(e) => e,
            Err(why) => {
                field::settle_evidence(tx, &id, EvidenceStatus::Rejected.as_str(), Some(&why))?;
                if signed.is_err() {
                    field::set_signature_verified(tx, &id, false)?;
                }
                tx.audit(
                    "evidence.reject",
                    "task",
                    &row.task_id,
                    &json!({ "evidence": id, "why": why }),
                )?;
                return Ok(Completion::Rejected(why, vec![row.object_key]));
            }
        };
        field::settle_evidence(tx, &id, EvidenceStatus::Stored.as_str(), None)?;
        if signed == Ok(true) {
            field::set_signature_verified(tx, &id, true)?;
        }
        let phash = examined.image.as_ref().map(|i| i.2);
        if let Some((width, height, phash, thumbnail_key)) = &examined.image {
            field::set_image(
                tx,
                &id,
                i32::try_from(*width).unwrap_or(i32::MAX),
                i32::try_from(*height).unwrap_or(i32::MAX),
                i64::from_ne_bytes(phash.to_ne_bytes()),
                thumbnail_key,
            )?;
        }
        link_reuse(tx, &row, phash, max_distance)?;
        inspection::add_evidence(tx, &row.task_id, &row.item_key)?;
        tx.audit(
            "evidence.store",
            "task",
            &row.task_id,
            &json!({ "evidence": id }),
        )?;
        let stored = field::evidence_by_id(tx.conn(), &id)?;
        let mut views = views_with_reuse(tx.conn(), &scope, std::slice::from_ref(&stored))?;
        let view = views
            .pop()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored evidence has no view")))?;
        Ok(Completion::Stored(Box::new(view)))
    })
    .await?;
    match outcome {
        Completion::Stored(evidence) => Ok(web::Json(*evidence)),
        Completion::Rejected(why, keys) => {
            // Removed only after the rejection is committed: a failed commit leaves the
            // evidence declared with its bytes, and the officer can complete it again.
            for key in keys {
                state.objects.delete(&key).await?;
            }
            Err(ApiError::new(
                ErrorCode::ValidationFailed,
                format!("the evidence is rejected and its upload removed: {why}"),
            ))
        }
    }
}

/// Stored evidence the caller's scope covers.
async fn evidence_in_scope(
    state: &AppState,
    actor: &Actor,
    id: String,
) -> Result<EvidenceRow, ApiError> {
    actor.require_read()?;
    let scope = service::scope(actor);
    let row = state
        .db(move |conn| {
            let row =
                field::evidence_by_id(conn, &id).map_err(|_| ApiError::not_found("evidence"))?;
            task::get(conn, &scope, &row.task_id).map_err(|_| ApiError::not_found("evidence"))?;
            Ok(row)
        })
        .await?;
    if row.status != EvidenceStatus::Stored.as_str() {
        return Err(ApiError::conflict(format!(
            "the evidence is {}",
            row.status
        )));
    }
    Ok(row)
}

/// A short-lived GET of an object: presigned on S3, served by this server otherwise.
async fn download_target(
    state: &AppState,
    key: &str,
    content_type: &str,
) -> Result<DownloadTarget, ApiError> {
    let ttl_secs = state.config.field.download_ttl_secs;
    let (url, expires_at) = match &*state.objects {
        ObjectStore::Local(_) => local_url(state, key, "GET", None, content_type, ttl_secs)?,
        ObjectStore::S3(s3) => {
            let p = s3.presign_get(key, content_type, ttl(ttl_secs)).await?;
            (p.url, p.expires_at)
        }
    };
    Ok(DownloadTarget { url, expires_at })
}

/// A short-lived download URL for stored evidence, for whoever sees its task.
#[utoipa::path(
    tag = "field",
    operation_id = "download_evidence",
    params(("id" = String, Path, description = "Evidence id")),
    responses(
        (status = 200, description = "A URL valid for `EVIDENCE_DOWNLOAD_TTL_SECS` (5 minutes)", body = DownloadTarget),
        (status = 404, description = "No such evidence in scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not stored", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/evidence/{id}/download")]
async fn download_evidence(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<DownloadTarget>, ApiError> {
    let row = evidence_in_scope(&state, &actor, id.into_inner()).await?;
    Ok(web::Json(
        download_target(&state, &row.object_key, &row.content_type).await?,
    ))
}

/// A short-lived download URL for the thumbnail of a stored photo (320 px JPEG), for whoever
/// sees its task.
#[utoipa::path(
    tag = "field",
    operation_id = "download_thumbnail",
    params(("id" = String, Path, description = "Evidence id")),
    responses(
        (status = 200, description = "A URL valid for `EVIDENCE_DOWNLOAD_TTL_SECS`", body = DownloadTarget),
        (status = 404, description = "No such evidence in scope, or it has no thumbnail (not a photo)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not stored", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/evidence/{id}/thumbnail")]
async fn download_thumbnail(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<DownloadTarget>, ApiError> {
    let row = evidence_in_scope(&state, &actor, id.into_inner()).await?;
    let key = row
        .thumbnail_key
        .ok_or_else(|| ApiError::not_found("thumbnail"))?;
    Ok(web::Json(
        download_target(&state, &key, "image/jpeg").await?,
    ))
}
