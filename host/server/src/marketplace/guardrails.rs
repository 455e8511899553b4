//! A canary's guardrails: what each version's calls cost and how often they
//! failed, compared with the statistics the experiments component uses
//! (`mercato-stats`), sequentially, so that looking at any time keeps the
//! error rate at 5 %.
//!
//! - Error rate and limit-hit rate (any limit, and each limit): the
//!   two-proportion comparison, candidate minus current, as a Gaussian
//!   mixture confidence sequence, on Agresti–Caffo adjusted counts (one
//!   success and one failure added per arm, so 0 % against 100 % has an
//!   interval). Worse: the whole interval above 0.
//! - Latency and fuel: skewed and multiplicative, so compared on the log
//!   scale — Welch's comparison of mean logarithms, i.e. the ratio of
//!   geometric means, as a confidence sequence. Worse: the whole interval
//!   above a ratio of [`SLOWER_TOLERATED`].
//! - Sample ratio mismatch: Pearson's chi-square of calls routed by share
//!   against the shares they were routed under; below [`SRM_P`] the split
//!   is not what the share says and the figures are flagged.
//!
//! Forced calls (a director's smoke tests) are counted apart and left out of
//! all of these.

use std::collections::BTreeMap;

use mercato_stats::moments::Moments;
use mercato_stats::rates::Rate;
use mercato_stats::{Analysis, Comparison, DEFAULT_TUNING, means, rates, srm};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The ratio of geometric means a candidate may be slower (or burn more
/// fuel) by before a guardrail calls it worse: below it, differences are
/// within what a new version may reasonably cost.
pub const SLOWER_TOLERATED: f64 = 1.2;

/// The sample-ratio-mismatch threshold (as GrowthBook's default): a split
/// this unlikely under the shares is flagged.
pub const SRM_P: f64 = 0.001;

/// Moments of a positive quantity's logarithm: its geometric mean and the
/// variance of its log, merged exactly across hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogSums(Moments);

impl LogSums {
    /// Count `x` (≥ 0; 1 is added so that 0 counts).
    pub fn push(&mut self, x: f64) {
        self.0.push((1.0 + x.max(0.0)).ln(), 0.0);
    }

    fn add(&mut self, o: &LogSums) {
        self.0 = self.0.merge(&o.0);
    }

    fn moments(&self) -> Moments {
        self.0
    }

    /// The geometric mean (of 1 + x, less 1).
    pub fn geometric_mean(&self) -> Option<f64> {
        (self.0.n > 0).then(|| self.0.mean.exp() - 1.0)
    }
}

/// What one version's calls did (on one host, or summed over hosts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmTally {
    /// Calls routed to it by share (the guardrails' sample).
    pub calls: u64,
    /// Of those, calls that failed: a fault, a limit, or the component's
    /// own error result.
    pub errors: u64,
    /// Of those, calls ended by a limit, by limit name.
    pub limits: BTreeMap<String, u64>,
    /// Wall time of successful calls, µs.
    pub latency_us: LogSums,
    /// Fuel of successful calls.
    pub fuel: LogSums,
    /// Business events its calls emitted.
    pub events: u64,
    /// Calls forced onto it by header (not in the figures above).
    pub forced: u64,
}

impl ArmTally {
    fn add(&mut self, o: &ArmTally) {
        self.calls += o.calls;
        self.errors += o.errors;
        for (k, v) in &o.limits {
            *self.limits.entry(k.clone()).or_default() += v;
        }
        self.latency_us.add(&o.latency_us);
        self.fuel.add(&o.fuel);
        self.events += o.events;
        self.forced += o.forced;
    }

    fn limit_hits(&self) -> u64 {
        self.limits.values().sum()
    }
}

/// Both versions' tallies, and the shares calls were routed under.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tallies {
    /// The current version.
    pub current: ArmTally,
    /// The candidate.
    pub candidate: ArmTally,
    /// Σ share over calls routed by share: the candidate calls expected.
    pub expected_candidate: f64,
}

impl Tallies {
    /// Add another host's tallies.
    pub fn add(&mut self, o: &Tallies) {
        self.current.add(&o.current);
        self.candidate.add(&o.candidate);
        self.expected_candidate += o.expected_candidate;
    }
}

/// One guardrail's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Guardrail {
    /// `errors`, `limit-hits`, `limit:fuel`, `latency`, `fuel`.
    pub name: String,
    /// The current version's figure (a rate, or a geometric mean).
    pub current: Option<f64>,
    /// The candidate's.
    pub candidate: Option<f64>,
    /// What is compared: `difference` (of rates) or `ratio` (of geometric means).
    pub measure: &'static str,
    /// Candidate against current: the difference or the ratio.
    pub estimate: Option<f64>,
    /// Its 95 % confidence sequence.
    pub interval: Option<[f64; 2]>,
    /// Always-valid p-value of "no difference".
    pub p_value: Option<f64>,
    /// The interval lies wholly on the worse side of the tolerance.
    pub worse: bool,
}

/// Every figure of a canary at one look.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// The method, for people reading the figures.
    pub method: &'static str,
    /// Per version: calls, errors, limit hits, latency and fuel.
    pub current: Value,
    /// The candidate's.
    pub candidate: Value,
    /// The comparisons.
    pub guardrails: Vec<Guardrail>,
    /// The sample-ratio check of the split.
    pub srm: Value,
    /// Names of the guardrails that are worse.
    pub tripped: Vec<String>,
}

impl Figures {
    /// The figures as JSON.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Why a guardrail aborts, for people: the first worse one's figures.
    pub fn reason(&self) -> Option<String> {
        let g = self.guardrails.iter().find(|g| g.worse)?;
        let [low, high] = g.interval?;
        let (c, t) = (g.current?, g.candidate?);
        Some(match g.measure {
            "difference" => format!(
                "guardrail `{}` is worse with significance: candidate {:.2} % against current \
                 {:.2} % (difference 95 % confidence sequence {:+.2} … {:+.2} points)",
                g.name,
                100.0 * t,
                100.0 * c,
                100.0 * low,
                100.0 * high
            ),
            _ => format!(
                "guardrail `{}` is worse with significance: geometric mean {t:.1} against {c:.1} \
                 (ratio 95 % confidence sequence {low:.3} … {high:.3}, tolerated up to {SLOWER_TOLERATED})",
                g.name
            ),
        })
    }
}

fn arm_view(a: &ArmTally) -> Value {
    let rate = |k: u64| (a.calls > 0).then(|| k as f64 / a.calls as f64);
    json!({
        "calls": a.calls,
        "errors": a.errors,
        "error_rate": rate(a.errors),
        "limit_hits": a.limits,
        "latency_us_geomean": a.latency_us.geometric_mean(),
        "fuel_geomean": a.fuel.geometric_mean(),
        "events": a.events,
        "forced": a.forced,
    })
}

const ANALYSIS: Analysis = Analysis::Sequential {
    tuning: DEFAULT_TUNING,
};

fn rate_guardrail(name: String, current: (u64, u64), candidate: (u64, u64)) -> Guardrail {
    let (c, t) = (
        Rate::new(current.0, current.1),
        Rate::new(candidate.0, candidate.1),
    );
    // Agresti–Caffo: one success and one failure added to each arm, so that
    // a candidate failing every call against a current one failing none
    // (no variance in either arm) still has an interval.
    let adjusted = |r: Rate| Rate::new(r.conversions + 1, r.units + 2);
    let cmp: Comparison = if c.units == 0 || t.units == 0 {
        rates::compare(t, c, ANALYSIS)
    } else {
        rates::compare(adjusted(t), adjusted(c), ANALYSIS)
    };
    let share = |r: Rate| (r.units > 0).then(|| r.conversions as f64 / r.units as f64);
    let interval = cmp.absolute.interval.map(|i| [i.low, i.high]);
    Guardrail {
        name,
        current: share(c),
        candidate: share(t),
        measure: "difference",
        estimate: cmp.absolute.value,
        worse: interval.is_some_and(|[low, _]| low > 0.0),
        interval,
        p_value: cmp.p_value,
    }
}

fn log_guardrail(name: &str, current: &LogSums, candidate: &LogSums) -> Guardrail {
    let cmp = means::compare(&candidate.moments(), &current.moments(), ANALYSIS);
    let interval = cmp.absolute.interval.map(|i| [i.low.exp(), i.high.exp()]);
    Guardrail {
        name: name.to_owned(),
        current: current.geometric_mean(),
        candidate: candidate.geometric_mean(),
        measure: "ratio",
        estimate: cmp.absolute.value.map(f64::exp),
        worse: interval.is_some_and(|[low, _]| low > SLOWER_TOLERATED),
        interval,
        p_value: cmp.p_value,
    }
}

/// Compare the two versions' tallies.
pub fn figures(t: &Tallies) -> Figures {
    let (c, k) = (&t.current, &t.candidate);
    let mut guardrails = vec![
        rate_guardrail("errors".into(), (c.errors, c.calls), (k.errors, k.calls)),
        rate_guardrail(
            "limit-hits".into(),
            (c.limit_hits(), c.calls),
            (k.limit_hits(), k.calls),
        ),
    ];
    let limits: std::collections::BTreeSet<&String> =
        c.limits.keys().chain(k.limits.keys()).collect();
    for limit in limits {
        let hits = |a: &ArmTally| a.limits.get(limit).copied().unwrap_or(0);
        guardrails.push(rate_guardrail(
            format!("limit:{limit}"),
            (hits(c), c.calls),
            (hits(k), k.calls),
        ));
    }
    guardrails.push(log_guardrail("latency", &c.latency_us, &k.latency_us));
    guardrails.push(log_guardrail("fuel", &c.fuel, &k.fuel));
    let routed = c.calls + k.calls;
    let p = srm::p_value(
        &[c.calls, k.calls],
        &[routed as f64 - t.expected_candidate, t.expected_candidate],
    );
    let tripped = guardrails
        .iter()
        .filter(|g| g.worse)
        .map(|g| g.name.clone())
        .collect();
    Figures {
        method: "sequential (Gaussian mixture confidence sequences, 95 %): rates by the \
                 two-proportion comparison, latency and fuel by Welch's on the log scale",
        current: arm_view(c),
        candidate: arm_view(k),
        guardrails,
        srm: json!({
            "p_value": p,
            "expected_candidate": t.expected_candidate,
            "observed_candidate": k.calls,
            "mismatch": p < SRM_P,
        }),
        tripped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(calls: u64, errors: u64, latency: f64) -> ArmTally {
        let mut a = ArmTally {
            calls,
            errors,
            ..ArmTally::default()
        };
        for i in 0..calls - errors {
            // A little spread so the variance is defined.
            a.latency_us.push(latency * (1.0 + (i % 7) as f64 / 20.0));
            a.fuel.push(10_000.0 + (i % 5) as f64);
        }
        a
    }

    #[test]
    fn a_candidate_failing_often_trips_the_error_guardrail_and_names_it() {
        let t = Tallies {
            current: arm(2000, 2, 50.0),
            candidate: arm(2000, 300, 50.0),
            expected_candidate: 2000.0,
        };
        let f = figures(&t);
        assert_eq!(f.tripped, vec!["errors".to_owned()]);
        assert!(
            f.reason().is_some_and(|r| r.contains("`errors`")),
            "{:?}",
            f.reason()
        );
        assert_eq!(f.srm["mismatch"], false);
    }

    #[test]
    fn equal_versions_trip_nothing_and_a_slow_candidate_trips_latency() {
        let same = Tallies {
            current: arm(3000, 3, 50.0),
            candidate: arm(3000, 3, 50.0),
            expected_candidate: 3000.0,
        };
        assert!(figures(&same).tripped.is_empty());
        let slow = Tallies {
            current: arm(3000, 0, 50.0),
            candidate: arm(3000, 0, 120.0),
            expected_candidate: 3000.0,
        };
        assert_eq!(figures(&slow).tripped, vec!["latency".to_owned()]);
        // 10 % slower is within the tolerance.
        let bit_slower = Tallies {
            current: arm(3000, 0, 50.0),
            candidate: arm(3000, 0, 55.0),
            expected_candidate: 3000.0,
        };
        assert!(figures(&bit_slower).tripped.is_empty());
    }

    #[test]
    fn a_split_unlike_its_share_is_a_sample_ratio_mismatch() {
        let t = Tallies {
            current: arm(1000, 0, 50.0),
            candidate: arm(1400, 0, 50.0),
            expected_candidate: 1200.0,
        };
        assert_eq!(figures(&t).srm["mismatch"], true);
        let fair = Tallies {
            expected_candidate: 1400.0,
            ..t
        };
        assert_eq!(figures(&fair).srm["mismatch"], false);
    }

    #[test]
    fn empty_arms_have_no_figures_and_trip_nothing() {
        let f = figures(&Tallies::default());
        assert!(f.tripped.is_empty());
        assert!(f.guardrails.iter().all(|g| g.interval.is_none()));
    }
}
