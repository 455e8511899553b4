//! A session with its confirmed bookings and its waitlist, stored as one value
//! so that a booking changes exactly one record of the session.

use std::collections::BTreeMap;

use mercato_sdk::livestream::{Booking, BookingStatus, Session, SessionStatus};
use mercato_sdk::{Error, store};
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "session/";

#[derive(Debug, Serialize, Deserialize)]
pub struct Roster {
    pub session: Session,
    /// Booking ids holding a seat, in booking order.
    pub confirmed: Vec<String>,
    /// Booking ids waiting for a seat, first in line first.
    pub waitlist: Vec<String>,
    /// Customer → their live (confirmed or waitlisted) booking.
    customers: BTreeMap<String, String>,
}

impl Roster {
    pub fn new(session: Session) -> Self {
        Roster {
            session,
            confirmed: Vec::new(),
            waitlist: Vec::new(),
            customers: BTreeMap::new(),
        }
    }

    pub fn load(session_id: &str) -> Result<Self, Error> {
        store::get(&format!("{PREFIX}{session_id}"))?
            .ok_or_else(|| Error::not_found("session", session_id))
    }

    pub fn save(&self) -> Result<(), Error> {
        store::set(&format!("{PREFIX}{}", self.session.id), self)
    }

    /// The session with its counts filled in.
    pub fn session(&self) -> Session {
        Session {
            booked: count(self.confirmed.len()),
            waitlisted: count(self.waitlist.len()),
            ..self.session.clone()
        }
    }

    pub fn booking_of(&self, customer: &str) -> Option<String> {
        self.customers.get(customer).cloned()
    }

    pub fn has_free_seat(&self) -> bool {
        self.confirmed.len() < self.session.capacity as usize
    }

    pub fn add(&mut self, booking: &Booking) {
        match booking.status {
            BookingStatus::Confirmed => self.confirmed.push(booking.id.clone()),
            BookingStatus::Waitlisted => self.waitlist.push(booking.id.clone()),
            BookingStatus::Cancelled => return,
        }
        self.customers
            .insert(booking.customer.clone(), booking.id.clone());
    }

    /// Take a booking out; when it held a seat, the first waitlisted booking
    /// moves into it and its id is returned.
    pub fn remove(&mut self, booking: &Booking) -> Option<String> {
        self.customers.remove(&booking.customer);
        self.waitlist.retain(|id| id != &booking.id);
        let held_seat = self.confirmed.iter().any(|id| id == &booking.id);
        self.confirmed.retain(|id| id != &booking.id);
        if held_seat && self.has_free_seat() && !self.waitlist.is_empty() {
            let next = self.waitlist.remove(0);
            self.confirmed.push(next.clone());
            return Some(next);
        }
        None
    }

    pub fn cancel(&mut self) {
        self.session.status = SessionStatus::Cancelled;
        self.confirmed.clear();
        self.waitlist.clear();
        self.customers.clear();
    }

    /// The booking with its current waitlist position.
    pub fn present(&self, mut booking: Booking) -> Result<Booking, Error> {
        booking.waitlist_position = match booking.status {
            BookingStatus::Waitlisted => self
                .waitlist
                .iter()
                .position(|id| id == &booking.id)
                .map(|i| count(i + 1)),
            _ => None,
        };
        Ok(booking)
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
