//! Package versions: upload, review queue, review, yank, the catalog.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use mercato_registry::Decision;
use mercato_registry::versions::{MAX_PACKAGE_BYTES, VersionState, parse_version};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Body, Caller, Market, Path, Query};

/// Upload a signed package file (the publisher's developers). Checked in
/// order: size, structure, manifest, signature, key and publisher, version
/// greater than every earlier one, limits within the platform's caps, and
/// the component implementing its kind's world. Nothing is stored on refusal.
#[utoipa::path(post, path = "/v1/packages", tag = "packages",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The package file `mercato pack` wrote"),
    responses((status = 201, description = "The version, `submitted`", body = Value),
              (status = 400, description = "Not a package", body = super::ErrorBody),
              (status = 403, description = "Unknown, retired or revoked key; another publisher's name", body = super::ErrorBody),
              (status = 409, description = "Version not greater than the last", body = super::ErrorBody),
              (status = 413, description = "Too large", body = super::ErrorBody),
              (status = 415, description = "Not sent as application/octet-stream", body = super::ErrorBody),
              (status = 422, description = "Bad signature, invalid manifest, not a component of its kind, limits above caps", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(m): Market,
    Caller(me): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !declared.starts_with("application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!(
                "a package is sent as `Content-Type: application/octet-stream`, not `{declared}`"
            ),
        ));
    }
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(super::error::content_length(&headers), MAX_PACKAGE_BYTES)
        } else {
            ApiError::new(e.status(), "bad-body", e.body_text())
        }
    })?;
    let version = m.publish(&me, bytes.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(json!(version))))
}

/// Filters for the version list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct VersionFilter {
    /// `submitted` (the review queue), `approved`, `rejected` or `yanked`.
    state: Option<String>,
    /// Only this package (`publisher/name`).
    name: Option<String>,
}

/// Versions the caller may see: reviewers and operators all, developers
/// their publisher's, directors and reps approved ones.
#[utoipa::path(get, path = "/v1/packages", tag = "packages", params(VersionFilter),
    responses((status = 200, description = "`{\"versions\": [...]}`, newest upload first", body = Value)),
    security(("bearer" = [])))]
pub async fn list(
    State(m): Market,
    Caller(me): Caller,
    Query(f): Query<VersionFilter>,
) -> Result<Json<Value>, ApiError> {
    let state = f
        .state
        .as_deref()
        .map(VersionState::parse_filter)
        .transpose()?;
    let versions = m.registry().versions(&me, state, f.name.as_deref()).await?;
    Ok(Json(json!({ "versions": versions })))
}

/// One version: manifest, permissions, limits, state, and what it changes
/// against the last approved version (permissions added and removed, limits).
#[utoipa::path(get, path = "/v1/packages/{publisher}/{name}/{version}", tag = "packages",
    params(("publisher" = String, Path), ("name" = String, Path), ("version" = String, Path, description = "Semantic version")),
    responses((status = 200, description = "`{\"version\": {...}, \"changes\": {...}}`", body = Value),
              (status = 404, description = "No such version (or not visible)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(m): Market,
    Caller(me): Caller,
    Path((publisher, name, version)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let version = parse_version("version", &version)?;
    let (v, changes) = m
        .registry()
        .version(&me, &format!("{publisher}/{name}"), &version)
        .await?;
    Ok(Json(json!({ "version": v, "changes": changes })))
}

/// A reviewer's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// `approve` or `reject`.
    decision: Decision,
    /// Why; required for a rejection.
    #[serde(default)]
    reason: Option<String>,
}

/// Approve or reject a submitted version (reviewers). Approval rolls it out
/// to tenants following a matching range, except where it needs permissions
/// their director has not accepted.
#[utoipa::path(post, path = "/v1/packages/{publisher}/{name}/{version}/review", tag = "packages", request_body = Review,
    params(("publisher" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "`{\"version\": {...}, \"rollout\": {\"upgraded\", \"awaiting_acceptance\"}}`", body = Value),
              (status = 403, description = "Not a reviewer", body = super::ErrorBody),
              (status = 409, description = "Not submitted", body = super::ErrorBody),
              (status = 422, description = "A rejection without a reason", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn review(
    State(m): Market,
    Caller(me): Caller,
    Path((publisher, name, version)): Path<(String, String, String)>,
    Body(review): Body<Review>,
) -> Result<Json<Value>, ApiError> {
    let version = parse_version("version", &version)?;
    let (v, rollout) = m
        .review(
            &me,
            &format!("{publisher}/{name}"),
            &version,
            review.decision,
            review.reason,
        )
        .await?;
    Ok(Json(json!({ "version": v, "rollout": rollout })))
}

/// Why a version is yanked.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Yank {
    /// Shown to tenants running it.
    #[serde(default)]
    reason: Option<String>,
}

/// Withdraw an approved version from the catalog (reviewers, operators, the
/// publisher's developers). Tenants running it keep running it.
#[utoipa::path(post, path = "/v1/packages/{publisher}/{name}/{version}/yank", tag = "packages", request_body = Yank,
    params(("publisher" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "The version, `yanked`", body = Value),
              (status = 409, description = "Not approved", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn yank(
    State(m): Market,
    Caller(me): Caller,
    Path((publisher, name, version)): Path<(String, String, String)>,
    Body(yank): Body<Yank>,
) -> Result<Json<Value>, ApiError> {
    let version = parse_version("version", &version)?;
    let v = m
        .yank(&me, &format!("{publisher}/{name}"), &version, yank.reason)
        .await?;
    Ok(Json(json!(v)))
}

/// The catalog: approved, unyanked versions, one entry per package.
#[utoipa::path(get, path = "/v1/catalog", tag = "packages",
    responses((status = 200, description = "`{\"packages\": [{name, kind, description, latest, permissions, versions}]}`", body = Value)),
    security(("bearer" = [])))]
pub async fn catalog(State(m): Market, Caller(me): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "packages": m.registry().catalog(&me).await? }),
    ))
}
