//! The runtime's integration tests, one binary: loading, the livestream
//! component end to end as wasm, the hostile fixtures, state atomicity and
//! concurrency, and the absence of ambient authority.

mod harness;

mod concurrency;
mod hostile;
mod livestream;
mod load;
mod wasi;
