//! Where a session's bookings live in the store. Every value is small, so a
//! booking reads and writes a handful of short records however full the
//! session is:
//!
//! | key | value |
//! |---|---|
//! | `session/{sid}` | the session, with its booked and waitlisted counts |
//! | `booking/{bid}` | the booking |
//! | `holder/{sid}/{customer}` | the customer's live booking id |
//! | `seat/{sid}/{seq}` | a confirmed booking id, in order of confirmation |
//! | `queue/{sid}/{seq}` | a waitlisted booking id, first in line first |
//!
//! `seq` is the booking's number, zero-padded so keys sort in booking order.

use mercato_sdk::livestream::{Booking, BookingStatus, Session};
use mercato_sdk::{Error, store};

pub const SESSIONS: &str = "session/";

pub fn session_key(sid: &str) -> String {
    format!("{SESSIONS}{sid}")
}

pub fn load_session(sid: &str) -> Result<Session, Error> {
    store::get(&session_key(sid))?.ok_or_else(|| Error::not_found("session", sid))
}

pub fn save_session(session: &Session) -> Result<(), Error> {
    store::set(&session_key(&session.id), session)
}

pub fn load_booking(bid: &str) -> Result<Booking, Error> {
    store::get(&format!("booking/{bid}"))?.ok_or_else(|| Error::not_found("booking", bid))
}

/// Store a booking. Its waitlist position is never stored: it changes
/// whenever someone ahead leaves, so [`present`] works it out on the way out.
pub fn save_booking(booking: &Booking) -> Result<(), Error> {
    let stored = Booking {
        waitlist_position: None,
        ..booking.clone()
    };
    store::set(&format!("booking/{}", booking.id), &stored)
}

/// The booking id for sequence number `seq`.
pub fn booking_id(seq: u64) -> String {
    format!("b-{seq}")
}

fn seq_key(booking_id: &str) -> String {
    let seq: u64 = booking_id.trim_start_matches("b-").parse().unwrap_or(0);
    format!("{seq:012}")
}

fn seat_key(booking: &Booking) -> String {
    format!("seat/{}/{}", booking.session_id, seq_key(&booking.id))
}

fn queue_key(booking: &Booking) -> String {
    format!("queue/{}/{}", booking.session_id, seq_key(&booking.id))
}

fn holder_key(sid: &str, customer: &str) -> String {
    format!("holder/{sid}/{customer}")
}

/// The customer's live booking in the session, if any.
pub fn holder(sid: &str, customer: &str) -> Result<Option<String>, Error> {
    store::get(&holder_key(sid, customer))
}

/// Record a new confirmed or waitlisted booking and count it.
pub fn add(session: &mut Session, booking: &Booking) -> Result<(), Error> {
    match booking.status {
        BookingStatus::Confirmed => {
            store::set(&seat_key(booking), &booking.id)?;
            session.booked += 1;
        }
        BookingStatus::Waitlisted => {
            store::set(&queue_key(booking), &booking.id)?;
            session.waitlisted += 1;
        }
        BookingStatus::Cancelled => return Ok(()),
    }
    store::set(
        &holder_key(&booking.session_id, &booking.customer),
        &booking.id,
    )?;
    save_booking(booking)
}

/// Take a live booking out of its session. When it held a seat and someone
/// is waiting, the first in line is confirmed and returned.
pub fn remove(session: &mut Session, booking: &Booking) -> Result<Option<Booking>, Error> {
    store::delete(&holder_key(&session.id, &booking.customer));
    match booking.status {
        BookingStatus::Waitlisted => {
            store::delete(&queue_key(booking));
            session.waitlisted = session.waitlisted.saturating_sub(1);
            Ok(None)
        }
        BookingStatus::Confirmed => {
            store::delete(&seat_key(booking));
            session.booked = session.booked.saturating_sub(1);
            let Some(first) = store::keys(&format!("queue/{}/", session.id))
                .into_iter()
                .next()
            else {
                return Ok(None);
            };
            let bid: String = store::get(&first)?.unwrap_or_default();
            let mut next = load_booking(&bid)?;
            store::delete(&first);
            session.waitlisted = session.waitlisted.saturating_sub(1);
            next.status = BookingStatus::Confirmed;
            store::set(&seat_key(&next), &next.id)?;
            session.booked += 1;
            save_booking(&next)?;
            Ok(Some(present(next)))
        }
        BookingStatus::Cancelled => Ok(None),
    }
}

/// Ids of the session's confirmed bookings, then its waitlist in order.
pub fn members(sid: &str) -> Result<(Vec<String>, Vec<String>), Error> {
    let ids = |prefix: String| -> Result<Vec<String>, Error> {
        store::keys(&prefix)
            .iter()
            .map(|key| Ok(store::get::<String>(key)?.unwrap_or_default()))
            .collect()
    };
    Ok((ids(format!("seat/{sid}/"))?, ids(format!("queue/{sid}/"))?))
}

/// The booking with its current 1-based waitlist position filled in.
pub fn present(mut booking: Booking) -> Booking {
    booking.waitlist_position = match booking.status {
        BookingStatus::Waitlisted => {
            let mine = queue_key(&booking);
            let ahead = store::keys(&format!("queue/{}/", booking.session_id))
                .iter()
                .take_while(|key| **key < mine)
                .count();
            u32::try_from(ahead + 1).ok()
        }
        _ => None,
    };
    booking
}

/// Cancel every booking of the session and clear its indexes.
pub fn clear(session: &mut Session) -> Result<usize, Error> {
    let (confirmed, waiting) = members(&session.id)?;
    for bid in confirmed.iter().chain(&waiting) {
        let mut booking = load_booking(bid)?;
        store::delete(&holder_key(&session.id, &booking.customer));
        booking.status = BookingStatus::Cancelled;
        save_booking(&booking)?;
    }
    for prefix in ["seat", "queue"] {
        for key in store::keys(&format!("{prefix}/{}/", session.id)) {
            store::delete(&key);
        }
    }
    session.booked = 0;
    session.waitlisted = 0;
    Ok(confirmed.len() + waiting.len())
}

/// Every booking `customer` ever made, cancelled ones included.
pub fn bookings_of(customer: &str) -> Result<Vec<Booking>, Error> {
    Ok(store::values::<Booking>("booking/")?
        .into_iter()
        .filter(|b| b.customer == customer)
        .collect())
}

/// What a booking is called in an export or erasure report.
pub fn record_kind(booking: &Booking) -> &'static str {
    match booking.status {
        BookingStatus::Waitlisted => "waitlist-entry",
        _ => "booking",
    }
}

/// Take the booking out of its session if it is live (promoting whoever is
/// next, as a cancellation would) and delete it. The promoted booking, if
/// any.
pub fn erase(booking: &Booking) -> Result<Option<Booking>, Error> {
    let promoted = if booking.status == BookingStatus::Cancelled {
        None
    } else {
        let mut session = load_session(&booking.session_id)?;
        let promoted = remove(&mut session, booking)?;
        save_session(&session)?;
        promoted
    };
    store::delete(&format!("booking/{}", booking.id));
    Ok(promoted)
}
