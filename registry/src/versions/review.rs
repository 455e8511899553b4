//! The review workflow: `submitted → approved | rejected`, `approved →
//! yanked`. Approving rolls the version out to the installs following it.

use semver::Version;
use serde::{Deserialize, Serialize};

use super::record::{PackageVersion, VersionState};
use crate::access::{Action, On};
use crate::audit::Change;
use crate::installs::{Rollout, RolloutChecks};
use crate::principal::Principal;
use crate::{RegistryError, now_ms};

/// A reviewer's decision.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Into the catalog.
    Approve,
    /// Refused; needs a reason.
    Reject,
}

impl crate::Registry {
    /// Approve or reject a submitted version (reviewers). A rejection needs
    /// a reason. Approval rolls the version out to tenants that follow a
    /// range it matches, unless it asks for permissions they have not
    /// accepted: those wait for their director. Settings are not checked:
    /// a host with the component uses [`Self::review_checked`].
    pub async fn review(
        &self,
        actor: &Principal,
        name: &str,
        version: &Version,
        decision: Decision,
        reason: Option<String>,
    ) -> Result<(PackageVersion, Rollout), RegistryError> {
        self.review_checked(actor, name, version, decision, reason, None)
            .await
    }

    /// [`Self::review`] where approval moves an install only if `checks`
    /// says the version's component accepted the settings it holds (see
    /// [`Self::rollout_candidates`]); the others wait as pending with the
    /// component's reason.
    pub async fn review_checked(
        &self,
        actor: &Principal,
        name: &str,
        version: &Version,
        decision: Decision,
        reason: Option<String>,
        checks: Option<&RolloutChecks>,
    ) -> Result<(PackageVersion, Rollout), RegistryError> {
        actor.may(Action::Review, On::Platform)?;
        let reason = crate::bounds::REASON.optional(reason)?;
        if decision == Decision::Reject && reason.is_none() {
            return Err(RegistryError::invalid(
                "reason",
                "a rejection needs a reason the publisher can act on",
            ));
        }
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::version_in(change.conn(), name, version).await?;
        if before.state != VersionState::Submitted {
            return Err(RegistryError::conflict(
                "not-submitted",
                format!(
                    "{name}@{version} is {}, only a submitted version can be reviewed",
                    before.state.as_str()
                ),
            ));
        }
        let state = match decision {
            Decision::Approve => VersionState::Approved,
            Decision::Reject => VersionState::Rejected,
        };
        let after = self
            .set_state(&mut change, actor, &before, state, reason, "package.")
            .await?;
        let rollout = if state == VersionState::Approved {
            self.roll_out(&mut change, &after, checks).await?
        } else {
            Rollout::default()
        };
        change.commit().await?;
        Ok((after, rollout))
    }

    /// Withdraw an approved version from the catalog (reviewers, operators,
    /// the publisher's developers). Tenants running it keep running it.
    pub async fn yank(
        &self,
        actor: &Principal,
        name: &str,
        version: &Version,
        reason: Option<String>,
    ) -> Result<PackageVersion, RegistryError> {
        let publisher = name.split('/').next().unwrap_or_default();
        actor.may(Action::Yank, On::Publisher(publisher))?;
        let reason = crate::bounds::REASON.optional(reason)?;
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::version_in(change.conn(), name, version).await?;
        if before.state != VersionState::Approved {
            return Err(RegistryError::conflict(
                "not-approved",
                format!(
                    "{name}@{version} is {}, only an approved version can be yanked",
                    before.state.as_str()
                ),
            ));
        }
        let after = self
            .set_state(
                &mut change,
                actor,
                &before,
                VersionState::Yanked,
                reason,
                "package.",
            )
            .await?;
        change.commit().await?;
        Ok(after)
    }

    async fn set_state(
        &self,
        change: &mut Change,
        actor: &Principal,
        before: &PackageVersion,
        state: VersionState,
        reason: Option<String>,
        action: &str,
    ) -> Result<PackageVersion, RegistryError> {
        let at = now_ms();
        sqlx::query(
            "UPDATE package_versions SET state = $1, reviewed_by = $2, reviewed_at = $3, reason = $4 \
             WHERE name = $5 AND version = $6",
        )
        .bind(state.as_str())
        .bind(&actor.name)
        .bind(at)
        .bind(&reason)
        .bind(&before.name)
        .bind(before.version.to_string())
        .execute(change.conn())
        .await?;
        let verb = match state {
            VersionState::Approved => "approve",
            VersionState::Rejected => "reject",
            VersionState::Yanked => "yank",
            VersionState::Submitted => "submit",
        };
        change
            .record(
                &format!("{action}{verb}"),
                &format!("{}@{}", before.name, before.version),
                None,
                &serde_json::json!({ "state": before.state }),
                &serde_json::json!({ "state": state, "reason": reason }),
            )
            .await?;
        Ok(PackageVersion {
            state,
            reviewed_by: Some(actor.name.clone()),
            reviewed_at: Some(at),
            reason,
            ..before.clone()
        })
    }
}
