//! Package versions: upload checks, the review workflow, yanking, the
//! catalog, and what changed since the last approved version.
//!
//! `submitted → approved | rejected`, and `approved → yanked`. A new
//! version must be greater (semver) than every version of its package,
//! whatever their state, so a number is never reused.
//!
//! [`record`] holds the records and the reads; [`upload`] checks and
//! stores uploads and loads packages back, [`review`] the review workflow
//! and yanking, [`changes`] what a version changes, [`catalog`] what
//! tenants may install.

mod catalog;
mod changes;
mod record;
mod review;
mod upload;

pub use catalog::CatalogEntry;
pub use changes::{Changes, LimitChange};
pub use record::{PackageVersion, VersionState};
pub use record::{no_build_metadata, parse_version};
pub use review::Decision;
pub use upload::{MAX_PACKAGE_BYTES, Upload};
