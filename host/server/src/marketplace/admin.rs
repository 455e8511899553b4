//! The platform's records that are not packages or installs: tenants,
//! accounts and tokens, publishers and their keys, customer profiles. Each
//! change is the registry's, followed by dropping this host's caches (a
//! revoked token or key must stop working at the next call).

use mercato_registry::{
    Account, CustomerProfile, IssuedToken, NewAccount, NewKey, NewTenant, Principal, PublisherKey,
    RegistryError, Tenant,
};

use super::{MarketError, Marketplace};

impl Marketplace {
    /// Apply one registry change, then forget what this host cached.
    pub(super) async fn changed<T>(
        &self,
        change: impl Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, MarketError> {
        let done = change.await?;
        self.forget();
        Ok(done)
    }

    /// Create a tenant.
    pub async fn create_tenant(
        &self,
        actor: &Principal,
        new: NewTenant,
    ) -> Result<Tenant, MarketError> {
        self.changed(self.registry.create_tenant(actor, new)).await
    }

    /// Lower (or restore) the limits every call of a tenant runs under.
    pub async fn set_tenant_limits(
        &self,
        actor: &Principal,
        tenant: &str,
        limits: mercato_registry::RequestedLimits,
    ) -> Result<mercato_registry::RequestedLimits, MarketError> {
        self.changed(self.registry.set_tenant_limits(actor, tenant, limits))
            .await
    }

    /// Create an account and its first token.
    pub async fn create_account(
        &self,
        actor: &Principal,
        new: NewAccount,
    ) -> Result<(Account, IssuedToken), MarketError> {
        self.changed(self.registry.create_account(actor, new)).await
    }

    /// Issue another token for account `name`.
    pub async fn issue_token(
        &self,
        actor: &Principal,
        name: &str,
        label: &str,
    ) -> Result<IssuedToken, MarketError> {
        self.changed(self.registry.issue_token(actor, name, label))
            .await
    }

    /// Revoke a token.
    pub async fn revoke_token(&self, actor: &Principal, id: &str) -> Result<(), MarketError> {
        self.changed(self.registry.revoke_token(actor, id)).await
    }

    /// Create a publisher.
    pub async fn create_publisher(&self, actor: &Principal, name: &str) -> Result<(), MarketError> {
        self.changed(self.registry.create_publisher(actor, name))
            .await
    }

    /// Register a publisher's signing key.
    pub async fn register_key(
        &self,
        actor: &Principal,
        publisher: &str,
        new: NewKey,
    ) -> Result<PublisherKey, MarketError> {
        self.changed(self.registry.register_key(actor, publisher, new))
            .await
    }

    /// Register a new key and retire `old_key_id`.
    pub async fn rotate_key(
        &self,
        actor: &Principal,
        publisher: &str,
        old_key_id: &str,
        new: NewKey,
    ) -> Result<PublisherKey, MarketError> {
        self.changed(self.registry.rotate_key(actor, publisher, old_key_id, new))
            .await
    }

    /// Revoke a key: nothing it signed loads any more.
    pub async fn revoke_key(
        &self,
        actor: &Principal,
        publisher: &str,
        key_id: &str,
    ) -> Result<PublisherKey, MarketError> {
        self.changed(self.registry.revoke_key(actor, publisher, key_id))
            .await
    }

    /// Import customer profiles, all or nothing.
    pub async fn import_customers(
        &self,
        actor: &Principal,
        tenant: &str,
        profiles: Vec<CustomerProfile>,
    ) -> Result<usize, MarketError> {
        self.changed(self.registry.import_customers(actor, tenant, profiles))
            .await
    }
}

/// Console sessions.
impl Marketplace {
    /// Sign in with a bearer token: the new session's cookie value and the
    /// session.
    pub async fn sign_in(
        &self,
        token: &str,
    ) -> Result<(String, mercato_registry::sessions::Session), MarketError> {
        Ok(self.registry.open_session(token.trim()).await?)
    }

    /// Sign in with a one-time link's code.
    pub async fn sign_in_with_link(
        &self,
        code: &str,
    ) -> Result<(String, mercato_registry::sessions::Session), MarketError> {
        Ok(self.registry.redeem_sign_in_link(code.trim()).await?)
    }

    /// The live session behind a cookie value.
    pub async fn session(
        &self,
        cookie: &str,
    ) -> Result<mercato_registry::sessions::Session, MarketError> {
        Ok(self.registry.session(cookie).await?)
    }

    /// End the session behind a cookie value.
    pub async fn sign_out(&self, cookie: &str) -> Result<(), MarketError> {
        Ok(self.registry.close_session(cookie).await?)
    }
}
