//! Key/value storage scoped to (tenant, component). Needs the `store` permission.
//!
//! Values are stored as JSON. Writes become visible to the rest of the world
//! only when the invocation returns; if it traps or hits a limit, none of them
//! happen.

use serde::{Serialize, de::DeserializeOwned};

use crate::Error;

#[cfg(target_arch = "wasm32")]
use crate::bindings::base::mercato::sales::store as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::store as imp;

/// The value under `key`, decoded from JSON; `None` if absent.
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match imp::get(key) {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Internal(format!(
                "the value stored under `{key}` cannot be read: {e}"
            ))
        }),
    }
}

/// Store `value` under `key` as JSON.
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::Internal(format!("cannot encode the value for `{key}`: {e}")))?;
    imp::set(key, &bytes);
    Ok(())
}

/// Remove `key`; removing an absent key is not an error.
pub fn delete(key: &str) {
    imp::delete(key);
}

/// Every key starting with `prefix`, in ascending order.
pub fn keys(prefix: &str) -> Vec<String> {
    imp::list_keys(prefix)
}

/// Every value under keys starting with `prefix`, in key order.
pub fn values<T: DeserializeOwned>(prefix: &str) -> Result<Vec<T>, Error> {
    keys(prefix)
        .iter()
        .filter_map(|key| get(key).transpose())
        .collect()
}

/// The raw bytes under `key`.
pub fn get_bytes(key: &str) -> Option<Vec<u8>> {
    imp::get(key)
}

/// Store raw bytes under `key`.
pub fn set_bytes(key: &str, value: &[u8]) {
    imp::set(key, value);
}
