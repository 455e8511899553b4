//! A tenant's callable components, and calling them.

use crate::marketplace::MarketError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mercato_registry::RegistryError;

use crate::marketplace::canary::Route;
use mercato_registry::access::{Action, On};
use serde_json::{Value, json};

use super::{ApiError, Body, Caller, Market, Path};
use mercato_runtime::signature;

/// The tenant's enabled components (its directors and reps, operators).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/components", tag = "components",
    params(("tenant" = String, Path)),
    responses((status = 200, description = "`{\"components\": [{id, package, version, kind, enabled}]}`", body = Value),
              (status = 403, description = "Another tenant's account", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(m): Market,
    Caller(me): Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let installs = m.registry().components(&me, &tenant).await?;
    let list: Vec<Value> = installs
        .iter()
        .map(|i| json!({"id": i.id, "package": i.package, "version": i.version, "enabled": i.enabled}))
        .collect();
    Ok(Json(json!({ "components": list })))
}

/// One component: its kind, version, permissions, limits and every function
/// with its parameters and result in WIT notation.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/components/{component}", tag = "components",
    params(("tenant" = String, Path), ("component" = String, Path, description = "Install id")),
    responses((status = 200, description = "The component and its functions", body = Value),
              (status = 404, description = "Not installed", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn describe(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, component)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    me.may(Action::DescribeComponent, On::Tenant(&tenant))?;
    let active = m.active(&tenant, &component).await?;
    let functions: Vec<Value> = active
        .component
        .functions()
        .filter(|f| !crate::marketplace::HOST_ONLY.contains(&f.name.as_str()))
        .map(|f| {
            let params: Vec<Value> = f
                .params
                .iter()
                .map(|(n, t)| json!({"name": n, "type": signature::render(t)}))
                .collect();
            let result = f.results.first().map(signature::render);
            json!({"name": f.name, "interface": f.interface, "params": params, "result": result})
        })
        .collect();
    Ok(Json(json!({
        "id": component,
        "package": active.install.package,
        "version": active.install.version,
        "enabled": active.install.enabled,
        "kind": active.component.kind(),
        "wit": active.component.wit().package(),
        "digest": active.component.digest(),
        "permissions": active.call.grants,
        "limits": active.limits,
        "functions": functions,
    })))
}

/// Call a function: the body is a JSON object keyed by the WIT function's
/// parameter names, the reply its result (a `result<T, error>` unwraps to T,
/// or to the error envelope with the component's error).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/components/{component}/{function}", tag = "components",
    params(("tenant" = String, Path), ("component" = String, Path, description = "Install id"),
           ("function" = String, Path, description = "WIT function name, e.g. `book`")),
    request_body(content = Value, description = "Arguments keyed by parameter name"),
    responses((status = 200, description = "The function's result", body = Value),
              (status = 202, description = "A guard of the install held the call for a director: `{\"held\": true, \"approval\": {...}}`; it runs when approved", body = Value),
              (status = 400, description = "Arguments do not fit the parameters (the path is named)", body = super::ErrorBody),
              (status = 403, description = "Not this tenant's director or rep", body = super::ErrorBody),
              (status = 404, description = "No such component or function; or the component's `not-found`", body = super::ErrorBody),
              (status = 409, description = "Disabled; or the component's `conflict`", body = super::ErrorBody),
              (status = 422, description = "The component refused the input (fields named)", body = super::ErrorBody),
              (status = 502, description = "The component ran into a limit, a permission or a fault", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn call(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, component, function)): Path<(String, String, String)>,
    headers: HeaderMap,
    Body(args): Body<Value>,
) -> Result<Response, ApiError> {
    let header = |name: &str| -> Result<Option<String>, ApiError> {
        headers
            .get(name)
            .map(|v| {
                v.to_str().map(|s| s.trim().to_owned()).map_err(|_| {
                    ApiError::from(RegistryError::invalid(
                        "headers",
                        format!("`{name}` is not visible ASCII"),
                    ))
                })
            })
            .transpose()
    };
    let route = Route {
        unit: header(UNIT_HEADER)?,
        force: header(VERSION_HEADER)?,
    };
    let served = match m
        .invoke_routed(&me, &tenant, &component, &function, args, &route)
        .await
    {
        // A guard held it: accepted for a decision, not run.
        Err(MarketError::Held(approval)) => {
            return Ok((
                StatusCode::ACCEPTED,
                Json(serde_json::json!({"held": true, "approval": approval})),
            )
                .into_response());
        }
        other => other?,
    };
    let result = served.outcome.json();
    let version = [(VERSION_HEADER, served.version.to_string())];
    match result.as_object().filter(|o| o.len() == 1) {
        Some(o) if o.contains_key("ok") => {
            Ok((StatusCode::OK, version, Json(o["ok"].clone())).into_response())
        }
        Some(o) if o.contains_key("err") => {
            Ok((version, ApiError::from_component(&o["err"])).into_response())
        }
        _ => Ok((StatusCode::OK, version, Json(result)).into_response()),
    }
}

/// The unit a call is for, when its arguments name none (canary assignment).
pub const UNIT_HEADER: &str = "x-mercato-unit";
/// On a request: force a version (`candidate`, `current`, or the version;
/// directors only). On a reply: the version that served the call.
pub const VERSION_HEADER: &str = "x-mercato-version";
