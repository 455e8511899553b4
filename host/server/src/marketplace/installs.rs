//! A tenant's installs: enable, change, upgrade, accept, roll back,
//! remove. Every version an install moves to first validates the install's
//! settings with its own component.

use mercato_registry::access::{Action, On};
use std::sync::Arc;

use mercato_registry::{
    Install, InstallUpdate, NewInstall, Principal, UpgradeOutcome, UpgradeRequest,
};
use mercato_runtime::{LoadedComponent, Scope};
use semver::Version;
use serde_json::Value;

use super::{MarketError, Marketplace, blocking_failed};

impl Marketplace {
    /// Have version `version` of `package` validate `settings` for an install.
    async fn validate_for(
        &self,
        package: &str,
        version: &Version,
        tenant: &str,
        id: &str,
        settings: &Value,
    ) -> Result<(), MarketError> {
        let component = self.component(package, version).await?;
        self.validate_settings(component, tenant, id, settings)
            .await
    }

    /// What `component` says a new install's settings are.
    async fn default_settings(
        &self,
        component: Arc<LoadedComponent>,
    ) -> Result<Value, MarketError> {
        let runtime = self.runtime.clone();
        Ok(
            tokio::task::spawn_blocking(move || runtime.default_settings(&component))
                .await
                .map_err(blocking_failed)??,
        )
    }

    /// Have `component` validate `settings` for `tenant`'s install `id`.
    pub(super) async fn validate_settings(
        &self,
        component: Arc<LoadedComponent>,
        tenant: &str,
        id: &str,
        settings: &Value,
    ) -> Result<(), MarketError> {
        let runtime = self.runtime.clone();
        let scope = Scope::new(tenant, id);
        let settings = settings.clone();
        tokio::task::spawn_blocking(move || runtime.validate_settings(&component, scope, &settings))
            .await
            .map_err(blocking_failed)??
            .map_err(MarketError::Settings)
    }

    /// Enable a package for a tenant, its settings validated by the component.
    /// An install without settings starts from the component's own
    /// `default-settings`.
    pub async fn install(
        &self,
        actor: &Principal,
        tenant: &str,
        mut new: NewInstall,
    ) -> Result<Install, MarketError> {
        let target = self.registry.plan_install(actor, tenant, &new).await?;
        let id = new.id.clone().unwrap_or_else(|| {
            new.package
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let component = self.component(&target.name, &target.version).await?;
        let settings = match new.settings.clone() {
            Some(settings) => settings,
            None => self.default_settings(component.clone()).await?,
        };
        self.validate_settings(component, tenant, &id, &settings)
            .await?;
        new.settings = Some(settings);
        let install = self
            .registry
            .install(actor, tenant, new, &target.version)
            .await?;
        self.forget();
        if install.enabled {
            self.deliver_decisions(tenant, &install.id).await;
        }
        Ok(install)
    }

    /// Enable, disable, switch tracking or change settings.
    pub async fn update(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        update: InstallUpdate,
    ) -> Result<Install, MarketError> {
        if let Some(settings) = &update.settings {
            actor.may(Action::ChangeInstall, On::Tenant(tenant))?;
            let install = self.registry.install_of(actor, tenant, id).await?;
            self.validate_for(&install.package, &install.version, tenant, id, settings)
                .await?;
        }
        if let Some(guards) = &update.guards {
            actor.may(Action::ChangeInstall, On::Tenant(tenant))?;
            let install = self.registry.install_of(actor, tenant, id).await?;
            let component = self.component(&install.package, &install.version).await?;
            super::guarding::check(&component, guards)?;
        }
        let install = self
            .registry
            .update_install(actor, tenant, id, update)
            .await?;
        self.forget();
        if install.enabled {
            self.deliver_decisions(tenant, id).await;
        }
        Ok(install)
    }

    /// Move to a newer version (or park it until the director accepts).
    pub async fn upgrade(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        request: UpgradeRequest,
    ) -> Result<UpgradeOutcome, MarketError> {
        let target = self
            .registry
            .plan_upgrade(actor, tenant, id, &request)
            .await?;
        let install = self.registry.installed(tenant, id).await?;
        self.validate_for(&target.name, &target.version, tenant, id, &install.settings)
            .await?;
        let outcome = self
            .registry
            .upgrade(actor, tenant, id, request, &target.version)
            .await?;
        self.forget();
        Ok(outcome)
    }

    /// Accept a pending version's permissions and move to it.
    pub async fn accept(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        version: &Version,
    ) -> Result<UpgradeOutcome, MarketError> {
        actor.may(Action::AcceptPermissions, On::Tenant(tenant))?;
        let install = self.registry.install_of(actor, tenant, id).await?;
        if install.pending.as_ref() == Some(version) {
            self.validate_for(&install.package, version, tenant, id, &install.settings)
                .await?;
        }
        let outcome = self.registry.accept(actor, tenant, id, version).await?;
        self.forget();
        Ok(outcome)
    }

    /// Roll back to a version the install ran before.
    pub async fn rollback(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        version: &Version,
    ) -> Result<Install, MarketError> {
        actor.may(Action::Rollback, On::Tenant(tenant))?;
        let install = self.registry.install_of(actor, tenant, id).await?;
        if install.history.contains(version) {
            self.validate_for(&install.package, version, tenant, id, &install.settings)
                .await?;
        }
        let install = self.registry.rollback(actor, tenant, id, version).await?;
        self.forget();
        Ok(install)
    }

    /// Remove an install.
    pub async fn uninstall(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<(), MarketError> {
        self.registry.uninstall(actor, tenant, id).await?;
        self.forget();
        Ok(())
    }
}
