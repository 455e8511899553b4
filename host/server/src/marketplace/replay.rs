//! Replay: calls run against a candidate version and the current one side
//! by side, in the sandbox, with nothing leaving it.
//!
//! Each side gets its own in-memory copy of the install's state as it was
//! when the replay began, and reads customer profiles masked whatever its
//! grants; its events and approval requests stay in its copy (counted in the
//! report, never delivered); the real store is only read, once, for the
//! copy. Calls run in their recorded order, each at its recorded time on
//! both sides, under each version's own limits. The report counts identical
//! results, lists every other one with a structured diff, names new errors
//! and limit hits, and gives fuel, latency and memory per side (p50, p95,
//! max) with the candidate's deltas.
//!
//! The same runner replays a package's fixture calls for its reviewer,
//! from empty state and no customers, against the last approved version.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mercato_registry::access::{Action, On};
use mercato_registry::recordings::{MAX_CALLS, RecordedCall};
use mercato_registry::replays::{NewReplay, Replay};
use mercato_registry::{
    Commit, CustomerDirectory, CustomerProfile, MemoryCustomers, MemoryState, Principal,
    RegistryError, Scope, StateError, StateStore, VersionState,
};
use mercato_runtime::{CallContext, Grants, InvokeError, Limits, LoadedComponent, Runtime, World};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{MarketError, Marketplace, Serving};

/// Most changes listed for one differing call.
const MAX_CHANGES_PER_CALL: usize = 50;
/// Most differing calls listed in a report (all are counted).
const MAX_LISTED: usize = 1_000;

/// A director's request to replay an install's recordings.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// The approved version to try (not the one the install runs).
    pub candidate: String,
    /// Replay at most this many of the newest recorded calls (default: all).
    #[serde(default)]
    pub calls: Option<u32>,
}

/// One call to replay.
#[derive(Debug, Clone)]
pub struct ReplayCall {
    /// Its recording's id (none for a fixture).
    pub id: Option<String>,
    /// When it ran (milliseconds since the epoch): both sides see this time.
    pub at: u64,
    /// The WIT function.
    pub function: String,
    /// Its arguments.
    pub args: Value,
}

impl From<RecordedCall> for ReplayCall {
    fn from(call: RecordedCall) -> Self {
        ReplayCall {
            id: Some(call.id),
            at: u64::try_from(call.at).unwrap_or(0),
            function: call.function,
            args: call.args,
        }
    }
}

/// One side of a replay: a version's component, call context and limits.
#[derive(Debug, Clone)]
pub struct Side {
    /// Its version, for the report.
    pub version: String,
    /// Its component.
    pub component: Arc<LoadedComponent>,
    /// Scope, grants, settings.
    pub call: Arc<CallContext>,
    /// Its limits.
    pub limits: Limits,
}

impl From<&Serving> for Side {
    fn from(s: &Serving) -> Self {
        Side {
            version: s.version.version.to_string(),
            component: s.component.clone(),
            call: s.call.clone(),
            limits: s.limits,
        }
    }
}

/// Profiles as a replay reads them: always masked.
struct MaskedCustomers(Arc<dyn CustomerDirectory>);

impl CustomerDirectory for MaskedCustomers {
    fn profile(&self, tenant: &str, id: &str) -> Result<Option<CustomerProfile>, StateError> {
        Ok(self.0.profile(tenant, id)?.map(CustomerProfile::masked))
    }
}

/// What one side did with one call.
struct Ran {
    /// `{"ok": …}` or `{"error": {code, limit}}`: what is compared.
    result: Value,
    /// The error's message, shown but not compared (it may name timings).
    message: Option<String>,
    failed: bool,
    limit: Option<String>,
    fuel: u64,
    micros: u64,
    memory: u64,
}

fn ran(result: Result<mercato_runtime::Outcome, InvokeError>) -> Ran {
    match result {
        Ok(outcome) => Ran {
            failed: outcome.returned_error(),
            result: json!({ "ok": outcome.json() }),
            message: None,
            limit: None,
            fuel: outcome.fuel_used,
            micros: outcome.elapsed.as_micros() as u64,
            memory: outcome.memory_peak,
        },
        Err(e) => Ran {
            result: json!({ "error": { "code": e.code(), "limit": e.limit().map(|l| l.to_string()) } }),
            message: Some(e.to_string()),
            failed: true,
            limit: e.limit().map(|l| l.to_string()),
            fuel: 0,
            micros: 0,
            memory: 0,
        },
    }
}

impl Ran {
    fn shown(&self) -> Value {
        let mut v = self.result.clone();
        if let (Some(message), Some(error)) = (&self.message, v.get_mut("error")) {
            error["message"] = json!(message);
        }
        v
    }
}

/// p50, p95 and max of some figures.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Spread {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

fn spread(mut values: Vec<u64>) -> Spread {
    if values.is_empty() {
        return Spread::default();
    }
    values.sort_unstable();
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize] as f64;
    Spread {
        p50: at(0.5),
        p95: at(0.95),
        max: values[values.len() - 1] as f64,
    }
}

fn delta(a: Spread, b: Spread) -> Spread {
    Spread {
        p50: b.p50 - a.p50,
        p95: b.p95 - a.p95,
        max: b.max - a.max,
    }
}

/// Every place two JSON values differ, as JSON Pointers.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<Value>) {
    if out.len() >= MAX_CHANGES_PER_CALL || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(&p, u, v, out),
                    (u, v) => out.push(json!({"path": p, "current": u, "candidate": v})),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let p = format!("{path}/{i}");
                match (x.get(i), y.get(i)) {
                    (Some(u), Some(v)) => diff(&p, u, v, out),
                    (u, v) => out.push(json!({"path": p, "current": u, "candidate": v})),
                }
            }
        }
        _ => out.push(json!({"path": path, "current": a, "candidate": b})),
    }
}

/// A copy of a scope's entries, taken in one consistent view.
fn copy_of(state: &dyn StateStore, scope: &Scope) -> Result<BTreeMap<String, Vec<u8>>, StateError> {
    for _ in 0..20 {
        let snapshot = state.snapshot(scope)?;
        if let Some(entries) = snapshot.entries {
            return Ok(BTreeMap::clone(&entries));
        }
        let mut entries = BTreeMap::new();
        for key in state.list_keys(scope, "")? {
            if let Some(value) = state.get(scope, &key)? {
                entries.insert(key, value);
            }
        }
        // Read key by key: only good if nothing moved meanwhile.
        if state.version(scope)? == snapshot.version {
            return Ok(entries);
        }
    }
    Err(StateError::Busy)
}

/// A side's world: its own store holding `entries`.
fn world_of(
    scope: &Scope,
    entries: &BTreeMap<String, Vec<u8>>,
    customers: &Arc<dyn CustomerDirectory>,
) -> Result<(World, Arc<MemoryState>), StateError> {
    let memory = Arc::new(MemoryState::new());
    if !entries.is_empty() {
        memory.commit(
            scope,
            Commit {
                base: Some(0),
                writes: entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect(),
                ..Commit::default()
            },
        )?;
    }
    let world = World::new(memory.clone(), Arc::new(MaskedCustomers(customers.clone())));
    Ok((world, memory))
}

/// Run `calls` on `candidate` and, when given, `current`, each on its own
/// copy of `entries`; the report. Blocks (call from a blocking thread).
pub fn run(
    runtime: &Runtime,
    entries: &BTreeMap<String, Vec<u8>>,
    customers: &Arc<dyn CustomerDirectory>,
    current: Option<&Side>,
    candidate: &Side,
    calls: &[ReplayCall],
    list_every_call: bool,
) -> Result<Value, StateError> {
    let scope = &candidate.call.scope;
    let (candidate_world, candidate_state) = world_of(scope, entries, customers)?;
    let current_world = current
        .map(|_| world_of(scope, entries, customers))
        .transpose()?;
    let mut identical = 0usize;
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    let mut listed = Vec::new();
    let mut new_limits: BTreeMap<String, usize> = BTreeMap::new();
    let mut limits: [BTreeMap<String, usize>; 2] = Default::default();
    let mut costs: [[Vec<u64>; 3]; 2] = Default::default();
    for (index, call) in calls.iter().enumerate() {
        let go = |side: &Side, world: &World| {
            ran(runtime.invoke_json_in(
                &world.at(call.at),
                &side.component,
                &side.call,
                &side.limits,
                &call.function,
                &call.args,
            ))
        };
        let before = match (current, &current_world) {
            (Some(side), Some((world, _))) => Some(go(side, world)),
            _ => None,
        };
        let after = go(candidate, &candidate_world);
        for (i, r) in before.iter().chain(std::iter::once(&after)).enumerate() {
            let i = if before.is_some() { i } else { 1 };
            if let Some(limit) = &r.limit {
                *limits[i].entry(limit.clone()).or_default() += 1;
            }
            if r.message.is_none() {
                costs[i][0].push(r.fuel);
                costs[i][1].push(r.micros);
                costs[i][2].push(r.memory);
            }
        }
        let kind = match &before {
            None => "no-baseline",
            Some(b) if b.result == after.result => "identical",
            Some(b) if after.failed && !b.failed => "new-error",
            Some(b) if b.failed && !after.failed => "fixed",
            Some(_) => "different",
        };
        if let (Some(b), Some(limit)) = (&before, &after.limit)
            && b.limit.as_ref() != Some(limit)
        {
            *new_limits.entry(limit.clone()).or_default() += 1;
        }
        if kind == "identical" {
            identical += 1;
        } else {
            *counts.entry(kind).or_default() += 1;
        }
        if (kind != "identical" || list_every_call) && listed.len() < MAX_LISTED {
            let mut changes = Vec::new();
            if let Some(b) = &before {
                diff("", &b.result, &after.result, &mut changes);
            }
            listed.push(json!({
                "index": index,
                "recorded_call": call.id,
                "function": call.function,
                "args": call.args,
                "kind": kind,
                "current": before.as_ref().map(Ran::shown),
                "candidate": after.shown(),
                "changes": changes,
            }));
        }
    }
    let side_costs = |i: usize| {
        json!({
            "fuel": spread(costs[i][0].clone()),
            "latency_us": spread(costs[i][1].clone()),
            "memory_bytes": spread(costs[i][2].clone()),
        })
    };
    let deltas = json!({
        "fuel": delta(spread(costs[0][0].clone()), spread(costs[1][0].clone())),
        "latency_us": delta(spread(costs[0][1].clone()), spread(costs[1][1].clone())),
        "memory_bytes": delta(spread(costs[0][2].clone()), spread(costs[1][2].clone())),
    });
    let effects = |state: &MemoryState| json!({"events": state.events(scope).len(), "approvals": state.approvals(scope).len()});
    let different = calls.len() - identical;
    Ok(json!({
        "current": current.map(|s| &s.version),
        "candidate": candidate.version,
        "calls": calls.len(),
        "identical": identical,
        "different": different,
        "new_errors": counts.get("new-error").copied().unwrap_or(0),
        "fixed": counts.get("fixed").copied().unwrap_or(0),
        "changed_results": counts.get("different").copied().unwrap_or(0),
        "new_limit_hits": new_limits,
        "limit_hits": {"current": limits[0], "candidate": limits[1]},
        "costs": {
            "current": current.map(|_| side_costs(0)),
            "candidate": side_costs(1),
            "delta": current.map(|_| deltas),
        },
        "captured": {
            "current": current_world.as_ref().map(|(_, s)| effects(s)),
            "candidate": effects(&candidate_state),
        },
        "differences": listed,
        "listed_all": listed.len() == if list_every_call { calls.len() } else { different },
    }))
}

impl Marketplace {
    /// Start replaying an install's recorded calls against `candidate`
    /// (approved, of the install's package, not its current version). The
    /// replay runs on this host in the background; read it with
    /// [`Self::replay`].
    pub async fn start_replay(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        request: ReplayRequest,
    ) -> Result<Replay, MarketError> {
        actor.may(Action::Replay, On::Tenant(tenant))?;
        let install = self.registry.installed(tenant, id).await?;
        let candidate = mercato_registry::versions::parse_version("candidate", &request.candidate)?;
        if candidate == install.version {
            return Err(RegistryError::invalid(
                "candidate",
                format!("{tenant}/{id} runs {candidate} already; name another version"),
            )
            .into());
        }
        let (record, _) = self
            .registry
            .version(&Principal::console(), &install.package, &candidate)
            .await?;
        if record.state != VersionState::Approved {
            return Err(RegistryError::conflict(
                "not-approved",
                format!(
                    "{}@{candidate} is {:?}, not approved; only approved versions are replayed",
                    install.package, record.state
                ),
            )
            .into());
        }
        let limit = request.calls.unwrap_or(MAX_CALLS).clamp(1, MAX_CALLS);
        let calls = self.recorded_calls(actor, tenant, id, limit).await?;
        if calls.is_empty() {
            return Err(RegistryError::conflict(
                "no-recordings",
                format!(
                    "{tenant}/{id} has no recorded calls; switch recording on \
                     (PUT …/installs/{id}/recording) and let calls come in"
                ),
            )
            .into());
        }
        let caps = self.registry.tenant_caps(tenant).await?;
        let current = Side::from(&self.serving(&install, &install.version, caps).await?);
        let trial = Side::from(&self.serving(&install, &candidate, caps).await?);
        let replay = self
            .registry
            .create_replay(
                actor,
                NewReplay {
                    tenant,
                    install: id,
                    package: &install.package,
                    current: &install.version,
                    candidate: &candidate,
                    calls: calls.len() as u32,
                },
            )
            .await?;
        let calls: Vec<ReplayCall> = calls.into_iter().map(ReplayCall::from).collect();
        let runtime = self.runtime.clone();
        let registry = self.registry.clone();
        let replay_id = replay.id.clone();
        tokio::spawn(async move {
            let report = tokio::task::spawn_blocking(move || {
                let world = runtime.world();
                let entries = copy_of(world.state().as_ref(), &current.call.scope)?;
                run(
                    &runtime,
                    &entries,
                    world.customers(),
                    Some(&current),
                    &trial,
                    &calls,
                    false,
                )
            })
            .await;
            let outcome = match report {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(e)) => Err(format!("the install's state could not be copied: {e}")),
                Err(e) => Err(format!("the replay stopped: {e}")),
            };
            let stored = match &outcome {
                Ok(report) => registry.finish_replay(&replay_id, Ok(report)).await,
                Err(e) => registry.finish_replay(&replay_id, Err(e)).await,
            };
            if let Err(e) = stored {
                tracing::warn!(replay = %replay_id, "cannot store the replay's end: {e}");
            }
        });
        Ok(replay)
    }

    /// A replay, with its report when finished and `with_report`.
    pub async fn replay(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        with_report: bool,
    ) -> Result<Replay, MarketError> {
        Ok(self.registry.replay(actor, tenant, id, with_report).await?)
    }

    /// A version's fixture calls replayed, for its review: the version
    /// against the last approved version before it (alone when there is
    /// none), from empty state, no customers, every permission it asks for.
    pub async fn fixture_replay(
        &self,
        actor: &Principal,
        package: &str,
        version: &semver::Version,
    ) -> Result<Value, MarketError> {
        let (record, changes) = self.registry.version(actor, package, version).await?;
        let calls: Vec<ReplayCall> = record
            .manifest
            .fixtures
            .iter()
            .map(|f| ReplayCall {
                id: None,
                at: u64::try_from(record.submitted_at).unwrap_or(0),
                function: f.function.clone(),
                args: f.args.clone(),
            })
            .collect();
        if calls.is_empty() {
            return Ok(json!({"calls": 0, "fixtures": false}));
        }
        let side = |record: &mercato_registry::PackageVersion, component| Side {
            version: record.version.to_string(),
            component,
            call: Arc::new(CallContext {
                scope: Scope::new("review", package),
                grants: record
                    .manifest
                    .permissions
                    .iter()
                    .copied()
                    .collect::<Grants>(),
                settings: "{}".into(),
                track_events: true,
                version: Some(record.version.to_string().into()),
            }),
            limits: record.manifest.limits.resolve(),
        };
        let trial = side(&record, self.component(package, version).await?);
        let baseline = match &changes.previous {
            Some(previous) => {
                let (old, _) = self
                    .registry
                    .version(&Principal::console(), package, previous)
                    .await?;
                Some(side(&old, self.component(package, previous).await?))
            }
            None => None,
        };
        let runtime = self.runtime.clone();
        let report = tokio::task::spawn_blocking(move || {
            let none: Arc<dyn CustomerDirectory> = Arc::new(MemoryCustomers::new());
            run(
                &runtime,
                &BTreeMap::new(),
                &none,
                baseline.as_ref(),
                &trial,
                &calls,
                true,
            )
        })
        .await
        .map_err(super::blocking_failed)?
        .map_err(|e| MarketError::Internal(format!("the fixture replay failed: {e}")))?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_name_every_changed_place() {
        let mut out = Vec::new();
        diff(
            "",
            &json!({"ok": {"booked": 1, "list": [1, 2], "gone": true, "a/b": 1}}),
            &json!({"ok": {"booked": 2, "list": [1], "new": "x", "a/b": 1}}),
            &mut out,
        );
        let paths: Vec<&str> = out
            .iter()
            .map(|c| c["path"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(paths, ["/ok/booked", "/ok/gone", "/ok/list/1", "/ok/new"]);
        assert_eq!(out[0]["current"], 1);
        assert_eq!(out[0]["candidate"], 2);
    }

    #[test]
    fn spreads_are_nearest_rank() {
        let s = spread((1..=100).collect());
        assert_eq!((s.p50, s.p95, s.max), (51.0, 95.0, 100.0));
        assert_eq!(spread(Vec::new()), Spread::default());
    }
}
