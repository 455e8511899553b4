//! The library behind the `mercato` command: what authors, the demo seeding
//! and the tests all call — signing keys ([`keys`]), manifests from a
//! crate's metadata and the component's `describe` ([`manifest`]),
//! building and packing a component crate ([`pack`]), verifying a package
//! ([`verify`]), uploading it ([`publish`]), running a component against a
//! file of calls ([`calls`]), scaffolding a component crate ([`scaffold`]),
//! one local call ([`local`]), and the demo marketplace ([`demo`]).
//!
//! Must not hold the marketplace's rules (the registry's) nor sandbox
//! details (the runtime's): it drives them. The binary's modules only parse
//! arguments and print.

pub mod calls;
pub mod demo;
mod error;
pub mod keys;
pub mod local;
pub mod manifest;
pub mod pack;
pub mod progress;
pub mod publish;
pub mod scaffold;
pub mod verify;

pub use error::CliError;
