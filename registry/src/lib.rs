//! Mercato's records and where they are kept.
//!
//! Owns the database (SQLite by default, PostgreSQL for several hosts), its
//! migrations, and the data the runtime reads and writes on a component's
//! behalf: per-(tenant, component) key/value state, emitted events and filed
//! approval requests. Must not know about wasmtime, WIT or HTTP: the runtime
//! calls [`state::StateStore`] and nothing here calls back.

pub mod customers;
pub mod db;
pub mod package;
pub mod permission;
pub mod state;

pub use customers::{CustomerDirectory, CustomerProfile, MemoryCustomers};
pub use db::{Database, DbError};
pub use package::{Manifest, Package, PackageError, RequestedLimits};
pub use permission::{Grants, Permission};
pub use state::{
    ApprovalRecord, Commit, EventRecord, MemoryState, Scope, SqlState, StateError, StateStore,
    Version,
};
