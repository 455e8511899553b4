//! The operator's pages: tenants, accounts and tokens (a new token is shown
//! once), the audit log with a verify banner that turns red naming the
//! broken entry, and per tenant and component the calls, errors by limit and
//! p95 latency `/metrics` counts.

use mercato_registry::access::{Action, On};
use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use mercato_registry::{NewAccount, NewTenant, Role};

use super::page::{
    Chrome, Confirm, ConsoleError, Viewer, action_message, render, status_for, unknown_action, when,
};
use crate::marketplace::Marketplace;

fn operator(viewer: &Viewer) -> Result<&mercato_registry::Principal, ConsoleError> {
    let me = viewer.principal()?;
    me.may(Action::ListTenants, On::Platform)
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?;
    Ok(me)
}

struct AccountRow {
    name: String,
    role: String,
    scope: String,
    created: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    tenants: Vec<(String, String, String)>,
    publishers: Vec<String>,
    accounts: Vec<AccountRow>,
    roles: Vec<(&'static str, String)>,
    new_token: Option<(String, String)>,
    done: Option<String>,
    error: Option<String>,
}

async fn admin_page(
    market: &Marketplace,
    viewer: &Viewer,
    new_token: Option<(String, String)>,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = operator(viewer)?;
    let fail = |e: mercato_registry::RegistryError| ConsoleError::market(viewer.lang, e.into());
    let registry = market.registry();
    let chrome = viewer.chrome();
    let tenants = registry
        .tenants(me)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|t| (t.name, t.title, when(t.created_at)))
        .collect();
    let publishers = registry.publishers(me).await.map_err(fail)?;
    let accounts = registry
        .accounts(me, None)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|a| AccountRow {
            role: chrome.tr("role", a.role.as_str()),
            scope: a.tenant.or(a.publisher).unwrap_or_default(),
            created: when(a.created_at),
            name: a.name,
        })
        .collect();
    let roles = Role::ALL
        .iter()
        .map(|r| (r.as_str(), chrome.tr("role", r.as_str())))
        .collect();
    Ok(render(
        status_for(&error),
        &AdminPage {
            chrome,
            tenants,
            publishers,
            accounts,
            roles,
            new_token,
            done,
            error,
        },
    ))
}

/// `GET /admin`.
pub async fn admin(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    admin_page(&market, &viewer, None, None, None).await
}

/// `POST /admin`: create a tenant, an account, or another token.
pub async fn act(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| form.get(name).map_or("", |v| v.trim()).to_owned();
    let optional = |name: &str| Some(field(name)).filter(|v| !v.is_empty());
    let me = viewer.check_csrf(&field("csrf"))?.principal.clone();
    let chrome = viewer.chrome();
    let outcome = match field("action").as_str() {
        "create-tenant" => market
            .create_tenant(
                &me,
                NewTenant {
                    name: field("name"),
                    title: optional("title"),
                },
            )
            .await
            .map(|t| {
                (
                    None,
                    format!("{} {}", chrome.t("admin.tenant_created"), t.name),
                )
            }),
        "create-publisher" => {
            let name = field("name");
            market.create_publisher(&me, &name).await.map(|()| {
                (
                    None,
                    format!("{} {name}", chrome.t("admin.publisher_created")),
                )
            })
        }
        "create-account" => {
            let role = field("role")
                .parse::<Role>()
                .map_err(|e| ConsoleError::Page {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    message: e.to_string(),
                    lang: viewer.lang,
                })?;
            market
                .create_account(
                    &me,
                    NewAccount {
                        name: field("name"),
                        role,
                        tenant: optional("tenant"),
                        publisher: optional("publisher"),
                    },
                )
                .await
                .map(|(a, token)| {
                    (
                        Some((a.name.clone(), token.token)),
                        chrome.t("admin.account_created").to_owned(),
                    )
                })
        }
        "issue-token" => {
            let name = field("name");
            market
                .issue_token(&me, &name, "console")
                .await
                .map(|token| {
                    (
                        Some((name, token.token)),
                        chrome.t("admin.token_issued").to_owned(),
                    )
                })
        }
        other => return Err(unknown_action(&viewer, other)),
    };
    match outcome {
        Ok((token, done)) => admin_page(&market, &viewer, token, Some(done), None).await,
        Err(e) => {
            let message = action_message(&viewer, e)?;
            admin_page(&market, &viewer, None, None, Some(message)).await
        }
    }
}

struct TokenRow {
    id: String,
    label: String,
    created: String,
    revoked: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    name: String,
    tokens: Vec<TokenRow>,
    done: Option<String>,
    error: Option<String>,
}

async fn account_page(
    market: &Marketplace,
    viewer: &Viewer,
    name: &str,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = operator(viewer)?;
    let tokens = market
        .registry()
        .tokens(me, name)
        .await
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?
        .into_iter()
        .map(|t| TokenRow {
            revoked: t.revoked_at.map(when).unwrap_or_default(),
            created: when(t.created_at),
            id: t.id,
            label: t.label,
        })
        .collect();
    Ok(render(
        status_for(&error),
        &AccountPage {
            chrome: viewer.chrome(),
            name: name.to_owned(),
            tokens,
            done,
            error,
        },
    ))
}

/// `GET /admin/accounts/{name}`: its tokens.
pub async fn account(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    account_page(&market, &viewer, &name, None, None).await
}

/// `POST /admin/accounts/{name}`: revoke one of its tokens, after confirming.
pub async fn revoke_token(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let field = |key: &str| form.get(key).map_or("", |v| v.trim()).to_owned();
    let me = viewer.check_csrf(&field("csrf"))?.principal.clone();
    let id = field("token");
    if field("confirm") != "yes" {
        let chrome = viewer.chrome();
        return Ok(render(
            StatusCode::OK,
            &Confirm {
                question: format!("{} ({id})", chrome.t("confirm.revoke_token")),
                path: format!("/admin/accounts/{name}"),
                fields: vec![("token".into(), id)],
                chrome,
            },
        ));
    }
    match market.revoke_token(&me, &id).await {
        Ok(()) => {
            let done = format!("{id}: {}", viewer.chrome().t("done.token_revoked"));
            account_page(&market, &viewer, &name, Some(done), None).await
        }
        Err(e) => {
            let message = action_message(&viewer, e)?;
            account_page(&market, &viewer, &name, None, Some(message)).await
        }
    }
}

struct EntryRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    ok: bool,
    entries_checked: i64,
    problems: Vec<String>,
    rows: Vec<EntryRow>,
}

/// `GET /admin/audit`: the verify banner and the newest entries.
pub async fn audit(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let fail = |e: mercato_registry::RegistryError| ConsoleError::market(viewer.lang, e.into());
    let registry = market.registry();
    let report = registry.verify_audit(me).await.map_err(fail)?;
    let after = (report.head - 200).max(0);
    let mut rows: Vec<EntryRow> = registry
        .audit_entries(me, None, after, 200)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|e| EntryRow {
            seq: e.seq,
            at: when(e.at),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
        })
        .collect();
    rows.reverse();
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            chrome: viewer.chrome(),
            ok: report.ok(),
            entries_checked: report.entries,
            problems: report.problems,
            rows,
        },
    ))
}

struct MetricRow {
    tenant: String,
    component: String,
    calls: u64,
    errors: String,
    p95_ms: String,
}

#[derive(Template)]
#[template(path = "metrics.html")]
struct MetricsPage {
    chrome: Chrome,
    rows: Vec<MetricRow>,
}

/// `GET /admin/metrics`: what `/metrics` counts, per tenant and component.
pub async fn metrics(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    operator(&viewer)?;
    let rows = market
        .metrics()
        .summary()
        .into_iter()
        .map(|s| MetricRow {
            tenant: s.tenant,
            component: s.component,
            calls: s.calls,
            errors: if s.errors.is_empty() {
                "0".to_owned()
            } else {
                s.errors
                    .iter()
                    .map(|(kind, n)| format!("{kind} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            p95_ms: s
                .p95_seconds
                .map_or_else(|| "—".to_owned(), |s| format!("≤ {:.1}", s * 1000.0)),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &MetricsPage {
            chrome: viewer.chrome(),
            rows,
        },
    ))
}
