//! Seeded simulations: interval coverage of relative lifts, sequential A/A
//! tests under daily peeking, the power the sample size promises, and the
//! corners the earlier implementation got wrong.

use mercato_stats::rates::{self, Rate};
use mercato_stats::{Analysis, DEFAULT_TUNING, Moments, means, power};

/// xoshiro256** seeded by splitmix64: small, fast and the same everywhere.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn binomial(&mut self, n: u64, p: f64) -> u64 {
        (0..n).filter(|_| self.uniform() < p).count() as u64
    }

    fn normal(&mut self) -> f64 {
        // Box–Muller; 1 − u keeps the logarithm finite.
        let (u, v) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

const LIFTS: [f64; 6] = [-0.5, -0.25, 0.0, 0.5, 1.0, 2.0];

#[test]
fn relative_lift_of_rates_covers_95_percent_across_lifts() {
    let mut rng = Rng::new(1);
    let (p0, n, reps) = (0.2, 1500, 10_000);
    for lift in LIFTS {
        let p1 = p0 * (1.0 + lift);
        let covered = (0..reps)
            .filter(|_| {
                let t = Rate::new(rng.binomial(n, p1), n);
                let c = Rate::new(rng.binomial(n, p0), n);
                rates::compare(t, c, Analysis::FixedHorizon)
                    .relative
                    .interval
                    .is_some_and(|i| i.contains(lift))
            })
            .count();
        let coverage = covered as f64 / reps as f64;
        eprintln!("rates lift {lift:+}: coverage {coverage:.4}");
        assert!(
            (0.94..=0.96).contains(&coverage),
            "rates, lift {lift}: coverage {coverage}"
        );
    }
}

#[test]
fn relative_lift_of_means_covers_95_percent_across_lifts() {
    let mut rng = Rng::new(2);
    let (mu0, sd, n, reps) = (10.0, 6.0, 400, 10_000);
    for lift in LIFTS {
        let mu1 = mu0 * (1.0 + lift);
        let covered = (0..reps)
            .filter(|_| {
                let mut t = Moments::default();
                let mut c = Moments::default();
                for _ in 0..n {
                    t.push(mu1 + sd * rng.normal(), 0.0);
                    c.push(mu0 + sd * rng.normal(), 0.0);
                }
                means::compare(&t, &c, Analysis::FixedHorizon)
                    .relative
                    .interval
                    .is_some_and(|i| i.contains(lift))
            })
            .count();
        let coverage = covered as f64 / reps as f64;
        eprintln!("means lift {lift:+}: coverage {coverage:.4}");
        assert!(
            (0.94..=0.96).contains(&coverage),
            "means, lift {lift}: coverage {coverage}"
        );
    }
}

/// A director who looks every day for 20 days and stops at the first
/// p < 0.05: the share of A/A experiments declared different.
fn peeking_false_positives(analysis: Analysis, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let (experiments, days, per_day, rate) = (2_000, 20, 100, 0.1);
    let mut false_positives = 0;
    for _ in 0..experiments {
        let (mut t, mut c) = (Rate::default(), Rate::default());
        for _ in 0..days {
            t.units += per_day;
            c.units += per_day;
            t.conversions += rng.binomial(per_day, rate);
            c.conversions += rng.binomial(per_day, rate);
            if rates::compare(t, c, analysis)
                .p_value
                .is_some_and(|p| p < 0.05)
            {
                false_positives += 1;
                break;
            }
        }
    }
    false_positives as f64 / experiments as f64
}

#[test]
fn sequential_analysis_keeps_false_positives_at_five_percent_under_daily_peeking() {
    let sequential = peeking_false_positives(
        Analysis::Sequential {
            tuning: DEFAULT_TUNING,
        },
        3,
    );
    let fixed = peeking_false_positives(Analysis::FixedHorizon, 3);
    eprintln!("A/A, 20 daily looks: sequential {sequential:.4}, fixed horizon {fixed:.4}");
    assert!(sequential <= 0.05, "sequential: {sequential}");
    // The fixed-horizon test is what a daily look breaks.
    assert!(fixed > 0.15, "fixed horizon under peeking: {fixed}");
}

#[test]
fn the_sample_size_reaches_its_power_for_the_reported_test() {
    let mut rng = Rng::new(4);
    let sims = 2_000;
    for (baseline, mde) in [
        (0.1, 0.02),
        (0.9, 0.1),
        (0.5, -0.1),
        (0.02, 0.01),
        (0.01, 0.01),
        (0.05, -0.03),
        (0.2, 0.6),
        (0.7, -0.35),
    ] {
        let n = power::sample_size(baseline, mde).expect("size");
        let detected = (0..sims)
            .filter(|_| {
                let t = Rate::new(rng.binomial(n, baseline + mde), n);
                let c = Rate::new(rng.binomial(n, baseline), n);
                rates::compare(t, c, Analysis::FixedHorizon)
                    .p_value
                    .is_some_and(|p| p < 0.05)
            })
            .count();
        let reached = detected as f64 / sims as f64;
        eprintln!("baseline {baseline}, mde {mde:+}: n {n} per arm, power {reached:.3}");
        // 2 000 simulations: the standard error at 80% is 0.9 points.
        assert!(
            reached >= 0.78,
            "baseline {baseline}, mde {mde}, n {n}: power {reached}"
        );
    }
}

#[test]
fn test_and_interval_agree_by_construction() {
    let mut rng = Rng::new(5);
    for analysis in [
        Analysis::FixedHorizon,
        Analysis::Sequential {
            tuning: DEFAULT_TUNING,
        },
    ] {
        for _ in 0..5_000 {
            let n1 = 20 + rng.next() % 2_000;
            let n0 = 20 + rng.next() % 2_000;
            let (p1, p0) = (rng.uniform() * 0.3, rng.uniform() * 0.3);
            let r = rates::compare(
                Rate::new(rng.binomial(n1, p1), n1),
                Rate::new(rng.binomial(n0, p0), n0),
                analysis,
            );
            let (Some(p), Some(ci)) = (r.p_value, r.absolute.interval) else {
                continue;
            };
            // Away from the boundary itself, where rounding decides.
            if (p - 0.05).abs() > 1e-9 {
                assert_eq!(p < 0.05, !ci.contains(0.0), "{r:?}");
            }
        }
    }
}

#[test]
fn an_arm_without_conversions_keeps_every_defined_figure() {
    // 0/300 against 5/300: the lift, its interval and the p-value exist.
    let r = rates::compare(Rate::new(0, 300), Rate::new(5, 300), Analysis::FixedHorizon);
    assert!(r.p_value.is_some_and(|p| p > 0.0 && p < 0.05), "{r:?}");
    assert!(r.absolute.interval.is_some_and(|i| i.high < 0.0), "{r:?}");
    assert_eq!(r.relative.value, Some(-1.0));
    // A control without conversions: absolute figures stay, relative says why.
    let r = rates::compare(Rate::new(5, 300), Rate::new(0, 300), Analysis::FixedHorizon);
    assert!(
        r.p_value.is_some() && r.absolute.interval.is_some(),
        "{r:?}"
    );
    assert!(r.relative.value.is_none() && r.relative.undefined.is_some());
    // A control whose mean is 0 keeps the mean comparison.
    let t = Moments::of(&[0.0, 5.0, 0.0, 10.0, 0.0]);
    let c = Moments::of(&[0.0; 6]);
    let m = means::compare(&t, &c, Analysis::FixedHorizon);
    assert!(
        m.p_value.is_some() && m.absolute.interval.is_some(),
        "{m:?}"
    );
    assert!(m.relative.undefined.is_some());
    // Nothing at all: every figure says why instead of vanishing.
    let r = rates::compare(Rate::new(0, 300), Rate::new(0, 300), Analysis::FixedHorizon);
    assert_eq!(r.absolute.value, Some(0.0));
    assert!(r.absolute.undefined.is_some() && r.p_value.is_none());
}
