//! Canary rollouts as a host runs them: which version serves a call, what
//! each version's calls did, and the guardrails that may abort the canary.
//!
//! **Assignment.** A call's unit is its `customer`, `customer-id`, `unit` or
//! `unit-id` argument (or such a field of a record argument), else the
//! `X-Mercato-Unit` header, else a random draw for that call alone. Its
//! bucket is the first 8 bytes of `sha256("{tenant}/{install}\n{rollout}\n{unit}")`
//! read big-endian, modulo 10 000; the candidate serves buckets below the
//! share in basis points. So every host routes a unit alike, a unit on the
//! candidate stays there when the share grows, and a shrinking share sends
//! back only the buckets beyond it. `X-Mercato-Version: candidate|current`
//! (or the version itself) forces one call, for a director only.
//!
//! **Counting.** Each host keeps cumulative tallies per canary (kept across
//! cache refreshes, by canary id) and stores them at most every
//! [`FLUSH_EVERY`]; the figures sum every host's row, so several hosts on one
//! PostgreSQL database judge one canary together. A host that stores its
//! tallies also looks at the guardrails and aborts an auto-abort canary
//! whose candidate is worse; reading a canary's status looks too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mercato_registry::canaries::{Canary, CanaryState, NewCanary};
use mercato_registry::{PackageVersion, Principal, Registry, RegistryError, Role};
use mercato_runtime::{CallContext, Function, InvokeError, Limits, LoadedComponent, Outcome};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::guardrails::{self, Tallies};
use super::{Active, MarketError, Marketplace, lanes};

/// How often a host stores a canary's tallies (and looks at its guardrails).
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Arguments that name the unit a call is for.
const UNIT_PARAMS: &[&str] = &["customer", "customer-id", "unit", "unit-id"];

/// The candidate version of an install with a running canary, ready to call.
#[derive(Debug)]
pub struct Candidate {
    /// The canary.
    pub rollout: Canary,
    /// The candidate version.
    pub version: Arc<PackageVersion>,
    /// Its component.
    pub component: Arc<LoadedComponent>,
    /// Same scope and settings as the install; its own grants and version label.
    pub call: Arc<CallContext>,
    /// Its limits.
    pub limits: Limits,
    pub(super) lane: lanes::Costs,
    tally: Arc<RolloutTally>,
}

/// Which version a call goes to, and whether it was routed by share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// By the share; counted in the guardrails.
    Routed {
        /// The candidate serves it.
        candidate: bool,
    },
    /// By the caller's header; counted apart.
    Forced {
        /// The candidate serves it.
        candidate: bool,
    },
}

impl Pick {
    /// Whether the candidate serves the call.
    pub fn candidate(self) -> bool {
        match self {
            Pick::Routed { candidate } | Pick::Forced { candidate } => candidate,
        }
    }
}

/// What the caller said about routing (HTTP headers).
#[derive(Debug, Clone, Default)]
pub struct Route {
    /// `X-Mercato-Unit`.
    pub unit: Option<String>,
    /// `X-Mercato-Version`: `candidate`, `current` or a version.
    pub force: Option<String>,
}

/// A canary's bucket for `unit`: 0..10 000.
pub fn bucket(tenant: &str, install: &str, rollout: &str, unit: &str) -> u32 {
    let digest = Sha256::new()
        .chain_update(tenant)
        .chain_update(b"/")
        .chain_update(install)
        .chain_update(b"\n")
        .chain_update(rollout)
        .chain_update(b"\n")
        .chain_update(unit)
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(mercato_registry::canaries::FULL_SHARE)) as u32
}

/// The unit a call names through its arguments.
pub fn unit_of<'a>(function: &Function, args: &'a Value) -> Option<&'a str> {
    let named = |v: &'a Value| {
        UNIT_PARAMS
            .iter()
            .find_map(|p| v.get(*p).and_then(Value::as_str))
    };
    if function
        .params
        .iter()
        .any(|(n, _)| UNIT_PARAMS.contains(&n.as_str()))
        && let Some(unit) = named(args)
    {
        return Some(unit);
    }
    // A record argument that names its customer (`draft.customer`).
    function
        .params
        .iter()
        .find_map(|(n, _)| args.get(n).filter(|v| v.is_object()).and_then(named))
}

fn random_bucket() -> u32 {
    let mut b = [0u8; 8];
    // Without randomness the call goes to the current version: the safe side.
    if getrandom::fill(&mut b).is_err() {
        return u32::MAX;
    }
    (u64::from_le_bytes(b) % u64::from(mercato_registry::canaries::FULL_SHARE)) as u32
}

/// Which version serves a call of `function` with `args`.
pub fn pick(
    active: &Active,
    candidate: &Candidate,
    function: &str,
    args: &Value,
    route: &Route,
) -> Result<Pick, MarketError> {
    if let Some(force) = &route.force {
        let to_candidate = match force.as_str() {
            "candidate" => true,
            "current" => false,
            v if v == candidate.rollout.candidate.to_string() => true,
            v if v == active.install.version.to_string() => false,
            other => {
                return Err(RegistryError::invalid(
                    "x-mercato-version",
                    format!(
                        "`{other}` is neither `candidate`, `current`, {} nor {}",
                        candidate.rollout.candidate, active.install.version
                    ),
                )
                .into());
            }
        };
        return Ok(Pick::Forced {
            candidate: to_candidate,
        });
    }
    let r = &candidate.rollout;
    let unit = active
        .component
        .function(function)
        .and_then(|f| unit_of(f, args))
        .or(route.unit.as_deref());
    let b = match unit {
        Some(unit) => bucket(&r.tenant, &r.install, &r.id, unit),
        None => random_bucket(),
    };
    Ok(Pick::Routed {
        candidate: b < r.share_bp,
    })
}

/// One canary's tallies on this host.
#[derive(Debug, Default)]
struct RolloutTally {
    tallies: Mutex<Tallies>,
    /// Milliseconds since the host's start, at the last store.
    flushed_ms: AtomicU64,
    flushing: AtomicBool,
}

/// Every canary's tallies on this host, by canary id.
#[derive(Debug)]
pub(super) struct Counting {
    host: String,
    by_rollout: Arc<Mutex<HashMap<String, Arc<RolloutTally>>>>,
    started: Instant,
    /// Set when this host's guardrail aborted a canary from a background
    /// task: its caches must go at the next call.
    pub(super) aborted: Arc<AtomicBool>,
}

impl Counting {
    pub(super) fn new() -> Self {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Counting {
            host: format!("host-{}", hex::encode(b)),
            by_rollout: Arc::new(Mutex::new(HashMap::new())),
            started: Instant::now(),
            aborted: Arc::new(AtomicBool::new(false)),
        }
    }

    fn tally(&self, rollout: &str) -> Arc<RolloutTally> {
        let mut map = self.by_rollout.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(rollout.to_owned()).or_default().clone()
    }

    fn forget_ended(&self, rollout: &str) {
        self.by_rollout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(rollout);
    }
}

fn count_into(t: &mut Tallies, share_bp: u32, pick: Pick, result: &Result<Outcome, MarketError>) {
    let candidate = pick.candidate();
    let arm = if candidate {
        &mut t.candidate
    } else {
        &mut t.current
    };
    if matches!(pick, Pick::Forced { .. }) {
        arm.forced += 1;
        return;
    }
    match result {
        Ok(outcome) => {
            arm.calls += 1;
            if outcome.returned_error() {
                arm.errors += 1;
            }
            arm.latency_us
                .push(outcome.elapsed.as_secs_f64() * 1_000_000.0);
            arm.fuel.push(outcome.fuel_used as f64);
            arm.events += outcome.events as u64;
        }
        Err(MarketError::Invoke(e)) if counts_against(e) => {
            arm.calls += 1;
            arm.errors += 1;
            if let Some(limit) = e.limit() {
                *arm.limits.entry(limit.as_str().to_owned()).or_default() += 1;
            }
        }
        // Not the version's doing (admission, a busy database, bad
        // arguments): not counted, on either side.
        Err(_) => return,
    }
    t.expected_candidate += f64::from(share_bp) / f64::from(mercato_registry::canaries::FULL_SHARE);
}

/// Whether a failed call counts against the version that ran it.
fn counts_against(e: &InvokeError) -> bool {
    !matches!(
        e,
        InvokeError::BadArguments { .. }
            | InvokeError::UnknownFunction { .. }
            | InvokeError::Busy
            | InvokeError::Storage(_)
    )
}

/// The account a guardrail acts as in the audit log.
fn guardrail() -> Principal {
    Principal {
        account: "guardrail".to_owned(),
        name: "guardrail".to_owned(),
        role: Role::Operator,
        tenant: None,
        publisher: None,
    }
}

/// Store this host's tallies of `rollout` (replacing its last report) and
/// sum every host's.
async fn store_and_sum(
    registry: &Registry,
    host: &str,
    rollout: &str,
    tally: &RolloutTally,
) -> Result<Tallies, RegistryError> {
    let mine = tally
        .tallies
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mine = serde_json::to_value(&mine).map_err(|e| RegistryError::Corrupt(e.to_string()))?;
    registry.save_canary_tallies(rollout, host, &mine).await?;
    let mut sum = Tallies::default();
    for row in registry.canary_tallies(rollout).await? {
        let t: Tallies = serde_json::from_value(row)
            .map_err(|e| RegistryError::Corrupt(format!("stored canary tallies: {e}")))?;
        sum.add(&t);
    }
    Ok(sum)
}

/// Store this host's tallies, sum every host's, and abort an auto-abort
/// canary whose candidate is worse. Returns the summed figures.
async fn flush_and_judge(
    registry: &Registry,
    host: &str,
    rollout: &Canary,
    tally: &RolloutTally,
) -> Result<(Tallies, guardrails::Figures, Option<Canary>), RegistryError> {
    let sum = store_and_sum(registry, host, &rollout.id, tally).await?;
    let figures = guardrails::figures(&sum);
    let mut aborted = None;
    if rollout.state == CanaryState::Running
        && rollout.auto_abort
        && !figures.tripped.is_empty()
        && figures.srm["mismatch"] != true
        && let Some(reason) = figures.reason()
    {
        match registry
            .abort_canary(
                &guardrail(),
                &rollout.tenant,
                &rollout.id,
                Some(&reason),
                Some(&figures.json()),
            )
            .await
        {
            Ok(c) => {
                tracing::warn!(rollout = %c.id, tenant = %c.tenant, %reason, "canary aborted by its guardrail");
                aborted = Some(c);
            }
            // Another host (or the director) ended it first.
            Err(RegistryError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((sum, figures, aborted))
}

impl Marketplace {
    /// The candidate of an install's running canary, resolved like the install.
    pub(super) async fn resolve_candidate(
        &self,
        install: &mercato_registry::Install,
        tenant_caps: Limits,
    ) -> Result<Option<Arc<Candidate>>, MarketError> {
        let Some(rollout) = install.canary.clone() else {
            return Ok(None);
        };
        let serving = self
            .serving(install, &rollout.candidate, tenant_caps)
            .await?;
        Ok(Some(Arc::new(Candidate {
            lane: self.lanes.costs(
                &install.tenant,
                &install.id,
                &format!("{}@{}", serving.version.name, serving.version.version),
            ),
            tally: self.counting.tally(&rollout.id),
            call: serving.call,
            limits: serving.limits,
            component: serving.component,
            version: serving.version,
            rollout,
        })))
    }

    /// Count a call of an install with a running canary; store the tallies
    /// (and look at the guardrails) when the last store is old enough.
    pub(super) fn count(
        &self,
        candidate: &Candidate,
        pick: Pick,
        result: &Result<Outcome, MarketError>,
    ) {
        let tally = &candidate.tally;
        count_into(
            &mut tally.tallies.lock().unwrap_or_else(|p| p.into_inner()),
            candidate.rollout.share_bp,
            pick,
            result,
        );
        let now = self.counting.started.elapsed().as_millis() as u64 + 1;
        let last = tally.flushed_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < FLUSH_EVERY.as_millis() as u64
            || tally.flushing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        tally.flushed_ms.store(now, Ordering::Relaxed);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tally.flushing.store(false, Ordering::Release);
            return;
        };
        let registry = self.registry.clone();
        let host = self.counting.host.clone();
        let rollout = candidate.rollout.clone();
        let tally = tally.clone();
        let aborted = self.counting.aborted.clone();
        let by_rollout = self.counting.by_rollout.clone();
        handle.spawn(async move {
            match flush_and_judge(&registry, &host, &rollout, &tally).await {
                Ok((_, _, Some(ended))) => {
                    // Its figures are on the rollout now; the tally is done.
                    by_rollout
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&ended.id);
                    aborted.store(true, Ordering::Release);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(rollout = %rollout.id, "cannot store canary tallies: {e}"),
            }
            tally.flushing.store(false, Ordering::Release);
        });
    }

    /// Start a canary of `new.version` on an install: the candidate is
    /// loaded (signature checked) and validates the install's settings first.
    pub async fn start_rollout(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
        new: NewCanary,
    ) -> Result<Canary, MarketError> {
        let (current, target) = self
            .registry
            .plan_canary(actor, tenant, install, &new)
            .await?;
        let component = self.component(&target.name, &target.version).await?;
        self.validate_settings(component, tenant, install, &current.settings)
            .await?;
        let canary = self
            .registry
            .start_canary(actor, tenant, install, &new, &current.version)
            .await?;
        self.forget();
        Ok(canary)
    }

    /// A canary with its guardrail figures: live for a running one (this
    /// host's tallies stored first, so the figures are as of now), as they
    /// were at its end otherwise. Looking may abort an auto-abort canary.
    pub async fn rollout_status(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<Value, MarketError> {
        let rollout = self.registry.canary(actor, tenant, id).await?;
        if rollout.state != CanaryState::Running {
            return Ok(json!({"rollout": rollout, "figures": rollout.figures}));
        }
        let tally = self.counting.tally(&rollout.id);
        let (_, figures, aborted) =
            flush_and_judge(&self.registry, &self.counting.host, &rollout, &tally).await?;
        if let Some(ended) = aborted {
            self.counting.forget_ended(&ended.id);
            self.forget();
            return Ok(json!({"rollout": ended, "figures": figures.json()}));
        }
        Ok(json!({"rollout": rollout, "figures": figures.json()}))
    }

    /// Change a running canary's share.
    pub async fn set_rollout_share(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        share: f64,
    ) -> Result<Canary, MarketError> {
        let canary = self
            .registry
            .set_canary_share(actor, tenant, id, share)
            .await?;
        self.forget();
        Ok(canary)
    }

    /// Promote a running canary: the install moves to the candidate.
    pub async fn promote_rollout(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<Value, MarketError> {
        let figures = self.final_figures(actor, tenant, id).await?;
        let (canary, install) = self
            .registry
            .promote_canary(actor, tenant, id, figures.as_ref())
            .await?;
        self.counting.forget_ended(id);
        self.forget();
        Ok(json!({"rollout": canary, "install": install}))
    }

    /// Abort a running canary: every call goes back to the current version.
    pub async fn abort_rollout(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        reason: Option<&str>,
    ) -> Result<Canary, MarketError> {
        let figures = self.final_figures(actor, tenant, id).await?;
        let canary = self
            .registry
            .abort_canary(actor, tenant, id, reason, figures.as_ref())
            .await?;
        self.counting.forget_ended(id);
        self.forget();
        Ok(canary)
    }

    /// The figures to keep on a canary a director ends.
    async fn final_figures(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<Option<Value>, MarketError> {
        let rollout = self.registry.canary(actor, tenant, id).await?;
        if rollout.state != CanaryState::Running {
            return Ok(None);
        }
        // This host's latest counts may not be stored yet.
        let tally = self.counting.tally(id);
        let sum = store_and_sum(&self.registry, &self.counting.host, id, &tally).await?;
        Ok(Some(guardrails::figures(&sum).json()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_spread_and_monotone_in_the_share() {
        let b: Vec<u32> = (0..10_000)
            .map(|i| bucket("acme", "booking", "can-1", &format!("u{i}")))
            .collect();
        assert_eq!(b[17], bucket("acme", "booking", "can-1", "u17"));
        assert!(b.iter().all(|x| *x < 10_000));
        // About a quarter below 2 500.
        let quarter = b.iter().filter(|x| **x < 2_500).count();
        assert!((2_300..2_700).contains(&quarter), "{quarter}");
        // Another rollout draws other buckets.
        assert_ne!(b[17], bucket("acme", "booking", "can-2", "u17"));
    }
}
