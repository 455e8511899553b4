//! Canary rollouts: a director runs a candidate version of one install on a
//! share of the tenant's calls, then promotes it (the install moves to it) or
//! aborts it (every call goes back to the current version). At most one
//! canary runs per install; while it runs the install's version does not
//! move any other way (upgrade, accept, rollback, a range's roll-out), so
//! "current" means one version for the canary's whole life.
//!
//! Both versions serve from the install's one store and settings; the
//! candidate gets no permission the director has not accepted. Starting,
//! changing the share, promoting and aborting are registry changes, so they
//! are audited and every host hears them like any install change.
//!
//! Which calls go to the candidate, and the statistics that may abort it,
//! are the host's: this module keeps the records and each host's tallies.

use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::access::{Action, On};
use crate::audit::Change;
use crate::installs::Install;
use crate::principal::Principal;
use crate::versions::{PackageVersion, VersionState};
use crate::{Permission, RegistryError, now_ms};

/// The whole share, in basis points.
pub const FULL_SHARE: u32 = 10_000;

/// Where a canary is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CanaryState {
    /// Serving its share.
    Running,
    /// The install moved to the candidate.
    Promoted,
    /// Back to the current version (by a director or a guardrail).
    Aborted,
}

impl CanaryState {
    fn as_str(self) -> &'static str {
        match self {
            CanaryState::Running => "running",
            CanaryState::Promoted => "promoted",
            CanaryState::Aborted => "aborted",
        }
    }

    fn parse(s: &str) -> Result<Self, RegistryError> {
        Ok(match s {
            "running" => CanaryState::Running,
            "promoted" => CanaryState::Promoted,
            "aborted" => CanaryState::Aborted,
            other => return Err(RegistryError::Corrupt(format!("canary state `{other}`"))),
        })
    }
}

/// One canary rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Canary {
    /// `can-…`.
    pub id: String,
    /// The tenant.
    pub tenant: String,
    /// The install it runs on.
    pub install: String,
    /// `publisher/name`.
    pub package: String,
    /// The install's version when it started (serves the rest).
    pub current: Version,
    /// The version on trial.
    pub candidate: Version,
    /// The candidate's share of units, in basis points (`2500` = 25 %).
    pub share_bp: u32,
    /// Whether a guardrail worse with significance aborts it by itself.
    pub auto_abort: bool,
    /// Running, promoted or aborted.
    pub state: CanaryState,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    /// The account that started it.
    pub started_by: String,
    /// When it was promoted or aborted.
    pub ended_at: Option<i64>,
    /// Who ended it (`guardrail` when it aborted itself).
    pub ended_by: Option<String>,
    /// Why it was aborted.
    pub reason: Option<String>,
    /// The guardrail figures when it ended.
    pub figures: Option<Value>,
}

impl Canary {
    /// The share as a percentage.
    pub fn share_percent(&self) -> f64 {
        f64::from(self.share_bp) / 100.0
    }
}

/// Starting a canary.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCanary {
    /// The approved version to try.
    pub version: String,
    /// Percentage of units on the candidate, 0–100 (steps of 0.01); 0 lets
    /// only forced calls through.
    pub share: f64,
    /// Abort by itself when a guardrail is worse with significance (default
    /// true).
    #[serde(default)]
    pub auto_abort: Option<bool>,
    /// Accept the permissions the candidate adds over what the tenant
    /// accepted (without it, such a candidate is refused, naming them).
    #[serde(default)]
    pub accept_permissions: Option<bool>,
}

/// Changing a running canary's share.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryShare {
    /// Percentage of units on the candidate, 0–100.
    pub share: f64,
}

/// Ending a canary by hand.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryAbort {
    /// Why (kept on the canary and in the audit log).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A share in percent as basis points, refused outside 0–100.
pub fn share_bp(percent: f64) -> Result<u32, RegistryError> {
    if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
        return Err(RegistryError::invalid(
            "share",
            format!("{percent} is not a percentage from 0 to 100"),
        ));
    }
    Ok((percent * 100.0).round() as u32)
}

const COLUMNS: &str = "id, tenant, install, package, current_version, candidate_version, share, \
                       auto_abort, state, started_at, started_by, ended_at, ended_by, reason, figures";

fn corrupt(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt(format!("stored canary {what}: {e}"))
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Canary, RegistryError> {
    let version = |column: &str| -> Result<Version, RegistryError> {
        let v: String = row.try_get(column)?;
        v.parse().map_err(|e| corrupt("version", e))
    };
    let figures: Option<String> = row.try_get("figures")?;
    let state: String = row.try_get("state")?;
    Ok(Canary {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        install: row.try_get("install")?,
        package: row.try_get("package")?,
        current: version("current_version")?,
        candidate: version("candidate_version")?,
        share_bp: u32::try_from(row.try_get::<i64, _>("share")?)
            .map_err(|e| corrupt("share", e))?,
        auto_abort: row.try_get::<i64, _>("auto_abort")? != 0,
        state: CanaryState::parse(&state)?,
        started_at: row.try_get("started_at")?,
        started_by: row.try_get("started_by")?,
        ended_at: row.try_get("ended_at")?,
        ended_by: row.try_get("ended_by")?,
        reason: row.try_get("reason")?,
        figures: figures
            .map(|f| serde_json::from_str(&f).map_err(|e| corrupt("figures", e)))
            .transpose()?,
    })
}

fn view(c: &Canary) -> Value {
    json!({
        "id": c.id, "package": c.package, "current": c.current, "candidate": c.candidate,
        "share": c.share_percent(), "auto_abort": c.auto_abort, "state": c.state,
        "reason": c.reason,
    })
}

impl crate::Registry {
    /// The running canary of an install, if any.
    pub(crate) async fn running_canary(
        conn: &mut AnyConnection,
        tenant: &str,
        install: &str,
    ) -> Result<Option<Canary>, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM canaries WHERE tenant = $1 AND install = $2 AND state = 'running'"
        )))
        .bind(tenant)
        .bind(install)
        .fetch_optional(conn)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Refuse to move an install's version while a canary runs on it.
    pub(crate) fn no_canary(install: &Install) -> Result<(), RegistryError> {
        match &install.canary {
            Some(c) => Err(RegistryError::conflict(
                "canary-running",
                format!(
                    "{}/{} runs a canary of {} ({}); promote or abort it first",
                    install.tenant, install.id, c.candidate, c.id
                ),
            )),
            None => Ok(()),
        }
    }

    async fn canary_in(
        conn: &mut AnyConnection,
        tenant: &str,
        id: &str,
    ) -> Result<Canary, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM canaries WHERE tenant = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| RegistryError::not_found("rollout", format!("{tenant}/{id}")))?;
        from_row(&row)
    }

    /// One canary of the tenant.
    pub async fn canary(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<Canary, RegistryError> {
        actor.may(Action::ReadRollouts, On::Tenant(tenant))?;
        let mut conn = self.db.pool().acquire().await?;
        Self::canary_in(&mut conn, tenant, id).await
    }

    /// Every canary of an install, newest first.
    pub async fn canaries(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
    ) -> Result<Vec<Canary>, RegistryError> {
        actor.may(Action::ReadRollouts, On::Tenant(tenant))?;
        let mut conn = self.db.pool().acquire().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM canaries WHERE tenant = $1 AND install = $2 \
             ORDER BY started_at DESC, id"
        )))
        .bind(tenant)
        .bind(install)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The install and the version a canary would try, checked (approved,
    /// of the same package, not the current version, no canary running).
    /// Nothing is stored: the host loads the candidate and has it validate
    /// the install's settings before [`Self::start_canary`].
    pub async fn plan_canary(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
        new: &NewCanary,
    ) -> Result<(Install, PackageVersion), RegistryError> {
        actor.may(Action::StartRollout, On::Tenant(tenant))?;
        share_bp(new.share)?;
        let version = crate::versions::parse_version("version", &new.version)?;
        let mut conn = self.db.pool().acquire().await?;
        let install = Self::load_install(&mut conn, tenant, install).await?;
        Self::no_canary(&install)?;
        let target = Self::candidate(&mut conn, &install, &version).await?;
        Ok((install, target))
    }

    async fn candidate(
        conn: &mut AnyConnection,
        install: &Install,
        version: &Version,
    ) -> Result<PackageVersion, RegistryError> {
        if *version == install.version {
            return Err(RegistryError::conflict(
                "up-to-date",
                format!(
                    "{}/{} already runs {version}; a canary tries another version",
                    install.tenant, install.id
                ),
            ));
        }
        let target = Self::version_in(conn, &install.package, version).await?;
        if target.state != VersionState::Approved {
            return Err(RegistryError::conflict(
                "not-approved",
                format!(
                    "{}@{version} is {}; only approved versions can take traffic",
                    install.package,
                    target.state.as_str()
                ),
            ));
        }
        Ok(target)
    }

    /// Start a canary of `new.version` on an install (planned with
    /// [`Self::plan_canary`]; `expected` is the install's version then, so a
    /// move in between is refused rather than trialled against the wrong
    /// version).
    pub async fn start_canary(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
        new: &NewCanary,
        expected: &Version,
    ) -> Result<Canary, RegistryError> {
        actor.may(Action::StartRollout, On::Tenant(tenant))?;
        let share = share_bp(new.share)?;
        let version = crate::versions::parse_version("version", &new.version)?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, install).await?;
        Self::no_canary(&before)?;
        if before.version != *expected {
            return Err(RegistryError::conflict(
                "install-changed",
                format!(
                    "{tenant}/{install} moved to {} meanwhile; try again",
                    before.version
                ),
            ));
        }
        let target = Self::candidate(change.conn(), &before, &version).await?;
        let added: Vec<Permission> = target
            .manifest
            .permissions
            .difference(&before.accepted)
            .copied()
            .collect();
        if !added.is_empty() {
            if new.accept_permissions != Some(true) {
                return Err(RegistryError::conflict(
                    "permissions-not-accepted",
                    format!(
                        "{}@{version} asks for permissions this tenant has not accepted: {}; \
                         start it with accept_permissions to accept them",
                        before.package,
                        added
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let mut after = before.clone();
            after.accepted.extend(added.iter().copied());
            after.updated_at = now_ms();
            Self::save_install(&mut change, Some(&before), &after, "install.accept").await?;
        }
        let canary = Canary {
            id: format!("can-{}", crate::accounts::random_hex(12)?),
            tenant: tenant.to_owned(),
            install: install.to_owned(),
            package: before.package.clone(),
            current: before.version.clone(),
            candidate: version,
            share_bp: share,
            auto_abort: new.auto_abort.unwrap_or(true),
            state: CanaryState::Running,
            started_at: now_ms(),
            started_by: actor.to_string(),
            ended_at: None,
            ended_by: None,
            reason: None,
            figures: None,
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO canaries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, NULL, NULL)"
        )))
        .bind(&canary.id)
        .bind(tenant)
        .bind(install)
        .bind(&canary.package)
        .bind(canary.current.to_string())
        .bind(canary.candidate.to_string())
        .bind(i64::from(share))
        .bind(i64::from(canary.auto_abort))
        .bind(canary.state.as_str())
        .bind(canary.started_at)
        .bind(&canary.started_by)
        .execute(change.conn())
        .await?;
        change
            .record(
                "canary.start",
                &format!("{tenant}/{install}"),
                Some(tenant),
                &Value::Null,
                &view(&canary),
            )
            .await?;
        change.commit().await?;
        Ok(canary)
    }

    async fn running_in(
        change: &mut Change,
        tenant: &str,
        id: &str,
    ) -> Result<Canary, RegistryError> {
        let canary = Self::canary_in(change.conn(), tenant, id).await?;
        if canary.state != CanaryState::Running {
            return Err(RegistryError::conflict(
                "rollout-ended",
                format!("rollout {id} was {} already", canary.state.as_str()),
            ));
        }
        Ok(canary)
    }

    /// Change a running canary's share. Units keep their side when it grows;
    /// when it shrinks only those beyond the new share go back.
    pub async fn set_canary_share(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        percent: f64,
    ) -> Result<Canary, RegistryError> {
        actor.may(Action::SteerRollout, On::Tenant(tenant))?;
        let share = share_bp(percent)?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::running_in(&mut change, tenant, id).await?;
        let after = Canary {
            share_bp: share,
            ..before.clone()
        };
        sqlx::query("UPDATE canaries SET share = $1 WHERE id = $2")
            .bind(i64::from(share))
            .bind(id)
            .execute(change.conn())
            .await?;
        change
            .record(
                "canary.share",
                &format!("{tenant}/{}", before.install),
                Some(tenant),
                &view(&before),
                &view(&after),
            )
            .await?;
        change.commit().await?;
        Ok(after)
    }

    /// Promote a running canary: the install moves to the candidate (keeping
    /// its range when the candidate matches it, else pinned to it).
    pub async fn promote_canary(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        figures: Option<&Value>,
    ) -> Result<(Canary, Install), RegistryError> {
        actor.may(Action::SteerRollout, On::Tenant(tenant))?;
        let mut change = Change::begin(&self.db, actor).await?;
        let canary = Self::running_in(&mut change, tenant, id).await?;
        let before = Self::load_install(change.conn(), tenant, &canary.install).await?;
        let target = Self::candidate(change.conn(), &before, &canary.candidate).await?;
        let keeps_range = !before.pinned()
            && semver::VersionReq::parse(&before.requirement)
                .is_ok_and(|r| r.matches(&canary.candidate));
        let mut after = Install {
            requirement: if keeps_range {
                before.requirement.clone()
            } else {
                format!("={}", canary.candidate)
            },
            version: canary.candidate.clone(),
            pending: None,
            pending_reason: None,
            updated_at: now_ms(),
            canary: None,
            ..before.clone()
        };
        after
            .accepted
            .extend(target.manifest.permissions.iter().copied());
        Self::save_install(&mut change, Some(&before), &after, "install.promote").await?;
        if !after.history.contains(&after.version) {
            after.history.push(after.version.clone());
        }
        let ended = Self::end(
            &mut change,
            canary,
            CanaryState::Promoted,
            actor,
            None,
            figures,
        )
        .await?;
        change.commit().await?;
        Ok((ended, after))
    }

    /// Abort a running canary: every call goes back to the current version.
    /// `figures` are the guardrail figures that caused it, when a guardrail did.
    pub async fn abort_canary(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        reason: Option<&str>,
        figures: Option<&Value>,
    ) -> Result<Canary, RegistryError> {
        actor.may(Action::SteerRollout, On::Tenant(tenant))?;
        if let Some(reason) = reason {
            crate::bounds::REASON.text(reason)?;
        }
        let mut change = Change::begin(&self.db, actor).await?;
        let canary = Self::running_in(&mut change, tenant, id).await?;
        let ended = Self::end(
            &mut change,
            canary,
            CanaryState::Aborted,
            actor,
            reason,
            figures,
        )
        .await?;
        change.commit().await?;
        Ok(ended)
    }

    async fn end(
        change: &mut Change,
        before: Canary,
        state: CanaryState,
        actor: &Principal,
        reason: Option<&str>,
        figures: Option<&Value>,
    ) -> Result<Canary, RegistryError> {
        let after = Canary {
            state,
            ended_at: Some(now_ms()),
            ended_by: Some(actor.to_string()),
            reason: reason.map(str::to_owned),
            figures: figures.cloned(),
            ..before.clone()
        };
        sqlx::query(
            "UPDATE canaries SET state = $1, ended_at = $2, ended_by = $3, reason = $4, \
             figures = $5 WHERE id = $6",
        )
        .bind(state.as_str())
        .bind(after.ended_at)
        .bind(&after.ended_by)
        .bind(&after.reason)
        .bind(figures.map(Value::to_string))
        .bind(&after.id)
        .execute(change.conn())
        .await?;
        let mut recorded = view(&after);
        if let Some(figures) = figures {
            recorded["figures"] = figures.clone();
        }
        change
            .record(
                match state {
                    CanaryState::Promoted => "canary.promote",
                    _ => "canary.abort",
                },
                &format!("{}/{}", after.tenant, after.install),
                Some(&after.tenant),
                &view(&before),
                &recorded,
            )
            .await?;
        Ok(after)
    }

    /// End the running canary of an install being removed (inside its change).
    pub(crate) async fn end_canary_of_removed(
        change: &mut Change,
        install: &Install,
        actor: &Principal,
    ) -> Result<(), RegistryError> {
        if let Some(canary) = install.canary.clone() {
            Self::end(
                change,
                canary,
                CanaryState::Aborted,
                actor,
                Some("the install was removed"),
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// Store what `host` counted for a canary so far (cumulative, replacing
    /// its last report). Not audited: counters, not decisions.
    pub async fn save_canary_tallies(
        &self,
        canary: &str,
        host: &str,
        tallies: &Value,
    ) -> Result<(), RegistryError> {
        sqlx::query(
            "INSERT INTO canary_tallies (canary, host, tallies, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (canary, host) DO UPDATE SET tallies = excluded.tallies, \
             updated_at = excluded.updated_at",
        )
        .bind(canary)
        .bind(host)
        .bind(tallies.to_string())
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Every host's tallies of a canary.
    pub async fn canary_tallies(&self, canary: &str) -> Result<Vec<Value>, RegistryError> {
        let rows =
            sqlx::query("SELECT tallies FROM canary_tallies WHERE canary = $1 ORDER BY host")
                .bind(canary)
                .fetch_all(self.db.pool())
                .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get(0)?;
                serde_json::from_str(&text).map_err(|e| corrupt("tallies", e))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_percentages_in_basis_points() {
        assert_eq!(share_bp(0.0).ok(), Some(0));
        assert_eq!(share_bp(12.5).ok(), Some(1250));
        assert_eq!(share_bp(100.0).ok(), Some(FULL_SHARE));
        for bad in [-1.0, 100.01, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(
                    share_bp(bad),
                    Err(RegistryError::Invalid { field: "share", .. })
                ),
                "{bad}"
            );
        }
    }
}
