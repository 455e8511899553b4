//! A tenant's installs: enable, configure, disable, upgrade, accept new
//! permissions, roll back, remove. Directors of the tenant and operators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mercato_registry::versions::parse_version;
use mercato_registry::{InstallUpdate, NewInstall, UpgradeRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Body, Caller, Market, Path, Reply};

/// A tenant's installs with versions, pending upgrades and settings.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/installs", tag = "installs",
    params(("tenant" = String, Path)),
    responses((status = 200, description = "`{\"installs\": [...]}`", body = Value),
              (status = 403, description = "Another tenant's account", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(m): Market, Caller(me): Caller, Path(tenant): Path<String>) -> Reply {
    Ok(Json(
        json!({ "installs": m.registry().installs(&me, &tenant).await? }),
    ))
}

/// Enable an approved package: pin `version` or `follow` a range; the
/// component validates `settings` first.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/installs", tag = "installs", request_body = NewInstall,
    params(("tenant" = String, Path)),
    responses((status = 201, description = "The install", body = Value),
              (status = 403, description = "Not this tenant's director", body = super::ErrorBody),
              (status = 404, description = "No approved version matches", body = super::ErrorBody),
              (status = 409, description = "The id is taken", body = super::ErrorBody),
              (status = 422, description = "Settings refused (fields named)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(m): Market,
    Caller(me): Caller,
    Path(tenant): Path<String>,
    Body(new): Body<NewInstall>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let install = m.install(&me, &tenant, new).await?;
    Ok((StatusCode::CREATED, Json(json!(install))))
}

/// One install.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/installs/{id}", tag = "installs",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The install", body = Value),
              (status = 404, description = "No such install", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Reply {
    Ok(Json(json!(
        m.registry().install_of(&me, &tenant, &id).await?
    )))
}

/// Enable or disable calls, switch event tracking, change settings. Takes
/// effect for the next call.
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/installs/{id}", tag = "installs", request_body = InstallUpdate,
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The install", body = Value),
              (status = 422, description = "Settings refused (fields named)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(update): Body<InstallUpdate>,
) -> Reply {
    Ok(Json(json!(m.update(&me, &tenant, &id, update).await?)))
}

/// Remove an install (its stored data is kept).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/installs/{id}", tag = "installs",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such install", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    m.uninstall(&me, &tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Move to a newer version: an exact `version`, or the newest matching
/// `follow` (or the current range). A version asking for permissions not
/// yet accepted waits (`awaiting-acceptance`).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/installs/{id}/upgrade", tag = "installs", request_body = UpgradeRequest,
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{\"status\": \"upgraded\"|\"awaiting-acceptance\", \"permissions_added\", \"install\"}`", body = Value),
              (status = 409, description = "Nothing newer", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn upgrade(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(request): Body<UpgradeRequest>,
) -> Reply {
    Ok(Json(json!(m.upgrade(&me, &tenant, &id, request).await?)))
}

/// A version to accept or roll back to.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionChoice {
    /// The exact version.
    version: String,
}

/// Accept the permissions of the version waiting for acceptance, and move to
/// it (the tenant's director).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/installs/{id}/accept", tag = "installs", request_body = VersionChoice,
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{\"status\": \"upgraded\", ...}`", body = Value),
              (status = 409, description = "That version is not pending", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn accept(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(choice): Body<VersionChoice>,
) -> Reply {
    let version = parse_version("version", &choice.version)?;
    Ok(Json(json!(m.accept(&me, &tenant, &id, &version).await?)))
}

/// Roll back to a version this install ran before (still approved); pins it.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/installs/{id}/rollback", tag = "installs", request_body = VersionChoice,
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The install", body = Value),
              (status = 409, description = "Never ran that version, or it is no longer approved", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn rollback(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(choice): Body<VersionChoice>,
) -> Reply {
    let version = parse_version("version", &choice.version)?;
    Ok(Json(json!(m.rollback(&me, &tenant, &id, &version).await?)))
}
