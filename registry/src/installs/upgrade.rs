//! Moving an install between versions: upgrade (exact or by range),
//! accepting a pending version's permissions, and rollback to a version it
//! ran before.

use semver::Version;
use sqlx::AnyConnection;

use super::record::{Install, NewInstall, UpgradeOutcome, UpgradeRequest};
use crate::access::{Action, On};
use crate::audit::Change;
use crate::principal::Principal;
use crate::versions::{PackageVersion, VersionState};
use crate::{Permission, RegistryError, now_ms};

impl crate::Registry {
    /// The version an upgrade would move to. Nothing is stored.
    pub async fn plan_upgrade(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        request: &UpgradeRequest,
    ) -> Result<PackageVersion, RegistryError> {
        actor.may(Action::Upgrade, On::Tenant(tenant))?;
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
        actor.may(Action::Upgrade, On::Tenant(tenant))?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        Self::no_canary(&before)?;
        let (requirement, target) = Self::upgrade_target(change.conn(), &before, &request).await?;
        if target.version != *expected {
            return Err(RegistryError::conflict(
                "catalog-changed",
                format!("the catalog changed while upgrading `{id}`; try again"),
            ));
        }
        let outcome =
            Self::move_to(&mut change, &before, requirement, &target, false, None).await?;
        change.commit().await?;
        Ok(outcome)
    }

    /// Switch `before` to `target`, or park it as pending when it needs
    /// permissions not yet accepted (unless `accepting`).
    pub(super) async fn move_to(
        change: &mut Change,
        before: &Install,
        requirement: String,
        target: &PackageVersion,
        accepting: bool,
        settings_refused: Option<String>,
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
        let status = if let Some(reason) = settings_refused {
            after.pending = Some(target.version.clone());
            after.pending_reason = Some(format!(
                "{} refused the install's settings: {reason}",
                target.version
            ));
            "settings-refused"
        } else if added.is_empty() || accepting {
            after
                .accepted
                .extend(target.manifest.permissions.iter().copied());
            after.version = target.version.clone();
            after.pending = None;
            after.pending_reason = None;
            "upgraded"
        } else {
            after.pending = Some(target.version.clone());
            after.pending_reason = Some(format!(
                "{} asks for new permissions: {}",
                target.version,
                added
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            "awaiting-acceptance"
        };
        let action = match status {
            "upgraded" if accepting => "install.accept",
            "upgraded" => "install.upgrade",
            _ => "install.pending",
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
        actor.may(Action::AcceptPermissions, On::Tenant(tenant))?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        Self::no_canary(&before)?;
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
        let outcome = Self::move_to(&mut change, &before, requirement, &target, true, None).await?;
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
        actor.may(Action::Rollback, On::Tenant(tenant))?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        Self::no_canary(&before)?;
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
            pending_reason: None,
            updated_at: now_ms(),
            ..before.clone()
        };
        Self::save_install(&mut change, Some(&before), &after, "install.rollback").await?;
        change.commit().await?;
        Ok(after)
    }
}
