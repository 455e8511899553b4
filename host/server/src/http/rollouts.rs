//! Canary rollouts of an install: start, read with guardrail figures, change
//! the share, promote, abort. The tenant's directors (operators read and
//! steer too).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mercato_registry::canaries::{CanaryAbort, CanaryShare, NewCanary};
use serde_json::{Value, json};

use super::{ApiError, Body, Caller, Market, Path, Reply};

/// Start a canary: an approved `version` serves `share` percent of the
/// install's units (sticky by unit), on the install's store and settings
/// (which the candidate validates first).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/installs/{id}/rollouts", tag = "rollouts", request_body = NewCanary,
    params(("tenant" = String, Path), ("id" = String, Path, description = "Install id")),
    responses((status = 201, description = "The rollout", body = Value),
              (status = 404, description = "No such install or version", body = super::ErrorBody),
              (status = 409, description = "A canary runs already; the version is not approved, is the current one, or asks for permissions not accepted", body = super::ErrorBody),
              (status = 422, description = "Share outside 0–100, or the candidate refused the settings", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn start(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(new): Body<NewCanary>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let rollout = m.start_rollout(&me, &tenant, &id, new).await?;
    Ok((StatusCode::CREATED, Json(json!(rollout))))
}

/// Every canary of an install, newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/installs/{id}/rollouts", tag = "rollouts",
    params(("tenant" = String, Path), ("id" = String, Path, description = "Install id")),
    responses((status = 200, description = "`{\"rollouts\": [...]}`", body = Value)),
    security(("bearer" = [])))]
pub async fn list(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Reply {
    Ok(Json(
        json!({"rollouts": m.registry().canaries(&me, &tenant, &id).await?}),
    ))
}

/// A rollout and its guardrail figures: per version calls, errors, limit
/// hits, latency and fuel; each comparison with its 95 % confidence
/// sequence; the sample-ratio check. Looking may abort an auto-abort canary
/// whose candidate is worse.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/rollouts/{rollout}", tag = "rollouts",
    params(("tenant" = String, Path), ("rollout" = String, Path)),
    responses((status = 200, description = "`{\"rollout\": {...}, \"figures\": {...}}`", body = Value),
              (status = 404, description = "No such rollout", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn status(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, rollout)): Path<(String, String)>,
) -> Reply {
    Ok(Json(m.rollout_status(&me, &tenant, &rollout).await?))
}

/// Change a running canary's share (units on the candidate stay there when
/// it grows; only those beyond it go back when it shrinks).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/rollouts/{rollout}", tag = "rollouts", request_body = CanaryShare,
    params(("tenant" = String, Path), ("rollout" = String, Path)),
    responses((status = 200, description = "The rollout", body = Value),
              (status = 409, description = "It ended", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn share(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, rollout)): Path<(String, String)>,
    Body(share): Body<CanaryShare>,
) -> Reply {
    Ok(Json(json!(
        m.set_rollout_share(&me, &tenant, &rollout, share.share)
            .await?
    )))
}

/// Promote: the install moves to the candidate; the figures are kept.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/rollouts/{rollout}/promote", tag = "rollouts",
    params(("tenant" = String, Path), ("rollout" = String, Path)),
    responses((status = 200, description = "`{\"rollout\", \"install\"}`", body = Value),
              (status = 409, description = "It ended", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn promote(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, rollout)): Path<(String, String)>,
) -> Reply {
    Ok(Json(m.promote_rollout(&me, &tenant, &rollout).await?))
}

/// Abort: every call goes back to the current version; the figures are kept.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/rollouts/{rollout}/abort", tag = "rollouts", request_body = CanaryAbort,
    params(("tenant" = String, Path), ("rollout" = String, Path)),
    responses((status = 200, description = "The rollout", body = Value),
              (status = 409, description = "It ended", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn abort(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, rollout)): Path<(String, String)>,
    Body(abort): Body<CanaryAbort>,
) -> Reply {
    Ok(Json(json!(
        m.abort_rollout(&me, &tenant, &rollout, abort.reason.as_deref())
            .await?
    )))
}
