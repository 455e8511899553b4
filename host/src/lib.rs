//! The Mercato host: runs sales components in a sandbox they cannot escape.
//!
//! This crate owns the wasmtime engine and everything per invocation — the
//! limits, the host interfaces and their permission checks, WASI without
//! ambient authority, the compile cache, and the JSON mapping of WIT values.
//! It must not know about HTTP or how packages are reviewed: callers hand it
//! verified bytes, a kind, grants, settings and limits. Storage goes through
//! `mercato-registry`'s traits.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mercato_host::{CallContext, Grants, Kind, Limits, Runtime};
//! use mercato_registry::Scope;
//!
//! let runtime = Runtime::builder().cache_dir("/var/cache/mercato").build()?;
//! let bytes = std::fs::read("livestream_booking.wasm")?;
//! let component = runtime.load(Kind::LivestreamBooking, &bytes)?;
//! let call = Arc::new(CallContext {
//!     scope: Scope::new("acme", "mercato/livestream-booking"),
//!     grants: Grants::all(),
//!     settings: "{}".into(),
//!     track_events: true,
//! });
//! let outcome = runtime.invoke_json(&component, &call, &Limits::default(), "list-sessions",
//!     &serde_json::json!({}))?;
//! println!("{}", outcome.json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bindings;
pub mod cache;
pub mod component;
pub mod engine;
mod error;
pub mod http;
pub mod imports;
pub mod kind;
pub mod limits;
pub mod marketplace;
pub mod metrics;
pub mod runtime;
pub mod sandbox;
pub mod signature;
pub mod value;
mod wasi;

pub use component::{Function, LoadedComponent};
pub use engine::EngineOptions;
pub use error::{InvokeError, LoadError};
pub use kind::Kind;
pub use limits::{Limit, Limits};
pub use mercato_registry::permission::{self, Grants, Permission};
pub use runtime::{Outcome, Runtime, RuntimeBuilder, RuntimeError};
pub use sandbox::{CallContext, LogLevel, LogLine, LogSource};
