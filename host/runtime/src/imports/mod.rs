//! The host interfaces, one module each. Every function first asks
//! [`Sandbox::require`](crate::sandbox::Sandbox) for its permission, so an
//! ungranted call ends the invocation with an error naming the permission.

mod approvals;
mod clock;
pub mod customers;
mod events;
mod log;
mod settings;
mod store;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::HostImports;
use crate::sandbox::Sandbox;

impl crate::bindings::mercato::sales::types::Host for Sandbox {}

/// Add every host interface to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    HostImports::add_to_linker::<Sandbox, HasSelf<Sandbox>>(linker, |s| s)
}

pub use mercato_types::mask;
