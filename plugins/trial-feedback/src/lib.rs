//! Trial feedback: customers answer the NPS question (0–10), rate features
//! (1–5) and comment. Per product: responses, NPS (% promoters − %
//! detractors), average per feature and a weekly trend. Customers at risk
//! by the tenant's rules (low score, falling trend, silence), each with the
//! rule that fired and why.
//!
//! Built only with the public `mercato-sdk`. Store layout: `fb/{seq:012}`
//! (one feedback each), `next-id`.

mod settings;

use std::collections::BTreeMap;

use mercato_sdk::feedback::{
    AtRiskCustomer, FeatureAverage, Feedback, FeedbackDraft, FeedbackFilter, ProductSummary,
    RiskRule, TrialFeedback, WeekTrend,
};
use mercato_sdk::{
    Component, CustomerRecord, Description, Error, Event, ForgetReport, Timestamp, Validation,
    clock, store,
};

pub use settings::Settings;

/// The trial-feedback component.
#[derive(Debug)]
pub struct TrialDesk;

mercato_sdk::export_trial_feedback!(TrialDesk);

const LONGEST_COMMENT: usize = 2_000;
const MOST_RATINGS: usize = 50;

/// Promoters answer 9–10, detractors 0–6.
fn nps_of(answers: impl IntoIterator<Item = u8>) -> (u32, u32, u32, f64) {
    let (mut promoters, mut passives, mut detractors) = (0u32, 0u32, 0u32);
    for a in answers {
        match a {
            9..=10 => promoters += 1,
            7..=8 => passives += 1,
            _ => detractors += 1,
        }
    }
    let n = promoters + passives + detractors;
    let nps = if n == 0 {
        0.0
    } else {
        (f64::from(promoters) - f64::from(detractors)) * 100.0 / f64::from(n)
    };
    (promoters, passives, detractors, nps)
}

/// Monday 00:00 UTC of the ISO week holding `at` (1970-01-01 was a Thursday).
pub fn week_start(at: Timestamp) -> Timestamp {
    let days = at / clock::DAY;
    (days - (days + 3) % 7) * clock::DAY
}

/// Every stored feedback, oldest first.
fn all() -> Result<Vec<Feedback>, Error> {
    store::values("fb/")
}

impl Component for TrialDesk {
    type Settings = Settings;

    fn describe() -> Description {
        Description::new(
            "Trial feedback",
            "Collect NPS answers, feature ratings and comments from customers trying a \
             product. Summaries per product with NPS, feature averages and a weekly trend; \
             a list of customers at risk, with the rule that flagged each.",
        )
        .settings_schema(settings::schema())
    }

    fn validate_settings(settings: &Settings) -> Vec<mercato_sdk::FieldError> {
        settings.check()
    }

    /// Every answer the customer gave: scores, ratings and comments.
    fn export_customer(customer: &str) -> Vec<CustomerRecord> {
        answers_of(customer)
            .unwrap_or_default()
            .iter()
            .map(|f| CustomerRecord::new("feedback", f.id.as_str(), f))
            .collect()
    }

    /// Delete every answer of the customer. Summaries are worked out from
    /// the answers that remain, so nothing else names them.
    fn forget_customer(customer: &str) -> Result<ForgetReport, Error> {
        let answers = answers_of(customer)?;
        for f in &answers {
            let seq: u64 = f.id.trim_start_matches("f-").parse().map_err(|_| {
                Error::Internal(format!("stored feedback has the malformed id `{}`", f.id))
            })?;
            store::delete(&format!("fb/{seq:012}"));
        }
        Ok(ForgetReport::new().removed("feedback", answers.len() as u32))
    }
}

/// Every answer `customer` gave, oldest first.
fn answers_of(customer: &str) -> Result<Vec<Feedback>, Error> {
    Ok(all()?
        .into_iter()
        .filter(|f| f.customer == customer)
        .collect())
}

impl TrialFeedback for TrialDesk {
    fn submit(draft: FeedbackDraft) -> Result<Feedback, Error> {
        // Identifiers are trimmed once, here, so that what is checked,
        // compared and stored is the same text.
        let mut draft = draft;
        draft.customer = draft.customer.trim().to_owned();
        draft.product = draft.product.trim().to_owned();
        for r in &mut draft.ratings {
            r.feature = r.feature.trim().to_owned();
        }
        let mut check = Validation::new();
        check
            .not_blank(&draft.customer, "customer")
            .not_blank(&draft.product, "product")
            .require(draft.nps <= 10, "nps", "must be between 0 and 10")
            .require(
                draft.ratings.len() <= MOST_RATINGS,
                "ratings",
                "at most 50 features",
            )
            .require(
                draft
                    .comment
                    .as_ref()
                    .is_none_or(|c| c.len() <= LONGEST_COMMENT),
                "comment",
                "must be at most 2000 bytes",
            );
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in draft.ratings.iter().enumerate() {
            check
                .require(
                    !r.feature.is_empty(),
                    &format!("ratings[{i}].feature"),
                    "must not be blank",
                )
                .require(
                    (1..=5).contains(&r.score),
                    &format!("ratings[{i}].score"),
                    "must be between 1 and 5",
                )
                .require(
                    seen.insert(r.feature.clone()),
                    &format!("ratings[{i}].feature"),
                    "is rated twice",
                );
        }
        check.finish()?;

        let seq = store::get::<u64>("next-id")?.unwrap_or(0) + 1;
        store::set("next-id", &seq)?;
        let feedback = Feedback {
            id: format!("f-{seq}"),
            customer: draft.customer,
            product: draft.product,
            nps: draft.nps,
            ratings: draft.ratings,
            comment: draft.comment.filter(|c| !c.trim().is_empty()),
            submitted_at: clock::now(),
        };
        store::set(&format!("fb/{seq:012}"), &feedback)?;
        let category = match feedback.nps {
            9..=10 => "promoter",
            7..=8 => "passive",
            _ => "detractor",
        };
        Event::new("feedback.submitted")
            .customer(feedback.customer.as_str())
            .with("product", feedback.product.as_str())
            .with("nps", u32::from(feedback.nps))
            .with("category", category)
            .emit();
        Ok(feedback)
    }

    fn list_feedback(filter: FeedbackFilter) -> Result<Vec<Feedback>, Error> {
        let mut out: Vec<Feedback> = all()?
            .into_iter()
            .filter(|f| {
                filter
                    .product
                    .as_ref()
                    .is_none_or(|p| p.trim() == f.product)
            })
            .filter(|f| {
                filter
                    .customer
                    .as_ref()
                    .is_none_or(|c| c.trim() == f.customer)
            })
            .collect();
        out.reverse();
        Ok(out)
    }

    fn summary(product: String) -> Result<ProductSummary, Error> {
        let product = product.trim().to_owned();
        let items: Vec<Feedback> = all()?
            .into_iter()
            .filter(|f| f.product == product)
            .collect();
        if items.is_empty() {
            return Err(Error::not_found("feedback for product", &product));
        }
        let (promoters, passives, detractors, nps) = nps_of(items.iter().map(|f| f.nps));
        let mut features: BTreeMap<&str, (u64, u32)> = BTreeMap::new();
        let mut weeks: BTreeMap<Timestamp, Vec<&Feedback>> = BTreeMap::new();
        for f in &items {
            for r in &f.ratings {
                let e = features.entry(r.feature.as_str()).or_default();
                e.0 += u64::from(r.score);
                e.1 += 1;
            }
            weeks.entry(week_start(f.submitted_at)).or_default().push(f);
        }
        let trend = weeks
            .into_iter()
            .map(|(start, week)| {
                let (_, _, _, nps) = nps_of(week.iter().map(|f| f.nps));
                let scores: Vec<u8> = week
                    .iter()
                    .flat_map(|f| f.ratings.iter().map(|r| r.score))
                    .collect();
                WeekTrend {
                    week_start: start,
                    responses: week.len() as u32,
                    nps,
                    average_rating: (!scores.is_empty()).then(|| {
                        scores.iter().map(|s| f64::from(*s)).sum::<f64>() / scores.len() as f64
                    }),
                }
            })
            .collect();
        Ok(ProductSummary {
            product,
            responses: items.len() as u32,
            promoters,
            passives,
            detractors,
            nps,
            features: features
                .into_iter()
                .map(|(feature, (sum, n))| FeatureAverage {
                    feature: feature.to_owned(),
                    average: sum as f64 / f64::from(n),
                    responses: n,
                })
                .collect(),
            trend,
        })
    }

    fn at_risk() -> Result<Vec<AtRiskCustomer>, Error> {
        let settings: Settings = mercato_sdk::settings::get()?;
        let now = clock::now();
        let mut by_pair: BTreeMap<(String, String), Vec<Feedback>> = BTreeMap::new();
        for f in all()? {
            by_pair
                .entry((f.customer.clone(), f.product.clone()))
                .or_default()
                .push(f);
        }
        let mut out = Vec::new();
        for ((customer, product), answers) in by_pair {
            let Some(latest) = answers.last() else {
                continue;
            };
            let flag = |rule: RiskRule, detail: String| AtRiskCustomer {
                customer: customer.clone(),
                product: product.clone(),
                rule,
                detail,
                last_feedback_at: latest.submitted_at,
            };
            let low_rating = latest
                .ratings
                .iter()
                .find(|r| r.score < settings.rating_floor);
            if latest.nps < settings.nps_floor {
                out.push(flag(
                    RiskRule::LowScore,
                    format!("NPS {} is below {}", latest.nps, settings.nps_floor),
                ));
            } else if let Some(r) = low_rating {
                out.push(flag(
                    RiskRule::LowScore,
                    format!(
                        "`{}` rated {} is below {}",
                        r.feature, r.score, settings.rating_floor
                    ),
                ));
            }
            let window = settings.trend_window as usize;
            if answers.len() >= window {
                let recent: Vec<u8> = answers[answers.len() - window..]
                    .iter()
                    .map(|f| f.nps)
                    .collect();
                let never_rises = recent.windows(2).all(|w| w[1] <= w[0]);
                let first = recent[0];
                let last = recent[window - 1];
                if never_rises && first.saturating_sub(last) >= settings.falling_drop {
                    out.push(flag(
                        RiskRule::FallingTrend,
                        format!("NPS fell from {first} to {last} over the last {window} answers"),
                    ));
                }
            }
            let silent_for = now.saturating_sub(latest.submitted_at);
            if silent_for >= u64::from(settings.silent_days) * clock::DAY {
                out.push(flag(
                    RiskRule::Silent,
                    format!(
                        "no feedback for {} days (the limit is {})",
                        silent_for / clock::DAY,
                        settings.silent_days
                    ),
                ));
            }
        }
        Ok(out)
    }
}
