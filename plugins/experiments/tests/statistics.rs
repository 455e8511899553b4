//! The statistics checked against reference values computed with SciPy and
//! statsmodels by `tests/reference/generate.py` (kept beside its output,
//! `reference.json`), and an A/A simulation.

use experiments::stats::{Moments, sample_size, srm_p_value, two_proportions, welch};
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_str(include_str!("reference/reference.json")).expect("reference.json")
}

#[track_caller]
fn close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9_f64.max(expected.abs() * 1e-7);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs reference {expected}"
    );
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn u(v: &Value) -> u64 {
    v.as_u64().expect("count")
}

#[test]
fn rates_match_statsmodels() {
    for case in reference()["rates"].as_array().expect("rates") {
        let (c1, n1, c0, n0) = (
            u(&case["c1"]),
            u(&case["n1"]),
            u(&case["c0"]),
            u(&case["n0"]),
        );
        let what = format!("{c1}/{n1} vs {c0}/{n0}");
        let r = two_proportions(c1, n1, c0, n0).expect("comparable");
        close(r.p_value, f(&case["p_value"]), &format!("{what} p-value"));
        close(
            r.absolute_ci.low,
            f(&case["absolute_ci"][0]),
            &format!("{what} abs ci low"),
        );
        close(
            r.absolute_ci.high,
            f(&case["absolute_ci"][1]),
            &format!("{what} abs ci high"),
        );
        close(
            r.relative_ci.low,
            f(&case["relative_ci"][0]),
            &format!("{what} rel ci low"),
        );
        close(
            r.relative_ci.high,
            f(&case["relative_ci"][1]),
            &format!("{what} rel ci high"),
        );
        let (p1, p0) = (c1 as f64 / n1 as f64, c0 as f64 / n0 as f64);
        close(r.absolute_lift, p1 - p0, "lift");
        close(r.relative_lift, p1 / p0 - 1.0, "relative lift");
    }
}

#[test]
fn means_match_scipy_welch() {
    let moments = |values: &Value| {
        let mut m = Moments::default();
        for v in values.as_array().expect("values") {
            m.n += 1;
            m.sum += f(v);
            m.sum_sq += f(v) * f(v);
        }
        m
    };
    for (i, case) in reference()["means"]
        .as_array()
        .expect("means")
        .iter()
        .enumerate()
    {
        let (t, c) = (moments(&case["treatment"]), moments(&case["control"]));
        let r = welch(t, c).expect("comparable");
        close(r.p_value, f(&case["p_value"]), &format!("case {i} p-value"));
        close(
            r.absolute_ci.low,
            f(&case["absolute_ci"][0]),
            &format!("case {i} ci low"),
        );
        close(
            r.absolute_ci.high,
            f(&case["absolute_ci"][1]),
            &format!("case {i} ci high"),
        );
        close(r.absolute_lift, t.mean() - c.mean(), "lift");
    }
}

#[test]
fn sample_ratio_mismatch_matches_scipy_chisquare() {
    for case in reference()["srm"].as_array().expect("srm") {
        let units: Vec<u64> = case["units"]
            .as_array()
            .expect("units")
            .iter()
            .map(u)
            .collect();
        let weights: Vec<u32> = case["weights"]
            .as_array()
            .expect("weights")
            .iter()
            .map(|w| u32::try_from(u(w)).expect("weight"))
            .collect();
        close(
            srm_p_value(&units, &weights),
            f(&case["p_value"]),
            &format!("{units:?}"),
        );
    }
}

#[test]
fn sample_size_matches_statsmodels_power() {
    for case in reference()["sample_size"].as_array().expect("sizes") {
        assert_eq!(
            sample_size(f(&case["baseline"]), f(&case["mde"])),
            Some(u(&case["per_arm"])),
            "{case}"
        );
    }
    assert_eq!(sample_size(0.1, 0.0), None);
    assert_eq!(
        sample_size(0.95, 0.1),
        None,
        "a target rate above 1 is refused"
    );
}

/// An A/A test: both arms convert at the same rate, so a 5% test should call
/// a difference about 5% of the time, and the hashed split should be even.
#[test]
fn an_aa_simulation_splits_evenly_and_errs_about_five_percent_of_the_time() {
    use experiments::assignment::{bucket, variant_index};
    // Split: 100 000 unit ids over two equal weights.
    let mut arms = [0u64; 2];
    for unit in 0..100_000 {
        let i = variant_index("aa-seed", &format!("unit-{unit}"), &[1, 1]).expect("weights");
        arms[i] += 1;
    }
    let share = arms[0] as f64 / 100_000.0;
    assert!((share - 0.5).abs() < 0.005, "split {arms:?}");
    assert!(
        srm_p_value(&arms, &[1, 1]) > 0.001,
        "no SRM on an even split"
    );

    // False positives: 1 000 A/A experiments of 2 × 2 000 units converting at
    // 10%, conversions drawn from the same hash (independent of the split).
    let mut false_positives = 0;
    let experiments = 1_000;
    for e in 0..experiments {
        let seed = format!("aa-{e}");
        let mut conv = [0u64; 2];
        let mut units = [0u64; 2];
        for unit in 0..4_000 {
            let id = format!("u{unit}");
            let arm = variant_index(&seed, &id, &[1, 1]).expect("weights");
            units[arm] += 1;
            if bucket(&format!("{seed}/conversion"), &id) < 1_000 {
                conv[arm] += 1;
            }
        }
        let r = two_proportions(conv[1], units[1], conv[0], units[0]).expect("comparable");
        if r.p_value < 0.05 {
            false_positives += 1;
        }
    }
    let rate = false_positives as f64 / experiments as f64;
    // 1 000 trials at 5%: the standard error is 0.7 points.
    assert!((0.03..=0.07).contains(&rate), "false-positive rate {rate}");
}
