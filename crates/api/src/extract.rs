//! Request extraction with problem answers: JSON bodies (size limit, content type, a JSON
//! Pointer to the first value that does not fit the schema), `Idempotency-Key`, and page
//! parameters with opaque cursors.

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use base64::Engine;
use futures_util_local::LocalBoxFuture;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState, error::ErrorCode};

mod futures_util_local {
    /// A boxed, non-`Send` future, as actix extractors return.
    pub type LocalBoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;
}

/// A JSON request body, parsed strictly, with the hash of the request for idempotency. Bodies are
/// limited to `MAX_BODY_BYTES`, or `MAX_BATCH_BODY_BYTES` when `BATCH` (bulk ingestion).
#[derive(Debug)]
pub struct JsonBody<T, const BATCH: bool = false> {
    /// The parsed body.
    pub value: T,
    /// SHA-256 over method, path and body bytes.
    pub request_hash: String,
}

impl<T: DeserializeOwned + 'static, const BATCH: bool> FromRequest for JsonBody<T, BATCH> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| {
                if BATCH {
                    s.config.max_batch_body_bytes
                } else {
                    s.config.max_body_bytes
                }
            })
            .unwrap_or(1 << 20);
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let prefix = format!("{}\n{}\n", req.method(), req.path());
        let payload = actix_web::body::BodyStream::new(payload.take());
        Box::pin(async move {
            match content_type.as_deref() {
                Some("application/json") => {}
                Some(ct) if ct.starts_with("application/") && ct.ends_with("+json") => {}
                _ => {
                    return Err(ApiError::new(
                        ErrorCode::UnsupportedMediaType,
                        "send the body as Content-Type: application/json",
                    ));
                }
            }
            let too_large = || {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the body exceeds the limit of {limit} bytes"),
                )
            };
            if declared_len.is_some_and(|n| n > limit) {
                return Err(too_large());
            }
            let bytes = actix_web::body::to_bytes_limited(payload, limit)
                .await
                .map_err(|_| too_large())?
                .map_err(|e| {
                    ApiError::new(
                        ErrorCode::InvalidBody,
                        format!("the body could not be read: {e}"),
                    )
                })?;
            let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
            let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let pointer = json_pointer(e.path());
                ApiError::field(ErrorCode::InvalidBody, pointer, e.inner().to_string())
            })?;
            deserializer.end().map_err(|e| {
                ApiError::field(ErrorCode::InvalidBody, "", format!("trailing data: {e}"))
            })?;
            let mut h = Sha256::new();
            h.update(prefix.as_bytes());
            h.update(&bytes);
            Ok(Self {
                value,
                request_hash: hex::encode(h.finalize()),
            })
        })
    }
}

/// The hash that tells a resend from other content under the same id, over the parsed value
/// (so transport fields left out of it, such as a device's `sent_at`, do not count).
pub fn content_hash<T: serde::Serialize>(t: &T) -> Result<String, ApiError> {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::to_vec(t).map_err(ApiError::internal)?;
    Ok(hex::encode(Sha256::digest(&canonical)))
}

/// serde_path_to_error's path as a JSON Pointer (`/items/0/amount_fen`).
pub fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// The `Idempotency-Key` header of a creating request, if sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.headers().get("idempotency-key") {
            None => Ok(Self(None)),
            Some(value) => match value.to_str() {
                Ok(key)
                    if (1..=255).contains(&key.len())
                        && key.bytes().all(|b| b.is_ascii_graphic()) =>
                {
                    Ok(Self(Some(key.to_owned())))
                }
                _ => Err(ApiError::field(
                    ErrorCode::InvalidParameter,
                    "#/header/Idempotency-Key",
                    "must be 1–255 visible ASCII characters",
                )),
            },
        };
        std::future::ready(result)
    }
}

/// Rows per page when none is asked for, and the most a page may hold.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most rows a page may hold.
pub const MAX_LIMIT: i64 = 500;

/// Checks a `limit` query parameter.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field(
            ErrorCode::InvalidParameter,
            "#/query/limit",
            format!("must be from 1 to {MAX_LIMIT}"),
        )),
    }
}

#[derive(Serialize, Deserialize)]
struct CursorDoc {
    s: String,
    v: String,
    id: String,
}

/// An opaque cursor after the row with sort value `value` and `id`, for ordering `sort`.
pub fn encode_cursor(sort: &str, value: &str, id: &str) -> String {
    let doc = CursorDoc {
        s: sort.to_owned(),
        v: value.to_owned(),
        id: id.to_owned(),
    };
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor made by [`encode_cursor`] for the same ordering.
pub fn decode_cursor(
    cursor: Option<&str>,
    sort: &str,
) -> Result<Option<(String, String)>, ApiError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let bad = || {
        ApiError::field(
            ErrorCode::InvalidParameter,
            "#/query/cursor",
            "not a cursor of this list and order",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let doc: CursorDoc = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if doc.s != sort {
        return Err(bad());
    }
    Ok(Some((doc.v, doc.id)))
}

/// Decodes a cursor of a list ordered by a typed value (a date, a timestamp) then id.
pub fn decode_keyed_cursor<T: std::str::FromStr>(
    cursor: Option<&str>,
    sort: &str,
) -> Result<Option<(T, String)>, ApiError> {
    decode_cursor(cursor, sort)?
        .map(|(value, id)| {
            value.parse().map(|v| (v, id)).map_err(|_| {
                ApiError::field(
                    ErrorCode::InvalidParameter,
                    "#/query/cursor",
                    "not a cursor of this list and order",
                )
            })
        })
        .transpose()
}

/// A timestamp as [`decode_keyed_cursor`] reads it back.
pub fn cursor_time(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

/// Checks an optional query parameter against a text enum (`T`), keeping its text.
pub fn query_enum<T: std::str::FromStr<Err = String>>(
    value: Option<&str>,
    name: &str,
) -> Result<Option<String>, ApiError> {
    value
        .map(|v| {
            v.parse::<T>().map(|_| v.to_owned()).map_err(|e| {
                ApiError::field(ErrorCode::InvalidParameter, format!("#/query/{name}"), e)
            })
        })
        .transpose()
}

/// Parses `sort` (`key` or `-key` for descending) against an allow-list.
pub fn parse_sort<S: Copy>(
    sort: Option<&str>,
    allowed: &[(&str, S)],
) -> Result<(S, bool, String), ApiError> {
    let text = sort.unwrap_or(allowed[0].0);
    let (key, descending) = match text.strip_prefix('-') {
        Some(key) => (key, true),
        None => (text, false),
    };
    allowed
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, s)| (*s, descending, text.to_owned()))
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            ApiError::field(
                ErrorCode::InvalidParameter,
                "#/query/sort",
                format!(
                    "must be one of {} (prefix - for descending)",
                    names.join(", ")
                ),
            )
        })
}

/// Parses an id from a path segment; a malformed id names nothing, so it is a 404.
pub fn path_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_only_for_its_own_order() -> Result<(), ApiError> {
        let c = encode_cursor("maturity_date", "2027-01-01", "abc");
        assert_eq!(
            decode_cursor(Some(&c), "maturity_date")?,
            Some(("2027-01-01".to_owned(), "abc".to_owned()))
        );
        assert!(decode_cursor(Some(&c), "-maturity_date").is_err());
        assert!(decode_cursor(Some("!!"), "id").is_err());
        Ok(())
    }

    #[test]
    fn sort_keys_come_from_the_allow_list() -> Result<(), ApiError> {
        let allowed = [("id", 0), ("name", 1)];
        assert_eq!(parse_sort(None, &allowed)?.0, 0);
        assert_eq!(parse_sort(Some("-name"), &allowed)?.0, 1);
        assert!(parse_sort(Some("-name"), &allowed)?.1);
        assert!(parse_sort(Some("password_hash"), &allowed).is_err());
        Ok(())
    }
}
