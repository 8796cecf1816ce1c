//! Evidence upload through the embedded object storage: declare (size, SHA-256, type), send
//! the bytes to a short-lived signed URL, complete (the server re-reads the object and checks it
//! against the declaration), download through a short-lived signed URL.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use futures_util::StreamExt;
use loanwatch_api_types::{
    Problem,
    field::{
        DeclareEvidence, DeclaredEvidence, DownloadTarget, Evidence, EvidenceReuse, UploadTarget,
    },
};
use loanwatch_domain::field::evidence::{
    EvidenceLimits, EvidenceStatus, SIMILAR_MAX_DISTANCE, check_sha256, decodable_image,
    hash_distance, sniff_matches,
};
use loanwatch_store::{
    DbConn, ScopeFilter, WriteTx,
    models::EvidenceRow,
    object::ObjectStore,
    repo::{field, inspection, task},
};
use serde_json::json;

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
        .service(complete_evidence)
        .service(download_evidence)
        .service(put_object)
        .service(get_object);
}

/// Lifetime of upload URLs, seconds.
const UPLOAD_TTL: i64 = 3600;
/// Lifetime of download URLs, seconds.
const DOWNLOAD_TTL: i64 = 300;

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

/// Decodes a stored photo, keeps its thumbnail and hash, and links it to other tasks' evidence
/// with the same bytes or a near-identical picture. `Err` carries why the photo is refused.
fn examine_image(
    tx: &mut WriteTx<'_>,
    objects: &ObjectStore,
    row: &EvidenceRow,
) -> Result<Result<(), String>, ApiError> {
    let Some((mut file, _)) = objects.open(&row.object_key)? else {
        return Ok(Err("the object disappeared".into()));
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(ApiError::internal)?;
    let analysed = match super::images::analyse(&bytes) {
        Ok(a) => a,
        Err(why) => return Ok(Err(why)),
    };
    let thumbnail_key = format!("thumbnails/{}/{}", row.task_id, row.id);
    let mut thumb = objects.incoming(&thumbnail_key)?;
    thumb.write(&analysed.thumbnail_jpeg)?;
    thumb.finish(|_| true)?;
    let phash = i64::from_ne_bytes(analysed.phash.to_ne_bytes());
    field::set_image(
        tx,
        &row.id,
        i32::try_from(analysed.width).unwrap_or(i32::MAX),
        i32::try_from(analysed.height).unwrap_or(i32::MAX),
        phash,
        &thumbnail_key,
    )?;
    let mut found = 0;
    for other in field::same_bytes_elsewhere(tx.conn(), &row.sha256, &row.task_id)? {
        field::link_reuse(tx, &row.id, &other.id, "same_bytes", 0)?;
        found += 1;
    }
    for (other, h) in field::hashes_elsewhere(tx.conn(), &row.task_id)? {
        let d = hash_distance(analysed.phash, u64::from_ne_bytes(h.to_ne_bytes()));
        if d <= SIMILAR_MAX_DISTANCE {
            field::link_reuse(tx, &row.id, &other, "similar_image", d as i32)?;
            found += 1;
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
    Ok(Ok(()))
}

fn upload_target(state: &AppState, r: &EvidenceRow) -> Result<Option<UploadTarget>, ApiError> {
    if r.status != EvidenceStatus::Declared.as_str() {
        return Ok(None);
    }
    let (token, expires_at) = state.keys.sign_grant(
        &r.object_key,
        "PUT",
        Some(r.size_bytes.max(0) as u64),
        Some(&r.content_type),
        UPLOAD_TTL,
    )?;
    Ok(Some(UploadTarget {
        method: "PUT".into(),
        url: format!("/api/v1/objects/{token}"),
        headers: [
            ("Content-Type".to_owned(), r.content_type.clone()),
            ("Content-Length".to_owned(), r.size_bytes.to_string()),
        ]
        .into(),
        expires_at,
    }))
}

/// Declare a photo, video or document for a task assigned to me. The answer carries a signed
/// upload URL bound to the declared length and type. Declaring the same evidence again returns
/// it with a fresh URL; other content under the same `id` is a conflict.
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
    actor.require_write()?;
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden("evidence is captured by people"));
    };
    let input = body.value;
    let hash = body.request_hash;
    let task_id = id.into_inner();
    uuid::Uuid::parse_str(&input.id).map_err(|_| ApiError::invalid("id", "must be a UUID"))?;
    super::check_times(&[("captured_at", Some(input.captured_at))])?;
    let item_key = service::text("item_key", &input.item_key, 100)?;
    let limits = EvidenceLimits::default();
    limits
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
    let answer = DeclaredEvidence {
        evidence: view(&row, Vec::new())?,
        upload: upload_target(&state, &row)?,
    };
    Ok(super::created_or_replayed(replayed).json(answer))
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
    let objects = state.objects.clone();
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
    let grant = state.keys.verify_grant(&token.into_inner(), "GET")?;
    let objects = state.objects.clone();
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

enum Completion {
    Stored(Box<Evidence>),
    /// Why, and the object to remove once the rejection is committed.
    Rejected(String, String),
}

/// Complete declared evidence after its upload: the server re-reads the object and checks its
/// size, SHA-256 and content type against the declaration. A mismatch rejects the evidence and
/// removes the object (422, recorded); a match stores it and counts it for its checklist item.
#[utoipa::path(
    tag = "field",
    operation_id = "complete_evidence",
    params(("id" = String, Path, description = "Evidence id")),
    responses(
        (status = 200, description = "Verified and stored", body = Evidence),
        (status = 404, description = "No such evidence of mine", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not uploaded yet, or settled already", body = Problem, content_type = "application/problem+json"),
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
    actor.require_write()?;
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden("evidence is captured by people"));
    };
    let id = id.into_inner();
    let objects = state.objects.clone();
    let scope = service::scope(&actor);
    let outcome = write::change(&state, &actor, move |tx| {
        let row = field::evidence_by_id(tx.conn(), &id)
            .ok()
            .filter(|r| r.officer_id == me.to_string())
            .ok_or_else(|| ApiError::not_found("evidence"))?;
        if row.status != EvidenceStatus::Declared.as_str() {
            return Err(ApiError::conflict(format!(
                "the evidence is {} already",
                row.status
            )));
        }
        let Some(digest) = objects.digest(&row.object_key)? else {
            return Err(ApiError::conflict("the bytes have not been uploaded yet"));
        };
        let mut why = if digest.size != row.size_bytes.max(0) as u64 {
            Some(format!(
                "{} bytes stored, {} declared",
                digest.size, row.size_bytes
            ))
        } else if digest.sha256 != row.sha256 {
            Some(format!(
                "SHA-256 {} does not match the declared {}",
                digest.sha256, row.sha256
            ))
        } else if !sniff_matches(&row.content_type, &objects.head_bytes(&row.object_key, 16)?) {
            Some(format!("the bytes are not {}", row.content_type))
        } else {
            None
        };
        // Photos the server can decode are decoded under limits, thumbnailed, hashed and
        // compared with other tasks' evidence; one that cannot be decoded is refused.
        if why.is_none()
            && decodable_image(&row.content_type)
            && let Err(refused) = examine_image(tx, &objects, &row)?
        {
            why = Some(refused);
        }
        if let Some(why) = why {
            field::settle_evidence(tx, &id, EvidenceStatus::Rejected.as_str(), Some(&why))?;
            tx.audit(
                "evidence.reject",
                "task",
                &row.task_id,
                &json!({ "evidence": id, "why": why }),
            )?;
            return Ok(Completion::Rejected(why, row.object_key));
        }
        field::settle_evidence(tx, &id, EvidenceStatus::Stored.as_str(), None)?;
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
        Completion::Rejected(why, key) => {
            // Removed only after the rejection is committed: a failed commit leaves the
            // evidence declared with its bytes, and the officer can complete it again.
            let objects = state.objects.clone();
            web::block(move || objects.delete(&key))
                .await
                .map_err(ApiError::internal)??;
            Err(ApiError::new(
                ErrorCode::ValidationFailed,
                format!("the evidence is rejected and its upload removed: {why}"),
            ))
        }
    }
}

/// A short-lived download URL for stored evidence, for whoever sees its task.
#[utoipa::path(
    tag = "field",
    operation_id = "download_evidence",
    params(("id" = String, Path, description = "Evidence id")),
    responses(
        (status = 200, description = "A URL valid for 5 minutes", body = DownloadTarget),
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
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
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
    let (token, expires_at) = state.keys.sign_grant(
        &row.object_key,
        "GET",
        None,
        Some(&row.content_type),
        DOWNLOAD_TTL,
    )?;
    Ok(web::Json(DownloadTarget {
        url: format!("/api/v1/objects/{token}"),
        expires_at,
    }))
}
