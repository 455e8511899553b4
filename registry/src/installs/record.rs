//! The install records: their types, rows and storage (load, save with its
//! audit entry, history), and resolving a requirement to a version.

use std::collections::BTreeSet;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::audit::Change;
use crate::versions::{PackageVersion, VersionState};
use crate::{Permission, RegistryError};

/// A tenant's installation of a package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Install {
    /// The tenant.
    pub tenant: String,
    /// The id it is called by (`/v1/tenants/{tenant}/components/{id}`).
    pub id: String,
    /// `publisher/name`.
    pub package: String,
    /// The version requirement: `=1.2.0` when pinned, a range when following.
    pub requirement: String,
    /// The version running.
    pub version: Version,
    /// A newer version waiting for the director to accept it.
    pub pending: Option<Version>,
    /// Why it waits: the permissions it adds, or the settings its component
    /// refused.
    pub pending_reason: Option<String>,
    /// Permissions the director accepted.
    pub accepted: BTreeSet<Permission>,
    /// Whether calls are served.
    pub enabled: bool,
    /// Whether events it emits are stored.
    pub tracking: bool,
    /// The tenant's settings, a JSON object.
    pub settings: serde_json::Value,
    /// Functions that need a person before they run (see [`crate::guards`]).
    pub guards: Vec<crate::guards::Guard>,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
    /// Every version it ran, oldest first.
    pub history: Vec<Version>,
    /// The canary running on it (see [`crate::canaries`]).
    pub canary: Option<crate::canaries::Canary>,
    /// Its call recording while on (see [`crate::recordings`]).
    pub recording: Option<crate::recordings::Recording>,
}

impl Install {
    /// True when pinned to one version.
    pub fn pinned(&self) -> bool {
        self.requirement.starts_with('=')
    }
}

/// Enabling a package for a tenant.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInstall {
    /// `publisher/name`.
    pub package: String,
    /// The id to call it by; the part of the name after `/` when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Pin this exact version.
    #[serde(default)]
    pub version: Option<String>,
    /// Follow this semver range (`^1.2`, `~1.2.3`, `*`). With neither
    /// `version` nor `follow`, follows `^` of the newest version.
    #[serde(default)]
    pub follow: Option<String>,
    /// Settings (a JSON object), validated by the component.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// Serve calls right away (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Changing an install in place.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallUpdate {
    /// Serve calls or not.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Store emitted events or not.
    #[serde(default)]
    pub tracking: Option<bool>,
    /// New settings (validated by the component first).
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// The whole new list of guarded functions (`[]` clears it): each
    /// `{"function", "when"?}`, see [`crate::guards`].
    #[serde(default)]
    pub guards: Option<Vec<crate::guards::Guard>>,
}

/// Moving an install to a newer version.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// This exact version (and pin it).
    #[serde(default)]
    pub version: Option<String>,
    /// Follow this range from now on and move to its newest version.
    #[serde(default)]
    pub follow: Option<String>,
}

/// What an upgrade did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpgradeOutcome {
    /// `upgraded`; `awaiting-acceptance` when new permissions need the
    /// director's acceptance; `settings-refused` when the version's component
    /// refused the install's settings on roll-out.
    pub status: &'static str,
    /// Permissions the target adds over what was accepted.
    pub permissions_added: Vec<Permission>,
    /// The install afterwards.
    pub install: Install,
}

pub(super) const INSTALL_COLUMNS: &str = "tenant, id, package, requirement, version, pending, accepted, enabled, tracking, settings, updated_at, pending_reason, guards, recording";

pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt(format!("stored {what}: {e}"))
}

pub(super) fn install_from_row(row: &sqlx::any::AnyRow) -> Result<Install, RegistryError> {
    let version: String = row.try_get("version")?;
    let pending: Option<String> = row.try_get("pending")?;
    let accepted: String = row.try_get("accepted")?;
    let settings: String = row.try_get("settings")?;
    let guards: String = row.try_get("guards")?;
    Ok(Install {
        tenant: row.try_get("tenant")?,
        id: row.try_get("id")?,
        package: row.try_get("package")?,
        requirement: row.try_get("requirement")?,
        version: version.parse().map_err(|e| corrupt("version", e))?,
        pending: pending
            .map(|p| p.parse().map_err(|e| corrupt("version", e)))
            .transpose()?,
        accepted: serde_json::from_str(&accepted).map_err(|e| corrupt("permissions", e))?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        tracking: row.try_get::<i64, _>("tracking")? != 0,
        settings: serde_json::from_str(&settings).map_err(|e| corrupt("settings", e))?,
        guards: serde_json::from_str(&guards).map_err(|e| corrupt("guards", e))?,
        updated_at: row.try_get("updated_at")?,
        pending_reason: row.try_get("pending_reason")?,
        history: Vec::new(),
        canary: None,
        recording: crate::recordings::recording_from_column(row.try_get("recording")?)?,
    })
}

pub(super) fn parse_req(field: &'static str, s: &str) -> Result<VersionReq, RegistryError> {
    crate::bounds::REQUIREMENT.named(field).text(s)?;
    // semver parses `=1.0.0+x` and drops the `+x`: a pin that reads as one
    // build but matches every build of 1.0.0. Same rule as for versions.
    if s.contains('+') {
        return Err(RegistryError::invalid(
            field,
            format!(
                "`{s}` names build metadata; ranges match versions by precedence, which ignores it"
            ),
        ));
    }
    VersionReq::parse(s.trim())
        .map_err(|e| RegistryError::invalid(field, format!("`{s}` is not a semver range: {e}")))
}

pub(super) fn settings_object(
    settings: Option<serde_json::Value>,
) -> Result<serde_json::Value, RegistryError> {
    match settings {
        None => Ok(serde_json::json!({})),
        Some(v @ serde_json::Value::Object(_)) => {
            crate::bounds::SETTINGS.json(&v)?;
            Ok(v)
        }
        Some(_) => Err(RegistryError::invalid("settings", "must be a JSON object")),
    }
}

impl crate::Registry {
    pub(crate) async fn load_install(
        conn: &mut AnyConnection,
        tenant: &str,
        id: &str,
    ) -> Result<Install, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INSTALL_COLUMNS} FROM installs WHERE tenant = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| RegistryError::not_found("install", format!("{tenant}/{id}")))?;
        let mut install = install_from_row(&row)?;
        install.history = Self::history(conn, tenant, id).await?;
        install.canary = Self::running_canary(conn, tenant, id).await?;
        Ok(install)
    }

    pub(super) async fn history(
        conn: &mut AnyConnection,
        tenant: &str,
        id: &str,
    ) -> Result<Vec<Version>, RegistryError> {
        let rows = sqlx::query(
            "SELECT version FROM install_history WHERE tenant = $1 AND id = $2 ORDER BY since",
        )
        .bind(tenant)
        .bind(id)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                let v: String = r.try_get(0)?;
                v.parse().map_err(|e| corrupt("version", e))
            })
            .collect()
    }

    /// Every install's history in `tenant`, by install id.
    pub(super) async fn tenant_history(
        conn: &mut AnyConnection,
        tenant: &str,
    ) -> Result<std::collections::HashMap<String, Vec<Version>>, RegistryError> {
        let rows =
            sqlx::query("SELECT id, version FROM install_history WHERE tenant = $1 ORDER BY since")
                .bind(tenant)
                .fetch_all(conn)
                .await?;
        let mut out: std::collections::HashMap<String, Vec<Version>> = Default::default();
        for r in &rows {
            let v: String = r.try_get(1)?;
            out.entry(r.try_get(0)?)
                .or_default()
                .push(v.parse().map_err(|e| corrupt("version", e))?);
        }
        Ok(out)
    }

    pub(crate) async fn save_install(
        change: &mut Change,
        before: Option<&Install>,
        after: &Install,
        action: &str,
    ) -> Result<(), RegistryError> {
        let accepted =
            serde_json::to_string(&after.accepted).map_err(|e| corrupt("permissions", e))?;
        let settings = after.settings.to_string();
        let guards = serde_json::to_string(&after.guards).map_err(|e| corrupt("guards", e))?;
        if before.is_some() {
            sqlx::query(
                "UPDATE installs SET requirement = $1, version = $2, pending = $3, accepted = $4, \
                 enabled = $5, tracking = $6, settings = $7, updated_at = $8, pending_reason = $9, \
                 guards = $10 WHERE tenant = $11 AND id = $12",
            )
            .bind(&after.requirement)
            .bind(after.version.to_string())
            .bind(after.pending.as_ref().map(ToString::to_string))
            .bind(accepted)
            .bind(i64::from(after.enabled))
            .bind(i64::from(after.tracking))
            .bind(settings)
            .bind(after.updated_at)
            .bind(&after.pending_reason)
            .bind(&guards)
            .bind(&after.tenant)
            .bind(&after.id)
            .execute(change.conn())
            .await?;
        } else {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO installs ({INSTALL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL)"
            )))
            .bind(&after.tenant)
            .bind(&after.id)
            .bind(&after.package)
            .bind(&after.requirement)
            .bind(after.version.to_string())
            .bind(after.pending.as_ref().map(ToString::to_string))
            .bind(accepted)
            .bind(i64::from(after.enabled))
            .bind(i64::from(after.tracking))
            .bind(settings)
            .bind(after.updated_at)
            .bind(&after.pending_reason)
            .bind(&guards)
            .execute(change.conn())
            .await?;
        }
        if before.is_none_or(|b| b.version != after.version)
            && !after.history.contains(&after.version)
        {
            sqlx::query(
                "INSERT INTO install_history (tenant, id, version, since) VALUES ($1, $2, $3, $4)",
            )
            .bind(&after.tenant)
            .bind(&after.id)
            .bind(after.version.to_string())
            .bind(after.updated_at)
            .execute(change.conn())
            .await?;
        }
        let view = |i: &Install| {
            serde_json::json!({
                "package": i.package, "requirement": i.requirement, "version": i.version,
                "pending": i.pending, "pending_reason": i.pending_reason,
                "accepted": i.accepted, "enabled": i.enabled,
                "tracking": i.tracking, "settings": i.settings, "guards": i.guards,
            })
        };
        change
            .record(
                action,
                &format!("{}/{}", after.tenant, after.id),
                Some(&after.tenant),
                &before.map_or(serde_json::Value::Null, view),
                &view(after),
            )
            .await
    }

    /// The newest approved version of `package` matching `req`.
    pub(super) async fn newest_matching(
        conn: &mut AnyConnection,
        package: &str,
        req: &VersionReq,
    ) -> Result<Option<PackageVersion>, RegistryError> {
        Ok(Self::versions_of(conn, package)
            .await?
            .into_iter()
            .rev()
            .find(|v| v.state == VersionState::Approved && req.matches(&v.version)))
    }

    pub(super) async fn resolve_new(
        conn: &mut AnyConnection,
        new: &NewInstall,
    ) -> Result<(String, PackageVersion), RegistryError> {
        let (req, requirement) = match (&new.version, &new.follow) {
            (Some(_), Some(_)) => {
                return Err(RegistryError::invalid(
                    "version",
                    "give `version` (pin) or `follow` (range), not both",
                ));
            }
            (Some(v), None) => {
                let v = crate::versions::parse_version("version", v)?;
                let req = format!("={v}");
                (parse_req("version", &req)?, req)
            }
            (None, Some(r)) => (parse_req("follow", r)?, r.trim().to_owned()),
            (None, None) => {
                let newest = Self::newest_matching(conn, &new.package, &VersionReq::STAR)
                    .await?
                    .ok_or_else(|| RegistryError::not_found("package", &new.package))?;
                let req = format!("^{}", newest.version);
                return Ok((req, newest));
            }
        };
        let target = Self::newest_matching(conn, &new.package, &req)
            .await?
            .ok_or_else(|| {
                RegistryError::not_found(
                    "package version",
                    format!("{} {requirement}", new.package),
                )
            })?;
        Ok((requirement, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_naming_build_metadata_is_refused_not_silently_widened() {
        let err = parse_req("follow", "=0.1.0+evil").unwrap_err();
        assert!(
            matches!(&err, RegistryError::Invalid { field: "follow", message } if message.contains("build metadata")),
            "{err}"
        );
        assert!(parse_req("follow", "^0.1").is_ok());
    }
}
