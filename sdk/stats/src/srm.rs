//! Sample ratio mismatch: are units split as the weights say?

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Pearson's chi-square goodness of fit of units per arm against the
/// weights (normalised), `k − 1` degrees of freedom, empty arms included;
/// arms of weight 0 are left out. 1 when there is nothing to test.
pub fn p_value(units: &[u64], weights: &[f64]) -> f64 {
    let total: u64 = units.iter().sum();
    let weight_sum: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if total == 0 || units.len() < 2 || weight_sum <= 0.0 {
        return 1.0;
    }
    let stat: f64 = units
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(o, w)| {
            let expected = total as f64 * w / weight_sum;
            (*o as f64 - expected).powi(2) / expected
        })
        .sum();
    match ChiSquared::new((units.len() - 1) as f64) {
        Ok(chi) => chi.sf(stat),
        Err(_) => 1.0,
    }
}
