//! Invocation metrics in Prometheus text: calls, errors by kind and by
//! limit, fuel used and latency, per tenant and component.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use mercato_runtime::{InvokeError, Outcome};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    tenant: String,
    component: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Failure {
    tenant: String,
    component: String,
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

/// The host's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: prometheus_client::registry::Registry,
    invocations: Family<Call, Counter>,
    errors: Family<Failure, Counter>,
    fuel: Family<Call, Counter>,
    latency: Family<Call, Histogram, fn() -> Histogram>,
    refused: Family<Call, Counter>,
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
        }
    }

    /// Count a call that admission refused.
    pub fn refused(&self, tenant: &str, component: &str) {
        self.refused
            .get_or_create(&Call {
                tenant: tenant.to_owned(),
                component: component.to_owned(),
            })
            .inc();
    }

    /// Count one invocation.
    pub fn record(
        &self,
        tenant: &str,
        component: &str,
        elapsed: Duration,
        result: &Result<Outcome, InvokeError>,
    ) {
        let call = Call {
            tenant: tenant.to_owned(),
            component: component.to_owned(),
        };
        self.invocations.get_or_create(&call).inc();
        self.latency
            .get_or_create(&call)
            .observe(elapsed.as_secs_f64());
        match result {
            Ok(outcome) => {
                self.fuel.get_or_create(&call).inc_by(outcome.fuel_used);
            }
            Err(e) => {
                self.errors
                    .get_or_create(&Failure {
                        tenant: call.tenant,
                        component: call.component,
                        kind: e.code().to_owned(),
                        limit: e.limit().map(|l| l.as_str().to_owned()).unwrap_or_default(),
                    })
                    .inc();
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
                "mercato_invocations_total" => entry.calls = count,
                "mercato_invocation_errors_total" => {
                    let kind = match labels.get("limit").copied().unwrap_or_default() {
                        "" => labels.get("kind").copied().unwrap_or_default().to_owned(),
                        limit => format!("limit:{limit}"),
                    };
                    entry.errors.push((kind, count));
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
            m.record("acme", "booking", Duration::from_micros(30), &busy);
        }
        m.record("acme", "booking", Duration::from_millis(300), &busy);
        let fuel = Err(InvokeError::LimitExceeded {
            limit: mercato_runtime::Limit::Fuel,
            detail: String::new(),
        });
        m.record("acme", "lab", Duration::from_micros(20), &fuel);
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
}
