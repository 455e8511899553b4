//! Customer profiles as components see them, and the one masking rule for
//! contact details: the host applies it to components without
//! `customers.contact`, and the SDK's test host applies the same function,
//! so a native test sees exactly what the component will see in production.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::mask;
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
