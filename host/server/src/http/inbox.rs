//! The approvals inbox of a tenant, and the audit log.

use axum::Json;
use axum::extract::State;
use mercato_registry::delivery::DeliveryState;
use mercato_registry::inbox::{Answer, ApprovalQuery};
use serde::Deserialize;
use serde_json::json;

use super::{Body, Caller, Market, Path, Query, Reply};

/// Filter and page for the inbox.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InboxFilter {
    /// `pending`, `approved` or `rejected`.
    status: Option<String>,
    /// The page after this cursor (a previous reply's `next`).
    before: Option<String>,
    /// At most this many (default 100, at most 1000; a page also ends after 4 MiB).
    limit: Option<i64>,
}

/// Approval requests components of this tenant raised (its director,
/// operators).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/approvals", tag = "approvals", params(("tenant" = String, Path), InboxFilter),
    responses((status = 200, description = "`{\"approvals\": [...], \"next\": cursor or null}`, newest first", body = Value),
              (status = 403, description = "Not this tenant's director", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(m): Market,
    Caller(me): Caller,
    Path(tenant): Path<String>,
    Query(f): Query<InboxFilter>,
) -> Reply {
    let query = ApprovalQuery {
        status: f.status,
        before: f.before,
        limit: f.limit,
    };
    let page = m.registry().approvals(&me, &tenant, &query).await?;
    Ok(Json(json!({ "approvals": page.items, "next": page.next })))
}

/// Decide a pending request (the tenant's director); the component that
/// asked is told at once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/approvals/{id}/decide", tag = "approvals", request_body = Answer,
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{\"approval\": {..., \"delivery\": {state, reply, attempts, delivered_at}}, \"component\": <the component's answer, or null while the decision waits>}`; `delivery.state` is `accepted`, `refused` (the reply says why), `waiting` (delivered when the install is enabled again) or `failed`", body = Value),
              (status = 409, description = "Decided already", body = super::ErrorBody),
              (status = 422, description = "A rejection without a reason", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn decide(
    State(m): Market,
    Caller(me): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(answer): Body<Answer>,
) -> Reply {
    let approval = m.decide(&me, &tenant, &id, answer).await?;
    let reply = approval.delivery.reply.clone().filter(|_| {
        matches!(
            approval.delivery.state,
            DeliveryState::Accepted | DeliveryState::Refused
        )
    });
    Ok(Json(json!({ "approval": approval, "component": reply })))
}

/// Paging through the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditFilter {
    /// Only entries about this tenant (directors must give their own).
    tenant: Option<String>,
    /// Entries after this sequence number (default 0).
    after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<i64>,
}

/// Audit entries, oldest first (operators and reviewers: all; directors:
/// their tenant's).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditFilter),
    responses((status = 200, description = "`{\"entries\": [...]}`", body = Value),
              (status = 403, description = "Not allowed", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn entries(State(m): Market, Caller(me): Caller, Query(f): Query<AuditFilter>) -> Reply {
    let entries = m
        .registry()
        .audit_entries(
            &me,
            f.tenant.as_deref(),
            f.after.unwrap_or(0),
            f.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(json!({ "entries": entries })))
}

/// Walk the whole hash chain (operators, reviewers).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "`{\"ok\", \"entries\", \"head\", \"problems\": [...]}`", body = Value)),
    security(("bearer" = [])))]
pub async fn verify(State(m): Market, Caller(me): Caller) -> Reply {
    let report = m.registry().verify_audit(&me).await?;
    Ok(Json(
        json!({ "ok": report.ok(), "entries": report.entries, "head": report.head, "problems": report.problems }),
    ))
}
