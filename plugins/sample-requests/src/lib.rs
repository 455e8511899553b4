//! Sample requests: a customer asks for product samples; stock is checked
//! and reserved; requests above the tenant's quantity or value threshold
//! wait for a director's decision (through the `approvals` host interface);
//! approved requests ship and are delivered, or are cancelled. Every step
//! emits an event.
//!
//! Built only with the public `mercato-sdk`. Store layout: `stock/{sku}`,
//! `req/{seq:012}` (one request each), `customer/{id}/{seq:012}` (for the
//! per-customer limit), `next-id`.

mod settings;

use mercato_sdk::samples::{
    RequestDraft, RequestFilter, RequestState, SampleRequest, SampleRequests, Shipment,
    ShippingAddress, StockLevel,
};
use mercato_sdk::{
    ApprovalRequest, Component, CustomerRecord, Decision, Description, Error, Event, ForgetReport,
    Validation, approvals, clock, store,
};

pub use settings::{InitialStock, Settings};

/// The sample-requests component.
#[derive(Debug)]
pub struct SampleDesk;

mercato_sdk::export_sample_requests!(SampleDesk);

const LONGEST_TEXT: usize = 500;

fn settings() -> Result<Settings, Error> {
    mercato_sdk::settings::get()
}

fn state_name(state: RequestState) -> &'static str {
    match state {
        RequestState::AwaitingApproval => "awaiting-approval",
        RequestState::Approved => "approved",
        RequestState::Rejected => "rejected",
        RequestState::Shipped => "shipped",
        RequestState::Delivered => "delivered",
        RequestState::Cancelled => "cancelled",
    }
}

fn seq_of(id: &str) -> Result<u64, Error> {
    id.strip_prefix("r-")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::not_found("sample request", id))
}

fn load(id: &str) -> Result<SampleRequest, Error> {
    store::get(&format!("req/{:012}", seq_of(id)?))?
        .ok_or_else(|| Error::not_found("sample request", id))
}

fn save(request: &SampleRequest) -> Result<(), Error> {
    store::set(&format!("req/{:012}", seq_of(&request.id)?), request)
}

fn stock_of(sku: &str) -> Result<Option<StockLevel>, Error> {
    if let Some(level) = store::get::<StockLevel>(&format!("stock/{sku}"))? {
        return Ok(Some(level));
    }
    Ok(settings()?.stock.get(sku).map(|s| StockLevel {
        sku: sku.to_owned(),
        available: s.available,
        unit_price_minor: s.unit_price_minor,
    }))
}

fn adjust_stock(sku: &str, delta: i64) -> Result<(), Error> {
    let mut level = stock_of(sku)?.ok_or_else(|| Error::not_found("stock for SKU", sku))?;
    level.available = u32::try_from(i64::from(level.available) + delta)
        .map_err(|_| Error::Conflict(format!("stock of `{sku}` would go out of range")))?;
    store::set(&format!("stock/{sku}"), &level)
}

fn event(name: &str, r: &SampleRequest) -> Event {
    Event::new(name)
        .customer(r.customer.as_str())
        .with("request", r.id.as_str())
        .with("sku", r.sku.as_str())
        .with("quantity", r.quantity)
        .with("state", state_name(r.state))
}

/// Move `id` from one of `from` to `to`, or refuse naming the current state.
fn transition(
    id: &str,
    from: &[RequestState],
    to: RequestState,
    verb: &str,
) -> Result<SampleRequest, Error> {
    let mut r = load(id)?;
    if !from.contains(&r.state) {
        return Err(Error::Conflict(format!(
            "request {id} is {} and cannot be {verb}",
            state_name(r.state)
        )));
    }
    r.state = to;
    r.updated_at = clock::now();
    Ok(r)
}

fn check_address(a: &ShippingAddress, check: &mut Validation) {
    check
        .not_blank(&a.recipient, "address.recipient")
        .not_blank(&a.line1, "address.line1")
        .not_blank(&a.city, "address.city")
        .not_blank(&a.postal_code, "address.postal-code")
        .require(
            a.country.len() == 2 && a.country.bytes().all(|b| b.is_ascii_uppercase()),
            "address.country",
            "must be an ISO 3166-1 alpha-2 code such as `DE`",
        );
}

impl Component for SampleDesk {
    type Settings = Settings;

    fn describe() -> Description {
        Description::new(
            "Sample requests",
            "Customers ask for product samples. Stock is checked and reserved; requests \
             above your quantity or value threshold wait for a director's approval; \
             approved requests are shipped with a tracking number and marked delivered.",
        )
        .settings_schema(settings::schema())
    }

    fn validate_settings(settings: &Settings) -> Vec<mercato_sdk::FieldError> {
        settings.check()
    }

    fn approval_decided(decision: Decision) -> Result<(), Error> {
        let mut r = load(&decision.subject)?;
        if r.state != RequestState::AwaitingApproval
            || r.approval_id.as_deref() != Some(decision.approval_id.as_str())
        {
            return Err(Error::Conflict(format!(
                "request {} is {} and not waiting for approval {}",
                r.id,
                state_name(r.state),
                decision.approval_id
            )));
        }
        r.updated_at = decision.decided_at;
        if decision.approved {
            r.state = RequestState::Approved;
        } else {
            r.state = RequestState::Rejected;
            r.reason = decision.reason.clone();
            adjust_stock(&r.sku, i64::from(r.quantity))?;
        }
        save(&r)?;
        event(
            if decision.approved {
                "sample.approved"
            } else {
                "sample.rejected"
            },
            &r,
        )
        .with("decided-by", decision.decided_by.as_str())
        .emit();
        Ok(())
    }

    /// Every sample request of the customer, shipping address included.
    fn export_customer(customer: &str) -> Vec<CustomerRecord> {
        requests_of(customer)
            .unwrap_or_default()
            .iter()
            .map(|r| CustomerRecord::new("sample-request", r.id.as_str(), r))
            .collect()
    }

    /// Delete every request of the customer and its per-customer index. An
    /// open request gives its reserved stock back and withdraws its pending
    /// approval, as a cancellation would.
    fn forget_customer(customer: &str) -> Result<ForgetReport, Error> {
        let requests = requests_of(customer)?;
        for r in &requests {
            if matches!(
                r.state,
                RequestState::AwaitingApproval | RequestState::Approved
            ) {
                adjust_stock(&r.sku, i64::from(r.quantity))?;
            }
            if let Some(approval) = &r.approval_id {
                approvals::withdraw(approval);
            }
            store::delete(&format!("req/{:012}", seq_of(&r.id)?));
        }
        for key in store::keys(&format!("customer/{customer}/")) {
            store::delete(&key);
        }
        Ok(ForgetReport::new()
            .removed("sample-request", requests.len() as u32)
            .kept("stock levels, with what open requests had reserved given back"))
    }
}

/// Every request `customer` made, in any state.
fn requests_of(customer: &str) -> Result<Vec<SampleRequest>, Error> {
    Ok(store::values::<SampleRequest>("req/")?
        .into_iter()
        .filter(|r| r.customer == customer)
        .collect())
}

impl SampleRequests for SampleDesk {
    fn set_stock(level: StockLevel) -> Result<StockLevel, Error> {
        let mut level = level;
        level.sku = level.sku.trim().to_owned();
        Validation::new()
            .not_blank(&level.sku, "sku")
            .require(level.sku.len() <= 64, "sku", "must be at most 64 bytes")
            .finish()?;
        store::set(&format!("stock/{}", level.sku), &level)?;
        Event::new("stock.set")
            .with("sku", level.sku.as_str())
            .with("available", level.available)
            .emit();
        Ok(level)
    }

    fn stock(sku: String) -> Result<StockLevel, Error> {
        let sku = sku.trim();
        stock_of(sku)?.ok_or_else(|| Error::not_found("stock for SKU", sku))
    }

    fn request(draft: RequestDraft) -> Result<SampleRequest, Error> {
        // Identifiers are trimmed once, here, so that the per-customer
        // limit counts, and the request stores, the same text.
        let mut draft = draft;
        draft.customer = draft.customer.trim().to_owned();
        draft.sku = draft.sku.trim().to_owned();
        let settings = settings()?;
        let mut check = Validation::new();
        check
            .not_blank(&draft.customer, "customer")
            .not_blank(&draft.sku, "sku")
            .require(draft.quantity >= 1, "quantity", "must be at least 1")
            .not_blank(&draft.purpose, "purpose")
            .require(
                draft.purpose.len() <= LONGEST_TEXT,
                "purpose",
                "must be at most 500 bytes",
            );
        check_address(&draft.address, &mut check);
        check.finish()?;

        let level =
            stock_of(&draft.sku)?.ok_or_else(|| Error::not_found("stock for SKU", &draft.sku))?;
        if draft.quantity > level.available {
            return Err(Error::Refused(format!(
                "only {} of `{}` in stock; {} requested",
                level.available, draft.sku, draft.quantity
            )));
        }
        let now = clock::now();
        let since = now.saturating_sub(u64::from(settings.period_days) * clock::DAY);
        let mut recent = 0;
        for key in store::keys(&format!("customer/{}/", draft.customer)) {
            let Some(id) = key.rsplit('/').next() else {
                continue;
            };
            let r: Option<SampleRequest> = store::get(&format!("req/{id}"))?;
            if r.is_some_and(|r| {
                r.created_at >= since
                    && !matches!(r.state, RequestState::Rejected | RequestState::Cancelled)
            }) {
                recent += 1;
            }
        }
        if recent >= settings.per_customer_limit {
            return Err(Error::Refused(format!(
                "customer `{}` has {recent} open or fulfilled requests in the last {} days; the limit is {}",
                draft.customer, settings.period_days, settings.per_customer_limit
            )));
        }

        let seq = store::get::<u64>("next-id")?.unwrap_or(0) + 1;
        store::set("next-id", &seq)?;
        let value = u64::from(draft.quantity).saturating_mul(level.unit_price_minor);
        let needs_approval =
            draft.quantity > settings.approval_quantity || value > settings.approval_value_minor;
        let mut request = SampleRequest {
            id: format!("r-{seq}"),
            customer: draft.customer,
            sku: draft.sku,
            quantity: draft.quantity,
            purpose: draft.purpose,
            address: draft.address,
            state: if needs_approval {
                RequestState::AwaitingApproval
            } else {
                RequestState::Approved
            },
            value_minor: value,
            approval_id: None,
            reason: None,
            shipment: None,
            created_at: now,
            updated_at: now,
        };
        adjust_stock(&request.sku, -i64::from(request.quantity))?;
        if needs_approval {
            let approval = approvals::request(
                &ApprovalRequest::new(
                    request.id.as_str(),
                    format!(
                        "{} × {} for {} ({:.2} in value)",
                        request.quantity,
                        request.sku,
                        request.customer,
                        value as f64 / 100.0
                    ),
                )
                .about(request.customer.as_str())
                .detail("customer", &request.customer)
                .detail("sku", &request.sku)
                .detail("quantity", request.quantity)
                .detail("value (minor units)", value)
                .detail("purpose", &request.purpose),
            );
            request.approval_id = Some(approval);
        }
        save(&request)?;
        store::set(&format!("customer/{}/{seq:012}", request.customer), &now)?;
        event("sample.requested", &request)
            .with("value-minor", value)
            .emit();
        Ok(request)
    }

    fn ship(id: String, carrier: String, tracking_number: String) -> Result<SampleRequest, Error> {
        Validation::new()
            .not_blank(&carrier, "carrier")
            .not_blank(&tracking_number, "tracking-number")
            .finish()?;
        let mut r = transition(
            &id,
            &[RequestState::Approved],
            RequestState::Shipped,
            "shipped",
        )?;
        r.shipment = Some(Shipment {
            carrier,
            tracking_number,
            shipped_at: r.updated_at,
            delivered_at: None,
        });
        save(&r)?;
        event("sample.shipped", &r).emit();
        Ok(r)
    }

    fn mark_delivered(id: String) -> Result<SampleRequest, Error> {
        let mut r = transition(
            &id,
            &[RequestState::Shipped],
            RequestState::Delivered,
            "marked delivered",
        )?;
        if let Some(shipment) = r.shipment.as_mut() {
            shipment.delivered_at = Some(r.updated_at);
        }
        save(&r)?;
        event("sample.delivered", &r).emit();
        Ok(r)
    }

    fn cancel(id: String, reason: String) -> Result<SampleRequest, Error> {
        Validation::new().not_blank(&reason, "reason").finish()?;
        let mut r = transition(
            &id,
            &[RequestState::AwaitingApproval, RequestState::Approved],
            RequestState::Cancelled,
            "cancelled",
        )?;
        r.reason = Some(reason);
        adjust_stock(&r.sku, i64::from(r.quantity))?;
        // Nobody needs to decide a cancelled request any more (a decided
        // approval is left as it is).
        if let Some(approval) = &r.approval_id {
            approvals::withdraw(approval);
        }
        save(&r)?;
        event("sample.cancelled", &r).emit();
        Ok(r)
    }

    fn get(id: String) -> Result<SampleRequest, Error> {
        load(&id)
    }

    fn list_requests(filter: RequestFilter) -> Result<Vec<SampleRequest>, Error> {
        let mut out: Vec<SampleRequest> = store::values::<SampleRequest>("req/")?
            .into_iter()
            .filter(|r| filter.state.is_none_or(|s| s == r.state))
            .filter(|r| {
                filter
                    .customer
                    .as_ref()
                    .is_none_or(|c| c.trim() == r.customer)
            })
            .collect();
        out.reverse();
        Ok(out)
    }
}
