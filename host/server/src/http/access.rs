//! Which registry action each route is, and the check that applies the
//! registry's access table ([`mercato_registry::access`]) to a request
//! before its handler parses anything: a caller the table refuses gets
//! `403 forbidden` whatever body it sent, and a route missing from [`ROUTES`]
//! is refused for everyone (the access test fails on it first).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mercato_registry::access::{Action, On, Scope};

use super::{ApiError, Caller};
use crate::marketplace::Marketplace;

/// Every route of the API: method, path as routed, action.
pub const ROUTES: &[(&str, &str, Action)] = &[
    ("GET", "/healthz", Action::Observe),
    ("GET", "/metrics", Action::Observe),
    ("GET", "/v1/me", Action::ReadSelf),
    ("POST", "/v1/tenants", Action::CreateTenant),
    ("GET", "/v1/tenants", Action::ListTenants),
    ("GET", "/v1/tenants/{tenant}", Action::ReadTenant),
    (
        "GET",
        "/v1/tenants/{tenant}/limits",
        Action::ReadTenantLimits,
    ),
    (
        "PUT",
        "/v1/tenants/{tenant}/limits",
        Action::SetTenantLimits,
    ),
    ("POST", "/v1/accounts", Action::CreateAccount),
    ("GET", "/v1/accounts", Action::ListAccounts),
    ("POST", "/v1/accounts/{name}/tokens", Action::IssueToken),
    ("DELETE", "/v1/tokens/{id}", Action::RevokeToken),
    ("POST", "/v1/publishers", Action::CreatePublisher),
    ("GET", "/v1/publishers", Action::ListPublishers),
    ("GET", "/v1/publishers/{publisher}/keys", Action::ReadKeys),
    (
        "POST",
        "/v1/publishers/{publisher}/keys",
        Action::RegisterKey,
    ),
    (
        "POST",
        "/v1/publishers/{publisher}/keys/{key_id}/rotate",
        Action::RotateKey,
    ),
    (
        "POST",
        "/v1/publishers/{publisher}/keys/{key_id}/revoke",
        Action::RevokeKey,
    ),
    ("POST", "/v1/packages", Action::Publish),
    ("GET", "/v1/packages", Action::ListVersions),
    (
        "GET",
        "/v1/packages/{publisher}/{name}/{version}",
        Action::ReadVersion,
    ),
    (
        "POST",
        "/v1/packages/{publisher}/{name}/{version}/review",
        Action::Review,
    ),
    (
        "POST",
        "/v1/packages/{publisher}/{name}/{version}/yank",
        Action::Yank,
    ),
    ("GET", "/v1/catalog", Action::ReadCatalog),
    ("GET", "/v1/tenants/{tenant}/installs", Action::ListInstalls),
    ("POST", "/v1/tenants/{tenant}/installs", Action::Enable),
    (
        "GET",
        "/v1/tenants/{tenant}/installs/{id}",
        Action::ReadInstall,
    ),
    (
        "PATCH",
        "/v1/tenants/{tenant}/installs/{id}",
        Action::ChangeInstall,
    ),
    (
        "DELETE",
        "/v1/tenants/{tenant}/installs/{id}",
        Action::RemoveInstall,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/installs/{id}/upgrade",
        Action::Upgrade,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/installs/{id}/accept",
        Action::AcceptPermissions,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/installs/{id}/rollback",
        Action::Rollback,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/installs/{id}/rollouts",
        Action::StartRollout,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/installs/{id}/rollouts",
        Action::ReadRollouts,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/rollouts/{rollout}",
        Action::ReadRollouts,
    ),
    (
        "PATCH",
        "/v1/tenants/{tenant}/rollouts/{rollout}",
        Action::SteerRollout,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/rollouts/{rollout}/promote",
        Action::SteerRollout,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/rollouts/{rollout}/abort",
        Action::SteerRollout,
    ),
    (
        "PUT",
        "/v1/tenants/{tenant}/installs/{id}/recording",
        Action::Record,
    ),
    (
        "DELETE",
        "/v1/tenants/{tenant}/installs/{id}/recording",
        Action::Record,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/installs/{id}/recordings",
        Action::ReadRecordings,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/installs/{id}/replays",
        Action::Replay,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/installs/{id}/replays",
        Action::ReadReplays,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/replays/{replay}",
        Action::ReadReplays,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/replays/{replay}/report",
        Action::ReadReplays,
    ),
    (
        "GET",
        "/v1/packages/{publisher}/{name}/{version}/fixtures",
        Action::ReadVersion,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/components",
        Action::ListComponents,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/components/{component}",
        Action::DescribeComponent,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/components/{component}/{function}",
        Action::Call,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/customers",
        Action::ImportCustomers,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/customers",
        Action::ReadCustomers,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/customers/{id}",
        Action::ReadCustomers,
    ),
    (
        "DELETE",
        "/v1/tenants/{tenant}/customers/{id}",
        Action::EraseCustomer,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/customers/{id}/export",
        Action::ReadCustomers,
    ),
    ("GET", "/v1/tenants/{tenant}/events", Action::ReadEvents),
    (
        "GET",
        "/v1/tenants/{tenant}/approvals",
        Action::ReadApprovals,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/approvals/{id}/decide",
        Action::Decide,
    ),
    ("GET", "/v1/audit", Action::ReadAudit),
    ("GET", "/v1/audit/verify", Action::VerifyAudit),
];

static BY_ROUTE: LazyLock<HashMap<(&'static str, &'static str), Action>> =
    LazyLock::new(|| ROUTES.iter().map(|&(m, p, a)| ((m, p), a)).collect());

/// The action of a routed request, if the table has its route.
pub fn action(method: &Method, path: &str) -> Option<Action> {
    BY_ROUTE.get(&(method.as_str(), path)).copied()
}

/// The path parameter that names what a scope binds.
fn bound_by(scope: Scope) -> Option<&'static str> {
    match scope {
        Scope::Tenant => Some("tenant"),
        Scope::Publisher => Some("publisher"),
        Scope::Account => Some("name"),
        Scope::Public | Scope::Platform => None,
    }
}

/// Authenticate and apply the table, then hand the caller to the handler
/// (through [`Caller`]) so the token is resolved once.
pub async fn authorize(
    State(market): State<Arc<Marketplace>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let matched = parts.extensions.get::<MatchedPath>().map(|p| p.as_str());
    let Some(action) = matched.and_then(|p| action(&parts.method, p)) else {
        // A method the path does not serve: let the router answer 405.
        if matched.is_some_and(|p| ROUTES.iter().any(|&(_, path, _)| path == p)) {
            return next.run(Request::from_parts(parts, body)).await;
        }
        return ApiError::from(mercato_registry::RegistryError::Forbidden(
            "this route has no rule in the access table".to_owned(),
        ))
        .into_response();
    };
    let rule = action.rule();
    if rule.scope != Scope::Public {
        let caller = match Caller::from_request_parts(&mut parts, &market).await {
            Ok(Caller(principal)) => principal,
            Err(e) => return e.into_response(),
        };
        // A segment that is not UTF-8 leaves only the role to check here;
        // the handler refuses the path and the registry checks the rest.
        let params = RawPathParams::from_request_parts(&mut parts, &())
            .await
            .ok();
        let named = |key: &str| {
            params
                .as_ref()
                .and_then(|p| p.iter().find(|(k, _)| *k == key).map(|(_, v)| v))
        };
        let on = match (rule.scope, bound_by(rule.scope).and_then(named)) {
            (Scope::Tenant, Some(t)) => On::Tenant(t),
            (Scope::Publisher, Some(p)) => On::Publisher(p),
            (Scope::Account, Some(a)) => On::Account(a),
            _ => On::Platform,
        };
        if let Err(e) = caller.may(action, on) {
            return ApiError::from(e).into_response();
        }
        parts.extensions.insert(caller);
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The README's access table: every route, who may call it, what must match.
pub fn markdown() -> String {
    use mercato_registry::Role;
    let mut out = String::from(
        "| route | action | operator | developer | reviewer | director | rep | must match |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for &(method, path, action) in ROUTES {
        let rule = action.rule();
        out.push_str(&format!("| `{method} {path}` | {} |", rule.doing));
        for role in Role::ALL {
            out.push_str(if rule.allows(role) { " ✓ |" } else { " |" });
        }
        out.push_str(&format!(" {} |\n", rule.scope.describe()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_readme_shows_the_access_table() {
        let readme = include_str!("../../../../README.md");
        let table = super::markdown();
        assert!(
            readme.contains(&table),
            "README.md's access table differs from the routes and registry/src/access.rs; paste:\n{table}"
        );
    }
}
