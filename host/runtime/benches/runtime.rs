//! Runtime benchmark: prints one `name: value unit` line per figure.
//!
//! `cargo bench -p mercato-runtime --bench runtime`
//!
//! - compile_ms: compile the livestream-booking component from its bytes.
//! - cached_load_us: load it again from the disk cache (a restart): map and
//!   deserialize, link, check the world, index the exports. The sha256 of the
//!   bytes is not included: the registry computes it while verifying the
//!   package signature and hands it over (`load_verified`); it costs ~165 µs
//!   for this component on its own.
//! - invoke_fresh_p50_us / p99: one `book` call as a user makes it — fresh
//!   store and instance, JSON-free typed arguments, the call, the commit to
//!   the in-memory state store, teardown.
//! - invoke_reused_ns: a read-only `book` (the customer already holds a seat)
//!   on an instance kept alive: the floor under the fresh figure.
//! - native_book_ns: the same booking logic compiled natively, through the
//!   SDK's test host.
//! - fuel_overhead_ratio: a CPU-bound guest (the hostile fixture's `cpu:N`)
//!   with fuel metering over the same engine without it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use livestream_booking::Livestream;
use mercato_runtime::Scope;
use mercato_runtime::{CallContext, EngineOptions, Grants, Kind, Limits, Runtime};
use mercato_sdk::livestream::{LivestreamBooking, SessionDraft};
use serde_json::json;
use wasmtime::component::Val;

const NOW: u64 = 1_772_355_600_000;
const SESSIONS: usize = 200;
const BOOKINGS: usize = 20_000;

fn main() {
    let bytes = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    let cache = tempfile::tempdir().expect("tempdir");

    // compile_ms: median of 5 compilations.
    let runtime = Runtime::builder().clock(|| NOW).build().expect("runtime");
    let compile = median((0..5).map(|_| {
        let t = Instant::now();
        wasmtime::component::Component::from_binary(runtime.engine(), &bytes).expect("compiles");
        t.elapsed()
    }));
    report("compile_ms", compile.as_secs_f64() * 1e3, "ms");

    // cached_load_us: fill the cache once, then load from it through a fresh runtime.
    Runtime::builder()
        .cache_dir(cache.path())
        .build()
        .expect("runtime")
        .load(Kind::LivestreamBooking, &bytes)
        .expect("loads");
    let cached = Runtime::builder()
        .cache_dir(cache.path())
        .clock(|| NOW)
        .build()
        .expect("runtime");
    let digest = mercato_runtime::component::digest(&bytes);
    let loads: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let c = cached
                .load_verified(Kind::LivestreamBooking, &bytes, &digest, &Limits::default())
                .expect("loads");
            let d = t.elapsed();
            assert!(c.from_cache());
            d
        })
        .collect();
    report(
        "cached_load_us",
        median(loads.into_iter()).as_secs_f64() * 1e6,
        "us",
    );

    // invoke_fresh: book 20k customers into 200 sessions of 50 seats (so some
    // are waitlisted and rosters stay a realistic size).
    let component = cached.load(Kind::LivestreamBooking, &bytes).expect("loads");
    let call = Arc::new(CallContext {
        scope: Scope::new("bench", "mercato/livestream-booking"),
        grants: Grants::all(),
        settings: "{}".into(),
        track_events: true,
        version: None,
    });
    let limits = Limits::default();
    let sessions: Vec<String> =
        (0..SESSIONS)
            .map(|_| {
                cached
                .invoke_json(&component, &call, &limits, "schedule",
                    &json!({"draft": {"title": "Bench", "host": "Mia", "starts-at": NOW + 3_600_000,
                                      "duration-minutes": 30, "capacity": 50}}))
                .expect("schedule")
                .json()["ok"]["id"].as_str().expect("id").to_owned()
            })
            .collect();
    let book_args = |i: usize| {
        vec![
            Val::String(sessions[i % SESSIONS].clone()),
            Val::String(format!("customer-{i}")),
        ]
    };
    for i in 0..1_000 {
        cached
            .invoke(&component, &call, &limits, "book", &book_args(i))
            .expect("warm-up");
    }
    let mut times: Vec<Duration> = (1_000..BOOKINGS)
        .map(|i| {
            let args = book_args(i);
            let t = Instant::now();
            let outcome = cached
                .invoke(&component, &call, &limits, "book", &args)
                .expect("book");
            let d = t.elapsed();
            assert_eq!(outcome.attempts, 1);
            d
        })
        .collect();
    times.sort();
    report(
        "invoke_fresh_p50_us",
        percentile(&times, 0.50).as_secs_f64() * 1e6,
        "us",
    );
    report(
        "invoke_fresh_p99_us",
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        "us",
    );

    // invoke_reused_ns: the same instance, booking a customer who already has a seat.
    let mut reused = cached
        .reused_instance(&component, &call, &limits, "book")
        .expect("instance");
    let args = book_args(0);
    for _ in 0..1_000 {
        reused.call(&args).expect("call");
    }
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        reused.call(&args).expect("call");
    }
    report(
        "invoke_reused_ns",
        t.elapsed().as_nanos() as f64 / f64::from(n),
        "ns",
    );

    // native_book_ns: the same bookings through the SDK's test host.
    let _host = mercato_sdk::testing::TestHost::new().at(NOW);
    let native_sessions: Vec<String> = (0..SESSIONS)
        .map(|_| {
            Livestream::schedule(SessionDraft {
                title: "Bench".into(),
                host: "Mia".into(),
                starts_at: NOW + 3_600_000,
                duration_minutes: 30,
                capacity: 50,
            })
            .expect("schedule")
            .id
        })
        .collect();
    let t = Instant::now();
    for i in 0..BOOKINGS {
        Livestream::book(
            native_sessions[i % SESSIONS].clone(),
            format!("customer-{i}"),
        )
        .expect("book");
    }
    report(
        "native_book_ns",
        t.elapsed().as_nanos() as f64 / BOOKINGS as f64,
        "ns",
    );

    // fuel_overhead_ratio: metered over unmetered on a CPU-bound guest.
    let hostile = mercato_artifacts::read(mercato_artifacts::HOSTILE);
    let spin = |fuel: bool| {
        let rt = Runtime::builder()
            .engine_options(EngineOptions {
                fuel,
                ..EngineOptions::default()
            })
            .clock(|| NOW)
            .build()
            .expect("runtime");
        let c = rt.load(Kind::LivestreamBooking, &hostile).expect("loads");
        let limits = Limits {
            deadline_ms: 10_000,
            fuel: Limits::PLATFORM_CAPS.fuel,
            ..Limits::default()
        };
        let args = [Val::String("s".into()), Val::String("cpu:30000000".into())];
        median((0..7).map(|_| {
            let t = Instant::now();
            rt.invoke(&c, &call, &limits, "book", &args).expect("spins");
            t.elapsed()
        }))
    };
    let metered = spin(true);
    let unmetered = spin(false);
    report(
        "fuel_overhead_ratio",
        metered.as_secs_f64() / unmetered.as_secs_f64(),
        "x",
    );
}

fn report(name: &str, value: f64, unit: &str) {
    println!("{name}: {value:.2} {unit}");
}

fn median(samples: impl Iterator<Item = Duration>) -> Duration {
    let mut v: Vec<Duration> = samples.collect();
    v.sort();
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
