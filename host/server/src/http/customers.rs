//! A tenant's customer profiles (import, read, erase) and the events its
//! components emitted (query, export as NDJSON or CSV).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mercato_registry::CustomerProfile;
use mercato_registry::RegistryError;
use mercato_registry::events::EventQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Caller, Market, Path, Query};

/// Import profiles (the tenant's director, operators): a JSON profile or
/// array of profiles, NDJSON (`application/x-ndjson`) or CSV (`text/csv`,
/// header `id,name,company,email,phone,address,tags`, tags `;`-separated).
/// All or nothing; existing ids are replaced.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/customers", tag = "customers",
    params(("tenant" = String, Path)),
    request_body(content = String, description = "JSON, NDJSON or CSV, by Content-Type"),
    responses((status = 200, description = "`{\"imported\": n}`", body = Value),
              (status = 403, description = "Not this tenant's director", body = super::ErrorBody),
              (status = 415, description = "Unsupported Content-Type", body = super::ErrorBody),
              (status = 422, description = "A record is invalid (record and field named)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn import(
    State(m): Market,
    Caller(me): Caller,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::from(RegistryError::Invalid {
            field: "body",
            message: "must be UTF-8".into(),
        })
    })?;
    let profiles = match kind.as_str() {
        "application/json" => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    serde_json::from_value::<CustomerProfile>(v).map_err(|e| {
                        RegistryError::Invalid {
                            field: "body",
                            message: format!("record {}: {e}", i + 1),
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Ok(v) => vec![serde_json::from_value::<CustomerProfile>(v).map_err(|e| {
                RegistryError::Invalid {
                    field: "body",
                    message: e.to_string(),
                }
            })?],
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad-json",
                    format!("the body must be JSON: {e}"),
                ));
            }
        },
        "application/x-ndjson" | "application/ndjson" => {
            mercato_registry::customers::from_ndjson(text)?
        }
        "text/csv" => mercato_registry::customers::from_csv(text)?,
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!(
                    "`{other}` is not importable; send application/json, application/x-ndjson or text/csv"
                ),
            ));
        }
    };
    let imported = m.import_customers(&me, &tenant, profiles).await?;
    Ok(Json(json!({ "imported": imported })))
}

/// Paging through profiles.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CustomerPage {
    /// Profiles with ids after this one.
    after: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<i64>,
}

/// Profiles, by id (the tenant's director, operators; whole, unmasked).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/customers", tag = "customers", params(("tenant" = String, Path), CustomerPage),
    responses((status = 200, description = "`{\"customers\": [...]}`", body = Value)),
    security(("bearer" = [])))]
pub async fn list(
    State(m): Market,
    Caller(me): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<CustomerPage>,
) -> Result<Json<Value>, ApiError> {
    let customers = m
        .registry()
        .customers(
            &me,
            &tenant,
            page.after.as_deref().unwrap_or(""),
            page.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?;
    Ok(Json(json!({ "customers": customers })))
}

/// One profile.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/customers/{id}", tag = "customers", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The profile", body = Value),
              (status = 404, description = "No such customer (or erased)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(m.registry().customer(&me, &tenant, &id).await?)))
}

/// Erase a customer on request: every installed component forgets what it
/// holds about them (through WIT 0.2's `forget-customer`; a 0.1 component
/// is listed as unable), then the profile and every event about them go, in
/// one audited change whose record is the report returned here.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/customers/{id}", tag = "customers", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{\"erased\": id, \"profile\": bool, \"events_removed\": n, \"components\": [{component, package, version, wit, outcome: done|unable|failed, removed: [{kind, count}], kept, reason}]}`", body = Value),
              (status = 404, description = "Nothing known about this customer", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn erase(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(m.erase_customer(&me, &tenant, &id).await?)))
}

/// The export's format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportFormat {
    /// `json` (default) or `ndjson`; `Accept: application/x-ndjson` also
    /// picks NDJSON.
    format: Option<String>,
}

/// Everything held about a customer (data portability): the profile, every
/// event about them, and each installed component's records (through WIT
/// 0.2's `export-customer`; a 0.1 component is listed as unable). As one
/// JSON document, or as NDJSON: a `profile` line, one line per `event`, one
/// per `approval` request about them, one per component `record`, and one
/// per `component` with its outcome.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/customers/{id}/export", tag = "customers",
    params(("tenant" = String, Path), ("id" = String, Path), ExportFormat),
    responses((status = 200, description = "`{\"customer\", \"profile\", \"events\": [...], \"components\": [{component, package, version, wit, outcome, records: [{kind, id, payload}]}]}`, or NDJSON", body = Value),
              (status = 400, description = "An unknown format", body = super::ErrorBody),
              (status = 404, description = "Nothing known about this customer", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Query(format): Query<ExportFormat>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let accepts_ndjson = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/x-ndjson"));
    let ndjson = match format.format.as_deref() {
        None => accepts_ndjson,
        Some("json") => false,
        Some("ndjson") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad-query",
                format!("`format={other}` is not one of json, ndjson"),
            ));
        }
    };
    let export = m.export_customer(&me, &tenant, &id).await?;
    if !ndjson {
        return Ok(Json(json!(export)).into_response());
    }
    let mut lines: Vec<Value> = Vec::new();
    lines.push(json!({"type": "profile", "customer": export.customer, "profile": export.profile}));
    for event in &export.events {
        lines.push(json!({"type": "event", "event": event}));
    }
    for approval in &export.approvals {
        lines.push(json!({"type": "approval", "approval": approval}));
    }
    for part in &export.components {
        for record in part.records.iter().flatten() {
            lines.push(json!({"type": "record", "component": part.component, "record": record}));
        }
        let mut summary = json!(part);
        if let Some(fields) = summary.as_object_mut() {
            fields.remove("records");
        }
        lines.push(json!({"type": "component", "component": summary}));
    }
    let mut body = String::new();
    for line in lines {
        body.push_str(&line.to_string());
        body.push('\n');
    }
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8")],
        body,
    )
        .into_response())
}

/// Event filters and the export format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventFilter {
    /// Only this install.
    component: Option<String>,
    /// Only this event name.
    name: Option<String>,
    /// Only about this customer.
    customer: Option<String>,
    /// From this time, ms since the epoch (inclusive).
    from: Option<i64>,
    /// Before this time (exclusive).
    to: Option<i64>,
    /// After this event id (paging).
    after: Option<i64>,
    /// At most this many (default 1000, at most 10 000; a page also ends
    /// after 4 MiB). `next_after` in the reply continues.
    limit: Option<i64>,
    /// `json` (default), `ndjson` or `csv`.
    format: Option<String>,
}

/// Events the tenant's components emitted, oldest first (its director,
/// operators); `format=ndjson|csv` exports them.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/events", tag = "customers", params(("tenant" = String, Path), EventFilter),
    responses((status = 200, description = "`{\"events\": [...]}`, or NDJSON / CSV", body = Value),
              (status = 422, description = "A bad filter (named)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(m): Market,
    Caller(me): Caller,
    Path(tenant): Path<String>,
    Query(f): Query<EventFilter>,
) -> Result<Response, ApiError> {
    let query = EventQuery {
        component: f.component,
        name: f.name,
        customer: f.customer,
        from: f.from,
        to: f.to,
        after: f.after,
        limit: f.limit,
    };
    let page = m.registry().events(&me, &tenant, &query).await?;
    let events = page.events;
    match f.format.as_deref().unwrap_or("json") {
        "json" => {
            Ok(Json(json!({ "events": events, "next_after": page.next_after })).into_response())
        }
        "ndjson" => {
            let mut out = String::new();
            for e in &events {
                out.push_str(&serde_json::to_string(e).unwrap_or_default());
                out.push('\n');
            }
            Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response())
        }
        "csv" => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            mercato_registry::events::to_csv(&events)?,
        )
            .into_response()),
        other => Err(RegistryError::Invalid {
            field: "format",
            message: format!("`{other}` is not one of json, ndjson, csv"),
        }
        .into()),
    }
}
