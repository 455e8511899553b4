//! Package versions: upload checks, the review workflow, yanking, the
//! catalog, and what changed since the last approved version.
//!
//! `submitted → approved | rejected`, and `approved → yanked`. A new
//! version must be greater (semver) than every version of its package,
//! whatever their state, so a number is never reused.

use std::collections::BTreeSet;

use semver::Version;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::accounts::{Principal, Role};
use crate::audit::Change;
use crate::publishers::{KeyState, PublisherKey};
use crate::{Manifest, Package, Permission, RegistryError, RequestedLimits, now_ms};

/// The largest package file accepted.
pub const MAX_PACKAGE_BYTES: usize = 16 << 20;

/// Where a version stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    /// Waiting for a reviewer.
    Submitted,
    /// In the catalog.
    Approved,
    /// Refused, with a reason.
    Rejected,
    /// Withdrawn from the catalog after approval.
    Yanked,
}

impl VersionState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VersionState::Submitted => "submitted",
            VersionState::Approved => "approved",
            VersionState::Rejected => "rejected",
            VersionState::Yanked => "yanked",
        }
    }

    /// Parse a state given as a filter.
    pub fn parse_filter(s: &str) -> Result<Self, RegistryError> {
        Self::parse(s)
    }

    pub(crate) fn parse(s: &str) -> Result<Self, RegistryError> {
        match s {
            "submitted" => Ok(VersionState::Submitted),
            "approved" => Ok(VersionState::Approved),
            "rejected" => Ok(VersionState::Rejected),
            "yanked" => Ok(VersionState::Yanked),
            other => Err(RegistryError::invalid(
                "state",
                format!("`{other}` is not one of submitted, approved, rejected, yanked"),
            )),
        }
    }
}

/// A stored package version (without its bytes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageVersion {
    /// `publisher/name`.
    pub name: String,
    /// The version.
    pub version: Version,
    /// Its kind.
    pub kind: String,
    /// Review state.
    pub state: VersionState,
    /// The manifest as signed.
    pub manifest: Manifest,
    /// sha256 of the manifest.
    pub manifest_digest: String,
    /// sha256 of the component.
    pub code_digest: String,
    /// The key that signed it.
    pub key_id: String,
    /// Package file size in bytes.
    pub size: i64,
    /// Who uploaded it.
    pub submitted_by: String,
    /// When (ms since the epoch).
    pub submitted_at: i64,
    /// Who reviewed or yanked it.
    pub reviewed_by: Option<String>,
    /// When.
    pub reviewed_at: Option<i64>,
    /// The reviewer's reason.
    pub reason: Option<String>,
}

/// A limit whose requested value differs between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitChange {
    /// The limit (`fuel`, `memory-bytes`, …).
    pub limit: &'static str,
    /// Asked for by the earlier version (`None`: platform default).
    pub before: Option<u64>,
    /// Asked for by this version.
    pub after: Option<u64>,
}

/// What a version changes against the last approved version before it — the
/// first thing a reviewer reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    /// The version compared against; `None` for a package's first approval.
    pub previous: Option<Version>,
    /// Permissions this version asks for that the previous did not.
    pub permissions_added: Vec<Permission>,
    /// Permissions it no longer asks for.
    pub permissions_removed: Vec<Permission>,
    /// Requested limits that changed.
    pub limits: Vec<LimitChange>,
    /// The kind changed (it cannot for an installed component; flagged loudly).
    pub kind_changed: bool,
    /// The settings schema changed.
    pub settings_schema_changed: bool,
}

impl Changes {
    /// Compare `after` against `before` (`None`: nothing approved yet).
    pub fn between(before: Option<&Manifest>, after: &Manifest) -> Changes {
        let empty = BTreeSet::new();
        let old = before.map_or(&empty, |m| &m.permissions);
        let limits = |l: &RequestedLimits| {
            [
                ("fuel", l.fuel),
                ("deadline-ms", l.deadline_ms),
                ("memory-bytes", l.memory_bytes),
                ("output-bytes", l.output_bytes),
                ("log-bytes", l.log_bytes),
            ]
        };
        let default = RequestedLimits::default();
        let limit_changes = limits(before.map_or(&default, |m| &m.limits))
            .into_iter()
            .zip(limits(&after.limits))
            .filter(|((_, b), (_, a))| a != b)
            .map(|((limit, before), (_, after))| LimitChange {
                limit,
                before,
                after,
            })
            .collect();
        Changes {
            previous: before.map(|m| m.version.clone()),
            permissions_added: after.permissions.difference(old).copied().collect(),
            permissions_removed: old.difference(&after.permissions).copied().collect(),
            limits: limit_changes,
            kind_changed: before.is_some_and(|m| m.kind != after.kind),
            settings_schema_changed: before
                .is_some_and(|m| m.settings_schema != after.settings_schema),
        }
    }
}

/// A package that passed the registry's checks and awaits the host's (the
/// component's world, limits) before [`crate::Registry::submit`].
#[derive(Debug, Clone)]
pub struct Upload {
    /// The parsed, signature-checked package.
    pub package: Package,
    /// The key that signed it.
    pub key: PublisherKey,
    bytes: Vec<u8>,
}

/// A reviewer's decision.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Into the catalog.
    Approve,
    /// Refused; needs a reason.
    Reject,
}

/// What the approval of a version did to tenants following a range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// `tenant/install` moved to the new version.
    pub upgraded: Vec<String>,
    /// `tenant/install` waiting for the director to accept new permissions.
    pub awaiting_acceptance: Vec<String>,
}

const VERSION_COLUMNS: &str = "name, version, kind, state, manifest, manifest_digest, code_digest, \
     key_id, size, submitted_by, submitted_at, reviewed_by, reviewed_at, reason";

pub(crate) fn version_from_row(row: &sqlx::any::AnyRow) -> Result<PackageVersion, RegistryError> {
    let manifest: String = row.try_get("manifest")?;
    let version: String = row.try_get("version")?;
    Ok(PackageVersion {
        name: row.try_get("name")?,
        version: version
            .parse()
            .map_err(|e| RegistryError::Corrupt(format!("stored version `{version}`: {e}")))?,
        kind: row.try_get("kind")?,
        state: VersionState::parse(&row.try_get::<String, _>("state")?)
            .map_err(|e| RegistryError::Corrupt(e.to_string()))?,
        manifest: serde_json::from_str(&manifest)
            .map_err(|e| RegistryError::Corrupt(format!("stored manifest: {e}")))?,
        manifest_digest: row.try_get("manifest_digest")?,
        code_digest: row.try_get("code_digest")?,
        key_id: row.try_get("key_id")?,
        size: row.try_get("size")?,
        submitted_by: row.try_get("submitted_by")?,
        submitted_at: row.try_get("submitted_at")?,
        reviewed_by: row.try_get("reviewed_by")?,
        reviewed_at: row.try_get("reviewed_at")?,
        reason: row.try_get("reason")?,
    })
}

/// Split `publisher/name@version`-style input into a name and a version.
pub fn parse_version(field: &'static str, s: &str) -> Result<Version, RegistryError> {
    s.trim()
        .parse()
        .map_err(|e| RegistryError::invalid(field, format!("`{s}` is not a semantic version: {e}")))
}

impl crate::Registry {
    /// Every check the registry can make on an uploaded package file:
    /// size, structure, manifest, signature, the key's standing and owner,
    /// the uploader's publisher, and that the version is new and greater.
    /// Nothing is stored.
    pub async fn check_upload(
        &self,
        actor: &Principal,
        bytes: Vec<u8>,
    ) -> Result<Upload, RegistryError> {
        actor.require(&[Role::Developer, Role::Operator], "publish packages")?;
        if bytes.len() > MAX_PACKAGE_BYTES {
            return Err(RegistryError::TooLarge {
                size: bytes.len(),
                max: MAX_PACKAGE_BYTES,
            });
        }
        let package = Package::parse(&bytes)?;
        package.verify()?;
        let publisher = package.manifest.publisher().to_owned();
        actor.require_publisher(&publisher, "publish packages")?;
        let mut conn = self.db.pool().acquire().await?;
        let key = Self::trusted_signer(&mut conn, &package).await?;
        Self::check_greater(&mut conn, &package.manifest).await?;
        Ok(Upload {
            package,
            key,
            bytes,
        })
    }

    /// The registered key that signed `package`, refused unless it belongs
    /// to the manifest's publisher and is active.
    async fn trusted_signer(
        conn: &mut AnyConnection,
        package: &Package,
    ) -> Result<PublisherKey, RegistryError> {
        let id = crate::key_id(package.public_key());
        let key = Self::key_by_public(conn, package.public_key())
            .await?
            .ok_or_else(|| RegistryError::Untrusted {
                code: "unknown-key",
                message: format!(
                    "the package is signed with key {id}, which no publisher has registered"
                ),
            })?;
        let publisher = package.manifest.publisher();
        if key.publisher != publisher {
            return Err(RegistryError::Untrusted {
                code: "wrong-publisher",
                message: format!(
                    "key {id} belongs to publisher `{}`, not `{publisher}` who owns `{}`",
                    key.publisher, package.manifest.name
                ),
            });
        }
        match key.state {
            KeyState::Active => Ok(key),
            KeyState::Retired => Err(RegistryError::Untrusted {
                code: "retired-key",
                message: format!(
                    "key {id} of `{publisher}` was rotated out; sign new versions with the current key"
                ),
            }),
            KeyState::Revoked => Err(RegistryError::Untrusted {
                code: "revoked-key",
                message: format!("key {id} of `{publisher}` is revoked"),
            }),
        }
    }

    async fn check_greater(
        conn: &mut AnyConnection,
        manifest: &Manifest,
    ) -> Result<(), RegistryError> {
        let rows = sqlx::query("SELECT version FROM package_versions WHERE name = $1")
            .bind(&manifest.name)
            .fetch_all(&mut *conn)
            .await?;
        let mut highest: Option<Version> = None;
        for row in rows {
            let v: String = row.try_get(0)?;
            let v: Version = v
                .parse()
                .map_err(|e| RegistryError::Corrupt(format!("stored version `{v}`: {e}")))?;
            if highest.as_ref().is_none_or(|h| v > *h) {
                highest = Some(v);
            }
        }
        match highest {
            Some(h) if manifest.version <= h => Err(RegistryError::conflict(
                "version-not-greater",
                format!(
                    "`{}` {} is not greater than {h}, the highest version already uploaded",
                    manifest.name, manifest.version
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Store a checked upload as `submitted` (checks repeated inside the
    /// transaction, so a concurrent upload or revocation cannot slip past).
    pub async fn submit(
        &self,
        actor: &Principal,
        upload: Upload,
    ) -> Result<PackageVersion, RegistryError> {
        let mut change = Change::begin(&self.db, actor).await?;
        let key = Self::trusted_signer(change.conn(), &upload.package).await?;
        Self::check_greater(change.conn(), &upload.package.manifest).await?;
        let manifest = &upload.package.manifest;
        let record = PackageVersion {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            kind: manifest.kind.clone(),
            state: VersionState::Submitted,
            manifest: manifest.clone(),
            manifest_digest: upload.package.manifest_digest(),
            code_digest: upload.package.code_digest(),
            key_id: key.key_id,
            size: i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX),
            submitted_by: actor.name.clone(),
            submitted_at: now_ms(),
            reviewed_by: None,
            reviewed_at: None,
            reason: None,
        };
        let manifest_json =
            serde_json::to_string(manifest).map_err(|e| RegistryError::Corrupt(e.to_string()))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO package_versions ({VERSION_COLUMNS}, publisher, package) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, NULL, $12, $13)"
        )))
        .bind(&record.name)
        .bind(record.version.to_string())
        .bind(&record.kind)
        .bind(record.state.as_str())
        .bind(manifest_json)
        .bind(&record.manifest_digest)
        .bind(&record.code_digest)
        .bind(&record.key_id)
        .bind(record.size)
        .bind(&record.submitted_by)
        .bind(record.submitted_at)
        .bind(manifest.publisher())
        .bind(upload.bytes)
        .execute(change.conn())
        .await?;
        change
            .record(
                "package.submit",
                &format!("{}@{}", record.name, record.version),
                None,
                &serde_json::Value::Null,
                &serde_json::json!({
                    "state": "submitted",
                    "kind": record.kind,
                    "permissions": manifest.permissions,
                    "limits": manifest.limits,
                    "code-digest": record.code_digest,
                    "key": record.key_id,
                }),
            )
            .await?;
        change.commit().await?;
        Ok(record)
    }

    pub(crate) async fn version_in(
        conn: &mut AnyConnection,
        name: &str,
        version: &Version,
    ) -> Result<PackageVersion, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM package_versions WHERE name = $1 AND version = $2"
        )))
        .bind(name)
        .bind(version.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| RegistryError::not_found("package version", format!("{name}@{version}")))?;
        version_from_row(&row)
    }

    pub(crate) async fn versions_of(
        conn: &mut AnyConnection,
        name: &str,
    ) -> Result<Vec<PackageVersion>, RegistryError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM package_versions WHERE name = $1"
        )))
        .bind(name)
        .fetch_all(conn)
        .await?;
        let mut versions = rows
            .iter()
            .map(version_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        versions.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(versions)
    }

    fn may_see(actor: &Principal, v: &PackageVersion) -> bool {
        match actor.role {
            Role::Operator | Role::Reviewer => true,
            Role::Developer => actor.publisher.as_deref() == Some(v.manifest.publisher()),
            Role::Director | Role::Rep => v.state == VersionState::Approved,
        }
    }

    /// One version, with what it changes against the last approved version
    /// before it.
    pub async fn version(
        &self,
        actor: &Principal,
        name: &str,
        version: &Version,
    ) -> Result<(PackageVersion, Changes), RegistryError> {
        let mut conn = self.db.pool().acquire().await?;
        let all = Self::versions_of(&mut conn, name).await?;
        let this = all
            .iter()
            .find(|v| v.version == *version)
            .filter(|v| Self::may_see(actor, v))
            .ok_or_else(|| {
                RegistryError::not_found("package version", format!("{name}@{version}"))
            })?;
        let previous = all
            .iter()
            .rfind(|v| v.state == VersionState::Approved && v.version < *version);
        let changes = Changes::between(previous.map(|v| &v.manifest), &this.manifest);
        Ok((this.clone(), changes))
    }

    /// Versions the caller may see, newest upload first, optionally in one
    /// state or of one package.
    pub async fn versions(
        &self,
        actor: &Principal,
        state: Option<VersionState>,
        name: Option<&str>,
    ) -> Result<Vec<PackageVersion>, RegistryError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM package_versions ORDER BY submitted_at DESC, name"
        )))
        .fetch_all(self.db.pool())
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let v = version_from_row(row)?;
            if Self::may_see(actor, &v)
                && state.is_none_or(|s| s == v.state)
                && name.is_none_or(|n| n == v.name)
            {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Approve or reject a submitted version (reviewers). A rejection needs
    /// a reason. Approval rolls the version out to tenants that follow a
    /// range it matches, unless it asks for permissions they have not
    /// accepted: those wait for their director.
    pub async fn review(
        &self,
        actor: &Principal,
        name: &str,
        version: &Version,
        decision: Decision,
        reason: Option<String>,
    ) -> Result<(PackageVersion, Rollout), RegistryError> {
        actor.require(&[Role::Reviewer], "review package versions")?;
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if decision == Decision::Reject && reason.is_none() {
            return Err(RegistryError::invalid(
                "reason",
                "a rejection needs a reason the publisher can act on",
            ));
        }
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::version_in(change.conn(), name, version).await?;
        if before.state != VersionState::Submitted {
            return Err(RegistryError::conflict(
                "not-submitted",
                format!(
                    "{name}@{version} is {}, only a submitted version can be reviewed",
                    before.state.as_str()
                ),
            ));
        }
        let state = match decision {
            Decision::Approve => VersionState::Approved,
            Decision::Reject => VersionState::Rejected,
        };
        let after = self
            .set_state(&mut change, actor, &before, state, reason, "package.")
            .await?;
        let rollout = if state == VersionState::Approved {
            self.roll_out(&mut change, &after).await?
        } else {
            Rollout::default()
        };
        change.commit().await?;
        Ok((after, rollout))
    }

    /// Withdraw an approved version from the catalog (reviewers, operators,
    /// the publisher's developers). Tenants running it keep running it.
    pub async fn yank(
        &self,
        actor: &Principal,
        name: &str,
        version: &Version,
        reason: Option<String>,
    ) -> Result<PackageVersion, RegistryError> {
        let publisher = name.split('/').next().unwrap_or_default();
        if actor.role == Role::Developer {
            actor.require_publisher(publisher, "yank versions")?;
        } else {
            actor.require(
                &[Role::Reviewer, Role::Operator, Role::Developer],
                "yank versions",
            )?;
        }
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::version_in(change.conn(), name, version).await?;
        if before.state != VersionState::Approved {
            return Err(RegistryError::conflict(
                "not-approved",
                format!(
                    "{name}@{version} is {}, only an approved version can be yanked",
                    before.state.as_str()
                ),
            ));
        }
        let after = self
            .set_state(
                &mut change,
                actor,
                &before,
                VersionState::Yanked,
                reason,
                "package.",
            )
            .await?;
        change.commit().await?;
        Ok(after)
    }

    async fn set_state(
        &self,
        change: &mut Change,
        actor: &Principal,
        before: &PackageVersion,
        state: VersionState,
        reason: Option<String>,
        action: &str,
    ) -> Result<PackageVersion, RegistryError> {
        let at = now_ms();
        sqlx::query(
            "UPDATE package_versions SET state = $1, reviewed_by = $2, reviewed_at = $3, reason = $4 \
             WHERE name = $5 AND version = $6",
        )
        .bind(state.as_str())
        .bind(&actor.name)
        .bind(at)
        .bind(&reason)
        .bind(&before.name)
        .bind(before.version.to_string())
        .execute(change.conn())
        .await?;
        let verb = match state {
            VersionState::Approved => "approve",
            VersionState::Rejected => "reject",
            VersionState::Yanked => "yank",
            VersionState::Submitted => "submit",
        };
        change
            .record(
                &format!("{action}{verb}"),
                &format!("{}@{}", before.name, before.version),
                None,
                &serde_json::json!({ "state": before.state }),
                &serde_json::json!({ "state": state, "reason": reason }),
            )
            .await?;
        Ok(PackageVersion {
            state,
            reviewed_by: Some(actor.name.clone()),
            reviewed_at: Some(at),
            reason,
            ..before.clone()
        })
    }

    /// The catalog: approved, unyanked versions, one entry per package with
    /// its newest version's manifest.
    pub async fn catalog(&self) -> Result<Vec<CatalogEntry>, RegistryError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM package_versions WHERE state = 'approved' ORDER BY name"
        )))
        .fetch_all(self.db.pool())
        .await?;
        let mut entries: Vec<CatalogEntry> = Vec::new();
        for row in &rows {
            let v = version_from_row(row)?;
            match entries.iter_mut().find(|e| e.name == v.name) {
                Some(entry) => {
                    entry.versions.push(v.version.clone());
                    if v.version > entry.latest {
                        entry.latest = v.version.clone();
                        entry.kind = v.kind.clone();
                        entry.description = v.manifest.description.clone();
                        entry.permissions = v.manifest.permissions.iter().copied().collect();
                    }
                }
                None => entries.push(CatalogEntry {
                    name: v.name.clone(),
                    kind: v.kind.clone(),
                    description: v.manifest.description.clone(),
                    latest: v.version.clone(),
                    permissions: v.manifest.permissions.iter().copied().collect(),
                    versions: vec![v.version.clone()],
                }),
            }
        }
        for e in &mut entries {
            e.versions.sort();
            e.versions.reverse();
        }
        Ok(entries)
    }

    /// The stored package file of a version, signature and signer checked
    /// again (a key revoked since upload makes it unloadable).
    pub async fn load_package(
        &self,
        name: &str,
        version: &Version,
    ) -> Result<Package, RegistryError> {
        let mut conn = self.db.pool().acquire().await?;
        let row = sqlx::query(
            "SELECT package, manifest_digest, code_digest FROM package_versions \
             WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(version.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| RegistryError::not_found("package version", format!("{name}@{version}")))?;
        let bytes: Vec<u8> = row.try_get(0)?;
        let package = Package::parse(&bytes)?;
        package.verify()?;
        if package.manifest_digest() != row.try_get::<String, _>(1)?
            || package.code_digest() != row.try_get::<String, _>(2)?
        {
            return Err(RegistryError::Corrupt(format!(
                "{name}@{version}: the stored package no longer matches its recorded digests"
            )));
        }
        let key = Self::key_by_public(&mut conn, package.public_key())
            .await?
            .ok_or_else(|| RegistryError::Untrusted {
                code: "unknown-key",
                message: format!("the key that signed {name}@{version} is no longer registered"),
            })?;
        if key.state == KeyState::Revoked {
            return Err(RegistryError::Untrusted {
                code: "revoked-key",
                message: format!(
                    "{name}@{version} was signed with key {}, which is revoked",
                    key.key_id
                ),
            });
        }
        Ok(package)
    }
}

/// A package in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEntry {
    /// `publisher/name`.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// The newest version's description.
    pub description: String,
    /// The newest approved version.
    pub latest: Version,
    /// The newest version's permissions.
    pub permissions: Vec<Permission>,
    /// Every approved, unyanked version, newest first.
    pub versions: Vec<Version>,
}
