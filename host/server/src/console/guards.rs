//! The director's guarded functions on an install's settings page: which
//! calls need a person (always, or when a condition on the arguments holds),
//! added and removed with plain form fields — no JSON to write.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use mercato_registry::guards::Guard;
use mercato_registry::{Install, InstallUpdate};
use serde_json::{Value, json};

use super::page::{ConsoleError, Viewer, action_message};
use crate::marketplace::{HOST_ONLY, Marketplace};

/// One guard as the page shows it.
pub struct GuardRow {
    /// The function.
    pub function: String,
    /// The condition in words (`draft.quantity > 5`), empty for "always".
    pub condition: String,
}

/// A condition as one line of text.
fn words(when: &Value) -> String {
    let group = |parts: &Value, joiner: &str| {
        let parts: Vec<String> = parts
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| format!("({})", words(p)))
            .collect();
        parts.join(joiner)
    };
    if let Some(parts) = when.get("all") {
        return group(parts, " and ");
    }
    if let Some(parts) = when.get("any") {
        return group(parts, " or ");
    }
    format!(
        "{} {} {}",
        when["field"].as_str().unwrap_or_default(),
        when["op"].as_str().unwrap_or_default(),
        when["value"]
    )
}

/// The install's guards, and the functions a guard may name.
pub(super) async fn view(
    market: &Marketplace,
    tenant: &str,
    install: &Install,
) -> (Vec<GuardRow>, Vec<String>) {
    let rows = install
        .guards
        .iter()
        .map(|g| GuardRow {
            function: g.function.clone(),
            condition: g.when.as_ref().map(words).unwrap_or_default(),
        })
        .collect();
    let callable = match market.active(tenant, &install.id).await {
        Ok(active) => active
            .component
            .functions()
            .map(|f| f.name.clone())
            .filter(|n| !HOST_ONLY.contains(&n.as_str()))
            .collect(),
        Err(_) => Vec::new(),
    };
    (rows, callable)
}

fn field<'a>(form: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    form.get(name).map_or("", |v| v.trim())
}

/// `POST /tenants/{tenant}/installs/{id}/guards`: `action=add` with
/// `function` and, for a condition, `field`, `op`, `value` (a number,
/// `true`/`false`, a JSON list, or text); `action=remove` with `function`.
pub async fn change(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let me = viewer.check_csrf(field(&form, "csrf"))?.principal.clone();
    let install = match market.registry().install_of(&me, &tenant, &id).await {
        Ok(install) => install,
        Err(e) => {
            let message = action_message(&viewer, e.into())?;
            return super::director::settings_page(
                &market,
                &viewer,
                tenant,
                &id,
                None,
                Some(message),
            )
            .await;
        }
    };
    let function = field(&form, "function").to_owned();
    let mut guards: Vec<Guard> = install
        .guards
        .into_iter()
        .filter(|g| g.function != function)
        .collect();
    let chrome = viewer.chrome();
    let done = match field(&form, "action") {
        "add" => {
            let when = match field(&form, "field") {
                "" => None,
                path => {
                    let raw = field(&form, "value");
                    let value = serde_json::from_str::<Value>(raw)
                        .unwrap_or_else(|_| Value::String(raw.to_owned()));
                    Some(json!({"field": path, "op": field(&form, "op"), "value": value}))
                }
            };
            guards.push(Guard {
                function: function.clone(),
                when,
            });
            chrome.t("done.guard_added")
        }
        "remove" => chrome.t("done.guard_removed"),
        other => return Err(super::page::unknown_action(&viewer, other)),
    };
    let update = InstallUpdate {
        guards: Some(guards),
        ..InstallUpdate::default()
    };
    let (done, error) = match market.update(&me, &tenant, &id, update).await {
        Ok(_) => (Some(format!("{function}: {done}")), None),
        Err(e) => (None, Some(action_message(&viewer, e)?)),
    };
    super::director::settings_page(&market, &viewer, tenant, &id, done, error).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn conditions_read_as_a_line() {
        assert_eq!(
            super::words(&json!({"field": "draft.quantity", "op": ">", "value": 50})),
            "draft.quantity > 50"
        );
        assert_eq!(
            super::words(&json!({"any": [{"field": "a", "op": "==", "value": "x"},
                                         {"field": "b", "op": "<", "value": 2}]})),
            "(a == \"x\") or (b < 2)"
        );
    }
}
