//! Installs: which version of which package a tenant runs, under what id,
//! with what settings, and what its director has accepted.
//!
//! An install pins an exact version (`=1.2.0`) or follows a semver range
//! (`^1.2`). Approving a version rolls it out to installs whose range it
//! matches, unless it asks for permissions the tenant has not accepted: then
//! it waits as `pending` until the director accepts. Every version an
//! install ran is remembered, and rollback may go to any of them that is
//! still approved; rolling back pins.
//!
//! [`record`] holds the records and their storage; [`enable`] enabling,
//! changing and removing, [`upgrade`] moving between versions, [`rollout`]
//! what the approval of a version does to the installs following it.

mod enable;
mod record;
mod rollout;
mod upgrade;

pub use record::{Install, InstallUpdate, NewInstall, UpgradeOutcome, UpgradeRequest};
pub use rollout::{Rollout, RolloutCheck, RolloutChecks};
