//! Mean value per unit: one arm's mean, and a treatment against the control,
//! CUPED-adjusted when a pre-period covariate was recorded.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::inference::Estimate;
use crate::rates::finish;
use crate::{Analysis, Comparison, Figure, Interval, LEVEL, Method, Moments, Undefined};

/// One arm's mean with its Student t interval.
pub fn estimate(m: &Moments) -> Figure {
    match m.n {
        0 => Figure::undefined(Method::StudentT, Undefined::EmptyArm),
        1 => Figure::point(Method::StudentT, m.mean, Undefined::TooFewUnits),
        n => {
            let se = (m.variance() / n as f64).sqrt();
            let Ok(t) = StudentsT::new(0.0, 1.0, (n - 1) as f64) else {
                return Figure::point(Method::StudentT, m.mean, Undefined::TooFewUnits);
            };
            let half = t.inverse_cdf(1.0 - (1.0 - LEVEL) / 2.0) * se;
            Figure {
                value: Some(m.mean),
                interval: Some(Interval {
                    low: m.mean - half,
                    high: m.mean + half,
                }),
                method: Method::StudentT,
                undefined: None,
            }
        }
    }
}

/// θ of CUPED: the pooled covariance of covariate and value over the pooled
/// covariate variance (0, no adjustment, when either does not vary).
pub fn cuped_theta(t: &Moments, c: &Moments) -> f64 {
    let joint = t.merge(c);
    if joint.covariate_m2 > 0.0 && joint.m2 > 0.0 {
        joint.co_moment / joint.covariate_m2
    } else {
        0.0
    }
}

/// Treatment `t` against control `c`: Welch's t-test and interval for the
/// absolute lift, the delta method with the same degrees of freedom for the
/// relative lift, both on CUPED-adjusted means when a covariate varies.
pub fn compare(t: &Moments, c: &Moments, analysis: Analysis) -> Comparison {
    let theta = cuped_theta(t, c);
    let cuped = theta != 0.0;
    let (abs_method, rel_method) = match (analysis, cuped) {
        (Analysis::Sequential { .. }, false) => (Method::MixtureSequence, Method::MixtureSequence),
        (Analysis::Sequential { .. }, true) => {
            (Method::CupedMixtureSequence, Method::CupedMixtureSequence)
        }
        (Analysis::FixedHorizon, false) => (Method::WelchT, Method::DeltaT),
        (Analysis::FixedHorizon, true) => (Method::CupedWelchT, Method::CupedDeltaT),
    };
    let too_few = |why| Comparison {
        absolute: Figure::undefined(abs_method, why),
        relative: Figure::undefined(rel_method, why),
        p_value: None,
        bayes: None,
    };
    if t.n == 0 || c.n == 0 {
        return too_few(Undefined::EmptyArm);
    }
    // Adjusted means and variances (θ = 0 leaves them as they are).
    let adjusted = |m: &Moments| {
        (
            m.mean - theta * m.covariate_mean,
            (m.variance() + theta * theta * m.covariate_variance() - 2.0 * theta * m.covariance())
                .max(0.0),
        )
    };
    let ((mean1, var1), (mean0, var0)) = (adjusted(t), adjusted(c));
    let diff = mean1 - mean0;
    if t.n < 2 || c.n < 2 {
        let mut out = too_few(Undefined::TooFewUnits);
        out.absolute.value = Some(diff);
        return out;
    }
    let (n1, n0) = (t.n as f64, c.n as f64);
    let (v1, v0) = (var1 / n1, var0 / n0);
    let dof = (v1 + v0).powi(2) / (v1 * v1 / (n1 - 1.0) + v0 * v0 / (n0 - 1.0));
    let dof = dof.is_finite().then_some(dof);
    let units = n1 + n0;
    let absolute = Estimate {
        value: diff,
        variance: v1 + v0,
        dof,
        units,
    };
    // The relative lift is over the control's observed (unadjusted) mean.
    let (u1, u0) = (t.mean, c.mean);
    let relative = (u0 != 0.0).then(|| Estimate {
        value: diff / u0,
        variance: v1 / (u0 * u0) + v0 * u1 * u1 / u0.powi(4),
        dof,
        units,
    });
    finish(absolute, relative, abs_method, rel_method, analysis)
}
