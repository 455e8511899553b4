//! The runtime's integration tests, one binary: loading, the livestream
//! component end to end as wasm, the hostile fixtures, state atomicity and
//! concurrency, and the absence of ambient authority.

// Helpers outside #[test] fns unwrap too: a panic is how a test reports.
#![allow(clippy::unwrap_used)]

mod harness;

mod hostile;
mod isolation;
mod livestream;
mod load;
mod wasi;
