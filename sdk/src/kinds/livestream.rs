//! Livestream booking: sessions with limited seats, a waitlist, reminders.

use std::marker::PhantomData;

use crate::bindings::livestream::exports::mercato::sales::livestream::Guest;
pub use crate::bindings::livestream::exports::mercato::sales::livestream::{
    Booking, BookingStatus, Cancellation, Reminder, Session, SessionDraft, SessionStatus,
};
use crate::{Component, Error, Timestamp};

/// A livestream-booking component. Export it with
/// [`export_livestream_booking!`](crate::export_livestream_booking).
pub trait LivestreamBooking: Component {
    /// Schedule a new session.
    fn schedule(draft: SessionDraft) -> Result<Session, Error>;
    /// Book a seat; waitlist when full.
    fn book(session_id: String, customer: String) -> Result<Booking, Error>;
    /// Cancel a booking and promote the first waitlisted customer.
    fn cancel_booking(booking_id: String) -> Result<Cancellation, Error>;
    /// Cancel a session and all its bookings.
    fn cancel_session(session_id: String) -> Result<Session, Error>;
    /// One session.
    fn get_session(session_id: String) -> Result<Session, Error>;
    /// Sessions from a time on, soonest first.
    fn list_sessions(starting_from: Option<Timestamp>) -> Result<Vec<Session>, Error>;
    /// A session's bookings: confirmed, then the waitlist in order.
    fn list_bookings(session_id: String) -> Result<Vec<Booking>, Error>;
    /// Reminders for sessions starting from now up to `before`.
    fn reminders_due(before: Timestamp) -> Result<Vec<Reminder>, Error>;
}

#[doc(hidden)]
#[derive(Debug)]
pub struct Adapter<T>(PhantomData<T>);

crate::component::component_adapter!(Adapter, LivestreamBooking);

impl<T: LivestreamBooking> Guest for Adapter<T> {
    fn schedule(draft: SessionDraft) -> Result<Session, Error> {
        T::schedule(draft)
    }
    fn book(session_id: String, customer: String) -> Result<Booking, Error> {
        T::book(session_id, customer)
    }
    fn cancel_booking(booking_id: String) -> Result<Cancellation, Error> {
        T::cancel_booking(booking_id)
    }
    fn cancel_session(session_id: String) -> Result<Session, Error> {
        T::cancel_session(session_id)
    }
    fn get_session(session_id: String) -> Result<Session, Error> {
        T::get_session(session_id)
    }
    fn list_sessions(starting_from: Option<Timestamp>) -> Result<Vec<Session>, Error> {
        T::list_sessions(starting_from)
    }
    fn list_bookings(session_id: String) -> Result<Vec<Booking>, Error> {
        T::list_bookings(session_id)
    }
    fn reminders_due(before: Timestamp) -> Result<Vec<Reminder>, Error> {
        T::reminders_due(before)
    }
}

/// Export a [`LivestreamBooking`] implementation as the component.
#[macro_export]
macro_rules! export_livestream_booking {
    ($component:ty) => {
        $crate::__export_kind!(
            $component,
            $crate::livestream::LivestreamBooking,
            $crate::livestream::Adapter<$component>,
            __export_livestream_impl,
            livestream
        );
    };
}
