//! Marketplace benchmark: prints one `name: value unit` line per figure.
//!
//! `cargo bench -p mercato-cli --bench marketplace`
//!
//! - package_kb: size of the package published (livestream-booking, release
//!   build, plus a few bytes of custom section so every upload has a new
//!   digest and is compiled from scratch, never from the cache).
//! - publish_ms (median, max of 5): `POST /v1/packages` through the router as
//!   a developer: parse, signature and key checks, version order, limits,
//!   compile and type-check against the kind's world (cold), store. SQLite in
//!   a temporary directory.
//! - restart_first_call_ms (max of 3): with 50 distinct components installed
//!   for a tenant, start the `mercato` binary on that data directory and time
//!   from spawn until a rep's first call to one of them has returned 200
//!   (process start, migrations check, auth, install resolution, signature
//!   check, loading the compiled component from the disk cache, the call).
//!
//! Load over loopback is measured by `scripts/load` with wrk.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use mercato_registry::NewInstall;
use mercato_runtime::Kind;
use mercato_testapp::{TestApp, manifest};
use tower::ServiceExt;

const COMPONENTS: usize = 50;

/// The component with a custom section appended, so its digest is new.
fn variant(code: &[u8], n: usize) -> Vec<u8> {
    let name = b"mercato-bench";
    let payload = n.to_le_bytes();
    let mut out = code.to_vec();
    out.push(0); // custom section
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

fn bench_manifest(name: &str, version: &str) -> mercato_registry::Manifest {
    manifest(name, version, Kind::LivestreamBooking, &["store", "events"])
}

/// Tenant `bench`, publisher `bench` and an account per role, on SQLite in `data`.
async fn setup(data: &std::path::Path) -> TestApp {
    TestApp::builder()
        .data_dir(data)
        .tenant("bench")
        .publisher("bench")
        .developer("dev", "bench")
        .reviewer("legal")
        .director("dora", "bench")
        .rep("ray", "bench")
        .build()
        .await
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let code = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);

    // publish_ms
    let dir = tempfile::tempdir().expect("tempdir");
    let s = rt.block_on(setup(dir.path()));
    let router = s.router();
    let mut times = Vec::new();
    let mut size = 0;
    for i in 0..5 {
        let file = s.package(
            &bench_manifest("bench/publish", &format!("1.0.{i}")),
            &variant(&code, i),
        );
        size = file.len();
        let request = Request::builder()
            .method("POST")
            .uri("/v1/packages")
            .header("authorization", format!("Bearer {}", s.token("dev")))
            .header("content-type", "application/octet-stream")
            .body(Body::from(file))
            .expect("request");
        let started = Instant::now();
        let response = rt.block_on(router.clone().oneshot(request)).expect("reply");
        times.push(started.elapsed());
        assert_eq!(response.status(), 201, "publish failed");
    }
    times.sort();
    println!("package_kb: {:.0} KB", size as f64 / 1024.0);
    println!("publish_ms_median: {:.1} ms", ms(times[2]));
    println!("publish_ms_max: {:.1} ms", ms(times[4]));

    // restart_first_call_ms
    let dir = tempfile::tempdir().expect("tempdir");
    let s = rt.block_on(setup(dir.path()));
    rt.block_on(async {
        for n in 0..COMPONENTS {
            let name = format!("bench/c{n:02}");
            s.publish_approved(
                "dev",
                "legal",
                &bench_manifest(&name, "1.0.0"),
                &variant(&code, 100 + n),
            )
            .await;
            s.market
                .install(
                    s.who("dora"),
                    "bench",
                    NewInstall {
                        package: name,
                        ..NewInstall::default()
                    },
                )
                .await
                .expect("install");
        }
    });
    let rep_token = s.token("ray").to_owned();
    drop(s);
    let mut restarts = Vec::new();
    for attempt in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mercato"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mercato");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!(
            "http://127.0.0.1:{port}/v1/tenants/bench/components/c{:02}/list-sessions",
            17 + attempt
        );
        loop {
            let reply = agent
                .post(&url)
                .header("Authorization", &format!("Bearer {rep_token}"))
                .header("Content-Type", "application/json")
                .send("{}");
            if let Ok(r) = reply {
                assert_eq!(r.status(), 200, "first call failed");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "mercato serve did not come up"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        restarts.push(started.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    restarts.sort();
    println!(
        "restart_first_call_ms_max: {:.1} ms ({COMPONENTS} components installed)",
        ms(restarts[2])
    );
    println!("restart_first_call_ms_min: {:.1} ms", ms(restarts[0]));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
