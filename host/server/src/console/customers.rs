//! The director's data pages: the events components emitted (filters, CSV
//! export) and the tenant's customer profiles (CSV import with per-record
//! errors, a masked view, erasure after a confirmation).

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mercato_registry::CustomerProfile;
use mercato_registry::events::{EventQuery, StoredEvent};
use serde::Deserialize;

use super::page::{
    Chrome, Confirm, ConsoleError, Viewer, action_message, read_upload, render, status_for,
    urlencode, when,
};
use crate::marketplace::Marketplace;

/// The most events one page shows; the CSV export takes up to the API's cap.
const PAGE: i64 = 200;

/// The events page's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    component: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    customer: String,
    /// `YYYY-MM-DD`, from the day's start (UTC).
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`, until the day's end (UTC).
    #[serde(default)]
    to: String,
}

/// Milliseconds at the start of a `YYYY-MM-DD` day (UTC).
fn day_start(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

impl Filter {
    fn query(&self, limit: i64) -> Result<EventQuery, String> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let day = |field: &str, s: &str| -> Result<Option<i64>, String> {
            match text(s) {
                None => Ok(None),
                Some(t) => day_start(&t)
                    .map(Some)
                    .ok_or_else(|| format!("{field}: `{t}` is not a date (YYYY-MM-DD)")),
            }
        };
        Ok(EventQuery {
            component: text(&self.component),
            name: text(&self.name),
            customer: text(&self.customer),
            from: day("from", &self.from)?,
            to: day("to", &self.to)?.map(|t| t + 86_400_000),
            after: None,
            limit: Some(limit),
        })
    }

    fn as_query_string(&self) -> String {
        format!(
            "component={}&name={}&customer={}&from={}&to={}",
            urlencode(&self.component),
            urlencode(&self.name),
            urlencode(&self.customer),
            urlencode(&self.from),
            urlencode(&self.to)
        )
    }
}

struct EventRow {
    at: String,
    component: String,
    name: String,
    customer: String,
    properties: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    chrome: Chrome,
    tenant: String,
    filter: Filter,
    rows: Vec<EventRow>,
    export: String,
    error: Option<String>,
}

async fn load_events(
    market: &Marketplace,
    viewer: &Viewer,
    tenant: &str,
    query: &EventQuery,
) -> Result<Vec<StoredEvent>, ConsoleError> {
    let me = viewer.principal()?;
    market
        .registry()
        .events(me, tenant, query)
        .await
        .map(|page| page.events)
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))
}

/// `GET /tenants/{tenant}/events`.
pub async fn events(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Response, ConsoleError> {
    viewer.principal()?;
    let (rows, error) = match filter.query(PAGE) {
        Ok(query) => {
            let events = load_events(&market, &viewer, &tenant, &query).await?;
            let rows = events
                .into_iter()
                .rev()
                .map(|e| EventRow {
                    at: when(e.occurred_at),
                    component: e.component,
                    name: e.name,
                    customer: e.customer.unwrap_or_default(),
                    properties: e.properties.to_string(),
                })
                .collect();
            (rows, None)
        }
        Err(message) => (Vec::new(), Some(message)),
    };
    let export = format!("/tenants/{tenant}/events.csv?{}", filter.as_query_string());
    Ok(render(
        status_for(&error),
        &EventsPage {
            chrome: viewer.chrome(),
            tenant,
            filter,
            rows,
            export,
            error,
        },
    ))
}

/// `GET /tenants/{tenant}/events.csv`: the filtered events as CSV.
pub async fn events_csv(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Response, ConsoleError> {
    let query = filter
        .query(mercato_registry::events::MAX_PAGE)
        .map_err(|message| ConsoleError::Page {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message,
            lang: viewer.lang,
        })?;
    let me = viewer.principal()?.clone();
    // The first page is read now, so a refusal is still a page; the rest
    // stream a page at a time, so an export of any size holds one page.
    let first = market
        .registry()
        .events(&me, &tenant, &query)
        .await
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?;
    let head = mercato_registry::events::csv_rows(&first.events, true)
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?;
    let rest = futures_util::stream::unfold(
        (first.next_after, market.clone(), me, tenant.clone(), query),
        |(after, market, me, tenant, mut query)| async move {
            let after = after?;
            query.after = Some(after);
            let page = market.registry().events(&me, &tenant, &query).await;
            let (chunk, next) = match page.and_then(|p| {
                Ok((
                    mercato_registry::events::csv_rows(&p.events, false)?,
                    p.next_after,
                ))
            }) {
                Ok(done) => done,
                Err(e) => {
                    return Some((
                        Err(std::io::Error::other(e.to_string())),
                        (None, market, me, tenant, query),
                    ));
                }
            };
            Some((Ok(chunk), (next, market, me, tenant, query)))
        },
    );
    let body = axum::body::Body::from_stream(futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }),
        rest,
    ));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{tenant}-events.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

struct CustomerRow {
    id: String,
    name: String,
    company: String,
    email: String,
    phone: String,
    address: String,
    tags: String,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    chrome: Chrome,
    tenant: String,
    rows: Vec<CustomerRow>,
    done: Option<String>,
    error: Option<String>,
}

async fn customers_page(
    market: &Marketplace,
    viewer: &Viewer,
    tenant: &str,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let profiles = market
        .registry()
        .customers(me, tenant, "", 500)
        .await
        .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?;
    // Contact details are masked here too: the console shows who a customer
    // is, the API exports them whole to whoever may export.
    let rows = profiles
        .into_iter()
        .map(CustomerProfile::masked)
        .map(|p| CustomerRow {
            id: p.id,
            name: p.name,
            company: p.company.unwrap_or_default(),
            email: p.email.unwrap_or_default(),
            phone: p.phone.unwrap_or_default(),
            address: p.address.unwrap_or_default(),
            tags: p.tags.join(", "),
        })
        .collect();
    Ok(render(
        status_for(&error),
        &CustomersPage {
            chrome: viewer.chrome(),
            tenant: tenant.to_owned(),
            rows,
            done,
            error,
        },
    ))
}

/// `GET /tenants/{tenant}/customers`.
pub async fn customers(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> Result<Response, ConsoleError> {
    customers_page(&market, &viewer, &tenant, None, None).await
}

/// `POST /tenants/{tenant}/customers/import`: a CSV file, all or nothing;
/// errors name the record and field.
pub async fn import(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    form: Multipart,
) -> Result<Response, ConsoleError> {
    let (csrf, file) = read_upload(&viewer, form, "file").await?;
    let file = String::from_utf8(file).map_err(|e| ConsoleError::Page {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("the file is not UTF-8 text: {e}"),
        lang: viewer.lang,
    })?;
    let me = viewer.check_csrf(&csrf)?.principal.clone();
    let result = match mercato_registry::customers::from_csv(&file) {
        Ok(profiles) => market.import_customers(&me, &tenant, profiles).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(n) => {
            let done = format!("{} {n}", viewer.chrome().t("customers.imported"));
            customers_page(&market, &viewer, &tenant, Some(done), None).await
        }
        Err(e) => {
            let message = action_message(&viewer, e)?;
            customers_page(&market, &viewer, &tenant, None, Some(message)).await
        }
    }
}

/// `POST /tenants/{tenant}/customers/{id}/erase`: the profile and every
/// event about the customer, after a confirmation.
pub async fn erase(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| form.get(name).map_or("", String::as_str).to_owned();
    let me = viewer.check_csrf(&field("csrf"))?.principal.clone();
    if field("confirm") != "yes" {
        let chrome = viewer.chrome();
        return Ok(render(
            StatusCode::OK,
            &Confirm {
                question: format!("{} ({id})", chrome.t("confirm.erase")),
                path: format!("/tenants/{tenant}/customers/{id}/erase"),
                fields: Vec::new(),
                chrome,
            },
        ));
    }
    match market.erase_customer(&me, &tenant, &id).await {
        Ok(erasure) => {
            let chrome = viewer.chrome();
            let mut done = format!(
                "{id}: {} ({} {})",
                chrome.t("customers.erased"),
                erasure.events_removed,
                chrome.t("customers.events_removed")
            );
            for part in &erasure.components {
                let removed: u64 = part
                    .removed
                    .iter()
                    .flatten()
                    .filter_map(|k| k["count"].as_u64())
                    .sum();
                let what = match part.outcome {
                    "done" => format!("{removed} {}", chrome.t("customers.records_removed")),
                    "unable" => chrome.t("customers.component_unable").to_owned(),
                    _ => format!(
                        "{}: {}",
                        chrome.t("customers.component_failed"),
                        part.reason.as_deref().unwrap_or_default()
                    ),
                };
                done.push_str(&format!("; {}: {what}", part.component));
            }
            customers_page(&market, &viewer, &tenant, Some(done), None).await
        }
        Err(e) => {
            let message = action_message(&viewer, e)?;
            customers_page(&market, &viewer, &tenant, None, Some(message)).await
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_read_as_utc_midnight() {
        assert_eq!(super::day_start("1970-01-01"), Some(0));
        assert_eq!(super::day_start("2026-03-01"), Some(1_772_323_200_000));
        assert_eq!(super::day_start("2026-13-01"), None);
        assert_eq!(super::day_start("yesterday"), None);
    }
}
