//! Access tokens: HS256 JWTs with the algorithm pinned and `exp`, `iat`, `iss`, `aud` required
//! and checked. The key comes from `JWT_SECRET`, or is generated once into `$DATA_DIR/jwt.key`.

use std::{fs, io::Write, path::Path};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use loanwatch_domain::{OrgId, people::Role};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::{ApiError, config::AuthConfig};

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `user:<uuid>` or `client:<uuid>`.
    pub sub: String,
    /// Role.
    pub role: Role,
    /// Organisation.
    pub org: OrgId,
    /// Path of the organisation in the tree (`/<root>/…/<org>/`). Organisations never move, so
    /// the path is as stable as the role and saves a query on every scoped request.
    pub orgp: String,
    /// Whether an integrator may write (people's write rights follow their role).
    #[serde(default)]
    pub wr: bool,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// Keys and rules for access tokens.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    /// Lifetime in seconds.
    pub ttl_secs: i64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Loads the key from configuration or from `data_dir/jwt.key`, creating that file (mode 0600)
    /// with 32 random bytes the first time.
    pub fn load(config: &AuthConfig, data_dir: &Path) -> anyhow::Result<Self> {
        let secret: Vec<u8> = match &config.jwt_secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => load_or_create_key_file(&data_dir.join("jwt.key"))?,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl_secs: config.access_ttl_secs,
        })
    }

    /// Issues a token for `sub`.
    pub fn issue(
        &self,
        sub: String,
        role: Role,
        org: OrgId,
        org_path: String,
        wr: bool,
    ) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub,
            role,
            org,
            orgp: org_path,
            wr,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// Checks a token: signature, algorithm, expiry, issuer, audience.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let why = match e.kind() {
                    ErrorKind::ExpiredSignature => "the access token has expired",
                    ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => {
                        "the access token was issued for another service"
                    }
                    ErrorKind::InvalidAlgorithm => "the access token uses another algorithm",
                    _ => "the access token is not valid",
                };
                ApiError::unauthorized(why)
            })
    }
}

fn load_or_create_key_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(text) = fs::read_to_string(path) {
        let key = hex::decode(text.trim()).map_err(|_| {
            anyhow::anyhow!(
                "{} is not a hex key; delete it to generate a new one",
                path.display()
            )
        })?;
        anyhow::ensure!(
            key.len() >= 32,
            "{} holds fewer than 32 bytes",
            path.display()
        );
        return Ok(key);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("getrandom: {e}"))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(hex::encode(&key).as_bytes())?;
            file.sync_all()?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_key_file(path),
        Err(e) => Err(anyhow::anyhow!("cannot create {}: {e}", path.display())),
    }
}

/// Audience of object grants: an access token is never a grant, nor a grant an access token.
const GRANT_AUDIENCE: &str = "loanwatch:objects";

/// What a signed object URL allows: one method on one object, until it expires; an upload only
/// with the declared length.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectGrant {
    /// The object key.
    pub sub: String,
    /// `PUT` or `GET`.
    pub m: String,
    /// For `PUT`: the exact length in bytes.
    pub len: Option<u64>,
    /// For `PUT`: the content type.
    pub ct: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

impl JwtKeys {
    /// Signs a grant valid for `ttl_secs`.
    pub fn sign_grant(
        &self,
        key: &str,
        method: &str,
        len: Option<u64>,
        content_type: Option<&str>,
        ttl_secs: i64,
    ) -> Result<(String, chrono::DateTime<chrono::Utc>), ApiError> {
        let expires = chrono::Utc::now() + chrono::Duration::seconds(ttl_secs);
        let grant = ObjectGrant {
            sub: key.to_owned(),
            m: method.to_owned(),
            len,
            ct: content_type.map(str::to_owned),
            exp: expires.timestamp(),
            iss: self.issuer.clone(),
            aud: GRANT_AUDIENCE.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &grant, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok((token, expires))
    }

    /// Checks a grant for `method`: signature, expiry (no leeway), issuer, audience.
    pub fn verify_grant(&self, token: &str, method: &str) -> Result<ObjectGrant, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[GRANT_AUDIENCE]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 0;
        let grant = jsonwebtoken::decode::<ObjectGrant>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::forbidden("this URL has expired; ask for a new one")
                }
                _ => ApiError::forbidden("this URL is not valid"),
            })?;
        if grant.m != method {
            return Err(ApiError::forbidden(format!(
                "this URL does not allow {method}"
            )));
        }
        Ok(grant)
    }
}
