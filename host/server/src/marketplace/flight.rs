//! Caches that refill once per key: when many calls miss the same entry at
//! once (right after a registry change dropped the caches), one of them
//! loads it and the rest wait for that load instead of each asking the
//! database, which would exhaust its pool.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Entries by key, each filled by the first caller that needs it.
#[derive(Debug)]
pub(crate) struct Flights<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Flights<K, V> {
    pub fn new() -> Self {
        Flights {
            cells: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value, if one is filled.
    #[cfg(test)]
    pub fn get(&self, key: &K) -> Option<V> {
        let cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells.get(key).and_then(|c| c.get().cloned())
    }

    /// The value under `key`, loading it with `load` if no one has: callers
    /// arriving during a load wait for it. A failed load fills nothing (the
    /// next waiter tries again).
    pub async fn get_or_load<E, F>(&self, key: &K, load: impl FnOnce() -> F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            cells.entry(key.clone()).or_default().clone()
        };
        cell.get_or_try_init(load).await.cloned()
    }

    /// Drop every entry.
    pub fn clear(&self) {
        self.cells.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_misses_loads_once() {
        let flights = Arc::new(Flights::<&str, u32>::new());
        let loads = Arc::new(AtomicU32::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut calls = Vec::new();
        for _ in 0..50 {
            let (flights, loads, gate) = (flights.clone(), loads.clone(), gate.clone());
            calls.push(tokio::spawn(async move {
                flights
                    .get_or_load(&"k", || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        // Hold the load open until every caller has arrived.
                        gate.notified().await;
                        Ok::<_, ()>(7)
                    })
                    .await
            }));
        }
        // Release the load once it started; the others are waiting on it.
        while loads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for call in calls {
            assert_eq!(call.await.expect("joins"), Ok(7));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(flights.get(&"k"), Some(7));
        flights.clear();
        assert_eq!(flights.get(&"k"), None);
    }

    #[tokio::test]
    async fn a_failed_load_is_tried_again() {
        let flights = Flights::<&str, u32>::new();
        assert_eq!(
            flights
                .get_or_load(&"k", || async { Err::<u32, _>("down") })
                .await,
            Err("down")
        );
        assert_eq!(
            flights
                .get_or_load(&"k", || async { Ok::<_, &str>(3) })
                .await,
            Ok(3)
        );
    }
}
