//! The web console at `/`: pages rendered on the server from askama
//! templates, for every role, on the API's origin. Sign-in by token (or a
//! one-time link) into an `HttpOnly`, `SameSite=Strict` session cookie;
//! every form carries the session's CSRF token; every page asks the
//! registry the same role and tenant questions the API does, through the
//! same marketplace. Words come from one catalog per language
//! ([`i18n`]), Simplified Chinese first.
//!
//! Must not decide anything itself: who may do what is the registry's, what
//! happens is the marketplace's; pages only gather, show and post.

mod assets;
mod chart;
mod customers;
mod dashboard;
mod developer;
mod director;
mod guards;
mod i18n;
mod inbox;
mod operator;
mod page;
mod review;
mod rollout;
mod session;
mod settings_form;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use i18n::{Catalog, Lang};
pub use page::{Chrome, ConsoleError, Viewer};

use crate::marketplace::Marketplace;

/// The console's routes.
pub fn routes() -> Router<Arc<Marketplace>> {
    Router::new()
        .route("/", get(page::home))
        .route(
            "/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/sign-in/link", get(session::sign_in_link))
        .route("/sign-out", post(session::sign_out))
        .route("/language/{tag}", get(session::language))
        .route("/assets/console.css", get(assets::css))
        .route("/review", get(review::queue))
        .route(
            "/review/{publisher}/{name}/{version}",
            get(review::page).post(review::decide),
        )
        .route("/catalog", get(director::catalog))
        .route("/admin", get(operator::admin).post(operator::act))
        .route(
            "/admin/accounts/{name}",
            get(operator::account).post(operator::revoke_token),
        )
        .route("/admin/audit", get(operator::audit))
        .route("/admin/metrics", get(operator::metrics))
        .route("/publishers/{publisher}", get(developer::publisher))
        .route("/publishers/{publisher}/keys", post(developer::keys))
        .route("/publishers/{publisher}/upload", post(developer::upload))
        .route(
            "/tenants/{tenant}/installs",
            get(director::installs).post(director::enable),
        )
        .route("/tenants/{tenant}/installs/{id}", post(director::act))
        .route("/tenants/{tenant}/approvals", get(inbox::inbox))
        .route("/tenants/{tenant}/experiments", get(dashboard::list))
        .route(
            "/tenants/{tenant}/experiments/{install}/{key}",
            get(dashboard::experiment),
        )
        .route("/tenants/{tenant}/events", get(customers::events))
        .route("/tenants/{tenant}/events.csv", get(customers::events_csv))
        .route("/tenants/{tenant}/customers", get(customers::customers))
        .route(
            "/tenants/{tenant}/customers/import",
            post(customers::import),
        )
        .route(
            "/tenants/{tenant}/customers/{id}/erase",
            post(customers::erase),
        )
        .route("/tenants/{tenant}/approvals/{id}", post(inbox::decide))
        .route(
            "/tenants/{tenant}/installs/{id}/settings",
            get(director::settings).post(director::save_settings),
        )
        .route(
            "/tenants/{tenant}/installs/{id}/guards",
            post(guards::change),
        )
        .route(
            "/tenants/{tenant}/installs/{id}/versions",
            get(director::versions).post(director::move_version),
        )
        .route(
            "/tenants/{tenant}/installs/{id}/rollout",
            get(rollout::page).post(rollout::act),
        )
        .route("/tenants/{tenant}/replays/{id}", get(rollout::replay))
}
