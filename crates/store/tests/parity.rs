//! Both backends have the same migrations, every `down.sql` reverts its `up.sql`, and the
//! columns on both databases match `schema.rs` (names, nullability, types).

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]

use std::{collections::BTreeMap, path::Path};

use diesel::{QueryableByName, RunQueryDsl, sql_types};
use loanwatch_store::{DatabaseUrl, DbConn, migrate, testing::TestPostgres};

type Columns = BTreeMap<String, BTreeMap<String, (String, bool)>>;

fn migration_names(backend: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    let pg = migration_names("postgres");
    let sqlite = migration_names("sqlite");
    assert!(!pg.is_empty(), "no migrations found");
    assert_eq!(pg, sqlite, "migration folders differ between backends");
    for name in &pg {
        for backend in ["postgres", "sqlite"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../migrations")
                .join(backend)
                .join(name);
            assert!(
                dir.join("up.sql").is_file() && dir.join("down.sql").is_file(),
                "{backend}/{name} lacks up.sql or down.sql"
            );
        }
    }
}

/// The columns `schema.rs` declares: table → column → (portable type, nullable).
fn declared() -> Columns {
    let text = include_str!("../src/schema.rs");
    let mut out = Columns::new();
    let mut table: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_suffix('{')
            && line.starts_with("    ")
            && !line.starts_with("        ")
            && let Some((name, _)) = rest.split_once(' ')
        {
            table = Some(name.to_owned());
            out.entry(name.to_owned()).or_default();
            continue;
        }
        if t == "}" {
            table = None;
            continue;
        }
        if let (Some(tbl), Some((col, ty))) = (&table, t.trim_end_matches(',').split_once(" -> ")) {
            let (ty, nullable) = match ty
                .strip_prefix("Nullable<")
                .and_then(|r| r.strip_suffix('>'))
            {
                Some(inner) => (inner, true),
                None => (ty, false),
            };
            out.entry(tbl.clone())
                .or_default()
                .insert(col.to_owned(), (ty.to_owned(), nullable));
        }
    }
    out
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = sql_types::Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = sql_types::Text)]
    name: String,
    #[diesel(sql_type = sql_types::Text)]
    col_type: String,
    #[diesel(sql_type = sql_types::Integer)]
    not_null: i32,
    #[diesel(sql_type = sql_types::Integer)]
    pk: i32,
}

fn portable(db_type: &str) -> String {
    match db_type.to_ascii_lowercase().as_str() {
        "text" => "Text",
        "bigint" => "BigInt",
        "integer" => "Integer",
        "boolean" => "Bool",
        "double precision" => "Double",
        "date" => "Date",
        "timestamp" | "timestamp without time zone" => "Timestamp",
        other => return format!("unportable:{other}"),
    }
    .to_owned()
}

fn actual(conn: &mut DbConn) -> Result<Columns, String> {
    let mut out = Columns::new();
    match conn {
        DbConn::Postgres(c) => {
            let rows: Vec<PgColumn> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, is_nullable::text AS is_nullable \
                 FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
            )
            .load(c)
            .map_err(|e| format!("information_schema: {e}"))?;
            for r in rows {
                out.entry(r.table_name).or_default().insert(
                    r.column_name,
                    (portable(&r.data_type), r.is_nullable == "YES"),
                );
            }
        }
        DbConn::Sqlite(c) => {
            let rows: Vec<SqliteColumn> = diesel::sql_query(
                "SELECT m.name AS table_name, p.name AS name, p.type AS col_type, p.\"notnull\" AS not_null, p.pk AS pk \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
            )
            .load(c)
            .map_err(|e| format!("pragma_table_info: {e}"))?;
            for r in rows {
                // SQLite lets a non-INTEGER primary key hold NULL unless declared NOT NULL; our
                // keys are always set, and schema.rs declares them non-null.
                out.entry(r.table_name).or_default().insert(
                    r.name,
                    (portable(&r.col_type), r.not_null == 0 && r.pk == 0),
                );
            }
        }
    }
    Ok(out)
}

fn check_backend(url: &DatabaseUrl) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = url.connect()?;
    let applied = migrate::run_pending(&mut conn)?;
    assert!(!applied.is_empty());
    assert_eq!(
        actual(&mut conn)?,
        declared(),
        "columns on {:?} differ from schema.rs",
        url.backend()
    );

    let reverted = migrate::revert_all(&mut conn)?;
    assert_eq!(reverted.len(), applied.len());
    let left: Vec<String> = actual(&mut conn)?.into_keys().collect();
    assert!(left.is_empty(), "down.sql left tables behind: {left:?}");

    migrate::run_pending(&mut conn)?;
    assert_eq!(
        actual(&mut conn)?,
        declared(),
        "re-applied migrations differ on {:?}",
        url.backend()
    );
    Ok(())
}

#[test]
fn sqlite_migrations_match_schema_and_revert_cleanly() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    check_backend(&DatabaseUrl::Sqlite(dir.path().join("parity.db")))
}

#[test]
fn postgres_migrations_match_schema_and_revert_cleanly() -> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = TestPostgres::create() else {
        return Ok(());
    };
    check_backend(&db.database_url())
}

#[test]
fn the_schema_parser_sees_every_table() {
    let d = declared();
    assert!(d.len() >= 16, "{:?}", d.keys().collect::<Vec<_>>());
    assert_eq!(d["loans"]["principal_fen"], ("BigInt".to_owned(), false));
    assert_eq!(d["loans"]["counterparty"], ("Text".to_owned(), true));
}
