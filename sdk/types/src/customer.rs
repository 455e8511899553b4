//! Customer profiles as components see them, and the one masking rule for
//! contact details: the host applies it to components without
//! `customers.contact`, and the SDK's test host applies the same function,
//! so a native test sees exactly what the component will see in production.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::state::StateError;

/// A customer profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerProfile {
    /// Tenant-chosen id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Employer, for B2B customers.
    pub company: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal address, one line.
    pub address: Option<String>,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl CustomerProfile {
    /// The profile with its contact details masked (see [`mask`]).
    pub fn masked(mut self) -> CustomerProfile {
        self.email = self.email.as_deref().map(mask::email);
        self.phone = self.phone.as_deref().map(mask::phone);
        self.address = self.address.as_deref().map(mask::address);
        self
    }
}

/// Where the runtime finds customer profiles.
pub trait CustomerDirectory: Send + Sync + 'static {
    /// `tenant`'s profile `id`, if it exists. Blocks.
    fn profile(&self, tenant: &str, id: &str) -> Result<Option<CustomerProfile>, StateError>;
}

/// Profiles in memory.
#[derive(Debug, Default)]
pub struct MemoryCustomers {
    profiles: Mutex<HashMap<(String, String), CustomerProfile>>,
}

impl MemoryCustomers {
    /// No profiles.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace `tenant`'s profile.
    pub fn insert(&self, tenant: &str, profile: CustomerProfile) {
        self.profiles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((tenant.to_owned(), profile.id.clone()), profile);
    }
}

impl CustomerDirectory for MemoryCustomers {
    fn profile(&self, tenant: &str, id: &str) -> Result<Option<CustomerProfile>, StateError> {
        Ok(self
            .profiles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(tenant.to_owned(), id.to_owned()))
            .cloned())
    }
}

/// How contact details look to a component without `customers.contact`:
/// enough to recognise a record, not enough to reach the person.
pub mod mask {
    /// `13812345678` → `138****5678`: keep the first 3 and last 4 digits of a
    /// long number, the last 2 of a short one.
    pub fn phone(phone: &str) -> String {
        let chars: Vec<char> = phone.chars().collect();
        let (head, tail) = if chars.len() >= 11 {
            (3, 4)
        } else {
            (0, 2.min(chars.len()))
        };
        let hidden = chars.len().saturating_sub(head + tail).clamp(1, 4);
        let mut out: String = chars[..head.min(chars.len())].iter().collect();
        out.push_str(&"*".repeat(hidden));
        out.extend(&chars[chars.len() - tail..]);
        out
    }

    /// `alice@example.com` → `a***@example.com`.
    pub fn email(email: &str) -> String {
        match email.split_once('@') {
            Some((user, domain)) => {
                let first: String = user.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }

    /// Addresses are hidden whole: any part of one narrows a person down.
    pub fn address(_address: &str) -> String {
        "***".to_owned()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn contact_details_are_masked() {
            assert_eq!(super::phone("13812345678"), "138****5678");
            assert_eq!(super::phone("+8613812345678"), "+86****5678");
            assert_eq!(super::phone("5551234"), "****34");
            assert_eq!(super::phone(""), "*");
            assert_eq!(super::email("alice@example.com"), "a***@example.com");
            assert_eq!(super::email("nonsense"), "***");
            assert_eq!(super::address("1 Main St, Springfield"), "***");
        }
    }
}
