//! The audit chain and idempotency claims, on both backends.

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]

use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use loanwatch_store::{
    AuditContext, DatabaseUrl, DbConn, StoreError, audit, migrate,
    repo::idempotency::{self, Claim},
    schema::audit_log,
    testing::TestPostgres,
};
use serde_json::json;

fn ctx() -> AuditContext {
    AuditContext {
        actor: "test:chain".to_owned(),
        request_id: "req-1".to_owned(),
    }
}

fn chain_scenario(conn: &mut DbConn) -> Result<(), StoreError> {
    migrate::run_pending(conn)?;
    for i in 0..5 {
        audit::write(conn, ctx(), |tx| {
            tx.audit("test.write", "thing", &i.to_string(), &json!({ "i": i }))?;
            tx.audit("test.write", "thing", &format!("{i}b"), &json!({}))?;
            Ok::<_, StoreError>(())
        })?;
    }
    // A failed transaction leaves no trace in the chain.
    let failed: Result<(), StoreError> = audit::write(conn, ctx(), |tx| {
        tx.audit("test.write", "thing", "lost", &json!({}))?;
        Err(StoreError::NotFound)
    });
    assert!(failed.is_err());
    let report = audit::verify(conn)?;
    assert_eq!(report.entries, 10);
    assert_eq!(report.first_broken, None);

    diesel::update(audit_log::table.filter(audit_log::seq.eq(4)))
        .set(audit_log::detail.eq("{\"i\":99}"))
        .execute(conn)?;
    let report = audit::verify(conn)?;
    assert_eq!(report.first_broken.map(|(seq, _)| seq), Some(4));
    Ok(())
}

/// The statements that lock and move the audit head, the insert of a write's one audit entry,
/// and on PostgreSQL the one that makes a read transaction a read-only snapshot, are prepared
/// once per connection and kept in diesel's statement cache, not prepared again in every
/// transaction.
fn head_statements_scenario(conn: &mut DbConn) -> Result<(), StoreError> {
    use diesel::connection::{Connection, InstrumentationEvent};
    migrate::run_pending(conn)?;
    let cached = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = cached.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::CacheQuery { sql, .. } = event
            && (sql.starts_with("UPDATE audit_head")
                || sql.starts_with("SET TRANSACTION")
                || sql.starts_with("INSERT INTO"))
            && let Ok(mut seen) = seen.lock()
        {
            seen.push(sql.to_owned());
        }
    });
    for i in 0..3 {
        audit::write(conn, ctx(), |tx| {
            tx.audit("test.write", "thing", &i.to_string(), &json!({}))?;
            Ok::<_, StoreError>(())
        })?;
    }
    // Two entries: the kept statement twice on SQLite; on PostgreSQL one multi-row insert,
    // which diesel does not keep.
    audit::write(conn, ctx(), |tx| {
        tx.audit("test.write", "thing", "3", &json!({}))?;
        tx.audit("test.write", "thing", "4", &json!({}))?;
        Ok::<_, StoreError>(())
    })?;
    for _ in 0..3 {
        audit::read(conn, audit::verify)?;
    }
    let cached = cached.lock().map(|c| c.clone()).unwrap_or_default();
    let read_only = usize::from(matches!(conn, DbConn::Postgres(_)));
    assert_eq!(cached.len(), 3 + read_only, "{cached:?}");
    assert!(
        cached.iter().any(|sql| sql.contains("RETURNING")),
        "{cached:?}"
    );
    assert_eq!(
        cached
            .iter()
            .filter(|sql| sql.starts_with("INSERT INTO") && sql.contains("audit_log"))
            .count(),
        1,
        "{cached:?}"
    );
    assert_eq!(audit::verify(conn)?.entries, 5);
    Ok(())
}

fn idempotency_scenario(conn: &mut DbConn) -> Result<(), StoreError> {
    migrate::run_pending(conn)?;
    let now = audit::now();
    assert_eq!(
        idempotency::claim(conn, "user:a", "k1", "h1", now)?,
        Claim::Fresh
    );
    assert_eq!(
        idempotency::claim(conn, "user:a", "k1", "h1", now)?,
        Claim::InFlight
    );
    assert_eq!(
        idempotency::claim(conn, "user:a", "k1", "h2", now)?,
        Claim::Mismatch
    );
    // Another caller's key space is separate.
    assert_eq!(
        idempotency::claim(conn, "user:b", "k1", "h2", now)?,
        Claim::Fresh
    );
    idempotency::complete(conn, "user:a", "k1", 201, "{\"ok\":true}")?;
    assert_eq!(
        idempotency::claim(conn, "user:a", "k1", "h1", now)?,
        Claim::Replay {
            status: 201,
            body: "{\"ok\":true}".to_owned()
        }
    );
    // An abandoned claim can be taken over after the timeout.
    assert_eq!(
        idempotency::claim(conn, "user:a", "k2", "h", now)?,
        Claim::Fresh
    );
    let later = now + idempotency::IN_FLIGHT_TIMEOUT + chrono::Duration::seconds(1);
    assert_eq!(
        idempotency::claim(conn, "user:a", "k2", "h", later)?,
        Claim::Fresh
    );
    // A released key may be used again.
    idempotency::release(conn, "user:a", "k2")?;
    assert_eq!(
        idempotency::claim(conn, "user:a", "k2", "other", now)?,
        Claim::Fresh
    );
    Ok(())
}

fn sqlite() -> Result<(tempfile::TempDir, DbConn), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let conn = DatabaseUrl::Sqlite(dir.path().join("t.db")).connect()?;
    Ok((dir, conn))
}

#[test]
fn sqlite_audit_chain_is_linear_and_detects_tampering() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, mut conn) = sqlite()?;
    Ok(chain_scenario(&mut conn)?)
}

#[test]
fn postgres_audit_chain_is_linear_and_detects_tampering() -> Result<(), Box<dyn std::error::Error>>
{
    let Some(db) = TestPostgres::create() else {
        return Ok(());
    };
    Ok(chain_scenario(&mut db.database_url().connect()?)?)
}

#[test]
fn sqlite_prepares_the_audit_statements_once() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, mut conn) = sqlite()?;
    Ok(head_statements_scenario(&mut conn)?)
}

#[test]
fn postgres_prepares_the_audit_statements_once() -> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = TestPostgres::create() else {
        return Ok(());
    };
    Ok(head_statements_scenario(&mut db.database_url().connect()?)?)
}

#[test]
fn sqlite_idempotency_claims_follow_the_rules() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, mut conn) = sqlite()?;
    Ok(idempotency_scenario(&mut conn)?)
}

#[test]
fn postgres_idempotency_claims_follow_the_rules() -> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = TestPostgres::create() else {
        return Ok(());
    };
    Ok(idempotency_scenario(&mut db.database_url().connect()?)?)
}

#[test]
fn concurrent_writers_on_postgres_keep_one_chain() -> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = TestPostgres::create() else {
        return Ok(());
    };
    migrate::run_pending(&mut db.database_url().connect()?)?;
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let url = db.database_url();
            std::thread::spawn(move || -> Result<(), StoreError> {
                let mut conn = url.connect()?;
                for i in 0..25 {
                    audit::write(&mut conn, ctx(), |tx| {
                        tx.audit("test.concurrent", "thing", &format!("{t}-{i}"), &json!({}))?;
                        Ok::<_, StoreError>(())
                    })?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "writer thread panicked")??;
    }
    let report = audit::verify(&mut db.database_url().connect()?)?;
    assert_eq!((report.entries, report.first_broken), (100, None));
    Ok(())
}

/// Writers of one process on one SQLite file, each on its own connection, taking turns: none is
/// stuck or lost, and the audit chain stays one line. (That they wait in the queue rather than in
/// SQLite's busy handler is not observable here without timing.)
#[test]
fn sqlite_writers_of_one_process_take_turns() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = DatabaseUrl::Sqlite(dir.path().join("t.db"));
    migrate::run_pending(&mut url.connect()?)?;
    let (done, finished) = std::sync::mpsc::channel();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let url = url.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let result = (|| -> Result<(), StoreError> {
                    let mut conn = url.connect()?;
                    for i in 0..20 {
                        audit::write(&mut conn, ctx(), |tx| {
                            tx.audit("test.write", "writer", &format!("{w}-{i}"), &json!({}))?;
                            // Hold the turn a moment, as a real use case does.
                            std::thread::sleep(std::time::Duration::from_millis(1));
                            tx.audit("test.write", "writer", &format!("{w}-{i}b"), &json!({}))
                        })?;
                    }
                    Ok(())
                })();
                let _ = done.send(result.map_err(|e| e.to_string()));
            })
        })
        .collect();
    for _ in &writers {
        let result = finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .map_err(|_| "a writer is stuck waiting for its turn")?;
        result?;
    }
    for w in writers {
        w.join().map_err(|_| "a writer panicked")?;
    }
    let report = audit::verify(&mut url.connect()?)?;
    assert_eq!(report.entries, 6 * 20 * 2);
    assert_eq!(report.first_broken, None);
    Ok(())
}

#[test]
fn a_locked_database_is_busy_not_an_internal_error() {
    use diesel::result::{DatabaseErrorKind, Error};
    let locked = Error::DatabaseError(
        DatabaseErrorKind::Unknown,
        Box::new("database is locked".to_owned()),
    );
    assert!(matches!(StoreError::from(locked), StoreError::Busy(_)));
    let serialization = Error::DatabaseError(
        DatabaseErrorKind::SerializationFailure,
        Box::new("could not serialize access".to_owned()),
    );
    assert!(matches!(
        StoreError::from(serialization),
        StoreError::Busy(_)
    ));
    let other = Error::DatabaseError(
        DatabaseErrorKind::Unknown,
        Box::new("disk I/O error".to_owned()),
    );
    assert!(matches!(StoreError::from(other), StoreError::Db(_)));
}

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

fn plan_of_lookup(conn: &mut DbConn) -> Result<String, diesel::result::Error> {
    let lines: Vec<PlanLine> =
        diesel::sql_query("EXPLAIN SELECT loan_id FROM tasks WHERE loan_id = ANY(ARRAY['a', 'b'])")
            .load(conn)?;
    Ok(lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// A batch's lookups by key stay index lookups in a table whose statistics say it is empty,
/// as they are when the batch starts filling it.
#[test]
fn postgres_batch_lookups_use_the_index_on_a_table_analysed_empty()
-> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = TestPostgres::create() else {
        return Ok(());
    };
    let mut conn = db.database_url().connect()?;
    migrate::run_pending(&mut conn)?;
    diesel::sql_query("VACUUM ANALYZE tasks").execute(&mut conn)?;
    let plain = audit::read(&mut conn, plan_of_lookup)?;
    assert!(plain.contains("Seq Scan"), "the premise: {plain}");
    let preferred = audit::read(&mut conn, |c| {
        loanwatch_store::prefer_index_lookups(c)?;
        plan_of_lookup(c)
    })?;
    assert!(!preferred.contains("Seq Scan"), "{preferred}");
    assert!(preferred.contains("Index"), "{preferred}");
    // The setting ends with the transaction.
    let after = audit::read(&mut conn, plan_of_lookup)?;
    assert!(after.contains("Seq Scan"), "{after}");
    Ok(())
}
