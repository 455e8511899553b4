//! Livestream booking: schedule sessions with a seat capacity, book seats for
//! customers, keep a waitlist when a session is full and promote from it when
//! a seat frees up, cancel, list, and find the reminders that are due.
//!
//! Built only with the public `mercato-sdk`. State lives in the component's
//! store as small records (see `roster`); the host commits each invocation's
//! writes together, so seat counts stay exact under concurrent bookings.

mod roster;
mod settings;

use mercato_sdk::livestream::{
    Booking, BookingStatus, Cancellation, LivestreamBooking, Reminder, Session, SessionDraft,
    SessionStatus,
};
use mercato_sdk::{
    Component, CustomerRecord, Description, Error, Event, ForgetReport, Timestamp, Validation,
    clock, store,
};

pub use settings::Settings;

/// The livestream-booking component.
#[derive(Debug)]
pub struct Livestream;

mercato_sdk::export_livestream_booking!(Livestream);

const LONGEST_SESSION_MINUTES: u32 = 24 * 60;
const LONGEST_TEXT: usize = 200;

impl Component for Livestream {
    type Settings = Settings;

    fn describe() -> Description {
        Description::new(
            "Livestream booking",
            "Schedule livestream sessions with a seat limit. Customers book seats; when a \
             session is full they join a waitlist and move up automatically when someone \
             cancels. Lists the reminders to send before each session.",
        )
        .settings_schema(settings::schema())
    }

    fn validate_settings(settings: &Settings) -> Vec<mercato_sdk::FieldError> {
        settings.check()
    }

    /// Every booking and waitlist entry of the customer, cancelled ones too.
    fn export_customer(customer: &str) -> Vec<CustomerRecord> {
        roster::bookings_of(customer)
            .unwrap_or_default()
            .into_iter()
            .map(|b| {
                let b = roster::present(b);
                CustomerRecord::new(roster::record_kind(&b), b.id.as_str(), &b)
            })
            .collect()
    }

    /// Delete every booking of the customer. A live one frees its seat or
    /// waitlist place first, promoting the next in line as a cancellation
    /// would; sessions keep their counts of the bookings that remain.
    fn forget_customer(customer: &str) -> Result<ForgetReport, Error> {
        let mut report = ForgetReport::new();
        for booking in roster::bookings_of(customer)? {
            report = report.removed(roster::record_kind(&booking), 1);
            if let Some(next) = roster::erase(&booking)? {
                Event::new("booking.promoted")
                    .customer(next.customer.as_str())
                    .with("session", next.session_id.as_str())
                    .with("booking", next.id.as_str())
                    .emit();
            }
        }
        Ok(report.kept("sessions, with the seat counts of the bookings that remain"))
    }
}

impl LivestreamBooking for Livestream {
    fn schedule(draft: SessionDraft) -> Result<Session, Error> {
        let settings: Settings = mercato_sdk::settings::get()?;
        let now = clock::now();
        let earliest = now + Timestamp::from(settings.min_notice_minutes) * clock::MINUTE;
        Validation::new()
            .not_blank(&draft.title, "title")
            .require(
                draft.title.len() <= LONGEST_TEXT,
                "title",
                "must be at most 200 bytes",
            )
            .not_blank(&draft.host, "host")
            .require(
                draft.host.len() <= LONGEST_TEXT,
                "host",
                "must be at most 200 bytes",
            )
            .require(
                draft.starts_at >= earliest,
                "starts-at",
                &format!(
                    "must be at least {} minutes from now",
                    settings.min_notice_minutes
                ),
            )
            .require(
                (1..=LONGEST_SESSION_MINUTES).contains(&draft.duration_minutes),
                "duration-minutes",
                "must be between 1 and 1440",
            )
            .require(
                (1..=settings.max_capacity).contains(&draft.capacity),
                "capacity",
                &format!("must be between 1 and {}", settings.max_capacity),
            )
            .finish()?;

        let id = format!("s-{}", next_id()?);
        let session = Session {
            id: id.clone(),
            title: draft.title.trim().to_owned(),
            host: draft.host.trim().to_owned(),
            starts_at: draft.starts_at,
            duration_minutes: draft.duration_minutes,
            capacity: draft.capacity,
            booked: 0,
            waitlisted: 0,
            status: SessionStatus::Scheduled,
        };
        roster::save_session(&session)?;
        Event::new("session.scheduled")
            .with("session", id)
            .with("capacity", session.capacity)
            .with("starts-at", session.starts_at)
            .emit();
        Ok(session)
    }

    fn book(session_id: String, customer: String) -> Result<Booking, Error> {
        let customer = customer.trim().to_owned();
        Validation::new()
            .not_blank(&customer, "customer")
            .require(
                customer.len() <= LONGEST_TEXT,
                "customer",
                "must be at most 200 bytes",
            )
            .finish()?;
        let mut session = roster::load_session(&session_id)?;
        if session.status == SessionStatus::Cancelled {
            return Err(Error::Conflict(format!(
                "session `{session_id}` was cancelled"
            )));
        }
        if clock::now() >= session.starts_at {
            return Err(Error::Conflict(format!(
                "session `{session_id}` has already started"
            )));
        }
        if let Some(existing) = roster::holder(&session_id, &customer)? {
            return Ok(roster::present(roster::load_booking(&existing)?));
        }
        let settings: Settings = mercato_sdk::settings::get()?;
        let status = if session.booked < session.capacity {
            BookingStatus::Confirmed
        } else if settings.waitlist_has_room(session.waitlisted as usize) {
            BookingStatus::Waitlisted
        } else {
            return Err(Error::Refused(format!(
                "session `{session_id}` is full and its waitlist is closed"
            )));
        };

        let booking = Booking {
            id: roster::booking_id(next_id()?),
            session_id: session_id.clone(),
            customer: customer.clone(),
            status,
            waitlist_position: (status == BookingStatus::Waitlisted)
                .then_some(session.waitlisted + 1),
            booked_at: clock::now(),
        };
        roster::add(&mut session, &booking)?;
        roster::save_session(&session)?;
        let name = match status {
            BookingStatus::Confirmed => "booking.confirmed",
            _ => "booking.waitlisted",
        };
        Event::new(name)
            .customer(customer)
            .with("session", session_id)
            .with("booking", booking.id.as_str())
            .emit();
        Ok(booking)
    }

    fn cancel_booking(booking_id: String) -> Result<Cancellation, Error> {
        let mut booking = roster::load_booking(&booking_id)?;
        if booking.status == BookingStatus::Cancelled {
            return Err(Error::Conflict(format!(
                "booking `{booking_id}` is already cancelled"
            )));
        }
        let mut session = roster::load_session(&booking.session_id)?;
        let promoted = roster::remove(&mut session, &booking)?;
        roster::save_session(&session)?;
        booking.status = BookingStatus::Cancelled;
        booking.waitlist_position = None;
        roster::save_booking(&booking)?;
        Event::new("booking.cancelled")
            .customer(booking.customer.as_str())
            .with("session", booking.session_id.as_str())
            .with("booking", booking_id)
            .emit();
        if let Some(next) = &promoted {
            Event::new("booking.promoted")
                .customer(next.customer.as_str())
                .with("session", next.session_id.as_str())
                .with("booking", next.id.as_str())
                .emit();
        }
        Ok(Cancellation {
            cancelled: booking,
            promoted,
        })
    }

    fn cancel_session(session_id: String) -> Result<Session, Error> {
        let mut session = roster::load_session(&session_id)?;
        if session.status == SessionStatus::Cancelled {
            return Err(Error::Conflict(format!(
                "session `{session_id}` is already cancelled"
            )));
        }
        let affected = roster::clear(&mut session)?;
        session.status = SessionStatus::Cancelled;
        roster::save_session(&session)?;
        Event::new("session.cancelled")
            .with("session", session_id)
            .with("bookings-cancelled", affected as u64)
            .emit();
        Ok(session)
    }

    fn get_session(session_id: String) -> Result<Session, Error> {
        roster::load_session(&session_id)
    }

    fn list_sessions(starting_from: Option<Timestamp>) -> Result<Vec<Session>, Error> {
        let from = starting_from.unwrap_or(0);
        let mut sessions: Vec<Session> = store::values::<Session>(roster::SESSIONS)?
            .into_iter()
            .filter(|s| s.starts_at >= from)
            .collect();
        sessions.sort_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
        Ok(sessions)
    }

    fn list_bookings(session_id: String) -> Result<Vec<Booking>, Error> {
        roster::load_session(&session_id)?;
        let (confirmed, waiting) = roster::members(&session_id)?;
        let confirmed = confirmed.iter().map(|id| roster::load_booking(id));
        let waiting = waiting.iter().enumerate().map(|(i, id)| {
            let mut booking = roster::load_booking(id)?;
            booking.waitlist_position = u32::try_from(i + 1).ok();
            Ok(booking)
        });
        confirmed.chain(waiting).collect()
    }

    fn reminders_due(before: Timestamp) -> Result<Vec<Reminder>, Error> {
        let now = clock::now();
        let mut reminders = Vec::new();
        for session in store::values::<Session>(roster::SESSIONS)? {
            let due = session.status == SessionStatus::Scheduled
                && session.starts_at >= now
                && session.starts_at < before;
            if !due {
                continue;
            }
            for id in roster::members(&session.id)?.0 {
                let booking = roster::load_booking(&id)?;
                reminders.push(Reminder {
                    booking_id: booking.id,
                    customer: booking.customer,
                    session_id: session.id.clone(),
                    session_title: session.title.clone(),
                    starts_at: session.starts_at,
                });
            }
        }
        reminders.sort_by(|a, b| (a.starts_at, &a.booking_id).cmp(&(b.starts_at, &b.booking_id)));
        Ok(reminders)
    }
}

/// A short, unique, increasing id.
fn next_id() -> Result<u64, Error> {
    let next = store::get::<u64>("next-id")?.unwrap_or(0) + 1;
    store::set("next-id", &next)?;
    Ok(next)
}
