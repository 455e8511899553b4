//! Results: every metric (the primary, then the guardrails) per variant, on
//! its rate and its mean, each figure with its interval, method, sample and
//! time; comparisons against the control with raw, Holm and BH p-values and
//! the Bayesian readout; the split checked for sample ratio mismatch.

use mercato_sdk::Error;
use mercato_sdk::Timestamp;
use mercato_sdk::experiments::{
    Analysis, ArmResult, Comparison, DailyTally, Experiment, ExperimentResults, Figure, Interval,
    Metric, MetricKind, MetricResult,
};
use mercato_stats::rates::{self, Rate};
use mercato_stats::{self as stats, correction, means};

use crate::tally::{Day, Summary};

/// The analysis the statistics crate runs for an experiment.
pub fn analysis(a: Analysis) -> stats::Analysis {
    match a {
        Analysis::FixedHorizon => stats::Analysis::FixedHorizon,
        Analysis::Sequential => stats::Analysis::Sequential {
            tuning: stats::DEFAULT_TUNING,
        },
    }
}

fn figure(f: stats::Figure, units: u64, as_of: Option<Timestamp>) -> Figure {
    Figure {
        value: f.value,
        interval: f.interval.map(|i| Interval {
            low: i.low,
            high: i.high,
        }),
        method: f.method.name().to_owned(),
        units,
        as_of,
        reason: f.undefined.map(|u| u.reason().to_owned()),
    }
}

fn latest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.max(b)
}

fn comparison(
    c: stats::Comparison,
    units: u64,
    as_of: Option<Timestamp>,
    higher_is_better: bool,
) -> Comparison {
    let worse = c.absolute.interval.is_some_and(|i| {
        if higher_is_better {
            i.high < 0.0
        } else {
            i.low > 0.0
        }
    });
    Comparison {
        absolute: figure(c.absolute, units, as_of),
        relative: figure(c.relative, units, as_of),
        p_value: c.p_value,
        p_value_holm: c.p_value,
        p_value_bh: c.p_value,
        chance_to_beat_control: c.bayes.map(|b| {
            if higher_is_better {
                b.chance_to_win
            } else {
                1.0 - b.chance_to_win
            }
        }),
        expected_loss: c.bayes.map(|b| {
            if higher_is_better {
                b.expected_loss
            } else {
                b.control_loss
            }
        }),
        worse,
    }
}

/// Fills the adjusted p-values of one family (one measure of one metric).
fn adjust(comparisons: &mut [&mut Comparison]) {
    let raw: Vec<Option<f64>> = comparisons.iter().map(|c| c.p_value).collect();
    let holm = correction::holm(&raw);
    let bh = correction::benjamini_hochberg(&raw);
    for ((c, h), b) in comparisons.iter_mut().zip(holm).zip(bh) {
        c.p_value_holm = h;
        c.p_value_bh = b;
    }
}

fn metric_result(e: &Experiment, metric: &Metric, index: usize) -> Result<MetricResult, Error> {
    let summaries: Vec<Summary> = e
        .variants
        .iter()
        .map(|v| Summary::load(&e.key, &v.key, index))
        .collect::<Result<_, _>>()?;
    let analysis = analysis(e.analysis);
    let better = metric.higher_is_better.unwrap_or(true);
    let control = &summaries[0];
    let mut arms: Vec<ArmResult> = e
        .variants
        .iter()
        .zip(&summaries)
        .enumerate()
        .map(|(i, (v, s))| {
            let rate = Rate::new(s.conversions, s.moments.n);
            let units = s.moments.n + control.moments.n;
            let as_of = latest(s.as_of, control.as_of);
            let against = |c: stats::Comparison| comparison(c, units, as_of, better);
            ArmResult {
                variant: v.key.clone(),
                units: s.moments.n,
                conversions: s.conversions,
                rate: figure(rates::estimate(rate), s.moments.n, s.as_of),
                mean: figure(means::estimate(&s.moments), s.moments.n, s.as_of),
                rate_vs_control: (i > 0).then(|| {
                    against(rates::compare(
                        rate,
                        Rate::new(control.conversions, control.moments.n),
                        analysis,
                    ))
                }),
                mean_vs_control: (i > 0)
                    .then(|| against(means::compare(&s.moments, &control.moments, analysis))),
            }
        })
        .collect();
    adjust(
        &mut arms
            .iter_mut()
            .filter_map(|a| a.rate_vs_control.as_mut())
            .collect::<Vec<_>>(),
    );
    adjust(
        &mut arms
            .iter_mut()
            .filter_map(|a| a.mean_vs_control.as_mut())
            .collect::<Vec<_>>(),
    );
    Ok(MetricResult {
        metric: metric.clone(),
        arms,
    })
}

/// Whether some treatment is worse on the metric's own measure.
fn harmed(r: &MetricResult) -> bool {
    r.arms.iter().any(|a| {
        let c = match r.metric.kind {
            MetricKind::Conversion => &a.rate_vs_control,
            MetricKind::Value => &a.mean_vs_control,
        };
        c.as_ref().is_some_and(|c| c.worse)
    })
}

fn methods(a: Analysis) -> Vec<String> {
    let mut m = vec![
        "rates: unpooled two-proportion z-test and its Wald interval (they invert one another); relative lift by the delta method; arm rates with Wilson intervals".to_owned(),
        "means: Welch's t-test and interval; relative lift by the delta method with Welch's degrees of freedom; CUPED regression adjustment (theta pooled over both arms) when a covariate was recorded".to_owned(),
        format!("bayesian: {}", stats::bayes::PRIOR),
        "many arms: Holm and Benjamini-Hochberg adjusted p-values per metric and measure".to_owned(),
        "sample ratio: Pearson chi-square against the normalised weights, flagged below 0.001".to_owned(),
    ];
    if a == Analysis::Sequential {
        m.push(format!(
            "sequential: Gaussian mixture confidence sequences and always-valid p-values (Waudby-Smith et al. 2023), tuned for {} units",
            stats::DEFAULT_TUNING
        ));
    }
    m
}

/// The results of `e`.
pub fn of(e: &Experiment) -> Result<ExperimentResults, Error> {
    let primary = metric_result(e, &e.primary_metric, 0)?;
    let guardrails: Vec<MetricResult> = e
        .guardrails
        .iter()
        .enumerate()
        .map(|(i, m)| metric_result(e, m, i + 1))
        .collect::<Result<_, _>>()?;
    let units: Vec<u64> = primary.arms.iter().map(|a| a.units).collect();
    let weights: Vec<f64> = e.variants.iter().map(|v| f64::from(v.weight)).collect();
    let srm = stats::srm::p_value(&units, &weights);
    let as_of = primary
        .arms
        .iter()
        .chain(guardrails.iter().flat_map(|g| &g.arms))
        .filter_map(|a| a.rate.as_of)
        .max();
    let daily = Day::all(&e.key)?
        .into_iter()
        .map(|d| DailyTally {
            day_start: d.start,
            variant: d.variant,
            units: d.units,
            conversions: d.conversions,
            value: d.value,
        })
        .collect();
    Ok(ExperimentResults {
        experiment: e.key.clone(),
        analysis: e.analysis,
        guardrails_harmed: guardrails
            .iter()
            .filter(|g| harmed(g))
            .map(|g| g.metric.name.clone())
            .collect(),
        primary,
        guardrails,
        srm_p_value: srm,
        srm_flagged: srm < 0.001,
        as_of,
        daily,
        methods: methods(e.analysis),
    })
}
