//! The experiment dashboard (实验仪表盘). The figures per arm come from the
//! experiments component itself (`results`, `get`, `sample-size`); the
//! curves over time are built here from the events that component emits
//! (`experiment.exposure` once per unit, `experiment.conversion`), as
//! cumulative daily tallies per arm, and compared with the same statistics
//! crate (`mercato-stats`) the component computes its results with — one
//! implementation, no second copy. Daily tallies are cached per experiment
//! and extended with the events since the last look; any registry change
//! (an erasure included) starts them afresh.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use mercato_registry::Principal;
use mercato_stats::rates::{self, Rate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chart::{Series, line_chart};
use super::page::{Chrome, ConsoleError, Viewer, render};
use crate::marketplace::{MarketError, Marketplace};

const DAY_MS: i64 = 86_400_000;

/// Units first exposed and first converting per (day, variant): the
/// component's own daily tallies (`results.daily`), so the curves count what
/// the results count, whether or not events are tracked.
#[derive(Debug, Default)]
struct Daily {
    exposures: BTreeMap<(i64, String), u64>,
    conversions: BTreeMap<(i64, String), u64>,
}

impl Daily {
    fn of(results: &Value) -> Daily {
        let mut daily = Daily::default();
        for d in results["daily"].as_array().into_iter().flatten() {
            let day = d["day-start"].as_i64().unwrap_or(0).div_euclid(DAY_MS);
            let variant = d["variant"].as_str().unwrap_or_default().to_owned();
            *daily.exposures.entry((day, variant.clone())).or_default() +=
                d["units"].as_u64().unwrap_or(0);
            *daily.conversions.entry((day, variant)).or_default() +=
                d["conversions"].as_u64().unwrap_or(0);
        }
        daily
    }
}

async fn call(
    market: &Marketplace,
    me: &Principal,
    tenant: &str,
    install: &str,
    function: &str,
    args: Value,
) -> Result<Value, MarketError> {
    let outcome = market.invoke(me, tenant, install, function, args).await?;
    let reply = outcome.json();
    Ok(reply.get("ok").cloned().unwrap_or(reply))
}

struct ExperimentLink {
    install: String,
    key: String,
    description: String,
    status: String,
}

#[derive(Template)]
#[template(path = "experiments.html")]
struct ListPage {
    chrome: Chrome,
    tenant: String,
    experiments: Vec<ExperimentLink>,
}

/// The tenant's installs of the experiments kind.
async fn experiment_installs(
    market: &Marketplace,
    me: &Principal,
    tenant: &str,
) -> Result<Vec<String>, MarketError> {
    let registry = market.registry();
    let mut out = Vec::new();
    for install in registry.installs(me, tenant).await? {
        let (version, _) = registry
            .version(me, &install.package, &install.version)
            .await?;
        if version.kind == "experiments" && install.enabled {
            out.push(install.id);
        }
    }
    Ok(out)
}

/// `GET /tenants/{tenant}/experiments`.
pub async fn list(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let fail = |e| ConsoleError::market(viewer.lang, e);
    let chrome = viewer.chrome();
    let mut experiments = Vec::new();
    for install in experiment_installs(&market, me, &tenant)
        .await
        .map_err(fail)?
    {
        let listed = call(
            &market,
            me,
            &tenant,
            &install,
            "list-experiments",
            json!({}),
        )
        .await
        .map_err(fail)?;
        for e in listed.as_array().into_iter().flatten() {
            experiments.push(ExperimentLink {
                install: install.clone(),
                key: e["key"].as_str().unwrap_or_default().to_owned(),
                description: e["description"].as_str().unwrap_or_default().to_owned(),
                status: chrome.tr(
                    "experiment.status",
                    e["status"].as_str().unwrap_or_default(),
                ),
            });
        }
    }
    Ok(render(
        StatusCode::OK,
        &ListPage {
            chrome,
            tenant,
            experiments,
        },
    ))
}

struct ArmRow {
    variant: String,
    weight: String,
    units: u64,
    conversions: u64,
    rate: String,
    mean: String,
    lift: String,
    interval: String,
    p_value: String,
    significant: bool,
}

#[derive(Template)]
#[template(path = "experiment.html")]
struct ExperimentPage {
    chrome: Chrome,
    tenant: String,
    key: String,
    description: String,
    status: String,
    unit_type: String,
    coverage: String,
    metric: String,
    arms: Vec<ArmRow>,
    srm_p: String,
    srm_flagged: bool,
    mde: String,
    needed: Option<u64>,
    progress: u64,
    rate_chart: String,
    lift_chart: String,
    days: usize,
}

/// `?mde=` of the sample-size progress (absolute, default 0.02).
#[derive(Debug, Deserialize)]
pub struct Options {
    mde: Option<f64>,
}

fn percent(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// `GET /tenants/{tenant}/experiments/{install}/{key}`.
pub async fn experiment(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Path((tenant, install, key)): Path<(String, String, String)>,
    Query(options): Query<Options>,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let fail = |e| ConsoleError::market(viewer.lang, e);
    let chrome = viewer.chrome();
    let experiment = call(&market, me, &tenant, &install, "get", json!({"key": key}))
        .await
        .map_err(fail)?;
    if experiment.get("not-found").is_some() || experiment.get("err").is_some() {
        return Err(ConsoleError::Page {
            status: StatusCode::NOT_FOUND,
            message: format!("no experiment `{key}` in `{install}`"),
            lang: viewer.lang,
        });
    }
    let results = call(
        &market,
        me,
        &tenant,
        &install,
        "results",
        json!({"key": key}),
    )
    .await
    .map_err(fail)?;
    let variants: Vec<(String, u64)> = experiment["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["key"].as_str().unwrap_or_default().to_owned(),
                v["weight"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let weight_total: u64 = variants.iter().map(|v| v.1).sum::<u64>().max(1);
    let arms: Vec<ArmRow> = results["primary"]["arms"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let name = r["variant"].as_str().unwrap_or_default().to_owned();
            let weight = variants.iter().find(|v| v.0 == name).map_or(0, |v| v.1);
            let cmp = &r["rate-vs-control"];
            // With more than one treatment, significance is judged on Holm's
            // adjusted p-value (the raw one equals it with a single treatment).
            let p = cmp["p-value-holm"].as_f64();
            ArmRow {
                weight: format!("{:.0}%", weight as f64 * 100.0 / weight_total as f64),
                units: r["units"].as_u64().unwrap_or(0),
                conversions: r["conversions"].as_u64().unwrap_or(0),
                rate: percent(r["rate"]["value"].as_f64().unwrap_or(0.0)),
                mean: format!("{:.2}", r["mean"]["value"].as_f64().unwrap_or(0.0)),
                lift: cmp["absolute"]["value"]
                    .as_f64()
                    .map_or_else(|| "—".into(), |l| format!("{:+.2} pp", l * 100.0)),
                interval: match (
                    cmp["absolute"]["interval"]["low"].as_f64(),
                    cmp["absolute"]["interval"]["high"].as_f64(),
                ) {
                    (Some(lo), Some(hi)) => format!("[{:+.2}, {:+.2}] pp", lo * 100.0, hi * 100.0),
                    _ => "—".into(),
                },
                p_value: p.map_or_else(|| "—".into(), |p| format!("{p:.4}")),
                significant: p.is_some_and(|p| p < 0.05),
                variant: name,
            }
        })
        .collect();

    // Progress toward the sample size that detects `mde` from the control's rate.
    let mde = options
        .mde
        .filter(|m| m.is_finite() && *m != 0.0)
        .unwrap_or(0.02);
    let baseline = results["primary"]["arms"][0]["rate"]["value"]
        .as_f64()
        .unwrap_or(0.0);
    let needed = if baseline > 0.0 && baseline < 1.0 {
        call(
            &market,
            me,
            &tenant,
            &install,
            "sample-size",
            json!({"baseline-rate": baseline, "minimum-detectable-effect": mde}),
        )
        .await
        .ok()
        .and_then(|v| v.as_u64())
    } else {
        None
    };
    let smallest = arms.iter().map(|a| a.units).min().unwrap_or(0);
    let progress = needed.map_or(0, |n| (smallest * 100 / n.max(1)).min(100));

    // Curves: cumulative tallies per arm by day, compared with mercato-stats.
    let daily = Daily::of(&results);
    let first = daily.exposures.keys().map(|k| k.0).min();
    let last = daily
        .exposures
        .keys()
        .chain(daily.conversions.keys())
        .map(|k| k.0)
        .max();
    let days: Vec<i64> = match (first, last) {
        (Some(a), Some(b)) => (a..=b).collect(),
        _ => Vec::new(),
    };
    let labels: Vec<String> = days
        .iter()
        .map(|d| super::page::when(d * DAY_MS)[5..10].to_owned())
        .collect();
    let mut cumulative: Vec<Vec<(u64, u64)>> = vec![Vec::new(); variants.len()];
    for (i, (name, _)) in variants.iter().enumerate() {
        let (mut n, mut c) = (0, 0);
        for day in &days {
            n += daily
                .exposures
                .get(&(*day, name.clone()))
                .copied()
                .unwrap_or(0);
            c += daily
                .conversions
                .get(&(*day, name.clone()))
                .copied()
                .unwrap_or(0);
            cumulative[i].push((n, c));
        }
    }
    let rate_series: Vec<Series> = variants
        .iter()
        .zip(&cumulative)
        .map(|((name, _), cum)| Series {
            name: name.clone(),
            points: cum
                .iter()
                .enumerate()
                .filter(|(_, (n, _))| *n > 0)
                .map(|(d, (n, c))| (d, *c as f64 / *n as f64))
                .collect(),
            band: Vec::new(),
        })
        .collect();
    // The bands follow the experiment's analysis: confidence sequences when
    // it is sequential, so that a daily look at the curve stays valid.
    let analysis = match results["analysis"].as_str() {
        Some("sequential") => mercato_stats::Analysis::Sequential {
            tuning: mercato_stats::DEFAULT_TUNING,
        },
        _ => mercato_stats::Analysis::FixedHorizon,
    };
    let lift_series: Vec<Series> = variants
        .iter()
        .zip(&cumulative)
        .skip(1)
        .map(|((name, _), cum)| {
            let mut series = Series {
                name: format!("{name} − {}", variants[0].0),
                points: Vec::new(),
                band: Vec::new(),
            };
            for (d, ((n1, c1), (n0, c0))) in cum.iter().zip(&cumulative[0]).enumerate() {
                let cmp = rates::compare(Rate::new(*c1, *n1), Rate::new(*c0, *n0), analysis);
                if let (Some(lift), Some(band)) = (cmp.absolute.value, cmp.absolute.interval) {
                    series.points.push((d, lift));
                    series.band.push((d, band.low, band.high));
                }
            }
            series
        })
        .collect();
    let rate_chart = line_chart(
        "rate-chart",
        chrome.t("experiment.rate_chart"),
        &labels,
        &rate_series,
        percent,
    );
    let lift_chart = line_chart(
        "lift-chart",
        chrome.t("experiment.lift_chart"),
        &labels,
        &lift_series,
        |v| format!("{:+.1} pp", v * 100.0),
    );
    let page = ExperimentPage {
        tenant,
        key: key.clone(),
        description: experiment["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        status: chrome.tr(
            "experiment.status",
            experiment["status"].as_str().unwrap_or_default(),
        ),
        unit_type: experiment["unit-type"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        coverage: format!(
            "{:.1}%",
            experiment["coverage-bp"].as_f64().unwrap_or(0.0) / 100.0
        ),
        metric: experiment["primary-metric"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        arms,
        srm_p: results["srm-p-value"]
            .as_f64()
            .map_or_else(|| "—".into(), |p| format!("{p:.4}")),
        srm_flagged: results["srm-flagged"].as_bool().unwrap_or(false),
        mde: format!("{:+.2} pp", mde * 100.0),
        needed,
        progress,
        rate_chart,
        lift_chart,
        days: days.len(),
        chrome,
    };
    Ok(render(StatusCode::OK, &page))
}
