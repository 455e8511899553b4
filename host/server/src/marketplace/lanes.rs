//! Where a call runs. Calls of installs whose recent calls were cheap run on
//! the shared blocking pool; calls of installs whose recent calls were slow
//! run on the slow lane, a pool of threads under Linux's `SCHED_IDLE`
//! policy. A waking thread of the normal policy preempts an idle-policy
//! thread at once, so on a busy host another tenant's cheap call gets the
//! core as soon as it is ready instead of sharing it with every thread that
//! is burning its fuel; the slow calls still get every cycle nobody else
//! wants.
//!
//! An install is judged by the moving average of its calls' wall time, so a
//! new install starts in the fast lane and moves after a few slow calls, and
//! moves back once its calls are cheap again.

use std::collections::HashMap;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

/// A call of an install whose average wall time is above this runs on the
/// slow lane: well above a sales call's ~0.1 ms, well below a deadline.
pub const SLOW: Duration = Duration::from_millis(20);

/// Threads of the slow lane: one per core. More would not add throughput
/// (its calls burn CPU), and each extra idle-policy thread dilutes the share
/// of one that holds a lock another call waits on (a lock in the instance
/// allocator, the state store): with 32 of them on 2 cores, such a holder
/// can wait milliseconds for its turn, and so does the cheap call behind it.
/// Admitted calls beyond it queue here, their deadlines not yet started.
fn slow_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8))
}

/// The lanes and what each install's calls recently cost.
#[derive(Debug)]
pub(crate) struct Lanes {
    slow: Mutex<Sender<Job>>,
    /// Moving average of wall time per (tenant, install), in seconds.
    costs: Mutex<HashMap<(String, String), f64>>,
    enabled: bool,
}

impl Lanes {
    /// Start the slow lane (unless `enabled` is false: then every call runs
    /// on the blocking pool, for comparison in benchmarks). If its threads
    /// cannot start, every call runs on the blocking pool.
    pub fn start(enabled: bool) -> Self {
        let (send, receive) = channel::<Job>();
        let receive = Arc::new(Mutex::new(receive));
        let mut enabled = enabled;
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
            enabled,
        }
    }

    fn is_slow(&self, key: &(String, String)) -> bool {
        self.enabled
            && self
                .costs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(key)
                .is_some_and(|avg| *avg > SLOW.as_secs_f64())
    }

    fn record(&self, key: (String, String), took: Duration) {
        let mut costs = self.costs.lock().unwrap_or_else(|p| p.into_inner());
        let avg = costs.entry(key).or_insert(0.0);
        *avg = 0.7 * *avg + 0.3 * took.as_secs_f64();
    }

    /// Run `work` for an install of a tenant on its lane; `None` if the
    /// worker died.
    pub async fn run<T: Send + 'static>(
        &self,
        tenant: &str,
        install: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let key = (tenant.to_owned(), install.to_owned());
        let started = Instant::now();
        let done = if self.is_slow(&key) {
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
        } else {
            tokio::task::spawn_blocking(work).await.ok()
        };
        self.record(key, started.elapsed());
        done
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_install_whose_calls_are_slow_moves_to_the_slow_lane_and_back() {
        let lanes = Lanes::start(true);
        let thread = || std::thread::current().name().unwrap_or("").to_owned();
        let slow = || {
            std::thread::sleep(SLOW * 3);
            std::thread::current().name().unwrap_or("").to_owned()
        };
        let first = lanes.run("t", "i", slow).await.expect("runs");
        assert!(
            !first.starts_with("mercato-slow"),
            "new installs start fast"
        );
        let mut on_slow = false;
        for _ in 0..5 {
            on_slow |= lanes
                .run("t", "i", slow)
                .await
                .expect("runs")
                .starts_with("mercato-slow");
        }
        assert!(on_slow, "slow calls move to the slow lane");
        // Another install of the tenant is not affected.
        assert!(
            !lanes
                .run("t", "j", thread)
                .await
                .expect("runs")
                .starts_with("mercato-slow")
        );
        // Cheap calls bring the install back.
        let mut back = false;
        for _ in 0..20 {
            back = !lanes
                .run("t", "i", thread)
                .await
                .expect("runs")
                .starts_with("mercato-slow");
        }
        assert!(back, "cheap calls move it back");
    }
}
