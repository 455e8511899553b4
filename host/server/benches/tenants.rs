//! Many tenants: does a call get slower when the host serves 10 000 tenants
//! with four installs each, and what does an idle tenant cost in memory?
//!
//! `cargo bench -p mercato-server --bench tenants` (MERCATO_TENANTS=N to
//! change the count; default 10 000).
//!
//! One SQLite host, the four first-party components published once and
//! installed for every tenant (40 000 installs). Calls go through the
//! marketplace as the tenant's rep, one after another: `list-sessions` of
//! livestream-booking (reads the tenant's state) for tenant 0 only, then
//! for a tenant drawn at random each call, after every install was called
//! once. Memory is the process's resident set before and after that first
//! call of every install: what the host keeps per tenant once it has served
//! it (resolved installs, mirrored state, admission and lane entries).

use std::time::{Duration, Instant};

use mercato_registry::{NewInstall, NewTenant, Principal, Role};
use mercato_runtime::Kind;
use mercato_server::marketplace::Marketplace;
use mercato_testapp::{TestApp, manifest};
use serde_json::json;

const NOW: u64 = 1_772_355_600_000;
const CALLS: usize = 20_000;

const COMPONENTS: [(&str, Kind, &str); 4] = [
    (
        "livestream-booking",
        Kind::LivestreamBooking,
        mercato_artifacts::LIVESTREAM_BOOKING,
    ),
    (
        "sample-requests",
        Kind::SampleRequests,
        mercato_artifacts::SAMPLE_REQUESTS,
    ),
    (
        "trial-feedback",
        Kind::TrialFeedback,
        mercato_artifacts::TRIAL_FEEDBACK,
    ),
    (
        "experiments",
        Kind::Experiments,
        mercato_artifacts::EXPERIMENTS,
    ),
];

fn tenant(i: usize) -> String {
    format!("t{i:05}")
}

fn someone(role: Role, tenant: &str) -> Principal {
    Principal {
        account: format!("bench-{role}-{tenant}"),
        name: format!("bench-{role}-{tenant}"),
        role,
        tenant: Some(tenant.to_owned()),
        publisher: None,
    }
}

/// Resident memory of this process, in bytes.
fn resident() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A small deterministic generator: the same tenants every run.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

async fn list(market: &Marketplace, rep: &Principal, tenant: &str) -> Duration {
    let started = Instant::now();
    market
        .invoke(
            rep,
            tenant,
            "livestream-booking",
            "list-sessions",
            json!({}),
        )
        .await
        .expect("list-sessions");
    started.elapsed()
}

fn p(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6
}

fn main() {
    let tenants: usize = std::env::var("MERCATO_TENANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let mut builder = TestApp::builder()
            .clock(NOW)
            .publisher("mercato")
            .developer("dev", "mercato")
            .reviewer("legal");
        for (name, kind, path) in COMPONENTS {
            builder = builder.component(
                manifest(&format!("mercato/{name}"), "1.0.0", kind, &["store", "events", "approvals"]),
                mercato_artifacts::read(path),
                &[],
            );
        }
        let app = builder.build().await;
        let market = app.market.clone();
        let console = Principal::console();
        let setup = Instant::now();
        for i in 0..tenants {
            let t = tenant(i);
            market
                .create_tenant(&console, NewTenant { name: t.clone(), title: None })
                .await
                .expect("tenant");
            let director = someone(Role::Director, &t);
            for (name, _, _) in COMPONENTS {
                market
                    .install(
                        &director,
                        &t,
                        NewInstall {
                            package: format!("mercato/{name}"),
                            ..NewInstall::default()
                        },
                    )
                    .await
                    .expect("install");
            }
            if i % 1000 == 999 {
                eprintln!("{} tenants set up ({:.0} s)", i + 1, setup.elapsed().as_secs_f64());
            }
        }

        let reps: Vec<Principal> = (0..tenants).map(|i| someone(Role::Rep, &tenant(i))).collect();
        // One tenant, warm.
        for _ in 0..1000 {
            list(&market, &reps[0], &tenant(0)).await;
        }
        let mut one = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            one.push(list(&market, &reps[0], &tenant(0)).await);
        }
        one.sort();

        // Every install called once: what serving a tenant leaves behind.
        let before = resident();
        let first = Instant::now();
        for (i, rep) in reps.iter().enumerate() {
            let t = tenant(i);
            list(&market, rep, &t).await;
            for (name, _, _) in &COMPONENTS[1..] {
                market
                    .invoke(rep, &t, name, "describe", json!({}))
                    .await
                    .expect("describe");
            }
        }
        let first = first.elapsed();
        let after = resident();

        let mut draw = Draw(7);
        let mut many = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let i = draw.below(tenants);
            many.push(list(&market, &reps[i], &tenant(i)).await);
        }
        many.sort();

        println!("{tenants} tenants x 4 installs on SQLite, {CALLS} sequential calls of list-sessions through the marketplace");
        println!();
        println!("| calls | p50 µs | p99 µs |");
        println!("|---|---|---|");
        println!("| one tenant | {:.1} | {:.1} |", p(&one, 0.5), p(&one, 0.99));
        println!("| a random tenant of {tenants} each call | {:.1} | {:.1} |", p(&many, 0.5), p(&many, 0.99));
        println!();
        println!("p50 random / one tenant: {:.2}x (target <= 1.2x)", p(&many, 0.5) / p(&one, 0.5));
        println!(
            "first call of all {} installs: {:.1} s; resident memory {:.1} -> {:.1} MiB, {:.1} KiB per tenant served",
            tenants * 4,
            first.as_secs_f64(),
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            after.saturating_sub(before) as f64 / 1024.0 / tenants as f64
        );
        println!(
            "held after the random calls: admission gates of {} tenants (idle ones dropped past {}), metric series of {} installs (idle ones dropped past {} after {} min)",
            market.admission().gates_held(),
            mercato_server::marketplace::admission::GATES_KEPT,
            market.metrics().series_held(),
            mercato_server::metrics::SERIES_KEPT,
            mercato_server::metrics::SERIES_IDLE.as_secs() / 60
        );
    });
}
