//! Routes of the caller's own notifications.

use actix_web::{get, post, web};
use chrono::NaiveDateTime;
use loanwatch_api_types::{Page, Problem, notification::Notification};
use loanwatch_store::{WriteTx, models::NotificationRow, repo::notification};
use serde::Deserialize;

use crate::{
    ApiError, AppState,
    auth::Actor,
    extract::{cursor_time, decode_keyed_cursor, encode_cursor, page_limit},
    views::utc,
    write,
};

/// Tells each of `users` about a record (`subject_type`, `subject_id`); a rerun tells nobody
/// twice (one notification per user, kind and subject).
pub fn notify(
    tx: &mut WriteTx<'_>,
    users: &[String],
    kind: &str,
    subject_type: &str,
    subject_id: &str,
    message: &str,
) -> Result<(), ApiError> {
    let rows = notification_rows(users, kind, subject_type, subject_id, message, tx.now());
    notification::insert_new(tx, &rows)?;
    Ok(())
}

/// The notifications of one event to these users, for a caller that inserts many at once.
pub fn notification_rows(
    users: &[String],
    kind: &str,
    subject_type: &str,
    subject_id: &str,
    message: &str,
    now: NaiveDateTime,
) -> Vec<NotificationRow> {
    users
        .iter()
        .map(|u| NotificationRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: u.clone(),
            kind: kind.to_owned(),
            subject_type: subject_type.to_owned(),
            subject_id: subject_id.to_owned(),
            message: message.to_owned(),
            created_at: now,
            read_at: None,
        })
        .collect()
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_notifications).service(read_notification);
}

fn view(r: NotificationRow) -> Notification {
    Notification {
        id: r.id,
        kind: r.kind,
        subject_type: r.subject_type,
        subject_id: r.subject_id,
        message: r.message,
        created_at: utc(r.created_at),
        read_at: r.read_at.map(utc),
    }
}

/// Query of notifications.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only unread ones.
    unread: Option<bool>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
}

/// My notifications, newest first: overdue work escalated to me, incident reports to sign.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_notifications",
    params(NotificationQuery),
    responses(
        (status = 200, description = "A page of notifications", body = Page<Notification>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me/notifications")]
async fn list_notifications(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<NotificationQuery>,
) -> Result<web::Json<Page<Notification>>, ApiError> {
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden("notifications are for people"));
    };
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let after = decode_keyed_cursor(q.cursor.as_deref(), "created_at")?;
    let unread = q.unread.unwrap_or(false);
    let page = state
        .db(move |conn| {
            Ok(notification::list(
                conn,
                &me.to_string(),
                unread,
                after,
                limit,
            )?)
        })
        .await?;
    let next_cursor = page
        .has_more
        .then(|| {
            page.items
                .last()
                .map(|n| encode_cursor("created_at", &cursor_time(n.created_at), &n.id))
        })
        .flatten();
    Ok(web::Json(Page {
        items: page.items.into_iter().map(view).collect(),
        next_cursor,
    }))
}

/// Mark one of my notifications read (reading it again changes nothing).
#[utoipa::path(
    tag = "tasks",
    operation_id = "read_notification",
    params(("id" = String, Path, description = "Notification id")),
    responses(
        (status = 200, description = "Read", body = Notification),
        (status = 404, description = "Not mine or no such notification", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/notifications/{id}/read")]
async fn read_notification(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<web::Json<Notification>, ApiError> {
    let Some(me) = actor.user_id() else {
        return Err(ApiError::forbidden("notifications are for people"));
    };
    let id = id.into_inner();
    let row = write::change(&state, &actor, move |tx| {
        notification::mark_read(tx, &me.to_string(), &id)
            .map_err(|_| ApiError::not_found("notification"))
    })
    .await?;
    Ok(web::Json(view(row)))
}
