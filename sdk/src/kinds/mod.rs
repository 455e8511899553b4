//! One module per component kind: the trait an author implements, its types,
//! and the macro that exports an implementation.

pub mod experiments;
pub mod feedback;
pub mod livestream;
pub mod samples;

/// Expands the two halves of a kind's exports (`component` and the kind's own
/// interface) for `$adapter`. Only wasm gets exports; natively the macro
/// checks that the type implements the trait, so mistakes show up in
/// `cargo test` too.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_kind {
    ($component:ty, $kind:path, $adapter:path, $export:ident, $bindings:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type MercatoExport = $adapter;
            $crate::__export_base_impl!(MercatoExport with_types_in $crate::__private::bindings::base);
            $crate::$export!(MercatoExport with_types_in $crate::__private::bindings::$bindings);

            /// Which WIT package this component was built against; the host
            /// reads it before compiling and refuses versions it does not serve.
            #[unsafe(link_section = "mercato-wit")]
            #[used]
            static MERCATO_WIT: [u8; $crate::__private::WIT_STAMP.len()] = $crate::__private::WIT_STAMP;
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn implements<T: $kind>() {}
            implements::<$component>();
        };
    };
}
