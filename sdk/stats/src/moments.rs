//! Running moments of per-unit values, with an optional pre-period covariate
//! for CUPED: Welford's updates, so that large values (revenue in minor units
//! over months) keep their precision, and Chan et al.'s merge, so that tallies
//! kept per arm or per day combine exactly.

/// Count, mean and centred sums of squares of a value `y` and a covariate `x`
/// (0 when none was recorded), and their centred co-moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, rename_all = "kebab-case"))]
pub struct Moments {
    /// Units.
    pub n: u64,
    /// Mean of the values.
    pub mean: f64,
    /// Σ(y − ȳ)².
    pub m2: f64,
    /// Mean of the covariate.
    pub covariate_mean: f64,
    /// Σ(x − x̄)².
    pub covariate_m2: f64,
    /// Σ(x − x̄)(y − ȳ).
    pub co_moment: f64,
}

impl Moments {
    /// Moments of a list of values without a covariate.
    pub fn of(values: &[f64]) -> Moments {
        let mut m = Moments::default();
        for v in values {
            m.push(*v, 0.0);
        }
        m
    }

    /// Moments of `(value, covariate)` pairs.
    pub fn of_pairs(pairs: &[(f64, f64)]) -> Moments {
        let mut m = Moments::default();
        for (y, x) in pairs {
            m.push(*y, *x);
        }
        m
    }

    /// Moments from the raw sums older tallies kept (n, Σy, Σy²); as precise
    /// as those sums were, which is why new tallies keep moments instead.
    pub fn from_sums(n: u64, sum: f64, sum_sq: f64) -> Moments {
        if n == 0 {
            return Moments::default();
        }
        let mean = sum / n as f64;
        Moments {
            n,
            mean,
            m2: (sum_sq - sum * mean).max(0.0),
            ..Moments::default()
        }
    }

    /// Adds one unit with value `y` and covariate `x`.
    pub fn push(&mut self, y: f64, x: f64) {
        self.n += 1;
        let n = self.n as f64;
        let dx = x - self.covariate_mean;
        let dy = y - self.mean;
        self.covariate_mean += dx / n;
        self.mean += dy / n;
        self.covariate_m2 += dx * (x - self.covariate_mean);
        self.m2 += dy * (y - self.mean);
        self.co_moment += dx * (y - self.mean);
    }

    /// One unit's value, whose covariate is `x`, grew by `delta` (a unit's
    /// revenue is the sum of its conversions).
    pub fn add_to_unit(&mut self, x: f64, old: f64, delta: f64) {
        if self.n == 0 {
            return;
        }
        let new = old + delta;
        let before = self.mean;
        self.mean += delta / self.n as f64;
        self.m2 = (self.m2 + delta * (new - self.mean + old - before)).max(0.0);
        self.co_moment += delta * (x - self.covariate_mean);
    }

    /// Both samples as one.
    pub fn merge(&self, other: &Moments) -> Moments {
        if self.n == 0 {
            return *other;
        }
        if other.n == 0 {
            return *self;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let dy = other.mean - self.mean;
        let dx = other.covariate_mean - self.covariate_mean;
        Moments {
            n: self.n + other.n,
            mean: self.mean + dy * nb / n,
            m2: self.m2 + other.m2 + dy * dy * na * nb / n,
            covariate_mean: self.covariate_mean + dx * nb / n,
            covariate_m2: self.covariate_m2 + other.covariate_m2 + dx * dx * na * nb / n,
            co_moment: self.co_moment + other.co_moment + dx * dy * na * nb / n,
        }
    }

    /// A centred sum over n − 1; 0 below two units.
    fn per_unit(&self, centred: f64) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            centred / (self.n - 1) as f64
        }
    }

    /// Sample variance of the values (n − 1 in the denominator).
    pub fn variance(&self) -> f64 {
        self.per_unit(self.m2)
    }

    /// Sample variance of the covariate.
    pub fn covariate_variance(&self) -> f64 {
        self.per_unit(self.covariate_m2)
    }

    /// Sample covariance of covariate and value.
    pub fn covariance(&self) -> f64 {
        self.per_unit(self.co_moment)
    }

    /// Whether any covariate varies (CUPED has something to work with).
    pub fn has_covariate(&self) -> bool {
        self.covariate_m2 > 0.0
    }
}
