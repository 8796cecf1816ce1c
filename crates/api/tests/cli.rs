//! The `loanwatch` binary: migrate, admin create, demo, audit verify (which must catch a
//! tampered row), openapi.

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

use diesel::RunQueryDsl;
use loanwatch_store::DatabaseUrl;

fn loanwatch(
    data_dir: &Path,
    db_url: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> std::io::Result<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loanwatch"))
        .args(args)
        .env("DATA_DIR", data_dir)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or_default().as_bytes())?;
    }
    child.wait_with_output()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn cli_scenario(dir: &Path, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let out = loanwatch(dir, url, &["migrate"], None)?;
    assert!(out.status.success(), "{}", text(&out));

    let out = loanwatch(
        dir,
        url,
        &["admin", "create", "--username", "root"],
        Some("short\n"),
    )?;
    assert!(!out.status.success(), "a short password was accepted");
    let out = loanwatch(
        dir,
        url,
        &["admin", "create", "--username", "root"],
        Some("a long enough password\n"),
    )?;
    assert!(out.status.success(), "{}", text(&out));

    // The demo seeds only an empty database.
    let out = loanwatch(dir, url, &["demo", "--loans", "50"], None)?;
    assert!(
        !out.status.success(),
        "demo seeded over an existing institution: {}",
        text(&out)
    );

    let out = loanwatch(dir, url, &["audit", "verify"], None)?;
    assert!(out.status.success(), "{}", text(&out));
    // Three calendar years, three checklist templates and the shipped warning rules stored by
    // migrate, then the head office and the administrator.
    assert!(text(&out).contains("intact: 9 entries"), "{}", text(&out));

    let mut conn = DatabaseUrl::parse(url)?.connect()?;
    diesel::sql_query("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
        .execute(&mut conn)?;
    let out = loanwatch(dir, url, &["audit", "verify"], None)?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("BROKEN at entry 2"), "{}", text(&out));
    Ok(())
}

#[test]
fn sqlite_cli_migrates_creates_the_admin_and_verifies_the_audit_chain()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    cli_scenario(dir.path(), &url)
}

#[test]
fn postgres_cli_migrates_creates_the_admin_and_verifies_the_audit_chain()
-> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = loanwatch_store::testing::TestPostgres::create() else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    cli_scenario(dir.path(), &db.url)
}

#[test]
fn the_demo_is_deterministic_and_prints_its_logins() -> Result<(), Box<dyn std::error::Error>> {
    let mut contracts = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("demo.db").display());
        let out = loanwatch(
            dir.path(),
            &url,
            &["demo", "--loans", "120", "--seed", "42"],
            None,
        )?;
        assert!(out.status.success(), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("bj.officer1"));
        let mut conn = DatabaseUrl::parse(&url)?.connect()?;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            summary: String,
        }
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT contract_no || '|' || principal_fen || '|' || annual_rate || '|' || maturity_date AS summary FROM loans ORDER BY contract_no",
        )
        .load(&mut conn)?;
        assert_eq!(rows.len(), 120);
        contracts.push(rows.into_iter().map(|r| r.summary).collect::<Vec<_>>());
        let out = loanwatch(dir.path(), &url, &["audit", "verify"], None)?;
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(
        contracts[0], contracts[1],
        "the same seed gave different portfolios"
    );
    Ok(())
}

#[test]
fn calendar_import_loads_a_year_and_refuses_a_bad_one() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("cal.db").display());
    let out = loanwatch(dir.path(), &url, &["migrate"], None)?;
    assert!(
        text(&out).contains("[2024, 2025, 2026]"),
        "shipped years not loaded: {}",
        text(&out)
    );
    let good = dir.path().join("2027.json");
    std::fs::write(
        &good,
        r#"{"year": 2027, "source": "test fixture", "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}], "makeup_workdays": []}"#,
    )?;
    let out = loanwatch(
        dir.path(),
        &url,
        &["calendar", "import", good.to_str().unwrap_or_default()],
        None,
    )?;
    assert!(out.status.success(), "{}", text(&out));
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"year": 2028, "source": "x", "holidays": [{"name": "x", "from": "2028-02-05", "to": "2028-02-01"}]}"#,
    )?;
    let out = loanwatch(
        dir.path(),
        &url,
        &["calendar", "import", bad.to_str().unwrap_or_default()],
        None,
    )?;
    assert!(!out.status.success(), "an inverted range was accepted");
    let mut conn = DatabaseUrl::parse(&url)?.connect()?;
    #[derive(diesel::QueryableByName)]
    struct Y {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        year: i32,
    }
    let years: Vec<Y> =
        diesel::sql_query("SELECT year FROM calendar_years ORDER BY year").load(&mut conn)?;
    assert_eq!(
        years.iter().map(|y| y.year).collect::<Vec<_>>(),
        [2024, 2025, 2026, 2027]
    );
    Ok(())
}

#[test]
fn openapi_prints_the_committed_contract() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let out = Command::new(env!("CARGO_BIN_EXE_loanwatch"))
        .arg("openapi")
        .current_dir(dir.path())
        .output()?;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout)?,
        loanwatch_api::openapi::spec_json()
    );
    Ok(())
}
