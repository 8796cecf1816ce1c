//! Officers' devices: the Ed25519 public key a phone registers at enrolment, and the check of
//! the signature it puts on each piece of evidence.

use actix_web::{HttpResponse, get, post, web};
use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, VerifyingKey};
use loanwatch_api_types::{
    Problem,
    field::{Device, DeviceSignature, RegisterDevice},
};
use loanwatch_domain::field::device::evidence_message;
use loanwatch_store::{DbConn, models::DeviceKeyRow, models::EvidenceRow, repo::field};
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    extract::JsonBody,
    ledger::service,
    views::{stored_json, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(register_device)
        .service(list_devices)
        .service(revoke_device);
}

fn view(r: DeviceKeyRow) -> Device {
    Device {
        id: r.id,
        user_id: r.user_id,
        name: r.name,
        public_key: r.public_key,
        created_at: utc(r.created_at),
        revoked_at: r.revoked_at.map(utc),
    }
}

/// Exactly `N` bytes in base64, or a 422 naming `field`.
fn base64_bytes<const N: usize>(field: &str, text: &str) -> Result<[u8; N], ApiError> {
    STANDARD
        .decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::invalid(field, format!("must be {N} bytes in base64")))
}

/// A public key as sent: base64 of 32 bytes that make a point of the curve.
fn public_key(field: &str, text: &str) -> Result<VerifyingKey, ApiError> {
    VerifyingKey::from_bytes(&base64_bytes::<32>(field, text)?)
        .map_err(|_| ApiError::invalid(field, "is not an Ed25519 public key"))
}

/// Register my phone's Ed25519 public key (at the SDK's enrolment). Registering the same key
/// again answers the device; a key registered by someone else is a conflict.
#[utoipa::path(
    tag = "field",
    operation_id = "register_device",
    request_body = RegisterDevice,
    responses(
        (status = 201, description = "Registered", body = Device),
        (status = 200, description = "Registered before", body = Device),
        (status = 409, description = "Another person's key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a public key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/devices")]
async fn register_device(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody<RegisterDevice>,
) -> Result<HttpResponse, ApiError> {
    let me = super::field_person(&actor)?.to_string();
    let input = body.value;
    let name = service::text("name", &input.name, 100)?;
    // Kept in its canonical encoding, so one key is one registration.
    let public = STANDARD.encode(public_key("public_key", &input.public_key)?.to_bytes());
    let (replayed, row) = write::change(&state, &actor, move |tx| {
        let row = DeviceKeyRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: me.clone(),
            name,
            public_key: public.clone(),
            created_at: tx.now(),
            revoked_at: None,
        };
        if !field::insert_device(tx, &row)? {
            let first = field::device_by_key(tx.conn(), &public)?;
            if first.user_id != me {
                return Err(ApiError::conflict(
                    "this key is registered to another person",
                ));
            }
            return Ok((true, first));
        }
        tx.audit(
            "device.register",
            "user",
            &me,
            &json!({ "device": row.id, "name": row.name }),
        )?;
        Ok((false, row))
    })
    .await?;
    Ok(super::created_or_replayed(replayed).json(view(row)))
}

/// My registered devices.
#[utoipa::path(
    tag = "field",
    operation_id = "list_devices",
    responses((status = 200, description = "My devices", body = Vec<Device>)),
    security(("bearer" = []))
)]
#[get("/me/devices")]
async fn list_devices(
    state: web::Data<AppState>,
    actor: Actor,
) -> Result<web::Json<Vec<Device>>, ApiError> {
    let me = actor
        .user_id()
        .ok_or_else(|| ApiError::forbidden("devices belong to people"))?
        .to_string();
    let rows = state
        .db(move |conn| Ok(field::devices_of(conn, &me)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(view).collect()))
}

/// Revoke one of my devices (lost or replaced): evidence it signed that is not completed yet is
/// rejected when completed.
#[utoipa::path(
    tag = "field",
    operation_id = "revoke_device",
    params(("id" = String, Path, description = "Device id")),
    responses(
        (status = 200, description = "Revoked", body = Device),
        (status = 404, description = "No such device of mine", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/devices/{id}/revoke")]
async fn revoke_device(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Device>, ApiError> {
    let me = super::field_person(&actor)?.to_string();
    let id = id.into_inner();
    let row = write::change(&state, &actor, move |tx| {
        let d = field::device(tx.conn(), &id).map_err(|_| ApiError::not_found("device"))?;
        if d.user_id != me {
            return Err(ApiError::not_found("device"));
        }
        field::revoke_device(tx, &id)?;
        tx.audit("device.revoke", "user", &me, &json!({ "device": id }))?;
        Ok(field::device(tx.conn(), &id)?)
    })
    .await?;
    Ok(web::Json(view(row)))
}

/// Checks a declaration's signature fields: a device of mine, not revoked, and a signature of
/// the right length. The signature itself is verified when the upload completes.
pub(crate) fn check_declared(
    conn: &mut DbConn,
    me: &str,
    s: &DeviceSignature,
) -> Result<(), ApiError> {
    let d = field::device(conn, &s.device_id)
        .ok()
        .filter(|d| d.user_id == me)
        .ok_or_else(|| {
            ApiError::invalid("device_signature/device_id", "is not a device of mine")
        })?;
    if d.revoked_at.is_some() {
        return Err(ApiError::invalid(
            "device_signature/device_id",
            "the device is revoked",
        ));
    }
    signature(&s.signature)?;
    Ok(())
}

fn signature(text: &str) -> Result<Signature, ApiError> {
    Ok(Signature::from_bytes(&base64_bytes::<64>(
        "device_signature/signature",
        text,
    )?))
}

/// The verdict on evidence's device signature at completion: `Ok(false)` unsigned, `Ok(true)`
/// verified, `Err(why)` a signature that does not hold (the evidence is rejected).
pub(crate) fn verify(
    conn: &mut DbConn,
    row: &EvidenceRow,
) -> Result<Result<bool, String>, ApiError> {
    let (Some(device_id), Some(sig)) = (&row.device_id, &row.device_signature) else {
        return Ok(Ok(false));
    };
    let d = field::device(conn, device_id)?;
    if d.revoked_at.is_some() || d.user_id != row.officer_id {
        return Ok(Err(
            "the signing device is revoked or not the officer's".into()
        ));
    }
    let (Ok(key), Ok(sig)) = (public_key("public_key", &d.public_key), signature(sig)) else {
        return Ok(Err("the stored key or signature is unreadable".into()));
    };
    let capture = stored_json(&row.capture, "capture")?;
    let message = evidence_message(
        &row.id,
        &row.task_id,
        &row.sha256,
        row.size_bytes.max(0) as u64,
        utc(row.captured_at),
        &capture,
    );
    Ok(match key.verify_strict(&message, &sig) {
        Ok(()) => Ok(true),
        Err(_) => Err("the device signature does not match the evidence".into()),
    })
}
