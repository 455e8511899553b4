//! Console render times: prints one `name: value unit` line per figure.
//!
//! `cargo bench -p mercato-server --bench console`
//!
//! A tenant with 100 installs, 10 000 events, and an experiment with 50 000
//! exposures over 30 days (SQLite in a temporary directory). Each page is
//! rendered through the router as a signed-in browser asks for it (session
//! lookup, registry reads, component calls, template), 60 times after one
//! warm-up; the figures are the median and the 95th percentile. The
//! dashboard's first render builds the daily tallies from the events
//! (`dashboard_cold_ms`); later ones extend them.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use mercato_registry::NewInstall;
use mercato_runtime::Kind;
use mercato_testapp::{TestApp, manifest};
use serde_json::json;
use tower::ServiceExt;

const NOW: u64 = 1_772_355_600_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    rt.block_on(async {
        let clock = Arc::new(AtomicU64::new(NOW));
        let app = TestApp::builder()
            .clock_source(clock.clone())
            .tenant("big")
            .publisher("mercato")
            .developer("dev", "mercato")
            .reviewer("legal")
            .director("dora", "big")
            .component(
                manifest("mercato/experiments", "1.0.0", Kind::Experiments, &["store", "events"]),
                mercato_artifacts::read(mercato_artifacts::EXPERIMENTS),
                &["big"],
            )
            .build()
            .await;
        let code = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
        let booking = manifest("mercato/booking", "1.0.0", Kind::LivestreamBooking, &["store", "events"]);
        app.publish_approved("dev", "legal", &booking, &code).await;
        let dora = app.who("dora").clone();
        let started = Instant::now();
        for i in 0..99 {
            app.market
                .install(
                    &dora,
                    "big",
                    NewInstall {
                        package: "mercato/booking".into(),
                        id: Some(format!("booking-{i:02}")),
                        ..NewInstall::default()
                    },
                )
                .await
                .expect("install");
        }
        // 10 000 events: sessions scheduled across the installs.
        for i in 0..10_000u64 {
            app.market
                .invoke(
                    &dora,
                    "big",
                    &format!("booking-{:02}", i % 99),
                    "schedule",
                    json!({"draft": {"title": format!("S{i}"), "host": "Mia",
                                     "starts-at": NOW + 86_400_000, "duration-minutes": 30, "capacity": 5}}),
                )
                .await
                .expect("schedule");
        }
        app.run_experiment(&clock, "dora", "big", "experiments", "script", 50_000, 30, |u, v| {
            if v == "treatment" { u % 9 == 0 } else { u % 10 == 0 }
        })
        .await;
        // A version waiting for review, for the review page.
        let next = manifest("mercato/booking", "1.1.0", Kind::LivestreamBooking, &["store", "events", "customers"]);
        app.market
            .publish(app.who("dev"), app.package(&next, &code))
            .await
            .expect("publish");
        eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());

        let router = app.router();
        let session = |token: String| {
            let app = &app;
            async move {
                let (cookie, _) = app.market.sign_in(&token).await.expect("sign in");
                cookie
            }
        };
        let director = session(app.token("dora").to_owned()).await;
        let reviewer = session(app.token("legal").to_owned()).await;
        let get = |cookie: &str, uri: &str| {
            Request::builder()
                .uri(uri)
                .header("cookie", format!("mercato_session={cookie}"))
                .body(Body::empty())
                .expect("request")
        };
        let dashboard = "/tenants/big/experiments/experiments/script";
        let cold = Instant::now();
        let reply = router.clone().oneshot(get(&director, dashboard)).await.expect("reply");
        assert_eq!(reply.status(), 200);
        println!("dashboard_cold_ms: {:.1} ms", ms(cold.elapsed()));
        for (name, cookie, uri) in [
            ("review_page", &reviewer, "/review/mercato/booking/1.1.0"),
            ("installs_page", &director, "/tenants/big/installs"),
            ("dashboard", &director, dashboard),
        ] {
            let mut times = Vec::new();
            for round in 0..61 {
                let started = Instant::now();
                let reply = router.clone().oneshot(get(cookie, uri)).await.expect("reply");
                let status = reply.status();
                let _ = axum::body::to_bytes(reply.into_body(), usize::MAX).await;
                assert_eq!(status, 200, "{uri}");
                if round > 0 {
                    times.push(started.elapsed());
                }
            }
            times.sort();
            println!(
                "{name}_ms: p50 {:.2} ms, p95 {:.2} ms",
                ms(times[times.len() / 2]),
                ms(times[times.len() * 95 / 100])
            );
        }
    });
}
