//! trial-feedback unit-tested natively through the SDK's test host. The
//! expected figures are worked out by hand in the comments.

use mercato_sdk::Component;
use mercato_sdk::feedback::*;
use mercato_sdk::testing::TestHost;
use mercato_sdk::{Error, clock};
use trial_feedback::{Settings, TrialDesk, week_start};

/// 2026-03-01T09:00:00Z, a Sunday.
const NOW: u64 = 1_772_355_600_000;
/// Monday 2026-02-23 and Monday 2026-03-02, 00:00 UTC.
const WEEK_1: u64 = 1_771_804_800_000;
const WEEK_2: u64 = 1_772_409_600_000;

fn submit(customer: &str, product: &str, nps: u8, ratings: &[(&str, u8)]) -> Feedback {
    TrialDesk::submit(FeedbackDraft {
        customer: customer.into(),
        product: product.into(),
        nps,
        ratings: ratings
            .iter()
            .map(|(f, s)| FeatureRating {
                feature: (*f).into(),
                score: *s,
            })
            .collect(),
        comment: Some("ok".into()),
    })
    .expect("submit")
}

#[test]
fn weeks_start_on_monday_utc() {
    assert_eq!(week_start(NOW), WEEK_1);
    assert_eq!(week_start(WEEK_2 + 5 * clock::HOUR), WEEK_2);
    assert_eq!(week_start(WEEK_2 - 1), WEEK_1);
    assert_eq!(week_start(WEEK_2), WEEK_2);
}

#[test]
fn summary_counts_nps_feature_averages_and_weekly_trend() {
    let host = TestHost::new().at(NOW);
    // Week 1 (Sunday): ann 10 (promoter), bob 8 (passive).
    submit("ann", "crm", 10, &[("setup", 5), ("speed", 4)]);
    submit("bob", "crm", 8, &[("setup", 3)]);
    // Week 2 (Monday): cy 3 (detractor), dan 9 (promoter).
    host.advance(clock::DAY);
    submit("cy", "crm", 3, &[("speed", 2)]);
    submit("dan", "crm", 9, &[]);
    submit("eve", "other", 0, &[]);

    let s = TrialDesk::summary("crm".into()).expect("summary");
    assert_eq!(
        (s.responses, s.promoters, s.passives, s.detractors),
        (4, 2, 1, 1)
    );
    // (2 − 1) / 4 × 100
    assert_eq!(s.nps, 25.0);
    let features: Vec<(String, f64, u32)> = s
        .features
        .iter()
        .map(|f| (f.feature.clone(), f.average, f.responses))
        .collect();
    assert_eq!(
        features,
        [("setup".into(), 4.0, 2), ("speed".into(), 3.0, 2)]
    );
    // Week 1: (1 − 0)/2 = 50, ratings 5, 4, 3 → 4.0. Week 2: (1 − 1)/2 = 0, rating 2.
    assert_eq!(s.trend.len(), 2);
    assert_eq!(
        (
            s.trend[0].week_start,
            s.trend[0].responses,
            s.trend[0].nps,
            s.trend[0].average_rating
        ),
        (WEEK_1, 2, 50.0, Some(4.0))
    );
    assert_eq!(
        (
            s.trend[1].week_start,
            s.trend[1].responses,
            s.trend[1].nps,
            s.trend[1].average_rating
        ),
        (WEEK_2, 2, 0.0, Some(2.0))
    );

    assert_eq!(
        TrialDesk::summary("nothing".into()).unwrap_err().code(),
        "not-found"
    );
    let list = TrialDesk::list_feedback(FeedbackFilter {
        product: Some("crm".into()),
        customer: None,
    })
    .expect("list");
    assert_eq!(
        list.iter().map(|f| f.customer.as_str()).collect::<Vec<_>>(),
        ["dan", "cy", "bob", "ann"]
    );
    assert_eq!(
        host.events()
            .iter()
            .filter(|e| e.name == "feedback.submitted")
            .count(),
        5
    );
}

#[test]
fn at_risk_names_the_rule_that_fired() {
    let host = TestHost::new().at(NOW);
    submit("gus", "crm", 9, &[]);
    host.advance(20 * clock::DAY);
    for nps in [9, 7, 5] {
        submit("eve", "crm", nps, &[]);
        host.advance(clock::HOUR);
    }
    submit("fay", "crm", 8, &[("support", 1)]);
    for nps in [10, 6, 9] {
        submit("hal", "crm", nps, &[]);
    }
    let flagged: Vec<(String, RiskRule, String)> = TrialDesk::at_risk()
        .expect("at risk")
        .into_iter()
        .map(|a| (a.customer, a.rule, a.detail))
        .collect();
    assert_eq!(
        flagged,
        [
            (
                "eve".to_owned(),
                RiskRule::LowScore,
                "NPS 5 is below 6".to_owned()
            ),
            (
                "eve".to_owned(),
                RiskRule::FallingTrend,
                "NPS fell from 9 to 5 over the last 3 answers".to_owned()
            ),
            (
                "fay".to_owned(),
                RiskRule::LowScore,
                "`support` rated 1 is below 2".to_owned()
            ),
            (
                "gus".to_owned(),
                RiskRule::Silent,
                "no feedback for 20 days (the limit is 14)".to_owned()
            ),
        ]
    );
}

#[test]
fn the_rules_follow_the_settings() {
    let settings = Settings {
        nps_floor: 10,
        silent_days: 30,
        ..Settings::default()
    };
    let host = TestHost::new().at(NOW).with_settings(&settings);
    submit("gus", "crm", 9, &[]);
    host.advance(20 * clock::DAY);
    let flagged = TrialDesk::at_risk().expect("at risk");
    assert_eq!(
        flagged.len(),
        1,
        "9 < 10 is low; 20 days is not silent under 30"
    );
    assert_eq!(flagged[0].rule, RiskRule::LowScore);
}

#[test]
fn out_of_range_input_is_refused_with_the_field_named() {
    let _host = TestHost::new().at(NOW);
    let err = TrialDesk::submit(FeedbackDraft {
        customer: " ".into(),
        product: "crm".into(),
        nps: 11,
        ratings: vec![
            FeatureRating {
                feature: "setup".into(),
                score: 5,
            },
            FeatureRating {
                feature: "speed".into(),
                score: 0,
            },
            FeatureRating {
                feature: "setup".into(),
                score: 6,
            },
        ],
        comment: None,
    })
    .unwrap_err();
    match err {
        Error::InvalidInput(fields) => {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(
                names,
                [
                    "customer",
                    "nps",
                    "ratings[1].score",
                    "ratings[2].score",
                    "ratings[2].feature"
                ]
            );
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    let bad = Settings {
        rating_floor: 0,
        trend_window: 1,
        ..Settings::default()
    };
    let names: Vec<String> = TrialDesk::validate_settings(&bad)
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(names, ["rating-floor", "trend-window"]);
}

#[test]
fn feature_names_and_identifiers_are_trimmed_before_they_are_compared_or_stored() {
    let _host = TestHost::new().at(NOW);
    let f = submit(" ann ", " crm ", 9, &[(" setup ", 4)]);
    assert_eq!((f.customer.as_str(), f.product.as_str()), ("ann", "crm"));
    assert_eq!(f.ratings[0].feature, "setup");
    submit("bob", "crm", 7, &[("setup", 2)]);
    // One feature, not two; found under the product however it is spelled.
    let summary = TrialDesk::summary(" crm".into()).unwrap();
    assert_eq!(summary.features.len(), 1);
    assert_eq!(summary.features[0].feature, "setup");
    // The same feature twice, once with spaces, is rated twice.
    let err = TrialDesk::submit(FeedbackDraft {
        customer: "cid".into(),
        product: "crm".into(),
        nps: 5,
        ratings: vec![
            FeatureRating {
                feature: "speed".into(),
                score: 3,
            },
            FeatureRating {
                feature: " speed".into(),
                score: 4,
            },
        ],
        comment: None,
    })
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(fields) if fields.iter().any(|f| f.field == "ratings[1].feature")),
        "{err:?}"
    );
}

#[test]
fn a_customer_is_exported_and_forgotten_and_summaries_follow() {
    let host = TestHost::new().at(NOW);
    let a1 = submit("ann", "crm", 3, &[("search", 2)]);
    let a2 = submit("ann", "crm", 4, &[]);
    submit("bob", "crm", 10, &[("search", 5)]);

    let records = TrialDesk::export_customer("ann");
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [a1.id.as_str(), a2.id.as_str()]);
    let payload: serde_json::Value = serde_json::from_str(&records[0].payload).unwrap();
    assert_eq!(
        (payload["nps"].as_u64(), payload["comment"].as_str()),
        (Some(3), Some("ok"))
    );

    let report = TrialDesk::forget_customer("ann").unwrap();
    assert_eq!(report.removed, [("feedback".to_owned(), 2)]);
    assert!(TrialDesk::export_customer("ann").is_empty());
    for key in host.keys() {
        let value = host.get::<serde_json::Value>(&key).unwrap_or_default();
        assert!(!value.to_string().contains("ann"), "{key}: {value}");
    }
    // Only bob's answer is left to summarise.
    let summary = TrialDesk::summary("crm".into()).unwrap();
    assert_eq!(summary.responses, 1);
    // A new answer never reuses an erased one's id.
    let next = submit("cid", "crm", 7, &[]);
    assert!(next.id != a1.id && next.id != a2.id);
}
