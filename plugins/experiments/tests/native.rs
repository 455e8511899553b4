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
            higher_is_better: None,
        },
        coverage_bp,
        guardrails: None,
        analysis: None,
    }
}

fn expose(key: &str, unit: &str) -> Assignment {
    Lab::record_exposure(key.into(), unit.into(), None).expect("expose")
}

fn convert(key: &str, unit: &str, value: f64) -> Assignment {
    Lab::record_conversion(key.into(), unit.into(), value, None).expect("convert")
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
    let exposed = expose("cov", "c1").variant;
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
        Lab::record_exposure("demo".into(), "u0".into(), None)
            .unwrap_err()
            .code(),
        "conflict"
    );
    Lab::start("demo".into()).expect("start");
    let mut conversions = [0u64; 2];
    let mut units = [0u64; 2];
    for u in 0..400 {
        let id = format!("u{u}");
        let a = expose("demo", &id);
        let arm = usize::from(a.variant.as_deref() == Some("script-b"));
        units[arm] += 1;
        // Treatment converts every 4th unit, control every 8th.
        if u % (if arm == 1 { 4 } else { 8 }) == 0 {
            convert("demo", &id, 100.0);
            conversions[arm] += 1;
        }
    }
    // Exposing twice counts once.
    expose("demo", "u0");
    assert_eq!(
        Lab::record_conversion("demo".into(), "stranger".into(), 1.0, None)
            .unwrap_err()
            .code(),
        "conflict"
    );

    let r = Lab::results("demo".into()).expect("results");
    let arms = &r.primary.arms;
    assert_eq!((arms[0].units, arms[1].units), (units[0], units[1]));
    assert_eq!(
        (arms[0].conversions, arms[1].conversions),
        (conversions[0], conversions[1])
    );
    assert!(arms[0].rate_vs_control.is_none());
    let vs = arms[1].rate_vs_control.clone().expect("comparison");
    let expected = stats::rates::compare(
        stats::rates::Rate::new(conversions[1], units[1]),
        stats::rates::Rate::new(conversions[0], units[0]),
        stats::Analysis::FixedHorizon,
    );
    assert_eq!(vs.p_value, expected.p_value);
    assert_eq!(vs.absolute.method, "unpooled-z-wald");
    assert_eq!(vs.absolute.units, units[0] + units[1]);
    assert_eq!(vs.absolute.as_of, Some(NOW));
    let (lift, ci) = (
        vs.absolute.value.expect("lift"),
        vs.absolute.interval.expect("interval"),
    );
    assert!(lift > 0.0 && ci.low <= lift && lift <= ci.high);
    // One treatment: the adjusted p-values are the raw one.
    assert_eq!((vs.p_value_holm, vs.p_value_bh), (vs.p_value, vs.p_value));
    assert!(vs.chance_to_beat_control.is_some_and(|p| p > 0.95));
    let mean = arms[1].mean_vs_control.clone().expect("means");
    assert!(
        (arms[1].mean.value.expect("mean") - 100.0 * conversions[1] as f64 / units[1] as f64).abs()
            < 1e-9
    );
    assert!(mean.p_value.is_some_and(|p| p < 0.05));
    assert_eq!(r.as_of, Some(NOW));
    let exposed: u64 = r.daily.iter().map(|d| d.units).sum();
    assert_eq!(exposed, units[0] + units[1]);
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
            expose("lopsided", &id);
            count += 1;
        }
    }
    assert!(count > 1_500);
    let r = Lab::results("lopsided".into()).expect("results");
    assert_eq!(r.primary.arms[2].units, 0);
    // Three arms: every figure of the empty arm says why it is missing.
    let empty = r.primary.arms[2]
        .rate_vs_control
        .clone()
        .expect("comparison");
    assert!(empty.p_value.is_none() && empty.absolute.reason.is_some());
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
        stats::power::sample_size(0.10, 0.02).expect("n")
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

#[test]
fn equal_proportions_assign_alike_and_old_experiments_keep_their_scheme() {
    let host = TestHost::new().at(NOW);
    let mut halves = draft("halves", &[1, 1], 10_000);
    halves.seed = "same-seed".into();
    let mut fifties = draft("fifties", &[50, 50], 10_000);
    fifties.seed = "same-seed".into();
    assert_eq!(
        Lab::define(halves).expect("define").assignment_scheme,
        experiments::assignment::CURRENT_SCHEME
    );
    Lab::define(fifties).expect("define");
    for u in 0..2_000 {
        let unit = format!("u{u}");
        assert_eq!(
            Lab::assign("halves".into(), unit.clone())
                .expect("assign")
                .variant,
            Lab::assign("fifties".into(), unit).expect("assign").variant,
            "[1, 1] and [50, 50] split unit u{u} differently"
        );
    }
    // An experiment stored before scheme 2 (no scheme, no guardrails, no
    // analysis, a tally of sums) reads, assigns and reports as before.
    let old = serde_json::json!({
        "key": "old", "description": "", "unit_type": "Customer",
        "variants": [{"key": "control", "weight": 1}, {"key": "script-b", "weight": 3}],
        "seed": "old-seed",
        "primary_metric": {"name": "demo-booked", "kind": "Conversion"},
        "coverage_bp": 10_000, "status": "Running", "winner": null,
        "started_at": NOW, "stopped_at": null
    });
    mercato_sdk::store::set("exp/old", &old).expect("store");
    mercato_sdk::store::set(
        "tally/old/control",
        &serde_json::json!({"units": 10, "conversions": 2, "sum": 20.0, "sum_sq": 200.0}),
    )
    .expect("store");
    let e = Lab::get("old".into()).expect("old experiment");
    assert_eq!(
        (e.assignment_scheme, e.analysis, e.guardrails.len()),
        (1, Analysis::FixedHorizon, 0)
    );
    for u in 0..500 {
        let unit = format!("u{u}");
        let by_hash =
            experiments::assignment::variant_index(1, "old-seed", &unit, &[1, 3]).expect("index");
        assert_eq!(
            Lab::assign("old".into(), unit)
                .expect("assign")
                .variant
                .as_deref(),
            Some(["control", "script-b"][by_hash])
        );
    }
    let r = Lab::results("old".into()).expect("results");
    assert_eq!(
        (r.primary.arms[0].units, r.primary.arms[0].conversions),
        (10, 2)
    );
    assert_eq!(r.primary.arms[0].mean.value, Some(2.0));
    assert!(host.get::<serde_json::Value>("exp/old").is_some());
}

#[test]
fn guardrails_sequential_analysis_cuped_and_many_arms() {
    let host = TestHost::new().at(NOW);
    let mut d = draft("full", &[1, 1, 1], 10_000);
    d.analysis = Some(Analysis::Sequential);
    d.guardrails = Some(vec![
        Metric {
            name: "refund".into(),
            kind: MetricKind::Conversion,
            higher_is_better: Some(false),
        },
        Metric {
            name: "revenue".into(),
            kind: MetricKind::Value,
            higher_is_better: None,
        },
    ]);
    let mut twice = d.clone();
    twice.key = "twice".into();
    twice.guardrails = Some(vec![Metric {
        name: "demo-booked".into(),
        kind: MetricKind::Value,
        higher_is_better: None,
    }]);
    assert_eq!(
        fields(Lab::define(twice).unwrap_err()),
        ["guardrails[0].name"]
    );
    Lab::define(d).expect("define");
    Lab::start("full".into()).expect("start");
    for u in 0..3_000u32 {
        let id = format!("u{u}");
        // A pre-period spend that predicts the revenue well.
        let spend = f64::from(u % 50);
        let arm = Lab::record_exposure("full".into(), id.clone(), Some(spend))
            .expect("expose")
            .variant
            .expect("covered");
        if u % 5 == 0 {
            convert("full", &id, 1.0);
        }
        // script-c refunds a third of its units; the others a twentieth.
        let refunds = if arm == "script-c" { 3 } else { 20 };
        if u % refunds == 0 {
            Lab::record_conversion("full".into(), id.clone(), 1.0, Some("refund".into()))
                .expect("refund");
        }
        Lab::record_conversion(
            "full".into(),
            id,
            spend * 2.0 + f64::from(u % 7),
            Some("revenue".into()),
        )
        .expect("revenue");
        if u == 1_500 {
            host.advance(clock::DAY);
        }
    }
    assert_eq!(
        fields(
            Lab::record_conversion("full".into(), "u1".into(), 1.0, Some("nope".into()))
                .unwrap_err()
        ),
        ["metric"]
    );
    let r = Lab::results("full".into()).expect("results");
    assert_eq!(r.analysis, Analysis::Sequential);
    let vs = r.primary.arms[1].rate_vs_control.clone().expect("vs");
    assert_eq!(vs.absolute.method, "gaussian-mixture-sequence");
    // Two treatments: Holm ≥ BH ≥ raw.
    for arm in &r.primary.arms[1..] {
        let c = arm.rate_vs_control.clone().expect("vs");
        let (p, h, b) = (
            c.p_value.expect("p"),
            c.p_value_holm.expect("holm"),
            c.p_value_bh.expect("bh"),
        );
        assert!(h >= b && b >= p, "{p} {h} {b}");
    }
    assert_eq!(r.guardrails.len(), 2);
    assert_eq!(r.guardrails_harmed, ["refund"]);
    let refund = r.guardrails[0].arms[2].rate_vs_control.clone().expect("vs");
    assert!(refund.worse && refund.chance_to_beat_control.is_some_and(|p| p < 0.05));
    let revenue = r.guardrails[1].arms[1].mean_vs_control.clone().expect("vs");
    assert_eq!(revenue.absolute.method, "cuped-gaussian-mixture-sequence");
    // Two days of tallies per arm, adding up to the units.
    let days: std::collections::BTreeSet<u64> = r.daily.iter().map(|d| d.day_start).collect();
    assert_eq!(days.len(), 2, "{:?}", r.daily);
    assert_eq!(r.daily.iter().map(|d| d.units).sum::<u64>(), 3_000);
    assert!(
        r.methods
            .iter()
            .any(|m| m.contains("flat (improper) prior"))
    );
}

#[test]
fn a_customer_is_exported_and_forgotten_while_the_counts_stay() {
    let host = TestHost::new().at(NOW);
    for key in ["demo", "other"] {
        Lab::define(draft(key, &[1, 1], 10_000)).expect("define");
        Lab::start(key.into()).expect("start");
    }
    let ann = expose("demo", "ann");
    convert("demo", "ann", 42.0);
    expose("other", "ann");
    for u in 0..20 {
        expose("demo", &format!("u{u}"));
    }
    let before = Lab::results("demo".into()).expect("results");

    let records = Lab::export_customer("ann");
    let mut seen: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    seen.sort();
    assert_eq!(seen, ["demo", "other"]);
    assert!(records.iter().all(|r| r.kind == "exposure"));
    let demo: serde_json::Value = serde_json::from_str(&records[0].payload).unwrap();
    assert_eq!(demo["variant"].as_str(), ann.variant.as_deref());
    assert_eq!(
        (demo["converted"].as_bool(), demo["value"].as_f64()),
        (Some(true), Some(42.0))
    );

    let report = Lab::forget_customer("ann").expect("forget");
    assert_eq!(report.removed, [("exposure".to_owned(), 2)]);
    assert!(!report.kept.is_empty());
    assert!(Lab::export_customer("ann").is_empty());
    assert!(
        !host.keys().iter().any(|k| k.contains("ann")),
        "{:?}",
        host.keys()
    );
    // The tallies still count ann: the results do not move.
    let after = Lab::results("demo".into()).expect("results");
    let units = |r: &ExperimentResults| {
        r.primary
            .arms
            .iter()
            .map(|a| (a.units, a.conversions))
            .collect::<Vec<_>>()
    };
    assert_eq!(units(&after), units(&before));
}
