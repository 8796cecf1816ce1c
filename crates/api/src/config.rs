//! Configuration from the environment (and `.env`), parsed and checked once at start.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATA_DIR` | `./data` | where the embedded defaults keep their files |
//! | `DATABASE_URL` | `sqlite://$DATA_DIR/loanwatch.db` | `postgres://…` or `sqlite://path` |
//! | `DATABASE_POOL_SIZE` | 16 (PostgreSQL), 4 (SQLite) | connections in the pool |
//! | `BIND` | `127.0.0.1:8080` | address and port to listen on |
//! | `JWT_SECRET` | generated into `$DATA_DIR/jwt.key` | HS256 key, at least 32 bytes; set it when several instances serve |
//! | `JWT_ISSUER` | `loanwatch` | `iss` claim |
//! | `JWT_AUDIENCE` | `loanwatch-api` | `aud` claim |
//! | `ACCESS_TOKEN_TTL_SECS` | 900 | access token lifetime |
//! | `REFRESH_TOKEN_TTL_DAYS` | 30 | refresh token lifetime |
//! | `MAX_BODY_BYTES` | 1048576 | request body limit |
//! | `MAX_BATCH_BODY_BYTES` | 16777216 | body limit of bulk ingestion (10,000 transfers a batch) |
//! | `LOGIN_MAX_FAILURES_PER_ACCOUNT` | 5 | failures in the window before an account is locked |
//! | `LOGIN_MAX_FAILURES_PER_ADDRESS` | 20 | failures in the window before a client address is locked |
//! | `LOGIN_WINDOW_SECS` | 900 | failure window, and lock duration |
//! | `INSTITUTION_TZ` | `Asia/Shanghai` | time zone of business dates |
//! | `LOG_FORMAT` | `pretty` | `pretty` or `json` |
//! | `TRANSFER_GROUP_ROWS` | 10000 | most posted transfers stored in one transaction from requests queued together (group commit); 1 stores each request alone |
//! | `JOBS_ENABLED` | `true` | run the daily jobs (notices) in this process |
//! | `JOBS_DAILY_AT_HOUR` | 6 | local hour (institution time zone) from which a day's jobs run |
//! | `OBJECT_STORE` | `local` | `local` (files under `$DATA_DIR/objects`) or `s3` |
//! | `S3_BUCKET`, `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY` | unset | required with `OBJECT_STORE=s3` |
//! | `S3_ENDPOINT` | unset (AWS) | endpoint of an S3-compatible service, e.g. `http://127.0.0.1:9000` |
//! | `S3_PUBLIC_ENDPOINT` | `S3_ENDPOINT` | the endpoint phones reach, when the server reaches S3 at another address |
//! | `S3_REGION` | `us-east-1` | region |
//! | `S3_PATH_STYLE` | `true` with `S3_ENDPOINT`, else `false` | path-style addressing (MinIO and most self-hosted services) |
//! | `EVIDENCE_MAX_PHOTO_BYTES`, `…_VIDEO_BYTES`, `…_DOCUMENT_BYTES` | 25 MiB, 2 GiB, 50 MiB | per-kind size limits |
//! | `EVIDENCE_SIMILAR_MAX_DISTANCE` | 10 | perceptual-hash distance (of 64 bits) up to which two photos are the same picture |
//! | `EVIDENCE_PART_BYTES` | 8388608 | part size of multipart video uploads on S3 (at least 5 MiB) |
//! | `EVIDENCE_UPLOAD_TTL_SECS`, `EVIDENCE_DOWNLOAD_TTL_SECS` | 3600, 300 | lifetime of upload and download URLs |
//! | `CHECKIN_MAX_ACCURACY_M` | 100 | largest accepted accuracy radius of a fix |
//! | `CHECKIN_CLOCK_TOLERANCE_SECS` | 300 | largest accepted device clock error |
//! | `CHECKIN_MAX_FIX_AGE_SECS` | 120 | largest accepted age of a fix |
//! | `CHECKIN_MAX_SPEED_KMH` | 150 | fastest believable travel between check-ins |
//! | `CHECKIN_MIN_DWELL_SECS` | 600 | shortest believable visit |

use std::{net::SocketAddr, path::PathBuf};

use chrono_tz::Tz;
use loanwatch_domain::field::{
    checkin::CheckinPolicy,
    evidence::{EvidenceLimits, SIMILAR_MAX_DISTANCE},
};
use loanwatch_store::{DatabaseUrl, object::S3Config};
use secrecy::SecretString;

/// Everything the server needs, typed.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listening address.
    pub bind: SocketAddr,
    /// Data directory of the embedded defaults.
    pub data_dir: PathBuf,
    /// Database.
    pub database: DatabaseConfig,
    /// Tokens and sign-in.
    pub auth: AuthConfig,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// Body limit of bulk ingestion.
    pub max_batch_body_bytes: usize,
    /// The institution's time zone, for business dates.
    pub time_zone: Tz,
    /// Emit JSON logs.
    pub json_logs: bool,
    /// Most posted transfers stored in one transaction from requests queued together.
    pub transfer_group_rows: usize,
    /// Run the daily jobs in this process.
    pub jobs_enabled: bool,
    /// Local hour from which a day's jobs run.
    pub jobs_daily_at_hour: u32,
    /// Where evidence objects live.
    pub objects: ObjectsConfig,
    /// Field-evidence thresholds.
    pub field: FieldConfig,
}

/// Where evidence objects live.
#[derive(Debug, Clone)]
pub enum ObjectsConfig {
    /// Files under `$DATA_DIR/objects`.
    Local,
    /// An S3 bucket.
    S3(S3Config),
}

/// What field evidence is held to.
#[derive(Debug, Clone)]
pub struct FieldConfig {
    /// Per-kind size limits.
    pub limits: EvidenceLimits,
    /// Perceptual-hash distance up to which two photos are the same picture.
    pub similar_max_distance: u32,
    /// Part size of multipart uploads.
    pub part_bytes: u64,
    /// Lifetime of upload URLs, seconds.
    pub upload_ttl_secs: i64,
    /// Lifetime of download URLs, seconds.
    pub download_ttl_secs: i64,
    /// Check-in verdict thresholds.
    pub checkin: CheckinPolicy,
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Which database.
    pub url: DatabaseUrl,
    /// Pool size.
    pub pool_size: u32,
}

/// Token and sign-in settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// HS256 key; `None` → generated and kept in `$DATA_DIR/jwt.key`.
    pub jwt_secret: Option<SecretString>,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Access token lifetime in seconds.
    pub access_ttl_secs: i64,
    /// Refresh token lifetime in days.
    pub refresh_ttl_days: i64,
    /// Failures per account before a lock.
    pub max_failures_per_account: i32,
    /// Failures per client address before a lock.
    pub max_failures_per_address: i32,
    /// Failure window and lock duration in seconds.
    pub window_secs: i64,
}

/// A configuration value a person has to fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads the process environment (after `.env`, if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `get`, so tests can build many configurations in one process.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        let url_text = get("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("loanwatch.db").display()));
        let url = DatabaseUrl::parse(&url_text).map_err(|e| ConfigError(e.to_string()))?;
        let default_pool = match url {
            DatabaseUrl::Postgres(_) => 16,
            DatabaseUrl::Sqlite(_) => 4,
        };
        let bind_text = get("BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let bind = bind_text.parse().map_err(|_| {
            ConfigError(format!(
                "BIND {bind_text:?} is not an address such as 127.0.0.1:8080 or 0.0.0.0:8080"
            ))
        })?;
        let jwt_secret = get("JWT_SECRET").filter(|s| !s.is_empty());
        if let Some(secret) = &jwt_secret
            && secret.len() < 32
        {
            return Err(ConfigError(
                "JWT_SECRET must be at least 32 bytes (e.g. `openssl rand -hex 32`)".into(),
            ));
        }
        let tz_text = get("INSTITUTION_TZ").unwrap_or_else(|| "Asia/Shanghai".to_owned());
        let time_zone = tz_text.parse::<Tz>().map_err(|_| {
            ConfigError(format!(
                "INSTITUTION_TZ {tz_text:?} is not an IANA time zone such as Asia/Shanghai"
            ))
        })?;
        let json_logs = match get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => false,
            Some("json") => true,
            Some(other) => {
                return Err(ConfigError(format!(
                    "LOG_FORMAT {other:?} is neither pretty nor json"
                )));
            }
        };
        let jobs_enabled = match get("JOBS_ENABLED").as_deref() {
            None | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(other) => {
                return Err(ConfigError(format!(
                    "JOBS_ENABLED {other:?} is neither true nor false"
                )));
            }
        };
        let objects = match get("OBJECT_STORE").as_deref() {
            None | Some("local") => ObjectsConfig::Local,
            Some("s3") => {
                let required = |name: &str| {
                    get(name)
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| ConfigError(format!("OBJECT_STORE=s3 needs {name}")))
                };
                let endpoint = get("S3_ENDPOINT").filter(|v| !v.is_empty());
                let path_style = match get("S3_PATH_STYLE").as_deref() {
                    None => endpoint.is_some(),
                    Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(other) => {
                        return Err(ConfigError(format!(
                            "S3_PATH_STYLE {other:?} is neither true nor false"
                        )));
                    }
                };
                ObjectsConfig::S3(S3Config {
                    endpoint,
                    public_endpoint: get("S3_PUBLIC_ENDPOINT").filter(|v| !v.is_empty()),
                    region: get("S3_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
                    bucket: required("S3_BUCKET")?,
                    path_style,
                    access_key_id: required("S3_ACCESS_KEY_ID")?,
                    secret_access_key: SecretString::from(required("S3_SECRET_ACCESS_KEY")?),
                })
            }
            Some(other) => {
                return Err(ConfigError(format!(
                    "OBJECT_STORE {other:?} is neither local nor s3"
                )));
            }
        };
        let limits = EvidenceLimits::default();
        let checkin = CheckinPolicy::default();
        let field = FieldConfig {
            limits: EvidenceLimits {
                photo_bytes: number(
                    &get,
                    "EVIDENCE_MAX_PHOTO_BYTES",
                    limits.photo_bytes,
                    1024,
                    // Photos are read whole to be decoded.
                    256 << 20,
                )?,
                video_bytes: number(
                    &get,
                    "EVIDENCE_MAX_VIDEO_BYTES",
                    limits.video_bytes,
                    1024,
                    50 << 30,
                )?,
                document_bytes: number(
                    &get,
                    "EVIDENCE_MAX_DOCUMENT_BYTES",
                    limits.document_bytes,
                    1024,
                    1 << 30,
                )?,
            },
            similar_max_distance: number(
                &get,
                "EVIDENCE_SIMILAR_MAX_DISTANCE",
                SIMILAR_MAX_DISTANCE,
                0,
                32,
            )?,
            part_bytes: number(&get, "EVIDENCE_PART_BYTES", 8 << 20, 5 << 20, 5 << 30)?,
            upload_ttl_secs: number(&get, "EVIDENCE_UPLOAD_TTL_SECS", 3600, 1, 7 * 86_400)?,
            download_ttl_secs: number(&get, "EVIDENCE_DOWNLOAD_TTL_SECS", 300, 1, 7 * 86_400)?,
            checkin: CheckinPolicy {
                max_accuracy_m: number(
                    &get,
                    "CHECKIN_MAX_ACCURACY_M",
                    checkin.max_accuracy_m,
                    1.0,
                    100_000.0,
                )?,
                clock_tolerance_s: number(
                    &get,
                    "CHECKIN_CLOCK_TOLERANCE_SECS",
                    checkin.clock_tolerance_s,
                    1,
                    86_400,
                )?,
                max_fix_age_s: number(
                    &get,
                    "CHECKIN_MAX_FIX_AGE_SECS",
                    checkin.max_fix_age_s,
                    1,
                    86_400,
                )?,
                max_speed_kmh: number(
                    &get,
                    "CHECKIN_MAX_SPEED_KMH",
                    checkin.max_speed_kmh,
                    1.0,
                    2_000.0,
                )?,
                min_dwell_s: number(
                    &get,
                    "CHECKIN_MIN_DWELL_SECS",
                    checkin.min_dwell_s,
                    0,
                    86_400,
                )?,
            },
        };
        Ok(Self {
            objects,
            field,
            jobs_enabled,
            transfer_group_rows: number(&get, "TRANSFER_GROUP_ROWS", 10_000, 1, 10_000)?,
            jobs_daily_at_hour: number(&get, "JOBS_DAILY_AT_HOUR", 6, 0, 23)?,
            bind,
            database: DatabaseConfig {
                url,
                pool_size: number(&get, "DATABASE_POOL_SIZE", default_pool, 1, 512)?,
            },
            auth: AuthConfig {
                jwt_secret: jwt_secret.map(SecretString::from),
                issuer: get("JWT_ISSUER").unwrap_or_else(|| "loanwatch".to_owned()),
                audience: get("JWT_AUDIENCE").unwrap_or_else(|| "loanwatch-api".to_owned()),
                access_ttl_secs: number(&get, "ACCESS_TOKEN_TTL_SECS", 900, 30, 86_400)?,
                refresh_ttl_days: number(&get, "REFRESH_TOKEN_TTL_DAYS", 30, 1, 365)?,
                max_failures_per_account: number(
                    &get,
                    "LOGIN_MAX_FAILURES_PER_ACCOUNT",
                    5,
                    1,
                    1000,
                )?,
                max_failures_per_address: number(
                    &get,
                    "LOGIN_MAX_FAILURES_PER_ADDRESS",
                    20,
                    1,
                    100_000,
                )?,
                window_secs: number(&get, "LOGIN_WINDOW_SECS", 900, 1, 86_400)?,
            },
            max_body_bytes: number(&get, "MAX_BODY_BYTES", 1_048_576, 1024, 1 << 30)?,
            max_batch_body_bytes: number(&get, "MAX_BATCH_BODY_BYTES", 16 << 20, 1024, 1 << 30)?,
            time_zone,
            json_logs,
            data_dir,
        })
    }
}

fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(text) = get(name) else {
        return Ok(default);
    };
    match text.trim().parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(ConfigError(format!(
            "{name} {text:?} must be a whole number from {min} to {max}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_sqlite_under_data_on_localhost() -> Result<(), ConfigError> {
        let c = config(&[])?;
        assert_eq!(
            c.database.url,
            DatabaseUrl::Sqlite(PathBuf::from("./data/loanwatch.db"))
        );
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        Ok(())
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        for (k, v) in [
            ("DATABASE_URL", "mysql://x"),
            ("BIND", "localhost"),
            ("JWT_SECRET", "short"),
            ("INSTITUTION_TZ", "Mars/Base"),
            ("ACCESS_TOKEN_TTL_SECS", "-5"),
            ("OBJECT_STORE", "ftp"),
            ("EVIDENCE_PART_BYTES", "1024"),
            ("EVIDENCE_SIMILAR_MAX_DISTANCE", "65"),
            ("CHECKIN_MAX_SPEED_KMH", "fast"),
        ] {
            let err = config(&[(k, v)])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(k.split('_').next().unwrap_or(k)), "{k}: {err}");
        }
    }

    #[test]
    fn objects_go_to_local_disk_unless_s3_is_configured() -> Result<(), ConfigError> {
        assert!(matches!(config(&[])?.objects, ObjectsConfig::Local));
        let missing = config(&[("OBJECT_STORE", "s3"), ("S3_BUCKET", "b")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(missing.contains("S3_ACCESS_KEY_ID"), "{missing}");
        let c = config(&[
            ("OBJECT_STORE", "s3"),
            ("S3_BUCKET", "evidence"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("S3_ACCESS_KEY_ID", "k"),
            ("S3_SECRET_ACCESS_KEY", "s"),
        ])?;
        let ObjectsConfig::S3(s3) = c.objects else {
            panic!("not S3");
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.region.as_str(), s3.path_style),
            ("evidence", "us-east-1", true)
        );
        let aws = config(&[
            ("OBJECT_STORE", "s3"),
            ("S3_BUCKET", "evidence"),
            ("S3_REGION", "cn-north-1"),
            ("S3_ACCESS_KEY_ID", "k"),
            ("S3_SECRET_ACCESS_KEY", "s"),
        ])?;
        assert!(
            matches!(aws.objects, ObjectsConfig::S3(ref c) if !c.path_style && c.endpoint.is_none())
        );
        Ok(())
    }

    #[test]
    fn field_thresholds_are_configuration() -> Result<(), ConfigError> {
        let c = config(&[
            ("EVIDENCE_MAX_PHOTO_BYTES", "1048576"),
            ("EVIDENCE_SIMILAR_MAX_DISTANCE", "6"),
            ("CHECKIN_MAX_ACCURACY_M", "50.5"),
            ("CHECKIN_MIN_DWELL_SECS", "300"),
        ])?;
        assert_eq!(c.field.limits.photo_bytes, 1 << 20);
        assert_eq!(c.field.limits.video_bytes, 2 << 30);
        assert_eq!(c.field.similar_max_distance, 6);
        assert_eq!(c.field.checkin.max_accuracy_m, 50.5);
        assert_eq!(c.field.checkin.min_dwell_s, 300);
        assert_eq!(c.field.part_bytes, 8 << 20);
        Ok(())
    }

    #[test]
    fn the_example_environment_is_valid() -> Result<(), ConfigError> {
        let vars: HashMap<String, String> = include_str!("../../../.env.example")
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        assert!(vars.contains_key("EVIDENCE_PART_BYTES"));
        let c = Config::from_lookup(|k| vars.get(k).cloned())?;
        assert_eq!(c.field.limits, EvidenceLimits::default());
        assert_eq!(c.field.checkin, CheckinPolicy::default());
        Ok(())
    }
}
