//! The catalog: approved, unyanked versions, one entry per package.

use semver::Version;
use serde::Serialize;

use super::record::{VERSION_COLUMNS, version_from_row};
use crate::access::{Action, On};
use crate::{Permission, Principal, RegistryError};

impl crate::Registry {
    /// The catalog: approved, unyanked versions, one entry per package with
    /// its newest version's manifest.
    pub async fn catalog(&self, actor: &Principal) -> Result<Vec<CatalogEntry>, RegistryError> {
        actor.may(Action::ReadCatalog, On::Platform)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM package_versions WHERE state = 'approved' ORDER BY name"
        )))
        .fetch_all(self.db.pool())
        .await?;
        let mut entries: Vec<CatalogEntry> = Vec::new();
        for row in &rows {
            let v = version_from_row(row)?;
            match entries.iter_mut().find(|e| e.name == v.name) {
                Some(entry) => {
                    entry.versions.push(v.version.clone());
                    if v.version > entry.latest {
                        entry.latest = v.version.clone();
                        entry.kind = v.kind.clone();
                        entry.description = v.manifest.description.clone();
                        entry.permissions = v.manifest.permissions.iter().copied().collect();
                    }
                }
                None => entries.push(CatalogEntry {
                    name: v.name.clone(),
                    kind: v.kind.clone(),
                    description: v.manifest.description.clone(),
                    latest: v.version.clone(),
                    permissions: v.manifest.permissions.iter().copied().collect(),
                    versions: vec![v.version.clone()],
                }),
            }
        }
        for e in &mut entries {
            e.versions.sort();
            e.versions.reverse();
        }
        Ok(entries)
    }
}

/// A package in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEntry {
    /// `publisher/name`.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// The newest version's description.
    pub description: String,
    /// The newest approved version.
    pub latest: Version,
    /// The newest version's permissions.
    pub permissions: Vec<Permission>,
    /// Every approved, unyanked version, newest first.
    pub versions: Vec<Version>,
}
