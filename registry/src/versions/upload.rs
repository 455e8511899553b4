//! Uploads: every check the registry can make on a package file (size,
//! structure, signature, the key's standing and owner, a greater version),
//! storing it as submitted, and loading it back with its signature checked
//! again.

use semver::Version;
use sqlx::{AnyConnection, Row};

use super::record::{PackageVersion, VERSION_COLUMNS, VersionState};
use crate::access::{Action, On};
use crate::audit::Change;
use crate::principal::Principal;
use crate::publishers::{KeyState, PublisherKey};
use crate::{Manifest, Package, RegistryError, now_ms};

/// The largest package file accepted.
pub const MAX_PACKAGE_BYTES: usize = 16 << 20;

/// A package that passed the registry's checks and awaits the host's (the
/// component's world, limits) before [`crate::Registry::submit`].
#[derive(Debug, Clone)]
pub struct Upload {
    /// The parsed, signature-checked package.
    pub package: Package,
    /// The key that signed it.
    pub key: PublisherKey,
    bytes: Vec<u8>,
}

impl crate::Registry {
    /// Every check the registry can make on an uploaded package file:
    /// size, structure, manifest, signature, the key's standing and owner,
    /// the uploader's publisher, and that the version is new and greater.
    /// Nothing is stored.
    pub async fn check_upload(
        &self,
        actor: &Principal,
        bytes: Vec<u8>,
    ) -> Result<Upload, RegistryError> {
        actor.may(Action::Publish, On::Platform)?;
        if bytes.len() > MAX_PACKAGE_BYTES {
            return Err(RegistryError::TooLarge {
                size: bytes.len(),
                max: MAX_PACKAGE_BYTES,
            });
        }
        let package = Package::parse(&bytes)?;
        package.verify()?;
        let publisher = package.manifest.publisher().to_owned();
        actor.may(Action::Publish, On::Publisher(&publisher))?;
        let mut conn = self.db.pool().acquire().await?;
        let key = Self::trusted_signer(&mut conn, &package).await?;
        Self::check_greater(&mut conn, &package.manifest).await?;
        Ok(Upload {
            package,
            key,
            bytes,
        })
    }

    /// The registered key that signed `package`, refused unless it belongs
    /// to the manifest's publisher and is active.
    async fn trusted_signer(
        conn: &mut AnyConnection,
        package: &Package,
    ) -> Result<PublisherKey, RegistryError> {
        let id = crate::key_id(package.public_key());
        let key = Self::key_by_public(conn, package.public_key())
            .await?
            .ok_or_else(|| RegistryError::Untrusted {
                code: "unknown-key",
                message: format!(
                    "the package is signed with key {id}, which no publisher has registered"
                ),
            })?;
        let publisher = package.manifest.publisher();
        if key.publisher != publisher {
            return Err(RegistryError::Untrusted {
                code: "wrong-publisher",
                message: format!(
                    "key {id} belongs to publisher `{}`, not `{publisher}` who owns `{}`",
                    key.publisher, package.manifest.name
                ),
            });
        }
        match key.state {
            KeyState::Active => Ok(key),
            KeyState::Retired => Err(RegistryError::Untrusted {
                code: "retired-key",
                message: format!(
                    "key {id} of `{publisher}` was rotated out; sign new versions with the current key"
                ),
            }),
            KeyState::Revoked => Err(RegistryError::Untrusted {
                code: "revoked-key",
                message: format!("key {id} of `{publisher}` is revoked"),
            }),
        }
    }

    async fn check_greater(
        conn: &mut AnyConnection,
        manifest: &Manifest,
    ) -> Result<(), RegistryError> {
        let rows = sqlx::query("SELECT version FROM package_versions WHERE name = $1")
            .bind(&manifest.name)
            .fetch_all(&mut *conn)
            .await?;
        let mut highest: Option<Version> = None;
        for row in rows {
            let v: String = row.try_get(0)?;
            let v: Version = v
                .parse()
                .map_err(|e| RegistryError::Corrupt(format!("stored version `{v}`: {e}")))?;
            // By precedence: a stored version that differs only in build
            // metadata (from before it was refused) is the same version.
            if highest.as_ref().is_none_or(|h| v.cmp_precedence(h).is_gt()) {
                highest = Some(v);
            }
        }
        match highest {
            Some(h) if manifest.version.cmp_precedence(&h).is_le() => Err(RegistryError::conflict(
                "version-not-greater",
                format!(
                    "`{}` {} is not greater than {h}, the highest version already uploaded",
                    manifest.name, manifest.version
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Store a checked upload as `submitted` (checks repeated inside the
    /// transaction, so a concurrent upload or revocation cannot slip past).
    pub async fn submit(
        &self,
        actor: &Principal,
        upload: Upload,
    ) -> Result<PackageVersion, RegistryError> {
        let mut change = Change::begin(&self.db, actor).await?;
        let key = Self::trusted_signer(change.conn(), &upload.package).await?;
        Self::check_greater(change.conn(), &upload.package.manifest).await?;
        let manifest = &upload.package.manifest;
        let record = PackageVersion {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            kind: manifest.kind.clone(),
            state: VersionState::Submitted,
            manifest: manifest.clone(),
            manifest_digest: upload.package.manifest_digest(),
            code_digest: upload.package.code_digest(),
            key_id: key.key_id,
            size: i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX),
            submitted_by: actor.name.clone(),
            submitted_at: now_ms(),
            reviewed_by: None,
            reviewed_at: None,
            reason: None,
        };
        let manifest_json =
            serde_json::to_string(manifest).map_err(|e| RegistryError::Corrupt(e.to_string()))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO package_versions ({VERSION_COLUMNS}, publisher, package) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, NULL, $12, $13)"
        )))
        .bind(&record.name)
        .bind(record.version.to_string())
        .bind(&record.kind)
        .bind(record.state.as_str())
        .bind(manifest_json)
        .bind(&record.manifest_digest)
        .bind(&record.code_digest)
        .bind(&record.key_id)
        .bind(record.size)
        .bind(&record.submitted_by)
        .bind(record.submitted_at)
        .bind(manifest.publisher())
        .bind(upload.bytes)
        .execute(change.conn())
        .await?;
        change
            .record(
                "package.submit",
                &format!("{}@{}", record.name, record.version),
                None,
                &serde_json::Value::Null,
                &serde_json::json!({
                    "state": "submitted",
                    "kind": record.kind,
                    "permissions": manifest.permissions,
                    "limits": manifest.limits,
                    "code-digest": record.code_digest,
                    "key": record.key_id,
                }),
            )
            .await?;
        change.commit().await?;
        Ok(record)
    }

    /// The stored package file of a version, signature and signer checked
    /// again (a key revoked since upload makes it unloadable).
    pub async fn load_package(
        &self,
        name: &str,
        version: &Version,
    ) -> Result<Package, RegistryError> {
        let mut conn = self.db.pool().acquire().await?;
        let row = sqlx::query(
            "SELECT package, manifest_digest, code_digest FROM package_versions \
             WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(version.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| RegistryError::not_found("package version", format!("{name}@{version}")))?;
        let bytes: Vec<u8> = row.try_get(0)?;
        let package = Package::parse(&bytes)?;
        package.verify()?;
        if package.manifest_digest() != row.try_get::<String, _>(1)?
            || package.code_digest() != row.try_get::<String, _>(2)?
        {
            return Err(RegistryError::Corrupt(format!(
                "{name}@{version}: the stored package no longer matches its recorded digests"
            )));
        }
        let key = Self::key_by_public(&mut conn, package.public_key())
            .await?
            .ok_or_else(|| RegistryError::Untrusted {
                code: "unknown-key",
                message: format!("the key that signed {name}@{version} is no longer registered"),
            })?;
        if key.state == KeyState::Revoked {
            return Err(RegistryError::Untrusted {
                code: "revoked-key",
                message: format!(
                    "{name}@{version} was signed with key {}, which is revoked",
                    key.key_id
                ),
            });
        }
        Ok(package)
    }
}
