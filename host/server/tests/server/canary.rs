//! Canary rollouts: a candidate version on a share of a tenant's calls,
//! sticky by unit on every host, counted per version, judged by sequential
//! guardrails that abort a failing candidate by themselves.
//!
//! The candidate is the hostile fixture published as a later version of
//! livestream-booking: it answers `book` without checking the session and
//! fails every booking for a customer named `fail:…`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mercato_registry::InstallUpdate;
use mercato_registry::canaries::NewCanary;
use mercato_runtime::Kind;
use mercato_server::marketplace::Marketplace;
use mercato_server::marketplace::canary::{self, Route};
use mercato_testapp::manifest;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::market::{Seeded, eventually, market, postgres, seeded, sqlite};
use crate::{HOUR, NOW};

const INSTALL: &str = "livestream-booking";
const PACKAGE: &str = "mercato/livestream-booking";

/// The seeded marketplace with the install's settings at `{}` (which both
/// versions accept) and the hostile fixture approved as 2.0.0 asking
/// `permissions`.
pub async fn with_candidate(s: &Seeded, permissions: &[&str]) {
    s.market
        .update(
            &s.director.0,
            "acme",
            INSTALL,
            InstallUpdate {
                settings: Some(json!({})),
                ..InstallUpdate::default()
            },
        )
        .await
        .unwrap();
    s.app
        .publish_approved(
            "dev",
            "legal",
            &manifest(PACKAGE, "2.0.0", Kind::LivestreamBooking, permissions),
            &mercato_artifacts::read(mercato_artifacts::HOSTILE),
        )
        .await;
}

async fn start(s: &Seeded, share: f64, auto_abort: bool) -> String {
    s.market
        .start_rollout(
            &s.director.0,
            "acme",
            INSTALL,
            NewCanary {
                version: "2.0.0".into(),
                share,
                auto_abort: Some(auto_abort),
                accept_permissions: None,
            },
        )
        .await
        .unwrap()
        .id
}

/// Which side each of `units` is routed to on `market`, by the routing
/// the calls use.
async fn sides(market: &Marketplace, units: &[String]) -> Vec<bool> {
    let active = market.active("acme", INSTALL).await.unwrap();
    let candidate = active.canary.clone().expect("a canary runs");
    units
        .iter()
        .map(|u| {
            canary::pick(
                &active,
                &candidate,
                "list-sessions",
                &json!({}),
                &Route {
                    unit: Some(u.clone()),
                    force: None,
                },
            )
            .unwrap()
            .candidate()
        })
        .collect()
}

async fn share_is(market: &Marketplace, bp: u32) -> bool {
    market
        .active("acme", INSTALL)
        .await
        .ok()
        .and_then(|a| a.canary.as_ref().map(|c| c.rollout.share_bp))
        == Some(bp)
}

/// 10 000 units across share changes: none moves the wrong way, the shares
/// are as asked, and a second host on the same database routes each alike.
async fn units_stay_on_their_side_on(s: &Seeded, other: Option<Arc<Marketplace>>) {
    with_candidate(s, &["store", "events"]).await;
    let id = start(s, 10.0, false).await;
    let units: Vec<String> = (0..10_000).map(|i| format!("unit-{i}")).collect();
    let mut before = sides(&s.market, &units).await;
    let on = |v: &[bool]| v.iter().filter(|c| **c).count();
    assert!((800..1_200).contains(&on(&before)), "{}", on(&before));
    for (share, raised) in [(40.0, true), (70.0, true), (20.0, false), (5.0, false)] {
        s.market
            .set_rollout_share(&s.director.0, "acme", &id, share)
            .await
            .unwrap();
        let after = sides(&s.market, &units).await;
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            if raised {
                assert!(
                    !b || *a,
                    "unit {i} left the candidate when the share rose to {share}"
                );
            } else {
                assert!(
                    *b || !a,
                    "unit {i} joined the candidate when the share fell to {share}"
                );
            }
        }
        let expected = (share * 100.0) as usize;
        assert!(
            on(&after).abs_diff(expected) < 300,
            "{} units on the candidate at {share} %",
            on(&after)
        );
        if let Some(b) = &other {
            let bp = (share * 100.0) as u32;
            eventually("the other host sees the new share", || share_is(b, bp)).await;
            assert_eq!(
                sides(b, &units).await,
                after,
                "the hosts route alike at {share} %"
            );
        }
        before = after;
    }
    // A call goes where the routing said, and says which version served it.
    for (unit, candidate) in units.iter().zip(&before).take(200) {
        let served = s
            .market
            .invoke_routed(
                &s.rep.0,
                "acme",
                INSTALL,
                "list-sessions",
                json!({}),
                &Route {
                    unit: Some(unit.clone()),
                    force: None,
                },
            )
            .await
            .unwrap();
        let expected = if *candidate { "2.0.0" } else { "1.0.0" };
        assert_eq!(served.version.to_string(), expected, "{unit}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn units_stay_on_their_side_across_share_changes_on_sqlite() {
    let (dir, db) = sqlite().await;
    let mut s = seeded(db).await;
    s.dir = Some(dir);
    units_stay_on_their_side_on(&s, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn units_stay_on_their_side_across_share_changes_and_hosts_on_postgres() {
    let db = postgres().await;
    let s = seeded(db.clone()).await;
    let b = market(db);
    units_stay_on_their_side_on(&s, Some(b)).await;
}

async fn schedule(s: &Seeded) -> String {
    let session = s
        .market
        .invoke_routed(
            &s.director.0,
            "acme",
            INSTALL,
            "schedule",
            json!({"draft": {"title": "Launch", "host": "Mia", "starts-at": NOW + HOUR,
                             "duration-minutes": 30, "capacity": 5_000}}),
            &Route {
                unit: None,
                force: Some("current".into()),
            },
        )
        .await
        .unwrap();
    session.outcome.json()["ok"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn book(s: &Seeded, session: &str, customer: &str) -> String {
    s.market
        .invoke_routed(
            &s.rep.0,
            "acme",
            INSTALL,
            "book",
            json!({"session-id": session, "customer": customer}),
            &Route::default(),
        )
        .await
        .unwrap()
        .version
        .to_string()
}

/// A candidate failing every booking it serves is aborted by its error
/// guardrail, the abort names it and keeps its figures, and calls go back to
/// the current version.
async fn a_failing_candidate_is_aborted_on(s: &Seeded) {
    with_candidate(s, &["store", "events"]).await;
    let session = schedule(s).await;
    let id = start(s, 50.0, true).await;
    let mut served = std::collections::BTreeMap::<String, u32>::new();
    let mut status = Value::Null;
    for i in 0..2_000 {
        *served
            .entry(book(s, &session, &format!("fail:{i}")).await)
            .or_default() += 1;
        if i % 100 == 99 {
            status = s
                .market
                .rollout_status(&s.director.0, "acme", &id)
                .await
                .unwrap();
            if status["rollout"]["state"] == "aborted" {
                break;
            }
        }
    }
    assert_eq!(status["rollout"]["state"], "aborted", "{status:#}");
    assert!(served.get("2.0.0").is_some_and(|n| *n > 0), "{served:?}");
    let reason = status["rollout"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("`errors`"), "{reason}");
    assert_eq!(status["rollout"]["ended_by"], "guardrail (operator)");
    let figures = &status["figures"];
    assert!(
        figures["tripped"]
            .as_array()
            .unwrap()
            .contains(&json!("errors")),
        "{figures:#}"
    );
    assert_eq!(figures["candidate"]["error_rate"], 1.0, "{figures:#}");
    assert_eq!(figures["current"]["errors"], 0, "{figures:#}");
    // The figures are kept on the rollout, and in the audit log.
    let stored = s
        .app
        .registry()
        .canary(&s.director.0, "acme", &id)
        .await
        .unwrap();
    assert!(stored.figures.is_some());
    let audit = s
        .app
        .registry()
        .audit_entries(&s.director.0, Some("acme"), 0, 1000)
        .await
        .unwrap();
    let abort = audit
        .iter()
        .find(|e| e.action == "canary.abort")
        .expect("audited");
    assert!(
        abort.after.contains("tripped") && abort.actor.contains("guardrail"),
        "{abort:?}"
    );
    // Every call is the current version's again.
    for i in 0..50 {
        assert_eq!(book(s, &session, &format!("after-{i}")).await, "1.0.0");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_candidate_is_aborted_by_its_guardrail_on_sqlite() {
    let (dir, db) = sqlite().await;
    let mut s = seeded(db).await;
    s.dir = Some(dir);
    a_failing_candidate_is_aborted_on(&s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_candidate_is_aborted_by_its_guardrail_on_postgres() {
    let s = seeded(postgres().await).await;
    a_failing_candidate_is_aborted_on(&s).await;
}

/// Traffic drawn only from units the candidate serves is a split unlike its
/// share: the sample-ratio check flags it; an even spread does not.
#[tokio::test(flavor = "multi_thread")]
async fn a_skewed_split_trips_the_sample_ratio_check() {
    let (dir, db) = sqlite().await;
    let mut s = seeded(db).await;
    s.dir = Some(dir);
    with_candidate(&s, &["store", "events"]).await;
    let id = start(&s, 50.0, false).await;
    let call = |unit: String| {
        let s = &s;
        async move {
            s.market
                .invoke_routed(
                    &s.rep.0,
                    "acme",
                    INSTALL,
                    "list-sessions",
                    json!({}),
                    &Route {
                        unit: Some(unit),
                        force: None,
                    },
                )
                .await
                .unwrap();
        }
    };
    for i in 0..400 {
        call(format!("even-{i}")).await;
    }
    let even = s
        .market
        .rollout_status(&s.director.0, "acme", &id)
        .await
        .unwrap();
    assert_eq!(even["figures"]["srm"]["mismatch"], false, "{even:#}");
    let skewed: Vec<String> = (0..)
        .map(|i| format!("skew-{i}"))
        .filter(|u| canary::bucket("acme", INSTALL, &id, u) < 5_000)
        .take(400)
        .collect();
    for unit in skewed {
        call(unit).await;
    }
    let status = s
        .market
        .rollout_status(&s.director.0, "acme", &id)
        .await
        .unwrap();
    let srm = &status["figures"]["srm"];
    assert_eq!(srm["mismatch"], true, "{status:#}");
    assert!(srm["p_value"].as_f64().unwrap() < 0.001);
    assert_eq!(status["rollout"]["state"], "running");
}

async fn send(
    router: &axum::Router,
    token: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let version = response
        .headers()
        .get("x-mercato-version")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        version,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The API end to end: permissions a candidate adds must be accepted; start,
/// force, share, status, promote; moves of the version wait for the canary;
/// events and metrics carry the version.
#[tokio::test(flavor = "multi_thread")]
async fn rollouts_over_http_start_force_steer_and_promote() {
    let (dir, db) = sqlite().await;
    let mut s = seeded(db).await;
    s.dir = Some(dir);
    with_candidate(&s, &["store", "events", "customers"]).await;
    let router = mercato_server::http::app(s.market.clone());
    let (dora, ray) = (s.director.1.clone(), s.rep.1.clone());
    let rollouts = format!("/v1/tenants/acme/installs/{INSTALL}/rollouts");
    let calls = format!("/v1/tenants/acme/components/{INSTALL}");

    // No canary: forcing the candidate is refused.
    let (status, _, body) = send(
        &router,
        &dora,
        "POST",
        &format!("{calls}/list-sessions"),
        &[("x-mercato-version", "candidate")],
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("no-rollout"))
    );

    let new = json!({"version": "2.0.0", "share": 0});
    let (status, _, body) = send(&router, &dora, "POST", &rollouts, &[], new.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "permissions-not-accepted");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("customers"),
        "{body}"
    );
    let (status, _, body) = send(
        &router,
        &dora,
        "POST",
        &rollouts,
        &[],
        json!({"version": "2.0.0", "share": 101}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid-input")),
        "{body}"
    );

    let (status, _, rollout) = send(
        &router,
        &dora,
        "POST",
        &rollouts,
        &[],
        json!({"version": "2.0.0", "share": 0, "accept_permissions": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rollout}");
    assert_eq!(
        (rollout["state"].as_str(), rollout["share_bp"].as_u64()),
        (Some("running"), Some(0))
    );
    let id = rollout["id"].as_str().unwrap().to_owned();
    let (_, _, again) = send(&router, &dora, "POST", &rollouts, &[], new).await;
    assert_eq!(again["error"]["code"], "canary-running", "{again}");
    let (_, _, install) = send(
        &router,
        &dora,
        "GET",
        &format!("/v1/tenants/acme/installs/{INSTALL}"),
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(install["canary"]["id"], id.as_str());
    assert!(
        install["accepted"]
            .as_array()
            .unwrap()
            .contains(&json!("customers"))
    );
    // The install's version holds still while the canary runs.
    let (status, _, body) = send(
        &router,
        &dora,
        "POST",
        &format!("/v1/tenants/acme/installs/{INSTALL}/upgrade"),
        &[],
        json!({"version": "2.0.0"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("canary-running"))
    );

    // At 0 % only forced calls reach the candidate; reps may not force.
    let (_, version, _) = send(
        &router,
        &ray,
        "POST",
        &format!("{calls}/list-sessions"),
        &[],
        json!({}),
    )
    .await;
    assert_eq!(version.as_deref(), Some("1.0.0"));
    let (status, _, _) = send(
        &router,
        &ray,
        "POST",
        &format!("{calls}/list-sessions"),
        &[("x-mercato-version", "candidate")],
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, version, booking) = send(
        &router,
        &dora,
        "POST",
        &format!("{calls}/book"),
        &[("x-mercato-version", "candidate")],
        json!({"session-id": "s-9", "customer": "ann"}),
    )
    .await;
    assert_eq!(
        (status, version.as_deref()),
        (StatusCode::OK, Some("2.0.0")),
        "{booking}"
    );
    // The hostile candidate books without a session: its event-free answer differs.
    assert_eq!(booking["id"], "b-1");

    // Raise the share; a unit's calls all go one way.
    let (status, _, steered) = send(
        &router,
        &dora,
        "PATCH",
        &format!("/v1/tenants/acme/rollouts/{id}"),
        &[],
        json!({"share": 100}),
    )
    .await;
    assert_eq!(
        (status, steered["share_bp"].as_u64()),
        (StatusCode::OK, Some(10_000)),
        "{steered}"
    );
    for i in 0..20 {
        let unit = format!("u{i}");
        let (_, version, _) = send(
            &router,
            &ray,
            "POST",
            &format!("{calls}/list-sessions"),
            &[("x-mercato-unit", &unit)],
            json!({}),
        )
        .await;
        assert_eq!(version.as_deref(), Some("2.0.0"));
    }
    let (status, _, view) = send(
        &router,
        &dora,
        "GET",
        &format!("/v1/tenants/acme/rollouts/{id}"),
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["figures"]["candidate"]["calls"], 20, "{view:#}");
    assert_eq!(view["figures"]["candidate"]["forced"], 1, "{view:#}");
    assert_eq!(view["figures"]["current"]["calls"], 1, "{view:#}");
    let latency = view["figures"]["guardrails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "latency")
        .unwrap()
        .clone();
    assert_eq!(latency["measure"], "ratio", "{latency}");
    let (_, _, list) = send(&router, &dora, "GET", &rollouts, &[], Value::Null).await;
    assert_eq!(list["rollouts"][0]["id"], id.as_str());

    // Metrics label calls by version.
    let metrics = s.market.metrics().render();
    assert!(
        metrics.contains(r#"version="2.0.0""#) && metrics.contains(r#"version="1.0.0""#),
        "{metrics}"
    );

    let (status, _, promoted) = send(
        &router,
        &dora,
        "POST",
        &format!("/v1/tenants/acme/rollouts/{id}/promote"),
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{promoted}");
    assert_eq!(promoted["rollout"]["state"], "promoted");
    assert_eq!(promoted["install"]["version"], "2.0.0");
    assert!(promoted["rollout"]["figures"]["candidate"]["calls"].as_u64() >= Some(20));
    let (_, version, _) = send(
        &router,
        &ray,
        "POST",
        &format!("{calls}/list-sessions"),
        &[],
        json!({}),
    )
    .await;
    assert_eq!(version.as_deref(), Some("2.0.0"));
    let (status, _, ended) = send(
        &router,
        &dora,
        "POST",
        &format!("/v1/tenants/acme/rollouts/{id}/abort"),
        &[],
        json!({}),
    )
    .await;
    assert_eq!(
        (status, ended["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("rollout-ended"))
    );
    let audit = s
        .app
        .registry()
        .audit_entries(&s.director.0, Some("acme"), 0, 1000)
        .await
        .unwrap();
    for action in [
        "canary.start",
        "canary.share",
        "canary.promote",
        "install.promote",
    ] {
        assert!(
            audit.iter().any(|e| e.action == action),
            "{action} not audited"
        );
    }
}
