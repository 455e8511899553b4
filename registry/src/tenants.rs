//! Tenants: the companies that install and call components.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::access::{Action, On};
use crate::audit::Change;
use crate::principal::Principal;
use crate::{Limits, RegistryError, RequestedLimits, now_ms};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// Id used in URLs: lowercase letters, digits, dashes.
    pub name: String,
    /// Display name.
    pub title: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// What a new tenant needs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Id used in URLs.
    pub name: String,
    /// Display name; the id when absent.
    #[serde(default)]
    pub title: Option<String>,
}

pub(crate) fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

impl crate::Registry {
    /// Create a tenant (operators).
    pub async fn create_tenant(
        &self,
        actor: &Principal,
        new: NewTenant,
    ) -> Result<Tenant, RegistryError> {
        actor.may(Action::CreateTenant, On::Platform)?;
        if !valid_slug(&new.name) {
            return Err(RegistryError::invalid(
                "name",
                format!(
                    "`{}` must be 1-64 lowercase letters, digits and dashes",
                    new.name
                ),
            ));
        }
        let title = crate::bounds::TENANT_TITLE.optional(new.title)?;
        let mut change = Change::begin(&self.db, actor).await?;
        if sqlx::query("SELECT 1 FROM tenants WHERE name = $1")
            .bind(&new.name)
            .fetch_optional(change.conn())
            .await?
            .is_some()
        {
            return Err(RegistryError::conflict(
                "tenant-exists",
                format!("tenant `{}` exists already", new.name),
            ));
        }
        let tenant = Tenant {
            title: title.unwrap_or_else(|| new.name.clone()),
            name: new.name,
            created_at: now_ms(),
        };
        sqlx::query("INSERT INTO tenants (name, title, created_at) VALUES ($1, $2, $3)")
            .bind(&tenant.name)
            .bind(&tenant.title)
            .bind(tenant.created_at)
            .execute(change.conn())
            .await?;
        change
            .record(
                "tenant.create",
                &tenant.name,
                Some(&tenant.name),
                &serde_json::Value::Null,
                &serde_json::to_value(&tenant).unwrap_or_default(),
            )
            .await?;
        change.commit().await?;
        Ok(tenant)
    }

    /// Every tenant (operators).
    pub async fn tenants(&self, actor: &Principal) -> Result<Vec<Tenant>, RegistryError> {
        actor.may(Action::ListTenants, On::Platform)?;
        let rows = sqlx::query("SELECT name, title, created_at FROM tenants ORDER BY name")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Tenant {
                    name: r.try_get(0)?,
                    title: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// One tenant (operators, and its own directors and reps).
    pub async fn tenant(&self, actor: &Principal, name: &str) -> Result<Tenant, RegistryError> {
        actor.may(Action::ReadTenant, On::Tenant(name))?;
        let r = sqlx::query("SELECT name, title, created_at FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::not_found("tenant", name))?;
        Ok(Tenant {
            name: r.try_get(0)?,
            title: r.try_get(1)?,
            created_at: r.try_get(2)?,
        })
    }

    /// The limits a tenant lowered (its directors, reps and operators).
    pub async fn tenant_limits(
        &self,
        actor: &Principal,
        tenant: &str,
    ) -> Result<RequestedLimits, RegistryError> {
        actor.may(Action::ReadTenantLimits, On::Tenant(tenant))?;
        self.limits_of(tenant).await
    }

    /// The caps every call of `tenant` runs under: the platform's, lowered
    /// where the tenant lowered them.
    pub async fn tenant_caps(&self, tenant: &str) -> Result<Limits, RegistryError> {
        Ok(self.limits_of(tenant).await?.or(Limits::PLATFORM_CAPS))
    }

    async fn limits_of(&self, tenant: &str) -> Result<RequestedLimits, RegistryError> {
        let row = sqlx::query("SELECT limits FROM tenants WHERE name = $1")
            .bind(tenant)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::not_found("tenant", tenant))?;
        let text: String = row.try_get(0)?;
        serde_json::from_str(&text)
            .map_err(|e| RegistryError::Corrupt(format!("limits of tenant `{tenant}`: {e}")))
    }

    /// Lower (or restore) the limits every call of the tenant runs under
    /// (its directors and operators). A value may not exceed the platform's
    /// cap nor go below its floor; absent values follow the platform.
    pub async fn set_tenant_limits(
        &self,
        actor: &Principal,
        tenant: &str,
        limits: RequestedLimits,
    ) -> Result<RequestedLimits, RegistryError> {
        actor.may(Action::SetTenantLimits, On::Tenant(tenant))?;
        for (((name, asked), (_, cap)), (_, floor)) in limits
            .fields()
            .into_iter()
            .zip(Limits::PLATFORM_CAPS.fields())
            .zip(Limits::FLOORS.fields())
        {
            let Some(asked) = asked else { continue };
            if asked > cap {
                return Err(RegistryError::Invalid {
                    field: name,
                    message: format!(
                        "{asked} is above the platform's cap of {cap}; a tenant may only lower limits"
                    ),
                });
            }
            if asked < floor {
                return Err(RegistryError::Invalid {
                    field: name,
                    message: format!("{asked} is below the floor of {floor}"),
                });
            }
        }
        let mut change = Change::begin(&self.db, actor).await?;
        self.tenant_exists(change.conn(), tenant).await?;
        let before = sqlx::query("SELECT limits FROM tenants WHERE name = $1")
            .bind(tenant)
            .fetch_one(change.conn())
            .await?
            .try_get::<String, _>(0)?;
        let text = serde_json::to_string(&limits).unwrap_or_else(|_| "{}".into());
        sqlx::query("UPDATE tenants SET limits = $1 WHERE name = $2")
            .bind(&text)
            .bind(tenant)
            .execute(change.conn())
            .await?;
        change
            .record(
                "tenant.limits",
                tenant,
                Some(tenant),
                &serde_json::from_str(&before).unwrap_or_default(),
                &serde_json::to_value(limits).unwrap_or_default(),
            )
            .await?;
        change.commit().await?;
        Ok(limits)
    }

    pub(crate) async fn tenant_exists(
        &self,
        conn: &mut AnyConnection,
        name: &str,
    ) -> Result<(), RegistryError> {
        sqlx::query("SELECT 1 FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?
            .map(|_| ())
            .ok_or_else(|| RegistryError::not_found("tenant", name))
    }
}
