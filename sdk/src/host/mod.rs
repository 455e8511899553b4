//! The host's capabilities as plain Rust functions.
//!
//! Inside wasm they call the host's imports; compiled natively (unit tests,
//! benchmarks) they call the [`TestHost`](crate::testing::TestHost) of the
//! current thread, so the same component code runs in both places.

pub mod approvals;
pub mod clock;
pub mod customers;
pub mod events;
pub mod log;
pub mod settings;
pub mod store;
