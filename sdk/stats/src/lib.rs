//! The statistics behind experiment results and rollout guardrails, shared by
//! the experiments component, third-party components and the host (the
//! console's dashboard draws its curves with these same functions), as plain
//! functions checked against reference values from SciPy, statsmodels and
//! GrowthBook's `gbstats` (see `tests/reference/`).
//!
//! Must stay free of I/O and of the host: it compiles into components.
//!
//! Every figure is a [`Figure`]: a value and an interval that are `None` with
//! an [`Undefined`] reason when they are not defined, and the [`Method`] that
//! produced them. Methods (two-sided, 95%):
//!
//! - Rates ([`rates::compare`]): unpooled two-proportion z-test and its Wald
//!   interval for the absolute lift — the test and the interval invert one
//!   another, so `p < 0.05` exactly when the interval excludes 0; relative
//!   lift `p₁/p₀ − 1` by the delta method.
//! - Means ([`means::compare`]): Welch's t-test and interval (Welch–
//!   Satterthwaite degrees of freedom); relative lift by the delta method with
//!   the same degrees of freedom (as `gbstats`); CUPED regression adjustment
//!   with θ from both arms pooled when a pre-period covariate was recorded.
//! - Sequential ([`Analysis::Sequential`]): Gaussian mixture confidence
//!   sequences (Waudby-Smith et al. 2023, eq. 9; tuning as in `gbstats`) and
//!   their always-valid p-values, so looking at any time keeps the error rate.
//! - Bayesian ([`bayes`]): normal posterior of the relative lift under a flat
//!   (improper) prior: probability to beat the control and expected loss.
//! - Many arms ([`correction`]): Holm and Benjamini–Hochberg adjusted p-values.
//! - Sample ratio mismatch ([`srm`]): Pearson's chi-square against the weights.
//! - Sample size ([`power`]): per arm for the unpooled z-test above.

pub mod bayes;
pub mod correction;
mod inference;
pub mod means;
pub mod moments;
pub mod power;
pub mod rates;
pub mod srm;

pub use inference::{Analysis, DEFAULT_TUNING};
pub use moments::Moments;

/// Two-sided confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// An interval: a confidence interval, a confidence sequence or a credible
/// interval, as the figure's [`Method`] says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies inside (bounds included).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// How a figure was computed; [`Method::name`] is the stable label results carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A rate with its Wilson score interval.
    Wilson,
    /// A mean with its Student t interval.
    StudentT,
    /// Unpooled two-proportion z-test, Wald interval.
    WaldZ,
    /// Welch's t-test and interval.
    WelchT,
    /// Welch's t on CUPED-adjusted means.
    CupedWelchT,
    /// Delta-method relative lift, normal quantiles.
    DeltaZ,
    /// Delta-method relative lift, Welch t quantiles.
    DeltaT,
    /// Delta-method relative lift of CUPED-adjusted means.
    CupedDeltaT,
    /// Gaussian mixture confidence sequence (always valid).
    MixtureSequence,
    /// Gaussian mixture confidence sequence on CUPED-adjusted means.
    CupedMixtureSequence,
}

impl Method {
    /// The label results carry.
    pub fn name(self) -> &'static str {
        match self {
            Method::Wilson => "wilson",
            Method::StudentT => "student-t",
            Method::WaldZ => "unpooled-z-wald",
            Method::WelchT => "welch-t",
            Method::CupedWelchT => "cuped-welch-t",
            Method::DeltaZ => "delta-method-z",
            Method::DeltaT => "delta-method-welch-t",
            Method::CupedDeltaT => "cuped-delta-method-welch-t",
            Method::MixtureSequence => "gaussian-mixture-sequence",
            Method::CupedMixtureSequence => "cuped-gaussian-mixture-sequence",
        }
    }
}

/// Why a figure is not defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undefined {
    /// An arm has no units.
    EmptyArm,
    /// An arm has fewer than two units (no variance to estimate).
    TooFewUnits,
    /// The estimate has no variance: nothing varies where it would need to
    /// (every rate 0 or 1, every value equal).
    NoVariation,
    /// The control's rate or mean is 0, so a relative lift has no meaning.
    ZeroControl,
}

impl Undefined {
    /// Why, in words.
    pub fn reason(self) -> &'static str {
        match self {
            Undefined::EmptyArm => "an arm has no units yet",
            Undefined::TooFewUnits => "an arm has fewer than two units",
            Undefined::NoVariation => {
                "the estimate has no variance (rates of 0 or 100%, or equal values), so no interval can be drawn"
            }
            Undefined::ZeroControl => {
                "the control's rate or mean is 0, so a relative lift is not defined"
            }
        }
    }
}

/// One figure with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    /// The estimate, `None` when not defined.
    pub value: Option<f64>,
    /// Its interval, `None` when not defined.
    pub interval: Option<Interval>,
    /// How it was computed.
    pub method: Method,
    /// Why `value` or `interval` is `None`.
    pub undefined: Option<Undefined>,
}

impl Figure {
    fn undefined(method: Method, why: Undefined) -> Figure {
        Figure {
            value: None,
            interval: None,
            method,
            undefined: Some(why),
        }
    }

    fn point(method: Method, value: f64, why: Undefined) -> Figure {
        Figure {
            value: Some(value),
            interval: None,
            method,
            undefined: Some(why),
        }
    }
}

/// A treatment compared with the control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Treatment − control.
    pub absolute: Figure,
    /// (Treatment − control) / control.
    pub relative: Figure,
    /// Two-sided p-value of the test whose inversion is `absolute`'s interval
    /// (always valid under [`Analysis::Sequential`]).
    pub p_value: Option<f64>,
    /// The Bayesian readout of the relative lift, `None` when it is undefined
    /// (`relative.undefined` says why).
    pub bayes: Option<bayes::Readout>,
}
