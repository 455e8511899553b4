//! The statistics behind experiment results, shared by the experiments
//! component, third-party components and the host (the console's dashboard
//! draws its curves with these same functions), as plain functions so they
//! can be checked against reference values (see the experiments component's
//! `tests/reference/`).
//!
//! Must stay free of I/O and of the host: it compiles into components.
//!
//! - Rates: two-proportion z-test with the pooled standard error for the
//!   p-value; Wald interval (unpooled) for the absolute difference; the
//!   log-ratio interval for the relative lift (`p1/p0 − 1`).
//! - Means: Welch's t-test (unequal variances, Welch–Satterthwaite degrees
//!   of freedom) for the p-value and the interval of the difference; the
//!   relative interval is the absolute one divided by the control mean.
//! - Sample ratio mismatch: Pearson's chi-square goodness of fit of units per
//!   arm against the weights, `k − 1` degrees of freedom, empty arms included.
//! - Sample size: per arm, two-sided α = 0.05, power 0.8, for Cohen's h
//!   between the baseline rate and baseline + minimum detectable effect.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// Two-sided 95%.
const LEVEL: f64 = 0.95;

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// A treatment compared with the control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Treatment − control.
    pub absolute_lift: f64,
    /// (Treatment − control) / control.
    pub relative_lift: f64,
    /// 95% interval of the absolute lift.
    pub absolute_ci: Interval,
    /// 95% interval of the relative lift.
    pub relative_ci: Interval,
    /// Two-sided p-value.
    pub p_value: f64,
}

fn normal() -> Normal {
    // Mean 0, sd 1 is always a valid normal distribution.
    Normal::standard()
}

fn z_crit() -> f64 {
    normal().inverse_cdf(1.0 - (1.0 - LEVEL) / 2.0)
}

/// Conversion rates: `c1` of `n1` (treatment) against `c0` of `n0` (control).
/// `None` when an arm is empty or nothing varies (both rates 0 or 1).
pub fn two_proportions(c1: u64, n1: u64, c0: u64, n0: u64) -> Option<Comparison> {
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let (c1f, n1f, c0f, n0f) = (c1 as f64, n1 as f64, c0 as f64, n0 as f64);
    let (p1, p0) = (c1f / n1f, c0f / n0f);
    let pooled = (c1f + c0f) / (n1f + n0f);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n0f)).sqrt();
    if se_pooled == 0.0 || !se_pooled.is_finite() {
        return None;
    }
    let z = (p1 - p0) / se_pooled;
    let p_value = 2.0 * normal().sf(z.abs());
    let se = (p1 * (1.0 - p1) / n1f + p0 * (1.0 - p0) / n0f).sqrt();
    let diff = p1 - p0;
    let zc = z_crit();
    let relative_ci = if c1 > 0 && c0 > 0 {
        let se_log = (1.0 / c1f - 1.0 / n1f + 1.0 / c0f - 1.0 / n0f).sqrt();
        let log_ratio = (p1 / p0).ln();
        Interval {
            low: (log_ratio - zc * se_log).exp() - 1.0,
            high: (log_ratio + zc * se_log).exp() - 1.0,
        }
    } else {
        Interval {
            low: f64::NAN,
            high: f64::NAN,
        }
    };
    Some(Comparison {
        absolute_lift: diff,
        relative_lift: if p0 > 0.0 { diff / p0 } else { f64::NAN },
        absolute_ci: Interval {
            low: diff - zc * se,
            high: diff + zc * se,
        },
        relative_ci,
        p_value,
    })
}

/// Summary of one arm's per-unit values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Moments {
    /// Units.
    pub n: u64,
    /// Sum of values.
    pub sum: f64,
    /// Sum of squared values.
    pub sum_sq: f64,
}

impl Moments {
    /// Mean value per unit.
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// Sample variance (n − 1 in the denominator).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as f64;
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
}

/// Means: Welch's t-test of treatment `t` against control `c`. `None` with
/// fewer than two units in an arm or no variance at all.
pub fn welch(t: Moments, c: Moments) -> Option<Comparison> {
    if t.n < 2 || c.n < 2 {
        return None;
    }
    let (n1, n0) = (t.n as f64, c.n as f64);
    let (v1, v0) = (t.variance() / n1, c.variance() / n0);
    let se = (v1 + v0).sqrt();
    if se == 0.0 || !se.is_finite() {
        return None;
    }
    let df = (v1 + v0).powi(2) / (v1 * v1 / (n1 - 1.0) + v0 * v0 / (n0 - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let diff = t.mean() - c.mean();
    let tstat = diff / se;
    let p_value = 2.0 * dist.sf(tstat.abs());
    let tc = dist.inverse_cdf(1.0 - (1.0 - LEVEL) / 2.0);
    let absolute_ci = Interval {
        low: diff - tc * se,
        high: diff + tc * se,
    };
    let m0 = c.mean();
    let (relative_lift, relative_ci) = if m0 != 0.0 {
        (
            diff / m0,
            Interval {
                low: absolute_ci.low / m0,
                high: absolute_ci.high / m0,
            },
        )
    } else {
        (
            f64::NAN,
            Interval {
                low: f64::NAN,
                high: f64::NAN,
            },
        )
    };
    Some(Comparison {
        absolute_lift: diff,
        relative_lift,
        absolute_ci,
        relative_ci,
        p_value,
    })
}

/// Sample-ratio-mismatch p-value: units per arm against the weights.
pub fn srm_p_value(units: &[u64], weights: &[u32]) -> f64 {
    let total: u64 = units.iter().sum();
    let weight_sum: f64 = weights.iter().map(|w| f64::from(*w)).sum();
    if total == 0 || units.len() < 2 || weight_sum == 0.0 {
        return 1.0;
    }
    let stat: f64 = units
        .iter()
        .zip(weights)
        .map(|(o, w)| {
            let expected = total as f64 * f64::from(*w) / weight_sum;
            (*o as f64 - expected).powi(2) / expected
        })
        .sum();
    match ChiSquared::new((units.len() - 1) as f64) {
        Ok(chi) => chi.sf(stat),
        Err(_) => 1.0,
    }
}

/// Units per arm to detect `baseline + mde` against `baseline`.
pub fn sample_size(baseline: f64, mde: f64) -> Option<u64> {
    let target = baseline + mde;
    if !(0.0..1.0).contains(&baseline) || !(0.0..=1.0).contains(&target) || mde == 0.0 {
        return None;
    }
    let h = 2.0 * target.sqrt().asin() - 2.0 * baseline.sqrt().asin();
    let z_alpha = normal().inverse_cdf(0.975);
    let z_beta = normal().inverse_cdf(0.8);
    // The difference of two arcsine-transformed rates has variance 1/n₁ + 1/n₀.
    Some((2.0 * ((z_alpha + z_beta) / h).powi(2)).ceil() as u64)
}
