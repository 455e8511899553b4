//! A noisy neighbour: one tenant's reader beside another tenant's runaway
//! calls. Prints a table of the reader's latency quiet, and with the noise
//! with the slow lane off and on.
//!
//! `cargo bench -p mercato-server --bench noise` (or `scripts/load-noise`)
//!
//! Tenant `quiet` calls livestream-booking `list-sessions` (reads its
//! state) one call after another, through the HTTP router in process, 2 000
//! times after a warm-up. Tenant `noisy` runs 32 clients calling the hostile
//! component's `book` with a loop that runs until its 200 ms deadline,
//! each retrying as soon as a call ends and after `Retry-After` when
//! refused; admission lets 8 of them run at once. Two Tokio workers, two
//! cores: the noise alone would fill the machine four times over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mercato_runtime::{Kind, Limits};
use mercato_server::marketplace::admission::AdmissionConfig;
use mercato_testapp::{TestApp, manifest};
use serde_json::json;
use tower::ServiceExt;

const NOW: u64 = 1_772_355_600_000;
const CALLS: usize = 2_000;
const NOISE: usize = 32;

async fn post(
    router: &axum::Router,
    token: &str,
    uri: &str,
    body: serde_json::Value,
) -> StatusCode {
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    router
        .clone()
        .oneshot(request)
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn app(slow_lane: bool) -> TestApp {
    let mut hostile = manifest(
        "mercato/hostile",
        "1.0.0",
        Kind::LivestreamBooking,
        &["store"],
    );
    hostile.limits.deadline_ms = Some(200);
    hostile.limits.fuel = Some(Limits::PLATFORM_CAPS.fuel);
    let app = TestApp::builder()
        .clock(NOW)
        .admission(AdmissionConfig {
            slow_lane,
            ..AdmissionConfig::default()
        })
        .tenant("quiet")
        .tenant("noisy")
        .publisher("mercato")
        .developer("dev", "mercato")
        .reviewer("legal")
        .director("qd", "quiet")
        .rep("qr", "quiet")
        .director("nd", "noisy")
        .rep("nr", "noisy")
        .component(
            manifest(
                "mercato/livestream-booking",
                "1.0.0",
                Kind::LivestreamBooking,
                &["store", "events"],
            ),
            mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING),
            &["quiet"],
        )
        .component(
            hostile,
            mercato_artifacts::read(mercato_artifacts::HOSTILE),
            &["noisy"],
        )
        .build()
        .await;
    let router = app.router();
    let base = "/v1/tenants/quiet/components/livestream-booking";
    for i in 0..3u64 {
        let draft = json!({"draft": {"title": format!("Session {i}"), "host": "Mia",
            "starts-at": NOW + (i + 1) * 3_600_000, "duration-minutes": 30, "capacity": 10}});
        assert_eq!(
            post(&router, app.token("qr"), &format!("{base}/schedule"), draft).await,
            StatusCode::OK
        );
    }
    app
}

/// The reader's latencies, sorted, with `noise` noisy clients running.
async fn read(app: &TestApp, noise: usize) -> (Vec<Duration>, u64) {
    let router = app.router();
    let stop = Arc::new(AtomicBool::new(false));
    let noisy_calls = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..noise {
        let (router, token) = (router.clone(), app.token("nr").to_owned());
        let (stop, count) = (stop.clone(), noisy_calls.clone());
        clients.push(tokio::spawn(async move {
            let uri = "/v1/tenants/noisy/components/hostile/book";
            while !stop.load(Ordering::Relaxed) {
                let status = post(
                    &router,
                    &token,
                    uri,
                    json!({"session-id": "s", "customer": "loop"}),
                )
                .await;
                count.fetch_add(1, Ordering::Relaxed);
                if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE
                {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }));
    }
    if noise > 0 {
        // Let the noise reach its steady state (the install moves lanes).
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let token = app.token("qr").to_owned();
    let uri = "/v1/tenants/quiet/components/livestream-booking/list-sessions";
    for _ in 0..100 {
        post(&router, &token, uri, json!({})).await;
    }
    let mut took = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let status = post(&router, &token, uri, json!({})).await;
        took.push(t.elapsed());
        assert_eq!(status, StatusCode::OK);
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    took.sort();
    (took, noisy_calls.load(Ordering::Relaxed))
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let on = app(true).await;
        let off = app(false).await;
        let (quiet, _) = read(&on, 0).await;
        let (noisy_off, calls_off) = read(&off, NOISE).await;
        let (noisy_on, calls_on) = read(&on, NOISE).await;
        println!("| reader (`list-sessions`, tenant quiet) | p50 ms | p99 ms | p99 / quiet p99 | noisy calls |");
        println!("|---|---|---|---|---|");
        let q99 = pct(&quiet, 0.99);
        for (name, took, calls) in [
            ("quiet", &quiet, 0),
            ("beside 32 runaway clients, slow lane off", &noisy_off, calls_off),
            ("beside 32 runaway clients, slow lane on", &noisy_on, calls_on),
        ] {
            println!(
                "| {name} | {:.3} | {:.3} | {:.2} × | {calls} |",
                pct(took, 0.5),
                pct(took, 0.99),
                pct(took, 0.99) / q99
            );
        }
    });
}
