//! `loanwatch bench loans`: the load benchmark of authenticated, scoped `GET /api/v1/loans/{id}`
//! on PostgreSQL, measured beside pgbench's point-select rate on the same database in the same
//! run, so the ratio means something on any machine.
//!
//! The server runs in this process on a free port; the load comes from `connections` client
//! threads, each with one keep-alive connection and a minimal HTTP/1.1 client (no client library
//! between the numbers and the socket). Every request asks for a random loan of the sample; any
//! answer but 200 fails the run.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::Command,
    sync::mpsc,
    time::{Duration, Instant},
};

use diesel::{QueryableByName, RunQueryDsl, sql_types::Text};
use loanwatch_store::{DatabaseUrl, DbConn};

use crate::{Application, Config, demo};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    /// Loans to seed when the database is empty.
    pub loans: u64,
    /// Seconds of measured load (each side).
    pub duration_secs: u64,
    /// Concurrent connections (each side).
    pub connections: usize,
    /// The user whose scope the requests run under.
    pub user: String,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Loans in the database.
    pub loans_in_db: i64,
    /// API requests answered per second.
    pub api_rps: f64,
    /// Latency percentiles in milliseconds: p50, p90, p99, max.
    pub latency_ms: [f64; 4],
    /// Requests made.
    pub requests: u64,
    /// pgbench transactions per second of the point select.
    pub pgbench_tps: f64,
}

impl BenchReport {
    /// API rate over pgbench rate.
    pub fn ratio(&self) -> f64 {
        self.api_rps / self.pgbench_tps
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Runs the benchmark and returns its figures.
pub fn run(config: Config, spec: &BenchSpec) -> anyhow::Result<BenchReport> {
    let DatabaseUrl::Postgres(pg_url) = config.database.url.clone() else {
        anyhow::bail!("the benchmark compares with pgbench: set DATABASE_URL=postgres://…");
    };
    let pool = loanwatch_store::build_pool(&config.database.url, 2)?;
    let mut conn = pool.get()?;
    let today = chrono::Utc::now()
        .with_timezone(&config.time_zone)
        .date_naive();
    prepare_demo(&mut conn, spec.loans, today)?;
    diesel::sql_query("ANALYZE").execute(&mut *conn)?;
    let loans_in_db = count_loans(&mut conn)?;
    let ids: Vec<String> = diesel::sql_query("SELECT id FROM loans ORDER BY md5(id) LIMIT 20000")
        .load::<IdRow>(&mut *conn)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    anyhow::ensure!(!ids.is_empty(), "no loans to read");
    drop(conn);

    let pgbench_tps = pgbench(&pool, &pg_url, &ids, spec)?;

    let server = LocalServer::start(config)?;
    let port = server.port;
    let token = login(port, &spec.user)?;

    // Warm-up, then the measured run.
    load(port, &token, &ids, spec.connections, Duration::from_secs(2))?;
    let started = Instant::now();
    let mut latencies = load(
        port,
        &token,
        &ids,
        spec.connections,
        Duration::from_secs(spec.duration_secs),
    )?;
    let elapsed = started.elapsed().as_secs_f64();
    server.stop();

    Ok(BenchReport {
        loans_in_db,
        api_rps: latencies.len() as f64 / elapsed,
        latency_ms: percentiles_ms(&mut latencies),
        requests: latencies.len() as u64,
        pgbench_tps,
    })
}

/// Migrates the database and, when it holds no organisations yet, seeds the demo portfolio of
/// `loans` loans as seen from `today`: the starting point of every benchmark.
///
/// On SQLite, a fresh seed is then copied from the write-ahead log into the database and the log
/// emptied, as a server finds it after a restart. A seed of a million loans otherwise leaves
/// gigabytes in the log, and every read of the measured part would look there first.
pub fn prepare_demo(conn: &mut DbConn, loans: u64, today: chrono::NaiveDate) -> anyhow::Result<()> {
    crate::app::prepare_database(conn)?;
    if !demo::already_seeded(conn).map_err(|e| anyhow::anyhow!("{e}"))? {
        demo::seed_with_progress(
            conn,
            demo::DemoSpec {
                loans,
                seed: 1,
                today,
            },
        )?;
        if let DbConn::Sqlite(_) = conn {
            diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").execute(conn)?;
        }
    }
    Ok(())
}

/// The server running in this process on a free port, for a benchmark's load.
pub(crate) struct LocalServer {
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

impl LocalServer {
    /// Starts the server of `config` on a free port, without the daily jobs (they would compete
    /// with the load being measured).
    pub(crate) fn start(mut config: Config) -> anyhow::Result<Self> {
        config.bind = "127.0.0.1:0".parse()?;
        config.jobs_enabled = false;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match Application::build(config) {
                    Ok(app) => {
                        let _ = tx.send(Ok((app.port(), app.handle())));
                        let _ = app.run_until_stopped().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        let (port, handle) = rx.recv()??;
        Ok(Self {
            port,
            handle,
            thread,
        })
    }

    /// Stops it gracefully and waits for it.
    pub(crate) fn stop(self) {
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        let _ = self.thread.join();
    }
}

/// p50, p90, p99 and the maximum of latencies in microseconds, in milliseconds (0 when empty).
pub(crate) fn percentiles_ms(latencies: &mut [u32]) -> [f64; 4] {
    latencies.sort_unstable();
    [0.50, 0.90, 0.99, 1.0].map(|p| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(i).map_or(0.0, |us| f64::from(*us) / 1000.0)
    })
}

/// `sqlite` or `postgres`, as the reports name the backend.
pub(crate) fn backend_name(conn: &DbConn) -> &'static str {
    match conn {
        DbConn::Postgres(_) => "postgres",
        DbConn::Sqlite(_) => "sqlite",
    }
}

/// A goal's verdict in a report.
pub(crate) fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Loans in the database.
pub fn count_loans(conn: &mut DbConn) -> anyhow::Result<i64> {
    count(conn, "SELECT COUNT(*) AS n FROM loans")
}

/// The one number a `SELECT COUNT(*) AS n …` answers.
pub(crate) fn count(conn: &mut DbConn, sql: &str) -> anyhow::Result<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<N> = diesel::sql_query(sql).load(conn)?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// pgbench's point select on the same rows: one loan with its borrower's name by primary key,
/// the database work behind one API answer.
fn pgbench(
    pool: &loanwatch_store::Pool,
    url: &str,
    ids: &[String],
    spec: &BenchSpec,
) -> anyhow::Result<f64> {
    let mut conn = pool.get()?;
    diesel::sql_query("DROP TABLE IF EXISTS bench_ids").execute(&mut *conn)?;
    diesel::sql_query("CREATE TABLE bench_ids (n INTEGER PRIMARY KEY, id TEXT NOT NULL)")
        .execute(&mut *conn)?;
    for (chunk_no, chunk) in ids.chunks(1000).enumerate() {
        let values: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| format!("({}, '{}')", chunk_no * 1000 + i + 1, id.replace('\'', "")))
            .collect();
        diesel::sql_query(format!(
            "INSERT INTO bench_ids (n, id) VALUES {}",
            values.join(",")
        ))
        .execute(&mut *conn)?;
    }
    diesel::sql_query("ANALYZE bench_ids").execute(&mut *conn)?;
    let dir = std::env::temp_dir().join(format!("loanwatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("point_select.sql");
    std::fs::write(
        &script,
        format!(
            "\\set n random(1, {})\nSELECT l.*, b.name FROM loans l JOIN borrowers b ON b.id = l.borrower_id WHERE l.id = (SELECT id FROM bench_ids WHERE n = :n);\n",
            ids.len()
        ),
    )?;
    let out = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg("-c")
        .arg(spec.connections.to_string())
        .arg("-T")
        .arg(spec.duration_secs.to_string())
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .map_err(|e| {
            anyhow::anyhow!("cannot run pgbench (install PostgreSQL's client tools): {e}")
        })?;
    diesel::sql_query("DROP TABLE IF EXISTS bench_ids").execute(&mut *conn)?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "pgbench failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {text}"))
}

/// A keep-alive HTTP/1.1 connection that sends a request and reads one response.
pub(crate) struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub(crate) fn connect(port: u16) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    pub(crate) fn send(&mut self, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        self.writer.write_all(request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}

pub(crate) fn login(port: u16, user: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({ "username": user, "password": demo::DEMO_PASSWORD }).to_string();
    let request = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, answer) = Client::connect(port)?.send(request.as_bytes())?;
    anyhow::ensure!(
        status == 200,
        "login of {user} failed ({status}): {}",
        String::from_utf8_lossy(&answer)
    );
    let v: serde_json::Value = serde_json::from_slice(&answer)?;
    Ok(v["access_token"].as_str().unwrap_or_default().to_owned())
}

/// Runs `connections` client threads for `duration`; returns every latency in microseconds.
fn load(
    port: u16,
    token: &str,
    ids: &[String],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Vec<u32>> {
    let deadline = Instant::now() + duration;
    let threads: Vec<_> = (0..connections)
        .map(|t| {
            let token = token.to_owned();
            let ids = ids.to_vec();
            std::thread::spawn(move || -> anyhow::Result<Vec<u32>> {
                let mut client = Client::connect(port)?;
                let mut rng = demo::SplitMix64::new(t as u64 + 1);
                let mut latencies = Vec::with_capacity(1 << 16);
                while Instant::now() < deadline {
                    let id = &ids[(rng.next_u64() % ids.len() as u64) as usize];
                    let request = format!(
                        "GET /api/v1/loans/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
                    );
                    let started = Instant::now();
                    let (status, body) = client.send(request.as_bytes())?;
                    latencies.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    anyhow::ensure!(status == 200, "GET /loans/{id} answered {status}: {}", String::from_utf8_lossy(&body));
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(
            t.join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))??,
        );
    }
    Ok(all)
}

/// Writes the report as a table with the goals.
pub fn print(out: &mut impl Write, spec: &BenchSpec, r: &BenchReport) -> std::io::Result<()> {
    let [p50, p90, p99, max] = r.latency_ms;
    writeln!(
        out,
        "loanwatch bench loans — GET /api/v1/loans/{{id}} as {} ({} loans in PostgreSQL)",
        spec.user, r.loans_in_db
    )?;
    writeln!(
        out,
        "  connections {} × {} s each side",
        spec.connections, spec.duration_secs
    )?;
    writeln!(
        out,
        "  API:     {:>10.0} requests/s   ({} requests)",
        r.api_rps, r.requests
    )?;
    writeln!(
        out,
        "           latency ms  p50 {p50:.2}  p90 {p90:.2}  p99 {p99:.2}  max {max:.2}"
    )?;
    writeln!(
        out,
        "  pgbench: {:>10.0} point selects/s (same rows, same database, prepared)",
        r.pgbench_tps
    )?;
    writeln!(
        out,
        "  ratio API/pgbench {:.3} (goal ≥ 0.25: {})   p99 {:.2} ms (goal < 10: {})",
        r.ratio(),
        met(r.ratio() >= 0.25),
        p99,
        met(p99 < 10.0)
    )
}
