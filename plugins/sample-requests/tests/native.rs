//! sample-requests unit-tested natively through the SDK's test host.

use mercato_sdk::Component;
use mercato_sdk::samples::*;
use mercato_sdk::testing::TestHost;
use mercato_sdk::{Decision, Error, clock};
use sample_requests::{InitialStock, SampleDesk, Settings};

const NOW: u64 = 1_772_355_600_000;

fn host() -> TestHost {
    let mut settings = Settings::default();
    settings.stock.insert(
        "CUP-1".into(),
        InitialStock {
            available: 100,
            unit_price_minor: 1_500,
        },
    );
    TestHost::new().at(NOW).with_settings(&settings)
}

fn draft(customer: &str, quantity: u32) -> RequestDraft {
    RequestDraft {
        customer: customer.into(),
        sku: "CUP-1".into(),
        quantity,
        purpose: "Trial at the Berlin office".into(),
        address: ShippingAddress {
            recipient: "Ann Lee".into(),
            line1: "Hauptstr. 1".into(),
            line2: None,
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country: "DE".into(),
        },
    }
}

fn decide(r: &SampleRequest, approved: bool, reason: Option<&str>) -> Result<(), Error> {
    SampleDesk::approval_decided(Decision {
        approval_id: r.approval_id.clone().expect("approval filed"),
        subject: r.id.clone(),
        approved,
        reason: reason.map(Into::into),
        decided_by: "dora".into(),
        decided_at: NOW + clock::HOUR,
    })
}

fn available() -> u32 {
    SampleDesk::stock("CUP-1".into()).expect("stock").available
}

#[test]
fn a_small_request_is_approved_at_once_and_ships_to_delivery() {
    let host = host();
    let r = SampleDesk::request(draft("ann", 5)).unwrap();
    assert_eq!(r.state, RequestState::Approved);
    assert_eq!(r.value_minor, 7_500);
    assert!(host.approvals().is_empty());
    assert_eq!(available(), 95, "stock is reserved");

    let shipped = SampleDesk::ship(r.id.clone(), "DHL".into(), "JD0001".into()).unwrap();
    assert_eq!(shipped.state, RequestState::Shipped);
    assert_eq!(shipped.shipment.as_ref().unwrap().tracking_number, "JD0001");
    let delivered = SampleDesk::mark_delivered(r.id.clone()).unwrap();
    assert_eq!(delivered.state, RequestState::Delivered);
    assert!(delivered.shipment.unwrap().delivered_at.is_some());
    let names: Vec<String> = host.events().iter().map(|e| e.name.clone()).collect();
    assert_eq!(
        names,
        ["sample.requested", "sample.shipped", "sample.delivered"]
    );
}

#[test]
fn above_the_threshold_a_director_decides() {
    let host = host();
    // 11 units > approval-quantity 10.
    let big = SampleDesk::request(draft("ann", 11)).unwrap();
    assert_eq!(big.state, RequestState::AwaitingApproval);
    let filed = host.approvals();
    assert_eq!(filed.len(), 1);
    assert_eq!(Some(filed[0].id.clone()), big.approval_id);
    assert_eq!(filed[0].request.subject, big.id);
    // Cannot ship before the decision.
    let err = SampleDesk::ship(big.id.clone(), "DHL".into(), "X".into()).unwrap_err();
    assert_eq!(err.code(), "conflict");
    decide(&big, true, None).unwrap();
    assert_eq!(
        SampleDesk::get(big.id.clone()).unwrap().state,
        RequestState::Approved
    );
    // A decision is taken once.
    assert_eq!(
        decide(&big, false, Some("late")).unwrap_err().code(),
        "conflict"
    );

    // By value: 8 × 15.00 = 120.00 > 1000.00? No; raise the price.
    SampleDesk::set_stock(StockLevel {
        sku: "CUP-1".into(),
        available: 50,
        unit_price_minor: 20_000,
    })
    .unwrap();
    let pricey = SampleDesk::request(draft("bob", 6)).unwrap();
    assert_eq!(
        pricey.state,
        RequestState::AwaitingApproval,
        "6 × 200.00 is above 1000.00"
    );
    decide(&pricey, false, Some("budget is spent")).unwrap();
    let rejected = SampleDesk::get(pricey.id.clone()).unwrap();
    assert_eq!(rejected.state, RequestState::Rejected);
    assert_eq!(rejected.reason.as_deref(), Some("budget is spent"));
    assert_eq!(available(), 50, "a rejection releases the stock");
}

#[test]
fn stock_limits_and_illegal_transitions_are_refused_clearly() {
    let _host = host();
    let err = SampleDesk::request(draft("ann", 101)).unwrap_err();
    assert!(
        matches!(&err, Error::Refused(m) if m.contains("only 100 of `CUP-1`")),
        "{err:?}"
    );
    let mut unknown = draft("ann", 1);
    unknown.sku = "NOPE".into();
    assert_eq!(
        SampleDesk::request(unknown).unwrap_err().code(),
        "not-found"
    );

    let mut bad = draft(" ", 0);
    bad.address.country = "Germany".into();
    match SampleDesk::request(bad).unwrap_err() {
        Error::InvalidInput(fields) => {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, ["customer", "quantity", "address.country"]);
        }
        other => panic!("expected field errors, got {other:?}"),
    }

    // Per-customer limit: 3 per 30 days; a cancelled one does not count.
    let first = SampleDesk::request(draft("cy", 1)).unwrap();
    SampleDesk::request(draft("cy", 1)).unwrap();
    SampleDesk::cancel(first.id.clone(), "duplicate".into()).unwrap();
    SampleDesk::request(draft("cy", 1)).unwrap();
    SampleDesk::request(draft("cy", 1)).unwrap();
    let err = SampleDesk::request(draft("cy", 1)).unwrap_err();
    assert!(
        matches!(&err, Error::Refused(m) if m.contains("limit is 3")),
        "{err:?}"
    );

    // Shipped requests cannot be cancelled; delivered cannot be shipped again.
    let r = SampleDesk::request(draft("dan", 1)).unwrap();
    SampleDesk::ship(r.id.clone(), "UPS".into(), "1Z".into()).unwrap();
    assert_eq!(
        SampleDesk::cancel(r.id.clone(), "oops".into())
            .unwrap_err()
            .code(),
        "conflict"
    );
    SampleDesk::mark_delivered(r.id.clone()).unwrap();
    assert_eq!(
        SampleDesk::ship(r.id.clone(), "UPS".into(), "1Z".into())
            .unwrap_err()
            .code(),
        "conflict"
    );
    assert_eq!(
        SampleDesk::get("r-999".into()).unwrap_err().code(),
        "not-found"
    );
    assert_eq!(
        SampleDesk::cancel(r.id, " ".into()).unwrap_err().code(),
        "invalid-input"
    );
}

#[test]
fn lists_filter_by_state_and_customer_newest_first() {
    let _host = host();
    let a = SampleDesk::request(draft("ann", 1)).unwrap();
    let b = SampleDesk::request(draft("bob", 20)).unwrap();
    let c = SampleDesk::request(draft("ann", 2)).unwrap();
    let all = SampleDesk::list_requests(RequestFilter {
        state: None,
        customer: None,
    })
    .unwrap();
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [c.id.as_str(), b.id.as_str(), a.id.as_str()]
    );
    let waiting = SampleDesk::list_requests(RequestFilter {
        state: Some(RequestState::AwaitingApproval),
        customer: None,
    })
    .unwrap();
    assert_eq!(waiting.len(), 1);
    let anns = SampleDesk::list_requests(RequestFilter {
        state: None,
        customer: Some("ann".into()),
    })
    .unwrap();
    assert_eq!(anns.len(), 2);
}

#[test]
fn settings_are_validated_by_field() {
    let s = Settings {
        per_customer_limit: 0,
        period_days: 400,
        ..Settings::default()
    };
    let errors = SampleDesk::validate_settings(&s);
    let names: Vec<&str> = errors.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["per-customer-limit", "period-days"]);
}

#[test]
fn identifiers_are_trimmed_before_they_are_counted_compared_or_stored() {
    let _host = host();
    // The limit is 3 per customer: spaces around an id do not make another.
    for customer in ["lim-x", "lim-x ", " lim-x"] {
        let r = SampleDesk::request(draft(customer, 1)).expect("within the limit");
        assert_eq!(r.customer, "lim-x");
    }
    let err = SampleDesk::request(draft("\tlim-x ", 1)).unwrap_err();
    assert!(
        matches!(&err, Error::Refused(m) if m.contains("lim-x")),
        "{err:?}"
    );
    let mut spaced = draft("other", 1);
    spaced.sku = " CUP-1 ".into();
    assert_eq!(
        SampleDesk::request(spaced).expect("sku trimmed").sku,
        "CUP-1"
    );
    let listed = SampleDesk::list_requests(RequestFilter {
        state: None,
        customer: Some(" lim-x ".into()),
    })
    .unwrap();
    assert_eq!(listed.len(), 3);
}

#[test]
fn a_cancelled_request_withdraws_its_pending_approval() {
    let host = host();
    let big = SampleDesk::request(draft("ann", 11)).unwrap();
    SampleDesk::cancel(big.id.clone(), "customer changed their mind".into()).unwrap();
    let filed = host.approvals();
    assert_eq!(filed.len(), 1);
    assert!(filed[0].withdrawn, "{filed:?}");
}

#[test]
fn a_customer_is_exported_with_addresses_and_forgotten_with_stock_given_back() {
    let host = host();
    let small = SampleDesk::request(draft("ann", 5)).unwrap();
    SampleDesk::ship(small.id.clone(), "DHL".into(), "X1".into()).unwrap();
    let open = SampleDesk::request(draft("ann", 11)).unwrap();
    let mut elsewhere = draft("bob", 2);
    elsewhere.address.line1 = "Ringstr. 9".into();
    let bob = SampleDesk::request(elsewhere).unwrap();
    assert_eq!(available(), 100 - 5 - 11 - 2);

    let records = SampleDesk::export_customer("ann");
    let mut ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, [small.id.as_str(), open.id.as_str()]);
    assert!(records.iter().all(|r| r.kind == "sample-request"));
    let payload: serde_json::Value = serde_json::from_str(&records[0].payload).unwrap();
    assert_eq!(payload["address"]["line1"], "Hauptstr. 1", "{payload}");

    let report = SampleDesk::forget_customer("ann").unwrap();
    assert_eq!(report.removed, [("sample-request".to_owned(), 2)]);
    assert!(SampleDesk::export_customer("ann").is_empty());
    // The open request's 11 units are back; the shipped 5 are gone for good.
    assert_eq!(available(), 100 - 5 - 2);
    assert!(host.approvals()[0].withdrawn);
    for key in host.keys() {
        let value = host.get::<serde_json::Value>(&key).unwrap_or_default();
        assert!(
            !key.contains("ann") && !value.to_string().contains("Hauptstr"),
            "{key}: {value}"
        );
    }
    assert_eq!(SampleDesk::get(bob.id).unwrap().customer, "bob");
}
