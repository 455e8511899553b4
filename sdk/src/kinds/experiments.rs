//! A/B experiments: sticky assignment, exposures, conversions, results.

use std::marker::PhantomData;

use crate::bindings::experimentation::exports::mercato::sales::experimentation::Guest;
pub use crate::bindings::experimentation::exports::mercato::sales::experimentation::{
    Analysis, ArmResult, Assignment, Comparison, DailyTally, Experiment, ExperimentDraft,
    ExperimentResults, ExperimentStatus, Figure, Interval, Metric, MetricKind, MetricResult,
    UnitType, Variant,
};
use crate::{Component, Error};

/// An experiments component. Export it with
/// [`export_experiments!`](crate::export_experiments).
pub trait Experiments: Component {
    /// Define an experiment (in draft).
    fn define(draft: ExperimentDraft) -> Result<Experiment, Error>;
    /// Start assigning units.
    fn start(key: String) -> Result<Experiment, Error>;
    /// Stop the experiment.
    fn stop(key: String) -> Result<Experiment, Error>;
    /// Declare a winning variant.
    fn declare_winner(key: String, variant: String) -> Result<Experiment, Error>;
    /// Change coverage; raising it never moves a unit already in.
    fn set_coverage(key: String, coverage_bp: u32) -> Result<Experiment, Error>;
    /// One experiment.
    fn get(key: String) -> Result<Experiment, Error>;
    /// Every experiment.
    fn list_experiments() -> Result<Vec<Experiment>, Error>;
    /// The unit's variant.
    fn assign(key: String, unit_id: String) -> Result<Assignment, Error>;
    /// Record an exposure, with an optional pre-period covariate.
    fn record_exposure(
        key: String,
        unit_id: String,
        covariate: Option<f64>,
    ) -> Result<Assignment, Error>;
    /// Record a conversion with a value, on the primary metric or a guardrail.
    fn record_conversion(
        key: String,
        unit_id: String,
        value: f64,
        metric: Option<String>,
    ) -> Result<Assignment, Error>;
    /// Results per variant against the control.
    fn results(key: String) -> Result<ExperimentResults, Error>;
    /// Units per arm needed for a minimum detectable effect at 80% power.
    fn sample_size(baseline_rate: f64, minimum_detectable_effect: f64) -> Result<u64, Error>;
}

#[doc(hidden)]
#[derive(Debug)]
pub struct Adapter<T>(PhantomData<T>);

crate::component::component_adapter!(Adapter, Experiments);

impl<T: Experiments> Guest for Adapter<T> {
    fn define(draft: ExperimentDraft) -> Result<Experiment, Error> {
        T::define(draft)
    }
    fn start(key: String) -> Result<Experiment, Error> {
        T::start(key)
    }
    fn stop(key: String) -> Result<Experiment, Error> {
        T::stop(key)
    }
    fn declare_winner(key: String, variant: String) -> Result<Experiment, Error> {
        T::declare_winner(key, variant)
    }
    fn set_coverage(key: String, coverage_bp: u32) -> Result<Experiment, Error> {
        T::set_coverage(key, coverage_bp)
    }
    fn get(key: String) -> Result<Experiment, Error> {
        T::get(key)
    }
    fn list_experiments() -> Result<Vec<Experiment>, Error> {
        T::list_experiments()
    }
    fn assign(key: String, unit_id: String) -> Result<Assignment, Error> {
        T::assign(key, unit_id)
    }
    fn record_exposure(
        key: String,
        unit_id: String,
        covariate: Option<f64>,
    ) -> Result<Assignment, Error> {
        T::record_exposure(key, unit_id, covariate)
    }
    fn record_conversion(
        key: String,
        unit_id: String,
        value: f64,
        metric: Option<String>,
    ) -> Result<Assignment, Error> {
        T::record_conversion(key, unit_id, value, metric)
    }
    fn results(key: String) -> Result<ExperimentResults, Error> {
        T::results(key)
    }
    fn sample_size(baseline_rate: f64, minimum_detectable_effect: f64) -> Result<u64, Error> {
        T::sample_size(baseline_rate, minimum_detectable_effect)
    }
}

/// Export an [`Experiments`] implementation as the component.
#[macro_export]
macro_rules! export_experiments {
    ($component:ty) => {
        $crate::__export_kind!(
            $component,
            $crate::experiments::Experiments,
            $crate::experiments::Adapter<$component>,
            __export_experimentation_impl,
            experimentation
        );
    };
}
