//! A marketplace seeded the way a real one is: tenant `acme`, publisher
//! `mercato`, an account per role, livestream-booking published, approved
//! and enabled. Also: two hosts sharing one PostgreSQL database.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use mercato_registry::{Database, InstallUpdate, Principal, Registry, RegistryError, SqlState};
use mercato_runtime::{Kind, Runtime};
use mercato_server::marketplace::{MarketError, Marketplace};
use mercato_testapp::{TestApp, manifest};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::NOW;

pub struct Seeded {
    pub app: TestApp,
    /// The directory of a database the test made, kept as long as the app.
    pub dir: Option<tempfile::TempDir>,
    pub market: Arc<Marketplace>,
    pub developer: (Principal, String),
    pub director: (Principal, String),
    pub rep: (Principal, String),
}

/// A SQLite database in a fresh directory, kept as long as the directory.
pub async fn sqlite() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_sqlite(&dir.path().join("m.db"))
        .await
        .unwrap();
    (dir, db)
}

/// A fresh database on the suite's PostgreSQL server.
pub async fn postgres() -> Database {
    let url = mercato_registry::db::test_postgres_url()
        .expect("MERCATO_TEST_POSTGRES is not set: run the suite with scripts/test");
    mercato_registry::db::fresh_postgres(&url).await.unwrap()
}

/// A second host on the same database.
pub fn market(db: Database) -> Arc<Marketplace> {
    let state = SqlState::new(db.clone());
    let runtime = Arc::new(
        Runtime::builder()
            .state(Arc::new(state.clone()))
            .clock(|| NOW)
            .build()
            .unwrap(),
    );
    Arc::new(Marketplace::new(Registry::new(db), runtime).with_state(state))
}

pub async fn seeded(db: Database) -> Seeded {
    seeded_with(db, |b| b).await
}

/// [`seeded`], with more seeded by `more` (other tenants, other roles).
pub async fn seeded_with(
    db: Database,
    more: impl FnOnce(mercato_testapp::Builder) -> mercato_testapp::Builder,
) -> Seeded {
    let builder = TestApp::builder()
        .database(db)
        .clock(NOW)
        .tenant("acme")
        .publisher("mercato")
        .developer("dev", "mercato")
        .reviewer("legal")
        .director("dora", "acme")
        .rep("ray", "acme")
        .component(
            manifest(
                "mercato/livestream-booking",
                "1.0.0",
                Kind::LivestreamBooking,
                &["store", "events"],
            ),
            mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING),
            &["acme"],
        );
    let app = more(builder).build().await;
    let pair = |name: &str| (app.who(name).clone(), app.token(name).to_owned());
    Seeded {
        market: app.market.clone(),
        developer: pair("dev"),
        director: pair("dora"),
        rep: pair("ray"),
        app,
        dir: None,
    }
}

/// Wait until `done` answers true (a change travelling between hosts), up
/// to a bound far above any expected delay.
pub async fn eventually<F: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: never happened"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Enable or disable the seeded livestream-booking install as its director.
async fn set_enabled(a: &Seeded, enabled: bool) {
    a.market
        .update(
            &a.director.0,
            "acme",
            "livestream-booking",
            InstallUpdate {
                enabled: Some(enabled),
                ..InstallUpdate::default()
            },
        )
        .await
        .unwrap();
}

/// A host listening on PostgreSQL hears a change committed through another
/// host's registry (the audit head's trigger notifies).
#[tokio::test(flavor = "multi_thread")]
async fn a_host_hears_changes_made_by_another() {
    let db = postgres().await;
    let a = seeded(db.clone()).await;
    let notices = Registry::new(db).notices().expect("PostgreSQL has notices");
    // The first count is the connection itself.
    eventually("listening", || async { notices.heard() > 0 }).await;
    let heard = notices.heard();
    set_enabled(&a, false).await;
    eventually("the change notice", || async { notices.heard() > heard }).await;
    let (_dir, sqlite) = sqlite().await;
    assert!(
        Registry::new(sqlite).notices().is_none(),
        "one SQLite host has nobody to hear"
    );
}

/// Several hosts share PostgreSQL: a change made through one reaches the
/// others' next calls, without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn hosts_sharing_postgres_see_each_others_changes() {
    let db = postgres().await;
    let a = seeded(db.clone()).await;
    let b = market(db);
    let rep = &a.rep.0;
    let list = |m: Arc<Marketplace>| {
        let rep = rep.clone();
        async move {
            m.invoke(
                &rep,
                "acme",
                "livestream-booking",
                "list-sessions",
                json!({}),
            )
            .await
        }
    };
    list(b.clone()).await.expect("host B serves the install");

    // A write through host A is in host B's very next read (no waiting:
    // B checks the scope's version at the start of every call).
    for n in 0..3 {
        a.market
            .invoke(
                rep,
                "acme",
                "livestream-booking",
                "schedule",
                json!({"draft": {"title": format!("Session {n}"), "host": "Mia",
                    "starts-at": 4_102_444_800_000_u64 + n * 3_600_000,
                    "duration-minutes": 30, "capacity": 10}}),
            )
            .await
            .expect("scheduled on host A");
        let listed = list(b.clone()).await.expect("listed on host B").json();
        assert_eq!(
            listed["ok"].as_array().map(Vec::len),
            Some(n as usize + 1),
            "{listed}"
        );
    }

    // Disabled through host A: host B refuses soon after.
    set_enabled(&a, false).await;
    eventually("host B refuses the disabled install", || async {
        matches!(list(b.clone()).await, Err(MarketError::Disabled { .. }))
    })
    .await;

    // Enabled again, then the signing key revoked through host A: host B
    // stops running code signed with it.
    set_enabled(&a, true).await;
    eventually("host B serves it enabled again", || async {
        list(b.clone()).await.is_ok()
    })
    .await;
    let key_id = mercato_registry::key_id(a.app.key("mercato").verifying_key().as_bytes());
    a.market
        .revoke_key(&a.developer.0, "mercato", &key_id)
        .await
        .unwrap();
    eventually(
        "host B refuses code signed with the revoked key",
        || async { list(b.clone()).await.is_err() },
    )
    .await;
    match list(b.clone()).await {
        Err(MarketError::Registry(e @ RegistryError::Untrusted { .. })) => {
            assert_eq!(e.code(), "revoked-key");
        }
        other => panic!("expected revoked-key, got {other:?}"),
    }
}

async fn call(
    router: &axum::Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Value,
) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Publish a first-party component, approve it and enable it for `acme`.
async fn enable(
    s: &Seeded,
    router: &axum::Router,
    name: &str,
    permissions: &[&str],
    artifact: &str,
    settings: Value,
) {
    let kind: Kind = name.parse().unwrap();
    let manifest = manifest(&format!("mercato/{name}"), "1.0.0", kind, permissions);
    s.app
        .publish_approved(
            "dev",
            "legal",
            &manifest,
            &mercato_artifacts::read(artifact),
        )
        .await;
    let (status, body) = call(
        router,
        &s.director.1,
        "POST",
        "/v1/tenants/acme/installs",
        json!({"package": format!("mercato/{name}"), "settings": settings}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

const SAMPLES: &str = "/v1/tenants/acme/components/sample-requests";

/// sample-requests enabled for `acme`, requests above 10 needing approval,
/// `stock` mugs in stock; the router.
async fn sample_desk(s: &Seeded, stock: u32) -> axum::Router {
    let router = mercato_server::http::app(s.market.clone());
    let settings = json!({"approval-quantity": 10,
        "stock": {"MUG": {"available": stock, "unit-price-minor": 900}}});
    enable(
        s,
        &router,
        "sample-requests",
        &["store", "events", "approvals"],
        mercato_artifacts::SAMPLE_REQUESTS,
        settings,
    )
    .await;
    router
}

/// A request of `quantity` mugs for customer ann.
fn draft(quantity: u32) -> Value {
    json!({"draft": {"customer": "ann", "sku": "MUG", "quantity": quantity,
    "purpose": "Trade fair", "address": {"recipient": "Ann", "line1": "Main St 1", "line2": null,
    "city": "Lyon", "postal-code": "69001", "country": "FR"}}})
}

/// trial-feedback as wasm behind the API: field-named refusals, the summary.
#[tokio::test(flavor = "multi_thread")]
async fn trial_feedback_summarises_over_http() {
    let (_dir, db) = sqlite().await;
    let s = seeded(db).await;
    let router = mercato_server::http::app(s.market.clone());
    enable(
        &s,
        &router,
        "trial-feedback",
        &["store", "events"],
        mercato_artifacts::TRIAL_FEEDBACK,
        json!({"nps-floor": 7}),
    )
    .await;
    let base = "/v1/tenants/acme/components/trial-feedback";
    let ray = s.rep.1.as_str();
    for (customer, nps) in [("ann", 10), ("bob", 9), ("cy", 6)] {
        let (status, body) = call(
            &router,
            ray,
            "POST",
            &format!("{base}/submit"),
            json!({"draft": {
            "customer": customer, "product": "crm", "nps": nps,
            "ratings": [{"feature": "setup", "score": 4}], "comment": null}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/submit"),
        json!({"draft": {
        "customer": "dan", "product": "crm", "nps": 11, "ratings": [], "comment": null}}),
    )
    .await;
    assert_eq!(
        (
            status,
            body["error"]["details"]["fields"][0]["field"].as_str()
        ),
        (422, Some("nps")),
        "{body}"
    );
    let (status, summary) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/summary"),
        json!({"product": "crm"}),
    )
    .await;
    assert_eq!(status, 200, "{summary}");
    // (2 promoters − 1 detractor) / 3 × 100
    assert!(
        (summary["nps"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-9,
        "{summary}"
    );
    assert_eq!(
        summary["features"][0],
        json!({"feature": "setup", "average": 4.0, "responses": 3})
    );
    let (_, risky) = call(&router, ray, "POST", &format!("{base}/at-risk"), json!({})).await;
    assert_eq!(
        risky[0]["customer"], "cy",
        "6 is below the tenant's floor of 7: {risky}"
    );
    assert_eq!(risky[0]["rule"], "low-score");
}

/// sample-requests as wasm behind the API: a large request waits in the
/// director's inbox; the decision reaches the component through
/// `approval-decided`; then shipping and delivery.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_sample_request_waits_for_the_directors_decision() {
    let (_dir, db) = sqlite().await;
    let s = seeded(db).await;
    let router = sample_desk(&s, 40).await;
    let (dora, ray) = (s.director.1.as_str(), s.rep.1.as_str());
    let base = SAMPLES;
    let (status, big) = call(&router, ray, "POST", &format!("{base}/request"), draft(20)).await;
    assert_eq!(
        (status, big["state"].as_str()),
        (200, Some("awaiting-approval")),
        "{big}"
    );
    let id = big["id"].as_str().unwrap();
    let (status, err) = call(&router, ray, "POST", &format!("{base}/request"), draft(30)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("refused")),
        "beyond stock: {err}"
    );
    let (status, err) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/ship"),
        json!({"id": id, "carrier": "DHL", "tracking-number": "1"}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{err}"
    );
    // The host-only callback is not callable over the API.
    let (status, _) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/approval-decided"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403);

    let (status, inbox) = call(
        &router,
        dora,
        "GET",
        "/v1/tenants/acme/approvals?status=pending",
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{inbox}");
    let approval = &inbox["approvals"][0];
    assert_eq!(approval["subject"], id);
    assert_eq!(approval["component"], "sample-requests");
    let approval_id = approval["id"].as_str().unwrap();
    let decide = format!("/v1/tenants/acme/approvals/{approval_id}/decide");
    let (status, _) = call(
        &router,
        ray,
        "POST",
        &decide,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 403, "a rep cannot decide");
    let (status, decided) = call(
        &router,
        dora,
        "POST",
        &decide,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["approval"]["status"], "approved");
    assert_eq!(
        decided["component"],
        json!({"ok": null}),
        "the component took the decision"
    );
    let (_, now) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/get"),
        json!({"id": id}),
    )
    .await;
    assert_eq!(now["state"], "approved");

    let (status, shipped) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/ship"),
        json!({"id": id, "carrier": "DHL", "tracking-number": "JD014600"}),
    )
    .await;
    assert_eq!(
        (status, shipped["state"].as_str()),
        (200, Some("shipped")),
        "{shipped}"
    );
    let (_, delivered) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/mark-delivered"),
        json!({"id": id}),
    )
    .await;
    assert_eq!(delivered["state"], "delivered");

    // A rejection carries the director's reason to the component.
    let (_, second) = call(&router, ray, "POST", &format!("{base}/request"), draft(15)).await;
    let (_, inbox) = call(
        &router,
        dora,
        "GET",
        "/v1/tenants/acme/approvals?status=pending",
        json!(null),
    )
    .await;
    let approval_id = inbox["approvals"][0]["id"].as_str().unwrap().to_owned();
    let decide = format!("/v1/tenants/acme/approvals/{approval_id}/decide");
    let (status, body) = call(
        &router,
        dora,
        "POST",
        &decide,
        json!({"decision": "reject"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid-input")),
        "{body}"
    );
    let (status, _) = call(
        &router,
        dora,
        "POST",
        &decide,
        json!({"decision": "reject", "reason": "Too many mugs"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, rejected) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/get"),
        json!({"id": second["id"]}),
    )
    .await;
    assert_eq!(
        (rejected["state"].as_str(), rejected["reason"].as_str()),
        (Some("rejected"), Some("Too many mugs"))
    );
    let (_, stock) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/stock"),
        json!({"sku": "MUG"}),
    )
    .await;
    assert_eq!(
        stock["available"], 20,
        "40 - 20 shipped; the rejected 15 released"
    );
}

/// experiments as wasm behind the API: refusals name the field, assignment is
/// sticky across calls, results and sample size come back as numbers.
#[tokio::test(flavor = "multi_thread")]
async fn experiments_assign_and_report_over_http() {
    let (_dir, db) = sqlite().await;
    let s = seeded(db).await;
    let router = mercato_server::http::app(s.market.clone());
    enable(
        &s,
        &router,
        "experiments",
        &["store", "events"],
        mercato_artifacts::EXPERIMENTS,
        json!({}),
    )
    .await;
    let base = "/v1/tenants/acme/components/experiments";
    let ray = s.rep.1.as_str();
    let draft = |weight_b: u32| {
        json!({"draft": {"key": "script", "description": "Call script",
        "unit-type": "customer", "variants": [{"key": "control", "weight": 1}, {"key": "new", "weight": weight_b}],
        "seed": "s1", "primary-metric": {"name": "booked", "kind": "conversion"}, "coverage-bp": 10000}})
    };
    let (status, body) = call(&router, ray, "POST", &format!("{base}/define"), draft(0)).await;
    assert_eq!(
        (
            status,
            body["error"]["details"]["fields"][0]["field"].as_str()
        ),
        (422, Some("variants[1].weight")),
        "{body}"
    );
    let (status, body) = call(&router, ray, "POST", &format!("{base}/define"), draft(1)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/start"),
        json!({"key": "script"}),
    )
    .await;
    assert_eq!(status, 200);
    for u in 0..60 {
        let unit = format!("c{u}");
        let (status, a) = call(
            &router,
            ray,
            "POST",
            &format!("{base}/record-exposure"),
            json!({"key": "script", "unit-id": unit}),
        )
        .await;
        assert_eq!(status, 200, "{a}");
        let (_, again) = call(
            &router,
            ray,
            "POST",
            &format!("{base}/assign"),
            json!({"key": "script", "unit-id": unit}),
        )
        .await;
        assert_eq!(again["variant"], a["variant"], "sticky");
        if u % 3 == 0 {
            let (status, c) = call(
                &router,
                ray,
                "POST",
                &format!("{base}/record-conversion"),
                json!({"key": "script", "unit-id": unit, "value": 25.5}),
            )
            .await;
            assert_eq!(status, 200, "{c}");
        }
    }
    let (status, r) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/results"),
        json!({"key": "script"}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let arms = &r["primary"]["arms"];
    let units = arms[0]["units"].as_u64().unwrap() + arms[1]["units"].as_u64().unwrap();
    assert_eq!(units, 60);
    assert_eq!(arms[0]["rate-vs-control"], Value::Null);
    // Every figure carries its interval, method and sample over JSON too.
    let lift = &arms[1]["rate-vs-control"]["absolute"];
    assert_eq!(lift["method"], "unpooled-z-wald", "{r}");
    assert_eq!(lift["units"], 60, "{r}");
    assert!(lift["interval"]["low"].as_f64().is_some(), "{r}");
    assert!(
        arms[1]["rate-vs-control"]["p-value"].as_f64().is_some(),
        "{r}"
    );
    assert_eq!(r["analysis"], "fixed-horizon", "{r}");
    assert!(r["daily"].as_array().is_some_and(|d| !d.is_empty()), "{r}");
    assert!(r["srm-p-value"].as_f64().unwrap() > 0.0);
    let (status, n) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/sample-size"),
        json!({"baseline-rate": 0.1, "minimum-detectable-effect": 0.02}),
    )
    .await;
    assert_eq!((status, n), (200, json!(3839)));
}

/// A decision reaches the component exactly once: one made while the install
/// is disabled waits (visibly) and is delivered when it is enabled again,
/// never twice; one the component refuses (the request was cancelled
/// meanwhile) shows the component's reason, not a bare "approved"; two hosts
/// never hold the same delivery at once.
async fn decisions_are_delivered_exactly_once_on(db: Database) {
    let s = seeded(db).await;
    let router = sample_desk(&s, 100).await;
    let (dora, ray) = (s.director.1.as_str(), s.rep.1.as_str());
    let base = SAMPLES;
    let install = "/v1/tenants/acme/installs/sample-requests";
    let request = |quantity: u32| {
        let router = router.clone();
        async move {
            let (status, r) = call(
                &router,
                ray,
                "POST",
                &format!("{base}/request"),
                draft(quantity),
            )
            .await;
            assert_eq!(
                (status, r["state"].as_str()),
                (200, Some("awaiting-approval")),
                "{r}"
            );
            r["id"].as_str().unwrap().to_owned()
        }
    };
    let approval_of = |subject: String| {
        let router = router.clone();
        async move {
            let (_, inbox) = call(
                &router,
                dora,
                "GET",
                "/v1/tenants/acme/approvals",
                json!(null),
            )
            .await;
            inbox["approvals"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["subject"] == subject.as_str())
                .cloned()
                .unwrap()
        }
    };
    let switch = |enabled: bool| {
        let router = router.clone();
        async move {
            let (status, body) = call(
                &router,
                dora,
                "PATCH",
                install,
                json!({ "enabled": enabled }),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    };

    // Decided while disabled: recorded, waiting, visible as waiting.
    let first = request(20).await;
    let pending = approval_of(first.clone()).await;
    assert_eq!(pending["delivery"]["state"], "undecided");
    switch(false).await;
    let decide = format!(
        "/v1/tenants/acme/approvals/{}/decide",
        pending["id"].as_str().unwrap()
    );
    let (status, decided) = call(
        &router,
        dora,
        "POST",
        &decide,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["approval"]["status"], "approved");
    assert_eq!(
        decided["approval"]["delivery"]["state"], "waiting",
        "{decided}"
    );
    assert_eq!(decided["component"], Value::Null);
    assert_eq!(
        approval_of(first.clone()).await["delivery"]["state"],
        "waiting"
    );

    // Two hosts racing for the waiting delivery: one gets it.
    let registry = s.market.registry().clone();
    let id = pending["id"].as_str().unwrap().to_owned();
    let (a, b) = tokio::join!(
        registry.claim_delivery("acme", &id),
        registry.claim_delivery("acme", &id)
    );
    assert_eq!(
        [a.as_ref().unwrap().is_some(), b.as_ref().unwrap().is_some()]
            .iter()
            .filter(|x| **x)
            .count(),
        1,
        "exactly one claim"
    );
    // The winner could not deliver (the install is off): it waits again,
    // and the try does not count.
    let back = registry
        .finish_delivery(
            "acme",
            &id,
            mercato_registry::delivery::Handover::Unavailable("disabled".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        (back.delivery.state, back.delivery.attempts),
        (mercato_registry::delivery::DeliveryState::Waiting, 0)
    );

    // Enabled again: delivered once, and the component acted on it.
    switch(true).await;
    let delivered = approval_of(first.clone()).await;
    assert_eq!(delivered["delivery"]["state"], "accepted", "{delivered}");
    assert_eq!(delivered["delivery"]["attempts"], 1);
    assert_eq!(delivered["delivery"]["reply"], json!({"ok": null}));
    let (_, now) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/get"),
        json!({"id": first}),
    )
    .await;
    assert_eq!(now["state"], "approved");
    // Enabling again, or the host sweeping again, delivers nothing twice.
    switch(false).await;
    switch(true).await;
    assert_eq!(
        s.market
            .deliver_waiting("acme", "sample-requests")
            .await
            .unwrap(),
        0
    );
    let again = approval_of(first.clone()).await;
    assert_eq!(again["delivery"]["attempts"], 1, "{again}");
    let (status, body) = call(
        &router,
        dora,
        "POST",
        &decide,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already-decided"))
    );

    // A decision the component keeps failing on is tried a bounded number
    // of times, then shown as failed with the last error.
    let third = request(12).await;
    let approval = approval_of(third.clone()).await;
    let id = approval["id"].as_str().unwrap().to_owned();
    switch(false).await;
    let (status, _) = call(
        &router,
        dora,
        "POST",
        &format!("/v1/tenants/acme/approvals/{id}/decide"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 200);
    use mercato_registry::delivery::{DeliveryState, Handover, MAX_ATTEMPTS};
    for attempt in 1..=MAX_ATTEMPTS {
        assert!(
            registry
                .claim_delivery("acme", &id)
                .await
                .unwrap()
                .is_some()
        );
        let after = registry
            .finish_delivery("acme", &id, Handover::Failed("trapped".into()))
            .await
            .unwrap();
        assert_eq!(after.delivery.attempts, attempt);
        let expected = if attempt == MAX_ATTEMPTS {
            DeliveryState::Failed
        } else {
            DeliveryState::Waiting
        };
        assert_eq!(after.delivery.state, expected);
    }
    assert!(
        registry
            .claim_delivery("acme", &id)
            .await
            .unwrap()
            .is_none()
    );
    switch(true).await;
    let failed = approval_of(third).await;
    assert_eq!(
        (
            failed["delivery"]["state"].as_str(),
            failed["delivery"]["reply"].as_str()
        ),
        (Some("failed"), Some("trapped"))
    );

    // Cancelled while awaiting approval: the component withdraws its
    // request, the inbox shows it withdrawn, and nobody can decide it.
    let second = request(15).await;
    let (status, cancelled) = call(
        &router,
        ray,
        "POST",
        &format!("{base}/cancel"),
        json!({"id": second, "reason": "customer changed their mind"}),
    )
    .await;
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    let approval = approval_of(second.clone()).await;
    assert_eq!(approval["status"], "withdrawn", "{approval}");
    assert_eq!(approval["delivery"]["state"], "undecided", "{approval}");
    let decide = format!(
        "/v1/tenants/acme/approvals/{}/decide",
        approval["id"].as_str().unwrap()
    );
    let (status, decided) = call(
        &router,
        dora,
        "POST",
        &decide,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(
        (status, decided["error"]["code"].as_str()),
        (409, Some("withdrawn")),
        "{decided}"
    );
    let (_, withdrawn) = call(
        &router,
        dora,
        "GET",
        "/v1/tenants/acme/approvals?status=withdrawn",
        json!(null),
    )
    .await;
    assert_eq!(
        withdrawn["approvals"].as_array().map(Vec::len),
        Some(1),
        "{withdrawn}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn decisions_are_delivered_exactly_once_on_sqlite() {
    let (_dir, db) = sqlite().await;
    decisions_are_delivered_exactly_once_on(db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn decisions_are_delivered_exactly_once_on_postgres() {
    let db = postgres().await;
    decisions_are_delivered_exactly_once_on(db).await;
}

/// A tenant with the four 0.2 components and a 0.1 build of
/// livestream-booking: a customer with a booking in each livestream, a
/// sample request, feedback and an experiment exposure is exported whole
/// (JSON and NDJSON) and erased: every record of the 0.2 components gone,
/// the experiment's counts intact, the 0.1 build reported unable, the whole
/// report in the audit log.
async fn customers_are_exported_and_erased_across_components_on(db: Database) {
    let s = seeded(db).await;
    let router = sample_desk(&s, 50).await;
    enable(
        &s,
        &router,
        "trial-feedback",
        &["store", "events"],
        mercato_artifacts::TRIAL_FEEDBACK,
        json!({}),
    )
    .await;
    enable(
        &s,
        &router,
        "experiments",
        &["store", "events"],
        mercato_artifacts::EXPERIMENTS,
        json!({}),
    )
    .await;
    let mut classic = manifest(
        "mercato/livestream-classic",
        "1.0.0",
        Kind::LivestreamBooking,
        &["store", "events"],
    );
    classic.wit = "mercato:sales@0.1.0".into();
    s.app
        .publish_approved(
            "dev",
            "legal",
            &classic,
            &mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING_V0_1),
        )
        .await;
    let dora = s.director.1.as_str();
    let ray = s.rep.1.as_str();
    let (status, body) = call(
        &router,
        dora,
        "POST",
        "/v1/tenants/acme/installs",
        json!({"package": "mercato/livestream-classic"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        &router,
        dora,
        "POST",
        "/v1/tenants/acme/customers",
        json!([{"id": "ann", "name": "Ann Lee", "email": "ann@example.com", "phone": null,
                "company": null, "address": null, "tags": []}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let c =
        |install: &str, function: &str| format!("/v1/tenants/acme/components/{install}/{function}");
    let ok = |(status, body): (u16, Value)| {
        assert_eq!(status, 200, "{body}");
        body
    };
    for install in ["livestream-booking", "livestream-classic"] {
        let session = ok(call(
            &router,
            ray,
            "POST",
            &c(install, "schedule"),
            json!({"draft": {"title": "Launch", "host": "Mia", "starts-at": NOW + 24 * crate::HOUR,
                             "duration-minutes": 30, "capacity": 5}}),
        )
        .await);
        ok(call(
            &router,
            ray,
            "POST",
            &c(install, "book"),
            json!({"session-id": session["id"], "customer": "ann"}),
        )
        .await);
    }
    let request = ok(call(
        &router,
        ray,
        "POST",
        &format!("{SAMPLES}/request"),
        draft(3),
    )
    .await);
    // Above the approval quantity: a request waits in the inbox, about ann.
    let waiting = ok(call(
        &router,
        ray,
        "POST",
        &format!("{SAMPLES}/request"),
        draft(12),
    )
    .await);
    assert_eq!(waiting["state"], "awaiting-approval");
    ok(call(&router, ray, "POST", &c("trial-feedback", "submit"),
        json!({"draft": {"customer": "ann", "product": "crm", "nps": 9, "ratings": [], "comment": "great"}})).await);
    running_experiment(&router, ray, "script").await;
    ok(call(
        &router,
        ray,
        "POST",
        &c("experiments", "record-exposure"),
        json!({"key": "script", "unit-id": "ann"}),
    )
    .await);
    ok(call(
        &router,
        ray,
        "POST",
        &c("experiments", "record-conversion"),
        json!({"key": "script", "unit-id": "ann", "value": 1.0}),
    )
    .await);
    let results = |body: Value| -> Vec<(u64, u64)> {
        body["primary"]["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["units"].as_u64().unwrap(),
                    a["conversions"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let before = results(ok(call(
        &router,
        ray,
        "POST",
        &c("experiments", "results"),
        json!({"key": "script"}),
    )
    .await));

    // A rep may neither export nor erase.
    let export = "/v1/tenants/acme/customers/ann/export";
    assert_eq!(call(&router, ray, "GET", export, json!(null)).await.0, 403);
    // The export: profile, events, and each component's records.
    let exported = ok(call(&router, dora, "GET", export, json!(null)).await);
    assert_eq!(exported["profile"]["email"], "ann@example.com");
    assert!(
        exported["events"].as_array().unwrap().len() >= 4,
        "{exported}"
    );
    let part = |doc: &Value, install: &str| -> Value {
        doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["component"] == install)
            .cloned()
            .unwrap_or_else(|| panic!("{install} missing: {doc}"))
    };
    let kinds = |p: &Value| -> Vec<String> {
        p["records"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|r| r["kind"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(kinds(&part(&exported, "livestream-booking")), ["booking"]);
    assert_eq!(
        kinds(&part(&exported, "sample-requests")),
        ["sample-request", "sample-request"]
    );
    let approvals = exported["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{exported}");
    assert_eq!(
        (
            approvals[0]["customer"].as_str(),
            approvals[0]["subject"].as_str()
        ),
        (Some("ann"), waiting["id"].as_str())
    );
    assert_eq!(
        part(&exported, "sample-requests")["records"][0]["payload"]["address"]["city"],
        "Lyon"
    );
    assert_eq!(
        part(&exported, "sample-requests")["records"][0]["id"],
        request["id"]
    );
    assert_eq!(kinds(&part(&exported, "trial-feedback")), ["feedback"]);
    assert_eq!(kinds(&part(&exported, "experiments")), ["exposure"]);
    let classic_part = part(&exported, "livestream-classic");
    assert_eq!(
        (
            classic_part["outcome"].as_str(),
            classic_part["wit"].as_str()
        ),
        (Some("unable"), Some("mercato:sales@0.1.0"))
    );
    // The same as NDJSON: a profile line, event lines, record lines, component lines.
    let response = router
        .clone()
        .oneshot(
            Request::builder()
                .uri(format!("{export}?format=ndjson"))
                .header("authorization", format!("Bearer {dora}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/x-ndjson; charset=utf-8"
    );
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |t: &str| lines.iter().filter(|l| l["type"] == t).count();
    assert_eq!(
        (
            count("profile"),
            count("approval"),
            count("record"),
            count("component")
        ),
        (1, 1, 5, 5),
        "{text}"
    );
    assert_eq!(count("event"), exported["events"].as_array().unwrap().len());

    // The erasure.
    let (status, erased) = call(
        &router,
        dora,
        "DELETE",
        "/v1/tenants/acme/customers/ann",
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["profile"], true);
    assert!(erased["events_removed"].as_u64().unwrap() >= 4, "{erased}");
    let removed = |install: &str| part(&erased, install)["removed"].clone();
    assert_eq!(
        removed("livestream-booking"),
        json!([{"kind": "booking", "count": 1}])
    );
    assert_eq!(
        removed("sample-requests"),
        json!([{"kind": "sample-request", "count": 2}])
    );
    assert_eq!(erased["approvals_removed"], 1, "{erased}");
    let (_, inbox) = call(
        &router,
        dora,
        "GET",
        "/v1/tenants/acme/approvals",
        json!(null),
    )
    .await;
    assert_eq!(
        inbox["approvals"],
        json!([]),
        "nothing about ann is left in the inbox"
    );
    assert_eq!(
        removed("trial-feedback"),
        json!([{"kind": "feedback", "count": 1}])
    );
    assert_eq!(
        removed("experiments"),
        json!([{"kind": "exposure", "count": 1}])
    );
    assert_eq!(part(&erased, "livestream-classic")["outcome"], "unable");
    assert!(
        part(&erased, "livestream-classic")["reason"]
            .as_str()
            .unwrap()
            .contains("0.1.0")
    );
    // Every record gone from the 0.2 components; the counts stay.
    let sessions = ok(call(
        &router,
        ray,
        "POST",
        &c("livestream-booking", "list-sessions"),
        json!({}),
    )
    .await);
    assert_eq!(sessions[0]["booked"], 0, "{sessions}");
    let requests = ok(call(
        &router,
        ray,
        "POST",
        &format!("{SAMPLES}/list-requests"),
        json!({"filter": {"state": null, "customer": null}}),
    )
    .await);
    assert_eq!(requests, json!([]));
    let feedback = ok(call(
        &router,
        ray,
        "POST",
        &c("trial-feedback", "list-feedback"),
        json!({"filter": {"product": null, "customer": null}}),
    )
    .await);
    assert_eq!(feedback, json!([]));
    let after = results(ok(call(
        &router,
        ray,
        "POST",
        &c("experiments", "results"),
        json!({"key": "script"}),
    )
    .await));
    assert_eq!(after, before, "the experiment's aggregates are intact");
    // Nothing the host or a 0.2 component knows of is left to export.
    assert_eq!(call(&router, dora, "GET", export, json!(null)).await.0, 404);
    // One audit entry, with the report.
    let entries =
        mercato_registry::audit::list(s.market.registry().database(), Some("acme"), 0, 1000)
            .await
            .unwrap();
    let erase = entries
        .iter()
        .find(|e| e.action == "customer.erase")
        .expect("audited");
    let audited = &erase.after;
    assert!(
        audited.contains("sample-request") && audited.contains("unable"),
        "{audited}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_are_exported_and_erased_across_components_on_sqlite() {
    let (_dir, db) = sqlite().await;
    customers_are_exported_and_erased_across_components_on(db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_are_exported_and_erased_across_components_on_postgres() {
    customers_are_exported_and_erased_across_components_on(postgres().await).await;
}

/// The experiment `key` defined and started through the API.
async fn running_experiment(router: &axum::Router, rep: &str, key: &str) {
    let base = "/v1/tenants/acme/components/experiments";
    let (status, body) = call(router, rep, "POST", &format!("{base}/define"),
        json!({"draft": {"key": key, "description": "Call script", "unit-type": "customer",
               "variants": [{"key": "control", "weight": 1}, {"key": "new", "weight": 1}],
               "seed": "s1", "primary-metric": {"name": "booked", "kind": "conversion"}, "coverage-bp": 10000}})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        router,
        rep,
        "POST",
        &format!("{base}/start"),
        json!({"key": key}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Guarded functions: a director marks `declare-winner` as always needing a
/// person and sample requests above 5 units; guarded calls wait in the
/// inbox (arguments shown, contact details masked), run on approval with
/// the result recorded, never on rejection; every step audited.
async fn guarded_functions_wait_for_a_person_on(db: Database) {
    let s = seeded(db).await;
    let router = sample_desk(&s, 50).await;
    enable(
        &s,
        &router,
        "experiments",
        &["store", "events"],
        mercato_artifacts::EXPERIMENTS,
        json!({}),
    )
    .await;
    let dora = s.director.1.as_str();
    let ray = s.rep.1.as_str();
    let install = |id: &str| format!("/v1/tenants/acme/installs/{id}");
    let winner = "/v1/tenants/acme/components/experiments/declare-winner";
    let get = "/v1/tenants/acme/components/experiments/get";

    // Guards the component cannot honour are refused by name.
    for (guards, named) in [
        (
            json!([{"function": "no-such"}]),
            "`no-such` is not a function callers may call",
        ),
        (
            json!([{"function": "forget-customer"}]),
            "`forget-customer` is not a function",
        ),
        (
            json!([{"function": "declare-winner", "when": {"field": "quantity", "op": ">", "value": 5}}]),
            "`declare-winner` has no parameter `quantity` (it has: key, variant)",
        ),
        (
            json!([{"function": "declare-winner", "when": {"field": "key", "op": "~", "value": 5}}]),
            "guards[0].when",
        ),
    ] {
        let (status, body) = call(
            &router,
            dora,
            "PATCH",
            &install("experiments"),
            json!({"guards": guards}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(named),
            "{body}"
        );
    }
    // A rep cannot set guards.
    let (status, _) = call(
        &router,
        ray,
        "PATCH",
        &install("experiments"),
        json!({"guards": []}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = call(
        &router,
        dora,
        "PATCH",
        &install("experiments"),
        json!({"guards": [{"function": "declare-winner"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["guards"], json!([{"function": "declare-winner"}]));

    // Held, then approved: it runs as the director's decision.
    running_experiment(&router, ray, "script").await;
    let (status, held) = call(
        &router,
        ray,
        "POST",
        winner,
        json!({"key": "script", "variant": "new"}),
    )
    .await;
    assert_eq!(
        (status, held["held"].as_bool()),
        (202, Some(true)),
        "{held}"
    );
    let approval = held["approval"].clone();
    assert_eq!(approval["status"], "pending");
    assert_eq!(approval["call"]["function"], "declare-winner");
    assert!(
        approval["details"]
            .as_array()
            .unwrap()
            .contains(&json!(["variant", "new"])),
        "{approval}"
    );
    let (_, still) = call(&router, ray, "POST", get, json!({"key": "script"})).await;
    assert_eq!(
        (still["status"].as_str(), still["winner"].as_str()),
        (Some("running"), None),
        "not run: {still}"
    );
    let decide = |id: &Value| format!("/v1/tenants/acme/approvals/{}/decide", id.as_str().unwrap());
    let (status, decided) = call(
        &router,
        dora,
        "POST",
        &decide(&approval["id"]),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    let delivery = &decided["approval"]["delivery"];
    assert_eq!(delivery["state"], "accepted", "{decided}");
    assert_eq!(
        delivery["reply"]["ok"]["winner"], "new",
        "the result is recorded: {decided}"
    );
    let (_, ran) = call(&router, ray, "POST", get, json!({"key": "script"})).await;
    assert_eq!(ran["winner"], "new");

    // Held, then rejected: it never runs, the reason is kept.
    running_experiment(&router, ray, "other").await;
    let (status, held) = call(
        &router,
        ray,
        "POST",
        winner,
        json!({"key": "other", "variant": "control"}),
    )
    .await;
    assert_eq!(status, 202, "{held}");
    let (status, decided) = call(
        &router,
        dora,
        "POST",
        &decide(&held["approval"]["id"]),
        json!({"decision": "reject", "reason": "too early to call"}),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(
        (
            decided["approval"]["status"].as_str(),
            decided["approval"]["reason"].as_str()
        ),
        (Some("rejected"), Some("too early to call"))
    );
    assert!(
        decided["approval"]["delivery"]["reply"].is_null(),
        "{decided}"
    );
    let (_, untouched) = call(&router, ray, "POST", get, json!({"key": "other"})).await;
    assert_eq!(
        (untouched["status"].as_str(), untouched["winner"].as_str()),
        (Some("running"), None)
    );

    // A condition: a small request goes through, a large one waits.
    let (status, body) = call(&router, dora, "PATCH", &install("sample-requests"),
        json!({"guards": [{"function": "request", "when": {"field": "draft.quantity", "op": ">", "value": 5}}]})).await;
    assert_eq!(status, 200, "{body}");
    let (status, small) = call(
        &router,
        ray,
        "POST",
        &format!("{SAMPLES}/request"),
        draft(3),
    )
    .await;
    assert_eq!(
        (status, small["state"].as_str()),
        (200, Some("approved")),
        "{small}"
    );
    let (status, large) = call(
        &router,
        ray,
        "POST",
        &format!("{SAMPLES}/request"),
        draft(8),
    )
    .await;
    assert_eq!(status, 202, "{large}");
    let details = large["approval"]["details"].as_array().unwrap().clone();
    let shown = |k: &str| {
        details
            .iter()
            .find(|d| d[0] == k)
            .map(|d| d[1].as_str().unwrap().to_owned())
    };
    assert_eq!(shown("draft.quantity").as_deref(), Some("8"));
    assert!(
        shown("draft.address.line1").is_some_and(|l| !l.contains("Main St")),
        "{details:?}"
    );
    let (_, listed) = call(
        &router,
        ray,
        "POST",
        &format!("{SAMPLES}/list-requests"),
        json!({"filter": {"state": null, "customer": null}}),
    )
    .await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "only the small one ran: {listed}"
    );
    let (status, decided) = call(
        &router,
        dora,
        "POST",
        &decide(&large["approval"]["id"]),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(
        decided["approval"]["delivery"]["reply"]["ok"]["quantity"], 8,
        "{decided}"
    );

    // Every step is in the audit log.
    let entries =
        mercato_registry::audit::list(s.market.registry().database(), Some("acme"), 0, 1000)
            .await
            .unwrap();
    let count = |action: &str| entries.iter().filter(|e| e.action == action).count();
    assert_eq!(
        (
            count("install.guards"),
            count("approval.hold"),
            count("approval.approve"),
            count("approval.reject"),
            count("approval.run")
        ),
        (2, 3, 2, 1, 2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn guarded_functions_wait_for_a_person_on_sqlite() {
    let (_dir, db) = sqlite().await;
    guarded_functions_wait_for_a_person_on(db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn guarded_functions_wait_for_a_person_on_postgres() {
    guarded_functions_wait_for_a_person_on(postgres().await).await;
}

/// A guard set through host A holds the calls host B serves (both on one
/// PostgreSQL database), and a call held on B runs when approved on A.
#[tokio::test(flavor = "multi_thread")]
async fn a_guard_set_on_one_host_holds_calls_on_another() {
    let db = postgres().await;
    let a = seeded(db.clone()).await;
    let b = market(db);
    let rep = a.rep.0.clone();
    let schedule = |m: Arc<Marketplace>| {
        let rep = rep.clone();
        async move {
            m.invoke(&rep, "acme", "livestream-booking", "schedule",
                json!({"draft": {"title": "Launch", "host": "Mia", "starts-at": 4_102_444_800_000_u64,
                                 "duration-minutes": 30, "capacity": 500}}))
                .await
        }
    };
    schedule(b.clone()).await.expect("runs before any guard");
    a.market
        .update(
            &a.director.0,
            "acme",
            "livestream-booking",
            InstallUpdate {
                guards: Some(
                    serde_json::from_value(json!([{"function": "schedule",
                "when": {"field": "draft.capacity", "op": ">=", "value": 100}}]))
                    .unwrap(),
                ),
                ..InstallUpdate::default()
            },
        )
        .await
        .unwrap();
    eventually("host B holds the guarded call", || {
        let b = b.clone();
        let schedule = &schedule;
        async move { matches!(schedule(b).await, Err(MarketError::Held(_))) }
    })
    .await;
    let Err(MarketError::Held(held)) = schedule(b.clone()).await else {
        panic!("held on host B");
    };
    let decided = a
        .market
        .decide(
            &a.director.0,
            "acme",
            &held.id,
            serde_json::from_value(json!({"decision": "approve"})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        decided.delivery.reply.as_ref().unwrap()["ok"]["capacity"],
        500,
        "{decided:?}"
    );
}
