//! Experiments: define an A/B test (variants with weights, a seed, a primary
//! metric and guardrails, coverage, fixed-horizon or sequential analysis),
//! start, stop, declare a winner. Units are assigned deterministically and
//! stickily (see [`assignment`]); exposures (with an optional pre-period
//! covariate) and conversions (with a value, per metric) are tallied per
//! variant and per day (see `tally`); results compare every variant with the
//! control (the first) on every metric's rate and mean, each figure with its
//! interval, method, sample and time (see `results` and [`stats`]).
//!
//! Built only with the public `mercato-sdk`. Store layout: `exp/{key}` and
//! the tallies described in `tally`.

pub mod assignment;
mod results;
mod settings;
mod tally;
/// The statistics, from the crate the host shares.
pub use mercato_stats as stats;

use mercato_sdk::experiments::{
    Analysis, Assignment, Experiment, ExperimentDraft, ExperimentResults, ExperimentStatus,
    Experiments,
};
use mercato_sdk::{
    Component, CustomerRecord, Description, Error, Event, ForgetReport, Validation, clock, store,
};
use tally::{Day, Summary, Unit};

pub use settings::Settings;

/// The experiments component.
#[derive(Debug)]
pub struct Lab;

mercato_sdk::export_experiments!(Lab);

/// Most guardrails one experiment may watch.
const MAX_GUARDRAILS: usize = 10;

/// One experiment.
fn load(key: &str) -> Result<Experiment, Error> {
    let stored =
        store::get(&format!("exp/{key}"))?.ok_or_else(|| Error::not_found("experiment", key))?;
    upgrade(stored)
}

/// (experiment key, unit record) of every experiment `customer` was a unit of.
fn units_of(customer: &str) -> Result<Vec<(String, Unit)>, Error> {
    let mut found = Vec::new();
    for experiment in load_all()? {
        if let Some(unit) = store::get::<Unit>(&Unit::key(&experiment.key, customer))? {
            found.push((experiment.key, unit));
        }
    }
    Ok(found)
}

/// Every experiment, in one read of the store.
fn load_all() -> Result<Vec<Experiment>, Error> {
    store::values::<serde_json::Value>("exp/")?
        .into_iter()
        .map(upgrade)
        .collect()
}

/// An experiment as stored; those defined before guardrails, sequential
/// analysis and assignment scheme 2 lack those fields and read as having
/// none, fixed-horizon and scheme 1 (so they keep assigning as they did).
fn upgrade(mut stored: serde_json::Value) -> Result<Experiment, Error> {
    if let Some(fields) = stored.as_object_mut() {
        fields
            .entry("guardrails")
            .or_insert_with(|| serde_json::json!([]));
        fields
            .entry("analysis")
            .or_insert_with(|| serde_json::json!("FixedHorizon"));
        fields
            .entry("assignment_scheme")
            .or_insert_with(|| serde_json::json!(1));
    }
    let key = stored["key"].as_str().unwrap_or_default().to_owned();
    serde_json::from_value(stored)
        .map_err(|e| Error::Internal(format!("experiment `{key}` is unreadable: {e}")))
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

/// The metric index of a conversion: 0 for the primary (or `None`), i for
/// the i-th guardrail.
fn metric_index(e: &Experiment, metric: Option<&str>) -> Result<usize, Error> {
    match metric {
        None => Ok(0),
        Some(name) if name == e.primary_metric.name => Ok(0),
        Some(name) => e
            .guardrails
            .iter()
            .position(|g| g.name == name)
            .map(|i| i + 1)
            .ok_or_else(|| {
                Error::invalid(
                    "metric",
                    format!(
                        "`{name}` is neither the primary metric nor a guardrail of `{}`",
                        e.key
                    ),
                )
            }),
    }
}

/// The unit's variant: its recorded one if it was exposed, else the hash's.
fn assignment_of(e: &Experiment, unit: &str) -> Result<Assignment, Error> {
    let variant = match store::get::<Unit>(&Unit::key(&e.key, unit))? {
        Some(u) => Some(u.variant),
        None if assignment::bucket(&e.seed, unit) < e.coverage_bp => {
            let weights: Vec<u32> = e.variants.iter().map(|v| v.weight).collect();
            assignment::variant_index(e.assignment_scheme, &e.seed, unit, &weights)
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

impl Component for Lab {
    type Settings = Settings;

    fn describe() -> Description {
        Description::new(
            "Experiments",
            "A/B tests for sales plays: sticky, hashed assignment of customers or accounts, \
             exposures and conversions on a primary metric and guardrails, and results \
             against the control where every figure carries its interval, method and \
             sample: p-values adjusted for many arms, an always-valid sequential mode, \
             a Bayesian readout, CUPED and a sample-ratio-mismatch check.",
        )
        .settings_schema(settings::schema())
    }

    fn validate_settings(settings: &Settings) -> Vec<mercato_sdk::FieldError> {
        settings.check()
    }

    /// The customer's exposure in every experiment it was a unit of: the
    /// variant it saw, its covariate and what it converted on.
    fn export_customer(customer: &str) -> Vec<CustomerRecord> {
        units_of(customer)
            .unwrap_or_default()
            .into_iter()
            .map(|(experiment, unit)| {
                let record = serde_json::json!({
                    "experiment": experiment,
                    "variant": unit.variant,
                    "converted": unit.converted,
                    "value": unit.value,
                    "covariate": unit.covariate,
                    "guardrails": unit.guardrails,
                });
                CustomerRecord::new("exposure", experiment, &record)
            })
            .collect()
    }

    /// Delete the customer's unit record in every experiment. The
    /// per-variant and per-day tallies keep counting it (they name no one),
    /// so results do not move; exposed again, it counts as a new unit.
    fn forget_customer(customer: &str) -> Result<ForgetReport, Error> {
        let units = units_of(customer)?;
        for (experiment, _) in &units {
            store::delete(&Unit::key(experiment, customer));
        }
        Ok(ForgetReport::new()
            .removed("exposure", units.len() as u32)
            .kept("per-variant and per-day counts of exposures and conversions, which name no one"))
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
                draft.primary_metric.name.len() <= 64,
                "primary-metric.name",
                "must be at most 64 bytes",
            )
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
        let guardrails = draft.guardrails.unwrap_or_default();
        check.require(
            guardrails.len() <= MAX_GUARDRAILS,
            "guardrails",
            &format!("at most {MAX_GUARDRAILS} guardrails"),
        );
        let mut names = std::collections::BTreeSet::from([draft.primary_metric.name.clone()]);
        for (i, g) in guardrails.iter().enumerate() {
            check.require(
                !g.name.trim().is_empty() && g.name.len() <= 64,
                &format!("guardrails[{i}].name"),
                "must be 1-64 bytes",
            );
            check.require(
                names.insert(g.name.clone()),
                &format!("guardrails[{i}].name"),
                "names the primary metric or another guardrail again",
            );
        }
        check.finish()?;
        if store::get::<serde_json::Value>(&format!("exp/{}", draft.key))?.is_some() {
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
            guardrails,
            analysis: draft.analysis.unwrap_or(Analysis::FixedHorizon),
            assignment_scheme: assignment::CURRENT_SCHEME,
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
        let running = load_all()?
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
        load_all()
    }

    fn assign(key: String, unit_id: String) -> Result<Assignment, Error> {
        Validation::new().not_blank(&unit_id, "unit-id").finish()?;
        assignment_of(&load(&key)?, &unit_id)
    }

    fn record_exposure(
        key: String,
        unit_id: String,
        covariate: Option<f64>,
    ) -> Result<Assignment, Error> {
        Validation::new()
            .not_blank(&unit_id, "unit-id")
            .require(
                covariate.is_none_or(f64::is_finite),
                "covariate",
                "must be a finite number",
            )
            .finish()?;
        let e = running(&key)?;
        let a = assignment_of(&e, &unit_id)?;
        let Some(variant) = &a.variant else {
            return Ok(a);
        };
        let unit_key = Unit::key(&key, &unit_id);
        if store::get::<Unit>(&unit_key)?.is_none() {
            let covariate = covariate.unwrap_or(0.0);
            store::set(
                &unit_key,
                &Unit {
                    variant: variant.clone(),
                    converted: false,
                    value: 0.0,
                    covariate,
                    guardrails: Default::default(),
                },
            )?;
            let now = clock::now();
            for metric in 0..=e.guardrails.len() {
                let mut s = Summary::load(&key, variant, metric)?;
                s.moments.push(0.0, covariate);
                s.as_of = Some(now);
                s.save(&key, variant, metric)?;
            }
            Day::add(&key, variant, now, 1, 0, 0.0)?;
            Event::new("experiment.exposure")
                .customer(unit_id.as_str())
                .with("experiment", key.as_str())
                .with("variant", variant.as_str())
                .emit();
        }
        Ok(a)
    }

    fn record_conversion(
        key: String,
        unit_id: String,
        value: f64,
        metric: Option<String>,
    ) -> Result<Assignment, Error> {
        Validation::new()
            .not_blank(&unit_id, "unit-id")
            .require(value.is_finite(), "value", "must be a finite number")
            .finish()?;
        let e = running(&key)?;
        let index = metric_index(&e, metric.as_deref())?;
        let unit_key = Unit::key(&key, &unit_id);
        let mut unit: Unit = store::get(&unit_key)?.ok_or_else(|| {
            Error::Conflict(format!(
                "unit `{unit_id}` was never exposed to `{key}`; record the exposure first"
            ))
        })?;
        let (first, before) = if index == 0 {
            let was = (!unit.converted, unit.value);
            unit.converted = true;
            unit.value += value;
            was
        } else {
            let name = e.guardrails[index - 1].name.clone();
            let entry = unit.guardrails.entry(name).or_insert((false, 0.0));
            let was = (!entry.0, entry.1);
            *entry = (true, entry.1 + value);
            was
        };
        let now = clock::now();
        let mut s = Summary::load(&key, &unit.variant, index)?;
        if first {
            s.conversions += 1;
        }
        s.moments.add_to_unit(unit.covariate, before, value);
        s.as_of = Some(now);
        s.save(&key, &unit.variant, index)?;
        if index == 0 {
            Day::add(&key, &unit.variant, now, 0, u64::from(first), value)?;
        }
        store::set(&unit_key, &unit)?;
        let metric_name = if index == 0 {
            e.primary_metric.name.as_str()
        } else {
            e.guardrails[index - 1].name.as_str()
        };
        Event::new("experiment.conversion")
            .customer(unit_id.as_str())
            .with("experiment", key.as_str())
            .with("variant", unit.variant.as_str())
            .with("metric", metric_name)
            .with("value", value)
            .emit();
        assignment_of(&e, &unit_id)
    }

    fn results(key: String) -> Result<ExperimentResults, Error> {
        results::of(&load(&key)?)
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
        stats::power::sample_size(baseline_rate, minimum_detectable_effect).ok_or_else(|| {
            Error::invalid(
                "minimum-detectable-effect",
                "no sample size for this effect",
            )
        })
    }
}
