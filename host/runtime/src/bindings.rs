//! Host-side bindings generated from `wit/`, one module per released WIT
//! version: the host interfaces a component imports (trappable, so a host
//! call can end the invocation with a typed fault), and one module per kind
//! world, used to type-check a component's exports when it is loaded.
//!
//! The host interfaces are implemented once, on [`v0_2`]'s types (the
//! newest); `imports::v0_1` converts 0.1's types into them, the way an
//! editor's extension host keeps old extensions running.

#![allow(missing_docs, missing_debug_implementations, clippy::all)]

macro_rules! kind_world {
    ($path:literal, $module:ident, $world:literal, $package:path) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                path: $path,
                world: $world,
                with: { "mercato:sales": $package },
            });
        }
    };
}

/// One WIT version's host interfaces and kind worlds.
macro_rules! wit_version {
    ($(#[$doc:meta])* $module:ident, $path:literal) => {
        $(#[$doc])*
        pub mod $module {
            wasmtime::component::bindgen!({
                path: $path,
                world: "mercato:sales/host-imports",
                imports: { default: trappable },
            });

            kind_world!($path, livestream, "mercato:sales/livestream-booking", crate::bindings::$module::mercato::sales);
            kind_world!($path, samples, "mercato:sales/sample-requests", crate::bindings::$module::mercato::sales);
            kind_world!($path, feedback, "mercato:sales/trial-feedback", crate::bindings::$module::mercato::sales);
            kind_world!($path, experiments, "mercato:sales/experiments", crate::bindings::$module::mercato::sales);
        }
    };
}

wit_version!(
    /// `mercato:sales@0.1.0`, frozen.
    v0_1,
    "../../wit/v0.1"
);
wit_version!(
    /// `mercato:sales@0.2.0`, the current version.
    v0_2,
    "../../wit/v0.2"
);

pub use v0_2::mercato;
