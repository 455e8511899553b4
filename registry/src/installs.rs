//! Installs: which version of which package a tenant runs, under what id,
//! with what settings, and what its director has accepted.
//!
//! An install pins an exact version (`=1.2.0`) or follows a semver range
//! (`^1.2`). Approving a version rolls it out to installs whose range it
//! matches, unless it asks for permissions the tenant has not accepted: then
//! it waits as `pending` until the director accepts. Every version an
//! install ran is remembered, and rollback may go to any of them that is
//! still approved; rolling back pins.

use std::collections::BTreeSet;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::accounts::{Principal, Role};
use crate::audit::Change;
use crate::tenants::valid_slug;
use crate::versions::{PackageVersion, Rollout, VersionState};
use crate::{Permission, RegistryError, now_ms};

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
    /// A newer version waiting for the director to accept its permissions.
    pub pending: Option<Version>,
    /// Permissions the director accepted.
    pub accepted: BTreeSet<Permission>,
    /// Whether calls are served.
    pub enabled: bool,
    /// Whether events it emits are stored.
    pub tracking: bool,
    /// The tenant's settings, a JSON object.
    pub settings: serde_json::Value,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
    /// Every version it ran, oldest first.
    pub history: Vec<Version>,
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
    /// `upgraded`, or `awaiting-acceptance` when new permissions need the
    /// director's acceptance.
    pub status: &'static str,
    /// Permissions the target adds over what was accepted.
    pub permissions_added: Vec<Permission>,
    /// The install afterwards.
    pub install: Install,
}

const INSTALL_COLUMNS: &str = "tenant, id, package, requirement, version, pending, accepted, enabled, tracking, settings, updated_at";

fn corrupt(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt(format!("stored {what}: {e}"))
}

fn install_from_row(row: &sqlx::any::AnyRow) -> Result<Install, RegistryError> {
    let version: String = row.try_get("version")?;
    let pending: Option<String> = row.try_get("pending")?;
    let accepted: String = row.try_get("accepted")?;
    let settings: String = row.try_get("settings")?;
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
        updated_at: row.try_get("updated_at")?,
        history: Vec::new(),
    })
}

fn parse_req(field: &'static str, s: &str) -> Result<VersionReq, RegistryError> {
    VersionReq::parse(s.trim())
        .map_err(|e| RegistryError::invalid(field, format!("`{s}` is not a semver range: {e}")))
}

fn settings_object(
    settings: Option<serde_json::Value>,
) -> Result<serde_json::Value, RegistryError> {
    match settings {
        None => Ok(serde_json::json!({})),
        Some(v @ serde_json::Value::Object(_)) => Ok(v),
        Some(_) => Err(RegistryError::invalid("settings", "must be a JSON object")),
    }
}

const MANAGE: &[Role] = &[Role::Operator, Role::Director];

impl crate::Registry {
    async fn load_install(
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
        Ok(install)
    }

    async fn history(
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

    async fn save_install(
        change: &mut Change,
        before: Option<&Install>,
        after: &Install,
        action: &str,
    ) -> Result<(), RegistryError> {
        let accepted =
            serde_json::to_string(&after.accepted).map_err(|e| corrupt("permissions", e))?;
        let settings = after.settings.to_string();
        if before.is_some() {
            sqlx::query(
                "UPDATE installs SET requirement = $1, version = $2, pending = $3, accepted = $4, \
                 enabled = $5, tracking = $6, settings = $7, updated_at = $8 WHERE tenant = $9 AND id = $10",
            )
            .bind(&after.requirement)
            .bind(after.version.to_string())
            .bind(after.pending.as_ref().map(ToString::to_string))
            .bind(accepted)
            .bind(i64::from(after.enabled))
            .bind(i64::from(after.tracking))
            .bind(settings)
            .bind(after.updated_at)
            .bind(&after.tenant)
            .bind(&after.id)
            .execute(change.conn())
            .await?;
        } else {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO installs ({INSTALL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
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
                "pending": i.pending, "accepted": i.accepted, "enabled": i.enabled,
                "tracking": i.tracking, "settings": i.settings,
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
    async fn newest_matching(
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

    async fn resolve_new(
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

    /// The version [`Self::install`] would install, so the host can have the
    /// component validate the settings first. Nothing is stored.
    pub async fn plan_install(
        &self,
        actor: &Principal,
        tenant: &str,
        new: &NewInstall,
    ) -> Result<PackageVersion, RegistryError> {
        actor.require_tenant(tenant, MANAGE, "enable components")?;
        let mut conn = self.db.pool().acquire().await?;
        self.tenant_exists(&mut conn, tenant).await?;
        Ok(Self::resolve_new(&mut conn, new).await?.1)
    }

    /// Enable `new.package` for `tenant` at `expected` (from
    /// [`Self::plan_install`]); the director accepts its permissions by
    /// installing it.
    pub async fn install(
        &self,
        actor: &Principal,
        tenant: &str,
        new: NewInstall,
        expected: &Version,
    ) -> Result<Install, RegistryError> {
        actor.require_tenant(tenant, MANAGE, "enable components")?;
        let id = match &new.id {
            Some(id) => id.clone(),
            None => new
                .package
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        };
        if !valid_slug(&id) {
            return Err(RegistryError::invalid(
                "id",
                format!("`{id}` must be 1-64 lowercase letters, digits and dashes"),
            ));
        }
        let settings = settings_object(new.settings.clone())?;
        let mut change = Change::begin(&self.db, actor).await?;
        self.tenant_exists(change.conn(), tenant).await?;
        if sqlx::query("SELECT 1 FROM installs WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(&id)
            .fetch_optional(change.conn())
            .await?
            .is_some()
        {
            return Err(RegistryError::conflict(
                "install-exists",
                format!("tenant `{tenant}` already has a component with id `{id}`"),
            ));
        }
        let (requirement, target) = Self::resolve_new(change.conn(), &new).await?;
        if target.version != *expected {
            return Err(RegistryError::conflict(
                "catalog-changed",
                format!(
                    "the catalog changed while enabling `{}`; try again",
                    new.package
                ),
            ));
        }
        let install = Install {
            tenant: tenant.to_owned(),
            id,
            package: new.package,
            requirement,
            version: target.version.clone(),
            pending: None,
            accepted: target.manifest.permissions.clone(),
            enabled: new.enabled.unwrap_or(true),
            tracking: true,
            settings,
            updated_at: now_ms(),
            history: Vec::new(),
        };
        Self::save_install(&mut change, None, &install, "install.create").await?;
        change.commit().await?;
        Ok(Install {
            history: vec![install.version.clone()],
            ..install
        })
    }

    /// A tenant's installs (operators, its director; its reps see the
    /// enabled ones through the component list).
    pub async fn installs(
        &self,
        actor: &Principal,
        tenant: &str,
    ) -> Result<Vec<Install>, RegistryError> {
        actor.require_tenant(
            tenant,
            &[Role::Operator, Role::Director, Role::Rep],
            "list components",
        )?;
        let mut conn = self.db.pool().acquire().await?;
        self.tenant_exists(&mut conn, tenant).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INSTALL_COLUMNS} FROM installs WHERE tenant = $1 ORDER BY id"
        )))
        .bind(tenant)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let mut install = install_from_row(row)?;
            if actor.role == Role::Rep && !install.enabled {
                continue;
            }
            install.history = Self::history(&mut conn, tenant, &install.id).await?;
            out.push(install);
        }
        Ok(out)
    }

    /// One install, for the caller.
    pub async fn install_of(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<Install, RegistryError> {
        actor.require_tenant(
            tenant,
            &[Role::Operator, Role::Director, Role::Rep],
            "read components",
        )?;
        self.installed(tenant, id).await
    }

    /// One install, without a caller check: for the host resolving a call
    /// it has already authorised.
    pub async fn installed(&self, tenant: &str, id: &str) -> Result<Install, RegistryError> {
        let mut conn = self.db.pool().acquire().await?;
        self.tenant_exists(&mut conn, tenant).await?;
        Self::load_install(&mut conn, tenant, id).await
    }

    /// Turn calls or event tracking on or off, or change settings (already
    /// validated by the component).
    pub async fn update_install(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        update: InstallUpdate,
    ) -> Result<Install, RegistryError> {
        actor.require_tenant(tenant, MANAGE, "change components")?;
        let settings = update
            .settings
            .map(|s| settings_object(Some(s)))
            .transpose()?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        let after = Install {
            enabled: update.enabled.unwrap_or(before.enabled),
            tracking: update.tracking.unwrap_or(before.tracking),
            settings: settings.unwrap_or_else(|| before.settings.clone()),
            updated_at: now_ms(),
            ..before.clone()
        };
        let action = match (before.enabled, after.enabled) {
            (true, false) => "install.disable",
            (false, true) => "install.enable",
            _ => "install.update",
        };
        Self::save_install(&mut change, Some(&before), &after, action).await?;
        change.commit().await?;
        Ok(after)
    }

    /// The version an upgrade would move to. Nothing is stored.
    pub async fn plan_upgrade(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        request: &UpgradeRequest,
    ) -> Result<PackageVersion, RegistryError> {
        actor.require_tenant(tenant, MANAGE, "upgrade components")?;
        let mut conn = self.db.pool().acquire().await?;
        let install = Self::load_install(&mut conn, tenant, id).await?;
        Self::upgrade_target(&mut conn, &install, request)
            .await
            .map(|(_, v)| v)
    }

    async fn upgrade_target(
        conn: &mut AnyConnection,
        install: &Install,
        request: &UpgradeRequest,
    ) -> Result<(String, PackageVersion), RegistryError> {
        let new = NewInstall {
            package: install.package.clone(),
            version: request.version.clone(),
            follow: request.follow.clone().or_else(|| {
                request
                    .version
                    .is_none()
                    .then(|| install.requirement.clone())
            }),
            ..NewInstall::default()
        };
        let (requirement, target) = Self::resolve_new(conn, &new).await?;
        if request.version.is_none() && target.version <= install.version {
            return Err(RegistryError::conflict(
                "up-to-date",
                format!(
                    "{}/{} runs {} and nothing newer matches `{requirement}`",
                    install.tenant, install.id, install.version
                ),
            ));
        }
        Ok((requirement, target))
    }

    /// Move an install to a newer version (the one from
    /// [`Self::plan_upgrade`]). If it asks for permissions the director has
    /// not accepted, it is only recorded as pending.
    pub async fn upgrade(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        request: UpgradeRequest,
        expected: &Version,
    ) -> Result<UpgradeOutcome, RegistryError> {
        actor.require_tenant(tenant, MANAGE, "upgrade components")?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        let (requirement, target) = Self::upgrade_target(change.conn(), &before, &request).await?;
        if target.version != *expected {
            return Err(RegistryError::conflict(
                "catalog-changed",
                format!("the catalog changed while upgrading `{id}`; try again"),
            ));
        }
        let outcome = Self::move_to(&mut change, &before, requirement, &target, false).await?;
        change.commit().await?;
        Ok(outcome)
    }

    /// Switch `before` to `target`, or park it as pending when it needs
    /// permissions not yet accepted (unless `accepting`).
    async fn move_to(
        change: &mut Change,
        before: &Install,
        requirement: String,
        target: &PackageVersion,
        accepting: bool,
    ) -> Result<UpgradeOutcome, RegistryError> {
        let added: Vec<Permission> = target
            .manifest
            .permissions
            .difference(&before.accepted)
            .copied()
            .collect();
        let mut after = Install {
            requirement,
            updated_at: now_ms(),
            ..before.clone()
        };
        let status = if added.is_empty() || accepting {
            after
                .accepted
                .extend(target.manifest.permissions.iter().copied());
            after.version = target.version.clone();
            after.pending = None;
            "upgraded"
        } else {
            after.pending = Some(target.version.clone());
            "awaiting-acceptance"
        };
        let action = if status == "upgraded" {
            if accepting {
                "install.accept"
            } else {
                "install.upgrade"
            }
        } else {
            "install.pending"
        };
        Self::save_install(change, Some(before), &after, action).await?;
        if status == "upgraded" && !after.history.contains(&after.version) {
            after.history.push(after.version.clone());
        }
        Ok(UpgradeOutcome {
            status,
            permissions_added: added,
            install: after,
        })
    }

    /// The director accepts the permissions of the pending version `version`,
    /// and the install moves to it.
    pub async fn accept(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        version: &Version,
    ) -> Result<UpgradeOutcome, RegistryError> {
        actor.require_tenant(tenant, &[Role::Director], "accept new permissions")?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        if before.pending.as_ref() != Some(version) {
            return Err(RegistryError::conflict(
                "nothing-pending",
                match &before.pending {
                    Some(p) => format!("{tenant}/{id} is waiting on {p}, not {version}"),
                    None => format!("{tenant}/{id} has no version waiting for acceptance"),
                },
            ));
        }
        let target = Self::version_in(change.conn(), &before.package, version).await?;
        if target.state != VersionState::Approved {
            return Err(RegistryError::conflict(
                "not-approved",
                format!("{}@{version} is no longer approved", before.package),
            ));
        }
        let requirement = before.requirement.clone();
        let outcome = Self::move_to(&mut change, &before, requirement, &target, true).await?;
        change.commit().await?;
        Ok(outcome)
    }

    /// Go back to a version this install ran before (still approved), and
    /// pin it there.
    pub async fn rollback(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        version: &Version,
    ) -> Result<Install, RegistryError> {
        actor.require_tenant(tenant, MANAGE, "roll back components")?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        if !before.history.contains(version) {
            return Err(RegistryError::conflict(
                "never-ran",
                format!(
                    "{tenant}/{id} never ran {version} (it ran {}); roll back only to a version it ran",
                    before
                        .history
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if *version == before.version {
            return Err(RegistryError::conflict(
                "up-to-date",
                format!("{tenant}/{id} already runs {version}"),
            ));
        }
        let target = Self::version_in(change.conn(), &before.package, version).await?;
        if target.state != VersionState::Approved {
            return Err(RegistryError::conflict(
                "not-approved",
                format!(
                    "{}@{version} is {} and can no longer be run",
                    before.package,
                    target.state.as_str()
                ),
            ));
        }
        let after = Install {
            requirement: format!("={version}"),
            version: version.clone(),
            pending: None,
            updated_at: now_ms(),
            ..before.clone()
        };
        Self::save_install(&mut change, Some(&before), &after, "install.rollback").await?;
        change.commit().await?;
        Ok(after)
    }

    /// Remove an install (its stored data is kept).
    pub async fn uninstall(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<(), RegistryError> {
        actor.require_tenant(tenant, MANAGE, "remove components")?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        for table in ["installs", "install_history"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant = $1 AND id = $2"
            )))
            .bind(tenant)
            .bind(id)
            .execute(change.conn())
            .await?;
        }
        change
            .record(
                "install.remove",
                &format!("{tenant}/{id}"),
                Some(tenant),
                &serde_json::json!({"package": before.package, "version": before.version}),
                &serde_json::Value::Null,
            )
            .await?;
        change.commit().await
    }

    /// Roll a freshly approved version out to installs following a range it
    /// matches (inside the approval's change).
    pub(crate) async fn roll_out(
        &self,
        change: &mut Change,
        approved: &PackageVersion,
    ) -> Result<Rollout, RegistryError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INSTALL_COLUMNS} FROM installs WHERE package = $1 ORDER BY tenant, id"
        )))
        .bind(&approved.name)
        .fetch_all(change.conn())
        .await?;
        let installs = rows
            .iter()
            .map(install_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let mut rollout = Rollout::default();
        for mut install in installs {
            let Ok(req) = VersionReq::parse(&install.requirement) else {
                continue;
            };
            if install.pinned()
                || !req.matches(&approved.version)
                || approved.version <= install.version
            {
                continue;
            }
            install.history = Self::history(change.conn(), &install.tenant, &install.id).await?;
            let requirement = install.requirement.clone();
            let outcome = Self::move_to(change, &install, requirement, approved, false).await?;
            let who = format!("{}/{}", install.tenant, install.id);
            if outcome.status == "upgraded" {
                rollout.upgraded.push(who);
            } else {
                rollout.awaiting_acceptance.push(who);
            }
        }
        Ok(rollout)
    }
}
