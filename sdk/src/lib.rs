//! Write Mercato sales components in Rust.
//!
//! A component is one kind of sales tool — livestream booking, sample
//! requests, trial feedback or experiments. You implement [`Component`]
//! (description and settings) and that kind's trait (its functions), and
//! export it with one macro line; the SDK takes care of the WebAssembly
//! component model. Build with `cargo build --target wasm32-wasip2` (or
//! `mercato pack`).
//!
//! ```
//! use mercato_sdk::livestream::*;
//! use mercato_sdk::{Component, CustomerRecord, Description, Error, Event, ForgetReport};
//! use mercato_sdk::{NoSettings, Timestamp, Validation, clock, store};
//!
//! struct Tiny;
//!
//! impl Component for Tiny {
//!     type Settings = NoSettings;
//!
//!     fn describe() -> Description {
//!         Description::new("Tiny booking", "The smallest livestream booking there is.")
//!     }
//!
//!     // What it holds about a customer, for the tenant's export and erasure.
//!     fn export_customer(customer: &str) -> Vec<CustomerRecord> {
//!         store::values::<String>(&format!("booked/{customer}/"))
//!             .unwrap_or_default()
//!             .into_iter()
//!             .map(|session| CustomerRecord::new("booking", session.as_str(), &session))
//!             .collect()
//!     }
//!
//!     fn forget_customer(customer: &str) -> Result<ForgetReport, Error> {
//!         let keys = store::keys(&format!("booked/{customer}/"));
//!         for key in &keys {
//!             store::delete(key);
//!         }
//!         Ok(ForgetReport::new().removed("booking", keys.len() as u32))
//!     }
//! }
//!
//! impl LivestreamBooking for Tiny {
//!     fn schedule(draft: SessionDraft) -> Result<Session, Error> {
//!         Validation::new()
//!             .not_blank(&draft.title, "title")
//!             .require(draft.capacity >= 1, "capacity", "must be at least 1")
//!             .finish()?;
//!         let session = Session {
//!             id: format!("s-{}", clock::now()),
//!             title: draft.title,
//!             host: draft.host,
//!             starts_at: draft.starts_at,
//!             duration_minutes: draft.duration_minutes,
//!             capacity: draft.capacity,
//!             booked: 0,
//!             waitlisted: 0,
//!             status: SessionStatus::Scheduled,
//!         };
//!         store::set(&format!("session/{}", session.id), &session)?;
//!         Event::new("session.scheduled").with("session", session.id.as_str()).emit();
//!         Ok(session)
//!     }
//!
//!     fn get_session(id: String) -> Result<Session, Error> {
//!         store::get(&format!("session/{id}"))?.ok_or_else(|| Error::not_found("session", &id))
//!     }
//!
//!     // ... book, cancel_booking, cancel_session, list_sessions,
//!     // list_bookings and reminders_due the same way.
//! #   fn book(_: String, _: String) -> Result<Booking, Error> { unimplemented!() }
//! #   fn cancel_booking(_: String) -> Result<Cancellation, Error> { unimplemented!() }
//! #   fn cancel_session(_: String) -> Result<Session, Error> { unimplemented!() }
//! #   fn list_sessions(_: Option<Timestamp>) -> Result<Vec<Session>, Error> { unimplemented!() }
//! #   fn list_bookings(_: String) -> Result<Vec<Booking>, Error> { unimplemented!() }
//! #   fn reminders_due(_: Timestamp) -> Result<Vec<Reminder>, Error> { unimplemented!() }
//! }
//!
//! mercato_sdk::export_livestream_booking!(Tiny);
//!
//! // Natively the same code runs against a test host:
//! let host = mercato_sdk::testing::TestHost::new();
//! let session = Tiny::schedule(SessionDraft {
//!     title: "Spring launch".into(),
//!     host: "Mia".into(),
//!     starts_at: clock::now() + clock::DAY,
//!     duration_minutes: 45,
//!     capacity: 50,
//! })
//! .unwrap();
//! assert_eq!(Tiny::get_session(session.id).unwrap().capacity, 50);
//! assert_eq!(host.events()[0].name, "session.scheduled");
//! ```
//!
//! The host's capabilities — [`store`], [`events`], [`approvals`],
//! [`customers`], [`log`], [`clock`], [`settings`] — are plain functions.
//! Each needs the permission your manifest declares and the reviewer
//! approved; calling one you were not granted ends the invocation with an
//! error naming the permission. `log`, `clock` and `settings` are always
//! granted.
//!
//! Start a crate with `mercato new <kind> <dir>`: it depends on this crate
//! (by path, git or version — see the crate's README), declares
//! `crate-type = ["cdylib", "rlib"]` and `[package.metadata.mercato]`, and
//! comes with a native test and a calls file for `mercato run`.

#![warn(missing_docs)]

extern crate self as mercato_sdk;

#[doc(hidden)]
pub mod bindings;
mod component;
mod error;
mod host;
mod kinds;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use component::{Component, CustomerRecord, Description, ForgetReport, NoSettings};
pub use error::{Error, FieldError, Validation};
pub use host::approvals::{self, ApprovalRequest, Decision};
pub use host::customers::{self, Profile};
pub use host::events::{self, Event, Property, PropertyValue};
pub use host::{clock, log, settings, store};
pub use kinds::{experiments, feedback, livestream, samples};

/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = u64;

/// The WIT package this SDK builds against.
pub const WIT_PACKAGE: &str = mercato_types::WIT_PACKAGE;

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use wit_bindgen;

    /// Stamped into every component's `mercato-wit` custom section.
    pub const WIT_STAMP: [u8; crate::WIT_PACKAGE.len()] = {
        let text = crate::WIT_PACKAGE.as_bytes();
        let mut stamp = [0u8; crate::WIT_PACKAGE.len()];
        let mut i = 0;
        while i < text.len() {
            stamp[i] = text[i];
            i += 1;
        }
        stamp
    };
}
