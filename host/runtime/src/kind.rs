//! The check that a component really implements its kind's world, through
//! the host bindings generated for each world. The list of kinds itself is
//! `mercato-types`'.

use wasmtime::AsContextMut;
use wasmtime::component::{Instance, InstancePre};

pub use mercato_types::Kind;
use mercato_types::WitVersion;

use crate::bindings;

/// Type-check an instance's exports against the kind's world in the WIT
/// version the component was built against: every function present, each
/// with the world's exact signature.
pub(crate) fn check_exports<T>(
    kind: Kind,
    wit: WitVersion,
    pre: &InstancePre<T>,
    store: impl AsContextMut,
    instance: &Instance,
) -> Result<(), String> {
    macro_rules! check {
        ($v:ident) => {
            match kind {
                Kind::LivestreamBooking => {
                    bindings::$v::livestream::LivestreamBookingIndices::new(pre)
                        .and_then(|i| i.load(store, instance).map(drop))
                }
                Kind::SampleRequests => bindings::$v::samples::SampleRequestsIndices::new(pre)
                    .and_then(|i| i.load(store, instance).map(drop)),
                Kind::TrialFeedback => bindings::$v::feedback::TrialFeedbackIndices::new(pre)
                    .and_then(|i| i.load(store, instance).map(drop)),
                Kind::Experiments => bindings::$v::experiments::ExperimentsIndices::new(pre)
                    .and_then(|i| i.load(store, instance).map(drop)),
            }
        };
    }
    let checked = match wit {
        WitVersion::V0_1 => check!(v0_1),
        WitVersion::V0_2 => check!(v0_2),
    };
    checked.map_err(|e| format!("{e:#}"))
}
