//! Lookups by a list of keys (`in_keys`), on both backends.

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]

use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use loanwatch_store::{
    DatabaseUrl, DbConn, keys::InKeys, migrate, schema::parties, testing::TestPostgres,
};

/// Names that JSON must escape, and one that only looks like a number.
const NAMES: [&str; 5] = [
    "上海某某贸易有限公司",
    "say \"hello\"",
    "back\\slash",
    "tab\tand\nnewline",
    "12345",
];

fn lookups(conn: &mut DbConn) -> Result<(), Box<dyn std::error::Error>> {
    migrate::run_pending(conn)?;
    let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or("a fixed date")?;
    for (i, name) in NAMES.iter().enumerate() {
        diesel::insert_into(parties::table)
            .values((
                parties::id.eq(format!("p{i}")),
                parties::name.eq(*name),
                parties::kind.eq("company"),
                parties::created_at.eq(at),
                parties::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    let names = |keys: &[&str], conn: &mut DbConn| -> Result<Vec<String>, diesel::result::Error> {
        parties::table
            .filter(parties::name.in_keys(keys))
            .select(parties::name)
            .order(parties::id)
            .load(conn)
    };
    // Every list length finds exactly its keys, escapes and all; an unknown key finds nothing.
    for n in 0..=NAMES.len() {
        assert_eq!(names(&NAMES[..n], conn)?, NAMES[..n].to_vec());
    }
    assert_eq!(names(&["12345", "nobody"], conn)?, vec!["12345".to_owned()]);
    assert!(names(&["1234"], conn)?.is_empty());
    // A nullable column: NULL matches no key.
    let by_borrower: Vec<String> = parties::table
        .filter(parties::borrower_id.in_keys(&["p1", "b1"]))
        .select(parties::id)
        .load(conn)?;
    assert!(by_borrower.is_empty());
    let by_category: i64 = parties::table
        .filter(parties::category.in_keys(&[""]))
        .count()
        .get_result(conn)?;
    assert_eq!(by_category, 0);
    Ok(())
}

#[test]
fn sqlite_lookups_by_keys_find_exactly_their_keys() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    lookups(&mut DatabaseUrl::Sqlite(dir.path().join("k.db")).connect()?)
}

#[test]
fn postgres_lookups_by_keys_find_exactly_their_keys() -> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = TestPostgres::create() else {
        return Ok(());
    };
    lookups(&mut db.database_url().connect()?)
}

/// The statement's text is the same for any number of keys, so diesel caches it (it caches no
/// statement whose text depends on its binds), and on SQLite the keys are still looked up
/// through the index.
#[test]
fn the_statement_is_the_same_for_any_number_of_keys() -> Result<(), Box<dyn std::error::Error>> {
    use diesel::{pg::Pg, sqlite::Sqlite};
    let sql = |keys: &[&str]| {
        let q = parties::table
            .filter(parties::name.in_keys(keys))
            .select(parties::id);
        (
            diesel::debug_query::<Sqlite, _>(&q)
                .to_string()
                .split(" -- binds")
                .next()
                .unwrap_or_default()
                .to_owned(),
            diesel::debug_query::<Pg, _>(&q)
                .to_string()
                .split(" -- binds")
                .next()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    assert_eq!(sql(&["a"]), sql(&["a", "b", "c"]));
    let (sqlite_sql, _) = sql(&["a"]);
    let dir = tempfile::tempdir()?;
    let mut conn = DatabaseUrl::Sqlite(dir.path().join("k.db")).connect()?;
    migrate::run_pending(&mut conn)?;
    #[derive(diesel::QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let plan: Vec<Step> = diesel::sql_query(format!(
        "EXPLAIN QUERY PLAN {}",
        sqlite_sql.replace('?', "'[\"a\"]'")
    ))
    .load(&mut conn)?;
    let plan: Vec<String> = plan.into_iter().map(|s| s.detail).collect();
    assert!(
        plan.iter()
            .any(|s| s.starts_with("SEARCH parties USING") && s.contains("(name=?)")),
        "{plan:?}"
    );
    Ok(())
}
