//! Every figure checked against reference values computed with SciPy,
//! statsmodels and GrowthBook's gbstats by `reference/generate.py` (kept
//! beside its output, `reference.json`): 1e-6 relative.

use mercato_stats::rates::{self, Rate};
use mercato_stats::{
    Analysis, DEFAULT_TUNING, Interval, Moments, Undefined, correction, means, power, srm,
};
use serde_json::Value;

const SEQUENTIAL: Analysis = Analysis::Sequential {
    tuning: DEFAULT_TUNING,
};

fn reference() -> Value {
    serde_json::from_str(include_str!("reference/reference.json")).expect("reference.json")
}

#[track_caller]
fn close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-12_f64.max(expected.abs() * 1e-6);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs reference {expected}"
    );
}

#[track_caller]
fn close_interval(actual: Option<Interval>, expected: &Value, what: &str) {
    let i = actual.unwrap_or_else(|| panic!("{what}: no interval"));
    close(i.low, f(&expected[0]), &format!("{what} low"));
    close(i.high, f(&expected[1]), &format!("{what} high"));
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn u(v: &Value) -> u64 {
    v.as_u64().expect("count")
}

fn values(v: &Value) -> Vec<f64> {
    v.as_array().expect("list").iter().map(f).collect()
}

fn pairs(v: &Value) -> Vec<(f64, f64)> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|p| (f(&p[0]), f(&p[1])))
        .collect()
}

#[test]
fn rates_match_statsmodels_and_gbstats() {
    for case in reference()["rates"].as_array().expect("rates") {
        let t = Rate::new(u(&case["c1"]), u(&case["n1"]));
        let c = Rate::new(u(&case["c0"]), u(&case["n0"]));
        let what = format!("{t:?} vs {c:?}");
        let r = rates::compare(t, c, Analysis::FixedHorizon);
        close(
            r.p_value.expect("p-value"),
            f(&case["p_value"]),
            &format!("{what} p"),
        );
        close_interval(r.absolute.interval, &case["absolute_ci"], &what);
        if let Some(relative) = case.get("relative") {
            close(r.relative.value.expect("relative"), f(relative), &what);
            match case.get("relative_ci") {
                Some(ci) => close_interval(r.relative.interval, ci, &what),
                None => assert_eq!(r.relative.undefined, Some(Undefined::NoVariation), "{what}"),
            }
        } else {
            assert_eq!(r.relative.undefined, Some(Undefined::ZeroControl), "{what}");
            assert!(r.relative.value.is_none() && r.bayes.is_none(), "{what}");
        }
        close_interval(
            rates::estimate(t).interval,
            &case["treatment_wilson"],
            &format!("{what} wilson"),
        );
        let s = rates::compare(t, c, SEQUENTIAL);
        close_interval(
            s.absolute.interval,
            &case["sequential_absolute_ci"],
            &format!("{what} sequential"),
        );
        close(
            s.p_value.expect("p"),
            f(&case["sequential_p_value"]),
            &format!("{what} sequential p"),
        );
        if let Some(ci) = case.get("sequential_relative_ci") {
            close_interval(s.relative.interval, ci, &format!("{what} sequential rel"));
        }
        if let Some(b) = case.get("bayes").filter(|b| !b.is_null()) {
            let readout = r.bayes.expect("bayes");
            close(
                readout.chance_to_win,
                f(&b["chance_to_win"]),
                &format!("{what} ctw"),
            );
            close(
                readout.control_loss,
                f(&b["risk_control"]),
                &format!("{what} risk control"),
            );
            close(
                readout.expected_loss,
                f(&b["risk_treatment"]),
                &format!("{what} risk"),
            );
            close_interval(
                Some(readout.credible),
                &b["ci"],
                &format!("{what} credible"),
            );
        }
    }
}

#[test]
fn means_match_scipy_and_gbstats() {
    for (i, case) in reference()["means"]
        .as_array()
        .expect("means")
        .iter()
        .enumerate()
    {
        let t = Moments::of(&values(&case["treatment"]));
        let c = Moments::of(&values(&case["control"]));
        let what = format!("means case {i}");
        let r = means::compare(&t, &c, Analysis::FixedHorizon);
        close(r.p_value.expect("p"), f(&case["p_value"]), &what);
        close_interval(r.absolute.interval, &case["absolute_ci"], &what);
        close_interval(r.relative.interval, &case["relative_ci"], &what);
        close_interval(means::estimate(&t).interval, &case["treatment_ci"], &what);
        let s = means::compare(&t, &c, SEQUENTIAL);
        close_interval(s.absolute.interval, &case["sequential_absolute_ci"], &what);
        close_interval(s.relative.interval, &case["sequential_relative_ci"], &what);
        close(s.p_value.expect("p"), f(&case["sequential_p_value"]), &what);
        let b = &case["bayes"];
        let readout = r.bayes.expect("bayes");
        close(readout.chance_to_win, f(&b["chance_to_win"]), &what);
        close(readout.control_loss, f(&b["risk_control"]), &what);
        close(readout.expected_loss, f(&b["risk_treatment"]), &what);
    }
}

#[test]
fn cuped_matches_gbstats_regression_adjustment() {
    for (i, case) in reference()["cuped"]
        .as_array()
        .expect("cuped")
        .iter()
        .enumerate()
    {
        let t = Moments::of_pairs(&pairs(&case["treatment"]));
        let c = Moments::of_pairs(&pairs(&case["control"]));
        let what = format!("cuped case {i}");
        let r = means::compare(&t, &c, Analysis::FixedHorizon);
        assert_eq!(r.absolute.method.name(), "cuped-welch-t", "{what}");
        close(
            r.absolute.value.expect("lift"),
            f(&case["absolute"]["estimate"]),
            &what,
        );
        close_interval(r.absolute.interval, &case["absolute"]["ci"], &what);
        close(
            r.p_value.expect("p"),
            f(&case["absolute"]["p_value"]),
            &what,
        );
        close(
            r.relative.value.expect("lift"),
            f(&case["relative"]["estimate"]),
            &what,
        );
        close_interval(r.relative.interval, &case["relative"]["ci"], &what);
        // The adjustment narrows the interval against the unadjusted one.
        let plain = means::compare(
            &Moments::of(
                &pairs(&case["treatment"])
                    .iter()
                    .map(|p| p.0)
                    .collect::<Vec<_>>(),
            ),
            &Moments::of(
                &pairs(&case["control"])
                    .iter()
                    .map(|p| p.0)
                    .collect::<Vec<_>>(),
            ),
            Analysis::FixedHorizon,
        );
        let width = |i: Option<Interval>| i.map_or(f64::NAN, |i| i.high - i.low);
        assert!(
            width(r.absolute.interval) < width(plain.absolute.interval),
            "{what}"
        );
    }
}

#[test]
fn large_values_keep_their_precision() {
    let large = &reference()["large_values"];
    let v = values(&large["values"]);
    let m = Moments::of(&v);
    close(m.mean, f(&large["mean"]), "mean");
    close(m.variance(), f(&large["variance"]), "variance");
    // Tallies merged from pieces (per day, per host) agree with one pass.
    let (a, b) = v.split_at(1234);
    let merged = Moments::of(a).merge(&Moments::of(b));
    close(merged.variance(), f(&large["variance"]), "merged variance");
    // A unit whose value grows by later conversions: same as pushing the total.
    let mut grown = Moments::of(&v[..v.len() - 1]);
    let last = v[v.len() - 1];
    grown.push(last - 500.0, 0.0);
    grown.add_to_unit(0.0, last - 500.0, 500.0);
    close(grown.variance(), f(&large["variance"]), "grown variance");
    // The textbook one-pass formula is what loses it.
    let (sum, sum_sq) = v.iter().fold((0.0, 0.0), |(s, q), x| (s + x, q + x * x));
    let naive = (sum_sq - sum * sum / v.len() as f64) / (v.len() - 1) as f64;
    assert!(
        (naive - f(&large["variance"])).abs() > f(&large["variance"]) * 0.01,
        "the one-pass formula is expected to be off here ({naive})"
    );
}

#[test]
fn corrections_match_statsmodels() {
    for case in reference()["corrections"].as_array().expect("corrections") {
        let p: Vec<Option<f64>> = values(&case["p"]).into_iter().map(Some).collect();
        for (adjusted, expected) in [
            (correction::holm(&p), &case["holm"]),
            (correction::benjamini_hochberg(&p), &case["bh"]),
        ] {
            for (a, e) in adjusted.iter().zip(values(expected)) {
                close(a.expect("adjusted"), e, &format!("{case}"));
            }
        }
    }
    // An undefined p-value is left out of the family.
    let adjusted = correction::holm(&[Some(0.01), None, Some(0.04)]);
    assert_eq!(adjusted[1], None);
    close(adjusted[0].expect("p"), 0.02, "holm of two");
}

#[test]
fn srm_matches_scipy() {
    for case in reference()["srm"].as_array().expect("srm") {
        let units: Vec<u64> = case["units"]
            .as_array()
            .expect("units")
            .iter()
            .map(u)
            .collect();
        close(
            srm::p_value(&units, &values(&case["weights"])),
            f(&case["p_value"]),
            &format!("{case}"),
        );
    }
}

#[test]
fn sample_size_matches_statsmodels_power() {
    for case in reference()["sample_size"].as_array().expect("sizes") {
        let (baseline, mde) = (f(&case["baseline"]), f(&case["mde"]));
        let approximation = u(&case["normal_approximation"]);
        assert_eq!(
            power::normal_approximation(baseline, mde),
            Some(approximation),
            "{case}"
        );
        for (n, key) in [
            (approximation, "exact_power"),
            (approximation + 5, "exact_power_plus_5"),
        ] {
            close(
                power::exact_power(n, baseline, baseline + mde),
                f(&case[key]),
                &format!("{case} exact power at {n}"),
            );
        }
        // The size given reaches the power; the approximation is where it starts.
        let n = power::sample_size(baseline, mde).expect("size");
        assert!(n >= approximation, "{case}");
        assert!(
            power::exact_power(n, baseline, baseline + mde) >= power::POWER,
            "{case}: n {n}"
        );
    }
    assert_eq!(power::sample_size(0.1, 0.0), None);
    assert_eq!(power::sample_size(0.95, 0.1), None, "a target above 1");
}
