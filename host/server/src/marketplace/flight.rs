//! Caches that refill once per key: when many calls miss the same entry at
//! once (right after a registry change dropped the caches), one of them
//! loads it and the rest wait for that load instead of each asking the
//! database, which would exhaust its pool. A cache may be bounded: past its
//! capacity the least recently used tenth of its entries go, so a host
//! serving more tenants than it can hold keeps the busy ones.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Entries by key, each filled by the first caller that needs it.
#[derive(Debug)]
pub(crate) struct Flights<K, V> {
    cells: Mutex<Cells<K, V>>,
    capacity: usize,
}

#[derive(Debug)]
struct Cells<K, V> {
    /// Each cell with the clock at its last use.
    map: HashMap<K, (Arc<OnceCell<V>>, u64)>,
    clock: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> Flights<K, V> {
    /// A cache of at most `capacity` entries (at least 10).
    pub fn bounded(capacity: usize) -> Self {
        Flights {
            cells: Mutex::new(Cells {
                map: HashMap::new(),
                clock: 0,
            }),
            capacity: capacity.max(10),
        }
    }

    /// Entries held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.cells
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// The cached value, if one is filled.
    #[cfg(test)]
    pub fn get(&self, key: &K) -> Option<V> {
        let cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells.map.get(key).and_then(|(c, _)| c.get().cloned())
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
            cells.clock += 1;
            let now = cells.clock;
            if let Some((cell, used)) = cells.map.get_mut(key) {
                *used = now;
                cell.clone()
            } else {
                if cells.map.len() >= self.capacity {
                    evict(&mut cells.map, self.capacity / 10);
                }
                let cell = Arc::new(OnceCell::new());
                cells.map.insert(key.clone(), (cell.clone(), now));
                cell
            }
        };
        cell.get_or_try_init(load).await.cloned()
    }

    /// Drop every entry.
    pub fn clear(&self) {
        self.cells
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .clear();
    }
}

/// Drop the `n` least recently used entries.
fn evict<K: Eq + Hash + Clone, V>(map: &mut HashMap<K, (Arc<OnceCell<V>>, u64)>, n: usize) {
    let mut by_use: Vec<(u64, K)> = map
        .iter()
        .map(|(k, (_, used))| (*used, k.clone()))
        .collect();
    by_use.sort_unstable_by_key(|(used, _)| *used);
    for (_, key) in by_use.into_iter().take(n.max(1)) {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_misses_loads_once() {
        let flights = Arc::new(Flights::<&str, u32>::bounded(100));
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
    async fn a_bounded_cache_drops_the_least_recently_used() {
        let flights = Flights::<u32, u32>::bounded(100);
        let flights = &flights;
        let load = |k: u32| async move {
            flights
                .get_or_load(&k, || async move { Ok::<_, ()>(k) })
                .await
        };
        for k in 0..100 {
            load(k).await.unwrap();
        }
        // Key 0 is used again, so 1..=10 are now the oldest.
        load(0).await.unwrap();
        load(100).await.unwrap();
        assert!(flights.len() <= 100);
        assert_eq!(flights.get(&0), Some(0));
        assert_eq!(flights.get(&1), None);
        assert_eq!(flights.get(&100), Some(100));
        for k in 200..1200 {
            load(k).await.unwrap();
            assert!(flights.len() <= 100);
        }
    }

    #[tokio::test]
    async fn a_failed_load_is_tried_again() {
        let flights = Flights::<&str, u32>::bounded(100);
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
