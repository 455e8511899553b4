//! The director's approvals inbox: what each component asked, and why, with
//! its details; approve, or reject with a reason (after a confirmation); the
//! component's own answer to the decision is shown, never a bare "done".

use mercato_registry::inbox::ApprovalQuery;
use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use mercato_registry::Decision;
use mercato_registry::delivery::DeliveryState;
use mercato_registry::inbox::{Answer, Approval};

use super::page::{
    Chrome, Confirm, ConsoleError, Viewer, action_message, render, status_for, when,
};
use crate::marketplace::Marketplace;

struct Row {
    id: String,
    component: String,
    summary: String,
    details: Vec<(String, String)>,
    status: String,
    requested: String,
    decided: String,
    reason: String,
    delivery: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct InboxPage {
    chrome: Chrome,
    tenant: String,
    pending: Vec<Row>,
    decided: Vec<Row>,
    done: Option<String>,
    error: Option<String>,
}

/// What became of a decision with the component, in the viewer's words:
/// taken, refused with the component's reason, waiting, or failed.
fn delivery(chrome: &Chrome, a: &Approval) -> String {
    let d = &a.delivery;
    // A component's error is `{"conflict": "request was cancelled"}`; the
    // host's last error is a string.
    let said = d.reply.as_ref().map(|r| match r {
        serde_json::Value::Object(o) if o.len() == 1 => o
            .values()
            .next()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| r.to_string()),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let key = match d.state {
        DeliveryState::Undecided | DeliveryState::NotRecorded => return String::new(),
        DeliveryState::Accepted => return chrome.t("approvals.component_took").to_owned(),
        DeliveryState::Refused => "approvals.component_refused",
        DeliveryState::Waiting | DeliveryState::Delivering => "approvals.not_delivered",
        DeliveryState::Failed => "approvals.delivery_failed",
    };
    match said {
        Some(said) if !said.is_empty() => format!("{}: {said}", chrome.t(key)),
        _ => chrome.t(key).to_owned(),
    }
}

fn row(chrome: &Chrome, a: Approval) -> Row {
    Row {
        delivery: delivery(chrome, &a),
        status: chrome.tr("approval", &a.status),
        requested: when(a.requested_at),
        decided: match (&a.decided_by, a.decided_at) {
            (Some(by), Some(at)) => format!("{by} · {}", when(at)),
            _ => String::new(),
        },
        reason: a.reason.unwrap_or_default(),
        id: a.id,
        component: a.component,
        summary: a.summary,
        details: a.details,
    }
}

async fn inbox_page(
    market: &Marketplace,
    viewer: &Viewer,
    tenant: &str,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    // The inbox shows a page of each: the oldest pending stay reachable
    // however many requests were decided since.
    let page = |status: Option<&str>, limit: i64| {
        let query = ApprovalQuery {
            status: status.map(str::to_owned),
            before: None,
            limit: Some(limit),
        };
        async move {
            market
                .registry()
                .approvals(me, tenant, &query)
                .await
                .map_err(|e| ConsoleError::market(viewer.lang, e.into()))
        }
    };
    let open = page(Some("pending"), 200).await?;
    let recent = page(None, 100).await?;
    let chrome = viewer.chrome();
    let pending: Vec<Row> = open.items.into_iter().map(|a| row(&chrome, a)).collect();
    let decided: Vec<Row> = recent
        .items
        .into_iter()
        .filter(|a| a.status != "pending")
        .map(|a| row(&chrome, a))
        .collect();
    let status = status_for(&error);
    Ok(render(
        status,
        &InboxPage {
            chrome,
            tenant: tenant.to_owned(),
            pending,
            decided,
            done,
            error,
        },
    ))
}

/// `GET /tenants/{tenant}/approvals`.
pub async fn inbox(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> Result<Response, ConsoleError> {
    inbox_page(&market, &viewer, &tenant, None, None).await
}

/// `POST /tenants/{tenant}/approvals/{id}`: approve, or reject with a
/// reason; the component hears of it at once.
pub async fn decide(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| form.get(name).map_or("", String::as_str).to_owned();
    let me = viewer.check_csrf(&field("csrf"))?.principal.clone();
    let decision = match field("decision").as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        other => {
            return Err(ConsoleError::Page {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!("`decision` must be approve or reject, not `{other}`"),
                lang: viewer.lang,
            });
        }
    };
    if decision == Decision::Reject && field("confirm") != "yes" {
        let chrome = viewer.chrome();
        return Ok(render(
            StatusCode::OK,
            &Confirm {
                question: chrome.t("confirm.reject_request").to_owned(),
                path: format!("/tenants/{tenant}/approvals/{id}"),
                fields: vec![
                    ("decision".into(), "reject".into()),
                    ("reason".into(), field("reason")),
                ],
                chrome,
            },
        ));
    }
    let reason = Some(field("reason").trim().to_owned()).filter(|r| !r.is_empty());
    match market
        .decide(&me, &tenant, &id, Answer { decision, reason })
        .await
    {
        Ok(approval) => {
            let chrome = viewer.chrome();
            let heard = delivery(&chrome, &approval);
            let done = format!(
                "{} — {}: {heard}",
                approval.summary,
                chrome.tr("approval", &approval.status)
            );
            inbox_page(&market, &viewer, &tenant, Some(done), None).await
        }
        Err(e) => {
            let message = action_message(&viewer, e)?;
            inbox_page(&market, &viewer, &tenant, None, Some(message)).await
        }
    }
}
