//! The component kinds: the one list every crate reads (manifest checks,
//! the runtime's world checks, `mercato new`'s templates).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::wit::WitVersion;

/// A kind of sales component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

    /// The short name of the interface holding the kind's own functions.
    pub fn interface_name(self) -> &'static str {
        match self {
            Kind::LivestreamBooking => "livestream",
            Kind::SampleRequests => "samples",
            Kind::TrialFeedback => "feedback",
            Kind::Experiments => "experimentation",
        }
    }

    /// The fully qualified interface holding the kind's own functions, in
    /// the WIT version new components are built against.
    pub fn interface(self) -> String {
        self.interface_in(WitVersion::CURRENT)
    }

    /// The fully qualified interface holding the kind's own functions in
    /// `version` (`mercato:sales/livestream@0.2.0`).
    pub fn interface_in(self, version: WitVersion) -> String {
        let package = version.package();
        let (name, semver) = package.split_once('@').unwrap_or((package, ""));
        format!("{name}/{}@{semver}", self.interface_name())
    }

    /// Every kind's name, comma-separated, for messages.
    pub fn names() -> String {
        Kind::ALL.map(Kind::as_str).join(", ")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown component kind `{0}` (known: {known})", known = Kind::names())]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_interfaces_carry_the_wit_version() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(k));
        }
        assert_eq!(
            Kind::Experiments.interface(),
            "mercato:sales/experimentation@0.2.0"
        );
        assert_eq!(
            Kind::LivestreamBooking.interface_in(WitVersion::V0_1),
            "mercato:sales/livestream@0.1.0"
        );
        let err = "crm".parse::<Kind>().unwrap_err().to_string();
        assert!(
            err.contains("`crm`") && err.contains("trial-feedback"),
            "{err}"
        );
    }
}
