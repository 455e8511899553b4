//! Recording and replay: an install's calls kept masked in a bounded ring
//! while tracking is on; a candidate version replayed against them beside
//! the current one, on copies of the install's state, reporting exactly the
//! calls that differ and touching nothing real; a package's fixture calls
//! replayed for its reviewer. Recordings and replays stay the tenant's own.
//!
//! The candidate is the hostile fixture approved as livestream-booking
//! 2.0.0 (see `canary.rs`): it answers `book` with a canned booking without
//! writing anything, fails it for a customer named `fail:…` and spins
//! forever for `loop`; its `get-session`, `list-sessions` and
//! `reminders-due` read the same keys the real component writes.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use mercato_registry::events::EventQuery;
use mercato_registry::inbox::ApprovalQuery;
use mercato_registry::recordings::{NewRecordedCall, Recording};
use mercato_registry::{Database, InstallUpdate, Scope, SqlState, StateStore};
use mercato_runtime::Kind;
use mercato_server::marketplace::replay::ReplayRequest;
use mercato_testapp::manifest;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::canary::with_candidate;
use crate::market::{Seeded, eventually, postgres, seeded_with, sqlite};

const INSTALL: &str = "livestream-booking";
/// 2100-01-01: far enough ahead that every booking is before the start.
const STARTS: u64 = 4_102_444_800_000;

/// The seeded marketplace plus a second tenant's director, an operator
/// and the reviewer's own token.
async fn market_on(db: Database) -> Seeded {
    seeded_with(db, |b| {
        b.tenant("globex").director("gus", "globex").operator("ops")
    })
    .await
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn schedule_s1(s: &Seeded) {
    let session = s
        .market
        .invoke(
            &s.director.0,
            "acme",
            INSTALL,
            "schedule",
            json!({"draft": {"title": "Launch", "host": "Mia", "starts-at": STARTS,
                             "duration-minutes": 30, "capacity": 50}}),
        )
        .await
        .unwrap()
        .json();
    assert_eq!(session["ok"]["id"], "s-1", "{session}");
}

/// Everything a replay must not touch, as stored: the install's state
/// entries (bytes) and version, the tenant's events and approvals.
async fn real_effects(s: &Seeded) -> (Vec<(String, Vec<u8>)>, u64, String, String) {
    let db = s.market.registry().database().clone();
    let state = SqlState::new(db);
    let scope = Scope::new("acme", INSTALL);
    let (entries, version) = tokio::task::spawn_blocking(move || {
        let entries: Vec<(String, Vec<u8>)> = state
            .list_keys(&scope, "")
            .unwrap()
            .into_iter()
            .map(|k| {
                let v = state.get(&scope, &k).unwrap().unwrap();
                (k, v)
            })
            .collect();
        (entries, state.version(&scope).unwrap())
    })
    .await
    .unwrap();
    let registry = s.market.registry();
    let events = registry
        .events(&s.director.0, "acme", &EventQuery::default())
        .await
        .unwrap();
    let approvals = registry
        .approvals(&s.director.0, "acme", &ApprovalQuery::default())
        .await
        .unwrap();
    (
        entries,
        version,
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&approvals).unwrap(),
    )
}

fn recorded(function: &str, args: Value, at: i64) -> NewRecordedCall {
    NewRecordedCall {
        tenant: "acme".into(),
        install: INSTALL.into(),
        at,
        version: "1.0.0".into(),
        function: function.into(),
        args,
        outcome: json!({"ok": null}),
    }
}

async fn recording_on(s: &Seeded) {
    s.market
        .set_recording(&s.director.0, "acme", INSTALL, Some(Recording::default()))
        .await
        .unwrap();
}

/// Wait for a replay to end; its report.
async fn finished(s: &Seeded, id: &str) -> Value {
    eventually("the replay finishes", || async {
        s.market
            .replay(&s.director.0, "acme", id, false)
            .await
            .unwrap()
            .state
            != mercato_registry::replays::ReplayState::Running
    })
    .await;
    let replay = s
        .market
        .replay(&s.director.0, "acme", id, true)
        .await
        .unwrap();
    assert_eq!(
        replay.state,
        mercato_registry::replays::ReplayState::Finished,
        "{replay:?}"
    );
    replay.report.unwrap()
}

/// Eight recorded calls with known answers from each version: the report
/// lists exactly the five that differ, by kind, with their diffs; the real
/// store, events and approvals are as they were, byte for byte.
async fn the_report_lists_exactly_the_known_differences_on(s: &Seeded) {
    with_candidate(s, &["store", "events"]).await;
    schedule_s1(s).await;
    recording_on(s).await;
    let at = wall_ms();
    let book = |customer: &str| json!({"session-id": "s-1", "customer": customer});
    let calls = [
        recorded("get-session", json!({"session-id": "s-1"}), at),
        recorded("reminders-due", json!({"before": 0}), at + 1),
        recorded("list-sessions", json!({"starting-from": null}), at + 2),
        recorded("book", book("ann"), at + 3),
        recorded("book", book("fail:1"), at + 4),
        recorded("book", book("loop"), at + 5),
        recorded("get-session", json!({"session-id": "s-1"}), at + 6),
        recorded("list-bookings", json!({"session-id": "s-1"}), at + 7),
    ];
    assert_eq!(
        s.market.registry().append_recorded(&calls).await.unwrap(),
        8
    );
    let before = real_effects(s).await;

    // What cannot be replayed is refused by name.
    let refused = |candidate: &str| ReplayRequest {
        candidate: candidate.into(),
        calls: None,
    };
    let err = s
        .market
        .start_replay(&s.director.0, "acme", INSTALL, refused("1.0.0"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("runs 1.0.0 already"), "{err}");
    let err = s
        .market
        .start_replay(&s.director.0, "acme", INSTALL, refused("9.9.9"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("9.9.9"), "{err}");

    let replay = s
        .market
        .start_replay(&s.director.0, "acme", INSTALL, refused("2.0.0"))
        .await
        .unwrap();
    assert_eq!(
        (
            replay.calls,
            replay.current.to_string(),
            replay.candidate.to_string()
        ),
        (8, "1.0.0".into(), "2.0.0".into())
    );
    let report = finished(s, &replay.id).await;
    assert_eq!(
        (
            report["calls"].as_u64(),
            report["identical"].as_u64(),
            report["different"].as_u64(),
            report["new_errors"].as_u64(),
            report["changed_results"].as_u64(),
            report["fixed"].as_u64(),
        ),
        (Some(8), Some(3), Some(5), Some(2), Some(3), Some(0)),
        "{report:#}"
    );
    let listed: Vec<(u64, &str)> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["index"].as_u64().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            (3, "different"),
            (4, "new-error"),
            (5, "new-error"),
            (6, "different"),
            (7, "different"),
        ],
        "{report:#}"
    );
    assert_eq!(report["listed_all"], true);
    let differences = &report["differences"];
    // The canned booking: its own id and no booking time.
    let paths = |i: usize| -> Vec<String> {
        differences[i]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(paths(0), ["/ok/ok/booked-at", "/ok/ok/id"]);
    // Each side saw the call's recorded time as now.
    assert_eq!(differences[0]["changes"][0]["current"], at + 3);
    assert_eq!(differences[0]["changes"][0]["candidate"], 0);
    assert_eq!(differences[0]["current"]["ok"]["ok"]["customer"], "ann");
    assert_eq!(
        differences[1]["candidate"]["ok"]["err"]["internal"], "fail:1 fails on purpose",
        "the component's own error: {:#}",
        differences[1]
    );
    // The real version booked three seats in its copy; the candidate none.
    assert_eq!(
        differences[3]["changes"],
        json!([{"path": "/ok/ok/booked", "current": 3, "candidate": 0}]),
        "{:#}",
        differences[3]
    );
    assert_eq!(
        differences[4]["current"]["ok"]["ok"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // The spinning booking hit a limit the current version never did.
    let new_limits = report["new_limit_hits"].as_object().unwrap();
    assert_eq!(
        new_limits.values().filter_map(Value::as_u64).sum::<u64>(),
        1,
        "{report:#}"
    );
    assert!(
        differences[2]["candidate"]["error"]["limit"].is_string(),
        "{:#}",
        differences[2]
    );
    assert_eq!(report["limit_hits"]["current"], json!({}));
    // Costs per side and their deltas.
    for side in ["current", "candidate"] {
        let fuel = &report["costs"][side]["fuel"];
        assert!(fuel["p50"].as_f64().unwrap() > 0.0, "{report:#}");
        assert!(fuel["p95"].as_f64() <= fuel["max"].as_f64());
        assert!(
            report["costs"][side]["memory_bytes"]["max"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
    let delta = report["costs"]["delta"]["fuel"]["max"].as_f64().unwrap();
    let max = |side: &str| report["costs"][side]["fuel"]["max"].as_f64().unwrap();
    assert_eq!(delta, max("candidate") - max("current"));
    // Events were emitted in the copies, captured, never delivered.
    assert_eq!(
        report["captured"],
        json!({"current": {"events": 3, "approvals": 0},
               "candidate": {"events": 0, "approvals": 0}}),
        "{report:#}"
    );
    assert_eq!(
        real_effects(s).await,
        before,
        "a replay touched the real store"
    );

    // The replay is listed, newest first, for the install.
    let replays = s
        .market
        .registry()
        .replays(&s.director.0, "acme", INSTALL)
        .await
        .unwrap();
    assert_eq!(replays[0].id, replay.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_lists_exactly_the_known_differences_on_sqlite() {
    let (dir, db) = sqlite().await;
    let mut s = market_on(db).await;
    s.dir = Some(dir);
    the_report_lists_exactly_the_known_differences_on(&s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_lists_exactly_the_known_differences_on_postgres() {
    let s = market_on(postgres().await).await;
    the_report_lists_exactly_the_known_differences_on(&s).await;
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
        .body(Body::from(if body.is_null() {
            String::new()
        } else {
            body.to_string()
        }))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Over HTTP: recording on, real calls recorded masked (the contact details
/// in them never stored), nothing recorded while tracking is off, a replay
/// started, polled and reported; whom the recordings are refused to.
async fn recordings_over_http_on(s: &Seeded) {
    with_candidate(s, &["store", "events"]).await;
    let router = mercato_server::http::app(s.market.clone());
    let (dora, ray) = (s.director.1.as_str(), s.rep.1.as_str());
    let install = format!("/v1/tenants/acme/installs/{INSTALL}");
    let calls = format!("/v1/tenants/acme/components/{INSTALL}");

    let (status, body) = call(
        &router,
        dora,
        "POST",
        &format!("{install}/replays"),
        json!({"candidate": "2.0.0"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("no-recordings")),
        "{body}"
    );
    let (status, body) = call(
        &router,
        dora,
        "PUT",
        &format!("{install}/recording"),
        json!({"calls": 20_000}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("calls"),
        "{body}"
    );
    let (status, _) = call(
        &router,
        ray,
        "PUT",
        &format!("{install}/recording"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "a rep cannot switch recording on");
    let (status, body) = call(
        &router,
        dora,
        "PUT",
        &format!("{install}/recording"),
        json!({"calls": 50, "retention_hours": 24}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["recording"],
        json!({"calls": 50, "retention_hours": 24})
    );

    let email = "mia.chen@example.com";
    let phone = "13812345678";
    let (status, body) = call(&router, ray, "POST", &format!("{calls}/schedule"),
        json!({"draft": {"title": format!("Launch, questions to {email} or +86 {phone}"),
                         "host": "Mia", "starts-at": STARTS, "duration-minutes": 30, "capacity": 50}})).await;
    assert_eq!(status, 200, "{body}");
    for customer in [phone, email, "ann"] {
        let (status, body) = call(
            &router,
            ray,
            "POST",
            &format!("{calls}/book"),
            json!({"session-id": "s-1", "customer": customer}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, listed) = call(
        &router,
        dora,
        "GET",
        &format!("{install}/recordings"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let recorded = listed["calls"].as_array().unwrap();
    let functions: Vec<&str> = recorded
        .iter()
        .map(|c| c["function"].as_str().unwrap())
        .collect();
    assert_eq!(
        functions,
        ["schedule", "book", "book", "book"],
        "{listed:#}"
    );
    assert_eq!(
        recorded[3]["args"]["customer"], "ann",
        "what is not contact detail stays"
    );
    assert_eq!(recorded[0]["outcome"]["ok"]["ok"]["host"], "Mia");
    // Nothing stored anywhere holds the contact details.
    let text = listed.to_string();
    for secret in [email, phone, "12345678", "mia.chen"] {
        assert!(
            !text.contains(secret),
            "`{secret}` was recorded: {listed:#}"
        );
    }
    let raw = mercato_registry::db::dump_raw(
        s.market.registry().database(),
        "SELECT args || ' ' || outcome FROM recorded_calls",
    )
    .await
    .unwrap();
    assert_eq!(raw.len(), 4);
    for secret in [email, phone, "12345678"] {
        assert!(raw.iter().all(|r| !r.contains(secret)), "{raw:?}");
    }

    // Tracking off: nothing is recorded; on again: recorded again.
    let (status, _) = call(&router, dora, "PATCH", &install, json!({"tracking": false})).await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &router,
        ray,
        "POST",
        &format!("{calls}/list-sessions"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, listed) = call(
        &router,
        dora,
        "GET",
        &format!("{install}/recordings"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (
            listed["tracking"].as_bool(),
            listed["calls"].as_array().map(Vec::len)
        ),
        (Some(false), Some(4)),
        "{listed:#}"
    );
    s.market
        .update(
            &s.director.0,
            "acme",
            INSTALL,
            InstallUpdate {
                tracking: Some(true),
                ..InstallUpdate::default()
            },
        )
        .await
        .unwrap();

    // Nobody outside the tenant's directors reads them.
    for (who, expected) in [
        ("gus", 403),
        ("legal", 403),
        ("ops", 403),
        ("ray", 403),
        ("dev", 403),
    ] {
        let token = s.app.token(who);
        let (status, body) = call(
            &router,
            token,
            "GET",
            &format!("{install}/recordings"),
            Value::Null,
        )
        .await;
        assert_eq!(status, expected, "{who}: {body}");
        let (status, _) = call(
            &router,
            token,
            "POST",
            &format!("{install}/replays"),
            json!({"candidate": "2.0.0"}),
        )
        .await;
        assert_eq!(status, expected, "{who} started a replay");
    }

    // A replay over HTTP: 202, then its state, then its report.
    let (status, started) = call(
        &router,
        dora,
        "POST",
        &format!("{install}/replays"),
        json!({"candidate": "2.0.0"}),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    assert_eq!(started["calls"], 4);
    let replay = format!("/v1/tenants/acme/replays/{id}");
    eventually("the replay finishes", || async {
        call(&router, dora, "GET", &replay, Value::Null).await.1["state"] != "running"
    })
    .await;
    let (status, state) = call(&router, dora, "GET", &replay, Value::Null).await;
    assert_eq!(
        (status, state["state"].as_str()),
        (200, Some("finished")),
        "{state}"
    );
    assert!(
        state.get("report").is_none_or(Value::is_null),
        "the status leaves the report out"
    );
    let (status, body) = call(
        &router,
        dora,
        "GET",
        &format!("{replay}/report"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let report = &body["report"];
    // Replayed on a copy of the state after the real calls: the session is
    // there, the three customers already hold seats.
    assert_eq!(
        (report["calls"].as_u64(), report["candidate"].as_str()),
        (Some(4), Some("2.0.0")),
        "{report:#}"
    );
    assert_eq!(
        report["identical"].as_u64().unwrap() + report["different"].as_u64().unwrap(),
        4
    );
    for (who, token) in [
        ("gus", s.app.token("gus")),
        ("legal", s.app.token("legal")),
        ("ops", s.app.token("ops")),
    ] {
        let (status, _) = call(
            &router,
            token,
            "GET",
            &format!("{replay}/report"),
            Value::Null,
        )
        .await;
        assert_eq!(status, 403, "{who} read the report");
    }
    let (status, listed) = call(
        &router,
        dora,
        "GET",
        &format!("{install}/replays"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, listed["replays"][0]["id"].as_str()),
        (200, Some(id.as_str()))
    );
    let audit = s
        .app
        .registry()
        .audit_entries(&s.director.0, Some("acme"), 0, 1000)
        .await
        .unwrap();
    let started = audit
        .iter()
        .find(|e| e.action == "replay.start")
        .expect("the replay's start is audited");
    let after: Value = serde_json::from_str(&started.after).unwrap();
    assert_eq!(
        (
            started.subject.as_str(),
            after["replay"].as_str(),
            after["candidate"].as_str(),
            after["calls"].as_u64()
        ),
        (
            "acme/livestream-booking",
            Some(id.as_str()),
            Some("2.0.0"),
            Some(4)
        ),
        "{started:?}"
    );

    // Off: the ring is deleted.
    let (status, _) = call(
        &router,
        dora,
        "DELETE",
        &format!("{install}/recording"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (_, listed) = call(
        &router,
        dora,
        "GET",
        &format!("{install}/recordings"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (
            listed["recording"].is_null(),
            listed["calls"].as_array().map(Vec::len)
        ),
        (true, Some(0))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recordings_are_masked_bounded_and_the_tenants_own_on_sqlite() {
    let (dir, db) = sqlite().await;
    let mut s = market_on(db).await;
    s.dir = Some(dir);
    recordings_over_http_on(&s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn recordings_are_masked_bounded_and_the_tenants_own_on_postgres() {
    let s = market_on(postgres().await).await;
    recordings_over_http_on(&s).await;
}

/// The ring keeps the newest calls up to its size.
#[tokio::test(flavor = "multi_thread")]
async fn the_ring_keeps_only_the_newest_calls() {
    let (dir, db) = sqlite().await;
    let mut s = market_on(db).await;
    s.dir = Some(dir);
    s.market
        .set_recording(
            &s.director.0,
            "acme",
            INSTALL,
            Some(Recording {
                calls: 10,
                retention_hours: 1,
            }),
        )
        .await
        .unwrap();
    let at = wall_ms();
    let calls: Vec<NewRecordedCall> = (0..25)
        .map(|i| recorded("reminders-due", json!({"before": i}), at + i))
        .collect();
    s.market.registry().append_recorded(&calls).await.unwrap();
    let kept = s
        .market
        .recorded_calls(&s.director.0, "acme", INSTALL, 100)
        .await
        .unwrap();
    let befores: Vec<i64> = kept
        .iter()
        .map(|c| c.args["before"].as_i64().unwrap())
        .collect();
    assert_eq!(befores, (15..25).collect::<Vec<_>>());
    // Older than the retention: not shown, and not replayed.
    let stale = [recorded(
        "reminders-due",
        json!({"before": 99}),
        at - 2 * 3_600_000,
    )];
    s.market.registry().append_recorded(&stale).await.unwrap();
    let kept = s
        .market
        .recorded_calls(&s.director.0, "acme", INSTALL, 100)
        .await
        .unwrap();
    assert!(kept.iter().all(|c| c.args["before"] != 99), "{kept:?}");
}

/// A developer's fixture calls, signed in the package, replayed for the
/// reviewer against the last approved version.
#[tokio::test(flavor = "multi_thread")]
async fn the_reviewer_sees_the_fixture_calls_replayed() {
    let (dir, db) = sqlite().await;
    let mut s = market_on(db).await;
    s.dir = Some(dir);
    let mut candidate = manifest(
        "mercato/livestream-booking",
        "2.0.0",
        Kind::LivestreamBooking,
        &["store", "events"],
    );
    candidate.fixtures = serde_json::from_value(json!([
        {"function": "schedule", "args": {"draft": {"title": "Launch", "host": "Mia",
            "starts-at": STARTS, "duration-minutes": 30, "capacity": 5}}},
        {"function": "book", "args": {"session-id": "s-1", "customer": "ann"}},
        {"function": "book", "args": {"session-id": "s-1", "customer": "fail:1"}},
        {"function": "list-sessions", "args": {"starting-from": null}}
    ]))
    .unwrap();
    let package = s.app.package(
        &candidate,
        &mercato_artifacts::read(mercato_artifacts::HOSTILE),
    );
    s.market.publish(&s.developer.0, package).await.unwrap();
    let router = mercato_server::http::app(s.market.clone());
    let uri = "/v1/packages/mercato/livestream-booking/2.0.0/fixtures";
    let (status, body) = call(&router, s.app.token("legal"), "GET", uri, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    let report = &body["report"];
    assert_eq!(
        (
            report["calls"].as_u64(),
            report["current"].as_str(),
            report["candidate"].as_str()
        ),
        (Some(4), Some("1.0.0"), Some("2.0.0")),
        "{report:#}"
    );
    let kinds: Vec<&str> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    // Every fixture is listed for the reviewer, identical ones too.
    assert_eq!(
        kinds,
        ["identical", "different", "new-error", "different"],
        "{report:#}"
    );
    assert_eq!(report["new_errors"], 1);
    // A version without fixtures says so.
    let (status, body) = call(
        &router,
        s.app.token("legal"),
        "GET",
        "/v1/packages/mercato/livestream-booking/1.0.0/fixtures",
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, body["report"]["calls"].as_u64()),
        (200, Some(0)),
        "{body}"
    );
}

/// The console: the director's rollout page switches recording on, starts a
/// replay whose page shows the report, starts a canary whose guardrails it
/// shows; the reviewer's review page shows the fixtures replayed; another
/// tenant's director sees nothing of it.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_records_replays_and_shows_the_reports() {
    use crate::console::Browser;
    let (dir, db) = sqlite().await;
    let mut s = market_on(db).await;
    s.dir = Some(dir);
    with_candidate(&s, &["store", "events"]).await;
    schedule_s1(&s).await;
    let page = format!("/tenants/acme/installs/{INSTALL}/rollout");
    let mut b = Browser::new(&s.app);
    b.sign_in(&s.director.1).await;
    let csrf = b.csrf().await;
    let shown = b.get(&page).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(
        shown.body.contains("id=\"recording-off\""),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains("<option value=\"2.0.0\">"),
        "{}",
        shown.body
    );
    assert!(
        !shown.body.contains("id=\"start-replay\""),
        "nothing to replay yet"
    );

    let on = b
        .post(
            &page,
            &[
                ("csrf", &csrf),
                ("action", "record-on"),
                ("calls", "100"),
                ("retention_hours", "24"),
            ],
        )
        .await;
    assert!(on.body.contains("id=\"recording-on\""), "{}", on.body);
    let too_many = b
        .post(
            &page,
            &[
                ("csrf", &csrf),
                ("action", "record-on"),
                ("calls", "99999"),
                ("retention_hours", "24"),
            ],
        )
        .await;
    assert!(too_many.body.contains("id=\"error\""), "{}", too_many.body);
    assert!(too_many.body.contains("calls"), "{}", too_many.body);
    for customer in ["ann", "fail:7"] {
        s.market
            .invoke(
                &s.rep.0,
                "acme",
                INSTALL,
                "book",
                json!({"session-id": "s-1", "customer": customer}),
            )
            .await
            .unwrap();
    }
    let shown = b.get(&page).await;
    assert!(shown.body.contains("id=\"start-replay\""), "{}", shown.body);

    let started = b
        .post(
            &page,
            &[("csrf", &csrf), ("action", "replay"), ("version", "2.0.0")],
        )
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let replay = started.location().to_owned();
    assert!(replay.starts_with("/tenants/acme/replays/rep-"), "{replay}");
    // Waits on the report being there, up to a bound far above any need.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let report = loop {
        let page = b.get(&replay).await;
        if page.body.contains("id=\"replay-report\"") {
            break page.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replay never finished: {}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    // Replayed on the state after both bookings: ann's seat is found again
    // (the canned booking differs); fail:7 now fails.
    assert!(
        report.contains("<dd id=\"replay-calls\">2</dd>"),
        "{report}"
    );
    assert!(
        report.contains("<dd id=\"replay-identical\">0</dd>"),
        "{report}"
    );
    assert!(
        report.contains("<dd id=\"replay-new-errors\" class=\"bad\">1</dd>"),
        "{report}"
    );
    assert_eq!(
        report.matches("data-kind=\"new-error\"").count(),
        1,
        "{report}"
    );
    assert_eq!(
        report.matches("data-kind=\"different\"").count(),
        1,
        "{report}"
    );
    let listed = b.get(&page).await;
    assert!(
        listed.body.contains(&replay),
        "the rollout page links it: {}",
        listed.body
    );

    let canary = b
        .post(
            &page,
            &[
                ("csrf", &csrf),
                ("action", "start"),
                ("version", "2.0.0"),
                ("share", "50"),
                ("auto_abort", "on"),
            ],
        )
        .await;
    assert!(
        canary.body.contains("id=\"canary-running\""),
        "{}",
        canary.body
    );
    assert!(
        canary.body.contains("data-guardrail=\"errors\""),
        "{}",
        canary.body
    );

    // Another tenant's director: refused, nothing shown.
    let mut other = Browser::new(&s.app);
    other.sign_in(s.app.token("gus")).await;
    for uri in [page.as_str(), replay.as_str()] {
        let refused = other.get(uri).await;
        assert_eq!(refused.status, 403, "{uri}: {}", refused.body);
        assert!(!refused.body.contains("replay-report") && !refused.body.contains("recording-on"));
    }

    // The reviewer: a version with fixtures shows them replayed.
    let mut next = manifest(
        "mercato/livestream-booking",
        "3.0.0",
        Kind::LivestreamBooking,
        &["store", "events"],
    );
    next.fixtures = serde_json::from_value(json!([
        {"function": "list-sessions", "args": {"starting-from": null}},
        {"function": "book", "args": {"session-id": "s-1", "customer": "fail:1"}}
    ]))
    .unwrap();
    let package = s
        .app
        .package(&next, &mercato_artifacts::read(mercato_artifacts::HOSTILE));
    s.market.publish(&s.developer.0, package).await.unwrap();
    let mut legal = Browser::new(&s.app);
    legal.sign_in(s.app.token("legal")).await;
    let review = legal.get("/review/mercato/livestream-booking/3.0.0").await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(
        review.body.contains("<dd id=\"replay-calls\">2</dd>"),
        "{}",
        review.body
    );
    assert!(
        review.body.contains("data-kind=\"identical\""),
        "{}",
        review.body
    );
    let without = legal.get("/review/mercato/livestream-booking/2.0.0").await;
    assert!(
        without.body.contains("id=\"no-fixtures\""),
        "{}",
        without.body
    );
}
