//! Routes of product settings.

use actix_web::{get, put, web};
use loanwatch_api_types::{Problem, schedule::Product};
use loanwatch_domain::{people::Role, position::ProductSettings};
use loanwatch_store::{models::ProductRow, repo::product};
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Actor,
    extract::JsonBody,
    views::{stored_json, utc},
    write,
};

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_products)
        .service(get_product)
        .service(replace_product);
}

fn view(r: ProductRow) -> Result<Product, ApiError> {
    Ok(Product {
        settings: stored_json(&r.settings, "product settings")?,
        code: r.code,
        updated_at: utc(r.updated_at),
        updated_by: r.updated_by,
    })
}

/// Products with their own settings; loans of other products use the defaults.
#[utoipa::path(
    tag = "products",
    operation_id = "list_products",
    responses((status = 200, description = "Products with settings", body = Vec<Product>)),
    security(("bearer" = []))
)]
#[get("/products")]
async fn list_products(
    state: web::Data<AppState>,
    _actor: Actor,
) -> Result<web::Json<Vec<Product>>, ApiError> {
    let rows = state.db(|conn| Ok(product::all(conn)?)).await?;
    Ok(web::Json(
        rows.into_iter().map(view).collect::<Result<_, _>>()?,
    ))
}

/// A product's settings (the defaults if it has none of its own).
#[utoipa::path(
    tag = "products",
    operation_id = "get_product",
    params(("code" = String, Path, description = "The product as loans name it")),
    responses((status = 200, description = "The settings in force", body = ProductSettings)),
    security(("bearer" = []))
)]
#[get("/products/{code}")]
async fn get_product(
    state: web::Data<AppState>,
    _actor: Actor,
    code: web::Path<String>,
) -> Result<web::Json<ProductSettings>, ApiError> {
    let code = code.into_inner();
    Ok(web::Json(
        state
            .db(move |conn| crate::position::product_settings(conn, &code))
            .await?,
    ))
}

/// Set a product's settings: penalty and diversion uplifts, the order payments settle
/// components, and whether overpayment is allowed (administrators and head office). They apply
/// to every position computed afterwards, past dates included.
#[utoipa::path(
    tag = "products",
    operation_id = "replace_product",
    request_body = ProductSettings,
    params(("code" = String, Path, description = "The product as loans name it")),
    responses(
        (status = 200, description = "Stored", body = Product),
        (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Inconsistent settings", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/products/{code}")]
async fn replace_product(
    state: web::Data<AppState>,
    actor: Actor,
    code: web::Path<String>,
    body: JsonBody<ProductSettings>,
) -> Result<web::Json<Product>, ApiError> {
    if !matches!(actor.role, Role::Admin | Role::HeadOffice) {
        return Err(ApiError::forbidden(
            "only administrators and head office set product settings",
        ));
    }
    let code = crate::ledger::service::text("code", &code.into_inner(), 100)?;
    let settings = body.value;
    settings.validate()?;
    let row = write::change(&state, &actor, move |tx| {
        let row = ProductRow {
            code,
            settings: serde_json::to_string(&settings).map_err(ApiError::internal)?,
            updated_at: tx.now(),
            updated_by: tx.actor().to_owned(),
        };
        let created = product::put(tx, &row)?;
        tx.audit(
            if created {
                "product.create"
            } else {
                "product.replace"
            },
            "product",
            &row.code,
            &json!({ "settings": settings }),
        )?;
        Ok(row)
    })
    .await?;
    Ok(web::Json(view(row)?))
}
