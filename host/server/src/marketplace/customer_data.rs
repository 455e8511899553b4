//! A customer's data across the host and the tenant's components: the export
//! (data portability) and the erasure. Only a component knows its own keys,
//! so both reach into every install of the tenant through WIT 0.2's
//! `export-customer` / `forget-customer`; an install built against 0.1 has
//! neither and is listed as unable, never silently skipped.

use mercato_registry::access::{Action, On};
use mercato_registry::events::{EventQuery, StoredEvent};
use mercato_registry::{CustomerProfile, Principal, RegistryError};
use mercato_runtime::WitVersion;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Active, MarketError, Marketplace};

/// What one install holds about the customer, or did with it.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentPart {
    /// The install.
    pub component: String,
    /// Its package and version.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The WIT package it was built against.
    pub wit: &'static str,
    /// `done`; `unable` (its WIT version has no such function); `failed`
    /// (the call failed: `reason` says how; erasing again retries it).
    pub outcome: &'static str,
    /// Why it is unable or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Export: its records, each `{kind, id, payload}` (payload as JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<Value>>,
    /// Erasure: what it removed, each `{kind, count}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<Value>>,
    /// Erasure: what it kept, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<Vec<String>>,
}

/// Everything held about one customer.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerExport {
    /// The customer's id.
    pub customer: String,
    /// The profile, whole (the tenant's own data), if there is one.
    pub profile: Option<CustomerProfile>,
    /// Every event about the customer, oldest first.
    pub events: Vec<StoredEvent>,
    /// Approval requests about the customer, oldest first.
    pub approvals: Vec<mercato_registry::inbox::Approval>,
    /// Each install's records.
    pub components: Vec<ComponentPart>,
}

/// What erasing a customer removed.
#[derive(Debug, Clone, Serialize)]
pub struct Erasure {
    /// The customer's id.
    pub erased: String,
    /// Whether a profile was removed.
    pub profile: bool,
    /// Events removed.
    pub events_removed: u64,
    /// Approval requests about the customer removed from the inbox.
    pub approvals_removed: u64,
    /// What each install removed, could not, or failed to.
    pub components: Vec<ComponentPart>,
}

impl ComponentPart {
    fn of(active: &Active, outcome: &'static str) -> Self {
        ComponentPart {
            component: active.install.id.clone(),
            package: active.install.package.clone(),
            version: active.install.version.to_string(),
            wit: active.component.wit().package(),
            outcome,
            reason: None,
            records: None,
            removed: None,
            kept: None,
        }
    }

    /// An install whose WIT version has neither function.
    fn unable(active: &Active, function: &str) -> Self {
        ComponentPart {
            reason: Some(format!(
                "built against `{}`, which has no `{function}`; a version built against `{}` can",
                active.component.wit(),
                WitVersion::V0_2
            )),
            ..ComponentPart::of(active, "unable")
        }
    }

    fn failed(active: &Active, reason: String) -> Self {
        ComponentPart {
            reason: Some(reason),
            ..ComponentPart::of(active, "failed")
        }
    }
}

impl Marketplace {
    /// Every install of the tenant, resolved, in id order.
    async fn every_install(
        &self,
        actor: &Principal,
        tenant: &str,
    ) -> Result<Vec<std::sync::Arc<Active>>, MarketError> {
        let installs = self.registry.installs(actor, tenant).await?;
        let mut resolved = Vec::with_capacity(installs.len());
        for install in installs {
            resolved.push(self.active(tenant, &install.id).await?);
        }
        Ok(resolved)
    }

    /// Everything held about `customer` in `tenant` (its director,
    /// operators): the profile, every event about them, and what each
    /// install holds. `404` when nothing at all is held.
    pub async fn export_customer(
        &self,
        actor: &Principal,
        tenant: &str,
        customer: &str,
    ) -> Result<CustomerExport, MarketError> {
        actor.may(Action::ReadCustomers, On::Tenant(tenant))?;
        let profile = match self.registry.customer(actor, tenant, customer).await {
            Ok(profile) => Some(profile),
            Err(RegistryError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let mut events = Vec::new();
        let mut after = None;
        loop {
            let query = EventQuery {
                customer: Some(customer.to_owned()),
                after,
                limit: Some(mercato_registry::events::MAX_PAGE),
                ..EventQuery::default()
            };
            let page = self.registry.events(actor, tenant, &query).await?;
            events.extend(page.events);
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let approvals = self
            .registry
            .approvals_about(actor, tenant, customer)
            .await?;
        let mut components = Vec::new();
        for active in self.every_install(actor, tenant).await? {
            if active.component.function("export-customer").is_none() {
                components.push(ComponentPart::unable(&active, "export-customer"));
                continue;
            }
            let args = json!({ "customer-id": customer });
            components.push(match self.call(&active, "export-customer", args).await {
                Ok(outcome) => ComponentPart {
                    records: Some(records(outcome.json())),
                    ..ComponentPart::of(&active, "done")
                },
                Err(e) => ComponentPart::failed(&active, e.to_string()),
            });
        }
        let held = components
            .iter()
            .any(|c| c.records.as_ref().is_some_and(|r| !r.is_empty()));
        if profile.is_none() && events.is_empty() && approvals.is_empty() && !held {
            return Err(RegistryError::NotFound {
                what: "customer",
                name: format!("{tenant}/{customer}"),
            }
            .into());
        }
        Ok(CustomerExport {
            customer: customer.to_owned(),
            profile,
            events,
            approvals,
            components,
        })
    }

    /// Erase `customer` from `tenant` (its director, operators): each
    /// install forgets what it holds, then the profile, every event and
    /// every approval request about them go in one audited change whose
    /// record lists what each install removed.
    /// An install that fails is reported, and erasing again retries it.
    pub async fn erase_customer(
        &self,
        actor: &Principal,
        tenant: &str,
        customer: &str,
    ) -> Result<Erasure, MarketError> {
        actor.may(Action::EraseCustomer, On::Tenant(tenant))?;
        let mut components = Vec::new();
        for active in self.every_install(actor, tenant).await? {
            if active.component.function("forget-customer").is_none() {
                components.push(ComponentPart::unable(&active, "forget-customer"));
                continue;
            }
            let args = json!({ "customer-id": customer });
            let answer = self
                .call(&active, "forget-customer", args)
                .await
                .map(|outcome| outcome.json());
            components.push(match answer {
                Ok(Value::Object(mut result)) if result.contains_key("ok") => {
                    let report = result.remove("ok").unwrap_or_default();
                    ComponentPart {
                        removed: Some(removed(&report["removed"])),
                        kept: Some(
                            report["kept"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|k| k.as_str().map(str::to_owned))
                                .collect(),
                        ),
                        ..ComponentPart::of(&active, "done")
                    }
                }
                Ok(refused) => ComponentPart::failed(
                    &active,
                    format!("the component refused: {}", refused["err"]),
                ),
                Err(e) => ComponentPart::failed(&active, e.to_string()),
            });
        }
        let held_elsewhere = components.iter().any(|c| {
            c.outcome == "failed"
                || c.removed
                    .as_ref()
                    .is_some_and(|r| r.iter().any(|k| k["count"].as_u64().is_some_and(|n| n > 0)))
        });
        let report = serde_json::to_value(&components).unwrap_or(Value::Null);
        let (profile, events_removed, approvals_removed) = self
            .changed(
                self.registry
                    .erase_customer(actor, tenant, customer, &report, held_elsewhere),
            )
            .await?;
        Ok(Erasure {
            erased: customer.to_owned(),
            profile,
            events_removed,
            approvals_removed,
            components,
        })
    }
}

/// `export-customer`'s list, each payload parsed back into JSON (kept as a
/// string when a component wrote something that is not JSON).
fn records(list: Value) -> Vec<Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let payload = r["payload"].as_str().unwrap_or_default();
            json!({
                "kind": r["kind"],
                "id": r["id"],
                "payload": serde_json::from_str::<Value>(payload)
                    .unwrap_or_else(|_| Value::String(payload.to_owned())),
            })
        })
        .collect()
}

/// `forget-report.removed` (a list of `[kind, count]`) as `{kind, count}`.
fn removed(list: &Value) -> Vec<Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|pair| json!({ "kind": pair[0], "count": pair[1] }))
        .collect()
}
