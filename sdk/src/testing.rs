//! Unit-test a component natively, without wasm or a server.
//!
//! A [`TestHost`] plays the host for the current thread: an in-memory store,
//! a clock you set, settings you choose, customer profiles you add, and a
//! record of every event, approval request and log line. Call your trait's
//! functions directly while it is alive.
//!
//! ```
//! use mercato_sdk::testing::TestHost;
//! use mercato_sdk::{Event, clock, events, store};
//!
//! let host = TestHost::new().at(1_700_000_000_000);
//! store::set("greeting", "hello").unwrap();
//! events::emit(&Event::new("greeted").customer("c-1"));
//! assert_eq!(clock::now(), 1_700_000_000_000);
//! assert_eq!(host.get::<String>("greeting").as_deref(), Some("hello"));
//! assert_eq!(host.events()[0].name, "greeted");
//! ```
//!
//! Differences from the real host, on purpose: writes land at once (there is
//! no invocation to commit), and every permission is granted except that
//! contact details are masked until [`TestHost::grant_contact`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::{Serialize, de::DeserializeOwned};

use crate::Timestamp;
// The generated types themselves, not their re-exports in `host`: `host`
// calls into this module natively, so this one must not reach back.
use crate::bindings::base::mercato::sales::approvals::ApprovalRequest;
use crate::bindings::base::mercato::sales::customers::Profile;
use crate::bindings::base::mercato::sales::events::Event;
use crate::bindings::base::mercato::sales::log::Level;

/// One log line a component wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its message.
    pub message: String,
    /// Its structured fields.
    pub fields: Vec<(String, String)>,
}

/// An approval request a component filed, with the id it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct FiledApproval {
    /// The id `approvals::request` returned.
    pub id: String,
    /// What was asked.
    pub request: ApprovalRequest,
    /// Whether the component withdrew it.
    pub withdrawn: bool,
}

#[derive(Default)]
struct State {
    store: BTreeMap<String, Vec<u8>>,
    now: Timestamp,
    settings: String,
    customers: BTreeMap<String, Profile>,
    contact_granted: bool,
    events: Vec<Event>,
    approvals: Vec<FiledApproval>,
    logs: Vec<LogLine>,
}

thread_local! {
    static HOST: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    HOST.with(|host| {
        let mut host = host.borrow_mut();
        let state = host.as_mut().expect(
            "no host on this thread: natively, component code talks to a \
             mercato_sdk::testing::TestHost, so create one at the start of the test",
        );
        f(state)
    })
}

/// The host of the current thread while it lives. Not `Send`: it belongs to
/// the thread whose component code it serves.
#[derive(Debug)]
pub struct TestHost {
    _thread_bound: PhantomData<*const ()>,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHost {
    /// A fresh host for this thread, replacing any earlier one. The clock
    /// starts at 2026-01-01T00:00:00Z; settings are `{}`.
    pub fn new() -> Self {
        HOST.with(|host| {
            *host.borrow_mut() = Some(State {
                now: 1_767_225_600_000,
                settings: "{}".to_owned(),
                ..State::default()
            })
        });
        TestHost {
            _thread_bound: PhantomData,
        }
    }

    /// Set the clock.
    pub fn at(self, now: Timestamp) -> Self {
        self.set_now(now);
        self
    }

    /// Set the clock.
    pub fn set_now(&self, now: Timestamp) {
        with(|s| s.now = now);
    }

    /// Move the clock forward.
    pub fn advance(&self, millis: Timestamp) {
        with(|s| s.now += millis);
    }

    /// Use these settings (serialized to JSON).
    pub fn with_settings<T: Serialize>(self, settings: &T) -> Self {
        let text = serde_json::to_string(settings).expect("settings serialize to JSON");
        with(|s| s.settings = text);
        self
    }

    /// Add or replace a customer profile (store it unmasked; the host masks).
    pub fn add_customer(&self, profile: Profile) {
        with(|s| s.customers.insert(profile.id.clone(), profile));
    }

    /// Grant `customers.contact`, so profiles come unmasked.
    pub fn grant_contact(&self) {
        with(|s| s.contact_granted = true);
    }

    /// The stored value under `key`, decoded.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        with(|s| s.store.get(key).cloned())
            .map(|bytes| serde_json::from_slice(&bytes).expect("stored value is JSON"))
    }

    /// Every stored key, in order.
    pub fn keys(&self) -> Vec<String> {
        with(|s| s.store.keys().cloned().collect())
    }

    /// Every event emitted so far.
    pub fn events(&self) -> Vec<Event> {
        with(|s| s.events.clone())
    }

    /// Every approval request filed so far.
    pub fn approvals(&self) -> Vec<FiledApproval> {
        with(|s| s.approvals.clone())
    }

    /// Every log line written so far.
    pub fn logs(&self) -> Vec<LogLine> {
        with(|s| s.logs.clone())
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        HOST.with(|host| host.borrow_mut().take());
    }
}

pub(crate) mod store {
    use super::with;

    pub fn get(key: &str) -> Option<Vec<u8>> {
        with(|s| s.store.get(key).cloned())
    }
    pub fn set(key: &str, value: &[u8]) {
        with(|s| s.store.insert(key.to_owned(), value.to_owned()));
    }
    pub fn delete(key: &str) {
        with(|s| s.store.remove(key));
    }
    pub fn list_keys(prefix: &str) -> Vec<String> {
        with(|s| {
            s.store
                .range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k.clone())
                .collect()
        })
    }
}

pub(crate) mod events {
    use super::{Event, with};

    pub fn emit(event: &Event) {
        with(|s| s.events.push(event.clone()));
    }
}

pub(crate) mod approvals {
    use super::{ApprovalRequest, FiledApproval, with};

    pub fn request(request: &ApprovalRequest) -> String {
        with(|s| {
            let id = format!("approval-{}", s.approvals.len() + 1);
            s.approvals.push(FiledApproval {
                id: id.clone(),
                request: request.clone(),
                withdrawn: false,
            });
            id
        })
    }

    pub fn withdraw(approval_id: &str) {
        with(|s| {
            if let Some(filed) = s.approvals.iter_mut().find(|a| a.id == approval_id) {
                filed.withdrawn = true;
            }
        })
    }
}

pub(crate) mod customers {
    use super::{Profile, with};

    pub fn get(id: &str) -> Option<Profile> {
        with(|s| {
            let profile = s.customers.get(id).cloned()?;
            Some(if s.contact_granted {
                profile
            } else {
                mask(profile)
            })
        })
    }

    /// The host's masking rule, applied through the host's own function.
    fn mask(profile: Profile) -> Profile {
        let masked = mercato_types::CustomerProfile {
            id: profile.id,
            name: profile.name,
            company: profile.company,
            email: profile.email,
            phone: profile.phone,
            address: profile.address,
            tags: profile.tags,
        }
        .masked();
        Profile {
            id: masked.id,
            name: masked.name,
            company: masked.company,
            email: masked.email,
            phone: masked.phone,
            address: masked.address,
            contact_masked: true,
            tags: masked.tags,
        }
    }
}

pub(crate) mod log {
    use super::{Level, LogLine, with};

    pub fn write(level: Level, message: &str, fields: &[(String, String)]) {
        with(|s| {
            s.logs.push(LogLine {
                level,
                message: message.to_owned(),
                fields: fields.to_vec(),
            })
        });
    }
}

pub(crate) mod clock {
    use super::{Timestamp, with};

    pub fn now() -> Timestamp {
        with(|s| s.now)
    }
}

pub(crate) mod settings {
    use super::with;

    pub fn get() -> String {
        with(|s| s.settings.clone())
    }
}
