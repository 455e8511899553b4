//! `settings`: the tenant's validated settings for this component.

use crate::bindings::v0_2::mercato::sales::settings::Host;
use crate::sandbox::Sandbox;

impl Host for Sandbox {
    fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self.call.settings.to_string())
    }
}
