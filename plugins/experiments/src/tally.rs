//! What the component keeps per experiment beyond its definition: each
//! exposed unit's variant, covariate and per-metric value; per variant and
//! metric a [`Summary`] (mergeable moments, so that large values keep their
//! precision); per variant and day a [`Day`] for curves over time.
//!
//! Store layout: `unit/{key}/{unit-id}`, `sum/{key}/{variant}/{metric}`
//! (metric 0 is the primary, i the i-th guardrail), `day/{key}/{variant}/{day}`.
//! Experiments from before kept `tally/{key}/{variant}` (n, Σ, Σ²) for the
//! primary; it is read once into a summary and no longer written.

use std::collections::BTreeMap;

use mercato_sdk::{Error, Timestamp, clock, store};
use mercato_stats::Moments;
use serde::{Deserialize, Serialize};

/// A unit that saw its variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unit {
    pub variant: String,
    /// Converted on the primary metric.
    #[serde(default)]
    pub converted: bool,
    /// Value on the primary metric.
    #[serde(default)]
    pub value: f64,
    /// Pre-period covariate (0 when none was recorded).
    #[serde(default)]
    pub covariate: f64,
    /// Guardrail name → (converted, value).
    #[serde(default)]
    pub guardrails: BTreeMap<String, (bool, f64)>,
}

impl Unit {
    pub fn key(experiment: &str, unit: &str) -> String {
        format!("unit/{experiment}/{unit}")
    }
}

/// One variant on one metric.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Units with at least one conversion.
    pub conversions: u64,
    /// Per-unit values (0 for units without a conversion) and covariates.
    pub moments: Moments,
    /// When it last changed.
    pub as_of: Option<Timestamp>,
}

/// The layout experiments used before summaries.
#[derive(Debug, Deserialize)]
struct OldTally {
    units: u64,
    conversions: u64,
    sum: f64,
    sum_sq: f64,
}

impl Summary {
    fn key(experiment: &str, variant: &str, metric: usize) -> String {
        format!("sum/{experiment}/{variant}/{metric}")
    }

    pub fn load(experiment: &str, variant: &str, metric: usize) -> Result<Summary, Error> {
        if let Some(s) = store::get(&Summary::key(experiment, variant, metric))? {
            return Ok(s);
        }
        if metric == 0
            && let Some(old) = store::get::<OldTally>(&format!("tally/{experiment}/{variant}"))?
        {
            return Ok(Summary {
                conversions: old.conversions,
                moments: Moments::from_sums(old.units, old.sum, old.sum_sq),
                as_of: None,
            });
        }
        Ok(Summary::default())
    }

    pub fn save(&self, experiment: &str, variant: &str, metric: usize) -> Result<(), Error> {
        store::set(&Summary::key(experiment, variant, metric), self)
    }
}

/// One variant's tally for one UTC day.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Day {
    /// Midnight (UTC) that starts the day.
    pub start: Timestamp,
    pub variant: String,
    pub units: u64,
    pub conversions: u64,
    pub value: f64,
}

impl Day {
    /// Adds to the day's tally of `variant` at `now`.
    pub fn add(
        experiment: &str,
        variant: &str,
        now: Timestamp,
        units: u64,
        conversions: u64,
        value: f64,
    ) -> Result<(), Error> {
        let start = now - now % clock::DAY;
        // Zero-padded so that keys sort by day.
        let key = format!("day/{experiment}/{variant}/{:08}", start / clock::DAY);
        let mut tally: Day = store::get(&key)?.unwrap_or_else(|| Day {
            start,
            variant: variant.to_owned(),
            ..Day::default()
        });
        tally.units += units;
        tally.conversions += conversions;
        tally.value += value;
        store::set(&key, &tally)
    }

    /// Every day of `experiment`, oldest first, variants in store order.
    pub fn all(experiment: &str) -> Result<Vec<Day>, Error> {
        let mut days: Vec<Day> = store::values(&format!("day/{experiment}/"))?;
        days.sort_by_key(|d| d.start);
        Ok(days)
    }
}
