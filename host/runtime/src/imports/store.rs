//! `store`: the component's key/value data. Reads go through the
//! invocation's own writes first; writes stay in the transaction until the
//! invocation commits.

use crate::bindings::v0_2::mercato::sales::store::Host;
use crate::fault::Fault;
use crate::sandbox::{MAX_KEY_BYTES, MAX_VALUE_BYTES, Sandbox};
use crate::{Limit, Permission};

impl Sandbox {
    fn check_key(&self, key: &str) -> Result<(), Fault> {
        crate::fault::storable("a store key", [key])?;
        if key.len() > MAX_KEY_BYTES {
            return Err(Fault::Limit {
                limit: Limit::Writes,
                detail: format!(
                    "a store key of {} bytes is above the {MAX_KEY_BYTES}-byte limit",
                    key.len()
                ),
            });
        }
        Ok(())
    }

    fn stage(&mut self, key: String, value: Option<Vec<u8>>) -> Result<(), Fault> {
        self.check_key(&key)?;
        let size = key.len() + value.as_ref().map_or(0, Vec::len);
        if value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return Err(Fault::Limit {
                limit: Limit::Writes,
                detail: format!(
                    "the store value for `{key}` of {size} bytes is above the {MAX_VALUE_BYTES}-byte limit"
                ),
            });
        }
        // A blind write still depends on the version it overwrites.
        self.base()?;
        self.tx.write(key, value)
    }
}

impl Host for Sandbox {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.require(Permission::Store, "store.get")?;
        if let Some(staged) = self.tx.writes.get(&key) {
            return Ok(staged.clone());
        }
        self.base()?;
        if let Some(entries) = &self.tx.entries {
            return Ok(entries.get(&key).cloned());
        }
        Ok(self
            .state
            .get(&self.call.scope, &key)
            .map_err(Fault::from)?)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<()> {
        self.require(Permission::Store, "store.set")?;
        Ok(self.stage(key, Some(value))?)
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.require(Permission::Store, "store.delete")?;
        Ok(self.stage(key, None)?)
    }

    fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Vec<String>> {
        self.require(Permission::Store, "store.list-keys")?;
        self.base()?;
        // Ascending already (a snapshot is a sorted map; the store answers
        // in order).
        let stored: Vec<String> = match &self.tx.entries {
            Some(entries) => entries
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.clone())
                .collect(),
            None => self
                .state
                .list_keys(&self.call.scope, &prefix)
                .map_err(Fault::from)?,
        };
        let mut staged = self
            .tx
            .writes
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .peekable();
        if staged.peek().is_none() {
            return Ok(stored);
        }
        let mut keys: std::collections::BTreeSet<String> = stored.into_iter().collect();
        for (key, value) in staged {
            match value {
                Some(_) => keys.insert(key.clone()),
                None => keys.remove(key),
            };
        }
        Ok(keys.into_iter().collect())
    }
}
