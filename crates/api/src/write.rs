//! How handlers write: one audited transaction per use case; creating requests honour
//! `Idempotency-Key`. The answer is produced inside the transaction and, under a key, stored in
//! the same transaction, so it is committed before it is sent and a retry gets it back exactly.

use actix_web::{HttpResponse, http::StatusCode};
use loanwatch_store::{WriteTx, audit, repo::idempotency};
use serde::Serialize;

use crate::{ApiError, AppState, auth::Actor, error::ErrorCode, extract::IdempotencyKey};

enum Outcome {
    Done(String),
    Replay(u16, String),
}

/// Runs a creating use case and answers `201 Created` with its JSON; honours `Idempotency-Key`:
/// same key and body → the first answer again (`Idempotent-Replayed: true`); same key with
/// another body → 422; while the first is still running → 409.
pub async fn create<T, F>(
    state: &AppState,
    actor: &Actor,
    key: IdempotencyKey,
    request_hash: String,
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&mut WriteTx<'_>) -> Result<T, ApiError> + Send + 'static,
    T: Serialize,
{
    let ctx = actor.audit();
    let subject = actor.subject();
    let outcome = state
        .db(move |conn| {
            if let Some(key) = &key.0 {
                match idempotency::claim(conn, &subject, key, &request_hash, audit::now())? {
                    idempotency::Claim::Fresh => {}
                    idempotency::Claim::Replay { status, body } => return Ok(Outcome::Replay(status, body)),
                    idempotency::Claim::Mismatch => {
                        return Err(ApiError::new(
                            ErrorCode::IdempotencyKeyReused,
                            "this Idempotency-Key was used with a different request; use a new key",
                        ));
                    }
                    idempotency::Claim::InFlight => {
                        return Err(ApiError::new(
                            ErrorCode::IdempotencyInFlight,
                            "the first request with this Idempotency-Key is still being processed; retry shortly",
                        )
                        .retry_after(1));
                    }
                }
            }
            let result = loanwatch_store::write(conn, ctx, |tx| {
                let out = work(tx)?;
                let body = serde_json::to_string(&out).map_err(ApiError::internal)?;
                if let Some(key) = &key.0 {
                    idempotency::complete(tx.conn(), &subject, key, StatusCode::CREATED.as_u16(), &body)?;
                }
                Ok::<_, ApiError>(body)
            });
            match result {
                Ok(body) => Ok(Outcome::Done(body)),
                Err(err) => {
                    if let Some(key) = &key.0
                        && let Err(release_err) = idempotency::release(conn, &subject, key)
                    {
                        tracing::warn!(error = %release_err, "could not release an idempotency key");
                    }
                    Err(err)
                }
            }
        })
        .await?;
    Ok(match outcome {
        Outcome::Done(body) => HttpResponse::Created()
            .content_type("application/json")
            .body(body),
        Outcome::Replay(status, body) => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED))
                .content_type("application/json")
                .insert_header(("Idempotent-Replayed", "true"))
                .body(body)
        }
    })
}

/// Runs a changing use case in one audited transaction and returns its result.
pub async fn change<T, F>(state: &AppState, actor: &Actor, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut WriteTx<'_>) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let ctx = actor.audit();
    state
        .db(move |conn| loanwatch_store::write(conn, ctx, work))
        .await
}
