//! The check that a component really implements its kind's world, through
//! the host bindings generated for each world. The list of kinds itself is
//! `mercato-types`'.

use wasmtime::AsContextMut;
use wasmtime::component::{Instance, InstancePre};

pub use mercato_types::Kind;

use crate::bindings;

/// Type-check an instance's exports against the kind's world: every
/// function present, each with the world's exact signature.
pub(crate) fn check_exports<T>(
    kind: Kind,
    pre: &InstancePre<T>,
    store: impl AsContextMut,
    instance: &Instance,
) -> Result<(), String> {
    let checked = match kind {
        Kind::LivestreamBooking => bindings::livestream::LivestreamBookingIndices::new(pre)
            .and_then(|i| i.load(store, instance).map(drop)),
        Kind::SampleRequests => bindings::samples::SampleRequestsIndices::new(pre)
            .and_then(|i| i.load(store, instance).map(drop)),
        Kind::TrialFeedback => bindings::feedback::TrialFeedbackIndices::new(pre)
            .and_then(|i| i.load(store, instance).map(drop)),
        Kind::Experiments => bindings::experiments::ExperimentsIndices::new(pre)
            .and_then(|i| i.load(store, instance).map(drop)),
    };
    checked.map_err(|e| format!("{e:#}"))
}
