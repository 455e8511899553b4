//! The HTTP layer, kept thin: it parses, calls the runtime on a blocking
//! thread, and maps typed errors to status codes and
//! `{"error": {"code", "message"}}` bodies. All routes are in [`app`].

mod error;
mod invoke;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::{CallContext, Grants, Limits, LoadedComponent, Runtime};

pub use error::ApiError;

/// A component a tenant can call, with what it was granted.
#[derive(Debug, Clone)]
pub struct Installed {
    /// `publisher/name`.
    pub name: String,
    /// The loaded component.
    pub component: Arc<LoadedComponent>,
    /// Its granted permissions.
    pub grants: Grants,
    /// The tenant's settings (JSON object).
    pub settings: Arc<str>,
    /// Its limits.
    pub limits: Limits,
}

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The runtime.
    pub runtime: Arc<Runtime>,
    /// Tenant → component short name (`livestream-booking`) → installation.
    pub tenants: BTreeMap<String, BTreeMap<String, Installed>>,
}

impl AppState {
    fn installed(&self, tenant: &str, component: &str) -> Result<&Installed, ApiError> {
        let components = self.tenants.get(tenant).ok_or_else(|| {
            ApiError::not_found("unknown-tenant", format!("no tenant `{tenant}`"))
        })?;
        components.get(component).ok_or_else(|| {
            ApiError::not_found(
                "unknown-component",
                format!("tenant `{tenant}` has no component `{component}` installed"),
            )
        })
    }

    fn call_context(&self, tenant: &str, installed: &Installed) -> Arc<CallContext> {
        Arc::new(CallContext {
            scope: mercato_registry::Scope::new(tenant, installed.name.clone()),
            grants: installed.grants.clone(),
            settings: installed.settings.clone(),
            track_events: true,
        })
    }
}

/// Every route.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/tenants/{tenant}/components", get(invoke::list))
        .route(
            "/v1/tenants/{tenant}/components/{component}",
            get(invoke::describe),
        )
        .route(
            "/v1/tenants/{tenant}/components/{component}/{function}",
            post(invoke::call),
        )
        .fallback(|| async { ApiError::not_found("no-route", "no such route".to_owned()) })
        .with_state(state)
}
