//! `clock`: the invocation's start time, the same on every retry.

use crate::bindings::v0_2::mercato::sales::clock::Host;
use crate::sandbox::Sandbox;

impl Host for Sandbox {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(self.now_ms)
    }
}
