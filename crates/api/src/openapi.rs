//! The OpenAPI document: collected from the mounted routes by utoipa-actix-web, so the document
//! and the router cannot drift. `loanwatch openapi` prints it; `openapi/loanwatch.json` is the
//! committed copy, checked by `tests/openapi.rs`; the server serves the same bytes.

use actix_web::App;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_actix_web::AppExt;

/// Title, version, tags and security scheme; paths come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Loanwatch API",
        description = "Post-loan management (贷后管理): the loan ledger, supervision, field evidence and early warning.\n\nConventions: snake_case JSON; money as integer fen plus an ISO 4217 currency; timestamps RFC 3339 UTC; business dates YYYY-MM-DD in the institution's time zone; errors as application/problem+json with a stable `code` and JSON Pointers in `errors`; lists as `{items, next_cursor}`; `Idempotency-Key` on creating POSTs; every response carries `x-request-id`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "auth", description = "Sign-in, tokens and the caller"),
        (name = "people", description = "Organisations, users and API clients"),
        (name = "ledger", description = "Borrowers, groups, guarantors, collateral, loans and their events"),
        (name = "schedules", description = "Repayment schedules"),
        (name = "products", description = "Product settings: penalty uplifts, payment allocation, overpayment"),
        (name = "tasks", description = "Supervision tasks from each loan's plan, their review and the officer's agenda"),
        (name = "field", description = "Borrowers' sites, officers' check-ins judged against them, and the daily trail"),
        (name = "notices", description = "Statutory notices: maturity, interest reminders, collection, guarantee performance, default reports"),
        (name = "monitoring", description = "Early warning: parties, accounts and fund transfers in; versioned rule sets; tiered warnings and their life"),
        (name = "calendar", description = "Chinese working days: holidays and make-up working days, as data"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from POST /api/v1/auth/login or /api/v1/auth/token",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document for the routes as mounted.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, mut api) = crate::app::mount(App::new().into_utoipa_app()).split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api
}

/// The document as served and committed: pretty JSON and a final newline.
pub fn spec_json() -> String {
    let mut text = spec().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}
