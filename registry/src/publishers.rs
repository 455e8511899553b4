//! Publishers and their signing keys.
//!
//! A key is `active` (may sign new versions), `retired` (rotated out: what it
//! signed stays valid, nothing new is accepted) or `revoked` (compromised:
//! nothing it signed is accepted or loaded any more).

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::access::{Action, On};
use crate::audit::Change;
use crate::principal::Principal;
use crate::tenants::valid_slug;
use crate::{RegistryError, key_id, now_ms};

/// A key's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Signs new versions.
    Active,
    /// Rotated out; its old signatures stay valid.
    Retired,
    /// Withdrawn; nothing it signed is trusted.
    Revoked,
}

impl KeyState {
    /// The state's name (`active`, `retired`, `revoked`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> Result<Self, RegistryError> {
        match s {
            "active" => Ok(KeyState::Active),
            "retired" => Ok(KeyState::Retired),
            "revoked" => Ok(KeyState::Revoked),
            other => Err(RegistryError::Corrupt(format!(
                "unknown key state `{other}`"
            ))),
        }
    }
}

/// A publisher's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublisherKey {
    /// Short id (first 16 hex digits of the key's sha256).
    pub key_id: String,
    /// The publisher.
    pub publisher: String,
    /// The ed25519 public key, hex.
    pub public_key: String,
    /// Its standing.
    pub state: KeyState,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was retired or revoked.
    pub changed_at: Option<i64>,
}

/// A key to register.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// The ed25519 public key, 64 hex digits.
    pub public_key: String,
}

fn parse_public_key(hex_key: &str) -> Result<[u8; 32], RegistryError> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| {
        RegistryError::invalid(
            "public_key",
            "must be 64 hex digits (an ed25519 public key)",
        )
    })?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| RegistryError::invalid("public_key", "must be 32 bytes (64 hex digits)"))?;
    ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| RegistryError::invalid("public_key", "is not a valid ed25519 point"))?;
    Ok(key)
}

pub(crate) fn key_from_row(row: &sqlx::any::AnyRow) -> Result<PublisherKey, RegistryError> {
    Ok(PublisherKey {
        key_id: row.try_get("key_id")?,
        publisher: row.try_get("publisher")?,
        public_key: row.try_get("public_key")?,
        state: KeyState::parse(&row.try_get::<String, _>("state")?)?,
        created_at: row.try_get("created_at")?,
        changed_at: row.try_get("changed_at")?,
    })
}

const KEY_COLUMNS: &str = "key_id, publisher, public_key, state, created_at, changed_at";

impl crate::Registry {
    /// Create a publisher (operators).
    pub async fn create_publisher(
        &self,
        actor: &Principal,
        name: &str,
    ) -> Result<(), RegistryError> {
        actor.may(Action::CreatePublisher, On::Platform)?;
        if !valid_slug(name) {
            return Err(RegistryError::invalid(
                "name",
                format!("`{name}` must be 1-64 lowercase letters, digits and dashes"),
            ));
        }
        let mut change = Change::begin(&self.db, actor).await?;
        if sqlx::query("SELECT 1 FROM publishers WHERE name = $1")
            .bind(name)
            .fetch_optional(change.conn())
            .await?
            .is_some()
        {
            return Err(RegistryError::conflict(
                "publisher-exists",
                format!("publisher `{name}` exists already"),
            ));
        }
        sqlx::query("INSERT INTO publishers (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now_ms())
            .execute(change.conn())
            .await?;
        change
            .record(
                "publisher.create",
                name,
                None,
                &serde_json::Value::Null,
                &serde_json::json!({ "name": name }),
            )
            .await?;
        change.commit().await
    }

    /// Every publisher's name.
    pub async fn publishers(&self, actor: &Principal) -> Result<Vec<String>, RegistryError> {
        actor.may(Action::ListPublishers, On::Platform)?;
        let rows = sqlx::query("SELECT name FROM publishers ORDER BY name")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(Into::into))
            .collect()
    }

    pub(crate) async fn publisher_exists(
        &self,
        conn: &mut AnyConnection,
        name: &str,
    ) -> Result<(), RegistryError> {
        sqlx::query("SELECT 1 FROM publishers WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?
            .map(|_| ())
            .ok_or_else(|| RegistryError::not_found("publisher", name))
    }

    /// Register a signing key for `publisher` (its developers, operators).
    pub async fn register_key(
        &self,
        actor: &Principal,
        publisher: &str,
        new: NewKey,
    ) -> Result<PublisherKey, RegistryError> {
        actor.may(Action::RegisterKey, On::Publisher(publisher))?;
        let key = parse_public_key(&new.public_key)?;
        let mut change = Change::begin(&self.db, actor).await?;
        self.publisher_exists(change.conn(), publisher).await?;
        let record = Self::insert_key(&mut change, publisher, &key).await?;
        change
            .record(
                "key.register",
                &format!("{publisher}/{}", record.key_id),
                None,
                &serde_json::Value::Null,
                &serde_json::to_value(&record).unwrap_or_default(),
            )
            .await?;
        change.commit().await?;
        Ok(record)
    }

    async fn insert_key(
        change: &mut Change,
        publisher: &str,
        key: &[u8; 32],
    ) -> Result<PublisherKey, RegistryError> {
        let record = PublisherKey {
            key_id: key_id(key),
            publisher: publisher.to_owned(),
            public_key: hex::encode(key),
            state: KeyState::Active,
            created_at: now_ms(),
            changed_at: None,
        };
        if sqlx::query("SELECT 1 FROM publisher_keys WHERE public_key = $1")
            .bind(&record.public_key)
            .fetch_optional(change.conn())
            .await?
            .is_some()
        {
            return Err(RegistryError::conflict(
                "key-exists",
                format!("key {} is registered already", record.key_id),
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO publisher_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL)"
        )))
        .bind(&record.key_id)
        .bind(&record.publisher)
        .bind(&record.public_key)
        .bind(record.state.as_str())
        .bind(record.created_at)
        .execute(change.conn())
        .await?;
        Ok(record)
    }

    async fn key_of(
        conn: &mut AnyConnection,
        publisher: &str,
        key_id: &str,
    ) -> Result<PublisherKey, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM publisher_keys WHERE key_id = $1 AND publisher = $2"
        )))
        .bind(key_id)
        .bind(publisher)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| RegistryError::not_found("key", format!("{publisher}/{key_id}")))?;
        key_from_row(&row)
    }

    async fn set_key_state(
        change: &mut Change,
        key: &PublisherKey,
        state: KeyState,
        action: &str,
    ) -> Result<PublisherKey, RegistryError> {
        let at = now_ms();
        sqlx::query("UPDATE publisher_keys SET state = $1, changed_at = $2 WHERE key_id = $3")
            .bind(state.as_str())
            .bind(at)
            .bind(&key.key_id)
            .execute(change.conn())
            .await?;
        let after = PublisherKey {
            state,
            changed_at: Some(at),
            ..key.clone()
        };
        change
            .record(
                action,
                &format!("{}/{}", key.publisher, key.key_id),
                None,
                &serde_json::to_value(key).unwrap_or_default(),
                &serde_json::to_value(&after).unwrap_or_default(),
            )
            .await?;
        Ok(after)
    }

    /// Replace an active key with a new one: the new key signs from now on,
    /// the old one is retired (what it signed stays valid).
    pub async fn rotate_key(
        &self,
        actor: &Principal,
        publisher: &str,
        old_key_id: &str,
        new: NewKey,
    ) -> Result<PublisherKey, RegistryError> {
        actor.may(Action::RotateKey, On::Publisher(publisher))?;
        let key = parse_public_key(&new.public_key)?;
        let mut change = Change::begin(&self.db, actor).await?;
        let old = Self::key_of(change.conn(), publisher, old_key_id).await?;
        if old.state != KeyState::Active {
            return Err(RegistryError::conflict(
                "key-not-active",
                format!(
                    "key {old_key_id} is {:?}, only an active key can be rotated",
                    old.state
                ),
            ));
        }
        let record = Self::insert_key(&mut change, publisher, &key).await?;
        change
            .record(
                "key.register",
                &format!("{publisher}/{}", record.key_id),
                None,
                &serde_json::Value::Null,
                &serde_json::to_value(&record).unwrap_or_default(),
            )
            .await?;
        Self::set_key_state(&mut change, &old, KeyState::Retired, "key.retire").await?;
        change.commit().await?;
        Ok(record)
    }

    /// Revoke a key: nothing it signed is accepted or loaded any more.
    pub async fn revoke_key(
        &self,
        actor: &Principal,
        publisher: &str,
        key_id: &str,
    ) -> Result<PublisherKey, RegistryError> {
        actor.may(Action::RevokeKey, On::Publisher(publisher))?;
        let mut change = Change::begin(&self.db, actor).await?;
        let key = Self::key_of(change.conn(), publisher, key_id).await?;
        if key.state == KeyState::Revoked {
            return Err(RegistryError::conflict(
                "key-revoked",
                format!("key {key_id} is revoked already"),
            ));
        }
        let after = Self::set_key_state(&mut change, &key, KeyState::Revoked, "key.revoke").await?;
        change.commit().await?;
        Ok(after)
    }

    /// A publisher's keys, newest first.
    pub async fn keys(
        &self,
        actor: &Principal,
        publisher: &str,
    ) -> Result<Vec<PublisherKey>, RegistryError> {
        actor.may(Action::ReadKeys, On::Publisher(publisher))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM publisher_keys WHERE publisher = $1 ORDER BY created_at DESC, key_id"
        )))
        .bind(publisher)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// The key record for an embedded public key, if registered.
    pub(crate) async fn key_by_public(
        conn: &mut AnyConnection,
        public_key: &[u8; 32],
    ) -> Result<Option<PublisherKey>, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM publisher_keys WHERE public_key = $1"
        )))
        .bind(hex::encode(public_key))
        .fetch_optional(conn)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }
}
