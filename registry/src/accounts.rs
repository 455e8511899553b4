//! Accounts and bearer tokens.
//!
//! A token is `mrc_` and 64 hex digits of randomness; only its sha256 is
//! stored. Who a token speaks for is a [`Principal`], whose role checks
//! live in [`crate::principal`].

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::access::{Action, On};
use crate::audit::Change;
use crate::principal::{Principal, Role};
use crate::{RegistryError, now_ms, sha256_hex};

/// An account as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Tenant (directors and reps).
    pub tenant: Option<String>,
    /// Publisher (developers).
    pub publisher: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// What a new account needs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// Unique name (letters, digits, `.`, `-`, `_`, `@`).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Required for directors and reps.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Required for developers.
    #[serde(default)]
    pub publisher: Option<String>,
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Its id (to revoke it).
    pub id: String,
    /// What it is for.
    pub label: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A freshly issued token: shown once, never stored.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    /// The token's id (to revoke it).
    pub id: String,
    /// The secret, `mrc_…`.
    pub token: String,
    /// The account it belongs to.
    pub account: String,
}

pub(crate) fn random_hex(bytes: usize) -> Result<String, RegistryError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| RegistryError::Corrupt(format!("no randomness available: {e}")))?;
    Ok(hex::encode(buf))
}

pub(crate) fn account_from_row(row: &sqlx::any::AnyRow) -> Result<Account, RegistryError> {
    let role: String = row.try_get("role")?;
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role
            .parse()
            .map_err(|_| RegistryError::Corrupt(format!("unknown role `{role}`")))?,
        tenant: row.try_get("tenant")?,
        publisher: row.try_get("publisher")?,
        created_at: row.try_get("created_at")?,
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

impl crate::Registry {
    /// Create an account and its first token (operators only).
    pub async fn create_account(
        &self,
        actor: &Principal,
        new: NewAccount,
    ) -> Result<(Account, IssuedToken), RegistryError> {
        actor.may(Action::CreateAccount, On::Platform)?;
        if !valid_name(&new.name) {
            return Err(RegistryError::invalid(
                "name",
                format!(
                    "`{}` must be 1-64 letters, digits, `.`, `-`, `_` or `@`",
                    new.name
                ),
            ));
        }
        let (tenant, publisher) = match new.role {
            Role::Director | Role::Rep => (
                Some(new.tenant.clone().ok_or_else(|| {
                    RegistryError::invalid("tenant", format!("a {} needs a tenant", new.role))
                })?),
                None,
            ),
            Role::Developer => (
                None,
                Some(new.publisher.clone().ok_or_else(|| {
                    RegistryError::invalid("publisher", "a developer needs a publisher")
                })?),
            ),
            Role::Operator | Role::Reviewer => (None, None),
        };
        let mut change = Change::begin(&self.db, actor).await?;
        if let Some(t) = &tenant {
            self.tenant_exists(change.conn(), t).await?;
        }
        if let Some(p) = &publisher {
            self.publisher_exists(change.conn(), p).await?;
        }
        let taken = sqlx::query("SELECT 1 FROM accounts WHERE name = $1")
            .bind(&new.name)
            .fetch_optional(change.conn())
            .await?;
        if taken.is_some() {
            return Err(RegistryError::conflict(
                "account-exists",
                format!("an account named `{}` exists already", new.name),
            ));
        }
        let account = Account {
            id: format!("acc_{}", random_hex(8)?),
            name: new.name,
            role: new.role,
            tenant,
            publisher,
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO accounts (id, name, role, tenant, publisher, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&account.id)
        .bind(&account.name)
        .bind(account.role.as_str())
        .bind(&account.tenant)
        .bind(&account.publisher)
        .bind(account.created_at)
        .execute(change.conn())
        .await?;
        change
            .record(
                "account.create",
                &account.name,
                account.tenant.as_deref(),
                &serde_json::Value::Null,
                &serde_json::to_value(&account).unwrap_or_default(),
            )
            .await?;
        let token = Self::insert_token(&mut change, &account, "first token").await?;
        change.commit().await?;
        Ok((account, token))
    }

    async fn insert_token(
        change: &mut Change,
        account: &Account,
        label: &str,
    ) -> Result<IssuedToken, RegistryError> {
        crate::bounds::TOKEN_LABEL.text(label)?;
        let issued = IssuedToken {
            id: format!("tok_{}", random_hex(6)?),
            token: format!("mrc_{}", random_hex(32)?),
            account: account.name.clone(),
        };
        sqlx::query(
            "INSERT INTO tokens (id, hash, account, label, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&issued.id)
        .bind(sha256_hex(issued.token.as_bytes()))
        .bind(&account.id)
        .bind(label)
        .bind(now_ms())
        .execute(change.conn())
        .await?;
        change
            .record(
                "token.issue",
                &issued.id,
                account.tenant.as_deref(),
                &serde_json::Value::Null,
                &serde_json::json!({"account": account.name, "label": label}),
            )
            .await?;
        Ok(issued)
    }

    /// Issue another token for the account `name` (operators, or the
    /// account itself).
    pub async fn issue_token(
        &self,
        actor: &Principal,
        name: &str,
        label: &str,
    ) -> Result<IssuedToken, RegistryError> {
        actor.may(Action::IssueToken, On::Account(name))?;
        let mut change = Change::begin(&self.db, actor).await?;
        let account = self.account_in(change.conn(), name).await?;
        let token = Self::insert_token(&mut change, &account, label).await?;
        change.commit().await?;
        Ok(token)
    }

    /// The tokens of account `name` (operators, or the account itself),
    /// newest first; never their secrets.
    pub async fn tokens(
        &self,
        actor: &Principal,
        name: &str,
    ) -> Result<Vec<TokenInfo>, RegistryError> {
        actor.may(Action::ListTokens, On::Account(name))?;
        let rows = sqlx::query(
            "SELECT t.id, t.label, t.created_at, t.revoked_at FROM tokens t \
             JOIN accounts a ON a.id = t.account WHERE a.name = $1 ORDER BY t.created_at DESC, t.id",
        )
        .bind(name)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get(0)?,
                    label: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                    revoked_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Revoke a token by id (operators, or the account that owns it).
    pub async fn revoke_token(&self, actor: &Principal, id: &str) -> Result<(), RegistryError> {
        let mut change = Change::begin(&self.db, actor).await?;
        let row = sqlx::query(
            "SELECT a.name, a.tenant, t.revoked_at FROM tokens t JOIN accounts a ON a.id = t.account \
             WHERE t.id = $1",
        )
        .bind(id)
        .fetch_optional(change.conn())
        .await?
        .ok_or_else(|| RegistryError::not_found("token", id))?;
        let owner: String = row.try_get(0)?;
        let tenant: Option<String> = row.try_get(1)?;
        actor.may(Action::RevokeToken, On::Account(&owner))?;
        if row.try_get::<Option<i64>, _>(2)?.is_some() {
            return Err(RegistryError::conflict(
                "token-revoked",
                format!("token `{id}` is revoked already"),
            ));
        }
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(change.conn())
            .await?;
        change
            .record(
                "token.revoke",
                id,
                tenant.as_deref(),
                &serde_json::json!({"account": owner, "revoked": false}),
                &serde_json::json!({"account": owner, "revoked": true}),
            )
            .await?;
        change.commit().await
    }

    /// The principal a bearer token stands for.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, RegistryError> {
        if !token.starts_with("mrc_") {
            return Err(RegistryError::Unauthenticated(
                "the bearer token is malformed (Mercato tokens start with `mrc_`)".to_owned(),
            ));
        }
        let row = sqlx::query(
            "SELECT a.id, a.name, a.role, a.tenant, a.publisher, a.created_at FROM tokens t \
             JOIN accounts a ON a.id = t.account WHERE t.hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(sha256_hex(token.as_bytes()))
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| {
            RegistryError::Unauthenticated("the bearer token is unknown or revoked".to_owned())
        })?;
        let account = account_from_row(&row)?;
        Ok(Principal {
            account: account.id,
            name: account.name,
            role: account.role,
            tenant: account.tenant,
            publisher: account.publisher,
        })
    }

    /// Every account (operators), or a tenant's (its director).
    pub async fn accounts(
        &self,
        actor: &Principal,
        tenant: Option<&str>,
    ) -> Result<Vec<Account>, RegistryError> {
        let tenant = actor.narrowed(tenant);
        actor.may(
            Action::ListAccounts,
            tenant.map_or(On::Platform, On::Tenant),
        )?;
        let rows = sqlx::query(
            "SELECT id, name, role, tenant, publisher, created_at FROM accounts ORDER BY name",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut accounts = Vec::new();
        for row in &rows {
            let account = account_from_row(row)?;
            if tenant.is_none() || account.tenant.as_deref() == tenant {
                accounts.push(account);
            }
        }
        Ok(accounts)
    }

    async fn account_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        name: &str,
    ) -> Result<Account, RegistryError> {
        let row = sqlx::query(
            "SELECT id, name, role, tenant, publisher, created_at FROM accounts WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| RegistryError::not_found("account", name))?;
        account_from_row(&row)
    }
}
