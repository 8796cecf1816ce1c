//! Talking to the server: JSON over HTTPS, the session's tokens (kept in the device store and
//! refreshed before they run out or when the server says they did), and the server's clock.

use std::{sync::Mutex, time::Duration};

use loanwatch_api_types::auth::{RefreshRequest, TokenResponse};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    SdkError,
    store::{self, Store},
};

/// Keys of the session in the store.
pub(crate) mod keys {
    pub const ACCESS: &str = "access_token";
    pub const REFRESH: &str = "refresh_token";
    pub const EXPIRES_MS: &str = "access_expires_ms";
    pub const OFFICER: &str = "officer";
    pub const CLOCK_OFFSET_MS: &str = "clock_offset_ms";
}

/// An answer: status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as `T` for a 2xx, the error it means otherwise.
    pub fn json<T: DeserializeOwned>(self) -> Result<T, SdkError> {
        if !self.ok() {
            return Err(self.error());
        }
        serde_json::from_str(&self.body).map_err(|e| SdkError::Network {
            detail: format!("the server's answer could not be read: {e}"),
        })
    }

    pub fn error(&self) -> SdkError {
        SdkError::from_answer(self.status, &self.body)
    }
}

/// The device clock, ms since 1970.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The HTTP side of the client.
pub(crate) struct Http {
    origin: String,
    agent: ureq::Agent,
    /// One refresh at a time: a refresh token works once.
    refreshing: Mutex<()>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Http {
    pub fn new(server_url: &str) -> Result<Self, SdkError> {
        let origin = server_url.trim_end_matches('/').to_owned();
        if !(origin.starts_with("http://") || origin.starts_with("https://")) {
            return Err(SdkError::invalid(
                "server_url",
                "must start with https:// (or http:// on a test network)",
            ));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(Self {
            origin,
            agent,
            refreshing: Mutex::new(()),
        })
    }

    /// An absolute URL for a path of the API (`/tasks/…`) or of the server (`/api/v1/objects/…`),
    /// or the URL itself when it is absolute (S3).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else if path.starts_with("/api/") {
            format!("{}{path}", self.origin)
        } else {
            format!("{}/api/v1{path}", self.origin)
        }
    }

    /// Sends one request; `body` is JSON when given.
    pub fn send(
        &self,
        store: &Store,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, SdkError> {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Accept", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let sent = now_ms();
        let res = match body {
            Some(b) => {
                let bytes = serde_json::to_vec(b)?;
                let req = req
                    .header("Content-Type", "application/json")
                    .body(bytes)
                    .map_err(SdkError::network)?;
                self.agent.run(req)
            }
            None => self.agent.run(req.body(()).map_err(SdkError::network)?),
        };
        let mut res = res.map_err(SdkError::network)?;
        self.note_clock(store, &res, sent);
        let status = res.status().as_u16();
        let body = res
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(SdkError::network)?;
        Ok(Answer { status, body })
    }

    /// Sends `len` bytes of a file from `offset` (an evidence upload or one part of it) with the
    /// given headers, streamed from the disk.
    pub fn put_file(
        &self,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        file: &str,
        offset: u64,
        len: u64,
    ) -> Result<Answer, SdkError> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(file)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut req = ureq::http::Request::builder()
            .method("PUT")
            .uri(self.url(url))
            .header("Content-Length", len.to_string());
        for (k, v) in headers {
            if !k.eq_ignore_ascii_case("content-length") {
                req = req.header(k, v);
            }
        }
        let body = ureq::SendBody::from_owned_reader(f.take(len));
        let mut res = self
            .agent
            .run(req.body(body).map_err(SdkError::network)?)
            .map_err(SdkError::network)?;
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        Ok(Answer { status, body })
    }

    /// Measures the device clock against the server's `Date` header (whole seconds; the middle
    /// of the round trip is taken as the moment the server stamped it).
    fn note_clock(&self, store: &Store, res: &ureq::http::Response<ureq::Body>, sent: i64) {
        let Some(date) = res
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        else {
            return;
        };
        let local = (sent + now_ms()) / 2;
        // The header has whole seconds: half a second is the best guess within it.
        let offset = date.timestamp_millis() + 500 - local;
        let known: Option<i64> = store
            .get(keys::CLOCK_OFFSET_MS)
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok());
        // Within the header's resolution nothing changed: spare the phone a disk write.
        if known.is_some_and(|k| (k - offset).abs() < 1000) {
            return;
        }
        // The offset is a hint for the watermark and the local verdict; failing to keep it
        // must not fail the request that measured it.
        let _ = store
            .write(|tx| store::put(tx, keys::CLOCK_OFFSET_MS, Some(offset.to_string().as_str())));
    }

    /// Sends a request as the signed-in officer, refreshing the session when the access token
    /// runs out.
    pub fn authed(
        &self,
        store: &Store,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, SdkError> {
        let token = self.access_token(store, false)?;
        let answer = self.send(store, method, path, Some(&token), body)?;
        if answer.status != 401 {
            return Ok(answer);
        }
        let token = self.access_token(store, true)?;
        self.send(store, method, path, Some(&token), body)
    }

    /// `authed` with a JSON body of any serializable type, decoding the answer.
    pub fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        store: &Store,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, SdkError> {
        let body = body.map(serde_json::to_value).transpose()?;
        self.authed(store, method, path, body.as_ref())?.json()
    }

    /// A usable access token: the stored one, or a fresh one from the refresh token.
    fn access_token(&self, store: &Store, force: bool) -> Result<String, SdkError> {
        let valid = |store: &Store| -> Result<Option<String>, SdkError> {
            let expires: i64 = store
                .get(keys::EXPIRES_MS)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            Ok(store
                .get(keys::ACCESS)?
                .filter(|_| expires - 30_000 > now_ms()))
        };
        if !force && let Some(t) = valid(store)? {
            return Ok(t);
        }
        let seen = store.get(keys::ACCESS)?;
        let _one = self
            .refreshing
            .lock()
            .map_err(|_| SdkError::storage("an earlier refresh panicked"))?;
        // Another thread may have refreshed while this one waited.
        if let Some(t) = valid(store)?
            && Some(&t) != seen.as_ref()
        {
            return Ok(t);
        }
        self.exchange(store)
    }

    /// Exchanges the refresh token for fresh tokens now, one exchange at a time.
    pub fn refresh(&self, store: &Store) -> Result<(), SdkError> {
        let _one = self
            .refreshing
            .lock()
            .map_err(|_| SdkError::storage("an earlier refresh panicked"))?;
        self.exchange(store).map(|_| ())
    }

    /// The exchange itself (the caller holds `refreshing`): a refused refresh token ends the
    /// session on the device too.
    fn exchange(&self, store: &Store) -> Result<String, SdkError> {
        let refresh = store.get(keys::REFRESH)?.ok_or(SdkError::Auth {
            detail: "not signed in".into(),
        })?;
        let answer = self.send(
            store,
            "POST",
            "/auth/refresh",
            None,
            Some(&serde_json::to_value(RefreshRequest {
                refresh_token: refresh,
            })?),
        )?;
        if answer.status == 401 || answer.status == 400 {
            store.write(|tx| {
                store::put(tx, keys::ACCESS, None)?;
                store::put(tx, keys::REFRESH, None)
            })?;
            return Err(SdkError::Auth {
                detail: "the session ended; sign in again".into(),
            });
        }
        let tokens: TokenResponse = answer.json()?;
        save_tokens(store, &tokens)?;
        Ok(tokens.access_token)
    }
}

/// Keeps the session's tokens.
pub(crate) fn save_tokens(store: &Store, t: &TokenResponse) -> Result<(), SdkError> {
    let expires = now_ms() + t.expires_in.saturating_mul(1000);
    store.write(|tx| {
        store::put(tx, keys::ACCESS, Some(&t.access_token))?;
        store::put(tx, keys::EXPIRES_MS, Some(&expires.to_string()))?;
        if let Some(r) = &t.refresh_token {
            store::put(tx, keys::REFRESH, Some(r))?;
        }
        Ok(())
    })
}
