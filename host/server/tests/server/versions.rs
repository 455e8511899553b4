//! WIT versions side by side: a component built against 0.1 beside 0.2
//! ones in one tenant, each called through the marketplace; a manifest and
//! a component that disagree on the version, or a version nobody knows, are
//! refused by name.

use mercato_runtime::Kind;
use mercato_server::marketplace::MarketError;
use mercato_testapp::{TestApp, manifest};
use serde_json::json;

use crate::{HOUR, NOW};

fn classic_manifest(wit: &str) -> mercato_registry::Manifest {
    let mut m = manifest(
        "mercato/livestream-classic",
        "1.0.0",
        Kind::LivestreamBooking,
        &["store", "events"],
    );
    m.wit = wit.to_owned();
    m
}

async fn app() -> TestApp {
    TestApp::builder()
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
        )
        .component(
            classic_manifest("mercato:sales@0.1.0"),
            mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING_V0_1),
            &["acme"],
        )
        .build()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_0_1_component_serves_beside_0_2_ones_in_one_tenant() {
    let app = app().await;
    let rep = app.who("ray").clone();
    for install in ["livestream-booking", "livestream-classic"] {
        let session = app
            .market
            .invoke(
                &rep,
                "acme",
                install,
                "schedule",
                json!({"draft": {"title": install, "host": "Mia", "starts-at": NOW + 24 * HOUR,
                                 "duration-minutes": 30, "capacity": 1}}),
            )
            .await
            .unwrap_or_else(|e| panic!("{install}: {e}"))
            .json();
        let booked = app
            .market
            .invoke(
                &rep,
                "acme",
                install,
                "book",
                json!({"session-id": session["ok"]["id"], "customer": "ann"}),
            )
            .await
            .unwrap_or_else(|e| panic!("{install}: {e}"))
            .json();
        assert_eq!(booked["ok"]["status"], "confirmed", "{install}: {booked}");
        // Each install has its own store: one session each.
        let listed = app
            .market
            .invoke(&rep, "acme", install, "list-sessions", json!({}))
            .await
            .unwrap()
            .json();
        assert_eq!(listed["ok"].as_array().map(Vec::len), Some(1), "{listed}");
        assert_eq!(listed["ok"][0]["title"], install);
    }
    // Each install says what it was built against.
    let router = mercato_server::http::app(app.market.clone());
    for (install, wit) in [
        ("livestream-booking", "mercato:sales@0.2.0"),
        ("livestream-classic", "mercato:sales@0.1.0"),
    ] {
        use tower::ServiceExt;
        let request = axum::http::Request::builder()
            .uri(format!("/v1/tenants/acme/components/{install}"))
            .header("authorization", format!("Bearer {}", app.token("ray")))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let described: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(described["wit"], wit, "{described}");
    }
    // Export and erasure are the host's to call, on either version.
    for function in ["export-customer", "forget-customer"] {
        let refused = app
            .market
            .invoke(
                &rep,
                "acme",
                "livestream-booking",
                function,
                json!({"customer-id": "ann"}),
            )
            .await
            .expect_err("host only");
        assert!(matches!(refused, MarketError::HostOnly(_)), "{refused}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_the_manifest_and_component_disagree_on_or_nobody_knows_is_refused_by_name() {
    let app = app().await;
    let dev = app.who("dev").clone();
    // A 0.1 build declared as 0.2.
    let mut lying = classic_manifest("mercato:sales@0.2.0");
    lying.version = semver::Version::new(1, 1, 0);
    let package = app.package(
        &lying,
        &mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING_V0_1),
    );
    let refused = app
        .market
        .publish(&dev, package)
        .await
        .expect_err("mismatch");
    let message = refused.to_string();
    assert!(
        matches!(refused, MarketError::WitMismatch { .. }),
        "{message}"
    );
    assert!(
        message.contains("mercato:sales@0.2.0") && message.contains("mercato:sales@0.1.0"),
        "{message}"
    );
    // A version this host does not know is refused by name where the
    // manifest is first read (`mercato pack`, and the upload).
    let mut future = classic_manifest("mercato:sales@0.9.0");
    future.version = semver::Version::new(1, 2, 0);
    let message = future.validate().expect_err("unknown version").to_string();
    assert!(
        message.contains("mercato:sales@0.9.0") && message.contains("mercato:sales@0.2.0"),
        "{message}"
    );
}
