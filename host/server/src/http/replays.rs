//! Recording an install's calls and replaying them against a candidate
//! version; a version's fixture calls replayed for its review. Recordings
//! and replays are the tenant's directors' alone.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mercato_registry::recordings::{MAX_CALLS, Recording};
use mercato_registry::replays::ReplayState;
use mercato_registry::versions::parse_version;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Body, Caller, Market, Path, Query, Reply};
use crate::marketplace::replay::ReplayRequest;

/// Switch recording on (or change its ring): the install's calls, masked,
/// are kept up to `calls` of them for `retention_hours`, while its tracking
/// is on.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/installs/{id}/recording", tag = "replays", request_body = Recording,
    params(("tenant" = String, Path), ("id" = String, Path, description = "Install id")),
    responses((status = 200, description = "`{\"recording\": {calls, retention_hours}}`", body = Value),
              (status = 404, description = "No such install", body = super::ErrorBody),
              (status = 422, description = "A size above the platform's caps", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn record(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(recording): Body<Recording>,
) -> Reply {
    let set = m.set_recording(&me, &tenant, &id, Some(recording)).await?;
    Ok(Json(json!({ "recording": set })))
}

/// Switch recording off; what the ring held is deleted.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/installs/{id}/recording", tag = "replays",
    params(("tenant" = String, Path), ("id" = String, Path, description = "Install id")),
    responses((status = 200, description = "`{\"recording\": null}`", body = Value),
              (status = 404, description = "No such install", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn stop_recording(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Reply {
    m.set_recording(&me, &tenant, &id, None).await?;
    Ok(Json(json!({ "recording": null })))
}

/// How many recorded calls to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecordingPage {
    /// The newest this many (default and most: the platform's ring cap).
    pub limit: Option<u32>,
}

/// The install's recorded calls, oldest first, masked.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/installs/{id}/recordings", tag = "replays",
    params(("tenant" = String, Path), ("id" = String, Path, description = "Install id"), RecordingPage),
    responses((status = 200, description = "`{\"recording\": {...}|null, \"calls\": [...]}`", body = Value),
              (status = 404, description = "No such install", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn recordings(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Query(page): Query<RecordingPage>,
) -> Reply {
    let calls = m
        .recorded_calls(&me, &tenant, &id, page.limit.unwrap_or(MAX_CALLS))
        .await?;
    let install = m.registry().installed(&tenant, &id).await?;
    Ok(Json(
        json!({ "recording": install.recording, "tracking": install.tracking, "calls": calls }),
    ))
}

/// Start replaying the install's recorded calls against `candidate`, beside
/// the current version, each on its own copy of the install's state.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/installs/{id}/replays", tag = "replays", request_body = ReplayRequest,
    params(("tenant" = String, Path), ("id" = String, Path, description = "Install id")),
    responses((status = 202, description = "The replay, running", body = mercato_registry::replays::Replay),
              (status = 404, description = "No such install or version", body = super::ErrorBody),
              (status = 409, description = "Nothing recorded, or the version is not approved", body = super::ErrorBody),
              (status = 422, description = "The candidate is the current version, or not a version", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn start(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(request): Body<ReplayRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let replay = m.start_replay(&me, &tenant, &id, request).await?;
    Ok((StatusCode::ACCEPTED, Json(json!(replay))))
}

/// The install's replays, newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/installs/{id}/replays", tag = "replays",
    params(("tenant" = String, Path), ("id" = String, Path, description = "Install id")),
    responses((status = 200, description = "`{\"replays\": [...]}`", body = Value)),
    security(("bearer" = [])))]
pub async fn list(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Reply {
    Ok(Json(
        json!({ "replays": m.registry().replays(&me, &tenant, &id).await? }),
    ))
}

/// A replay's state: `running`, `finished` or `failed` (with the error).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/replays/{replay}", tag = "replays",
    params(("tenant" = String, Path), ("replay" = String, Path)),
    responses((status = 200, description = "The replay", body = mercato_registry::replays::Replay),
              (status = 404, description = "No such replay", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn status(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, replay)): Path<(String, String)>,
) -> Reply {
    Ok(Json(json!(m.replay(&me, &tenant, &replay, false).await?)))
}

/// A finished replay's report: calls replayed, identical results, every
/// other result with a structured diff, new errors and limit hits, fuel,
/// latency and memory per side (p50, p95, max) and the candidate's deltas,
/// and the events and approvals each side captured.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/replays/{replay}/report", tag = "replays",
    params(("tenant" = String, Path), ("replay" = String, Path)),
    responses((status = 200, description = "`{\"replay\": {...}, \"report\": {...}}`", body = Value),
              (status = 404, description = "No such replay", body = super::ErrorBody),
              (status = 409, description = "Still running, or it failed", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, replay)): Path<(String, String)>,
) -> Reply {
    let mut found = m.replay(&me, &tenant, &replay, true).await?;
    match found.state {
        ReplayState::Finished => {
            let report = found.report.take();
            Ok(Json(json!({ "replay": found, "report": report })))
        }
        ReplayState::Running => Err(ApiError::new(
            StatusCode::CONFLICT,
            "replay-running",
            format!("replay {replay} is still running; its report follows when it finishes"),
        )),
        ReplayState::Failed => Err(ApiError::new(
            StatusCode::CONFLICT,
            "replay-failed",
            format!(
                "replay {replay} failed: {}",
                found.error.as_deref().unwrap_or("no reason was kept")
            ),
        )),
    }
}

/// A version's fixture calls (shipped in its signed package) replayed
/// against the last approved version before it, from empty state: what the
/// reviewer sees on the review page.
#[utoipa::path(get, path = "/v1/packages/{publisher}/{name}/{version}/fixtures", tag = "replays",
    params(("publisher" = String, Path), ("name" = String, Path), ("version" = String, Path, description = "Semantic version")),
    responses((status = 200, description = "`{\"report\": {...}}` (`calls: 0` without fixtures)", body = Value),
              (status = 404, description = "No such version (or not visible)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn fixtures(
    State(m): Market,
    Caller(me): Caller,
    Path((publisher, name, version)): Path<(String, String, String)>,
) -> Reply {
    let version = parse_version("version", &version)?;
    let report = m
        .fixture_replay(&me, &format!("{publisher}/{name}"), &version)
        .await?;
    Ok(Json(json!({ "report": report })))
}
