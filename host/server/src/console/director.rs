//! The director's pages: the catalog of approved components, the tenant's
//! installs (enable, disable, the tracking switch, pending versions to
//! accept, removal), the settings form generated from the version's schema
//! with the component's own errors beside each field, and moving between
//! versions (upgrade, rollback) after seeing what changes. Every page takes
//! the tenant from its path and asks the registry, through the marketplace,
//! whether the signed-in account may see it.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mercato_registry::{
    Install, InstallUpdate, NewInstall, PackageVersion, Principal, UpgradeRequest, VersionState,
};
use semver::Version;
use serde_json::Value;

use super::page::{
    Chrome, Confirm, ConsoleError, Viewer, action_message, render, status_for, unknown_action,
};
use super::settings_form::{self, Field};
use crate::marketplace::{MarketError, Marketplace};

fn fail(viewer: &Viewer) -> impl Fn(MarketError) -> ConsoleError + '_ {
    move |e| ConsoleError::market(viewer.lang, e)
}

fn form_field<'a>(form: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    form.get(name).map_or("", String::as_str)
}

struct CatalogRow {
    name: String,
    kind: String,
    description: String,
    latest: String,
    permissions: Vec<String>,
    installed: bool,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    tenant: Option<String>,
    rows: Vec<CatalogRow>,
}

/// `GET /catalog`: approved components, their permissions in plain words.
pub async fn catalog(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let registry = market.registry();
    let entries = registry
        .catalog(me)
        .await
        .map_err(|e| fail(&viewer)(e.into()))?;
    let installed: Vec<String> = match &me.tenant {
        Some(t) => registry
            .installs(me, t)
            .await
            .map_err(|e| fail(&viewer)(e.into()))?
            .into_iter()
            .map(|i| i.package)
            .collect(),
        None => Vec::new(),
    };
    let chrome = viewer.chrome();
    let rows = entries
        .into_iter()
        .map(|e| CatalogRow {
            installed: installed.contains(&e.name),
            permissions: e
                .permissions
                .iter()
                .map(|p| chrome.tr("permission", p.as_str()))
                .collect(),
            name: e.name,
            kind: e.kind,
            description: e.description,
            latest: e.latest.to_string(),
        })
        .collect();
    let tenant = me
        .tenant
        .clone()
        .filter(|_| me.role == mercato_registry::Role::Director);
    Ok(render(
        StatusCode::OK,
        &CatalogPage {
            chrome,
            tenant,
            rows,
        },
    ))
}

struct InstallRow {
    id: String,
    package: String,
    version: String,
    requirement: String,
    enabled: bool,
    tracking: bool,
    pending: Option<String>,
    pending_reason: String,
}

#[derive(Template)]
#[template(path = "installs.html")]
struct InstallsPage {
    chrome: Chrome,
    tenant: String,
    rows: Vec<InstallRow>,
    done: Option<String>,
    error: Option<String>,
}

async fn installs_page(
    market: &Marketplace,
    viewer: &Viewer,
    tenant: &str,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let installs = market
        .registry()
        .installs(me, tenant)
        .await
        .map_err(|e| fail(viewer)(e.into()))?;
    let rows = installs
        .into_iter()
        .map(|i| InstallRow {
            pending: i.pending.as_ref().map(ToString::to_string),
            pending_reason: i.pending_reason.clone().unwrap_or_default(),
            id: i.id,
            package: i.package,
            version: i.version.to_string(),
            requirement: i.requirement,
            enabled: i.enabled,
            tracking: i.tracking,
        })
        .collect();
    let status = status_for(&error);
    Ok(render(
        status,
        &InstallsPage {
            chrome: viewer.chrome(),
            tenant: tenant.to_owned(),
            rows,
            done,
            error,
        },
    ))
}

/// `GET /tenants/{tenant}/installs`.
pub async fn installs(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> Result<Response, ConsoleError> {
    installs_page(&market, &viewer, &tenant, None, None).await
}

/// `POST /tenants/{tenant}/installs`: enable a catalog package.
pub async fn enable(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let me = viewer
        .check_csrf(form_field(&form, "csrf"))?
        .principal
        .clone();
    let package = form_field(&form, "package").to_owned();
    match market
        .install(
            &me,
            &tenant,
            NewInstall {
                package: package.clone(),
                ..NewInstall::default()
            },
        )
        .await
    {
        Ok(i) => Ok(
            Redirect::to(&format!("/tenants/{tenant}/installs/{}/settings", i.id)).into_response(),
        ),
        Err(e) => {
            let message = action_message(&viewer, e)?;
            installs_page(&market, &viewer, &tenant, None, Some(message)).await
        }
    }
}

/// `POST /tenants/{tenant}/installs/{id}`: enable, disable, switch tracking,
/// accept a pending version, remove. Disabling and removing ask first.
pub async fn act(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let me = viewer
        .check_csrf(form_field(&form, "csrf"))?
        .principal
        .clone();
    let action = form_field(&form, "action").to_owned();
    if matches!(action.as_str(), "disable" | "remove") && form_field(&form, "confirm") != "yes" {
        let chrome = viewer.chrome();
        return Ok(render(
            StatusCode::OK,
            &Confirm {
                question: format!("{} ({id})", chrome.t(&format!("confirm.{action}"))),
                path: format!("/tenants/{tenant}/installs/{id}"),
                fields: vec![("action".into(), action.clone())],
                chrome,
            },
        ));
    }
    let update = |enabled: Option<bool>, tracking: Option<bool>| InstallUpdate {
        enabled,
        tracking,
        ..InstallUpdate::default()
    };
    let result = match action.as_str() {
        "enable" => market
            .update(&me, &tenant, &id, update(Some(true), None))
            .await
            .map(drop),
        "disable" => market
            .update(&me, &tenant, &id, update(Some(false), None))
            .await
            .map(drop),
        "tracking-on" => market
            .update(&me, &tenant, &id, update(None, Some(true)))
            .await
            .map(drop),
        "tracking-off" => market
            .update(&me, &tenant, &id, update(None, Some(false)))
            .await
            .map(drop),
        "accept" => {
            let version: Version = version_field(&viewer, form_field(&form, "version"))?;
            market.accept(&me, &tenant, &id, &version).await.map(drop)
        }
        "remove" => market.uninstall(&me, &tenant, &id).await,
        other => return Err(unknown_action(&viewer, other)),
    };
    match result {
        Ok(()) => action_done(&market, &viewer, &tenant, &id, &action).await,
        Err(e) => {
            let message = action_message(&viewer, e)?;
            installs_page(
                &market,
                &viewer,
                &tenant,
                None,
                Some(format!("{id}: {message}")),
            )
            .await
        }
    }
}

/// The `version` field of a form.
fn version_field(viewer: &Viewer, text: &str) -> Result<Version, ConsoleError> {
    mercato_registry::versions::parse_version("version", text).map_err(|e| ConsoleError::Page {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: e.to_string(),
        lang: viewer.lang,
    })
}

/// The installs page after `action` on install `id` succeeded.
async fn action_done(
    market: &Marketplace,
    viewer: &Viewer,
    tenant: &str,
    id: &str,
    action: &str,
) -> Result<Response, ConsoleError> {
    let done = viewer
        .chrome()
        .t(&format!("done.install.{action}"))
        .to_owned();
    installs_page(market, viewer, tenant, Some(format!("{id}: {done}")), None).await
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    tenant: String,
    install: Install,
    fields: Vec<Field>,
    done: Option<String>,
    error: Option<String>,
    guards: Vec<super::guards::GuardRow>,
    callable: Vec<String>,
}

async fn version_of_install(
    market: &Marketplace,
    me: &Principal,
    install: &Install,
) -> Result<PackageVersion, MarketError> {
    Ok(market
        .registry()
        .version(me, &install.package, &install.version)
        .await?
        .0)
}

/// `GET /tenants/{tenant}/installs/{id}/settings`.
pub async fn settings(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    settings_page(&market, &viewer, tenant, &id, None, None).await
}

/// The settings page as stored, with a message (after a guard change).
pub(super) async fn settings_page(
    market: &Marketplace,
    viewer: &Viewer,
    tenant: String,
    id: &str,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let install = market
        .registry()
        .install_of(me, &tenant, id)
        .await
        .map_err(|e| fail(viewer)(e.into()))?;
    let version = version_of_install(market, me, &install)
        .await
        .map_err(fail(viewer))?;
    let fields =
        settings_form::fields(version.manifest.settings_schema.as_ref(), &install.settings);
    let (guards, callable) = super::guards::view(market, &tenant, &install).await;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &SettingsPage {
            chrome: viewer.chrome(),
            tenant,
            install,
            fields,
            done,
            error,
            guards,
            callable,
        },
    ))
}

/// `POST /tenants/{tenant}/installs/{id}/settings`: the component validates
/// them; its field errors appear beside the fields.
pub async fn save_settings(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let me = viewer
        .check_csrf(form_field(&form, "csrf"))?
        .principal
        .clone();
    let install = market
        .registry()
        .install_of(&me, &tenant, &id)
        .await
        .map_err(|e| fail(&viewer)(e.into()))?;
    let version = version_of_install(&market, &me, &install)
        .await
        .map_err(fail(&viewer))?;
    let schema = version.manifest.settings_schema.as_ref();
    let (settings, mut errors): (Value, BTreeMap<String, String>) =
        match settings_form::read(schema, &form) {
            Ok(settings) => (settings, BTreeMap::new()),
            Err(errors) => (install.settings.clone(), errors),
        };
    let mut error = None;
    let mut done = None;
    let mut shown = settings.clone();
    if errors.is_empty() {
        let update = InstallUpdate {
            settings: Some(settings.clone()),
            ..InstallUpdate::default()
        };
        match market.update(&me, &tenant, &id, update).await {
            Ok(_) => done = Some(viewer.chrome().t("done.settings").to_owned()),
            Err(MarketError::Settings(fields)) => {
                for f in fields {
                    let field = f["field"].as_str().unwrap_or("settings").to_owned();
                    let message = f["message"].as_str().unwrap_or_default().to_owned();
                    errors.insert(field, message);
                }
            }
            Err(e) => error = Some(action_message(&viewer, e)?),
        }
    } else {
        // Show what was typed, not what is stored.
        shown = Value::Object(
            form.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("s.")
                        .map(|k| (k.to_owned(), Value::String(v.clone())))
                })
                .collect(),
        );
    }
    let mut fields = settings_form::fields(schema, &shown);
    for field in &mut fields {
        field.error = errors.remove(&field.name);
    }
    if !errors.is_empty() && error.is_none() {
        error = Some(
            errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    let refused = fields.iter().any(|f| f.error.is_some()) || error.is_some();
    let (guards, callable) = super::guards::view(&market, &tenant, &install).await;
    let page = SettingsPage {
        chrome: viewer.chrome(),
        tenant,
        install,
        fields,
        done,
        error,
        guards,
        callable,
    };
    Ok(render(
        if refused {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &page,
    ))
}

struct Choice {
    version: String,
    /// `upgrade` or `rollback`.
    action: &'static str,
    changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "versions.html")]
struct VersionsPage {
    chrome: Chrome,
    tenant: String,
    install: Install,
    choices: Vec<Choice>,
    error: Option<String>,
    /// The newest finished replay of this install's recordings, for the
    /// director to read before moving (none for who may not read replays).
    last_replay: Option<super::rollout::ReportView>,
}

/// What moving from `from` to `to` changes, in words.
fn differences(chrome: &Chrome, from: &PackageVersion, to: &PackageVersion) -> Vec<String> {
    let mut out = Vec::new();
    for p in to
        .manifest
        .permissions
        .difference(&from.manifest.permissions)
    {
        out.push(format!("+ {}", chrome.tr("permission", p.as_str())));
    }
    for p in from
        .manifest
        .permissions
        .difference(&to.manifest.permissions)
    {
        out.push(format!("− {}", chrome.tr("permission", p.as_str())));
    }
    let default = chrome.t("review.default").to_owned();
    let show = |v: Option<u64>| v.map_or_else(|| default.clone(), |v| v.to_string());
    for ((name, before), (_, after)) in from
        .manifest
        .limits
        .fields()
        .into_iter()
        .zip(to.manifest.limits.fields())
    {
        if before != after {
            out.push(format!(
                "{}: {} → {}",
                chrome.tr("limit", name),
                show(before),
                show(after)
            ));
        }
    }
    if from.manifest.settings_schema != to.manifest.settings_schema {
        out.push(chrome.t("versions.schema_changed").to_owned());
    }
    out
}

/// `GET /tenants/{tenant}/installs/{id}/versions`: newer approved versions
/// to upgrade to and earlier ones to roll back to, each with what changes.
pub async fn versions(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    versions_page(&market, &viewer, &tenant, &id, None).await
}

async fn versions_page(
    market: &Marketplace,
    viewer: &Viewer,
    tenant: &str,
    id: &str,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let registry = market.registry();
    let install = registry
        .install_of(me, tenant, id)
        .await
        .map_err(|e| fail(viewer)(e.into()))?;
    let all = registry
        .versions(me, Some(VersionState::Approved), Some(&install.package))
        .await
        .map_err(|e| fail(viewer)(e.into()))?;
    let current = version_of_install(market, me, &install)
        .await
        .map_err(fail(viewer))?;
    let chrome = viewer.chrome();
    let mut choices: Vec<Choice> = all
        .iter()
        .filter(|v| v.version != install.version)
        .filter(|v| v.version > install.version || install.history.contains(&v.version))
        .map(|v| Choice {
            version: v.version.to_string(),
            action: if v.version > install.version {
                "upgrade"
            } else {
                "rollback"
            },
            changes: differences(&chrome, &current, v),
        })
        .collect();
    choices.sort_by(|a, b| b.version.cmp(&a.version));
    let last_replay = last_replay(market, me, tenant, id).await;
    let status = status_for(&error);
    Ok(render(
        status,
        &VersionsPage {
            chrome,
            tenant: tenant.to_owned(),
            install,
            choices,
            error,
            last_replay,
        },
    ))
}

/// The newest finished replay's report of an install, if the viewer may
/// read replays and one exists.
async fn last_replay(
    market: &Marketplace,
    me: &Principal,
    tenant: &str,
    id: &str,
) -> Option<super::rollout::ReportView> {
    let replays = market.registry().replays(me, tenant, id).await.ok()?;
    let finished = replays
        .iter()
        .find(|r| r.state == mercato_registry::replays::ReplayState::Finished)?;
    let replay = market
        .registry()
        .replay(me, tenant, &finished.id, true)
        .await
        .ok()?;
    replay.report.as_ref().map(super::rollout::report_view)
}

/// `POST /tenants/{tenant}/installs/{id}/versions`: upgrade or roll back,
/// after confirming.
pub async fn move_version(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let me = viewer
        .check_csrf(form_field(&form, "csrf"))?
        .principal
        .clone();
    let action = form_field(&form, "action").to_owned();
    let version_text = form_field(&form, "version").to_owned();
    if form_field(&form, "confirm") != "yes" {
        let chrome = viewer.chrome();
        return Ok(render(
            StatusCode::OK,
            &Confirm {
                question: format!(
                    "{} {id} → {version_text}",
                    chrome.t(&format!("confirm.{action}"))
                ),
                path: format!("/tenants/{tenant}/installs/{id}/versions"),
                fields: vec![
                    ("action".into(), action.clone()),
                    ("version".into(), version_text.clone()),
                ],
                chrome,
            },
        ));
    }
    let version: Version = version_field(&viewer, &version_text)?;
    let result = match action.as_str() {
        "upgrade" => market
            .upgrade(
                &me,
                &tenant,
                &id,
                UpgradeRequest {
                    version: Some(version.to_string()),
                    follow: None,
                },
            )
            .await
            .map(drop),
        "rollback" => market.rollback(&me, &tenant, &id, &version).await.map(drop),
        other => return Err(unknown_action(&viewer, other)),
    };
    match result {
        Ok(()) => action_done(&market, &viewer, &tenant, &id, &action).await,
        Err(e) => {
            let message = action_message(&viewer, e)?;
            versions_page(&market, &viewer, &tenant, &id, Some(message)).await
        }
    }
}
