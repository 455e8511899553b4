//! The tenant's settings for this component, already validated.

use serde::de::DeserializeOwned;

use crate::Error;

#[cfg(target_arch = "wasm32")]
use crate::bindings::base::mercato::sales::settings as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::settings as imp;

/// The settings decoded into your settings type.
pub fn get<T: DeserializeOwned>() -> Result<T, Error> {
    let text = imp::get();
    serde_json::from_str(&text)
        .map_err(|e| Error::NotConfigured(format!("the tenant's settings cannot be read: {e}")))
}
