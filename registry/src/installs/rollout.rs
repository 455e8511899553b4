//! What approving a version does to the installs that follow a range it
//! matches: each moves to it, or waits as pending — for its director to
//! accept new permissions, or because the version's component refused the
//! install's settings (the marketplace checks them before the approval and
//! hands the verdicts in as [`RolloutChecks`]).

use std::collections::BTreeMap;

use semver::VersionReq;
use serde::Serialize;

use super::record::{INSTALL_COLUMNS, Install, install_from_row};
use crate::RegistryError;
use crate::audit::Change;
use crate::versions::PackageVersion;

/// What the approval of a version did to tenants following a range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// `tenant/install` moved to the new version.
    pub upgraded: Vec<String>,
    /// `tenant/install` waiting for the director to accept new permissions.
    pub awaiting_acceptance: Vec<String>,
    /// `tenant/install` left on its version because the new version's
    /// component refused its settings; the reason is on the install.
    pub settings_refused: Vec<String>,
    /// `tenant/install` left on its version because a canary runs on it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held_by_canary: Vec<String>,
}

/// The marketplace's verdict on one install's settings under the version
/// being approved.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutCheck {
    /// The settings that were checked.
    pub settings: serde_json::Value,
    /// Why the version's component refused them; `None` when it accepted.
    pub refused: Option<String>,
}

/// Verdicts by `(tenant, install id)`.
pub type RolloutChecks = BTreeMap<(String, String), RolloutCheck>;

/// Whether approving `version` moves `install`: it follows a range the
/// version matches and runs an older one.
fn follows(install: &Install, version: &semver::Version) -> bool {
    VersionReq::parse(&install.requirement)
        .is_ok_and(|req| !install.pinned() && req.matches(version) && *version > install.version)
}

impl crate::Registry {
    /// The installs that approving `name@version` would move, so the host
    /// can have the version's component check their settings first.
    pub async fn rollout_candidates(
        &self,
        name: &str,
        version: &semver::Version,
    ) -> Result<Vec<Install>, RegistryError> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(Self::installs_of_package(&mut conn, name)
            .await?
            .into_iter()
            .filter(|i| follows(i, version))
            .collect())
    }

    async fn installs_of_package(
        conn: &mut sqlx::AnyConnection,
        name: &str,
    ) -> Result<Vec<Install>, RegistryError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INSTALL_COLUMNS} FROM installs WHERE package = $1 ORDER BY tenant, id"
        )))
        .bind(name)
        .fetch_all(conn)
        .await?;
        rows.iter().map(install_from_row).collect()
    }

    /// Roll a freshly approved version out to installs following a range it
    /// matches (inside the approval's change). With `checks`, an install
    /// moves only if the version's component accepted exactly the settings
    /// it holds now; otherwise the version waits as pending with the reason.
    pub(crate) async fn roll_out(
        &self,
        change: &mut Change,
        approved: &PackageVersion,
        checks: Option<&RolloutChecks>,
    ) -> Result<Rollout, RegistryError> {
        let installs = Self::installs_of_package(change.conn(), &approved.name).await?;
        let mut rollout = Rollout::default();
        for mut install in installs {
            if !follows(&install, &approved.version) {
                continue;
            }
            let refusal = checks.and_then(|checks| {
                match checks.get(&(install.tenant.clone(), install.id.clone())) {
                    Some(check) if check.settings == install.settings => check.refused.clone(),
                    Some(_) => Some(
                        "the install's settings changed while the version was being approved; \
                         accept it to have them checked"
                            .to_owned(),
                    ),
                    None => Some(
                        "the install was enabled while the version was being approved, so its \
                         settings were not checked; accept it to have them checked"
                            .to_owned(),
                    ),
                }
            });
            install.history = Self::history(change.conn(), &install.tenant, &install.id).await?;
            // A canary holds the install's version still: its director
            // promotes or aborts it, then upgrades.
            if Self::running_canary(change.conn(), &install.tenant, &install.id)
                .await?
                .is_some()
            {
                rollout
                    .held_by_canary
                    .push(format!("{}/{}", install.tenant, install.id));
                continue;
            }
            let requirement = install.requirement.clone();
            let outcome =
                Self::move_to(change, &install, requirement, approved, false, refusal).await?;
            let who = format!("{}/{}", install.tenant, install.id);
            match outcome.status {
                "upgraded" => rollout.upgraded.push(who),
                "settings-refused" => rollout.settings_refused.push(who),
                _ => rollout.awaiting_acceptance.push(who),
            }
        }
        Ok(rollout)
    }
}
