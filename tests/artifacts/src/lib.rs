//! Paths of every component, built for wasm32-wasip2 by this crate's build
//! script once per build. Tests and benchmarks read them with [`read`].

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The bytes of the component at `path` (one of this crate's constants).
pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read component {path}: {e}"))
}
