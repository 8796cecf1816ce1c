//! Field evidence on the server: borrowers' sites with geofences, check-ins judged against them,
//! the officer's daily trail, and evidence upload.

pub mod devices;
pub mod evidence;
pub mod images;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use loanwatch_api_types::{
    Problem,
    field::{
        CheckOut, Checkin, CheckinReason, CheckinRules, Coordinates, CreateCheckin, CreateSite,
        Site, SiteGeometry,
    },
};
use loanwatch_domain::field::{
    Datum, Geofence, LatLng,
    checkin::{CheckinInput, Fix, PreviousCheckin, corrected_time, judge, judge_dwell, plausible},
};
use loanwatch_store::{
    DbConn,
    models::{CheckinRow, SiteRow},
    repo::{borrower, field, people, task},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    error::ErrorCode,
    extract::{IdempotencyKey, JsonBody},
    ledger::service,
    views::{stored, stored_json, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(create_site)
        .service(list_sites)
        .service(create_checkin)
        .service(list_task_checkins)
        .service(check_out)
        .service(get_trail)
        .service(get_checkin_rules);
    evidence::configure(cfg);
    devices::configure(cfg);
}

/// The person writing field data: check-ins and evidence are made by people, not API clients.
pub(crate) fn field_person(actor: &Actor) -> Result<loanwatch_domain::UserId, ApiError> {
    actor.require_write()?;
    actor
        .user_id()
        .ok_or_else(|| ApiError::forbidden("check-ins and evidence are made by people"))
}

/// A task in the caller's scope that is assigned to the caller (field work is the assignee's).
pub(crate) fn assigned_task(
    conn: &mut DbConn,
    who: &Actor,
    task_id: &str,
) -> Result<loanwatch_store::models::TaskRow, ApiError> {
    let t =
        task::get(conn, &service::scope(who), task_id).map_err(|_| ApiError::not_found("task"))?;
    let me = who.user_id().map(|u| u.to_string());
    if t.assignee_id.is_none() || t.assignee_id != me {
        return Err(ApiError::forbidden(
            "field work on a task is done by its assigned officer",
        ));
    }
    Ok(t)
}

/// A phone's id was taken: a replay if it is the same content from the same officer, otherwise
/// a conflict (the first submission stays as it was).
pub(crate) fn replay(
    first_hash: &str,
    first_officer: &str,
    hash: &str,
    me: &str,
    what: &str,
) -> Result<(), ApiError> {
    if first_hash != hash || first_officer != me {
        return Err(ApiError::conflict(format!(
            "this {what} id was used for a different {what}"
        )));
    }
    Ok(())
}

/// `201 Created` for a first submission from a phone, `200` with `Idempotent-Replayed` for a
/// replay of it.
pub(crate) fn created_or_replayed(replayed: bool) -> actix_web::HttpResponseBuilder {
    if replayed {
        let mut r = HttpResponse::Ok();
        r.insert_header(("Idempotent-Replayed", "true"));
        r
    } else {
        HttpResponse::Created()
    }
}

/// Refuses device times more than a year from the server's clock (they would be stored as
/// nonsense dates); a merely wrong clock is judged, not refused.
pub(crate) fn check_times(times: &[(&str, Option<DateTime<Utc>>)]) -> Result<(), ApiError> {
    let now = Utc::now();
    for (field, t) in times {
        if let Some(t) = t
            && !plausible(*t, now)
        {
            return Err(ApiError::invalid(
                field,
                "is more than a year from the server's clock",
            ));
        }
    }
    Ok(())
}

fn point(c: Coordinates, field: &str) -> Result<LatLng, ApiError> {
    LatLng::new(c.latitude, c.longitude).ok_or_else(|| {
        ApiError::invalid(
            field,
            "latitude must be within −90 to 90 and longitude within −180 to 180",
        )
    })
}

/// The geofence of a site in WGS-84.
fn fence(datum: Datum, g: &SiteGeometry) -> Result<Geofence, ApiError> {
    g.geofence(datum)
        .map_err(|(field, message)| ApiError::invalid(field, message))
}

fn site_view(r: SiteRow) -> Result<Site, ApiError> {
    Ok(Site {
        datum: stored(&r.datum, "datum")?,
        geometry: stored_json(&r.geometry, "geometry")?,
        id: r.id,
        borrower_id: r.borrower_id,
        name: r.name,
        created_at: utc(r.created_at),
    })
}

/// Register a site of a borrower in scope (officers, supervisors and above).
#[utoipa::path(
    tag = "field",
    operation_id = "create_site",
    request_body = CreateSite,
    params(
        ("id" = String, Path, description = "Borrower id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe"),
    ),
    responses(
        (status = 201, description = "Registered", body = Site),
        (status = 404, description = "No such borrower in scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/borrowers/{id}/sites")]
async fn create_site(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: JsonBody<CreateSite>,
) -> Result<HttpResponse, ApiError> {
    actor.require_write()?;
    let input = body.value;
    let borrower_id = id.into_inner();
    let who = actor.clone();
    write::create(&state, &actor, key, body.request_hash, move |tx| {
        let scope = service::scope(&who);
        borrower::get(tx.conn(), &scope, &borrower_id)
            .map_err(|_| ApiError::not_found("borrower"))?;
        let name = service::text("name", &input.name, 200)?;
        fence(input.datum, &input.geometry)?;
        let row = SiteRow {
            id: uuid::Uuid::now_v7().to_string(),
            borrower_id,
            name,
            datum: input.datum.as_str().to_owned(),
            geometry: serde_json::to_string(&input.geometry).map_err(ApiError::internal)?,
            created_by: who.subject(),
            created_at: tx.now(),
        };
        field::insert_site(tx, &row)?;
        tx.audit(
            "site.create",
            "borrower",
            &row.borrower_id,
            &json!({ "site": row.id, "datum": row.datum }),
        )?;
        site_view(row)
    })
    .await
}

/// A borrower's registered sites.
#[utoipa::path(
    tag = "field",
    operation_id = "list_sites",
    params(("id" = String, Path, description = "Borrower id")),
    responses(
        (status = 200, description = "Sites", body = Vec<Site>),
        (status = 404, description = "No such borrower in scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/borrowers/{id}/sites")]
async fn list_sites(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Vec<Site>>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    let rows = state
        .db(move |conn| {
            borrower::get(conn, &scope, &id).map_err(|_| ApiError::not_found("borrower"))?;
            Ok(field::sites_of(conn, &id)?)
        })
        .await?;
    Ok(web::Json(
        rows.into_iter().map(site_view).collect::<Result<_, _>>()?,
    ))
}

fn geofences(conn: &mut DbConn, borrower_id: &str) -> Result<Vec<(String, Geofence)>, ApiError> {
    field::sites_of(conn, borrower_id)?
        .into_iter()
        .map(|s| {
            let datum: Datum = stored(&s.datum, "datum")?;
            let g: SiteGeometry = stored_json(&s.geometry, "geometry")?;
            Ok((s.id, fence(datum, &g)?))
        })
        .collect()
}

fn checkin_view(r: &CheckinRow) -> Result<Checkin, ApiError> {
    let reasons: Vec<CheckinReason> = stored_json(&r.reasons, "reasons")?;
    Ok(Checkin {
        id: r.id.clone(),
        task_id: r.task_id.clone(),
        borrower_id: r.borrower_id.clone(),
        officer_id: r.officer_id.clone(),
        position: Coordinates {
            latitude: r.latitude,
            longitude: r.longitude,
        },
        datum: stored(&r.datum, "datum")?,
        wgs84: Coordinates {
            latitude: r.wgs84_latitude,
            longitude: r.wgs84_longitude,
        },
        accuracy_m: r.accuracy_m,
        provider: r.provider.clone(),
        mock_location: r.mock_location,
        device_time: utc(r.device_time),
        fix_time: utc(r.fix_time),
        received_at: utc(r.received_at),
        checked_in_at: utc(r.checked_in_at),
        site_id: r.site_id.clone(),
        distance_m: r.distance_m,
        reasons,
        trusted: r.trusted,
        checked_out_at: r.checked_out_at.map(utc),
    })
}

/// Check in for a task assigned to me, with the device's fix. The server judges it against the
/// borrower's sites and my previous check-in and records the verdict with its reasons; nothing
/// is silently rejected. Sending the same check-in again (same `id`, same content) returns the
/// first answer; other content under the same `id` is a conflict.
#[utoipa::path(
    tag = "field",
    operation_id = "create_checkin",
    request_body = CreateCheckin,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 201, description = "Recorded with its verdict", body = Checkin),
        (status = 200, description = "A replay: the first answer", body = Checkin),
        (status = 403, description = "Not my task", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This id was used for another check-in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/tasks/{id}/checkins")]
async fn create_checkin(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<CreateCheckin>,
) -> Result<HttpResponse, ApiError> {
    let me = field_person(&actor)?;
    let input = body.value;
    // `sent_at` says when this attempt left the phone: a resend after a lost answer carries a
    // new one and is still the same check-in.
    let hash = crate::extract::content_hash(&CreateCheckin {
        sent_at: None,
        ..input.clone()
    })?;
    let task_id = id.into_inner();
    uuid::Uuid::parse_str(&input.id).map_err(|_| ApiError::invalid("id", "must be a UUID"))?;
    check_times(&[
        ("device_time", Some(input.device_time)),
        ("fix_time", Some(input.fix_time)),
        ("sent_at", input.sent_at),
    ])?;
    let position = point(input.position, "position")?;
    if !(input.accuracy_m.is_finite() && input.accuracy_m > 0.0) {
        return Err(ApiError::invalid("accuracy_m", "must be more than 0"));
    }
    let provider = service::text("provider", &input.provider, 40)?;
    let who = actor.clone();
    let policy = state.config.field.checkin.clone();
    let (replayed, body) = write::change(&state, &actor, move |tx| {
        let t = assigned_task(tx.conn(), &who, &task_id)?;
        let received_at: DateTime<Utc> = utc(tx.now());
        let judged = CheckinInput {
            fix: Fix {
                point: position,
                datum: input.datum,
                accuracy_m: input.accuracy_m,
                mock: input.mock_location,
                fix_time: input.fix_time,
            },
            device_time: input.device_time,
            sent_at: input.sent_at.unwrap_or(input.device_time),
            received_at,
        };
        let sites = geofences(tx.conn(), &t.borrower_id)?;
        let fences: Vec<Geofence> = sites.iter().map(|(_, g)| g.clone()).collect();
        let corrected = corrected_time(judged.device_time, judged.sent_at, received_at).naive_utc();
        let previous = field::previous_checkin(tx.conn(), &me.to_string(), corrected, &input.id)?
            .map(|p| PreviousCheckin {
                point: LatLng {
                    lat: p.wgs84_latitude,
                    lng: p.wgs84_longitude,
                },
                at: utc(p.checked_in_at),
            });
        let verdict = judge(&judged, &fences, previous, &policy);
        let reasons: Vec<CheckinReason> = verdict
            .reasons
            .iter()
            .map(|r| CheckinReason {
                flag: r.flag,
                detail: r.detail.clone(),
            })
            .collect();
        let mut row = CheckinRow {
            id: input.id.clone(),
            request_hash: hash.clone(),
            task_id: t.id.clone(),
            borrower_id: t.borrower_id.clone(),
            officer_id: me.to_string(),
            organisation_id: t.organisation_id.clone(),
            latitude: position.lat,
            longitude: position.lng,
            datum: input.datum.as_str().to_owned(),
            wgs84_latitude: verdict.point.lat,
            wgs84_longitude: verdict.point.lng,
            accuracy_m: input.accuracy_m,
            provider,
            mock_location: input.mock_location,
            device_time: input.device_time.naive_utc(),
            fix_time: input.fix_time.naive_utc(),
            sent_at: judged.sent_at.naive_utc(),
            received_at: tx.now(),
            checked_in_at: verdict.at.naive_utc(),
            site_id: verdict.site.and_then(|i| sites.get(i)).map(|(id, _)| id.clone()),
            distance_m: verdict.distance_m,
            reasons: serde_json::to_string(&reasons).map_err(ApiError::internal)?,
            trusted: verdict.trusted(),
            checked_out_at: None,
            response: String::new(),
        };
        row.response = serde_json::to_string(&checkin_view(&row)?).map_err(ApiError::internal)?;
        if !field::insert_checkin(tx, &row)? {
            let first = field::checkin(tx.conn(), &input.id)?;
            replay(&first.request_hash, &first.officer_id, &hash, &me.to_string(), "check-in")?;
            return Ok((true, first.response));
        }
        loanwatch_store::repo::inspection::mark_checked_in(tx, &row.task_id)?;
        tx.audit(
            "checkin.create",
            "task",
            &row.task_id,
            &json!({ "checkin": row.id, "trusted": row.trusted, "reasons": reasons.iter().map(|r| r.flag).collect::<Vec<_>>() }),
        )?;
        Ok((false, row.response))
    })
    .await?;
    Ok(created_or_replayed(replayed)
        .content_type("application/json")
        .body(body))
}

/// The thresholds check-ins are judged by, for phones to judge the same way offline.
#[utoipa::path(
    tag = "field",
    operation_id = "get_checkin_rules",
    responses((status = 200, description = "The thresholds", body = CheckinRules)),
    security(("bearer" = []))
)]
#[get("/checkin-rules")]
async fn get_checkin_rules(
    state: web::Data<AppState>,
    actor: Actor,
) -> Result<web::Json<CheckinRules>, ApiError> {
    actor.require_read()?;
    Ok(web::Json(CheckinRules::from(&state.config.field.checkin)))
}

/// A task's check-ins with their verdicts (whoever sees the task).
#[utoipa::path(
    tag = "field",
    operation_id = "list_task_checkins",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Check-ins", body = Vec<Checkin>),
        (status = 404, description = "No such task in scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tasks/{id}/checkins")]
async fn list_task_checkins(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Vec<Checkin>>, ApiError> {
    actor.require_read()?;
    let id = id.into_inner();
    let scope = service::scope(&actor);
    let rows = state
        .db(move |conn| {
            task::get(conn, &scope, &id).map_err(|_| ApiError::not_found("task"))?;
            Ok(field::checkins_of_task(conn, &id)?)
        })
        .await?;
    Ok(web::Json(
        rows.iter().map(checkin_view).collect::<Result<_, _>>()?,
    ))
}

/// Check out of a check-in of mine; a visit shorter than the minimum dwell is flagged.
#[utoipa::path(
    tag = "field",
    operation_id = "check_out",
    request_body = CheckOut,
    params(("id" = String, Path, description = "Check-in id")),
    responses(
        (status = 200, description = "Checked out", body = Checkin),
        (status = 404, description = "No such check-in of mine", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Checked out already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Before the check-in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/checkins/{id}/checkout")]
async fn check_out(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: JsonBody<CheckOut>,
) -> Result<web::Json<Checkin>, ApiError> {
    let me = field_person(&actor)?;
    let id = id.into_inner();
    let input = body.value;
    check_times(&[
        ("device_time", input.device_time),
        ("sent_at", input.sent_at),
    ])?;
    let policy = state.config.field.checkin.clone();
    let row = write::change(&state, &actor, move |tx| {
        let row = field::checkin(tx.conn(), &id)
            .ok()
            .filter(|r| r.officer_id == me.to_string())
            .ok_or_else(|| ApiError::not_found("check-in"))?;
        if row.checked_out_at.is_some() {
            return Err(ApiError::conflict("checked out already"));
        }
        let now = utc(tx.now());
        let device = input.device_time.unwrap_or(now);
        let at = corrected_time(device, input.sent_at.unwrap_or(device), now);
        let dwell = (at - utc(row.checked_in_at)).num_seconds();
        if dwell < 0 {
            return Err(ApiError::invalid("device_time", "is before the check-in"));
        }
        let mut reasons: Vec<CheckinReason> = stored_json(&row.reasons, "reasons")?;
        if let Some(r) = judge_dwell(dwell, &policy) {
            reasons.push(CheckinReason {
                flag: r.flag,
                detail: r.detail,
            });
        }
        let text = serde_json::to_string(&reasons).map_err(ApiError::internal)?;
        field::check_out(tx, &id, at.naive_utc(), &text, reasons.is_empty())?;
        tx.audit(
            "checkin.check_out",
            "task",
            &row.task_id,
            &json!({ "checkin": id, "dwell_s": dwell }),
        )?;
        Ok(field::checkin(tx.conn(), &id)?)
    })
    .await?;
    Ok(web::Json(checkin_view(&row)?))
}

/// Query of a trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrailQuery {
    /// The business day.
    date: NaiveDate,
}

/// An officer's check-ins on a day, in order, with their verdicts: sensitive personal data,
/// visible only to the officer, the supervisors above them and auditors.
#[utoipa::path(
    tag = "field",
    operation_id = "get_trail",
    params(("id" = String, Path, description = "Officer's user id"), TrailQuery),
    responses(
        (status = 200, description = "The day's check-ins", body = Vec<Checkin>),
        (status = 404, description = "No such officer visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users/{id}/trail")]
async fn get_trail(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    query: web::Query<TrailQuery>,
) -> Result<web::Json<Vec<Checkin>>, ApiError> {
    let officer = id.into_inner();
    let date = query.into_inner().date;
    let me = actor.user_id().map(|u| u.to_string());
    let may_see_others = actor.role.sees_others_trails();
    let scope = service::scope(&actor);
    let tz = state.config.time_zone;
    let rows = state
        .db(move |conn| {
            let hidden = || ApiError::not_found("officer");
            if me.as_deref() != Some(officer.as_str()) {
                let user = people::get_user(conn, &officer).map_err(|_| hidden())?;
                let org = people::get_org(conn, &user.organisation_id).map_err(|_| hidden())?;
                if !may_see_others || !scope.covers_path(&org.path) {
                    return Err(hidden());
                }
            }
            let day = |d: NaiveDate| {
                d.and_hms_opt(0, 0, 0)
                    .and_then(|t| t.and_local_timezone(tz).earliest())
                    .map(|t| t.naive_utc())
                    .ok_or_else(|| ApiError::new(ErrorCode::InvalidParameter, "no such local day"))
            };
            let from = day(date)?;
            let to = day(date.succ_opt().ok_or_else(|| {
                ApiError::field(ErrorCode::InvalidParameter, "#/query/date", "out of range")
            })?)?;
            Ok(field::trail(conn, &officer, from, to)?)
        })
        .await?;
    Ok(web::Json(
        rows.iter().map(checkin_view).collect::<Result<_, _>>()?,
    ))
}
