//! Mercato's records and where they are kept.
//!
//! Owns the database (SQLite by default, PostgreSQL for several hosts), its
//! migrations, and everything stored: accounts and tokens, publishers and
//! keys, signed packages and their review, tenants and installs, the
//! hash-chained audit log, the approvals inbox, customer profiles and
//! events, and the per-(tenant, component) state the runtime writes (the
//! `StateStore` contract of `mercato-types`, implemented on SQL). Role and
//! tenant checks are one table in [`access`], asked by every operation, so every
//! front end (HTTP, CLI) asks the same questions.
//!
//! Must not know about wasmtime, WIT or HTTP: whether a component really
//! implements its world or what its settings mean is the host's question,
//! asked between [`Registry::check_upload`] and [`Registry::submit`], before
//! an install or upgrade, and before an approval rolls a version out
//! ([`Registry::rollout_candidates`], [`Registry::review_checked`]).

pub mod access;
pub mod accounts;
pub mod audit;
pub mod bounds;
pub mod canaries;
pub mod customers;
pub mod db;
pub mod delivery;
mod error;
pub mod events;
pub mod guards;
pub mod inbox;
pub mod installs;
pub mod notices;
pub mod package;
pub mod paging;
pub mod principal;
pub mod publishers;
pub mod recordings;
pub mod replays;
pub mod sessions;
pub mod state;
pub mod tenants;
pub mod versions;

pub use accounts::{Account, IssuedToken, NewAccount, TokenInfo};
pub use customers::SqlCustomers;
pub use db::{Database, DbError};
pub use error::RegistryError;
pub use installs::{
    Install, InstallUpdate, NewInstall, Rollout, RolloutCheck, RolloutChecks, UpgradeOutcome,
    UpgradeRequest,
};
pub use mercato_types::{CustomerDirectory, CustomerProfile, MemoryCustomers, mask};
pub use mercato_types::{Grants, Kind, Limits, Permission, RequestedLimits, permission};
pub use package::{FixtureCall, Manifest, Package, PackageError, key_id, sha256_hex};
pub use principal::{Principal, Role};
pub use publishers::{KeyState, NewKey, PublisherKey};
pub use state::{
    ApprovalRecord, Commit, EventRecord, MemoryState, Scope, SqlState, StateError, StateStore,
    Version,
};
pub use tenants::{NewTenant, Tenant};
pub use versions::{CatalogEntry, Changes, Decision, PackageVersion, Upload, VersionState};

/// The marketplace's records in one database.
#[derive(Debug, Clone)]
pub struct Registry {
    db: Database,
}

impl Registry {
    /// The registry kept in `db`.
    pub fn new(db: Database) -> Self {
        Registry { db }
    }

    /// Its database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Change notices from other hosts, counted as they arrive
    /// (PostgreSQL; `None` on SQLite, where this host makes every change).
    /// Call inside a Tokio runtime: the listener is a task of it.
    pub fn notices(&self) -> Option<std::sync::Arc<notices::Notices>> {
        self.db
            .shared_url()
            .map(|url| notices::listen(url.to_owned()))
    }

    /// The audit head's sequence number; it changes with every registry
    /// change, so hosts compare it to know when their caches are stale.
    pub async fn generation(&self) -> Result<i64, RegistryError> {
        audit::head(&self.db).await
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
