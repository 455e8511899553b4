//! Experiments: define an A/B test (variants with weights, a seed, a primary
//! metric, coverage), start, stop, declare a winner. Units are assigned
//! deterministically and stickily (see [`assignment`]); exposures and
//! conversions (with a value) are tallied per variant; results compare every
//! variant with the control (the first) on rate and mean value, with 95%
//! intervals and p-values, and check the split for sample ratio mismatch
//! (see [`stats`]).
//!
//! Built only with the public `mercato-sdk`. Store layout: `exp/{key}`,
//! `unit/{key}/{unit-id}` (the unit's variant and value), `tally/{key}/{variant}`.

pub mod assignment;
mod settings;
/// The statistics, from the crate the host shares.
pub use mercato_stats as stats;

use mercato_sdk::experiments::{
    Assignment, Comparison, Experiment, ExperimentDraft, ExperimentResults, ExperimentStatus,
    Experiments, Interval, VariantResult,
};
use mercato_sdk::{Component, Description, Error, Event, Validation, clock, store};
use serde::{Deserialize, Serialize};

pub use settings::Settings;

/// The experiments component.
#[derive(Debug)]
pub struct Lab;

mercato_sdk::export_experiments!(Lab);

/// A unit that saw its variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Unit {
    variant: String,
    converted: bool,
    value: f64,
}

/// Per-variant running totals.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Tally {
    units: u64,
    conversions: u64,
    sum: f64,
    sum_sq: f64,
}

fn load(key: &str) -> Result<Experiment, Error> {
    store::get(&format!("exp/{key}"))?.ok_or_else(|| Error::not_found("experiment", key))
}

fn save(e: &Experiment) -> Result<Experiment, Error> {
    store::set(&format!("exp/{}", e.key), e)?;
    Ok(e.clone())
}

fn status_name(s: ExperimentStatus) -> &'static str {
    match s {
        ExperimentStatus::Draft => "draft",
        ExperimentStatus::Running => "running",
        ExperimentStatus::Stopped => "stopped",
    }
}

fn running(key: &str) -> Result<Experiment, Error> {
    let e = load(key)?;
    if e.status != ExperimentStatus::Running {
        return Err(Error::Conflict(format!(
            "experiment `{key}` is {}, not running",
            status_name(e.status)
        )));
    }
    Ok(e)
}

fn tally_key(key: &str, variant: &str) -> String {
    format!("tally/{key}/{variant}")
}

/// The unit's variant: its recorded one if it was exposed, else the hash's.
fn assignment_of(e: &Experiment, unit: &str) -> Result<Assignment, Error> {
    let variant = match store::get::<Unit>(&format!("unit/{}/{unit}", e.key))? {
        Some(u) => Some(u.variant),
        None if assignment::bucket(&e.seed, unit) < e.coverage_bp => {
            let weights: Vec<u32> = e.variants.iter().map(|v| v.weight).collect();
            assignment::variant_index(&e.seed, unit, &weights)
                .and_then(|i| e.variants.get(i))
                .map(|v| v.key.clone())
        }
        None => None,
    };
    Ok(Assignment {
        experiment: e.key.clone(),
        unit_id: unit.to_owned(),
        variant,
    })
}

fn comparison(c: Option<stats::Comparison>) -> Option<Comparison> {
    let c = c?;
    let figures = [
        c.absolute_lift,
        c.relative_lift,
        c.absolute_ci.low,
        c.absolute_ci.high,
        c.relative_ci.low,
        c.relative_ci.high,
        c.p_value,
    ];
    // Undefined figures (an arm without conversions, a zero control mean)
    // leave the comparison out rather than send NaN.
    figures.iter().all(|f| f.is_finite()).then_some(Comparison {
        absolute_lift: c.absolute_lift,
        relative_lift: c.relative_lift,
        absolute_ci: Interval {
            low: c.absolute_ci.low,
            high: c.absolute_ci.high,
        },
        relative_ci: Interval {
            low: c.relative_ci.low,
            high: c.relative_ci.high,
        },
        p_value: c.p_value,
    })
}

impl Component for Lab {
    type Settings = Settings;

    fn describe() -> Description {
        Description::new(
            "Experiments",
            "A/B tests for sales plays: sticky, hashed assignment of customers or accounts, \
             exposures and conversions, and results against the control with 95% confidence \
             intervals, p-values and a sample-ratio-mismatch check.",
        )
        .settings_schema(settings::schema())
    }

    fn validate_settings(settings: &Settings) -> Vec<mercato_sdk::FieldError> {
        settings.check()
    }
}

impl Experiments for Lab {
    fn define(draft: ExperimentDraft) -> Result<Experiment, Error> {
        let settings: Settings = mercato_sdk::settings::get()?;
        let mut check = Validation::new();
        check
            .require(
                !draft.key.is_empty()
                    && draft.key.len() <= 64
                    && draft
                        .key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "key",
                "must be 1-64 letters, digits, `-` or `_`",
            )
            .require(
                draft.description.len() <= 500,
                "description",
                "must be at most 500 bytes",
            )
            .require(
                (2..=settings.max_variants as usize).contains(&draft.variants.len()),
                "variants",
                &format!("needs 2 to {} variants", settings.max_variants),
            )
            .not_blank(&draft.seed, "seed")
            .not_blank(&draft.primary_metric.name, "primary-metric.name")
            .require(
                draft.coverage_bp <= 10_000,
                "coverage-bp",
                "must be between 0 and 10000",
            );
        let mut keys = std::collections::BTreeSet::new();
        for (i, v) in draft.variants.iter().enumerate() {
            check
                .require(
                    !v.key.trim().is_empty() && v.key.len() <= 64 && !v.key.contains('/'),
                    &format!("variants[{i}].key"),
                    "must be 1-64 characters without `/`",
                )
                .require(
                    keys.insert(v.key.clone()),
                    &format!("variants[{i}].key"),
                    "is used twice",
                )
                .require(
                    (1..=1_000_000).contains(&v.weight),
                    &format!("variants[{i}].weight"),
                    "must be between 1 and 1000000",
                );
        }
        check.finish()?;
        if store::get::<Experiment>(&format!("exp/{}", draft.key))?.is_some() {
            return Err(Error::Conflict(format!(
                "an experiment `{}` exists already",
                draft.key
            )));
        }
        let e = Experiment {
            key: draft.key,
            description: draft.description,
            unit_type: draft.unit_type,
            variants: draft.variants,
            seed: draft.seed,
            primary_metric: draft.primary_metric,
            coverage_bp: draft.coverage_bp,
            status: ExperimentStatus::Draft,
            winner: None,
            started_at: None,
            stopped_at: None,
        };
        Event::new("experiment.defined")
            .with("experiment", e.key.as_str())
            .emit();
        save(&e)
    }

    fn start(key: String) -> Result<Experiment, Error> {
        let settings: Settings = mercato_sdk::settings::get()?;
        let mut e = load(&key)?;
        if e.status != ExperimentStatus::Draft {
            return Err(Error::Conflict(format!(
                "experiment `{key}` is {}; only a draft can start",
                status_name(e.status)
            )));
        }
        let running = store::values::<Experiment>("exp/")?
            .iter()
            .filter(|x| x.status == ExperimentStatus::Running)
            .count();
        if running >= settings.max_running as usize {
            return Err(Error::Refused(format!(
                "{running} experiments are running; the limit is {}",
                settings.max_running
            )));
        }
        e.status = ExperimentStatus::Running;
        e.started_at = Some(clock::now());
        Event::new("experiment.started")
            .with("experiment", key.as_str())
            .emit();
        save(&e)
    }

    fn stop(key: String) -> Result<Experiment, Error> {
        let mut e = running(&key)?;
        e.status = ExperimentStatus::Stopped;
        e.stopped_at = Some(clock::now());
        Event::new("experiment.stopped")
            .with("experiment", key.as_str())
            .emit();
        save(&e)
    }

    fn declare_winner(key: String, variant: String) -> Result<Experiment, Error> {
        let mut e = load(&key)?;
        if e.status == ExperimentStatus::Draft {
            return Err(Error::Conflict(format!(
                "experiment `{key}` has not started"
            )));
        }
        if !e.variants.iter().any(|v| v.key == variant) {
            return Err(Error::invalid(
                "variant",
                format!("`{variant}` is not a variant of `{key}`"),
            ));
        }
        if e.status == ExperimentStatus::Running {
            e.status = ExperimentStatus::Stopped;
            e.stopped_at = Some(clock::now());
        }
        e.winner = Some(variant.clone());
        Event::new("experiment.winner")
            .with("experiment", key.as_str())
            .with("variant", variant.as_str())
            .emit();
        save(&e)
    }

    fn set_coverage(key: String, coverage_bp: u32) -> Result<Experiment, Error> {
        Validation::new()
            .require(
                coverage_bp <= 10_000,
                "coverage-bp",
                "must be between 0 and 10000",
            )
            .finish()?;
        let mut e = load(&key)?;
        if e.status == ExperimentStatus::Stopped {
            return Err(Error::Conflict(format!("experiment `{key}` is stopped")));
        }
        e.coverage_bp = coverage_bp;
        save(&e)
    }

    fn get(key: String) -> Result<Experiment, Error> {
        load(&key)
    }

    fn list_experiments() -> Result<Vec<Experiment>, Error> {
        store::values("exp/")
    }

    fn assign(key: String, unit_id: String) -> Result<Assignment, Error> {
        Validation::new().not_blank(&unit_id, "unit-id").finish()?;
        assignment_of(&load(&key)?, &unit_id)
    }

    fn record_exposure(key: String, unit_id: String) -> Result<Assignment, Error> {
        Validation::new().not_blank(&unit_id, "unit-id").finish()?;
        let e = running(&key)?;
        let a = assignment_of(&e, &unit_id)?;
        let Some(variant) = &a.variant else {
            return Ok(a);
        };
        let unit_key = format!("unit/{key}/{unit_id}");
        if store::get::<Unit>(&unit_key)?.is_none() {
            store::set(
                &unit_key,
                &Unit {
                    variant: variant.clone(),
                    converted: false,
                    value: 0.0,
                },
            )?;
            let mut tally: Tally = store::get(&tally_key(&key, variant))?.unwrap_or_default();
            tally.units += 1;
            store::set(&tally_key(&key, variant), &tally)?;
            Event::new("experiment.exposure")
                .customer(unit_id.as_str())
                .with("experiment", key.as_str())
                .with("variant", variant.as_str())
                .emit();
        }
        Ok(a)
    }

    fn record_conversion(key: String, unit_id: String, value: f64) -> Result<Assignment, Error> {
        Validation::new()
            .not_blank(&unit_id, "unit-id")
            .require(value.is_finite(), "value", "must be a finite number")
            .finish()?;
        let e = running(&key)?;
        let unit_key = format!("unit/{key}/{unit_id}");
        let mut unit: Unit = store::get(&unit_key)?.ok_or_else(|| {
            Error::Conflict(format!(
                "unit `{unit_id}` was never exposed to `{key}`; record the exposure first"
            ))
        })?;
        let mut tally: Tally = store::get(&tally_key(&key, &unit.variant))?.unwrap_or_default();
        if !unit.converted {
            unit.converted = true;
            tally.conversions += 1;
        }
        let before = unit.value;
        unit.value += value;
        tally.sum += value;
        tally.sum_sq += unit.value * unit.value - before * before;
        store::set(&unit_key, &unit)?;
        store::set(&tally_key(&key, &unit.variant), &tally)?;
        Event::new("experiment.conversion")
            .customer(unit_id.as_str())
            .with("experiment", key.as_str())
            .with("variant", unit.variant.as_str())
            .with("value", value)
            .emit();
        assignment_of(&e, &unit_id)
    }

    fn results(key: String) -> Result<ExperimentResults, Error> {
        let e = load(&key)?;
        let tallies: Vec<Tally> = e
            .variants
            .iter()
            .map(|v| store::get::<Tally>(&tally_key(&key, &v.key)).map(Option::unwrap_or_default))
            .collect::<Result<_, _>>()?;
        let moments = |t: &Tally| stats::Moments {
            n: t.units,
            sum: t.sum,
            sum_sq: t.sum_sq,
        };
        let control = &tallies[0];
        let variants = e
            .variants
            .iter()
            .zip(&tallies)
            .enumerate()
            .map(|(i, (v, t))| {
                let rate = if t.units == 0 {
                    0.0
                } else {
                    t.conversions as f64 / t.units as f64
                };
                let (rate_vs, mean_vs) = if i == 0 {
                    (None, None)
                } else {
                    (
                        comparison(stats::two_proportions(
                            t.conversions,
                            t.units,
                            control.conversions,
                            control.units,
                        )),
                        comparison(stats::welch(moments(t), moments(control))),
                    )
                };
                VariantResult {
                    variant: v.key.clone(),
                    units: t.units,
                    conversions: t.conversions,
                    rate,
                    mean_value: moments(t).mean(),
                    rate_vs_control: rate_vs,
                    mean_vs_control: mean_vs,
                }
            })
            .collect();
        let units: Vec<u64> = tallies.iter().map(|t| t.units).collect();
        let weights: Vec<u32> = e.variants.iter().map(|v| v.weight).collect();
        let srm = stats::srm_p_value(&units, &weights);
        Ok(ExperimentResults {
            experiment: key,
            variants,
            srm_p_value: srm,
            srm_flagged: srm < 0.001,
        })
    }

    fn sample_size(baseline_rate: f64, minimum_detectable_effect: f64) -> Result<u64, Error> {
        Validation::new()
            .require(
                baseline_rate > 0.0 && baseline_rate < 1.0,
                "baseline-rate",
                "must be between 0 and 1 (exclusive)",
            )
            .require(
                minimum_detectable_effect != 0.0
                    && baseline_rate + minimum_detectable_effect > 0.0
                    && baseline_rate + minimum_detectable_effect <= 1.0,
                "minimum-detectable-effect",
                "must be non-zero and keep the target rate between 0 and 1",
            )
            .finish()?;
        stats::sample_size(baseline_rate, minimum_detectable_effect).ok_or_else(|| {
            Error::invalid(
                "minimum-detectable-effect",
                "no sample size for this effect",
            )
        })
    }
}
