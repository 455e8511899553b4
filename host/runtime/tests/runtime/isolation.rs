//! What a component can make the host hold or do is bounded by its own
//! budget: every per-invocation buffer in count and bytes, the commit within
//! the deadline, retries within one budget, the store within its quota; a
//! returned error commits nothing; appends never conflict; traps are named
//! by what really ended them.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mercato_runtime::{
    CallContext, Grants, InvokeError, Kind, Limit, Limits, MemoryState, Permission, Runtime, Scope,
    StateError, StateStore,
};
use mercato_types::{Commit, Usage, Version};
use serde_json::json;

use crate::harness::{Caller, HOUR, NOW, shared};

fn booked(c: &Caller<'_>, customer: &str) -> Result<mercato_runtime::Outcome, InvokeError> {
    let session = c.ok(
        "schedule",
        json!({"draft": {"title": "t", "host": "h", "starts-at": NOW + HOUR,
                         "duration-minutes": 30, "capacity": 10}}),
    );
    c.try_call(
        "book",
        json!({"session-id": session["id"], "customer": customer}),
    )
}

/// Book as `customer` in a fresh tenant; the call must fail on `limit` and
/// leave the store as it was.
fn limited(
    tenant: &str,
    customer: &str,
    limit: Limit,
    configure: impl FnOnce(Caller) -> Caller,
) -> String {
    let host = shared();
    let c = configure(Caller::new(host, host.hostile(), tenant));
    let session = c.ok(
        "schedule",
        json!({"draft": {"title": "t", "host": "h", "starts-at": NOW + HOUR,
                         "duration-minutes": 30, "capacity": 10}}),
    );
    let before = c.stored();
    let events_before = host.state.events(&c.call.scope).len();
    let err = c
        .try_call(
            "book",
            json!({"session-id": session["id"], "customer": customer}),
        )
        .expect_err("the call must be stopped");
    assert_eq!(
        err.limit(),
        Some(limit),
        "expected the {limit} limit: {err}"
    );
    assert!(err.to_string().contains(limit.as_str()), "{err}");
    assert_eq!(c.stored(), before, "nothing of a limited call is committed");
    assert_eq!(host.state.events(&c.call.scope).len(), events_before);
    assert!(host.state.approvals(&c.call.scope).is_empty());
    err.to_string()
}

#[test]
fn events_are_bounded_by_count_and_by_bytes() {
    let by_count = limited("ev-count", "events:5000:1", Limit::Events, |c| c);
    assert!(by_count.contains("at most 100 events"), "{by_count}");
    // Ten events of 100 kB: few, but 1 MB in all, over the 256 KiB default.
    let by_bytes = limited("ev-bytes", "events:10:100000", Limit::Events, |c| c);
    assert!(by_bytes.contains("bytes"), "{by_bytes}");
    // The bound holds with tracking off too (events are dropped, not kept).
    limited("ev-off", "events:5000:1", Limit::Events, |c| {
        let mut call = (*c.call).clone();
        call.track_events = false;
        Caller {
            call: Arc::new(call),
            ..c
        }
    });
}

#[test]
fn approval_requests_are_bounded_by_count_and_by_bytes() {
    let grants: Grants = [Permission::Store, Permission::Approvals]
        .into_iter()
        .collect();
    limited("apr-count", "approvals:50:1", Limit::Approvals, |c| {
        c.with_grants(grants.clone())
    });
    let by_bytes = limited("apr-bytes", "approvals:5:100000", Limit::Approvals, |c| {
        c.with_grants(grants.clone())
    });
    assert!(by_bytes.contains("bytes"), "{by_bytes}");
}

#[test]
fn store_writes_are_bounded_by_count_bytes_and_the_memory_limit() {
    limited("wr-count", "writes:2000:1", Limit::Writes, |c| c);
    let by_bytes = limited("wr-bytes", "writes:10:1000000", Limit::Writes, |c| c);
    assert!(by_bytes.contains("4194304"), "{by_bytes}");
    // With write limits raised to the caps, the invocation's own memory
    // limit still bounds what the host buffers for it.
    let memory = limited("wr-memory", "writes:12:1000000", Limit::Writes, |c| {
        c.with_limits(Limits {
            memory_bytes: 8 << 20,
            writes: Limits::PLATFORM_CAPS.writes,
            write_bytes: Limits::PLATFORM_CAPS.write_bytes,
            ..Limits::default()
        })
    });
    assert!(memory.contains("memory limit"), "{memory}");
}

#[test]
fn log_lines_are_bounded_in_count_even_when_empty() {
    let host = shared();
    let c = Caller::new(host, host.hostile(), "log-count");
    let outcome = booked(&c, "log-calls:100000").expect("logging never fails a call");
    let cap = (Limits::default().log_bytes / 64) as usize;
    assert!(
        outcome.logs.len() <= cap,
        "{} lines kept",
        outcome.logs.len()
    );
    assert_eq!(outcome.logs.len() + outcome.logs_dropped, 100_000);
}

#[test]
fn a_scope_over_its_quota_commits_nothing() {
    let err = limited("quota-keys", "writes:10:1", Limit::Store, |c| {
        c.with_limits(Limits {
            store_keys: 5,
            ..Limits::default()
        })
    });
    assert!(err.contains("quota is 5 keys"), "{err}");
    limited("quota-bytes", "writes:3:100000", Limit::Store, |c| {
        c.with_limits(Limits {
            store_bytes: 200_000,
            ..Limits::default()
        })
    });
}

#[test]
fn a_returned_error_commits_nothing() {
    let host = shared();
    let c = Caller::new(host, host.hostile(), "error-result");
    let outcome = booked(&c, "fail-after-write").expect("the call itself succeeds");
    assert_eq!(
        outcome.json()["err"]["internal"],
        "deliberate failure after writing"
    );
    assert!(
        !c.stored().contains_key("session/evil"),
        "{:?}",
        c.stored().keys()
    );
}

#[test]
fn appends_that_read_nothing_never_conflict() {
    let host = shared();
    let c = Caller::new(host, host.hostile(), "append-only");
    // The scope holds state (version > 0) before the append.
    let outcome = booked(&c, "emit-only").expect("an append commits");
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.events, 1);
    let events = host.state.events(&c.call.scope);
    assert_eq!(
        events.last().map(|e| e.name.as_str()),
        Some("hostile.emitted")
    );
}

#[test]
fn traps_are_named_by_what_ended_them() {
    // A refused memory.grow, then a loop: the loop's limit, not memory.
    limited("grow-loop", "grow-then-loop", Limit::Fuel, |c| c);
    // A frame larger than the whole stack is a stack overflow.
    limited("big-frame", "big-frame", Limit::Stack, |c| c);
}

#[test]
fn a_component_fault_does_not_carry_the_core_dump() {
    let host = shared();
    let c = Caller::new(host, host.hostile(), "fault-message");
    let err = booked(&c, "trap-after-write").expect_err("panics");
    let message = err.to_string();
    assert!(
        matches!(err, InvokeError::ComponentFault { .. }),
        "{message}"
    );
    assert!(message.contains("deliberate panic"), "{message}");
    for leak in ["core dump", "coredump", "wasm backtrace", "0x"] {
        assert!(!message.contains(leak), "`{leak}` leaked: {message}");
    }
    assert!(message.len() < 1000, "{} bytes", message.len());
}

#[test]
fn loading_checks_the_component_under_the_limits_its_calls_get() {
    let host = shared();
    let bytes = mercato_artifacts::read(mercato_artifacts::HOSTILE);
    let digest = mercato_runtime::component::digest(&bytes);
    let tiny = Limits {
        memory_bytes: 64 << 10,
        ..Limits::default()
    };
    let refused = host
        .runtime
        .load_verified(Kind::LivestreamBooking, &bytes, &digest, &tiny)
        .expect_err("it cannot even start in 64 KiB");
    assert!(refused.to_string().contains("instantiated"), "{refused}");
    host.runtime
        .load_verified(Kind::LivestreamBooking, &bytes, &digest, &Limits::default())
        .expect("loads under its own limits");
}

/// State whose commits misbehave by tenant: `conflict-*` always conflicts
/// (as if another host kept writing), `slow-*` takes longer than any
/// deadline in these tests before applying.
struct Scripted(MemoryState);

impl StateStore for Scripted {
    fn version(&self, scope: &Scope) -> Result<Version, StateError> {
        self.0.version(scope)
    }
    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.0.get(scope, key)
    }
    fn list_keys(&self, scope: &Scope, prefix: &str) -> Result<Vec<String>, StateError> {
        self.0.list_keys(scope, prefix)
    }
    fn usage(&self, scope: &Scope) -> Result<Usage, StateError> {
        self.0.usage(scope)
    }
    fn commit(&self, scope: &Scope, commit: Commit) -> Result<Version, StateError> {
        if scope.tenant.starts_with("conflict") {
            let base = commit.base.unwrap_or(0);
            return Err(StateError::Conflict {
                base,
                current: base + 1,
            });
        }
        if scope.tenant.starts_with("slow") {
            std::thread::sleep(Duration::from_millis(300));
        }
        self.0.commit(scope, commit)
    }
}

fn scripted() -> &'static (Runtime, Arc<mercato_runtime::LoadedComponent>) {
    static HOST: OnceLock<(Runtime, Arc<mercato_runtime::LoadedComponent>)> = OnceLock::new();
    HOST.get_or_init(|| {
        let runtime = Runtime::builder()
            .state(Arc::new(Scripted(MemoryState::new())))
            .clock(|| NOW)
            .build()
            .expect("runtime");
        let component = runtime
            .load(
                Kind::LivestreamBooking,
                &mercato_artifacts::read(mercato_artifacts::HOSTILE),
            )
            .expect("loads");
        (runtime, Arc::new(component))
    })
}

fn call_scripted(tenant: &str, limits: &Limits) -> Result<mercato_runtime::Outcome, InvokeError> {
    let (runtime, component) = scripted();
    let call = Arc::new(CallContext {
        scope: Scope::new(tenant, "test/component"),
        grants: [Permission::Store].into_iter().collect(),
        settings: "{}".into(),
        track_events: true,
        version: None,
    });
    runtime.invoke_json(
        component,
        &call,
        limits,
        "schedule",
        &json!({"draft": {"title": "t", "host": "h", "starts-at": NOW + HOUR,
                          "duration-minutes": 30, "capacity": 10}}),
    )
}

#[test]
fn retries_share_one_budget() {
    // What one attempt costs, measured where commits succeed.
    let once = call_scripted("measure", &Limits::default()).expect("schedules");
    let per_attempt = once.fuel_used;
    assert!(per_attempt > 0);
    let limits = Limits {
        fuel: per_attempt * 3 + per_attempt / 2,
        ..Limits::default()
    };
    let err = call_scripted("conflict-fuel", &limits).expect_err("never commits");
    assert_eq!(err.limit(), Some(Limit::Fuel), "{err}");
    assert!(err.to_string().contains("across"), "{err}");
}

#[test]
fn the_commit_is_part_of_the_deadline() {
    let limits = Limits {
        deadline_ms: 100,
        ..Limits::default()
    };
    let err = call_scripted("slow-commit", &limits).expect_err("commit too late");
    assert_eq!(err.limit(), Some(Limit::Deadline), "{err}");
    assert!(err.to_string().contains("committed"), "{err}");
    // Nothing of it is there.
    let again = call_scripted("slow-commit", &Limits::default()).expect("in time");
    assert_eq!(
        again.json()["ok"]["id"],
        "s-1",
        "the late commit left nothing"
    );
}

#[test]
fn code_too_complex_to_compile_is_refused_before_compiling() {
    let host = shared();
    // One function whose body is over 1 MiB.
    let body = "i32.const 0 drop ".repeat(400_000);
    let huge = format!("(component (core module (func {body})))");
    // One function with more locals than any real code declares.
    let locals = "i32 ".repeat(60_000);
    let many = format!("(component (core module (func (local {locals}))))");
    for (what, text) in [("body", huge), ("locals", many)] {
        let bytes = wat::parse_str(&text).expect("valid text");
        let err = host
            .runtime
            .load(Kind::LivestreamBooking, &bytes)
            .expect_err("refused");
        assert!(
            matches!(err, mercato_runtime::LoadError::TooComplex(_)),
            "{what}: {err}"
        );
        assert!(err.to_string().contains("limit"), "{err}");
    }
}

#[test]
fn text_no_store_can_keep_is_the_components_fault_never_a_storage_one() {
    let host = shared();
    for (i, mode) in ["nul-key", "nul-event", "nul-approval"]
        .into_iter()
        .enumerate()
    {
        let c = Caller::new(host, host.hostile(), &format!("nul-{i}")).with_grants(
            [Permission::Store, Permission::Events, Permission::Approvals]
                .into_iter()
                .collect(),
        );
        let err = booked(&c, mode).expect_err(mode);
        assert!(
            matches!(&err, InvokeError::ComponentFault { message } if message.contains("NUL")),
            "{mode}: {err:?}"
        );
        assert!(!c.stored().keys().any(|k| k.contains('\0')), "{mode}");
        assert!(host.state.events(&c.call.scope).is_empty(), "{mode}");
        assert!(host.state.approvals(&c.call.scope).is_empty(), "{mode}");
    }
}
