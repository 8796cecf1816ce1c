//! Building the application: state, routes, middleware, error handlers; and running it.

use std::{net::TcpListener, sync::Arc, time::Instant};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    body::MessageBody,
    dev::{Server, ServiceRequest, ServiceResponse},
    get,
    http::header::{HeaderName, HeaderValue},
    middleware::{Next, from_fn},
    web,
};
use utoipa_actix_web::{AppExt, UtoipaApp, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    ApiError, AppState, Config,
    auth::{self, jwt::JwtKeys},
    calendar,
    error::{ErrorCode, REQUEST_ID},
    field, health, ledger,
    monitoring::{self, ingest::TransferWriter},
    notices, openapi, people, position, schedule, tasks,
};

/// Mounts every documented route on an app. Used to serve and to generate the document, so the
/// two cannot differ.
pub fn mount<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: actix_web::dev::ServiceFactory<
            ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
    app.openapi(<openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .configure(health::configure)
        .service(
            scope("/api/v1")
                .configure(auth::routes::configure)
                .configure(people::routes::configure)
                .configure(ledger::routes::configure)
                .configure(position::routes::configure)
                .configure(position::products::configure)
                .configure(notices::routes::configure)
                .configure(tasks::routes::configure)
                .configure(tasks::inspection::configure)
                .configure(tasks::work_logs::configure)
                .configure(tasks::incidents::configure)
                .configure(tasks::notifications::configure)
                .configure(field::configure)
                .configure(calendar::routes::configure)
                .configure(schedule::routes::configure)
                .configure(monitoring::routes::configure)
                .configure(monitoring::facts::configure)
                .configure(monitoring::rules::configure)
                .configure(monitoring::warnings::configure),
        )
}

/// A running application.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The object storage the configuration names.
pub fn object_store(
    data_dir: &std::path::Path,
    config: &crate::config::ObjectsConfig,
) -> loanwatch_store::object::ObjectStore {
    use loanwatch_store::object::{ObjectStore, S3Objects};
    match config {
        crate::config::ObjectsConfig::Local => ObjectStore::local(data_dir.join("objects")),
        crate::config::ObjectsConfig::S3(s3) => ObjectStore::S3(S3Objects::new(s3)),
    }
}

impl Application {
    /// Opens the database (running pending migrations, loading shipped data), loads keys, binds the port and builds the
    /// server. `BIND` with port 0 picks a free port; [`Application::port`] tells which.
    pub fn build(config: Config) -> anyhow::Result<Self> {
        let pool =
            loanwatch_store::build_server_pool(&config.database.url, config.database.pool_size)?;
        prepare_database(&mut *pool.get()?)?;
        let keys = JwtKeys::load(&config.auth, &config.data_dir)?;
        if config.jobs_enabled {
            notices::spawn_scheduler(pool.clone(), config.time_zone, config.jobs_daily_at_hour)?;
        }
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
        let port = listener.local_addr()?.port();
        let config_data_dir = config.data_dir.clone();
        let config_objects = config.objects.clone();
        let transfers =
            TransferWriter::start(pool.clone(), config.time_zone, config.transfer_group_rows)?;
        let state = AppState {
            pool,
            transfers,
            config: Arc::new(config),
            keys: Arc::new(keys),
            spec_json: Arc::new(openapi::spec_json()),
            objects: Arc::new(object_store(&config_data_dir, &config_objects)),
        };
        let server_state = state.clone();
        let server = HttpServer::new(move || {
            let (app, _) = mount(
                App::new()
                    .app_data(web::Data::new(server_state.clone()))
                    .app_data(web::PathConfig::default().error_handler(|err, _| {
                        ApiError::new(ErrorCode::InvalidParameter, err.to_string()).into()
                    }))
                    .app_data(web::QueryConfig::default().error_handler(|err, _| {
                        ApiError::field(ErrorCode::InvalidParameter, "#/query", err.to_string())
                            .into()
                    }))
                    .wrap(from_fn(request_context))
                    .into_utoipa_app(),
            )
            .split_for_parts();
            app.service(openapi_document)
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::new(["/api-docs/openapi.json"])),
                )
                .service(web::redirect("/docs", "/docs/"))
                .default_service(web::to(no_route))
        })
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests reach the pool through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The OpenAPI document, byte-identical to `openapi/loanwatch.json`.
#[get("/api-docs/openapi.json")]
async fn openapi_document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.spec_json.as_str().to_owned())
}

async fn no_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::RouteNotFound,
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id (the caller's `x-request-id` if sane, else a new UUIDv7), a tracing
/// span, and a log line with status and latency; echoes the id on the response. Query strings
/// are not logged: they may carry names.
async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    let res = REQUEST_ID
        .scope(
            id.clone(),
            tracing::Instrument::instrument(next.call(req), span.clone()),
        )
        .await;
    let _entered = span.enter();
    match res {
        Ok(mut res) => {
            tracing::info!(
                status = res.status().as_u16(),
                micros = started.elapsed().as_micros() as u64,
                "request"
            );
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut().insert(X_REQUEST_ID.clone(), value);
            }
            Ok(res)
        }
        Err(err) => {
            tracing::warn!(error = %err, "request failed");
            Err(err)
        }
    }
}

/// What [`prepare_database`] did.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Migrations applied.
    pub migrations: usize,
    /// Shipped calendar years loaded.
    pub calendar_years: Vec<i32>,
}

/// Applies pending migrations and loads the shipped calendar years and checklist templates that
/// are not in the database yet (never over an institution's own edits). Every command that opens
/// the database goes through here, so a job never runs on a database without its calendar.
pub fn prepare_database(conn: &mut loanwatch_store::DbConn) -> anyhow::Result<Prepared> {
    let applied = loanwatch_store::migrate::run_pending(conn)?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    let seeded = calendar::seed_shipped(conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    let templates = tasks::inspection::seed_shipped(conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    if monitoring::rules::seed_default(conn).map_err(|e| anyhow::anyhow!("{e}"))? {
        tracing::info!("shipped warning rules stored as version 1");
    }
    if !templates.is_empty() {
        tracing::info!(?templates, "shipped checklist templates loaded");
    }
    if !seeded.is_empty() {
        tracing::info!(?seeded, "shipped holiday calendars loaded");
    }
    Ok(Prepared {
        migrations: applied.len(),
        calendar_years: seeded,
    })
}
