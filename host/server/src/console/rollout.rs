//! A director's safe-upgrade page for one install: the running canary with
//! its guardrail figures (share, promote, abort) or a form to start one;
//! call recording (on with its ring's size and retention, or off); replays
//! of the recorded calls against a candidate and their reports. The same
//! report view shows a version's fixture replay on the review page.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mercato_registry::canaries::{Canary, NewCanary};
use mercato_registry::recordings::{MAX_CALLS, MAX_RETENTION_HOURS, Recording};
use mercato_registry::replays::ReplayState;
use mercato_registry::{Install, VersionState};
use serde_json::Value;

use super::page::{
    Chrome, Confirm, ConsoleError, Viewer, action_message, render, status_for, unknown_action, when,
};
use crate::marketplace::replay::ReplayRequest;
use crate::marketplace::{MarketError, Marketplace};

fn fail(viewer: &Viewer) -> impl Fn(MarketError) -> ConsoleError + '_ {
    |e| ConsoleError::market(viewer.lang, e)
}

fn field<'a>(form: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    form.get(name).map_or("", String::as_str)
}

/// One guardrail, in words.
struct GuardrailRow {
    name: String,
    current: String,
    candidate: String,
    interval: String,
    worse: bool,
}

fn figure(measure: &str, v: Option<f64>) -> String {
    match (measure, v) {
        (_, None) => "—".into(),
        ("difference", Some(v)) => format!("{:.2} %", 100.0 * v),
        (_, Some(v)) => format!("{v:.1}"),
    }
}

fn guardrail_rows(figures: &Value) -> Vec<GuardrailRow> {
    figures["guardrails"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            let measure = g["measure"].as_str().unwrap_or("");
            let interval = match g["interval"].as_array().map(Vec::as_slice) {
                Some([low, high]) => match (low.as_f64(), high.as_f64()) {
                    (Some(l), Some(h)) if measure == "difference" => {
                        format!("{:+.2} … {:+.2} pp", 100.0 * l, 100.0 * h)
                    }
                    (Some(l), Some(h)) => format!("×{l:.3} … ×{h:.3}"),
                    _ => "—".into(),
                },
                _ => "—".into(),
            };
            GuardrailRow {
                name: g["name"].as_str().unwrap_or("").to_owned(),
                current: figure(measure, g["current"].as_f64()),
                candidate: figure(measure, g["candidate"].as_f64()),
                interval,
                worse: g["worse"].as_bool().unwrap_or(false),
            }
        })
        .collect()
}

struct CanaryRow {
    id: String,
    candidate: String,
    share: String,
    state: String,
    started: String,
    reason: String,
}

fn canary_row(c: &Canary) -> CanaryRow {
    CanaryRow {
        id: c.id.clone(),
        candidate: c.candidate.to_string(),
        share: format!("{}", c.share_percent()),
        state: format!("{:?}", c.state).to_lowercase(),
        started: when(c.started_at),
        reason: c.reason.clone().unwrap_or_default(),
    }
}

struct ReplayRow {
    id: String,
    candidate: String,
    state: String,
    calls: u32,
    started: String,
}

/// A replay report, in rows.
pub(super) struct ReportView {
    pub current: String,
    pub candidate: String,
    pub calls: u64,
    pub identical: u64,
    pub different: u64,
    pub new_errors: u64,
    pub fixed: u64,
    pub costs: Vec<(String, String, String, String)>,
    pub limits: Vec<(String, String, String)>,
    pub captured: String,
    pub rows: Vec<DiffRow>,
}

pub(super) struct DiffRow {
    pub index: u64,
    pub function: String,
    pub kind: String,
    pub args: String,
    pub current: String,
    pub candidate: String,
    pub changes: Vec<String>,
}

fn compact(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}

/// The report's figures as the page shows them.
pub(super) fn report_view(report: &Value) -> ReportView {
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    let spread = |v: &Value| {
        if v.is_null() {
            "—".to_owned()
        } else {
            format!(
                "{} / {} / {}",
                v["p50"].as_f64().unwrap_or(0.0),
                v["p95"].as_f64().unwrap_or(0.0),
                v["max"].as_f64().unwrap_or(0.0)
            )
        }
    };
    let costs = ["fuel", "latency_us", "memory_bytes"]
        .iter()
        .map(|m| {
            (
                (*m).to_owned(),
                spread(&report["costs"]["current"][m]),
                spread(&report["costs"]["candidate"][m]),
                spread(&report["costs"]["delta"][m]),
            )
        })
        .collect();
    let hits = |side: &str| {
        report["limit_hits"][side]
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    let (before, after) = (hits("current"), hits("candidate"));
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    let limits = names
        .into_iter()
        .map(|l| {
            (
                l.clone(),
                before.get(l).map_or("0".into(), Value::to_string),
                after.get(l).map_or("0".into(), Value::to_string),
            )
        })
        .collect();
    let captured = |side: &str| {
        let c = &report["captured"][side];
        if c.is_null() {
            "—".to_owned()
        } else {
            format!("{} / {}", c["events"], c["approvals"])
        }
    };
    let rows = report["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| DiffRow {
            index: d["index"].as_u64().unwrap_or(0),
            function: d["function"].as_str().unwrap_or("").to_owned(),
            kind: d["kind"].as_str().unwrap_or("").to_owned(),
            args: compact(&d["args"]),
            current: if d["current"].is_null() {
                "—".into()
            } else {
                compact(&d["current"])
            },
            candidate: compact(&d["candidate"]),
            changes: d["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{}: {} → {}",
                        c["path"].as_str().unwrap_or(""),
                        compact(&c["current"]),
                        compact(&c["candidate"])
                    )
                })
                .collect(),
        })
        .collect();
    ReportView {
        current: report["current"].as_str().unwrap_or("—").to_owned(),
        candidate: report["candidate"].as_str().unwrap_or("").to_owned(),
        calls: n("calls"),
        identical: n("identical"),
        different: n("different"),
        new_errors: n("new_errors"),
        fixed: n("fixed"),
        costs,
        limits,
        captured: format!("{} · {}", captured("current"), captured("candidate")),
        rows,
    }
}

#[derive(Template)]
#[template(path = "rollout.html")]
struct RolloutPage {
    chrome: Chrome,
    tenant: String,
    install: Install,
    running: Option<CanaryRow>,
    guardrails: Vec<GuardrailRow>,
    srm: String,
    past: Vec<CanaryRow>,
    candidates: Vec<String>,
    recording: Option<Recording>,
    recorded: usize,
    max_calls: u32,
    max_hours: u32,
    replays: Vec<ReplayRow>,
    done: Option<String>,
    error: Option<String>,
}

async fn rollout_page(
    market: &Marketplace,
    viewer: &Viewer,
    tenant: &str,
    id: &str,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let fail = fail(viewer);
    let registry = market.registry();
    let install = registry
        .install_of(me, tenant, id)
        .await
        .map_err(|e| fail(e.into()))?;
    let canaries = registry
        .canaries(me, tenant, id)
        .await
        .map_err(|e| fail(e.into()))?;
    let (running, guardrails, srm) = match install.canary.as_ref() {
        Some(c) => {
            let status = market
                .rollout_status(me, tenant, &c.id)
                .await
                .map_err(&fail)?;
            let figures = &status["figures"];
            let srm = figures["srm"]["p_value"]
                .as_f64()
                .map(|p| format!("p = {p:.4}"))
                .unwrap_or_default();
            (Some(canary_row(c)), guardrail_rows(figures), srm)
        }
        None => (None, Vec::new(), String::new()),
    };
    let past = canaries
        .iter()
        .filter(|c| Some(&c.id) != install.canary.as_ref().map(|r| &r.id))
        .map(canary_row)
        .collect();
    let candidates = registry
        .versions(me, Some(VersionState::Approved), Some(&install.package))
        .await
        .map_err(|e| fail(e.into()))?
        .into_iter()
        .filter(|v| v.version != install.version)
        .map(|v| v.version.to_string())
        .collect();
    let recorded = market
        .recorded_calls(me, tenant, id, MAX_CALLS)
        .await
        .map_err(&fail)?
        .len();
    let replays = registry
        .replays(me, tenant, id)
        .await
        .map_err(|e| fail(e.into()))?
        .into_iter()
        .map(|r| ReplayRow {
            id: r.id,
            candidate: r.candidate.to_string(),
            state: format!("{:?}", r.state).to_lowercase(),
            calls: r.calls,
            started: when(r.started_at),
        })
        .collect();
    let status = status_for(&error);
    Ok(render(
        status,
        &RolloutPage {
            chrome: viewer.chrome(),
            tenant: tenant.to_owned(),
            recording: install.recording,
            install,
            running,
            guardrails,
            srm,
            past,
            candidates,
            recorded,
            max_calls: MAX_CALLS,
            max_hours: MAX_RETENTION_HOURS,
            replays,
            done,
            error,
        },
    ))
}

/// `GET /tenants/{tenant}/installs/{id}/rollout`.
pub async fn page(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    rollout_page(&market, &viewer, &tenant, &id, None, None).await
}

fn number<T: std::str::FromStr>(
    viewer: &Viewer,
    name: &str,
    text: &str,
) -> Result<T, ConsoleError> {
    text.trim().parse().map_err(|_| ConsoleError::Page {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("`{name}` must be a number, not `{text}`"),
        lang: viewer.lang,
    })
}

/// `POST /tenants/{tenant}/installs/{id}/rollout`: start a canary, change
/// its share, promote or abort it (after confirming), switch recording on
/// or off, start a replay.
pub async fn act(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let me = viewer.check_csrf(field(&form, "csrf"))?.principal.clone();
    let action = field(&form, "action").to_owned();
    let rollout = field(&form, "rollout").to_owned();
    if matches!(action.as_str(), "promote" | "abort" | "record-off")
        && field(&form, "confirm") != "yes"
    {
        let chrome = viewer.chrome();
        return Ok(render(
            StatusCode::OK,
            &Confirm {
                question: format!("{} ({id})", chrome.t(&format!("confirm.{action}"))),
                path: format!("/tenants/{tenant}/installs/{id}/rollout"),
                fields: vec![
                    ("action".into(), action.clone()),
                    ("rollout".into(), rollout.clone()),
                ],
                chrome,
            },
        ));
    }
    let result: Result<Option<String>, MarketError> = match action.as_str() {
        "start" => market
            .start_rollout(
                &me,
                &tenant,
                &id,
                NewCanary {
                    version: field(&form, "version").to_owned(),
                    share: number(&viewer, "share", field(&form, "share"))?,
                    auto_abort: Some(field(&form, "auto_abort") == "on"),
                    accept_permissions: Some(field(&form, "accept_permissions") == "on"),
                },
            )
            .await
            .map(|_| None),
        "share" => market
            .set_rollout_share(
                &me,
                &tenant,
                &rollout,
                number(&viewer, "share", field(&form, "share"))?,
            )
            .await
            .map(|_| None),
        "promote" => market
            .promote_rollout(&me, &tenant, &rollout)
            .await
            .map(|_| None),
        "abort" => market
            .abort_rollout(&me, &tenant, &rollout, Some("aborted in the console"))
            .await
            .map(|_| None),
        "record-on" => market
            .set_recording(
                &me,
                &tenant,
                &id,
                Some(Recording {
                    calls: number(&viewer, "calls", field(&form, "calls"))?,
                    retention_hours: number(
                        &viewer,
                        "retention_hours",
                        field(&form, "retention_hours"),
                    )?,
                }),
            )
            .await
            .map(|_| None),
        "record-off" => market
            .set_recording(&me, &tenant, &id, None)
            .await
            .map(|_| None),
        "replay" => market
            .start_replay(
                &me,
                &tenant,
                &id,
                ReplayRequest {
                    candidate: field(&form, "version").to_owned(),
                    calls: None,
                },
            )
            .await
            .map(|r| Some(r.id)),
        other => return Err(unknown_action(&viewer, other)),
    };
    match result {
        Ok(Some(replay)) => {
            Ok(Redirect::to(&format!("/tenants/{tenant}/replays/{replay}")).into_response())
        }
        Ok(None) => {
            let done = viewer
                .chrome()
                .t(&format!("done.rollout.{action}"))
                .to_owned();
            rollout_page(&market, &viewer, &tenant, &id, Some(done), None).await
        }
        Err(e) => {
            let message = action_message(&viewer, e)?;
            rollout_page(&market, &viewer, &tenant, &id, None, Some(message)).await
        }
    }
}

#[derive(Template)]
#[template(path = "replay.html")]
struct ReplayPage {
    chrome: Chrome,
    tenant: String,
    install: String,
    id: String,
    state: String,
    running: bool,
    error: String,
    current: String,
    candidate: String,
    report: Option<ReportView>,
}

/// `GET /tenants/{tenant}/replays/{replay}`: a replay's state, then its
/// report (the page reloads itself while it runs).
pub async fn replay(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let found = market
        .replay(me, &tenant, &id, true)
        .await
        .map_err(fail(&viewer))?;
    Ok(render(
        StatusCode::OK,
        &ReplayPage {
            chrome: viewer.chrome(),
            tenant: tenant.clone(),
            install: found.install.clone(),
            id: found.id.clone(),
            state: format!("{:?}", found.state).to_lowercase(),
            running: found.state == ReplayState::Running,
            error: found.error.clone().unwrap_or_default(),
            current: found.current.to_string(),
            candidate: found.candidate.to_string(),
            report: found.report.as_ref().map(report_view),
        },
    ))
}
