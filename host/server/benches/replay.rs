//! How long a replay of 1 000 recorded livestream-booking calls takes.
//!
//! `cargo bench -p mercato-server --bench replay`
//!
//! One SQLite host, livestream-booking 1.0.0 installed with recording on,
//! 1.1.0 (the same component bytes) approved as the candidate. 1 000 real
//! calls are served and recorded — four sessions scheduled, then bookings,
//! session reads, listings and reminder queries in turn — and the install's
//! recordings replayed against 1.1.0 beside 1.0.0 (2 000 invocations, each
//! side on its own copy of the state). Timed from the start request to the
//! finished report being stored, five times; the median and the worst.

use std::time::{Duration, Instant};

use mercato_registry::NewInstall;
use mercato_registry::recordings::Recording;
use mercato_registry::replays::ReplayState;
use mercato_runtime::Kind;
use mercato_server::marketplace::replay::ReplayRequest;
use mercato_testapp::{TestApp, manifest};
use serde_json::json;

const NOW: u64 = 1_772_355_600_000;
/// 2100-01-01: every booking is before its session starts.
const STARTS: u64 = 4_102_444_800_000;
const CALLS: usize = 1_000;
const RUNS: usize = 5;

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
            let m = manifest(
                package,
                version,
                Kind::LivestreamBooking,
                &["store", "events"],
            );
            app.publish_approved("dev", "legal", &m, &code).await;
        }
        let (dora, ray) = (app.who("dora"), app.who("ray"));
        let install = NewInstall {
            package: package.into(),
            version: Some("1.0.0".into()),
            settings: Some(json!({})),
            ..NewInstall::default()
        };
        app.market
            .install(dora, "acme", install)
            .await
            .expect("install");
        let id = "livestream-booking";
        let ring = Recording {
            calls: CALLS as u32,
            ..Recording::default()
        };
        app.market
            .set_recording(dora, "acme", id, Some(ring))
            .await
            .expect("recording on");
        let call = async |function: &str, args: serde_json::Value| {
            app.market
                .invoke(ray, "acme", id, function, args)
                .await
                .expect("call");
        };
        for s in 0..4 {
            call(
                "schedule",
                json!({"draft": {"title": format!("Launch {s}"), "host": "Mia",
                    "starts-at": STARTS + s * 3_600_000, "duration-minutes": 30, "capacity": 200}}),
            )
            .await;
        }
        for i in 0..CALLS - 4 {
            let session = format!("s-{}", i % 4 + 1);
            match i % 5 {
                0 | 1 => {
                    call(
                        "book",
                        json!({"session-id": session, "customer": format!("c-{i}")}),
                    )
                    .await
                }
                2 => call("get-session", json!({"session-id": session})).await,
                3 => call("list-bookings", json!({"session-id": session})).await,
                _ => call("reminders-due", json!({"before": STARTS + 86_400_000})).await,
            }
        }
        let recorded = app
            .market
            .recorded_calls(dora, "acme", id, CALLS as u32)
            .await
            .expect("recordings");
        assert_eq!(recorded.len(), CALLS, "every call was recorded");
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let replay = app
                .market
                .start_replay(
                    dora,
                    "acme",
                    id,
                    ReplayRequest {
                        candidate: "1.1.0".into(),
                        calls: None,
                    },
                )
                .await
                .expect("replay");
            let done = loop {
                let now = app
                    .market
                    .replay(dora, "acme", &replay.id, true)
                    .await
                    .expect("status");
                if now.state != ReplayState::Running {
                    break now;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            times.push(started.elapsed());
            let report = done.report.expect("a finished replay has its report");
            assert_eq!(report["calls"], CALLS, "{report}");
            assert_eq!(report["identical"], CALLS, "the same code answers alike");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!("| replay | calls | invocations | median ms | worst ms | per call µs |");
        println!("|---|---|---|---|---|---|");
        println!(
            "| livestream-booking 1.1.0 beside 1.0.0 | {CALLS} | {} | {:.0} | {:.0} | {:.0} |",
            2 * CALLS,
            ms(times[RUNS / 2]),
            ms(times[RUNS - 1]),
            ms(times[RUNS / 2]) * 1e3 / CALLS as f64,
        );
        println!("replay_1000_calls_ms {:.0}", ms(times[RUNS / 2]));
    });
}
