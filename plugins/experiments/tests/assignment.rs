//! The hashed split under the current scheme: even, and an A/A experiment on
//! it errs about as often as the test's level says.

use experiments::assignment::{CURRENT_SCHEME, bucket, variant_index};
use experiments::stats::rates::{self, Rate};
use experiments::stats::{Analysis, srm};

#[test]
fn an_aa_simulation_splits_evenly_and_errs_about_five_percent_of_the_time() {
    let mut arms = [0u64; 2];
    for unit in 0..100_000 {
        let i = variant_index(CURRENT_SCHEME, "aa-seed", &format!("unit-{unit}"), &[1, 1])
            .expect("weights");
        arms[i] += 1;
    }
    let share = arms[0] as f64 / 100_000.0;
    assert!((share - 0.5).abs() < 0.005, "split {arms:?}");
    assert!(
        srm::p_value(&arms, &[1.0, 1.0]) > 0.001,
        "no SRM on an even split"
    );

    // 1 000 A/A experiments of 2 × 2 000 units converting at 10%, conversions
    // drawn from the same hash (independent of the split).
    let mut false_positives = 0;
    let experiments = 1_000;
    for e in 0..experiments {
        let seed = format!("aa-{e}");
        let mut conv = [0u64; 2];
        let mut units = [0u64; 2];
        for unit in 0..4_000 {
            let id = format!("u{unit}");
            let arm = variant_index(CURRENT_SCHEME, &seed, &id, &[1, 1]).expect("weights");
            units[arm] += 1;
            if bucket(&format!("{seed}/conversion"), &id) < 1_000 {
                conv[arm] += 1;
            }
        }
        let r = rates::compare(
            Rate::new(conv[1], units[1]),
            Rate::new(conv[0], units[0]),
            Analysis::FixedHorizon,
        );
        if r.p_value.is_some_and(|p| p < 0.05) {
            false_positives += 1;
        }
    }
    let rate = false_positives as f64 / experiments as f64;
    // 1 000 trials at 5%: the standard error is 0.7 points.
    assert!((0.03..=0.07).contains(&rate), "false-positive rate {rate}");
}

#[test]
fn unequal_weights_split_in_proportion() {
    let mut arms = [0u64; 3];
    for unit in 0..60_000 {
        let i = variant_index(CURRENT_SCHEME, "w", &format!("u{unit}"), &[1, 2, 3]).expect("w");
        arms[i] += 1;
    }
    assert!(
        srm::p_value(&arms, &[1.0, 2.0, 3.0]) > 0.001,
        "1:2:3 split {arms:?}"
    );
}
