//! Platform administration: who am I, tenants, accounts, tokens,
//! publishers and their keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mercato_registry::{NewAccount, NewKey, NewTenant};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Body, Caller, Market, Path, Query, Reply};

type Created = Result<(StatusCode, Json<Value>), ApiError>;

fn to_json(value: impl serde::Serialize) -> Json<Value> {
    Json(serde_json::to_value(value).unwrap_or(Value::Null))
}

/// The account behind the token.
#[utoipa::path(get, path = "/v1/me", tag = "accounts",
    responses((status = 200, description = "The caller's account, role, tenant and publisher", body = Value),
              (status = 401, description = "No or unknown token", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(Caller(me): Caller) -> Reply {
    Ok(to_json(me))
}

/// Create a tenant (operators).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = NewTenant,
    responses((status = 201, description = "The tenant", body = Value),
              (status = 403, description = "Not an operator", body = super::ErrorBody),
              (status = 409, description = "The tenant exists", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    State(m): Market,
    Caller(me): Caller,
    Body(new): Body<NewTenant>,
) -> Created {
    let tenant = m.create_tenant(&me, new).await?;
    Ok((StatusCode::CREATED, to_json(tenant)))
}

/// Every tenant (operators).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants",
    responses((status = 200, description = "`{\"tenants\": [...]}`", body = Value),
              (status = 403, description = "Not an operator", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn tenants(State(m): Market, Caller(me): Caller) -> Reply {
    Ok(Json(json!({ "tenants": m.registry().tenants(&me).await? })))
}

/// One tenant (operators, its directors and reps).
#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "The tenant", body = Value),
              (status = 403, description = "Another tenant's account", body = super::ErrorBody),
              (status = 404, description = "No such tenant", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn tenant(State(m): Market, Caller(me): Caller, Path(tenant): Path<String>) -> Reply {
    Ok(to_json(m.registry().tenant(&me, &tenant).await?))
}

/// The limits every call of the tenant runs under: `caps` (the platform's,
/// lowered where the tenant lowered them), `lowered` (what the tenant set),
/// `platform` and `floors` (operators, its directors and reps).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/limits", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "`{\"caps\", \"lowered\", \"platform\", \"floors\"}`", body = Value),
              (status = 403, description = "Another tenant's account", body = super::ErrorBody),
              (status = 404, description = "No such tenant", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn tenant_limits(
    State(m): Market,
    Caller(me): Caller,
    Path(tenant): Path<String>,
) -> Reply {
    let lowered = m.registry().tenant_limits(&me, &tenant).await?;
    Ok(Json(limits_reply(&lowered)))
}

fn limits_reply(lowered: &mercato_registry::RequestedLimits) -> Value {
    use mercato_registry::Limits;
    json!({
        "caps": lowered.or(Limits::PLATFORM_CAPS),
        "lowered": lowered,
        "platform": Limits::PLATFORM_CAPS,
        "floors": Limits::FLOORS,
    })
}

/// Lower the limits every call of the tenant runs under: a JSON object of
/// manifest limit names (`{"memory-bytes": 33554432}`); absent names follow
/// the platform's caps (its directors and operators).
#[utoipa::path(put, path = "/v1/tenants/{tenant}/limits", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body(content = Value, description = "Limits by manifest name"),
    responses((status = 200, description = "As the GET", body = Value),
              (status = 403, description = "Not this tenant's director, nor an operator", body = super::ErrorBody),
              (status = 422, description = "A limit above the cap or below the floor (named)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_tenant_limits(
    State(m): Market,
    Caller(me): Caller,
    Path(tenant): Path<String>,
    Body(limits): Body<mercato_registry::RequestedLimits>,
) -> Reply {
    let lowered = m.set_tenant_limits(&me, &tenant, limits).await?;
    Ok(Json(limits_reply(&lowered)))
}

/// Create an account; the reply carries its first token, shown only once
/// (operators).
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = NewAccount,
    responses((status = 201, description = "`{\"account\": {...}, \"token\": {\"id\", \"token\"}}`", body = Value),
              (status = 403, description = "Not an operator", body = super::ErrorBody),
              (status = 409, description = "The name is taken", body = super::ErrorBody),
              (status = 422, description = "A field is invalid (named)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_account(
    State(m): Market,
    Caller(me): Caller,
    Body(new): Body<NewAccount>,
) -> Created {
    let (account, token) = m.create_account(&me, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "account": account, "token": token })),
    ))
}

/// Filter for the account list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AccountFilter {
    /// Only this tenant's accounts (directors must give their own).
    tenant: Option<String>,
}

/// Accounts (operators: all; directors: their tenant's).
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", params(AccountFilter),
    responses((status = 200, description = "`{\"accounts\": [...]}`", body = Value),
              (status = 403, description = "Not allowed", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn accounts(
    State(m): Market,
    Caller(me): Caller,
    Query(f): Query<AccountFilter>,
) -> Reply {
    Ok(Json(
        json!({ "accounts": m.registry().accounts(&me, f.tenant.as_deref()).await? }),
    ))
}

/// A new token's label.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for (`laptop`, `crm-sync`).
    #[serde(default)]
    label: Option<String>,
}

/// Issue another token for an account (operators, or the account itself).
#[utoipa::path(post, path = "/v1/accounts/{name}/tokens", tag = "accounts", request_body = NewToken,
    params(("name" = String, Path, description = "Account name")),
    responses((status = 201, description = "`{\"id\", \"token\", \"account\"}`; the token is shown only once", body = Value),
              (status = 403, description = "Another account's, and not an operator", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn issue_token(
    State(m): Market,
    Caller(me): Caller,
    Path(name): Path<String>,
    Body(new): Body<NewToken>,
) -> Created {
    let label = new.label.unwrap_or_else(|| "token".to_owned());
    let token = m.issue_token(&me, &name, &label).await?;
    Ok((StatusCode::CREATED, to_json(token)))
}

/// Revoke a token (operators, or its owner).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Token id (`tok_…`)")),
    responses((status = 204, description = "Revoked"),
              (status = 404, description = "No such token", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(m): Market,
    Caller(me): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    m.revoke_token(&me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new publisher.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPublisher {
    /// Lowercase letters, digits, dashes: the part of package names before `/`.
    name: String,
}

/// Create a publisher (operators).
#[utoipa::path(post, path = "/v1/publishers", tag = "publishers", request_body = NewPublisher,
    responses((status = 201, description = "Created", body = Value),
              (status = 403, description = "Not an operator", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_publisher(
    State(m): Market,
    Caller(me): Caller,
    Body(new): Body<NewPublisher>,
) -> Created {
    m.create_publisher(&me, &new.name).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": new.name }))))
}

/// Every publisher.
#[utoipa::path(get, path = "/v1/publishers", tag = "publishers",
    responses((status = 200, description = "`{\"publishers\": [...]}`", body = Value)),
    security(("bearer" = [])))]
pub async fn publishers(State(m): Market, Caller(me): Caller) -> Reply {
    Ok(Json(
        json!({ "publishers": m.registry().publishers(&me).await? }),
    ))
}

/// A publisher's keys with their state (active, retired, revoked).
#[utoipa::path(get, path = "/v1/publishers/{publisher}/keys", tag = "publishers",
    params(("publisher" = String, Path, description = "Publisher")),
    responses((status = 200, description = "`{\"keys\": [...]}`", body = Value)),
    security(("bearer" = [])))]
pub async fn keys(State(m): Market, Caller(me): Caller, Path(publisher): Path<String>) -> Reply {
    Ok(Json(
        json!({ "keys": m.registry().keys(&me, &publisher).await? }),
    ))
}

/// Register a signing key (the publisher's developers, operators).
#[utoipa::path(post, path = "/v1/publishers/{publisher}/keys", tag = "publishers", request_body = NewKey,
    params(("publisher" = String, Path, description = "Publisher")),
    responses((status = 201, description = "The key record", body = Value),
              (status = 403, description = "Another publisher's developer", body = super::ErrorBody),
              (status = 422, description = "Not an ed25519 public key", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn register_key(
    State(m): Market,
    Caller(me): Caller,
    Path(publisher): Path<String>,
    Body(new): Body<NewKey>,
) -> Created {
    let key = m.register_key(&me, &publisher, new).await?;
    Ok((StatusCode::CREATED, to_json(key)))
}

/// Rotate: register a new key and retire this one (what it signed stays valid).
#[utoipa::path(post, path = "/v1/publishers/{publisher}/keys/{key_id}/rotate", tag = "publishers", request_body = NewKey,
    params(("publisher" = String, Path, description = "Publisher"), ("key_id" = String, Path, description = "The key to retire")),
    responses((status = 201, description = "The new key", body = Value),
              (status = 409, description = "The key is not active", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_key(
    State(m): Market,
    Caller(me): Caller,
    Path((publisher, key_id)): Path<(String, String)>,
    Body(new): Body<NewKey>,
) -> Created {
    let key = m.rotate_key(&me, &publisher, &key_id, new).await?;
    Ok((StatusCode::CREATED, to_json(key)))
}

/// Revoke a key: nothing it signed is accepted or loaded any more.
#[utoipa::path(post, path = "/v1/publishers/{publisher}/keys/{key_id}/revoke", tag = "publishers",
    params(("publisher" = String, Path, description = "Publisher"), ("key_id" = String, Path, description = "The key")),
    responses((status = 200, description = "The revoked key", body = Value),
              (status = 409, description = "Revoked already", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(m): Market,
    Caller(me): Caller,
    Path((publisher, key_id)): Path<(String, String)>,
) -> Reply {
    let key = m.revoke_key(&me, &publisher, &key_id).await?;
    Ok(to_json(key))
}
