//! Conversion rates: one arm's rate, and a treatment against the control.

use statrs::distribution::ContinuousCDF;

use crate::inference::{Estimate, standard_normal};
use crate::{Analysis, Comparison, Figure, Interval, LEVEL, Method, Undefined, bayes};

/// `conversions` of `units` converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate {
    /// Units that converted.
    pub conversions: u64,
    /// Units exposed.
    pub units: u64,
}

impl Rate {
    /// `conversions` of `units`.
    pub fn new(conversions: u64, units: u64) -> Rate {
        Rate { conversions, units }
    }

    fn share(self) -> f64 {
        self.conversions as f64 / self.units as f64
    }

    /// Variance of the estimated share, p(1 − p)/n.
    fn variance(self) -> f64 {
        let p = self.share();
        p * (1.0 - p) / self.units as f64
    }
}

/// One arm's rate with its Wilson score interval (defined at 0% and 100%).
pub fn estimate(r: Rate) -> Figure {
    if r.units == 0 {
        return Figure::undefined(Method::Wilson, Undefined::EmptyArm);
    }
    let n = r.units as f64;
    let p = r.share().min(1.0);
    let z = standard_normal().inverse_cdf(1.0 - (1.0 - LEVEL) / 2.0);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Figure {
        value: Some(p),
        interval: Some(Interval {
            low: (centre - half).max(0.0),
            high: (centre + half).min(1.0),
        }),
        method: Method::Wilson,
        undefined: None,
    }
}

/// Treatment `t` against control `c`: absolute lift by the unpooled z-test
/// and its Wald interval, relative lift by the delta method, the Bayesian
/// readout of the relative lift. Under [`Analysis::Sequential`] both
/// intervals are confidence sequences and the p-value is always valid.
pub fn compare(t: Rate, c: Rate, analysis: Analysis) -> Comparison {
    let sequential = matches!(analysis, Analysis::Sequential { .. });
    let (abs_method, rel_method) = if sequential {
        (Method::MixtureSequence, Method::MixtureSequence)
    } else {
        (Method::WaldZ, Method::DeltaZ)
    };
    if t.units == 0 || c.units == 0 {
        return Comparison {
            absolute: Figure::undefined(abs_method, Undefined::EmptyArm),
            relative: Figure::undefined(rel_method, Undefined::EmptyArm),
            p_value: None,
            bayes: None,
        };
    }
    let (p1, p0) = (t.share(), c.share());
    let units = (t.units + c.units) as f64;
    let absolute = Estimate {
        value: p1 - p0,
        variance: t.variance() + c.variance(),
        dof: None,
        units,
    };
    let relative = (p0 > 0.0).then(|| Estimate {
        value: p1 / p0 - 1.0,
        variance: t.variance() / (p0 * p0) + c.variance() * p1 * p1 / p0.powi(4),
        dof: None,
        units,
    });
    finish(absolute, relative, abs_method, rel_method, analysis)
}

/// Figures, p-value and Bayesian readout from the two estimates; shared by
/// rates and means so that both treat undefined corners alike.
pub(crate) fn finish(
    absolute: Estimate,
    relative: Option<Estimate>,
    abs_method: Method,
    rel_method: Method,
    analysis: Analysis,
) -> Comparison {
    let (abs_figure, p_value) = if absolute.usable() {
        let (interval, p) = absolute.infer(analysis);
        (
            Figure {
                value: Some(absolute.value),
                interval: Some(interval),
                method: abs_method,
                undefined: None,
            },
            Some(p),
        )
    } else {
        (
            Figure::point(abs_method, absolute.value, Undefined::NoVariation),
            None,
        )
    };
    let (rel_figure, readout) = match relative {
        None => (Figure::undefined(rel_method, Undefined::ZeroControl), None),
        Some(r) if r.usable() => {
            let (interval, _) = r.infer(analysis);
            (
                Figure {
                    value: Some(r.value),
                    interval: Some(interval),
                    method: rel_method,
                    undefined: None,
                },
                Some(bayes::readout(r.value, r.variance.sqrt())),
            )
        }
        Some(r) => (
            Figure::point(rel_method, r.value, Undefined::NoVariation),
            None,
        ),
    };
    Comparison {
        absolute: abs_figure,
        relative: rel_figure,
        p_value,
        bayes: readout,
    }
}
