//! The vocabulary Mercato's crates share: component kinds and the WIT
//! versions they are built against, permissions and grants, the invocation
//! budget and its platform caps, customer profiles and the one masking rule
//! for their contact details, and the contract of component state (the
//! [`StateStore`] trait the runtime writes through and the registry
//! implements on SQL, with an in-memory implementation).
//!
//! Must stay small and free of engines: no wasmtime, no database driver, no
//! HTTP. The SDK compiles it into components, so everything here builds for
//! `wasm32-wasip2` too.

pub mod compile;
pub mod customer;
pub mod kind;
pub mod limits;
pub mod mask;
pub mod memory;
pub mod permission;
pub mod state;
pub mod wit;

pub use customer::{CustomerDirectory, CustomerProfile, MemoryCustomers};
pub use kind::{Kind, UnknownKind};
pub use limits::{Limit, Limits, RequestedLimits};
pub use memory::MemoryState;
pub use permission::{Grants, Permission, UnknownPermission};
pub use state::{
    ApprovalRecord, Commit, Entries, EventRecord, Quota, Scope, Snapshot, StateError, StateStore,
    Usage, Version,
};
pub use wit::{SUPPORTED_WIT, WIT_PACKAGE, WitVersion};
