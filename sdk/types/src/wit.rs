//! Which WIT packages the platform speaks.

use std::fmt;

/// A released version of the `mercato:sales` WIT package (`wit/v0.1`,
/// `wit/v0.2`). Released folders are frozen; the host runs every version
/// listed here side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WitVersion {
    /// `mercato:sales@0.1.0`, the first release.
    V0_1,
    /// `mercato:sales@0.2.0`: customer export and erasure in `component`,
    /// `approvals.withdraw`.
    V0_2,
}

impl WitVersion {
    /// Every version the host runs, newest first.
    pub const ALL: [WitVersion; 2] = [WitVersion::V0_2, WitVersion::V0_1];

    /// The version new components are built against.
    pub const CURRENT: WitVersion = WitVersion::V0_2;

    /// The package with its version, as stamped and declared
    /// (`mercato:sales@0.2.0`).
    pub const fn package(self) -> &'static str {
        match self {
            WitVersion::V0_1 => "mercato:sales@0.1.0",
            WitVersion::V0_2 => "mercato:sales@0.2.0",
        }
    }

    /// The semver part (`0.2.0`).
    pub fn semver(self) -> &'static str {
        self.package()
            .split_once('@')
            .map_or("", |(_, version)| version)
    }

    /// The version a package name with its version stands for.
    pub fn from_package(package: &str) -> Option<WitVersion> {
        WitVersion::ALL.into_iter().find(|v| v.package() == package)
    }

    /// Every supported package, comma-separated, for messages.
    pub fn names() -> String {
        WitVersion::ALL.map(WitVersion::package).join(", ")
    }
}

impl fmt::Display for WitVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.package())
    }
}

/// The WIT packages the host runs components for, newest first.
pub const SUPPORTED_WIT: &[&str] = &[WitVersion::V0_2.package(), WitVersion::V0_1.package()];

/// The WIT package new components are built against.
pub const WIT_PACKAGE: &str = WitVersion::CURRENT.package();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_name_their_versions_and_round_trip() {
        for v in WitVersion::ALL {
            assert_eq!(WitVersion::from_package(v.package()), Some(v));
            assert!(v.package().ends_with(v.semver()));
        }
        assert_eq!(WitVersion::from_package("mercato:sales@9.9.9"), None);
        assert!(SUPPORTED_WIT.contains(&WIT_PACKAGE));
    }
}
