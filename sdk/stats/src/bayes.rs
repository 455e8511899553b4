//! The Bayesian readout of a lift: with a flat (improper) prior on the
//! relative lift and its delta-method normal likelihood (as GrowthBook's
//! effect model with `proper = false`), the posterior is N(estimate, se²).

use statrs::distribution::{Continuous, ContinuousCDF};

use crate::inference::standard_normal;
use crate::{Interval, LEVEL};

/// The prior, stated in results.
pub const PRIOR: &str = "flat (improper) prior on the relative lift; normal posterior N(lift, se²)";

/// Posterior figures of one treatment against the control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Readout {
    /// P(treatment beats control) = P(lift > 0).
    pub chance_to_win: f64,
    /// Expected loss of shipping the treatment: E[max(−lift, 0)].
    pub expected_loss: f64,
    /// Expected loss of keeping the control: E[max(lift, 0)].
    pub control_loss: f64,
    /// 95% credible interval of the lift.
    pub credible: Interval,
}

/// The readout for a lift estimated at `mean` with standard error `sd`.
pub fn readout(mean: f64, sd: f64) -> Readout {
    let n = standard_normal();
    let z = mean / sd;
    let density = n.pdf(z);
    let q = n.inverse_cdf(1.0 - (1.0 - LEVEL) / 2.0);
    Readout {
        chance_to_win: n.cdf(z),
        expected_loss: (sd * density - mean * n.cdf(-z)).max(0.0),
        control_loss: (mean * n.cdf(z) + sd * density).max(0.0),
        credible: Interval {
            low: mean - q * sd,
            high: mean + q * sd,
        },
    }
}
