//! Paths of every component, built for wasm32-wasip2 by this crate's build
//! script once per build. Tests and benchmarks read them with [`read`].

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The bytes of the component at `path` (one of this crate's constants).
pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read component {path}: {e}"))
}

/// livestream-booking as built against `mercato:sales@0.1.0` (the SDK of
/// the first release), kept as a file: the host must keep running
/// components built before WIT 0.2, beside 0.2 ones.
pub const LIVESTREAM_BOOKING_V0_1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/wit-0.1/livestream-booking.wasm"
);
