//! The component kinds, the WIT world each must implement, and the check that
//! a component really implements it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use wasmtime::AsContextMut;
use wasmtime::component::{Instance, InstancePre};

use crate::bindings;

/// The WIT package every kind belongs to.
pub const WIT_PACKAGE: &str = mercato_registry::package::SUPPORTED_WIT[0];

/// A kind of sales component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Kind {
    /// `livestream-booking`
    LivestreamBooking,
    /// `sample-requests`
    SampleRequests,
    /// `trial-feedback`
    TrialFeedback,
    /// `experiments`
    Experiments,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [
        Kind::LivestreamBooking,
        Kind::SampleRequests,
        Kind::TrialFeedback,
        Kind::Experiments,
    ];

    /// The kind's name, which is also its world's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LivestreamBooking => "livestream-booking",
            Kind::SampleRequests => "sample-requests",
            Kind::TrialFeedback => "trial-feedback",
            Kind::Experiments => "experiments",
        }
    }

    /// The interface holding the kind's own functions.
    pub fn interface(self) -> &'static str {
        match self {
            Kind::LivestreamBooking => "mercato:sales/livestream@0.1.0",
            Kind::SampleRequests => "mercato:sales/samples@0.1.0",
            Kind::TrialFeedback => "mercato:sales/feedback@0.1.0",
            Kind::Experiments => "mercato:sales/experimentation@0.1.0",
        }
    }

    /// Type-check an instance's exports against the kind's world: every
    /// function present, each with the world's exact signature.
    pub(crate) fn check_exports<T>(
        self,
        pre: &InstancePre<T>,
        store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<(), String> {
        let checked = match self {
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
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown component kind `{0}` (known: livestream-booking, sample-requests, trial-feedback, experiments)"
)]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

impl TryFrom<String> for Kind {
    type Error = UnknownKind;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Kind> for String {
    fn from(k: Kind) -> String {
        k.as_str().to_owned()
    }
}
