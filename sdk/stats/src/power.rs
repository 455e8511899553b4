//! How many units an experiment needs.

use statrs::distribution::{Binomial, ContinuousCDF, Discrete};

use crate::LEVEL;
use crate::inference::standard_normal;

/// Power the sample size is planned for.
pub const POWER: f64 = 0.8;

fn z(q: f64) -> f64 {
    standard_normal().inverse_cdf(q)
}

/// The normal approximation for the unpooled two-proportion z-test:
/// n = (z₀.₉₇₅ + z₀.₈)² (p₀q₀ + p₁q₁) / mde² per arm (statsmodels'
/// `NormalIndPower` with that test's effect size). It falls short of the
/// power for large effects on few units, which [`sample_size`] corrects.
pub fn normal_approximation(baseline: f64, mde: f64) -> Option<u64> {
    let target = baseline + mde;
    let valid = baseline > 0.0 && baseline < 1.0 && (0.0..=1.0).contains(&target);
    if !valid || mde == 0.0 {
        return None;
    }
    let k = z(1.0 - (1.0 - LEVEL) / 2.0) + z(POWER);
    let spread = baseline * (1.0 - baseline) + target * (1.0 - target);
    let size = (k * k * spread / (mde * mde)).ceil();
    (size.is_finite() && size >= 1.0).then_some(size as u64)
}

/// The binomial outcomes that carry all but a negligible share of the mass.
fn outcomes(n: u64, p: f64) -> Vec<(u64, f64)> {
    let Ok(b) = Binomial::new(p, n) else {
        return Vec::new();
    };
    let mean = n as f64 * p;
    let spread = 9.0 * (mean * (1.0 - p)).sqrt() + 1.0;
    let low = (mean - spread).floor().max(0.0) as u64;
    let high = ((mean + spread).ceil() as u64).min(n);
    (low..=high).map(|x| (x, b.pmf(x))).collect()
}

/// The exact power of the unpooled z-test ([`crate::rates::compare`]) with
/// `n` units per arm when the rates are `p0` and `p1`: the probability, over
/// both arms' binomial outcomes, that it reports p < 0.05.
pub fn exact_power(n: u64, p0: f64, p1: f64) -> f64 {
    let critical = z(1.0 - (1.0 - LEVEL) / 2.0);
    let nf = n as f64;
    let (control, treatment) = (outcomes(n, p0), outcomes(n, p1));
    let mut power = 0.0;
    for (x0, w0) in &control {
        let q0 = *x0 as f64 / nf;
        let v0 = q0 * (1.0 - q0) / nf;
        for (x1, w1) in &treatment {
            let q1 = *x1 as f64 / nf;
            let variance = v0 + q1 * (1.0 - q1) / nf;
            if variance > 0.0 && (q1 - q0).abs() > critical * variance.sqrt() {
                power += w0 * w1;
            }
        }
    }
    power
}

/// Units per arm for the unpooled two-proportion z-test (the test
/// [`crate::rates::compare`] reports) to detect `baseline + mde` against
/// `baseline` at two-sided 95% with at least 80% power: the normal
/// approximation, raised until the exact power reaches 80%. Fixed-horizon: a
/// sequential analysis needs more.
pub fn sample_size(baseline: f64, mde: f64) -> Option<u64> {
    let mut n = normal_approximation(baseline, mde)?;
    // Bounded: the approximation is within a few percent except on tiny n.
    for _ in 0..400 {
        if exact_power(n, baseline, baseline + mde) >= POWER {
            return Some(n);
        }
        n += (n / 500).max(1);
    }
    Some(n)
}
