//! Where a call runs. Three lanes, chosen per install by what its recent
//! calls cost:
//!
//! - **inline**: on the async worker that serves the request, with no hand
//!   over to another thread. For installs whose calls are known to be cheap
//!   (a sales call is ~20–100 µs of ~50 000 fuel): at least [`PROVEN`]
//!   calls of the install's component version seen (in any tenant, so a
//!   host with many tenants of few calls each still runs them inline) and
//!   none of the version's or the install's last [`COOLDOWN`] heavy (more
//!   than [`INLINE_FUEL`] fuel, or ended by a limit). Judged by fuel, which
//!   counts the work a call does, rather than by wall time, which on a busy
//!   host also counts the time the call's thread waited for a core. A call
//!   that needs the database there waits for it with the worker's other
//!   tasks handed to another thread, so the worker never stalls them. Only
//!   on a multi-thread runtime.
//! - **pool**: the shared blocking pool. New installs start here, and
//!   installs whose calls are neither cheap enough nor slow.
//! - **slow**: a pool of threads under Linux's `SCHED_IDLE` policy, for
//!   installs whose moving average is above [`SLOW`]. A waking thread of
//!   the normal policy preempts an idle-policy thread at once, so on a busy
//!   host another tenant's cheap call gets the core as soon as it is ready
//!   instead of sharing it with every thread that is burning its fuel; the
//!   slow calls still get every cycle nobody else wants.
//!
//! What a call risks inline: an install proven cheap whose next call runs
//! long holds its worker for that call (at most its deadline); the next
//! calls of that install leave the inline lane at once. Other workers keep
//! serving meanwhile and take over the held worker's queued tasks.

use std::collections::HashMap;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

/// A call of an install whose average wall time is above this runs on the
/// slow lane: well above a sales call's ~0.1 ms, well below a deadline.
pub const SLOW: Duration = Duration::from_millis(20);

/// Calls of an install seen before it may run inline.
pub const PROVEN: u32 = 16;

/// A call that burns more fuel than this (a few milliseconds of wasm) is
/// heavy: its install leaves the inline lane for the next [`COOLDOWN`] calls.
pub const INLINE_FUEL: u64 = 5_000_000;

/// See [`INLINE_FUEL`].
pub const COOLDOWN: u32 = 1000;

/// Cost records kept for installs no longer resolved on this host, before
/// they are dropped (a dropped install starts over on the pool lane).
const COSTS_KEPT: usize = 100_000;

/// Threads of the slow lane: one per core. More would not add throughput
/// (its calls burn CPU), and each extra idle-policy thread dilutes the share
/// of one that holds a lock another call waits on (a lock in the instance
/// allocator, the state store): with 32 of them on 2 cores, such a holder
/// can wait milliseconds for its turn, and so does the cheap call behind it.
/// Admitted calls beyond it queue here, their deadlines not yet started.
fn slow_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8))
}

/// What one install's recent calls cost; held by its resolved install so
/// that a call finds it without a lookup.
#[derive(Debug, Default)]
pub(crate) struct Cost {
    state: Mutex<CostState>,
}

#[derive(Debug, Default)]
struct CostState {
    /// Moving average of wall time, seconds.
    average: f64,
    /// Calls seen (saturating).
    calls: u32,
    /// Calls left before the install may run inline again.
    cooldown: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Inline,
    Pool,
    Slow,
}

/// The cost records a call is judged by: its install's (wall time, for the
/// slow lane) and its component version's (for the inline lane).
#[derive(Debug, Clone)]
pub(crate) struct Costs {
    install: Arc<Cost>,
    code: Arc<Cost>,
}

impl Costs {
    fn lane(&self, slow_lane: bool, inline: bool) -> Lane {
        let (average, install_cooldown) = {
            let c = self.install.state.lock().unwrap_or_else(|p| p.into_inner());
            (c.average, c.cooldown)
        };
        if slow_lane && average > SLOW.as_secs_f64() {
            return Lane::Slow;
        }
        let code = self.code.state.lock().unwrap_or_else(|p| p.into_inner());
        if inline && code.calls >= PROVEN && code.cooldown == 0 && install_cooldown == 0 {
            Lane::Inline
        } else {
            Lane::Pool
        }
    }

    fn record(&self, took: Duration, heavy: bool) {
        self.install.record(took, heavy);
        self.code.record(took, heavy);
    }
}

impl Cost {
    /// Note a call that ran `took` and was `heavy` (see [`INLINE_FUEL`]).
    fn record(&self, took: Duration, heavy: bool) {
        let mut c = self.state.lock().unwrap_or_else(|p| p.into_inner());
        c.average = 0.7 * c.average + 0.3 * took.as_secs_f64();
        c.calls = c.calls.saturating_add(1);
        c.cooldown = if heavy {
            COOLDOWN
        } else {
            c.cooldown.saturating_sub(1)
        };
    }
}

/// The lanes and what each install's calls recently cost.
#[derive(Debug)]
pub(crate) struct Lanes {
    slow: Mutex<Sender<Job>>,
    /// Per (tenant, install), kept across cache drops so that an install's
    /// history outlives the registry changes of other tenants.
    costs: Mutex<HashMap<(String, String), Arc<Cost>>>,
    /// Per component version (`publisher/name@version`).
    code: Mutex<HashMap<String, Arc<Cost>>>,
    slow_lane: bool,
    inline: bool,
}

impl Lanes {
    /// Start the slow lane (unless `slow_lane` is false: then slow calls
    /// run on the blocking pool, for comparison in benchmarks); `inline`
    /// allows the inline lane. If the slow lane's threads cannot start,
    /// slow calls run on the blocking pool.
    pub fn start(slow_lane: bool, inline: bool) -> Self {
        let (send, receive) = channel::<Job>();
        let receive = Arc::new(Mutex::new(receive));
        let mut enabled = slow_lane;
        if enabled {
            for n in 0..slow_threads() {
                let receive = receive.clone();
                let started = std::thread::Builder::new()
                    .name(format!("mercato-slow-{n}"))
                    .spawn(move || {
                        lower_priority();
                        loop {
                            let job = match receive.lock() {
                                Ok(r) => r.recv(),
                                Err(p) => p.into_inner().recv(),
                            };
                            match job {
                                Ok(job) => job(),
                                Err(_) => break,
                            }
                        }
                    });
                if let Err(e) = started {
                    tracing::warn!(error = %e, "cannot start the slow lane; all calls share one pool");
                    enabled = n > 0;
                    break;
                }
            }
        }
        Lanes {
            slow: Mutex::new(send),
            costs: Mutex::new(HashMap::new()),
            code: Mutex::new(HashMap::new()),
            slow_lane: enabled,
            inline,
        }
    }

    /// The cost records of an install of a tenant that runs `code` (its
    /// component version, `publisher/name@version`).
    pub fn costs(&self, tenant: &str, install: &str, code: &str) -> Costs {
        let install = {
            let mut costs = self.costs.lock().unwrap_or_else(|p| p.into_inner());
            if costs.len() >= COSTS_KEPT {
                // Keep the records of installs still resolved (held elsewhere).
                costs.retain(|_, cost| Arc::strong_count(cost) > 1);
            }
            costs
                .entry((tenant.to_owned(), install.to_owned()))
                .or_default()
                .clone()
        };
        let code = {
            let mut versions = self.code.lock().unwrap_or_else(|p| p.into_inner());
            if versions.len() >= COSTS_KEPT {
                versions.retain(|_, cost| Arc::strong_count(cost) > 1);
            }
            versions.entry(code.to_owned()).or_default().clone()
        };
        Costs { install, code }
    }

    /// Run `work` for the install whose record is `cost` on its lane, and
    /// note its cost (`heavy` says whether its result was a heavy call);
    /// `None` if the worker died.
    pub async fn run<T: Send + 'static>(
        &self,
        cost: &Costs,
        work: impl FnOnce() -> T + Send + 'static,
        heavy: impl FnOnce(&T) -> bool,
    ) -> Option<T> {
        let inline = self.inline
            && tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        // The call's own run time, not its wait for a thread: that is what
        // it would hold a worker for.
        let work = move || {
            let started = Instant::now();
            let done = work();
            (done, started.elapsed())
        };
        let done = match cost.lane(self.slow_lane, inline) {
            Lane::Inline => Some(work()),
            Lane::Slow => {
                let (reply, result) = tokio::sync::oneshot::channel();
                let job: Job = Box::new(move || {
                    let _ = reply.send(work());
                });
                let sent = self
                    .slow
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .send(job);
                match sent {
                    Ok(()) => result.await.ok(),
                    Err(_) => None,
                }
            }
            Lane::Pool => tokio::task::spawn_blocking(work).await.ok(),
        };
        let (done, took) = done?;
        cost.record(took, heavy(&done));
        Some(done)
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
        tracing::warn!(error = ?e, "cannot lower the slow lane's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread() -> String {
        std::thread::current().name().unwrap_or("").to_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_install_whose_calls_are_slow_moves_to_the_slow_lane_and_back() {
        let lanes = Lanes::start(true, false);
        let (i, j) = (
            lanes.costs("t", "i", "p/c@1"),
            lanes.costs("t", "j", "p/c@1"),
        );
        let slow = || {
            std::thread::sleep(SLOW * 3);
            thread()
        };
        let first = lanes.run(&i, slow, |_| false).await.expect("runs");
        assert!(
            !first.starts_with("mercato-slow"),
            "new installs start fast"
        );
        let mut on_slow = false;
        for _ in 0..5 {
            on_slow |= lanes
                .run(&i, slow, |_| false)
                .await
                .expect("runs")
                .starts_with("mercato-slow");
        }
        assert!(on_slow, "slow calls move to the slow lane");
        // Another install of the tenant is not affected.
        assert!(
            !lanes
                .run(&j, thread, |_| false)
                .await
                .expect("runs")
                .starts_with("mercato-slow")
        );
        // Cheap calls bring the install back.
        let mut back = false;
        for _ in 0..20 {
            back = !lanes
                .run(&i, thread, |_| false)
                .await
                .expect("runs")
                .starts_with("mercato-slow");
        }
        assert!(back, "cheap calls move it back");
    }

    /// Whether `lanes` ran a call of `cost` on the caller's own thread.
    /// Whether `lanes` ran a call of `cost` on the caller's own thread; the
    /// call is `heavy` or not.
    async fn ran_inline(lanes: &Lanes, cost: &Costs, heavy: bool) -> bool {
        let caller = std::thread::current().id();
        let ran = lanes
            .run(cost, || std::thread::current().id(), |_| heavy)
            .await
            .expect("runs");
        ran == caller
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_proven_cheap_install_runs_inline_until_a_heavy_call() {
        let lanes = Lanes::start(true, true);
        let cost = lanes.costs("t", "i", "p/c@1");
        for n in 0..PROVEN {
            assert!(
                !ran_inline(&lanes, &cost, false).await,
                "a new install starts on the pool (call {n})"
            );
        }
        assert!(ran_inline(&lanes, &cost, false).await, "then runs inline");
        // Another tenant's install of the same version is proven already.
        let other = lanes.costs("u", "i", "p/c@1");
        assert!(ran_inline(&lanes, &other, false).await);
        assert!(!ran_inline(&lanes, &lanes.costs("u", "j", "p/d@1"), false).await);
        // One heavy call takes it off the inline lane for the cooldown.
        ran_inline(&lanes, &cost, true).await;
        for _ in 0..COOLDOWN {
            assert!(!ran_inline(&lanes, &cost, false).await);
        }
        assert!(
            ran_inline(&lanes, &cost, false).await,
            "back after the cooldown"
        );
    }

    #[test]
    fn a_current_thread_runtime_never_runs_a_call_inline() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let lanes = Lanes::start(false, true);
        let cost = lanes.costs("t", "i", "p/c@1");
        rt.block_on(async {
            for _ in 0..PROVEN * 2 {
                assert!(!ran_inline(&lanes, &cost, false).await);
            }
        });
    }
}
