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

/// The host's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: prometheus_client::registry::Registry,
    invocations: Family<Call, Counter>,
    errors: Family<Failure, Counter>,
    fuel: Family<Call, Counter>,
    latency: Family<Call, Histogram, fn() -> Histogram>,
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
        }
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

    /// Everything, in Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
