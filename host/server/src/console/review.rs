//! The reviewer's pages: the queue of submitted versions (oldest first),
//! and a review page with everything needed to decide without another
//! tool — the signer and signature, digests, the exported functions, the
//! permissions in plain words with what was added or removed since the last
//! approved version, limit and settings-schema changes, and the package's
//! history. Approve; reject with a reason; yank — the destructive two after
//! a confirmation.

use mercato_registry::access::{Action, On};
use std::collections::BTreeSet;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use mercato_registry::versions::parse_version;
use mercato_registry::{Decision, PackageVersion, Principal, VersionState};
use semver::Version;
use serde::Deserialize;
use serde_json::Value;

use super::page::{Chrome, Confirm, ConsoleError, Viewer, action_message, render, when};
use crate::marketplace::{HOST_ONLY, MarketError, Marketplace};

struct QueueRow {
    name: String,
    version: String,
    kind: String,
    submitted: String,
    permissions: String,
    href: String,
}

#[derive(Template)]
#[template(path = "review_queue.html")]
struct QueuePage {
    chrome: Chrome,
    rows: Vec<QueueRow>,
}

fn reviewer(viewer: &Viewer) -> Result<&Principal, ConsoleError> {
    let me = viewer.principal()?;
    me.may(Action::Review, On::Platform)
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?;
    Ok(me)
}

/// `GET /review`: submitted versions, oldest first.
pub async fn queue(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    let me = reviewer(&viewer)?;
    let mut versions = market
        .registry()
        .versions(me, Some(VersionState::Submitted), None)
        .await
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?;
    versions.sort_by_key(|v| v.submitted_at);
    let chrome = viewer.chrome();
    let rows = versions
        .iter()
        .map(|v| QueueRow {
            href: format!("/review/{}/{}", v.name, v.version),
            name: v.name.clone(),
            version: v.version.to_string(),
            kind: v.kind.clone(),
            submitted: when(v.submitted_at),
            permissions: v
                .manifest
                .permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    Ok(render(StatusCode::OK, &QueuePage { chrome, rows }))
}

struct PermissionRow {
    name: String,
    words: String,
    /// `added`, `removed` or `unchanged`.
    change: &'static str,
}

struct LimitRow {
    name: String,
    before: String,
    after: String,
}

struct HistoryRow {
    version: String,
    state: String,
    reviewer: String,
    reason: String,
    current: bool,
}

struct FunctionRow {
    name: String,
    signature: String,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    v: PackageVersion,
    path: String,
    state: String,
    submitted: String,
    key_state: String,
    signature_ok: bool,
    signature_problem: String,
    functions: Vec<FunctionRow>,
    permissions: Vec<PermissionRow>,
    previous: Option<String>,
    kind_changed: bool,
    limits: Vec<LimitRow>,
    schema_changes: Vec<(String, &'static str)>,
    schema: String,
    history: Vec<HistoryRow>,
    done: Option<String>,
    rollout: Vec<(String, String)>,
    error: Option<String>,
    /// The package's fixture calls replayed against the last approved
    /// version (`None`: it ships none).
    fixtures: Option<super::rollout::ReportView>,
    /// Why the fixtures could not be replayed.
    fixtures_problem: String,
}

/// Top-level settings properties added, removed or changed between two
/// JSON Schemas.
fn schema_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<(String, &'static str)> {
    let props = |s: Option<&Value>| {
        s.and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (b, a) = (props(before), props(after));
    let names: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    names
        .into_iter()
        .filter_map(|n| match (b.get(n), a.get(n)) {
            (None, Some(_)) => Some((n.clone(), "added")),
            (Some(_), None) => Some((n.clone(), "removed")),
            (Some(x), Some(y)) if x != y => Some((n.clone(), "changed")),
            _ => None,
        })
        .collect()
}

async fn review_page(
    market: &Marketplace,
    viewer: &Viewer,
    name: &str,
    version: &Version,
    done: Option<String>,
    rollout: Vec<(String, String)>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = reviewer(viewer)?;
    let lang = viewer.lang;
    let fail = |e: MarketError| ConsoleError::market(lang, e);
    let registry = market.registry();
    let (v, changes) = registry
        .version(me, name, version)
        .await
        .map_err(|e| fail(e.into()))?;
    let chrome = viewer.chrome();
    let publisher = v.manifest.publisher().to_owned();
    let key_state = registry
        .keys(me, &publisher)
        .await
        .map_err(|e| fail(e.into()))?
        .into_iter()
        .find(|k| k.key_id == v.key_id)
        .map_or_else(|| "?".to_owned(), |k| chrome.tr("key", k.state.as_str()));
    // Loading checks the signature and signer again, then the world.
    let (signature_ok, signature_problem, functions) = match market.component(name, version).await {
        Ok(component) => (
            true,
            String::new(),
            component
                .functions()
                .filter(|f| !HOST_ONLY.contains(&f.name.as_str()))
                .map(|f| FunctionRow {
                    name: f.name.clone(),
                    signature: mercato_runtime::signature::render_signature(
                        &f.params,
                        f.results.first(),
                    ),
                })
                .collect(),
        ),
        Err(e) => (false, e.to_string(), Vec::new()),
    };
    let removed: Vec<_> = changes.permissions_removed.clone();
    let mut permissions: Vec<PermissionRow> = v
        .manifest
        .permissions
        .iter()
        .map(|p| PermissionRow {
            name: p.as_str().to_owned(),
            words: chrome.tr("permission", p.as_str()),
            change: if changes.previous.is_some() && changes.permissions_added.contains(p) {
                "added"
            } else {
                "unchanged"
            },
        })
        .collect();
    permissions.extend(removed.iter().map(|p| PermissionRow {
        name: p.as_str().to_owned(),
        words: chrome.tr("permission", p.as_str()),
        change: "removed",
    }));
    let default = chrome.t("review.default").to_owned();
    let show = |v: Option<u64>| v.map_or_else(|| default.clone(), |v| v.to_string());
    let limits = changes
        .limits
        .iter()
        .map(|l| LimitRow {
            name: chrome.tr("limit", l.limit),
            before: show(l.before),
            after: show(l.after),
        })
        .collect();
    let all = registry
        .versions(me, None, Some(name))
        .await
        .map_err(|e| fail(e.into()))?;
    let previous_schema = changes.previous.as_ref().and_then(|p| {
        all.iter()
            .find(|x| &x.version == p)
            .and_then(|x| x.manifest.settings_schema.clone())
    });
    let schema_changes = schema_changes(
        previous_schema.as_ref(),
        v.manifest.settings_schema.as_ref(),
    );
    let mut history: Vec<HistoryRow> = all
        .iter()
        .map(|x| HistoryRow {
            version: x.version.to_string(),
            state: chrome.tr("state", x.state.as_str()),
            reviewer: x.reviewed_by.clone().unwrap_or_default(),
            reason: x.reason.clone().unwrap_or_default(),
            current: x.version == v.version,
        })
        .collect();
    history.sort_by(|a, b| b.version.cmp(&a.version));
    let (fixtures, fixtures_problem) = if v.manifest.fixtures.is_empty() || !signature_ok {
        (None, String::new())
    } else {
        match market.fixture_replay(me, name, version).await {
            Ok(report) => (Some(super::rollout::report_view(&report)), String::new()),
            Err(e) => (None, e.to_string()),
        }
    };
    let page = ReviewPage {
        fixtures,
        fixtures_problem,
        path: format!("/review/{}/{}", v.name, v.version),
        state: chrome.tr("state", v.state.as_str()),
        submitted: when(v.submitted_at),
        key_state,
        signature_ok,
        signature_problem,
        functions,
        permissions,
        previous: changes.previous.as_ref().map(ToString::to_string),
        kind_changed: changes.kind_changed,
        limits,
        schema_changes,
        schema: v
            .manifest
            .settings_schema
            .as_ref()
            .and_then(|s| serde_json::to_string_pretty(s).ok())
            .unwrap_or_default(),
        history,
        done,
        rollout,
        error,
        chrome,
        v,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(status, &page))
}

fn version_of(lang: super::Lang, text: &str) -> Result<Version, ConsoleError> {
    parse_version("version", text).map_err(|e| ConsoleError::market(lang, e.into()))
}

/// `GET /review/{publisher}/{name}/{version}`.
pub async fn page(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((publisher, name, version)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    let version = version_of(viewer.lang, &version)?;
    review_page(
        &market,
        &viewer,
        &format!("{publisher}/{name}"),
        &version,
        None,
        Vec::new(),
        None,
    )
    .await
}

/// A reviewer's decision on the review page.
#[derive(Debug, Deserialize)]
pub struct Decide {
    #[serde(default)]
    csrf: String,
    /// `approve`, `reject` or `yank`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    /// Present once the reviewer confirmed a destructive action.
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /review/{publisher}/{name}/{version}`.
pub async fn decide(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((publisher, name, version)): Path<(String, String, String)>,
    Form(form): Form<Decide>,
) -> Result<Response, ConsoleError> {
    let session = viewer.check_csrf(&form.csrf)?;
    let me = session.principal.clone();
    let name = format!("{publisher}/{name}");
    let version = version_of(viewer.lang, &version)?;
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let destructive = matches!(form.action.as_str(), "reject" | "yank");
    if destructive && form.confirm.as_deref() != Some("yes") {
        let chrome = viewer.chrome();
        return Ok(render(
            StatusCode::OK,
            &Confirm {
                question: chrome.t(&format!("confirm.{}", form.action)).to_owned(),
                path: format!("/review/{name}/{version}"),
                fields: vec![
                    ("action".into(), form.action.clone()),
                    ("reason".into(), form.reason.clone()),
                ],
                chrome,
            },
        ));
    }
    let outcome = match form.action.as_str() {
        "approve" | "reject" => {
            let decision = if form.action == "approve" {
                Decision::Approve
            } else {
                Decision::Reject
            };
            market
                .review(&me, &name, &version, decision, reason)
                .await
                .map(|(_, rollout)| {
                    let mut lines = Vec::new();
                    for (key, list) in [
                        ("done.rollout", rollout.upgraded),
                        ("done.awaiting", rollout.awaiting_acceptance),
                        ("done.settings_refused", rollout.settings_refused),
                    ] {
                        if !list.is_empty() {
                            lines.push((key.to_owned(), list.join(", ")));
                        }
                    }
                    let done = if decision == Decision::Approve {
                        "done.approved"
                    } else {
                        "done.rejected"
                    };
                    (done.to_owned(), lines)
                })
        }
        "yank" => market
            .yank(&me, &name, &version, reason)
            .await
            .map(|_| ("done.yanked".to_owned(), Vec::new())),
        other => {
            return Err(ConsoleError::Page {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!("unknown action `{other}` (approve, reject or yank)"),
                lang: viewer.lang,
            });
        }
    };
    match outcome {
        Ok((done_key, rollout)) => {
            let chrome = viewer.chrome();
            let done = chrome.t(&done_key).to_owned();
            let rollout = rollout
                .into_iter()
                .map(|(k, v)| (chrome.t(&k).to_owned(), v))
                .collect();
            review_page(&market, &viewer, &name, &version, Some(done), rollout, None).await
        }
        Err(e) => {
            let message = action_message(&viewer, e)?;
            review_page(
                &market,
                &viewer,
                &name,
                &version,
                None,
                Vec::new(),
                Some(message),
            )
            .await
        }
    }
}
