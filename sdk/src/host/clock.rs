//! Time: the moment the current invocation started, fixed for its duration.

use crate::Timestamp;

#[cfg(target_arch = "wasm32")]
use crate::bindings::base::mercato::sales::clock as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::clock as imp;

/// Milliseconds since the Unix epoch (UTC) at which this invocation started.
pub fn now() -> Timestamp {
    imp::now()
}

/// One minute in milliseconds.
pub const MINUTE: Timestamp = 60_000;
/// One hour in milliseconds.
pub const HOUR: Timestamp = 60 * MINUTE;
/// One day in milliseconds.
pub const DAY: Timestamp = 24 * HOUR;
