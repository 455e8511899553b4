//! Host-side bindings generated from `wit/v0.1`: the host interfaces a
//! component imports (trappable, so a host call can end the invocation with a
//! typed fault), and one module per kind world, used to type-check a
//! component's exports when it is loaded.

#![allow(missing_docs, missing_debug_implementations, clippy::all)]

wasmtime::component::bindgen!({
    path: "../../wit/v0.1",
    world: "mercato:sales/host-imports",
    imports: { default: trappable },
});

macro_rules! kind_world {
    ($module:ident, $world:literal) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../../wit/v0.1",
                world: $world,
                with: { "mercato:sales": crate::bindings::mercato::sales },
            });
        }
    };
}

kind_world!(livestream, "mercato:sales/livestream-booking");
kind_world!(samples, "mercato:sales/sample-requests");
kind_world!(feedback, "mercato:sales/trial-feedback");
kind_world!(experiments, "mercato:sales/experiments");
