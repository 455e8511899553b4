//! Over HTTP, one tenant's misbehaving calls cost only that tenant: its
//! share of slots (then `429`/`503` with `Retry-After`), its own limits
//! (which its director may lower), bounded pages; a component's own error
//! is reported as the component's, and a burst after a registry change is
//! served without a single 500.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mercato_runtime::{Kind, LoadError};
use mercato_server::marketplace::MarketError;
use mercato_server::marketplace::admission::AdmissionConfig;
use mercato_testapp::{TestApp, manifest};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::NOW;

struct Reply {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

async fn send(router: &axum::Router, token: &str, method: &str, uri: &str, body: Value) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// The hostile component for tenants `acme` and `globex`, with `permissions`
/// and a deadline of `deadline_ms` (fuel at the cap, so a loop runs until it).
async fn hostile_app(
    admission: AdmissionConfig,
    permissions: &[&str],
    deadline_ms: u64,
) -> TestApp {
    let mut m = manifest(
        "mercato/hostile",
        "1.0.0",
        Kind::LivestreamBooking,
        permissions,
    );
    m.limits.deadline_ms = Some(deadline_ms);
    m.limits.fuel = Some(mercato_runtime::Limits::PLATFORM_CAPS.fuel);
    TestApp::builder()
        .clock(NOW)
        .admission(admission)
        .tenant("acme")
        .tenant("globex")
        .publisher("mercato")
        .developer("dev", "mercato")
        .reviewer("legal")
        .director("dora", "acme")
        .rep("ray", "acme")
        .director("gwen", "globex")
        .rep("gil", "globex")
        .component(
            m,
            mercato_artifacts::read(mercato_artifacts::HOSTILE),
            &["acme", "globex"],
        )
        .build()
        .await
}

fn book(customer: &str) -> Value {
    json!({"session-id": "s-1", "customer": customer})
}

const ACME: &str = "/v1/tenants/acme/components/hostile";
const GLOBEX: &str = "/v1/tenants/globex/components/hostile";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_over_its_share_is_told_to_retry_while_another_tenant_is_served() {
    let app = hostile_app(
        AdmissionConfig {
            tenant_concurrency: 2,
            install_concurrency: 2,
            tenant_queue: 2,
            queue_wait: Duration::from_secs(20),
            ..AdmissionConfig::default()
        },
        &["store"],
        3_000,
    )
    .await;
    let router = app.router();
    let started = Instant::now();
    let mut loops = Vec::new();
    for _ in 0..8 {
        let (router, token) = (router.clone(), app.token("ray").to_owned());
        loops.push(tokio::spawn(async move {
            let reply = send(
                &router,
                &token,
                "POST",
                &format!("{ACME}/book"),
                book("loop"),
            )
            .await;
            (reply, started.elapsed())
        }));
    }
    // The tenant's queue fills: the calls past it come back at once.
    while loops.iter().filter(|c| c.is_finished()).count() < 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Another tenant's cheap call is served while acme's loops still run.
    let read = send(
        &router,
        app.token("gil"),
        "POST",
        &format!("{GLOBEX}/list-sessions"),
        json!({}),
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let served_at = started.elapsed();
    let mut refused = 0;
    let mut ran = Vec::new();
    for call in loops {
        let (reply, at) = call.await.unwrap();
        match reply.status {
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                assert_eq!(reply.body["error"]["code"], "tenant-busy", "{}", reply.body);
                assert_eq!(reply.retry_after.as_deref(), Some("1"));
                assert!(at < served_at, "refused only after {at:?}");
            }
            StatusCode::BAD_GATEWAY => {
                let limit = &reply.body["error"]["details"]["limit"];
                assert!(limit == "deadline" || limit == "fuel", "{}", reply.body);
                ran.push(at);
            }
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(refused, 4, "2 running + 2 queued were admitted");
    assert_eq!(ran.len(), 4);
    let first_loop_ended = ran.iter().min().copied().unwrap();
    assert!(
        served_at < first_loop_ended,
        "globex was served at {served_at:?}, after acme's first loop ended at {first_loop_ended:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_that_finds_no_room_within_the_queue_wait_is_told_to_retry() {
    let app = hostile_app(
        AdmissionConfig {
            tenant_concurrency: 1,
            queue_wait: Duration::from_millis(200),
            ..AdmissionConfig::default()
        },
        &["store"],
        2_000,
    )
    .await;
    let router = app.router();
    let token = app.token("ray").to_owned();
    let uri = format!("{ACME}/book");
    let (a, b) = tokio::join!(
        send(&router, &token, "POST", &uri, book("loop")),
        send(&router, &token, "POST", &uri, book("loop")),
    );
    let (busy, ran) = if a.status == StatusCode::SERVICE_UNAVAILABLE {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(
        busy.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        busy.body
    );
    assert_eq!(busy.body["error"]["code"], "host-busy");
    assert_eq!(busy.retry_after.as_deref(), Some("1"));
    assert_eq!(ran.status, StatusCode::BAD_GATEWAY, "{}", ran.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_components_error_is_reported_as_the_components_and_commits_nothing() {
    let app = hostile_app(AdmissionConfig::default(), &["store"], 1_000).await;
    let router = app.router();
    let token = app.token("ray");
    let failed = send(
        &router,
        token,
        "POST",
        &format!("{ACME}/book"),
        book("fail-after-write"),
    )
    .await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY, "{}", failed.body);
    assert_eq!(failed.body["error"]["code"], "component-internal");
    assert_eq!(failed.body["error"]["details"]["source"], "component");
    assert!(
        failed.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deliberate failure after writing")
    );
    // What it wrote before returning its error is not there.
    let missing = send(
        &router,
        token,
        "POST",
        &format!("{ACME}/get-session"),
        json!({"session-id": "evil"}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    assert_eq!(missing.body["error"]["details"]["source"], "component");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_director_lowers_the_limits_of_every_call_of_the_tenant() {
    let app = hostile_app(AdmissionConfig::default(), &["store"], 1_000).await;
    let router = app.router();
    let (rep, director) = (app.token("ray"), app.token("dora"));
    let work = || book("cpu:1000000");
    let before = send(&router, rep, "POST", &format!("{ACME}/book"), work()).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);

    let limits = "/v1/tenants/acme/limits";
    let above = send(
        &router,
        director,
        "PUT",
        limits,
        json!({"fuel": 1_000_000_000_000u64}),
    )
    .await;
    assert_eq!(
        above.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        above.body
    );
    assert_eq!(above.body["error"]["details"]["fields"][0]["field"], "fuel");
    let below = send(&router, director, "PUT", limits, json!({"deadline-ms": 1})).await;
    assert_eq!(
        below.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        below.body
    );
    assert!(
        below.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("floor")
    );
    let by_rep = send(&router, rep, "PUT", limits, json!({"fuel": 2_000_000})).await;
    assert_eq!(by_rep.status, StatusCode::FORBIDDEN);

    let set = send(&router, director, "PUT", limits, json!({"fuel": 2_000_000})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["caps"]["fuel"], 2_000_000);
    assert_eq!(set.body["lowered"], json!({"fuel": 2_000_000}));
    let read = send(&router, director, "GET", limits, Value::Null).await;
    assert_eq!(read.body["caps"]["fuel"], 2_000_000);
    // Reps call components; the tenant's settings are not theirs to read.
    let by_rep = send(&router, rep, "GET", limits, Value::Null).await;
    assert_eq!(by_rep.status, StatusCode::FORBIDDEN);
    assert_eq!(
        read.body["platform"]["fuel"],
        mercato_runtime::Limits::PLATFORM_CAPS.fuel
    );

    let after = send(&router, rep, "POST", &format!("{ACME}/book"), work()).await;
    assert_eq!(after.status, StatusCode::BAD_GATEWAY, "{}", after.body);
    assert_eq!(after.body["error"]["details"]["limit"], "fuel");
    // The other tenant keeps the platform's caps.
    let other = send(
        &router,
        app.token("gil"),
        "POST",
        &format!("{GLOBEX}/book"),
        work(),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_and_approvals_are_paged_by_count_and_bytes() {
    let app = hostile_app(
        AdmissionConfig::default(),
        &["store", "events", "approvals"],
        1_000,
    )
    .await;
    let router = app.router();
    let (rep, director) = (app.token("ray"), app.token("dora"));
    // 25 events of 200 kB: 5 MB in all, more than one page's 4 MiB.
    for _ in 0..25 {
        let r = send(
            &router,
            rep,
            "POST",
            &format!("{ACME}/book"),
            book("events:1:200000"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let mut seen = Vec::new();
    let mut uri = "/v1/tenants/acme/events".to_owned();
    let mut pages = 0;
    loop {
        let page = send(&router, director, "GET", &uri, Value::Null).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body["error"]);
        let events = page.body["events"].as_array().unwrap();
        let bytes: usize = events.iter().map(|e| e.to_string().len()).sum();
        assert!(bytes < (4 << 20) + 300_000, "a page of {bytes} bytes");
        seen.extend(events.iter().map(|e| e["id"].as_i64().unwrap()));
        pages += 1;
        match page.body["next_after"].as_i64() {
            Some(after) => uri = format!("/v1/tenants/acme/events?after={after}"),
            None => break,
        }
    }
    assert!(pages >= 2, "{pages} pages");
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), 25, "every event once: {seen:?}");

    let r = send(
        &router,
        rep,
        "POST",
        &format!("{ACME}/book"),
        book("approvals:5:10"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut ids = Vec::new();
    let mut uri = "/v1/tenants/acme/approvals?limit=2".to_owned();
    loop {
        let page = send(&router, director, "GET", &uri, Value::Null).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["approvals"].as_array().unwrap();
        assert!(items.len() <= 2);
        ids.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        match page.body["next"].as_str() {
            Some(next) => uri = format!("/v1/tenants/acme/approvals?limit=2&before={next}"),
            None => break,
        }
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "{ids:?}");
    let bad = send(
        &router,
        director,
        "GET",
        "/v1/tenants/acme/approvals?before=x",
        Value::Null,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_after_a_registry_change_gets_no_500() {
    let app = hostile_app(
        AdmissionConfig {
            tenant_queue: 1_000,
            queue_wait: Duration::from_secs(30),
            ..AdmissionConfig::default()
        },
        &["store"],
        1_000,
    )
    .await;
    let router = app.router();
    // Any change drops every cache on this host.
    let changed = send(
        &router,
        app.token("dora"),
        "PUT",
        "/v1/tenants/acme/limits",
        json!({"fuel": 100_000_000}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    let mut calls = Vec::new();
    for _ in 0..300 {
        let (router, token) = (router.clone(), app.token("ray").to_owned());
        calls.push(tokio::spawn(async move {
            send(
                &router,
                &token,
                "POST",
                &format!("{ACME}/list-sessions"),
                json!({}),
            )
            .await
        }));
    }
    for call in calls {
        let reply = call.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compiling_past_its_bound_is_refused_with_a_typed_code() {
    let app = TestApp::builder()
        .clock(NOW)
        .admission(AdmissionConfig {
            compile_timeout: Duration::from_millis(1),
            ..AdmissionConfig::default()
        })
        .publisher("mercato")
        .developer("dev", "mercato")
        .build()
        .await;
    let mut m = manifest(
        "mercato/hostile",
        "1.0.0",
        Kind::LivestreamBooking,
        &["store"],
    );
    // With a schema given, packaging does not load (and so compile) the code.
    m.settings_schema = Some(json!({"type": "object"}));
    // A custom section of its own makes the code new to every compile
    // cache, so it must really be compiled.
    let mut code = mercato_artifacts::read(mercato_artifacts::HOSTILE);
    let salt = format!("{:?}", std::time::SystemTime::now());
    let name = b"mercato-test-salt";
    let payload_len = 1 + name.len() + salt.len();
    assert!(payload_len < 128, "one-byte LEB128 sizes");
    code.extend([0u8, payload_len as u8, name.len() as u8]);
    code.extend(name);
    code.extend(salt.as_bytes());
    let package = app.package(&m, &code);
    let err = app
        .market
        .publish(app.who("dev"), package)
        .await
        .expect_err("no compile fits in 1 ms");
    assert!(
        matches!(err, MarketError::Load(LoadError::CompileTimeout { .. })),
        "{err}"
    );
    assert!(
        app.market
            .registry()
            .version(app.who("dev"), "mercato/hostile", &"1.0.0".parse().unwrap())
            .await
            .is_err(),
        "nothing was stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_asking_for_less_than_a_call_can_run_with_is_refused() {
    let app = TestApp::builder()
        .clock(NOW)
        .publisher("mercato")
        .developer("dev", "mercato")
        .build()
        .await;
    let mut m = manifest(
        "mercato/hostile",
        "1.0.0",
        Kind::LivestreamBooking,
        &["store"],
    );
    m.settings_schema = Some(json!({"type": "object"}));
    m.limits.fuel = Some(0);
    m.limits.deadline_ms = Some(0);
    let package = app.package(&m, &mercato_artifacts::read(mercato_artifacts::HOSTILE));
    let err = app
        .market
        .publish(app.who("dev"), package)
        .await
        .expect_err("limits of 0 break every call");
    assert!(matches!(err, MarketError::LimitsBelowFloors(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("fuel 0 < 1000000"), "{message}");
    assert!(message.contains("deadline-ms 0 < 10"), "{message}");
}
