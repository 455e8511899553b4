//! A stored package version and the reads of versions: one version with
//! what it changes, a filtered list, and who may see which.

use semver::Version;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use super::changes::Changes;
use crate::access::{Action, On};
use crate::principal::{Principal, Role};
use crate::{Manifest, RegistryError};

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
    /// The state's name (`submitted`, `approved`, `rejected`, `yanked`).
    pub fn as_str(self) -> &'static str {
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

pub(super) const VERSION_COLUMNS: &str = "name, version, kind, state, manifest, manifest_digest, code_digest, \
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

/// Parse a version a caller names. Versions are identified by precedence,
/// so build metadata (`0.1.0+evil`), which precedence ignores, is refused
/// wherever a version enters: see [`Manifest::validate`](crate::Manifest::validate).
pub fn parse_version(field: &'static str, s: &str) -> Result<Version, RegistryError> {
    let version: Version = s.trim().parse().map_err(|e| {
        RegistryError::invalid(field, format!("`{s}` is not a semantic version: {e}"))
    })?;
    no_build_metadata(&version).map_err(|message| RegistryError::invalid(field, message))?;
    Ok(version)
}

/// The one rule for build metadata: two versions that differ only in it
/// have equal precedence, so they would be one version twice.
pub fn no_build_metadata(version: &Version) -> Result<(), String> {
    if version.build.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{version}` carries build metadata (`+{}`); versions are told apart by precedence, which ignores it, so it is not accepted",
            version.build
        ))
    }
}

impl crate::Registry {
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
        actor.may(Action::ReadVersion, On::Platform)?;
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
        actor.may(Action::ListVersions, On::Platform)?;
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
}
