//! Capabilities: a manifest declares permissions, a reviewer approves them,
//! and the host grants exactly those to each invocation. The check that joins
//! them lives here, so every host import asks the same question.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A permission a component can be granted. `log`, `clock` and `settings`
/// need none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Permission {
    /// Key/value storage of its own.
    Store,
    /// Emitting analytics events.
    Events,
    /// Asking a director for a decision.
    Approvals,
    /// Reading customer profiles, contact details masked.
    Customers,
    /// Reading customers' contact details unmasked (implies nothing else).
    CustomersContact,
}

impl Permission {
    /// Every permission, in a stable order.
    pub const ALL: [Permission; 5] = [
        Permission::Store,
        Permission::Events,
        Permission::Approvals,
        Permission::Customers,
        Permission::CustomersContact,
    ];

    /// The name manifests and errors use.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Store => "store",
            Permission::Events => "events",
            Permission::Approvals => "approvals",
            Permission::Customers => "customers",
            Permission::CustomersContact => "customers.contact",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a permission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission `{0}` (known: store, events, approvals, customers, customers.contact)")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPermission(s.to_owned()))
    }
}

impl TryFrom<String> for Permission {
    type Error = UnknownPermission;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Permission> for String {
    fn from(p: Permission) -> String {
        p.as_str().to_owned()
    }
}

/// The permissions granted to one invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants(BTreeSet<Permission>);

impl Grants {
    /// Nothing granted.
    pub fn none() -> Self {
        Grants::default()
    }

    /// Everything granted.
    pub fn all() -> Self {
        Permission::ALL.into_iter().collect()
    }

    /// Whether `permission` was granted.
    pub fn allows(&self, permission: Permission) -> bool {
        self.0.contains(&permission)
    }

    /// The permissions in `self` that `other` lacks: what a new version asks
    /// for beyond what was approved for the old one.
    pub fn beyond(&self, other: &Grants) -> Vec<Permission> {
        self.0.difference(&other.0).copied().collect()
    }

    /// The granted permissions, in order.
    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Permission> for Grants {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Grants(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        let err = "network".parse::<Permission>().unwrap_err();
        assert!(err.to_string().contains("`network`"));
        let parsed: Vec<Permission> =
            serde_json::from_str(r#"["store","customers.contact"]"#).unwrap();
        assert_eq!(
            parsed,
            vec![Permission::Store, Permission::CustomersContact]
        );
    }

    #[test]
    fn grants_check_and_diff() {
        let old: Grants = [Permission::Store].into_iter().collect();
        let new: Grants = [Permission::Store, Permission::Customers]
            .into_iter()
            .collect();
        assert!(old.allows(Permission::Store));
        assert!(!old.allows(Permission::Events));
        assert_eq!(new.beyond(&old), vec![Permission::Customers]);
        assert!(old.beyond(&new).is_empty());
        assert!(!Grants::none().allows(Permission::Store));
        assert!(Grants::all().allows(Permission::CustomersContact));
    }
}
