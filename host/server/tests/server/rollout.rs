//! Every version an install moves to validates the install's settings with
//! its own component first — the roll-out that follows an approval
//! included — and an install enabled without settings starts from the
//! component's own defaults.

use mercato_registry::{NewInstall, UpgradeRequest};
use mercato_runtime::Kind;
use mercato_server::MarketError;
use mercato_testapp::{TestApp, manifest};
use serde_json::json;

use crate::NOW;

const BOOKING: &str = "acme/booking";

async fn app() -> TestApp {
    TestApp::builder()
        .clock(NOW)
        .tenant("north")
        .publisher("acme")
        .developer("dev", "acme")
        .reviewer("legal")
        .director("dora", "north")
        .build()
        .await
}

fn booking(version: &str) -> mercato_registry::Manifest {
    manifest(
        BOOKING,
        version,
        Kind::LivestreamBooking,
        &["store", "events"],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_moves_only_the_installs_whose_settings_the_new_version_accepts() {
    let app = app().await;
    let livestream = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    app.publish_approved("dev", "legal", &booking("1.0.0"), &livestream)
        .await;
    let dora = app.who("dora");
    // Enabled without settings: the component's own defaults are stored.
    let defaults = app
        .market
        .install(
            dora,
            "north",
            NewInstall {
                package: BOOKING.into(),
                id: Some("plain".into()),
                ..NewInstall::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        defaults.settings["max-capacity"], 10_000,
        "{}",
        defaults.settings
    );
    assert_eq!(defaults.settings["waitlist"], true, "{}", defaults.settings);
    app.market
        .install(
            dora,
            "north",
            NewInstall {
                package: BOOKING.into(),
                id: Some("empty".into()),
                settings: Some(json!({})),
                ..NewInstall::default()
            },
        )
        .await
        .unwrap();

    // 1.1.0 is a component that accepts no settings but `{}` (the hostile
    // fixture has none): the install holding `{}` moves, the two holding
    // livestream settings stay on 1.0.0 with 1.1.0 pending and the reason.
    let hostile = mercato_artifacts::read(mercato_artifacts::HOSTILE);
    let published = app
        .market
        .publish(app.who("dev"), app.package(&booking("1.1.0"), &hostile))
        .await
        .unwrap();
    let (_, rollout) = app
        .market
        .review(
            app.who("legal"),
            BOOKING,
            &published.version,
            mercato_registry::Decision::Approve,
            None,
        )
        .await
        .unwrap();
    assert_eq!(rollout.upgraded, vec!["north/empty".to_owned()]);
    assert_eq!(rollout.settings_refused, vec!["north/plain".to_owned()]);
    assert!(rollout.awaiting_acceptance.is_empty());

    let plain = app.registry().installed("north", "plain").await.unwrap();
    assert_eq!(plain.version.to_string(), "1.0.0");
    assert_eq!(
        plain.pending.as_ref().map(ToString::to_string).as_deref(),
        Some("1.1.0")
    );
    let reason = plain.pending_reason.unwrap_or_default();
    assert!(
        reason.contains("1.1.0 refused the install's settings") && reason.contains("max-capacity"),
        "{reason}"
    );
    let empty = app.registry().installed("north", "empty").await.unwrap();
    assert_eq!(empty.version.to_string(), "1.1.0");

    // Accepting the pending version asks its component again: still refused.
    let refused = app
        .market
        .accept(dora, "north", "plain", &published.version)
        .await
        .unwrap_err();
    assert!(matches!(refused, MarketError::Settings(_)), "{refused:?}");
    // And an explicit upgrade is validated the same way.
    let refused = app
        .market
        .upgrade(
            dora,
            "north",
            "plain",
            UpgradeRequest {
                version: Some("1.1.0".into()),
                follow: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, MarketError::Settings(_)), "{refused:?}");
    let plain = app.registry().installed("north", "plain").await.unwrap();
    assert_eq!(plain.version.to_string(), "1.0.0", "nothing moved");
}
