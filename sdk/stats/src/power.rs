//! How many units an experiment needs.

use statrs::distribution::ContinuousCDF;

use crate::LEVEL;
use crate::inference::standard_normal;

/// Power the sample size is planned for.
pub const POWER: f64 = 0.8;

/// Units per arm for the unpooled two-proportion z-test (the test
/// [`crate::rates::compare`] reports) to detect `baseline + mde` against
/// `baseline` at two-sided 95% with 80% power:
/// n = (z₀.₉₇₅ + z₀.₈)² (p₀q₀ + p₁q₁) / mde². Fixed-horizon: a sequential
/// analysis needs more.
pub fn sample_size(baseline: f64, mde: f64) -> Option<u64> {
    let target = baseline + mde;
    if !(baseline > 0.0 && baseline < 1.0) || !(0.0..=1.0).contains(&target) || mde == 0.0 {
        return None;
    }
    let n = standard_normal();
    let z = n.inverse_cdf(1.0 - (1.0 - LEVEL) / 2.0) + n.inverse_cdf(POWER);
    let spread = baseline * (1.0 - baseline) + target * (1.0 - target);
    let size = (z * z * spread / (mde * mde)).ceil();
    (size.is_finite() && size >= 1.0).then_some(size as u64)
}
