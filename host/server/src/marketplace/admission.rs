//! Admission: which calls may run now, so that one tenant's slow or greedy
//! calls cost only that tenant's share of the host.
//!
//! A call runs only while it holds a slot of its install, a slot of its
//! tenant, and its memory limit from both the tenant's and the host's memory
//! budgets. A call that cannot have them at once waits in its tenant's
//! queue, which is bounded in length (past it: `429`, the tenant is over its
//! share) and in time (past it: `503`, the host is full); both say when to
//! retry. The permits travel with the invocation onto its worker thread, so
//! a caller that goes away does not free a slot whose call still runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Memory budgets count in wasm pages.
const PAGE: u64 = 64 << 10;

/// The host's admission settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Calls of one tenant that run at once.
    pub tenant_concurrency: u32,
    /// Calls of one install that run at once.
    pub install_concurrency: u32,
    /// Calls of one tenant that may wait for a slot; more are refused `429`.
    pub tenant_queue: u32,
    /// How long a call may wait for its slots; then it is refused `503`.
    pub queue_wait: Duration,
    /// Bytes of memory limits of all calls running at once on this host.
    pub host_memory: u64,
    /// Bytes of memory limits of one tenant's calls running at once.
    pub tenant_memory: u64,
    /// The longest a component may take to compile (at upload, or at its
    /// first load on a host without it in the disk cache).
    pub compile_timeout: Duration,
    /// Run the calls of installs whose calls are slow on the slow lane (a
    /// pool at lower CPU priority; see `lanes`). Off only to measure it.
    pub slow_lane: bool,
    /// Run the calls of installs proven cheap on the serving thread itself
    /// (see `lanes`). Off only to measure it.
    pub inline: bool,
}

impl Default for AdmissionConfig {
    /// Sized for a small host (2 cores, a few GiB spare): a tenant's cheap
    /// calls (~100 µs) need few slots to serve thousands per second, and a
    /// tenant's slow calls then occupy at most a few threads.
    fn default() -> Self {
        AdmissionConfig {
            tenant_concurrency: 8,
            install_concurrency: 4,
            tenant_queue: 64,
            queue_wait: Duration::from_secs(2),
            host_memory: 4 << 30,
            tenant_memory: 1 << 30,
            compile_timeout: Duration::from_secs(60),
            slow_lane: true,
            inline: true,
        }
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The tenant's queue is full: it is over its share.
    #[error(
        "tenant `{tenant}` already has {waiting} calls waiting for a slot (at most {running} run at once); retry in {retry_after} s"
    )]
    TenantBusy {
        /// The tenant.
        tenant: String,
        /// Calls waiting.
        waiting: u32,
        /// Its concurrency.
        running: u32,
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// No slot or memory came free within the queue wait.
    #[error("the host had no room for this call within {waited_ms} ms; retry in {retry_after} s")]
    HostBusy {
        /// How long it waited.
        waited_ms: u64,
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// The call's memory limit is more than a whole budget.
    #[error(
        "the call's memory limit of {asked} bytes is more than the {budget}-byte {which} memory budget"
    )]
    TooLarge {
        /// Its memory limit.
        asked: u64,
        /// The budget.
        budget: u64,
        /// `host` or `tenant`.
        which: &'static str,
    },
}

impl Refusal {
    /// Seconds the caller should wait before retrying, if it should.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Refusal::TenantBusy { retry_after, .. } | Refusal::HostBusy { retry_after, .. } => {
                Some(*retry_after)
            }
            Refusal::TooLarge { .. } => None,
        }
    }
}

/// What a running call holds; dropping it frees its slots and memory.
#[derive(Debug)]
pub struct Admitted {
    _permits: [OwnedSemaphorePermit; 4],
}

#[derive(Debug)]
struct TenantGate {
    calls: Arc<Semaphore>,
    memory: Arc<Semaphore>,
    waiting: AtomicU32,
    installs: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl TenantGate {
    /// Nobody holds or waits on any of its permits, so a fresh gate would
    /// behave the same: dropping it forgets nothing.
    fn idle(self: &Arc<Self>) -> bool {
        let installs = self.installs.lock().unwrap_or_else(|p| p.into_inner());
        Arc::strong_count(self) == 1
            && Arc::strong_count(&self.calls) == 1
            && Arc::strong_count(&self.memory) == 1
            && installs.values().all(|slot| Arc::strong_count(slot) == 1)
    }
}

/// Gates of tenants not calling are dropped once the map passes this many
/// (and twice what the last pruning kept), so a host serving many tenants
/// holds gates only for those with calls running or waiting.
pub const GATES_KEPT: usize = 1024;

/// The gates of every tenant and install, and the host's memory.
#[derive(Debug)]
pub struct Admission {
    config: AdmissionConfig,
    host_memory: Arc<Semaphore>,
    tenants: Mutex<Gates>,
}

#[derive(Debug, Default)]
struct Gates {
    by_tenant: HashMap<String, Arc<TenantGate>>,
    /// Prune when `by_tenant` grows past this.
    high_water: usize,
}

fn pages(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(PAGE)).unwrap_or(u32::MAX)
}

impl Admission {
    /// Gates with `config`.
    pub fn new(config: AdmissionConfig) -> Self {
        Admission {
            host_memory: Arc::new(Semaphore::new(pages(config.host_memory) as usize)),
            config,
            tenants: Mutex::new(Gates {
                by_tenant: HashMap::new(),
                high_water: GATES_KEPT,
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &AdmissionConfig {
        &self.config
    }

    /// Tenants with a gate held: those calling, and those not yet pruned.
    pub fn gates_held(&self) -> usize {
        let gates = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        gates.by_tenant.len()
    }

    fn tenant(&self, tenant: &str) -> Arc<TenantGate> {
        let mut gates = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(gate) = gates.by_tenant.get(tenant) {
            return gate.clone();
        }
        if gates.by_tenant.len() >= gates.high_water {
            gates.by_tenant.retain(|_, gate| !gate.idle());
            gates.high_water = (2 * gates.by_tenant.len()).max(GATES_KEPT);
        }
        let gate = Arc::new(TenantGate {
            calls: Arc::new(Semaphore::new(self.config.tenant_concurrency as usize)),
            memory: Arc::new(Semaphore::new(pages(self.config.tenant_memory) as usize)),
            waiting: AtomicU32::new(0),
            installs: Mutex::new(HashMap::new()),
        });
        gates.by_tenant.insert(tenant.to_owned(), gate.clone());
        gate
    }

    fn install(&self, gate: &TenantGate, install: &str) -> Arc<Semaphore> {
        let mut installs = gate.installs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = installs.get(install) {
            return slot.clone();
        }
        let slot = Arc::new(Semaphore::new(self.config.install_concurrency as usize));
        installs.insert(install.to_owned(), slot.clone());
        slot
    }

    /// Admit a call of `install` of `tenant` that may use `memory` bytes,
    /// waiting in the tenant's queue if it must.
    pub async fn admit(
        &self,
        tenant: &str,
        install: &str,
        memory: u64,
    ) -> Result<Admitted, Refusal> {
        for (budget, which) in [
            (self.config.host_memory, "host"),
            (self.config.tenant_memory, "tenant"),
        ] {
            if memory > budget {
                return Err(Refusal::TooLarge {
                    asked: memory,
                    budget,
                    which,
                });
            }
        }
        let gate = self.tenant(tenant);
        let slot = self.install(&gate, install);
        let waiting = gate.waiting.fetch_add(1, Ordering::AcqRel) + 1;
        let _leave = Leave(&gate.waiting);
        // Those running do not count as waiting.
        let queued = waiting.saturating_sub(gate.calls.available_permits() as u32);
        if queued > self.config.tenant_queue {
            return Err(Refusal::TenantBusy {
                tenant: tenant.to_owned(),
                waiting: queued,
                running: self.config.tenant_concurrency,
                retry_after: 1,
            });
        }
        let need = pages(memory);
        let wait = self.config.queue_wait;
        let acquire = async {
            let install = slot.acquire_owned().await;
            let calls = gate.calls.clone().acquire_owned().await;
            let tenant_memory = gate.memory.clone().acquire_many_owned(need).await;
            let host_memory = self.host_memory.clone().acquire_many_owned(need).await;
            match (install, calls, tenant_memory, host_memory) {
                (Ok(a), Ok(b), Ok(c), Ok(d)) => Some([a, b, c, d]),
                // The semaphores are never closed.
                _ => None,
            }
        };
        match tokio::time::timeout(wait, acquire).await {
            Ok(Some(permits)) => Ok(Admitted { _permits: permits }),
            Ok(None) | Err(_) => Err(Refusal::HostBusy {
                waited_ms: wait.as_millis() as u64,
                retry_after: 1,
            }),
        }
    }
}

/// Leaves the tenant's queue however `admit` ends.
struct Leave<'a>(&'a AtomicU32);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> AdmissionConfig {
        AdmissionConfig {
            tenant_concurrency: 2,
            install_concurrency: 2,
            tenant_queue: 1,
            queue_wait: Duration::from_millis(50),
            host_memory: 4 * PAGE,
            tenant_memory: 3 * PAGE,
            compile_timeout: Duration::from_secs(1),
            slow_lane: false,
            inline: false,
        }
    }

    #[tokio::test]
    async fn a_tenant_past_its_slots_and_queue_is_refused_while_others_run() {
        let gates = Arc::new(Admission::new(small()));
        let a1 = gates.admit("a", "x", PAGE).await.expect("first");
        let a2 = gates.admit("a", "y", PAGE).await.expect("second");
        // A third waits (the queue holds one) and times out: 503.
        let waiter = {
            let gates = gates.clone();
            tokio::spawn(async move { gates.admit("a", "x", PAGE).await })
        };
        // Wait until it is queued, on the condition, not a sleep.
        while gates.tenant("a").waiting.load(Ordering::Acquire) < 1 {
            tokio::task::yield_now().await;
        }
        // A fourth finds the queue full: 429, with when to retry.
        let refused = gates.admit("a", "x", PAGE).await.expect_err("queue full");
        assert!(matches!(refused, Refusal::TenantBusy { .. }), "{refused}");
        assert_eq!(refused.retry_after(), Some(1));
        // Another tenant runs meanwhile.
        let b = gates.admit("b", "x", PAGE).await.expect("other tenant");
        let timed_out = waiter.await.expect("joins").expect_err("no slot came free");
        assert!(matches!(timed_out, Refusal::HostBusy { .. }), "{timed_out}");
        drop((a1, a2, b));
        gates.admit("a", "x", PAGE).await.expect("slots freed");
    }

    #[tokio::test]
    async fn memory_budgets_admit_a_call_only_when_its_limit_fits() {
        let gates = Admission::new(small());
        let big = gates.admit("a", "x", 3 * PAGE).await.expect("fits");
        // The tenant's budget is used up; the host has one page left.
        let refused = gates.admit("a", "y", PAGE).await.expect_err("tenant full");
        assert!(matches!(refused, Refusal::HostBusy { .. }));
        let other = gates.admit("b", "y", PAGE).await.expect("host page");
        assert!(gates.admit("c", "y", PAGE).await.is_err(), "host full");
        drop((big, other));
        assert!(matches!(
            gates.admit("a", "x", 5 * PAGE).await,
            Err(Refusal::TooLarge { which: "host", .. })
        ));
        gates.admit("c", "y", PAGE).await.expect("memory freed");
    }

    #[tokio::test]
    async fn an_install_is_limited_within_its_tenant() {
        let gates = Admission::new(AdmissionConfig {
            install_concurrency: 1,
            ..small()
        });
        let one = gates.admit("a", "x", PAGE).await.expect("first");
        assert!(gates.admit("a", "x", PAGE).await.is_err());
        gates.admit("a", "y", PAGE).await.expect("other install");
        drop(one);
    }

    #[tokio::test]
    async fn idle_tenants_gates_are_dropped_and_busy_ones_kept() {
        let gates = Admission::new(AdmissionConfig {
            tenant_concurrency: 1,
            ..small()
        });
        let busy = gates.admit("busy", "x", PAGE).await.expect("admitted");
        for tenant in 0..10 * GATES_KEPT {
            drop(
                gates
                    .admit(&format!("t{tenant}"), "x", PAGE)
                    .await
                    .expect("idle host"),
            );
        }
        let held = gates.gates_held();
        assert!(held <= 2 * GATES_KEPT, "{held} gates held");
        // The busy tenant's gate survived every pruning: its one slot is
        // still taken, so a second call waits and times out.
        assert!(matches!(
            gates.admit("busy", "y", PAGE).await,
            Err(Refusal::HostBusy { .. })
        ));
        drop(busy);
        gates.admit("busy", "y", PAGE).await.expect("slot freed");
    }
}
