//! From an estimate and its variance to an interval and a p-value, once for
//! every comparison, fixed-horizon or sequential.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::{Interval, LEVEL};

/// The sample size a sequential analysis is tightest at (GrowthBook's default
/// `sequential_tuning_parameter`).
pub const DEFAULT_TUNING: f64 = 5000.0;

/// How an experiment is analysed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Analysis {
    /// One look at a planned sample size.
    FixedHorizon,
    /// Look at any time: Gaussian mixture confidence sequences tuned to be
    /// tightest near `tuning` units in total.
    Sequential {
        /// Total units the sequence is tuned for.
        tuning: f64,
    },
}

/// An estimated difference: the value, the variance of the estimate, and
/// the degrees of freedom of its t distribution (`None`: normal).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Estimate {
    pub value: f64,
    pub variance: f64,
    pub dof: Option<f64>,
    /// Units in both arms, for sequential analysis.
    pub units: f64,
}

pub(crate) fn standard_normal() -> Normal {
    Normal::standard()
}

/// The two-sided quantile for [`LEVEL`].
fn quantile(dof: Option<f64>) -> f64 {
    let q = 1.0 - (1.0 - LEVEL) / 2.0;
    match dof.and_then(|d| StudentsT::new(0.0, 1.0, d).ok()) {
        Some(t) => t.inverse_cdf(q),
        None => standard_normal().inverse_cdf(q),
    }
}

/// Two-sided tail probability of `|stat|`.
fn tail(stat: f64, dof: Option<f64>) -> f64 {
    let sf = match dof.and_then(|d| StudentsT::new(0.0, 1.0, d).ok()) {
        Some(t) => t.sf(stat.abs()),
        None => standard_normal().sf(stat.abs()),
    };
    (2.0 * sf).min(1.0)
}

/// The mixing parameter ρ for a tuning size (Waudby-Smith et al. 2023,
/// eq. 161, as `gbstats`).
fn rho(tuning: f64) -> f64 {
    let alpha = 1.0 - LEVEL;
    ((-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / tuning).sqrt()
}

impl Estimate {
    /// Whether the estimate has a usable positive, finite variance.
    pub fn usable(&self) -> bool {
        self.variance > 0.0 && self.variance.is_finite() && self.value.is_finite()
    }

    /// Interval and two-sided p-value (of "the difference is 0").
    pub fn infer(&self, analysis: Analysis) -> (Interval, f64) {
        let se = self.variance.sqrt();
        match analysis {
            Analysis::FixedHorizon => {
                let half = quantile(self.dof) * se;
                (
                    Interval {
                        low: self.value - half,
                        high: self.value + half,
                    },
                    tail(self.value / se, self.dof),
                )
            }
            Analysis::Sequential { tuning } => {
                // Waudby-Smith et al. 2023, eq. 9 (interval) and eq. 155
                // (e-value); the p-value is 1/e, capped at 1, so it is below
                // α exactly when the interval excludes 0.
                let alpha = 1.0 - LEVEL;
                let n = self.units;
                let r2 = rho(tuning).powi(2);
                let nr2p1 = n * r2 + 1.0;
                let s2 = self.variance * n;
                let half =
                    s2.sqrt() * (2.0 * nr2p1 * (nr2p1.sqrt() / alpha).ln() / (n * n * r2)).sqrt();
                let st2 = self.value * self.value * n / self.variance;
                let log_e = r2 * st2 / (2.0 * nr2p1) - 0.5 * nr2p1.ln();
                (
                    Interval {
                        low: self.value - half,
                        high: self.value + half,
                    },
                    (-log_e).exp().min(1.0),
                )
            }
        }
    }
}
