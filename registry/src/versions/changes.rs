//! What a version changes against the last approved version before it: the
//! first thing a reviewer reads.

use std::collections::BTreeSet;

use semver::Version;
use serde::Serialize;

use crate::{Manifest, Permission, RequestedLimits};

/// A limit whose requested value differs between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitChange {
    /// The limit (`fuel`, `memory-bytes`, …).
    pub limit: &'static str,
    /// Asked for by the earlier version (`None`: platform default).
    pub before: Option<u64>,
    /// Asked for by this version.
    pub after: Option<u64>,
}

/// What a version changes against the last approved version before it — the
/// first thing a reviewer reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    /// The version compared against; `None` for a package's first approval.
    pub previous: Option<Version>,
    /// Permissions this version asks for that the previous did not.
    pub permissions_added: Vec<Permission>,
    /// Permissions it no longer asks for.
    pub permissions_removed: Vec<Permission>,
    /// Requested limits that changed.
    pub limits: Vec<LimitChange>,
    /// The kind changed (it cannot for an installed component; flagged loudly).
    pub kind_changed: bool,
    /// The settings schema changed.
    pub settings_schema_changed: bool,
}

impl Changes {
    /// Compare `after` against `before` (`None`: nothing approved yet).
    pub fn between(before: Option<&Manifest>, after: &Manifest) -> Changes {
        let empty = BTreeSet::new();
        let old = before.map_or(&empty, |m| &m.permissions);
        let default = RequestedLimits::default();
        let limit_changes = before
            .map_or(&default, |m| &m.limits)
            .fields()
            .into_iter()
            .zip(after.limits.fields())
            .filter(|((_, b), (_, a))| a != b)
            .map(|((limit, before), (_, after))| LimitChange {
                limit,
                before,
                after,
            })
            .collect();
        Changes {
            previous: before.map(|m| m.version.clone()),
            permissions_added: after.permissions.difference(old).copied().collect(),
            permissions_removed: old.difference(&after.permissions).copied().collect(),
            limits: limit_changes,
            kind_changed: before.is_some_and(|m| m.kind != after.kind),
            settings_schema_changed: before
                .is_some_and(|m| m.settings_schema != after.settings_schema),
        }
    }
}
