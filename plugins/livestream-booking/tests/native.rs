//! livestream-booking unit-tested natively through the SDK's test host.

use livestream_booking::{Livestream, Settings};
use mercato_sdk::Component;
use mercato_sdk::livestream::*;
use mercato_sdk::testing::TestHost;
use mercato_sdk::{Error, clock};

const NOW: u64 = 1_772_355_600_000;

fn draft(capacity: u32) -> SessionDraft {
    SessionDraft {
        title: "Spring launch".into(),
        host: "Mia".into(),
        starts_at: NOW + 2 * clock::HOUR,
        duration_minutes: 45,
        capacity,
    }
}

fn book(session: &str, customer: &str) -> Booking {
    Livestream::book(session.into(), customer.into()).expect("book")
}

#[test]
fn a_full_session_waitlists_and_promotes_in_order() {
    let _host = TestHost::new().at(NOW);
    let s = Livestream::schedule(draft(1)).unwrap().id;
    assert_eq!(book(&s, "ann").status, BookingStatus::Confirmed);
    let bob = book(&s, "bob");
    let cid = book(&s, "cid");
    assert_eq!(
        (bob.status, bob.waitlist_position),
        (BookingStatus::Waitlisted, Some(1))
    );
    assert_eq!(cid.waitlist_position, Some(2));

    // Cancelling a waitlisted booking moves the line up without promoting.
    let out = Livestream::cancel_booking(bob.id.clone()).unwrap();
    assert!(out.promoted.is_none());
    let ann = Livestream::list_bookings(s.clone()).unwrap()[0].clone();
    let out = Livestream::cancel_booking(ann.id).unwrap();
    assert_eq!(out.promoted.map(|b| b.customer).as_deref(), Some("cid"));
    let session = Livestream::get_session(s.clone()).unwrap();
    assert_eq!((session.booked, session.waitlisted), (1, 0));

    // A cancelled customer can book again, at the back of the line.
    assert_eq!(book(&s, "bob").status, BookingStatus::Waitlisted);
    assert!(matches!(
        Livestream::cancel_booking(out.cancelled.id),
        Err(Error::Conflict(_))
    ));
}

#[test]
fn cancelling_a_session_cancels_its_bookings() {
    let host = TestHost::new().at(NOW);
    let s = Livestream::schedule(draft(5)).unwrap().id;
    let a = book(&s, "ann");
    let session = Livestream::cancel_session(s.clone()).unwrap();
    assert_eq!(
        (session.status, session.booked),
        (SessionStatus::Cancelled, 0)
    );
    assert!(matches!(
        Livestream::book(s.clone(), "bob".into()),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        Livestream::cancel_session(s.clone()),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        Livestream::cancel_booking(a.id),
        Err(Error::Conflict(_))
    ));
    let cancelled = host
        .events()
        .into_iter()
        .find(|e| e.name == "session.cancelled")
        .unwrap();
    assert_eq!(
        cancelled.property("bookings-cancelled"),
        Some(&mercato_sdk::PropertyValue::Integer(1))
    );
}

#[test]
fn a_started_session_takes_no_bookings_and_sends_no_reminders() {
    let host = TestHost::new().at(NOW);
    let s = Livestream::schedule(draft(5)).unwrap().id;
    book(&s, "ann");
    assert_eq!(
        Livestream::reminders_due(NOW + 3 * clock::HOUR)
            .unwrap()
            .len(),
        1
    );
    host.set_now(NOW + 2 * clock::HOUR);
    assert!(matches!(
        Livestream::book(s.clone(), "bob".into()),
        Err(Error::Conflict(_))
    ));
    host.advance(1);
    assert!(
        Livestream::reminders_due(NOW + 10 * clock::HOUR)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sessions_list_soonest_first_from_a_time() {
    let _host = TestHost::new().at(NOW);
    let late = Livestream::schedule(SessionDraft {
        starts_at: NOW + 9 * clock::HOUR,
        ..draft(1)
    })
    .unwrap();
    let early = Livestream::schedule(draft(1)).unwrap();
    let ids: Vec<String> = Livestream::list_sessions(None)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [early.id, late.id.clone()]);
    let ids: Vec<String> = Livestream::list_sessions(Some(NOW + 5 * clock::HOUR))
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [late.id]);
}

#[test]
fn settings_bound_capacity_notice_and_waitlist() {
    let settings = Settings {
        max_capacity: 3,
        waitlist: true,
        max_waitlist: Some(1),
        min_notice_minutes: 180,
    };
    let _host = TestHost::new().at(NOW).with_settings(&settings);
    let Err(Error::InvalidInput(errors)) = Livestream::schedule(draft(4)) else {
        panic!("refused")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["starts-at", "capacity"]);
    let s = Livestream::schedule(SessionDraft {
        starts_at: NOW + 4 * clock::HOUR,
        ..draft(1)
    })
    .unwrap()
    .id;
    book(&s, "ann");
    book(&s, "bob");
    assert!(matches!(
        Livestream::book(s, "cid".into()),
        Err(Error::Refused(_))
    ));

    let bad = Settings {
        max_capacity: 0,
        ..Settings::default()
    };
    assert_eq!(
        <Livestream as Component>::validate_settings(&bad)[0].field,
        "max-capacity"
    );
}

#[test]
fn every_step_emits_an_event_for_its_customer() {
    let host = TestHost::new().at(NOW);
    let s = Livestream::schedule(draft(1)).unwrap().id;
    let a = book(&s, "ann");
    book(&s, "bob");
    Livestream::cancel_booking(a.id).unwrap();
    let names: Vec<(String, Option<String>)> = host
        .events()
        .into_iter()
        .map(|e| (e.name, e.customer))
        .collect();
    assert_eq!(
        names,
        [
            ("session.scheduled".to_owned(), None),
            ("booking.confirmed".to_owned(), Some("ann".to_owned())),
            ("booking.waitlisted".to_owned(), Some("bob".to_owned())),
            ("booking.cancelled".to_owned(), Some("ann".to_owned())),
            ("booking.promoted".to_owned(), Some("bob".to_owned())),
        ]
    );
}

#[test]
fn a_promoted_booking_is_no_longer_on_the_waitlist_wherever_it_is_read() {
    let _host = TestHost::new().at(NOW);
    let s = Livestream::schedule(draft(1)).unwrap().id;
    let ann = book(&s, "ann");
    let bob = book(&s, "bob");
    assert_eq!(bob.waitlist_position, Some(1));
    let out = Livestream::cancel_booking(ann.id).unwrap();
    let promoted = out.promoted.expect("bob promoted");
    assert_eq!(
        (promoted.status, promoted.waitlist_position),
        (BookingStatus::Confirmed, None)
    );
    // Booking again answers with the booking the customer holds.
    let read = book(&s, "bob");
    assert_eq!(read.id, bob.id);
    assert_eq!(
        (read.status, read.waitlist_position),
        (BookingStatus::Confirmed, None)
    );
    let listed = Livestream::list_bookings(s).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].waitlist_position, None);
}

#[test]
fn a_customer_is_exported_whole_and_forgotten_with_the_line_moving_up() {
    let host = TestHost::new().at(NOW);
    let s = Livestream::schedule(draft(1)).unwrap().id;
    let other = Livestream::schedule(draft(5)).unwrap().id;
    let ann = book(&s, "ann");
    book(&s, "bob");
    let old = book(&other, "ann");
    Livestream::cancel_booking(old.id.clone()).unwrap();
    book(&other, "cid");

    let records = Livestream::export_customer("ann");
    let mut kinds: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [("booking", ann.id.as_str()), ("booking", old.id.as_str())]
    );
    let payload: serde_json::Value = serde_json::from_str(&records[0].payload).unwrap();
    assert_eq!(payload["customer"], "ann");
    assert_eq!(Livestream::export_customer("bob")[0].kind, "waitlist-entry");

    let report = Livestream::forget_customer("ann").unwrap();
    assert_eq!(report.removed, [("booking".to_owned(), 2)]);
    assert!(Livestream::export_customer("ann").is_empty());
    // Nothing in the store names ann any more; bob took her seat.
    for key in host.keys() {
        let value = host.get::<serde_json::Value>(&key).unwrap_or_default();
        assert!(
            !key.contains("ann") && !value.to_string().contains("ann"),
            "{key}: {value}"
        );
    }
    let bookings = Livestream::list_bookings(s.clone()).unwrap();
    assert_eq!(bookings.len(), 1);
    assert_eq!(
        (bookings[0].customer.as_str(), bookings[0].status),
        ("bob", BookingStatus::Confirmed)
    );
    assert_eq!(Livestream::get_session(s).unwrap().booked, 1);
    assert_eq!(Livestream::get_session(other).unwrap().booked, 1);
    assert!(host.events().iter().any(|e| e.name == "booking.promoted"));
    // Forgetting someone with nothing stored removes nothing.
    assert_eq!(Livestream::forget_customer("zed").unwrap().total(), 0);
}
