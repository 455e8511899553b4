//! Listing a tenant's components and calling them.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::signature;

/// `GET /v1/tenants/{tenant}/components`
pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let components = state
        .tenants
        .get(&tenant)
        .ok_or_else(|| ApiError::not_found("unknown-tenant", format!("no tenant `{tenant}`")))?;
    let list: Vec<Value> = components
        .iter()
        .map(|(id, i)| {
            json!({"id": id, "name": i.name, "kind": i.component.kind(), "digest": i.component.digest()})
        })
        .collect();
    Ok(Json(json!({ "components": list })))
}

/// `GET /v1/tenants/{tenant}/components/{component}`
pub async fn describe(
    State(state): State<Arc<AppState>>,
    Path((tenant, component)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let installed = state.installed(&tenant, &component)?;
    let functions: Vec<Value> = installed
        .component
        .functions()
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
        "name": installed.name,
        "kind": installed.component.kind(),
        "digest": installed.component.digest(),
        "permissions": installed.grants,
        "limits": installed.limits,
        "functions": functions,
    })))
}

/// `POST /v1/tenants/{tenant}/components/{component}/{function}` with a JSON
/// object of the function's parameters; replies with its result.
pub async fn call(
    State(state): State<Arc<AppState>>,
    Path((tenant, component, function)): Path<(String, String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(args) = body.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-json",
            format!("the body must be a JSON object: {e}"),
        )
    })?;
    let installed = state.installed(&tenant, &component)?.clone();
    let call = state.call_context(&tenant, &installed);
    let runtime = state.runtime.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        runtime.invoke_json(
            &installed.component,
            &call,
            &installed.limits,
            &function,
            &args,
        )
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "invocation thread failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the host's log",
        )
    })??;
    let result = outcome.json();
    // A `result<T, error>` reply unwraps to T, or to the error envelope.
    match result.as_object().filter(|o| o.len() == 1) {
        Some(o) if o.contains_key("ok") => Ok((StatusCode::OK, Json(o["ok"].clone()))),
        Some(o) if o.contains_key("err") => Err(ApiError::from_component(&o["err"])),
        _ => Ok((StatusCode::OK, Json(result))),
    }
}
