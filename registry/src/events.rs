//! Events components emitted, per tenant: queried by component, name,
//! customer and time range, oldest first, paged by id, count and bytes.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::RegistryError;
use crate::access::{Action, On};
use crate::principal::Principal;

/// One stored event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Position, for paging.
    pub id: i64,
    /// The install that emitted it.
    pub component: String,
    /// Dotted name, e.g. `booking.confirmed`.
    pub name: String,
    /// The customer it is about.
    pub customer: Option<String>,
    /// Properties (a JSON object).
    pub properties: serde_json::Value,
    /// Milliseconds since the Unix epoch.
    pub occurred_at: i64,
    /// The component version that emitted it (absent for events stored
    /// before versions were recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Which events.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Only this install.
    pub component: Option<String>,
    /// Only this name.
    pub name: Option<String>,
    /// Only about this customer.
    pub customer: Option<String>,
    /// From this time (ms, inclusive).
    pub from: Option<i64>,
    /// Before this time (ms, exclusive).
    pub to: Option<i64>,
    /// After this event id (paging).
    pub after: Option<i64>,
    /// At most this many (default 1000, at most 10 000; a page also ends
    /// after 4 MiB of events).
    pub limit: Option<i64>,
}

impl crate::Registry {
    /// A tenant's events matching `query` (its director, operators).
    pub async fn events(
        &self,
        actor: &Principal,
        tenant: &str,
        query: &EventQuery,
    ) -> Result<EventPage, RegistryError> {
        actor.may(Action::ReadEvents, On::Tenant(tenant))?;
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from >= to
        {
            return Err(RegistryError::invalid("to", "must be after `from`"));
        }
        // Optional filters become always-true comparisons, so one statement
        // with typed parameters serves both engines.
        let limit = query.limit.unwrap_or(1000).clamp(1, MAX_PAGE);
        let statement = sqlx::query(
            "SELECT id, component, name, customer, properties, occurred_at, version FROM events \
             WHERE tenant = $1 AND id > $2 AND occurred_at >= $3 AND occurred_at < $4 \
             AND ($5 = '' OR component = $5) AND ($6 = '' OR name = $6) \
             AND ($7 = '' OR customer = $7) ORDER BY id LIMIT $8",
        )
        .bind(tenant.to_owned())
        .bind(query.after.unwrap_or(0))
        .bind(query.from.unwrap_or(i64::MIN))
        .bind(query.to.unwrap_or(i64::MAX))
        .bind(query.component.clone().unwrap_or_default())
        .bind(query.name.clone().unwrap_or_default())
        .bind(query.customer.clone().unwrap_or_default())
        .bind(limit);
        let page = crate::paging::read(statement, self.db.pool(), limit as usize, |r| {
            let properties: String = r.try_get("properties")?;
            let event = StoredEvent {
                id: r.try_get("id")?,
                component: r.try_get("component")?,
                name: r.try_get("name")?,
                customer: r.try_get("customer")?,
                properties: serde_json::from_str(&properties)
                    .map_err(|e| RegistryError::Corrupt(format!("stored properties: {e}")))?,
                occurred_at: r.try_get("occurred_at")?,
                version: r.try_get("version")?,
            };
            let size = properties.len()
                + event.name.len()
                + event.component.len()
                + event.customer.as_ref().map_or(0, String::len);
            let cursor = event.id.to_string();
            Ok((event, size, cursor))
        })
        .await?;
        Ok(EventPage {
            next_after: page.next.and_then(|n| n.parse().ok()),
            events: page.items,
        })
    }
}

/// The most events one page holds.
pub const MAX_PAGE: i64 = 10_000;

/// One page of events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    /// Oldest first.
    pub events: Vec<StoredEvent>,
    /// Pass as `after` for the next page; `None` when this was the last.
    pub next_after: Option<i64>,
}

/// Events as CSV: `id,occurred_at,component,name,customer,properties`
/// (properties as JSON), one row per event.
pub fn to_csv(events: &[StoredEvent]) -> Result<String, RegistryError> {
    csv_rows(events, true)
}

/// [`to_csv`], with or without the header line (for pages after the first).
pub fn csv_rows(events: &[StoredEvent], header: bool) -> Result<String, RegistryError> {
    let failed = |e: &dyn std::fmt::Display| RegistryError::Corrupt(format!("writing CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        w.write_record([
            "id",
            "occurred_at",
            "component",
            "name",
            "customer",
            "properties",
        ])
        .map_err(|e| failed(&e))?;
    }
    for e in events {
        w.write_record([
            e.id.to_string(),
            e.occurred_at.to_string(),
            e.component.clone(),
            e.name.clone(),
            e.customer.clone().unwrap_or_default(),
            e.properties.to_string(),
        ])
        .map_err(|e| failed(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| failed(&e))?;
    String::from_utf8(bytes).map_err(|e| failed(&e))
}
