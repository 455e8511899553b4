//! The livestream-booking component as wasm, through the runtime.

use serde_json::json;

use crate::harness::{Caller, HOUR, NOW, TestHost};

fn draft(capacity: u32) -> serde_json::Value {
    json!({"draft": {"title": "Spring launch", "host": "Mia", "starts-at": NOW + 24 * HOUR,
                     "duration-minutes": 45, "capacity": capacity}})
}

#[test]
fn books_waitlists_promotes_and_reminds() {
    let host = TestHost::new();
    let c = Caller::new(&host, host.livestream(), "acme");

    let session = c.ok("schedule", draft(2));
    let id = session["id"].as_str().unwrap().to_owned();
    assert_eq!(session["status"], "scheduled");
    assert_eq!(session["booked"], 0);

    let a = c.ok("book", json!({"session-id": id, "customer": "ann"}));
    let b = c.ok("book", json!({"session-id": id, "customer": "bob"}));
    let w = c.ok("book", json!({"session-id": id, "customer": "cid"}));
    assert_eq!(a["status"], "confirmed");
    assert_eq!(b["status"], "confirmed");
    assert_eq!(w["status"], "waitlisted");
    assert_eq!(w["waitlist-position"], 1);
    // Booking again returns the same booking instead of a second seat.
    assert_eq!(
        c.ok("book", json!({"session-id": id, "customer": "ann"}))["id"],
        a["id"]
    );

    let got = c.ok("get-session", json!({"session-id": id}));
    assert_eq!(
        (got["booked"].as_u64(), got["waitlisted"].as_u64()),
        (Some(2), Some(1))
    );

    let cancelled = c.ok("cancel-booking", json!({"booking-id": a["id"]}));
    assert_eq!(cancelled["cancelled"]["status"], "cancelled");
    assert_eq!(cancelled["promoted"]["customer"], "cid");
    assert_eq!(cancelled["promoted"]["status"], "confirmed");

    let bookings = c.ok("list-bookings", json!({"session-id": id}));
    let customers: Vec<&str> = bookings
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["customer"].as_str().unwrap())
        .collect();
    assert_eq!(customers, ["bob", "cid"]);

    let reminders = c.ok("reminders-due", json!({"before": NOW + 25 * HOUR}));
    assert_eq!(reminders.as_array().unwrap().len(), 2);
    assert!(
        c.ok("reminders-due", json!({"before": NOW + HOUR}))
            .as_array()
            .unwrap()
            .is_empty()
    );

    let sessions = c.ok("list-sessions", json!({"starting-from": null}));
    assert_eq!(sessions.as_array().unwrap().len(), 1);

    // Events were committed with the invocations that emitted them.
    let names: Vec<String> = host
        .state
        .events(&c.call.scope)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("session.scheduled"));
    assert!(names.contains(&"booking.waitlisted".to_owned()));
    assert!(names.contains(&"booking.promoted".to_owned()));
}

#[test]
fn refuses_bad_input_naming_the_fields() {
    let host = TestHost::new();
    let c = Caller::new(&host, host.livestream(), "acme");
    let err = c.err(
        "schedule",
        json!({"draft": {"title": " ", "host": "Mia", "starts-at": NOW - 1,
                                                  "duration-minutes": 0, "capacity": 0}}),
    );
    let fields: Vec<&str> = err["invalid-input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["title", "starts-at", "duration-minutes", "capacity"]
    );
    assert_eq!(
        c.err("book", json!({"session-id": "s-404", "customer": "ann"}))["not-found"],
        "session `s-404` does not exist"
    );
    assert!(c.stored().is_empty(), "nothing is stored for refused input");
}

#[test]
fn settings_are_validated_and_applied() {
    let host = TestHost::new();
    let c = Caller::new(&host, host.livestream(), "acme");
    let bad = c.call(
        "validate-settings",
        json!({"settings": r#"{"max-capacity": 0, "colour": 1}"#}),
    );
    assert_eq!(bad["err"][0]["field"], "colour");
    let bad = c.call(
        "validate-settings",
        json!({"settings": r#"{"max-capacity": 0}"#}),
    );
    assert_eq!(bad["err"][0]["field"], "max-capacity");
    assert_eq!(
        c.call(
            "validate-settings",
            json!({"settings": r#"{"waitlist": false}"#})
        ),
        json!({"ok": null})
    );

    let described = c.call("describe", json!({}));
    assert_eq!(described["title"], "Livestream booking");
    assert!(
        described["settings-schema"]
            .as_str()
            .unwrap()
            .contains("max-capacity")
    );

    let c = c.with_settings(json!({"waitlist": false, "max-capacity": 10}));
    assert!(
        c.err("schedule", draft(11))["invalid-input"][0]["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 10")
    );
    let id = c.ok("schedule", draft(1))["id"].clone();
    c.ok("book", json!({"session-id": id, "customer": "ann"}));
    assert!(
        c.err("book", json!({"session-id": id, "customer": "bob"}))["refused"]
            .as_str()
            .unwrap()
            .contains("full")
    );
}

#[test]
fn tenants_do_not_see_each_other() {
    let host = TestHost::new();
    let component = host.livestream();
    let acme = Caller::new(&host, component, "acme");
    let globex = Caller {
        call: std::sync::Arc::new(mercato_runtime::CallContext {
            scope: mercato_runtime::Scope::new("globex", "test/component"),
            ..(*acme.call).clone()
        }),
        component: acme.component.clone(),
        host: &host,
        limits: acme.limits,
    };
    let id = acme.ok("schedule", draft(5))["id"].clone();
    assert!(globex.err("get-session", json!({"session-id": id}))["not-found"].is_string());
    assert_eq!(globex.ok("list-sessions", json!({})), json!([]));
}
