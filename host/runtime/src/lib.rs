//! Mercato's sandbox: runs sales components where they cannot escape.
//!
//! Owns the wasmtime engine and everything per invocation — the limits, the
//! host interfaces and their permission checks, WASI without ambient
//! authority, loading a component (checks, compile cache, type check against
//! its kind's world) and the JSON mapping of WIT values.
//!
//! Must not know about HTTP, accounts, tenants' installs or how packages are
//! reviewed: callers hand it verified bytes, a kind, grants, settings and
//! limits. Component state and customer profiles go through the traits in
//! `mercato-types`, which the registry implements on SQL.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mercato_runtime::{CallContext, Grants, Kind, Limits, Runtime, Scope};
//!
//! let runtime = Runtime::builder().cache_dir("/var/cache/mercato").build()?;
//! let bytes = std::fs::read("livestream_booking.wasm")?;
//! let component = runtime.load(Kind::LivestreamBooking, &bytes)?;
//! let call = Arc::new(CallContext {
//!     scope: Scope::new("acme", "mercato/livestream-booking"),
//!     grants: Grants::all(),
//!     settings: "{}".into(),
//!     track_events: true,
//!     version: None,
//! });
//! let outcome = runtime.invoke_json(&component, &call, &Limits::default(), "list-sessions",
//!     &serde_json::json!({}))?;
//! println!("{}", outcome.json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bindings;
pub mod cache;
mod common;
pub mod component;
pub mod engine;
mod error;
mod fault;
pub mod imports;
pub mod kind;
pub mod runtime;
pub mod sandbox;
pub mod signature;
pub mod value;
mod wasi;

pub use component::{Function, LoadedComponent};
pub use engine::EngineOptions;
pub use error::{InvokeError, LoadError};
pub use kind::Kind;
pub use mercato_types::limits::{self, Limit, Limits};
pub use mercato_types::permission::{self, Grants, Permission};
pub use mercato_types::{
    CustomerDirectory, CustomerProfile, MemoryCustomers, MemoryState, Scope, Snapshot, StateError,
    StateStore, WitVersion,
};
pub use runtime::{Outcome, Runtime, RuntimeBuilder, RuntimeError, World};
pub use sandbox::{CallContext, LogLevel, LogLine, LogSource};
