//! Publishing and review: uploads checked by the registry and the runtime,
//! approval with the roll-out's settings checked by the version's
//! component, yanking.

use mercato_registry::access::{Action, On};
use mercato_registry::{Decision, PackageVersion, Principal, Rollout, RolloutCheck, RolloutChecks};
use semver::Version;

use super::{MarketError, Marketplace, kind_of};
use mercato_runtime::Limits;

impl Marketplace {
    /// Check, compile and store an uploaded package as submitted.
    pub async fn publish(
        &self,
        actor: &Principal,
        bytes: Vec<u8>,
    ) -> Result<PackageVersion, MarketError> {
        let upload = self.registry.check_upload(actor, bytes).await?;
        let manifest = &upload.package.manifest;
        // The defaults lie between the floors and the caps, so only what was
        // asked can fall outside them.
        let asked = manifest.limits.or(Limits::default());
        let excess = asked.excess_over(&Limits::PLATFORM_CAPS);
        if !excess.is_empty() {
            return Err(MarketError::LimitsAboveCaps(listed(&excess, ">")));
        }
        let short = asked.short_of(&Limits::FLOORS);
        if !short.is_empty() {
            return Err(MarketError::LimitsBelowFloors(listed(&short, "<")));
        }
        let kind = kind_of(&manifest.kind)?;
        let limits = manifest.limits.resolve();
        let code = upload.package.code.clone();
        let digest = upload.package.code_digest();
        // Compiling also type-checks the component against its kind's world,
        // under the limits its calls will have, and leaves it in the disk
        // cache for the first call.
        let loaded = self.load(kind, code, digest, limits).await?;
        if loaded.wit().package() != manifest.wit {
            return Err(MarketError::WitMismatch {
                manifest: manifest.wit.clone(),
                component: loaded.wit().package(),
            });
        }
        let version = self.registry.submit(actor, upload).await?;
        self.forget();
        Ok(version)
    }

    /// Approve or reject a submitted version. Before an approval, the
    /// version's component checks the settings of every install it would
    /// roll out to; an install whose settings it refuses keeps its version
    /// and gets the new one as pending, with the component's reason.
    pub async fn review(
        &self,
        actor: &Principal,
        name: &str,
        version: &Version,
        decision: Decision,
        reason: Option<String>,
    ) -> Result<(PackageVersion, Rollout), MarketError> {
        actor.may(Action::Review, On::Platform)?;
        let mut checks = RolloutChecks::new();
        if decision == Decision::Approve {
            let candidates = self.registry.rollout_candidates(name, version).await?;
            if !candidates.is_empty() {
                let component = self.component(name, version).await?;
                for install in candidates {
                    let verdict = self
                        .validate_settings(
                            component.clone(),
                            &install.tenant,
                            &install.id,
                            &install.settings,
                        )
                        .await;
                    let refused = match verdict {
                        Ok(()) => None,
                        Err(e @ (MarketError::Settings(_) | MarketError::Invoke(_))) => {
                            Some(e.to_string())
                        }
                        Err(e) => return Err(e),
                    };
                    checks.insert(
                        (install.tenant, install.id),
                        RolloutCheck {
                            settings: install.settings,
                            refused,
                        },
                    );
                }
            }
        }
        let reviewed = self
            .registry
            .review_checked(actor, name, version, decision, reason, Some(&checks))
            .await?;
        self.forget();
        Ok(reviewed)
    }

    /// Withdraw an approved version from the catalog.
    pub async fn yank(
        &self,
        actor: &Principal,
        name: &str,
        version: &Version,
        reason: Option<String>,
    ) -> Result<PackageVersion, MarketError> {
        let yanked = self.registry.yank(actor, name, version, reason).await?;
        self.forget();
        Ok(yanked)
    }
}

/// `name asked <op> bound` for each limit out of bounds, comma-separated.
fn listed(out: &[(&str, u64, u64)], op: &str) -> String {
    out.iter()
        .map(|(name, asked, bound)| format!("{name} {asked} {op} {bound}"))
        .collect::<Vec<_>>()
        .join(", ")
}
