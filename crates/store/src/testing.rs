//! Databases and object storage for tests: a fresh SQLite file or a fresh PostgreSQL database
//! per test, and a real S3-compatible server per test.
//!
//! PostgreSQL is found through `TEST_DATABASE_URL` (an admin connection, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). The S3 server is `s3s-fs`, which checks
//! SigV4 signatures: `$S3S_FS`, or `.tools/bin/s3s-fs` of the workspace (`.ci/run` installs it
//! there). When either cannot be had, its tests are skipped with a notice on the terminal,
//! except when `CI=true`: there they fail.

use std::{io::Write, sync::Once};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::DatabaseUrl;

/// The admin URL tests create databases through.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether this run must not skip anything.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says, once per process, that the PostgreSQL suite is skipped. Written straight to stderr,
/// past the test harness's capture, so a person running the tests sees it.
fn announce_skip(reason: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nNOTE: PostgreSQL tests SKIPPED: {reason}. Start PostgreSQL or set TEST_DATABASE_URL to run them (they are mandatory when CI=true).\n"
        );
    });
}

/// Says, once per process, that the S3 suite is skipped.
fn announce_s3_skip(reason: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nNOTE: S3 tests SKIPPED: {reason}. Install it with `cargo install s3s-fs@0.14.1 --features binary --locked --root .tools` or set S3S_FS (they are mandatory when CI=true).\n"
        );
    });
}

/// A real S3-compatible server (`s3s-fs`, which checks signatures) on a free loopback port,
/// with one empty bucket, stopped and wiped when dropped.
#[derive(Debug)]
pub struct TestS3 {
    child: std::process::Child,
    root: std::path::PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// Access key id.
    pub access_key: String,
    /// Secret key.
    pub secret_key: String,
}

impl TestS3 {
    /// Starts a server; `None` (after a notice) when `s3s-fs` is not installed, outside CI.
    /// Panics on CI, where the suite is mandatory.
    #[expect(clippy::panic, reason = "a missing S3 server on CI must fail the run")]
    pub fn start() -> Option<Self> {
        let binary = std::env::var_os("S3S_FS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/s3s-fs")
            });
        if !binary.is_file() {
            let why = format!("no s3s-fs at {}", binary.display());
            if is_ci() {
                panic!("CI=true and {why}");
            }
            announce_s3_skip(&why);
            return None;
        }
        match Self::spawn(&binary) {
            Ok(s) => Some(s),
            Err(e) => {
                if is_ci() {
                    panic!("CI=true and s3s-fs did not start: {e}");
                }
                announce_s3_skip(&format!("s3s-fs did not start: {e}"));
                None
            }
        }
    }

    fn spawn(binary: &std::path::Path) -> std::io::Result<Self> {
        let log = || match std::env::var_os("TEST_S3_LOG") {
            Some(_) => std::process::Stdio::inherit(),
            None => std::process::Stdio::null(),
        };
        let root = std::env::temp_dir().join(format!("lw-s3-{}", uuid::Uuid::now_v7().simple()));
        let bucket = "loanwatch-test".to_owned();
        std::fs::create_dir_all(root.join(&bucket))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let (access_key, secret_key) = (
            "test-access-key".to_owned(),
            "test-secret-key-0123456789".to_owned(),
        );
        let mut child = std::process::Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(&root)
            .stdin(std::process::Stdio::null())
            // `TEST_S3_LOG=debug` shows what the server makes of each request.
            .stdout(log())
            .stderr(log())
            .env("RUST_LOG", std::env::var("TEST_S3_LOG").unwrap_or_default())
            .spawn()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(status) = child.try_wait()? {
                return Err(std::io::Error::other(format!("it exited with {status}")));
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return Err(std::io::Error::other("it did not listen within 15 s"));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(Self {
            child,
            root,
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket,
            access_key,
            secret_key,
        })
    }

    /// The storage configuration of this server.
    pub fn config(&self) -> crate::object::S3Config {
        crate::object::S3Config {
            endpoint: Some(self.endpoint.clone()),
            public_endpoint: None,
            region: "us-east-1".to_owned(),
            bucket: self.bucket.clone(),
            path_style: true,
            access_key_id: self.access_key.clone(),
            secret_access_key: self.secret_key.clone().into(),
        }
    }

    /// The environment variables that point the server at this S3.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("OBJECT_STORE".into(), "s3".into()),
            ("S3_ENDPOINT".into(), self.endpoint.clone()),
            ("S3_REGION".into(), "us-east-1".into()),
            ("S3_BUCKET".into(), self.bucket.clone()),
            ("S3_PATH_STYLE".into(), "true".into()),
            ("S3_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("S3_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
        ]
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A PostgreSQL database made for one test and dropped afterwards.
#[derive(Debug)]
pub struct TestPostgres {
    admin_url: String,
    name: String,
    /// URL of the new database.
    pub url: String,
}

impl TestPostgres {
    /// Creates a fresh database; `None` (after a notice) when PostgreSQL is unreachable outside
    /// CI. Panics on CI, where the suite is mandatory.
    #[expect(clippy::panic, reason = "a missing PostgreSQL on CI must fail the run")]
    pub fn create() -> Option<Self> {
        let admin_url = postgres_admin_url();
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(c) => c,
            Err(e) => {
                if is_ci() {
                    panic!(
                        "CI=true and PostgreSQL is not reachable at {}: {e}",
                        crate::conn::redact(&admin_url)
                    );
                }
                announce_skip(&format!(
                    "cannot connect to {} ({e})",
                    crate::conn::redact(&admin_url)
                ));
                return None;
            }
        };
        let name = format!("lw_test_{}", uuid::Uuid::now_v7().simple());
        if let Err(e) = diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin) {
            if is_ci() {
                panic!("cannot create a test database: {e}");
            }
            announce_skip(&format!("cannot create a database ({e})"));
            return None;
        }
        let url = match admin_url.rfind('/') {
            Some(i)
                if admin_url[..i].contains("://") && i > admin_url.find("://").unwrap_or(0) + 2 =>
            {
                let (base, rest) = admin_url.split_at(i);
                let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
                format!("{base}/{name}{query}")
            }
            _ => format!("{admin_url}/{name}"),
        };
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    /// The database as a [`DatabaseUrl`].
    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::Postgres(self.url.clone())
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}
