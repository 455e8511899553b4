//! The HTTP API, kept thin: it authenticates, parses, calls the marketplace
//! (registry and runtime) and maps typed errors to status codes and
//! `{"error": {"code", "message"}}` bodies. Every route is in [`app`], and
//! every route is registered through its OpenAPI description, so
//! `/v1/openapi.json` cannot miss one.

pub mod access;
mod admin;
mod auth;
mod customers;
mod drain;
mod error;
mod extract;
mod inbox;
mod installs;
mod invoke;
mod packages;
mod replays;
mod rollouts;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::Caller;
pub use error::ApiError;
pub use extract::{Body, Path, Query};

use crate::marketplace::Marketplace;

/// What every handler reaches the marketplace through.
type Market = State<Arc<Marketplace>>;
/// A JSON reply or an error envelope.
type Reply = Result<axum::Json<serde_json::Value>, ApiError>;

/// The error envelope every refusal uses.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, kebab-case (`forbidden`, `revoked-key`, `invalid-settings`).
    code: String,
    /// For people: names what was wrong.
    message: String,
    /// For some codes: `fields` (each `{field, message}`) or the `limit` hit.
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mercato",
        description = "Marketplace and sandboxed runtime for sales components. Every route under \
                       /v1 takes `Authorization: Bearer <token>`; errors are \
                       `{\"error\": {\"code\", \"message\"}}`.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "components", description = "Calling a tenant's components"),
        (name = "installs", description = "Directors enabling, configuring, upgrading, rolling back"),
        (name = "rollouts", description = "Canaries of a version on a share of a tenant's calls, with guardrails"),
        (name = "replays", description = "Recording an install's calls and replaying them (or a package's fixtures) against a candidate version"),
        (name = "approvals", description = "A tenant's approvals inbox"),
        (name = "customers", description = "A tenant's customer profiles and events"),
        (name = "packages", description = "Publishing and reviewing versions; the catalog"),
        (name = "publishers", description = "Publishers and signing keys"),
        (name = "tenants", description = "Tenants"),
        (name = "accounts", description = "Accounts and tokens"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("mrc_…")
                    .build(),
            ),
        );
    }
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`ok`", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// Invocation metrics in Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", body = String)))]
async fn metrics(State(m): State<Arc<Marketplace>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.metrics().render(),
    )
}

/// The router and the OpenAPI document describing it, built together.
fn documented() -> (Router<Arc<Marketplace>>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(admin::me))
        .routes(routes!(admin::create_tenant, admin::tenants))
        .routes(routes!(admin::tenant))
        .routes(routes!(admin::tenant_limits, admin::set_tenant_limits))
        .routes(routes!(admin::create_account, admin::accounts))
        .routes(routes!(admin::issue_token))
        .routes(routes!(admin::revoke_token))
        .routes(routes!(admin::create_publisher, admin::publishers))
        .routes(routes!(admin::keys, admin::register_key))
        .routes(routes!(admin::rotate_key))
        .routes(routes!(admin::revoke_key))
        .routes(routes!(packages::upload, packages::list))
        .routes(routes!(packages::get))
        .routes(routes!(packages::review))
        .routes(routes!(packages::yank))
        .routes(routes!(packages::catalog))
        .routes(routes!(installs::list, installs::create))
        .routes(routes!(installs::get, installs::update, installs::remove))
        .routes(routes!(installs::upgrade))
        .routes(routes!(installs::accept))
        .routes(routes!(installs::rollback))
        .routes(routes!(rollouts::list, rollouts::start))
        .routes(routes!(rollouts::status, rollouts::share))
        .routes(routes!(rollouts::promote))
        .routes(routes!(rollouts::abort))
        .routes(routes!(replays::record, replays::stop_recording))
        .routes(routes!(replays::recordings))
        .routes(routes!(replays::start, replays::list))
        .routes(routes!(replays::status))
        .routes(routes!(replays::report))
        .routes(routes!(replays::fixtures))
        .routes(routes!(invoke::list))
        .routes(routes!(invoke::describe))
        .routes(routes!(invoke::call))
        .routes(routes!(customers::import, customers::list))
        .routes(routes!(customers::get, customers::erase))
        .routes(routes!(customers::export))
        .routes(routes!(customers::events))
        .routes(routes!(inbox::list))
        .routes(routes!(inbox::decide))
        .routes(routes!(inbox::entries))
        .routes(routes!(inbox::verify))
        .split_for_parts()
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().1
}

/// Every route.
pub fn app(market: Arc<Marketplace>) -> Router {
    let (router, doc) = documented();
    let doc = Arc::new(doc);
    router
        .route_layer(axum::middleware::from_fn_with_state(
            market.clone(),
            access::authorize,
        ))
        .layer(axum::middleware::from_fn(error::envelope))
        .merge(crate::console::routes())
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        // Packages are the largest bodies; the upload handler turns a body
        // over the limit into a `too-large` error naming the cap.
        .layer(DefaultBodyLimit::max(
            mercato_registry::versions::MAX_PACKAGE_BYTES,
        ))
        .fallback(|| async { ApiError::not_found("no-route", "no such route".to_owned()) })
        .layer(axum::middleware::from_fn(extract::refuse_nul))
        // Outermost, so every early refusal above still lets the client
        // finish sending and read the answer.
        .layer(axum::middleware::from_fn(drain::unread_bodies))
        .with_state(market)
}
