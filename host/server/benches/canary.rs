//! What routing a call through a canary adds to it.
//!
//! `cargo bench -p mercato-server --bench canary`
//!
//! One SQLite host, livestream-booking 1.0.0 installed twice in one tenant
//! (`plain` and `routed`, settings `{}`); `routed` runs a canary of 1.1.0 —
//! the same component bytes — at a 0 % share, so both installs run the same
//! code and the difference is the routing alone: finding the call's unit,
//! hashing it to a bucket, counting the call in the canary's tallies (and
//! storing them once a second). Calls are `list-sessions` as the tenant's
//! rep with a unit header, in interleaved rounds; p50 and p99 per install.

use std::time::{Duration, Instant};

use mercato_registry::NewInstall;
use mercato_registry::canaries::NewCanary;
use mercato_runtime::Kind;
use mercato_server::marketplace::canary::Route;
use mercato_testapp::{TestApp, manifest};
use serde_json::json;

const NOW: u64 = 1_772_355_600_000;
const ROUNDS: usize = 10;
const CALLS: usize = 2_000;

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let code = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
        let app = TestApp::builder()
            .clock(NOW)
            .tenant("acme")
            .publisher("mercato")
            .developer("dev", "mercato")
            .reviewer("legal")
            .director("dora", "acme")
            .rep("ray", "acme")
            .build()
            .await;
        let package = "mercato/livestream-booking";
        for version in ["1.0.0", "1.1.0"] {
            app.publish_approved(
                "dev",
                "legal",
                &manifest(
                    package,
                    version,
                    Kind::LivestreamBooking,
                    &["store", "events"],
                ),
                &code,
            )
            .await;
        }
        let dora = app.who("dora");
        for id in ["plain", "routed"] {
            app.market
                .install(
                    dora,
                    "acme",
                    NewInstall {
                        package: package.into(),
                        id: Some(id.into()),
                        version: Some("1.0.0".into()),
                        settings: Some(json!({})),
                        ..NewInstall::default()
                    },
                )
                .await
                .expect("install");
        }
        app.market
            .start_rollout(
                dora,
                "acme",
                "routed",
                NewCanary {
                    version: "1.1.0".into(),
                    share: 0.0,
                    auto_abort: Some(false),
                    accept_permissions: None,
                },
            )
            .await
            .expect("canary");
        let ray = app.who("ray");
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        for round in 0..ROUNDS + 1 {
            for (side, id) in ["plain", "routed"].iter().enumerate() {
                for i in 0..CALLS {
                    let route = Route {
                        unit: Some(format!("u{i}")),
                        force: None,
                    };
                    let started = Instant::now();
                    let served = app
                        .market
                        .invoke_routed(ray, "acme", id, "list-sessions", json!({}), &route)
                        .await
                        .expect("call");
                    let took = started.elapsed();
                    assert_eq!(served.version.to_string(), "1.0.0");
                    // The first round warms both up.
                    if round > 0 {
                        times[side].push(took);
                    }
                }
            }
        }
        for t in &mut times {
            t.sort();
        }
        let (p50, p99) = (
            [quantile(&times[0], 0.5), quantile(&times[1], 0.5)],
            [quantile(&times[0], 0.99), quantile(&times[1], 0.99)],
        );
        println!("| install | calls | p50 µs | p99 µs |");
        println!("|---|---|---|---|");
        println!(
            "| plain | {} | {:.2} | {:.2} |",
            times[0].len(),
            p50[0],
            p99[0]
        );
        println!(
            "| routed through a 0 % canary | {} | {:.2} | {:.2} |",
            times[1].len(),
            p50[1],
            p99[1]
        );
        println!("routing_overhead_p50_us {:.2}", p50[1] - p50[0]);
    });
}
