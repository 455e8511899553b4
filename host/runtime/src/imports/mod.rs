//! The host interfaces, one module each. Every function first asks
//! [`Sandbox::require`](crate::sandbox::Sandbox) for its permission, so an
//! ungranted call ends the invocation with an error naming the permission.

mod approvals;
mod clock;
pub mod customers;
mod events;
mod log;
mod settings;
mod since_v0_1;
mod store;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::{v0_1, v0_2};
use crate::sandbox::Sandbox;

impl v0_2::mercato::sales::types::Host for Sandbox {}

/// Add every host interface of every WIT version to `linker` (each
/// version's instances have their own names, `…/store@0.1.0` and
/// `…/store@0.2.0`, so both live in one linker).
pub(crate) fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    v0_2::HostImports::add_to_linker::<Sandbox, HasSelf<Sandbox>>(linker, |s| s)?;
    v0_1::HostImports::add_to_linker::<Sandbox, HasSelf<Sandbox>>(linker, |s| s)
}

pub use mercato_types::mask;
