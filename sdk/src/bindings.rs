//! Generated bindings. Hidden: plugin authors never name anything in here.
//!
//! `component` is exported by every kind, and wit-bindgen names an
//! interface's export macro after the interface, so generating the four kind
//! worlds separately would define that macro four times. Instead each exported
//! interface is generated exactly once, in a world of its own, and a kind's
//! export macro expands two of them; wit-component merges their type sections
//! into the kind's world. The host imports are generated once in `base` and
//! shared with `with`.

#![allow(missing_docs, clippy::all, unsafe_code, missing_debug_implementations)]

/// The host imports, the shared types and the `component` export.
pub mod base {
    wit_bindgen::generate!({
        inline: "
            package mercato:sdk;
            world base {
                include mercato:sales/host-imports@0.2.0;
                export mercato:sales/component@0.2.0;
            }
        ",
        path: "../wit/v0.2",
        world: "mercato:sdk/base",
        runtime_path: "mercato_sdk::__private::wit_bindgen::rt",
        default_bindings_module: "mercato_sdk::__private::bindings::base",
        export_macro_name: "__export_base",
        pub_export_macro: true,
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        generate_all,
    });
}

macro_rules! kind_bindings {
    ($module:ident, $inline:literal, $world:literal, $bindings:literal, $macro:literal) => {
        pub mod $module {
            wit_bindgen::generate!({
                inline: $inline,
                path: "../wit/v0.2",
                world: $world,
                runtime_path: "mercato_sdk::__private::wit_bindgen::rt",
                default_bindings_module: $bindings,
                export_macro_name: $macro,
                pub_export_macro: true,
                additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
                with: {
                    "mercato:sales/types@0.2.0": crate::bindings::base::mercato::sales::types,
                    "mercato:sales/store@0.2.0": crate::bindings::base::mercato::sales::store,
                    "mercato:sales/events@0.2.0": crate::bindings::base::mercato::sales::events,
                    "mercato:sales/approvals@0.2.0": crate::bindings::base::mercato::sales::approvals,
                    "mercato:sales/customers@0.2.0": crate::bindings::base::mercato::sales::customers,
                    "mercato:sales/log@0.2.0": crate::bindings::base::mercato::sales::log,
                    "mercato:sales/clock@0.2.0": crate::bindings::base::mercato::sales::clock,
                    "mercato:sales/settings@0.2.0": crate::bindings::base::mercato::sales::settings,
                },
            });
        }
    };
}

kind_bindings!(
    livestream,
    "package mercato:sdk;
     world livestream { include mercato:sales/host-imports@0.2.0; export mercato:sales/livestream@0.2.0; }",
    "mercato:sdk/livestream",
    "mercato_sdk::__private::bindings::livestream",
    "__export_livestream"
);

kind_bindings!(
    samples,
    "package mercato:sdk;
     world samples { include mercato:sales/host-imports@0.2.0; export mercato:sales/samples@0.2.0; }",
    "mercato:sdk/samples",
    "mercato_sdk::__private::bindings::samples",
    "__export_samples"
);

kind_bindings!(
    feedback,
    "package mercato:sdk;
     world feedback { include mercato:sales/host-imports@0.2.0; export mercato:sales/feedback@0.2.0; }",
    "mercato:sdk/feedback",
    "mercato_sdk::__private::bindings::feedback",
    "__export_feedback"
);

kind_bindings!(
    experimentation,
    "package mercato:sdk;
     world experimentation { include mercato:sales/host-imports@0.2.0; export mercato:sales/experimentation@0.2.0; }",
    "mercato:sdk/experimentation",
    "mercato_sdk::__private::bindings::experimentation",
    "__export_experimentation"
);
