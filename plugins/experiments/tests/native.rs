//! experiments unit-tested natively through the SDK's test host.

use experiments::{Lab, Settings, stats};
use mercato_sdk::Component;
use mercato_sdk::experiments::*;
use mercato_sdk::testing::TestHost;
use mercato_sdk::{Error, clock};

const NOW: u64 = 1_772_355_600_000;

fn draft(key: &str, weights: &[u32], coverage_bp: u32) -> ExperimentDraft {
    ExperimentDraft {
        key: key.into(),
        description: "Demo call script".into(),
        unit_type: UnitType::Customer,
        variants: weights
            .iter()
            .enumerate()
            .map(|(i, w)| Variant {
                key: ["control", "script-b", "script-c"][i].into(),
                weight: *w,
            })
            .collect(),
        seed: format!("{key}-seed"),
        primary_metric: Metric {
            name: "demo-booked".into(),
            kind: MetricKind::Conversion,
        },
        coverage_bp,
    }
}

fn fields(err: Error) -> Vec<String> {
    match err {
        Error::InvalidInput(f) => f.into_iter().map(|f| f.field).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

#[test]
fn bad_definitions_are_refused_by_field() {
    let _host = TestHost::new().at(NOW);
    assert_eq!(
        fields(Lab::define(draft("x", &[1], 10_000)).unwrap_err()),
        ["variants"]
    );
    assert_eq!(
        fields(Lab::define(draft("x", &[1, 0], 10_000)).unwrap_err()),
        ["variants[1].weight"]
    );
    assert_eq!(
        fields(Lab::define(draft("bad key!", &[1, 1], 10_001)).unwrap_err()),
        ["key", "coverage-bp"]
    );
    let mut twice = draft("x", &[1, 1], 10_000);
    twice.variants[1].key = "control".into();
    assert_eq!(fields(Lab::define(twice).unwrap_err()), ["variants[1].key"]);
    Lab::define(draft("x", &[1, 1], 10_000)).expect("define");
    assert_eq!(
        Lab::define(draft("x", &[1, 1], 10_000)).unwrap_err().code(),
        "conflict"
    );
    let too_many = Settings {
        max_variants: 2,
        ..Settings::default()
    };
    let _host = TestHost::new().at(NOW).with_settings(&too_many);
    assert_eq!(
        fields(Lab::define(draft("y", &[1, 1, 1], 10_000)).unwrap_err()),
        ["variants"]
    );
}

#[test]
fn assignment_is_sticky_and_raising_coverage_moves_nobody() {
    let _host = TestHost::new().at(NOW);
    Lab::define(draft("cov", &[1, 1, 2], 3_000)).expect("define");
    Lab::start("cov".into()).expect("start");
    let first: Vec<Option<String>> = (0..2_000)
        .map(|u| {
            Lab::assign("cov".into(), format!("c{u}"))
                .expect("assign")
                .variant
        })
        .collect();
    let again: Vec<Option<String>> = (0..2_000)
        .map(|u| {
            Lab::assign("cov".into(), format!("c{u}"))
                .expect("assign")
                .variant
        })
        .collect();
    assert_eq!(first, again, "deterministic");
    let covered = first.iter().filter(|v| v.is_some()).count();
    assert!(
        (500..=700).contains(&covered),
        "about 30% covered: {covered}"
    );
    Lab::set_coverage("cov".into(), 8_000).expect("raise");
    for (u, before) in first.iter().enumerate() {
        let after = Lab::assign("cov".into(), format!("c{u}"))
            .expect("assign")
            .variant;
        if before.is_some() {
            assert_eq!(&after, before, "unit c{u} moved when coverage rose");
        }
    }
    // An exposed unit keeps its variant even when coverage drops to zero.
    let exposed = Lab::record_exposure("cov".into(), "c1".into())
        .expect("expose")
        .variant;
    Lab::set_coverage("cov".into(), 0).expect("lower");
    assert_eq!(
        Lab::assign("cov".into(), "c1".into())
            .expect("assign")
            .variant,
        exposed
    );
}

#[test]
fn results_compare_with_the_control_and_flag_sample_ratio_mismatch() {
    let host = TestHost::new().at(NOW);
    Lab::define(draft("demo", &[1, 1], 10_000)).expect("define");
    // Exposures before start are refused.
    assert_eq!(
        Lab::record_exposure("demo".into(), "u0".into())
            .unwrap_err()
            .code(),
        "conflict"
    );
    Lab::start("demo".into()).expect("start");
    let mut conversions = [0u64; 2];
    let mut units = [0u64; 2];
    for u in 0..400 {
        let id = format!("u{u}");
        let a = Lab::record_exposure("demo".into(), id.clone()).expect("expose");
        let arm = usize::from(a.variant.as_deref() == Some("script-b"));
        units[arm] += 1;
        // Treatment converts every 4th unit, control every 8th.
        if u % (if arm == 1 { 4 } else { 8 }) == 0 {
            Lab::record_conversion("demo".into(), id, 100.0).expect("convert");
            conversions[arm] += 1;
        }
    }
    // Exposing twice counts once.
    Lab::record_exposure("demo".into(), "u0".into()).expect("expose again");
    assert_eq!(
        Lab::record_conversion("demo".into(), "stranger".into(), 1.0)
            .unwrap_err()
            .code(),
        "conflict"
    );

    let r = Lab::results("demo".into()).expect("results");
    assert_eq!(
        (r.variants[0].units, r.variants[1].units),
        (units[0], units[1])
    );
    assert_eq!(
        (r.variants[0].conversions, r.variants[1].conversions),
        (conversions[0], conversions[1])
    );
    assert!(r.variants[0].rate_vs_control.is_none());
    let vs = r.variants[1].rate_vs_control.expect("comparison");
    let expected =
        stats::two_proportions(conversions[1], units[1], conversions[0], units[0]).expect("stats");
    assert_eq!(vs.p_value, expected.p_value);
    assert!(
        vs.absolute_lift > 0.0
            && vs.absolute_ci.low <= vs.absolute_lift
            && vs.absolute_lift <= vs.absolute_ci.high
    );
    let mean = r.variants[1].mean_vs_control.expect("means");
    assert!(
        (r.variants[1].mean_value - 100.0 * conversions[1] as f64 / units[1] as f64).abs() < 1e-9
    );
    assert!(mean.p_value < 0.05);
    assert!(!r.srm_flagged, "an even split: {}", r.srm_p_value);
    assert!(
        host.events()
            .iter()
            .any(|e| e.name == "experiment.conversion")
    );

    // A 3-way experiment where one arm gets nobody: flagged.
    Lab::define(draft("lopsided", &[1, 1, 1], 10_000)).expect("define");
    Lab::start("lopsided".into()).expect("start");
    let mut count = 0;
    for u in 0..3_000 {
        let id = format!("v{u}");
        let a = Lab::assign("lopsided".into(), id.clone()).expect("assign");
        if a.variant.as_deref() != Some("script-c") {
            Lab::record_exposure("lopsided".into(), id).expect("expose");
            count += 1;
        }
    }
    assert!(count > 1_500);
    let r = Lab::results("lopsided".into()).expect("results");
    assert_eq!(r.variants[2].units, 0);
    assert!(r.srm_flagged && r.srm_p_value < 0.001, "{}", r.srm_p_value);
}

#[test]
fn lifecycle_winner_and_sample_size() {
    let _host = TestHost::new().at(NOW);
    Lab::define(draft("life", &[1, 1], 10_000)).expect("define");
    assert_eq!(
        Lab::declare_winner("life".into(), "control".into())
            .unwrap_err()
            .code(),
        "conflict"
    );
    Lab::start("life".into()).expect("start");
    assert_eq!(Lab::start("life".into()).unwrap_err().code(), "conflict");
    assert_eq!(
        fields(Lab::declare_winner("life".into(), "nope".into()).unwrap_err()),
        ["variant"]
    );
    let done = Lab::declare_winner("life".into(), "script-b".into()).expect("winner");
    assert_eq!(
        (done.status, done.winner.as_deref()),
        (ExperimentStatus::Stopped, Some("script-b"))
    );
    assert!(done.stopped_at.is_some());
    assert_eq!(Lab::stop("life".into()).unwrap_err().code(), "conflict");
    assert_eq!(Lab::get("nope".into()).unwrap_err().code(), "not-found");
    assert_eq!(Lab::list_experiments().expect("list").len(), 1);

    assert_eq!(
        Lab::sample_size(0.10, 0.02).expect("n"),
        stats::sample_size(0.10, 0.02).expect("n")
    );
    assert_eq!(
        fields(Lab::sample_size(1.5, -0.6).unwrap_err()),
        ["baseline-rate"]
    );
    assert_eq!(
        fields(Lab::sample_size(0.5, 0.0).unwrap_err()),
        ["minimum-detectable-effect"]
    );
    let _ = clock::DAY;
}

#[test]
fn settings_are_validated_by_field() {
    let bad = Settings {
        max_variants: 1,
        max_running: 0,
    };
    let names: Vec<String> = Lab::validate_settings(&bad)
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(names, ["max-variants", "max-running"]);
}
