//! Customer profiles of each tenant, as the runtime reads them for
//! components. Masking by permission is the runtime's business, not this
//! module's: profiles here are always whole.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::StateError;

/// A customer profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub tags: Vec<String>,
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
