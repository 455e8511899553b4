//! The tenant's customer profiles. Needs the `customers` permission; contact
//! fields come masked unless `customers.contact` was granted too.

pub use crate::bindings::base::mercato::sales::customers::Profile;

#[cfg(target_arch = "wasm32")]
use crate::bindings::base::mercato::sales::customers as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::customers as imp;

/// The profile with this id, if the tenant has one.
pub fn get(id: &str) -> Option<Profile> {
    imp::get(id)
}
