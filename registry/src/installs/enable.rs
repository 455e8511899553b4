//! Enabling a package for a tenant, changing an install's switches and
//! settings, reading installs, and removing one.

use semver::Version;

use super::record::{
    INSTALL_COLUMNS, Install, InstallUpdate, NewInstall, install_from_row, settings_object,
};
use crate::access::{Action, On};
use crate::audit::Change;
use crate::principal::{Principal, Role};
use crate::tenants::valid_slug;
use crate::versions::PackageVersion;
use crate::{RegistryError, now_ms};

impl crate::Registry {
    /// The version [`Self::install`] would install, so the host can have the
    /// component validate the settings first. Nothing is stored.
    pub async fn plan_install(
        &self,
        actor: &Principal,
        tenant: &str,
        new: &NewInstall,
    ) -> Result<PackageVersion, RegistryError> {
        actor.may(Action::Enable, On::Tenant(tenant))?;
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
        actor.may(Action::Enable, On::Tenant(tenant))?;
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
            pending_reason: None,
            accepted: target.manifest.permissions.clone(),
            enabled: new.enabled.unwrap_or(true),
            tracking: true,
            settings,
            guards: Vec::new(),
            updated_at: now_ms(),
            history: Vec::new(),
            canary: None,
            recording: None,
        };
        Self::save_install(&mut change, None, &install, "install.create").await?;
        change.commit().await?;
        Ok(Install {
            history: vec![install.version.clone()],
            ..install
        })
    }

    /// A tenant's installs with their settings (operators, its director).
    pub async fn installs(
        &self,
        actor: &Principal,
        tenant: &str,
    ) -> Result<Vec<Install>, RegistryError> {
        actor.may(Action::ListInstalls, On::Tenant(tenant))?;
        self.installs_of(tenant, false).await
    }

    /// The components a caller may call or see: a rep, the enabled ones.
    pub async fn components(
        &self,
        actor: &Principal,
        tenant: &str,
    ) -> Result<Vec<Install>, RegistryError> {
        actor.may(Action::ListComponents, On::Tenant(tenant))?;
        self.installs_of(tenant, actor.role == Role::Rep).await
    }

    async fn installs_of(
        &self,
        tenant: &str,
        enabled_only: bool,
    ) -> Result<Vec<Install>, RegistryError> {
        let mut conn = self.db.pool().acquire().await?;
        self.tenant_exists(&mut conn, tenant).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INSTALL_COLUMNS} FROM installs WHERE tenant = $1 ORDER BY id"
        )))
        .bind(tenant)
        .fetch_all(&mut *conn)
        .await?;
        // Every install's history in one query, not one per install.
        let mut histories = Self::tenant_history(&mut conn, tenant).await?;
        let mut out = Vec::new();
        for row in &rows {
            let mut install = install_from_row(row)?;
            if enabled_only && !install.enabled {
                continue;
            }
            install.history = histories.remove(&install.id).unwrap_or_default();
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
        actor.may(Action::ReadInstall, On::Tenant(tenant))?;
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
        actor.may(Action::ChangeInstall, On::Tenant(tenant))?;
        let settings = update
            .settings
            .map(|s| settings_object(Some(s)))
            .transpose()?;
        if let Some(guards) = &update.guards {
            crate::guards::check(guards)?;
        }
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        let after = Install {
            enabled: update.enabled.unwrap_or(before.enabled),
            tracking: update.tracking.unwrap_or(before.tracking),
            settings: settings.unwrap_or_else(|| before.settings.clone()),
            guards: update.guards.unwrap_or_else(|| before.guards.clone()),
            updated_at: now_ms(),
            ..before.clone()
        };
        let action = match (before.enabled, after.enabled) {
            (true, false) => "install.disable",
            (false, true) => "install.enable",
            _ if before.guards != after.guards => "install.guards",
            _ => "install.update",
        };
        Self::save_install(&mut change, Some(&before), &after, action).await?;
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
        actor.may(Action::RemoveInstall, On::Tenant(tenant))?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, id).await?;
        Self::end_canary_of_removed(&mut change, &before, actor).await?;
        Self::delete_recorded(&mut change, tenant, id).await?;
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
}
