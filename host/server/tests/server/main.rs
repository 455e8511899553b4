//! The server's integration tests, one binary: the marketplace seeded as a
//! real one is, the HTTP API through `oneshot`, two hosts sharing
//! PostgreSQL, and concurrent invocations on the registry's state.

// Helpers outside #[test] fns unwrap too: a panic is how a test reports.
#![allow(clippy::unwrap_used)]

mod access;
mod canary;
mod concurrency;
mod console;
mod hardening;
mod http;
mod isolation;
mod market;
mod replay;
mod rollout;
mod versions;

/// 2026-03-01T09:00:00Z.
pub const NOW: u64 = 1_772_355_600_000;
pub const HOUR: u64 = 3_600_000;
