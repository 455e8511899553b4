//! Concurrent invocations on one (tenant, component) never lose updates, in
//! memory and on the registry's SQLite state.

use std::sync::Arc;

use mercato_registry::{Database, SqlState};
use mercato_runtime::{
    CallContext, Grants, Kind, Limits, LoadedComponent, MemoryState, Runtime, Scope, StateStore,
};
use serde_json::json;

use crate::{HOUR, NOW};

/// A runtime over `state` with livestream-booking loaded, and a session of
/// `capacity` seats scheduled.
fn livestream_on(
    state: Arc<dyn StateStore>,
    capacity: u64,
) -> (Runtime, LoadedComponent, Arc<CallContext>, String) {
    let runtime = Runtime::builder()
        .state(state)
        .clock(|| NOW)
        .build()
        .unwrap();
    let component = runtime
        .load(
            Kind::LivestreamBooking,
            &mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING),
        )
        .unwrap();
    let call = Arc::new(CallContext {
        scope: Scope::new("rush", "mercato/livestream-booking"),
        grants: Grants::all(),
        settings: "{}".into(),
        track_events: true,
        version: None,
    });
    let session = runtime.invoke_json(&component, &call, &Limits::default(), "schedule",
        &json!({"draft": {"title": "Drop", "host": "Mia", "starts-at": NOW + HOUR, "duration-minutes": 30, "capacity": capacity}}))
        .unwrap().json()["ok"]["id"].as_str().unwrap().to_owned();
    (runtime, component, call, session)
}

fn book_concurrently(
    runtime: &Runtime,
    component: &LoadedComponent,
    call: &Arc<CallContext>,
    session: &str,
    customers: usize,
) {
    std::thread::scope(|s| {
        for i in 0..customers {
            s.spawn(move || {
                let outcome = runtime
                    .invoke_json(
                        component,
                        call,
                        &Limits::default(),
                        "book",
                        &json!({"session-id": session, "customer": format!("customer-{i}")}),
                    )
                    .expect("book succeeds");
                assert!(outcome.json().get("ok").is_some(), "{}", outcome.json());
            });
        }
    });
}

fn assert_seats(
    runtime: &Runtime,
    component: &LoadedComponent,
    call: &Arc<CallContext>,
    session: &str,
    booked: u64,
    waitlisted: u64,
) {
    let get = |f: &str| {
        runtime
            .invoke_json(
                component,
                call,
                &Limits::default(),
                f,
                &json!({"session-id": session}),
            )
            .unwrap()
            .json()["ok"]
            .clone()
    };
    let s = get("get-session");
    assert_eq!(
        (s["booked"].as_u64(), s["waitlisted"].as_u64()),
        (Some(booked), Some(waitlisted))
    );
    let bookings = get("list-bookings");
    let bookings = bookings.as_array().unwrap();
    let confirmed = bookings
        .iter()
        .filter(|b| b["status"] == "confirmed")
        .count() as u64;
    assert_eq!(confirmed, booked);
    assert_eq!(bookings.len() as u64, booked + waitlisted);
    let mut positions: Vec<u64> = bookings
        .iter()
        .filter_map(|b| b["waitlist-position"].as_u64())
        .collect();
    positions.sort();
    assert_eq!(
        positions,
        (1..=waitlisted).collect::<Vec<_>>(),
        "the waitlist is one unbroken line"
    );
}

#[test]
fn two_hundred_bookings_for_fifty_seats() {
    let (runtime, component, call, session) = livestream_on(Arc::new(MemoryState::new()), 50);
    book_concurrently(&runtime, &component, &call, &session, 200);
    assert_seats(&runtime, &component, &call, &session, 50, 150);
}

#[test]
fn concurrent_bookings_on_sqlite_state() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = tokio
        .block_on(Database::open_sqlite(&dir.path().join("state.db")))
        .unwrap();
    let state = Arc::new(tokio.block_on(async { SqlState::new(db) }));
    let (runtime, component, call, session) = livestream_on(state, 20);
    book_concurrently(&runtime, &component, &call, &session, 60);
    assert_seats(&runtime, &component, &call, &session, 20, 40);
}
