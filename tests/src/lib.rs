//! Harness of the end-to-end scenarios: a real `loanwatch` server on a free port, on a fresh
//! SQLite file or a fresh PostgreSQL database, driven over HTTP with a real client.

use std::{collections::BTreeMap, sync::mpsc, thread::JoinHandle};

use loanwatch_api::{AppState, Application, Config, auth::password};
use loanwatch_store::{
    DatabaseUrl, DbConn,
    testing::{TestPostgres, TestS3},
};
use serde_json::{Value, json};

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A response as the tests look at it.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`Null` if it is not JSON).
    pub body: Value,
}

impl Resp {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The problem `code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// The first field pointer of an error answer.
    pub fn pointer(&self) -> &str {
        self.body["errors"][0]["pointer"]
            .as_str()
            .unwrap_or_default()
    }
}

/// A running server and what the tests need to reach it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The backend.
    pub backend: Backend,
    /// The database.
    pub db_url: DatabaseUrl,
    /// The server's state.
    pub state: AppState,
    agent: ureq::Agent,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
    _pg: Option<TestPostgres>,
    /// The S3 server evidence goes to, when the app runs on S3.
    pub s3: Option<TestS3>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("base", &self.base)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Starts a server on `backend`; `None` when that backend is skipped (PostgreSQL unreachable
/// outside CI).
pub fn spawn_app(backend: Backend) -> anyhow::Result<Option<TestApp>> {
    spawn_app_with(backend, &[])
}

/// Starts a server whose evidence goes to a fresh S3 server; `None` when that backend or S3 is
/// skipped (unreachable or not installed, outside CI).
pub fn spawn_app_on_s3(backend: Backend, vars: &[(&str, &str)]) -> anyhow::Result<Option<TestApp>> {
    let Some(s3) = TestS3::start() else {
        return Ok(None);
    };
    let env = s3.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(vars);
    Ok(spawn_app_with(backend, &all)?.map(|mut app| {
        app.s3 = Some(s3);
        app
    }))
}

/// Starts a server with extra configuration variables.
pub fn spawn_app_with(backend: Backend, vars: &[(&str, &str)]) -> anyhow::Result<Option<TestApp>> {
    let dir = tempfile::tempdir()?;
    let (pg, url) = match backend {
        Backend::Sqlite => (
            None,
            format!("sqlite://{}", dir.path().join("e2e.db").display()),
        ),
        Backend::Postgres => match TestPostgres::create() {
            Some(db) => {
                let url = db.url.clone();
                (Some(db), url)
            }
            None => return Ok(None),
        },
    };
    let mut env: BTreeMap<String, String> = BTreeMap::from([
        ("BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("DATA_DIR".to_owned(), dir.path().display().to_string()),
        ("DATABASE_URL".to_owned(), url),
        ("DATABASE_POOL_SIZE".to_owned(), "4".to_owned()),
        // Scenarios run the jobs themselves, at the dates they choose.
        ("JOBS_ENABLED".to_owned(), "false".to_owned()),
    ]);
    for (k, v) in vars {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = Config::from_lookup(|k| env.get(k).cloned())?;
    let db_url = config.database.url.clone();
    if std::env::var("TEST_LOG").is_ok() {
        loanwatch_api::telemetry::init(false, "info");
    }
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            match Application::build(config) {
                Ok(app) => {
                    let _ = tx.send(Ok((app.port(), app.handle(), app.state().clone())));
                    let _ = app.run_until_stopped().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    });
    let (port, handle, state) = rx.recv()??;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    Ok(Some(TestApp {
        base: format!("http://127.0.0.1:{port}"),
        backend,
        db_url,
        state,
        agent,
        handle,
        thread: Some(thread),
        _dir: dir,
        _pg: pg,
        s3: None,
    }))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let stop = self.handle.stop(false);
        drop(stop);
        if let Some(t) = self.thread.take() {
            // The server thread ends when its System stops; give it a moment, never hang a test.
            let (done_tx, done_rx) = mpsc::channel();
            std::thread::spawn(move || {
                let _ = t.join();
                let _ = done_tx.send(());
            });
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(5));
        }
    }
}

impl TestApp {
    /// Sends a request. `body` is sent as JSON text when given.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Resp> {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        let has_content_type = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !has_content_type {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let mut res = match body {
            Some(b) => self.agent.run(builder.body(b.as_bytes().to_vec())?)?,
            None => self.agent.run(builder.body(())?)?,
        };
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let text = res
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            text,
            body,
        })
    }

    /// Sends raw bytes (an upload to a signed URL) or none; returns the status and the body's
    /// bytes. `path` is on this server, or an absolute URL (a presigned S3 URL).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let uri = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut builder = ureq::http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        if body.is_some() {
            // A server that refuses an upload by its headers answers before the body is sent,
            // instead of closing the connection on a client still writing.
            builder = builder.header("expect", "100-continue");
        }
        let mut res = match body {
            Some(b) => self.agent.run(builder.body(b.to_vec())?)?,
            None => self.agent.run(builder.body(())?)?,
        };
        let status = res.status().as_u16();
        let bytes = res.body_mut().with_config().limit(64 << 20).read_to_vec()?;
        Ok((status, bytes))
    }

    /// GET with a token.
    pub fn get(&self, path: &str, token: &str) -> anyhow::Result<Resp> {
        self.send("GET", path, Some(token), None, &[])
    }

    /// POST JSON with a token.
    pub fn post(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Resp> {
        self.send("POST", path, Some(token), Some(&body.to_string()), &[])
    }

    /// PUT JSON with a token.
    pub fn put(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Resp> {
        self.send("PUT", path, Some(token), Some(&body.to_string()), &[])
    }

    /// PATCH JSON with a token.
    pub fn patch(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Resp> {
        self.send("PATCH", path, Some(token), Some(&body.to_string()), &[])
    }

    /// Signs in; returns the whole token answer.
    pub fn login_full(&self, username: &str, password: &str) -> anyhow::Result<Resp> {
        self.send(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&json!({ "username": username, "password": password }).to_string()),
            &[],
        )
    }

    /// Signs in; returns the access token.
    pub fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let r = self.login_full(username, password)?;
        anyhow::ensure!(r.status == 200, "login of {username} failed: {}", r.text);
        Ok(r.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Signs `claims` as HS256 with the server's own key (from `DATA_DIR/jwt.key`), or with
    /// `other_key` to forge one.
    pub fn sign_token(&self, claims: &Value, other_key: Option<&[u8]>) -> anyhow::Result<String> {
        let key = match other_key {
            Some(k) => k.to_vec(),
            None => hex::decode(std::fs::read_to_string(self._dir.path().join("jwt.key"))?.trim())?,
        };
        Ok(jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(&key),
        )?)
    }

    /// A direct database connection, to check what was (not) written.
    pub fn conn(&self) -> anyhow::Result<DbConn> {
        Ok(self.db_url.connect()?)
    }

    /// Counts rows of a table.
    pub fn count(&self, table: &str) -> anyhow::Result<i64> {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<N> = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .load(&mut self.conn()?)?;
        Ok(rows.first().map_or(0, |r| r.n))
    }
}

/// The password of every fixture user.
pub const PASSWORD: &str = "correct horse battery";

/// A small institution: head office, branches A and B, a sub-branch under A, and people.
#[derive(Debug, Clone)]
pub struct Institution {
    /// Head office id.
    pub head_office: String,
    /// Branch A id.
    pub branch_a: String,
    /// Branch B id.
    pub branch_b: String,
    /// Sub-branch of A.
    pub sub_a: String,
    /// Tokens by username.
    pub tokens: BTreeMap<String, String>,
    /// User ids by username.
    pub users: BTreeMap<String, String>,
}

impl Institution {
    /// The token of a fixture user.
    pub fn token(&self, user: &str) -> &str {
        self.tokens
            .get(user)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The id of a fixture user.
    pub fn user(&self, user: &str) -> &str {
        self.users.get(user).map(String::as_str).unwrap_or_default()
    }
}

/// Creates the institution: the administrator through the bootstrap (as `loanwatch admin
/// create` does), everything else through the API.
pub fn seed_institution(app: &TestApp) -> anyhow::Result<Institution> {
    let hash = password::hash(PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    loanwatch_api::people::service::bootstrap_admin(
        &mut app.conn()?,
        "admin",
        "Admin",
        hash,
        "总行",
        "HO",
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let admin = app.login("admin", PASSWORD)?;
    let orgs = app.get("/api/v1/organisations", &admin)?;
    let head_office = orgs.body[0]["id"].as_str().unwrap_or_default().to_owned();
    let org = |name: &str, code: &str, kind: &str, parent: &str| -> anyhow::Result<String> {
        let r = app.post(
            "/api/v1/organisations",
            &admin,
            &json!({ "name": name, "code": code, "kind": kind, "parent_id": parent }),
        )?;
        anyhow::ensure!(r.status == 201, "organisation {code}: {}", r.text);
        Ok(r.body["id"].as_str().unwrap_or_default().to_owned())
    };
    let branch_a = org("北京分行", "A", "branch", &head_office)?;
    let branch_b = org("杭州分行", "B", "branch", &head_office)?;
    let sub_a = org("朝阳支行", "A1", "sub_branch", &branch_a)?;
    let mut users = BTreeMap::new();
    let mut tokens = BTreeMap::from([("admin".to_owned(), admin.clone())]);
    for (username, role, org) in [
        ("ho.risk", "head_office", &head_office),
        ("auditor", "auditor", &head_office),
        ("a.supervisor", "supervisor", &branch_a),
        ("a.officer", "officer", &branch_a),
        ("a.officer2", "officer", &branch_a),
        ("a1.officer", "officer", &sub_a),
        ("b.supervisor", "supervisor", &branch_b),
        ("b.officer", "officer", &branch_b),
    ] {
        let r = app.post(
            "/api/v1/users",
            &admin,
            &json!({ "username": username, "display_name": username, "password": PASSWORD, "role": role, "organisation_id": org }),
        )?;
        anyhow::ensure!(r.status == 201, "user {username}: {}", r.text);
        users.insert(
            username.to_owned(),
            r.body["id"].as_str().unwrap_or_default().to_owned(),
        );
        tokens.insert(username.to_owned(), app.login(username, PASSWORD)?);
    }
    Ok(Institution {
        head_office,
        branch_a,
        branch_b,
        sub_a,
        tokens,
        users,
    })
}

/// A valid enterprise borrower body; `n` varies the credit code.
pub fn enterprise(name: &str, n: u32) -> Value {
    let code = loanwatch_domain::identity::CreditCode::complete(&format!("91110105MA{n:07}"))
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    json!({
        "kind": "enterprise",
        "name": name,
        "credit_code": code,
        "registered_capital_fen": 1_000_000_000,
        "legal_representative": "张伟",
        "industry": "C34 通用设备制造业",
        "phone": "13812345678",
    })
}

/// A valid individual borrower body; `n` varies the ID number.
pub fn individual(name: &str, n: u32) -> Value {
    let id = loanwatch_domain::identity::ResidentId::complete(&format!(
        "110105198001{:02}{:03}",
        1 + n % 28,
        n % 1000
    ))
    .map(|r| r.expose().to_owned())
    .unwrap_or_default();
    json!({ "kind": "individual", "name": name, "id_number": id, "phone": "13912345678" })
}

/// A valid loan body for a borrower.
pub fn loan_body(
    borrower_id: &str,
    contract_no: &str,
    principal_fen: i64,
    maturity: &str,
) -> Value {
    json!({
        "contract_no": contract_no,
        "borrower_id": borrower_id,
        "product": "流动资金贷款",
        "principal_fen": principal_fen,
        "currency": "CNY",
        "annual_rate": "4.35",
        "repayment_method": "monthly_interest",
        "guarantee_method": "guarantee",
        "purpose": "采购原材料",
        "counterparty": "恒远供应链有限公司",
        "disbursement_date": "2026-01-15",
        "maturity_date": maturity,
    })
}

/// Declares a scenario once and runs it on both backends as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() -> anyhow::Result<()> {
                    match $crate::spawn_app($crate::Backend::Sqlite)? {
                        Some(app) => super::$name(&app),
                        None => Ok(()),
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() -> anyhow::Result<()> {
                    match $crate::spawn_app($crate::Backend::Postgres)? {
                        Some(app) => super::$name(&app),
                        None => Ok(()),
                    }
                }
            )*
        }
    };
}

/// The open task of a new loan (contract `V-{n}`) of a new enterprise borrower `name` of
/// `token`'s branch, planned for November 2026.
pub fn open_task(app: &TestApp, token: &str, name: &str, n: u32) -> anyhow::Result<String> {
    let b = app.post("/api/v1/borrowers", token, &enterprise(name, n))?;
    anyhow::ensure!(b.status == 201, "{}", b.text);
    let l = app.post(
        "/api/v1/loans",
        token,
        &json!({
            "contract_no": format!("V-{n}"), "borrower_id": b.body["id"], "product": "流动资金贷款",
            "principal_fen": 10_000_000, "currency": "CNY", "annual_rate": "4", "repayment_method": "bullet",
            "guarantee_method": "credit", "purpose": "采购原材料", "disbursement_date": "2026-10-20",
            "maturity_date": "2027-10-20",
        }),
    )?;
    anyhow::ensure!(l.status == 201, "{}", l.text);
    loanwatch_api::tasks::run(
        &mut app.conn()?,
        None,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
        1,
        true,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let loan = l.body["id"].as_str().unwrap_or_default();
    let tasks = app.get(&format!("/api/v1/tasks?loan_id={loan}&status=open"), token)?;
    let task = tasks.body["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(!task.is_empty(), "no task planned: {}", tasks.text);
    Ok(task)
}

/// PUTs `bytes` to an upload target (`{url, headers}` of a declaration or a part) with the
/// headers it lists, some replaced (`Some`) or left out (`None`); `Content-Length` is always the
/// body's own.
pub fn put_to(
    app: &TestApp,
    target: &Value,
    bytes: &[u8],
    change: &[(&str, Option<&str>)],
) -> anyhow::Result<u16> {
    let url = target["url"].as_str().unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(listed) = target["headers"].as_object() {
        for (k, v) in listed {
            if k.eq_ignore_ascii_case("content-length") {
                continue;
            }
            match change.iter().find(|(c, _)| c.eq_ignore_ascii_case(k)) {
                Some((_, Some(other))) => headers.push((k.clone(), (*other).to_owned())),
                Some((_, None)) => {}
                None => headers.push((k.clone(), v.as_str().unwrap_or_default().to_owned())),
            }
        }
    }
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(app.raw("PUT", url, Some(bytes), &pairs)?.0)
}

/// Runs a scenario with its evidence on a real S3 server, on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_s3 {
    ($($name:ident),* $(,)?) => {
        mod s3_sqlite {
            $(
                #[test]
                fn $name() -> anyhow::Result<()> {
                    match $crate::spawn_app_on_s3($crate::Backend::Sqlite, &[])? {
                        Some(app) => super::$name(&app),
                        None => Ok(()),
                    }
                }
            )*
        }
        mod s3_postgres {
            $(
                #[test]
                fn $name() -> anyhow::Result<()> {
                    match $crate::spawn_app_on_s3($crate::Backend::Postgres, &[])? {
                        Some(app) => super::$name(&app),
                        None => Ok(()),
                    }
                }
            )*
        }
    };
}

/// A real JPEG of a synthetic scene `width` pixels wide (4:3); `seed` changes the picture.
pub fn jpeg_bytes(seed: u8, width: u32) -> Vec<u8> {
    jpeg_of(&scene(seed, width))
}

/// A synthetic scene: gradients and blocks, so pictures differ by seed and hash alike across
/// sizes.
pub fn scene(seed: u8, width: u32) -> image::DynamicImage {
    let height = width * 3 / 4;
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x * 640 / width, y * 480 / height);
        let k = u32::from(seed);
        let block = ((fx / 80 + fy / 60 + k) % 3) as u8;
        // The seed moves where the gradients wrap, so different seeds are different pictures.
        image::Rgb([
            ((fx + k * 97) % 256) as u8,
            ((2 * fy + k * 53) % 256) as u8,
            block * 100,
        ])
    }))
}

/// An image encoded as JPEG.
pub fn jpeg_of(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    // Encoding into memory cannot fail for an RGB image.
    let _ = img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    );
    out
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Declares a photo for a task's checklist item, uploads it to its signed URL and completes it;
/// returns the completed evidence.
pub fn attach_photo(
    app: &TestApp,
    token: &str,
    task_id: &str,
    item_key: &str,
    bytes: &[u8],
) -> anyhow::Result<Value> {
    let id = uuid::Uuid::now_v7().to_string();
    let d = app.post(
        &format!("/api/v1/tasks/{task_id}/evidence"),
        token,
        &json!({
            "id": id, "item_key": item_key, "kind": "photo", "content_type": "image/jpeg",
            "size_bytes": bytes.len(), "sha256": sha256_hex(bytes), "captured_at": chrono::Utc::now().to_rfc3339(),
        }),
    )?;
    anyhow::ensure!(d.status == 201, "declare: {}", d.text);
    let status = put_to(app, &d.body["upload"], bytes, &[])?;
    anyhow::ensure!(status == 200, "upload: {status}");
    let done = app.post(
        &format!("/api/v1/evidence/{id}/complete"),
        token,
        &json!({}),
    )?;
    anyhow::ensure!(done.status == 200, "complete: {}", done.text);
    Ok(done.body)
}
