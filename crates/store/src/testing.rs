//! Databases for tests: a fresh SQLite file or a fresh PostgreSQL database per test.
//!
//! PostgreSQL is found through `TEST_DATABASE_URL` (an admin connection, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached the PostgreSQL
//! tests are skipped with a notice on the terminal, except when `CI=true`: there they fail.

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
