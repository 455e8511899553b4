//! Invocation metrics in Prometheus text: calls, errors by kind and by
//! limit, fuel used and latency, per tenant, component and version (so a
//! canary's two versions are two series).
//!
//! An install's series are found through one index (no label strings built
//! per call). Past [`SERIES_KEPT`] installs, those without a call for
//! [`SERIES_IDLE`] are dropped from the exposition, so a host serving many
//! tenants holds series only for those calling; one that calls again starts
//! its counters afresh, which Prometheus reads as a counter reset.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use mercato_runtime::{InvokeError, Outcome};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    tenant: String,
    component: String,
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Failure {
    tenant: String,
    component: String,
    version: String,
    kind: String,
    limit: String,
}

fn latency_histogram() -> Histogram {
    // 10 µs … ~2.6 s in doublings: a booking is tens of µs, a runaway call
    // is stopped at its deadline.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 19))
}

/// What one install of one tenant did, for the console.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// The tenant.
    pub tenant: String,
    /// The install.
    pub component: String,
    /// Invocations.
    pub calls: u64,
    /// Failures by kind (`limit:fuel` for a limit), with their counts.
    pub errors: Vec<(String, u64)>,
    /// The bucket bound the 95th-percentile latency falls under, seconds.
    pub p95_seconds: Option<f64>,
}

/// Installs whose series are kept whatever their age.
pub const SERIES_KEPT: usize = 10_000;
/// Past [`SERIES_KEPT`], an install's series without a call this long go.
pub const SERIES_IDLE: Duration = Duration::from_secs(15 * 60);

/// The host's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: prometheus_client::registry::Registry,
    invocations: Family<Call, Counter>,
    errors: Family<Failure, Counter>,
    fuel: Family<Call, Counter>,
    latency: Family<Call, Histogram, fn() -> Histogram>,
    refused: Family<Call, Counter>,
    index: Mutex<Index>,
    started: Instant,
    kept: usize,
    idle: Duration,
}

/// One install's series, shared with the families that expose them.
#[derive(Debug)]
struct Series {
    labels: Call,
    invocations: Counter,
    fuel: Counter,
    latency: Histogram,
    /// The error label sets this install has, to drop with it.
    failures: Mutex<Vec<Failure>>,
    /// Seconds since the metrics started, at its latest call.
    last_call: AtomicU64,
}

#[derive(Debug, Default)]
struct Index {
    /// Tenant → install → its versions' series (one, or two during a canary).
    by_tenant: HashMap<String, HashMap<String, Vec<Arc<Series>>>>,
    len: usize,
    /// Look for idle series when `len` passes this.
    high_water: usize,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        let mut registry = prometheus_client::registry::Registry::with_prefix("mercato");
        let invocations = Family::<Call, Counter>::default();
        let errors = Family::<Failure, Counter>::default();
        let fuel = Family::<Call, Counter>::default();
        let latency =
            Family::<Call, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "invocations",
            "Component invocations, successful or not",
            invocations.clone(),
        );
        registry.register(
            "invocation_errors",
            "Failed invocations by error kind and, for limits, by limit",
            errors.clone(),
        );
        registry.register(
            "fuel_used",
            "Fuel consumed by successful invocations",
            fuel.clone(),
        );
        let refused = Family::<Call, Counter>::default();
        registry.register(
            "invocations_refused",
            "Calls not admitted: the tenant over its share or the host full",
            refused.clone(),
        );
        registry.register(
            "invocation_duration_seconds",
            "Wall time of invocations, retries included",
            latency.clone(),
        );
        Metrics {
            registry,
            invocations,
            errors,
            fuel,
            latency,
            refused,
            index: Mutex::new(Index {
                high_water: SERIES_KEPT,
                ..Index::default()
            }),
            started: Instant::now(),
            kept: SERIES_KEPT,
            idle: SERIES_IDLE,
        }
    }

    /// Metrics keeping `kept` installs' series whatever their age, and
    /// dropping those idle for `idle` past that (tests use small figures).
    pub fn with_retention(kept: usize, idle: Duration) -> Self {
        let mut metrics = Self::new();
        metrics.kept = kept;
        metrics.idle = idle;
        metrics
            .index
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .high_water = kept;
        metrics
    }

    /// Installs with series held.
    pub fn series_held(&self) -> usize {
        self.index.lock().unwrap_or_else(|p| p.into_inner()).len
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The install's series, made on its first call.
    fn series(&self, tenant: &str, component: &str, version: &str) -> Arc<Series> {
        let now = self.now();
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(series) = index
            .by_tenant
            .get(tenant)
            .and_then(|c| c.get(component))
            .and_then(|v| v.iter().find(|s| s.labels.version == version))
        {
            series.last_call.store(now, Ordering::Relaxed);
            return series.clone();
        }
        if index.len >= index.high_water {
            self.drop_idle(&mut index, now);
        }
        let labels = Call {
            tenant: tenant.to_owned(),
            component: component.to_owned(),
            version: version.to_owned(),
        };
        let series = Arc::new(Series {
            invocations: self.invocations.get_or_create_owned(&labels),
            fuel: self.fuel.get_or_create_owned(&labels),
            latency: self.latency.get_or_create_owned(&labels),
            labels,
            failures: Mutex::new(Vec::new()),
            last_call: AtomicU64::new(now),
        });
        index
            .by_tenant
            .entry(tenant.to_owned())
            .or_default()
            .entry(component.to_owned())
            .or_default()
            .push(series.clone());
        index.len += 1;
        series
    }

    /// Drop the series of installs without a call for `idle`.
    fn drop_idle(&self, index: &mut Index, now: u64) {
        let idle = self.idle.as_secs();
        let mut dropped = 0;
        index.by_tenant.retain(|_, components| {
            components.retain(|_, versions| {
                versions.retain(|series| {
                    let keep = now.saturating_sub(series.last_call.load(Ordering::Relaxed)) < idle;
                    if !keep {
                        self.invocations.remove(&series.labels);
                        self.fuel.remove(&series.labels);
                        self.latency.remove(&series.labels);
                        self.refused.remove(&series.labels);
                        let failures = series.failures.lock().unwrap_or_else(|p| p.into_inner());
                        for failure in failures.iter() {
                            self.errors.remove(failure);
                        }
                        dropped += 1;
                    }
                    keep
                });
                !versions.is_empty()
            });
            !components.is_empty()
        });
        index.len -= dropped;
        index.high_water = (2 * index.len).max(self.kept);
    }

    /// Count a call that admission refused.
    pub fn refused(&self, tenant: &str, component: &str, version: &str) {
        let series = self.series(tenant, component, version);
        self.refused.get_or_create(&series.labels).inc();
    }

    /// Count one invocation.
    pub fn record(
        &self,
        tenant: &str,
        component: &str,
        version: &str,
        elapsed: Duration,
        result: &Result<Outcome, InvokeError>,
    ) {
        let series = self.series(tenant, component, version);
        series.invocations.inc();
        series.latency.observe(elapsed.as_secs_f64());
        match result {
            Ok(outcome) => {
                series.fuel.inc_by(outcome.fuel_used);
            }
            Err(e) => {
                let failure = Failure {
                    tenant: series.labels.tenant.clone(),
                    component: series.labels.component.clone(),
                    version: series.labels.version.clone(),
                    kind: e.code().to_owned(),
                    limit: e.limit().map(|l| l.as_str().to_owned()).unwrap_or_default(),
                };
                self.errors.get_or_create(&failure).inc();
                let mut known = series.failures.lock().unwrap_or_else(|p| p.into_inner());
                if !known.contains(&failure) {
                    known.push(failure);
                }
            }
        }
    }

    /// Per tenant and component: calls, errors by kind (and limit), and the
    /// 95th-percentile latency as the histogram bucket bound it falls under.
    /// Read back from the exposition, so the console shows exactly what
    /// `/metrics` says.
    pub fn summary(&self) -> Vec<Summary> {
        let mut by: std::collections::BTreeMap<(String, String), Summary> = Default::default();
        let mut buckets: std::collections::BTreeMap<(String, String), Vec<(f64, u64)>> =
            Default::default();
        for line in self.render().lines() {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Some((name, labels)) = series.split_once('{') else {
                continue;
            };
            let labels: std::collections::BTreeMap<&str, &str> = labels
                .trim_end_matches('}')
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k, v.trim_matches('"')))
                .collect();
            let key = (
                labels.get("tenant").copied().unwrap_or_default().to_owned(),
                labels
                    .get("component")
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
            );
            let count = value.parse::<f64>().unwrap_or(0.0) as u64;
            let entry = by.entry(key.clone()).or_insert_with(|| Summary {
                tenant: key.0.clone(),
                component: key.1.clone(),
                ..Summary::default()
            });
            match name {
                // A canary's versions are series of their own: summed here.
                "mercato_invocations_total" => entry.calls += count,
                "mercato_invocation_errors_total" => {
                    let kind = match labels.get("limit").copied().unwrap_or_default() {
                        "" => labels.get("kind").copied().unwrap_or_default().to_owned(),
                        limit => format!("limit:{limit}"),
                    };
                    match entry.errors.iter_mut().find(|(k, _)| *k == kind) {
                        Some((_, n)) => *n += count,
                        None => entry.errors.push((kind, count)),
                    }
                }
                "mercato_invocation_duration_seconds_bucket" => {
                    let le = match labels.get("le").copied() {
                        Some("+Inf") => f64::INFINITY,
                        Some(le) => le.parse().unwrap_or(f64::INFINITY),
                        None => continue,
                    };
                    buckets.entry(key).or_default().push((le, count));
                }
                _ => {}
            }
        }
        for (key, mut cumulative) in buckets {
            cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Versions' buckets of one bound add up.
            cumulative.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    kept.1 += later.1;
                }
                same
            });
            let total = cumulative.last().map_or(0, |b| b.1);
            if let Some(entry) = by.get_mut(&key)
                && total > 0
            {
                let wanted = (total as f64 * 0.95).ceil() as u64;
                entry.p95_seconds = cumulative
                    .iter()
                    .find(|(_, n)| *n >= wanted)
                    .map(|(le, _)| *le)
                    .filter(|le| le.is_finite());
            }
        }
        by.into_values().filter(|s| s.calls > 0).collect()
    }

    /// Everything, in Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_back_what_was_recorded() {
        let m = Metrics::new();
        let busy = Err(InvokeError::Busy);
        for _ in 0..19 {
            m.record("acme", "booking", "1.0.0", Duration::from_micros(30), &busy);
        }
        m.record(
            "acme",
            "booking",
            "1.0.0",
            Duration::from_millis(300),
            &busy,
        );
        let fuel = Err(InvokeError::LimitExceeded {
            limit: mercato_runtime::Limit::Fuel,
            detail: String::new(),
        });
        m.record("acme", "lab", "1.0.0", Duration::from_micros(20), &fuel);
        let s = m.summary();
        let booking = s.iter().find(|s| s.component == "booking").unwrap();
        assert_eq!(booking.calls, 20);
        assert_eq!(booking.errors, vec![("busy".to_owned(), 20)]);
        // 19 of 20 calls took 30 µs: the 95th percentile is in the 40 µs bucket.
        assert!(
            (booking.p95_seconds.unwrap() - 0.000_04).abs() < 1e-9,
            "{booking:?}"
        );
        let lab = s.iter().find(|s| s.component == "lab").unwrap();
        assert_eq!(lab.errors, vec![("limit:fuel".to_owned(), 1)]);
    }

    fn tenants_exposed(m: &Metrics) -> std::collections::BTreeSet<String> {
        m.render()
            .lines()
            .filter_map(|l| l.split_once("tenant=\"")?.1.split_once('"'))
            .map(|(t, _)| t.to_owned())
            .collect()
    }

    #[test]
    fn past_the_kept_count_idle_installs_series_go_and_busy_ones_stay() {
        let busy = Err(InvokeError::Busy);
        // Nothing is idle within the hour: every series stays.
        let m = Metrics::with_retention(4, Duration::from_secs(3600));
        for t in 0..10 {
            m.record(
                &format!("t{t}"),
                "booking",
                "1.0.0",
                Duration::from_micros(30),
                &busy,
            );
        }
        assert_eq!(m.series_held(), 10);
        assert_eq!(tenants_exposed(&m).len(), 10);
        // Everything is idle at once: each pruning keeps only the newest.
        let m = Metrics::with_retention(4, Duration::ZERO);
        for t in 0..10 {
            m.record(
                &format!("t{t}"),
                "booking",
                "1.0.0",
                Duration::from_micros(30),
                &busy,
            );
            m.refused(&format!("t{t}"), "booking", "1.0.0");
        }
        let held = m.series_held();
        assert!(held <= 4, "{held}");
        let exposed = tenants_exposed(&m);
        assert_eq!(
            exposed.len(),
            held,
            "errors and refusals go too: {exposed:?}"
        );
        assert!(exposed.contains("t9"), "{exposed:?}");
        // A dropped install that calls again starts afresh.
        m.record("t0", "booking", "1.0.0", Duration::from_micros(30), &busy);
        let again = m.summary();
        let t0 = again.iter().find(|s| s.tenant == "t0").unwrap();
        assert_eq!(t0.calls, 1);
    }
}
