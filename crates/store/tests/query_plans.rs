//! The lookups on the hot path of real-time monitoring are answered from an index alone.

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]

use diesel::RunQueryDsl;
use loanwatch_store::{DatabaseUrl, migrate};

#[derive(diesel::QueryableByName)]
struct Step {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// `repo::loans_reaching` asks, for the payers of a new transfer, which loans' proceeds reached
/// them and who paid them since a date. Both are read from `fund_transfers_to` without touching
/// the table: a payer that has received many transfers must not cost one table read each.
#[test]
fn who_paid_a_party_and_with_which_loan_is_read_from_the_index()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut conn = DatabaseUrl::Sqlite(dir.path().join("p.db")).connect()?;
    migrate::run_pending(&mut conn)?;
    let to_party = "to_party IN (SELECT value FROM json_each('[\"a\",\"b\"]')) \
                    AND booked_at >= '2026-12-01 00:00:00'";
    for sql in [
        format!(
            "SELECT DISTINCT loan_id FROM fund_transfers WHERE {to_party} AND loan_id IS NOT NULL"
        ),
        format!("SELECT DISTINCT from_party FROM fund_transfers WHERE {to_party}"),
    ] {
        let plan: Vec<String> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<Step>(&mut conn)?
            .into_iter()
            .map(|s| s.detail)
            .collect();
        assert!(
            plan.iter().any(|s| s.starts_with(
                "SEARCH fund_transfers USING COVERING INDEX fund_transfers_to (to_party=? AND booked_at>?)"
            )),
            "{sql}: {plan:?}"
        );
    }
    Ok(())
}
