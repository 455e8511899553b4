//! The developer's pages: its publisher's signing keys (register, rotate,
//! revoke — the last two after a confirmation), its versions with their
//! review state and reasons, and uploading a package file.

use mercato_registry::access::{Action, On};
use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use mercato_registry::NewKey;

use super::page::{
    Chrome, Confirm, ConsoleError, Viewer, action_message, read_upload, render, status_for,
    unknown_action, when,
};
use crate::marketplace::Marketplace;

struct KeyRow {
    key_id: String,
    state: String,
    active: bool,
    created: String,
}

struct VersionRow {
    name: String,
    version: String,
    state: String,
    reason: String,
    submitted: String,
}

#[derive(Template)]
#[template(path = "publisher.html")]
struct PublisherPage {
    chrome: Chrome,
    publisher: String,
    keys: Vec<KeyRow>,
    versions: Vec<VersionRow>,
    done: Option<String>,
    error: Option<String>,
}

async fn publisher_page(
    market: &Marketplace,
    viewer: &Viewer,
    publisher: &str,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    me.may(Action::Publish, On::Publisher(publisher))
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?;
    let fail = |e: mercato_registry::RegistryError| ConsoleError::market(viewer.lang, e.into());
    let registry = market.registry();
    let chrome = viewer.chrome();
    let keys = registry
        .keys(me, publisher)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|k| KeyRow {
            state: chrome.tr("key", k.state.as_str()),
            active: k.state.as_str() == "active",
            created: when(k.created_at),
            key_id: k.key_id,
        })
        .collect();
    let prefix = format!("{publisher}/");
    let mut versions: Vec<VersionRow> = registry
        .versions(me, None, None)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|v| v.name.starts_with(&prefix))
        .map(|v| VersionRow {
            state: chrome.tr("state", v.state.as_str()),
            reason: v.reason.unwrap_or_default(),
            submitted: when(v.submitted_at),
            name: v.name,
            version: v.version.to_string(),
        })
        .collect();
    versions.sort_by(|a, b| (&a.name, &b.version).cmp(&(&b.name, &a.version)));
    Ok(render(
        status_for(&error),
        &PublisherPage {
            chrome,
            publisher: publisher.to_owned(),
            keys,
            versions,
            done,
            error,
        },
    ))
}

/// `GET /publishers/{publisher}`.
pub async fn publisher(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(publisher): Path<String>,
) -> Result<Response, ConsoleError> {
    publisher_page(&market, &viewer, &publisher, None, None).await
}

/// `POST /publishers/{publisher}/keys`: register, rotate or revoke a key.
pub async fn keys(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(publisher): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| form.get(name).map_or("", |v| v.trim()).to_owned();
    let me = viewer.check_csrf(&field("csrf"))?.principal.clone();
    let action = field("action");
    if matches!(action.as_str(), "rotate" | "revoke") && field("confirm") != "yes" {
        let chrome = viewer.chrome();
        return Ok(render(
            StatusCode::OK,
            &Confirm {
                question: format!(
                    "{} ({})",
                    chrome.t(&format!("confirm.{action}_key")),
                    field("key_id")
                ),
                path: format!("/publishers/{publisher}/keys"),
                fields: vec![
                    ("action".into(), action.clone()),
                    ("key_id".into(), field("key_id")),
                    ("public_key".into(), field("public_key")),
                ],
                chrome,
            },
        ));
    }
    let new = || NewKey {
        public_key: field("public_key"),
    };
    let result = match action.as_str() {
        "register" => market
            .register_key(&me, &publisher, new())
            .await
            .map(|k| k.key_id),
        "rotate" => market
            .rotate_key(&me, &publisher, &field("key_id"), new())
            .await
            .map(|k| k.key_id),
        "revoke" => market
            .revoke_key(&me, &publisher, &field("key_id"))
            .await
            .map(|k| k.key_id),
        other => return Err(unknown_action(&viewer, other)),
    };
    match result {
        Ok(key_id) => {
            let done = format!(
                "{key_id}: {}",
                viewer.chrome().t(&format!("done.key.{action}"))
            );
            publisher_page(&market, &viewer, &publisher, Some(done), None).await
        }
        Err(e) => {
            let message = action_message(&viewer, e)?;
            publisher_page(&market, &viewer, &publisher, None, Some(message)).await
        }
    }
}

/// `POST /publishers/{publisher}/upload`: a package file, checked as the
/// API checks it.
pub async fn upload(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(publisher): Path<String>,
    form: Multipart,
) -> Result<Response, ConsoleError> {
    let (csrf, file) = read_upload(&viewer, form, "package").await?;
    let me = viewer.check_csrf(&csrf)?.principal.clone();
    match market.publish(&me, file).await {
        Ok(v) => {
            let done = format!(
                "{}@{}: {}",
                v.name,
                v.version,
                viewer.chrome().t("done.uploaded")
            );
            publisher_page(&market, &viewer, &publisher, Some(done), None).await
        }
        Err(e) => {
            let message = action_message(&viewer, e)?;
            publisher_page(&market, &viewer, &publisher, None, Some(message)).await
        }
    }
}
