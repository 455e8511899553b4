//! Each hostile behaviour ends with the right typed error, leaves the store
//! as it was, and the very next normal call succeeds.

use mercato_runtime::CustomerProfile;
use mercato_runtime::{Grants, InvokeError, Limit, Limits, Permission};
use serde_json::json;

use crate::harness::{Caller, HOUR, NOW, shared};

/// Run `customer`'s misbehaviour in a fresh tenant and hand back the error
/// after checking the store is untouched and the component still serves.
fn misbehave(
    tenant: &str,
    customer: &str,
    configure: impl FnOnce(Caller) -> Caller,
) -> InvokeError {
    let host = shared();
    let c = configure(Caller::new(host, host.hostile(), tenant));
    let session = c.ok(
        "schedule",
        json!({"draft": {"title": "t", "host": "h", "starts-at": NOW + HOUR,
                                                    "duration-minutes": 30, "capacity": 10}}),
    );
    let before = c.stored();
    assert!(!before.is_empty());

    let err = c
        .try_call(
            "book",
            json!({"session-id": session["id"], "customer": customer}),
        )
        .expect_err("the hostile call must fail");

    assert_eq!(
        c.stored(),
        before,
        "a failed invocation must leave the store unchanged"
    );
    assert_eq!(
        c.ok("get-session", json!({"session-id": session["id"]}))["id"],
        session["id"]
    );
    assert_eq!(
        c.ok(
            "book",
            json!({"session-id": session["id"], "customer": "well-behaved"})
        )["customer"],
        "well-behaved"
    );
    err
}

fn assert_limit(err: &InvokeError, limit: Limit) {
    assert_eq!(
        err.limit(),
        Some(limit),
        "expected the {limit} limit, got: {err}"
    );
    assert!(err.to_string().contains(limit.as_str()), "{err}");
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let err = misbehave("loop-fuel", "loop", |c| c);
    assert_limit(&err, Limit::Fuel);
}

#[test]
fn an_infinite_loop_meets_its_deadline_when_fuel_is_plentiful() {
    let limits = Limits {
        fuel: Limits::PLATFORM_CAPS.fuel,
        deadline_ms: 100,
        ..Limits::default()
    };
    let err = misbehave("loop-deadline", "loop", |c| c.with_limits(limits));
    assert_limit(&err, Limit::Deadline);
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let err = misbehave("memory", "memory", |c| c.with_limits(limits));
    assert_limit(&err, Limit::Memory);
}

#[test]
fn deep_recursion_hits_the_stack_bound() {
    let err = misbehave("recurse", "recurse", |c| c);
    assert_limit(&err, Limit::Stack);
}

#[test]
fn an_oversized_result_hits_the_output_cap() {
    let err = misbehave("big-output", "big-output", |c| c);
    assert_limit(&err, Limit::Output);
}

#[test]
fn a_trap_after_writing_commits_nothing() {
    let err = misbehave("trap-after-write", "trap-after-write", |c| c);
    match &err {
        InvokeError::ComponentFault { message } => {
            assert!(
                message.contains("deliberate panic after writing"),
                "the panic message is reported: {message}"
            )
        }
        other => panic!("expected a component fault, got {other}"),
    }
}

#[test]
fn an_ungranted_import_names_the_permission() {
    let err = misbehave("ungranted", "ungranted", |c| c);
    match &err {
        InvokeError::PermissionDenied { permission, call } => {
            assert_eq!(*permission, Permission::Customers);
            assert_eq!(*call, "customers.get");
        }
        other => panic!("expected permission-denied, got {other}"),
    }
    assert!(err.to_string().contains("`customers`"));
}

#[test]
fn granted_customers_come_masked_unless_contact_is_granted() {
    let host = shared();
    host.customers.insert(
        "granted",
        CustomerProfile {
            id: "c-1".into(),
            name: "Li Wei".into(),
            company: Some("Acme".into()),
            email: Some("li.wei@example.com".into()),
            phone: Some("13812345678".into()),
            address: Some("1 Main St".into()),
            tags: vec!["vip".into()],
        },
    );
    let masked: Grants = [Permission::Store, Permission::Customers]
        .into_iter()
        .collect();
    let c = Caller::new(host, host.hostile(), "granted").with_grants(masked);
    let seen = c.ok(
        "book",
        json!({"session-id": "s-1", "customer": "ungranted"}),
    )["customer"]
        .clone();
    let seen = seen.as_str().unwrap();
    assert!(
        seen.contains("138****5678") && seen.contains("l***@example.com"),
        "{seen}"
    );
    assert!(
        !seen.contains("13812345678") && !seen.contains("1 Main St"),
        "{seen}"
    );
    assert!(seen.contains("contact-masked: true"), "{seen}");

    let c = c.with_grants(
        [
            Permission::Store,
            Permission::Customers,
            Permission::CustomersContact,
        ]
        .into_iter()
        .collect(),
    );
    let seen = c.ok(
        "book",
        json!({"session-id": "s-1", "customer": "ungranted"}),
    )["customer"]
        .clone();
    assert!(seen.as_str().unwrap().contains("13812345678"), "{seen}");
}

#[test]
fn sleeping_is_refused_instead_of_blocking_the_host() {
    let err = misbehave("sleep", "sleep", |c| c);
    assert!(
        matches!(&err, InvokeError::ComponentFault { message } if message.contains("would block")),
        "{err}"
    );
}

#[test]
fn exit_ends_only_the_invocation() {
    // wasip2's exit carries only success or failure, so exit(3) arrives as 1.
    let err = misbehave("exit", "exit", |c| c);
    assert!(
        matches!(&err, InvokeError::ComponentFault { message } if message.contains("called exit(1)")),
        "{err}"
    );
}

#[test]
fn a_chatty_component_is_capped_not_failed() {
    let host = shared();
    let limits = Limits {
        log_bytes: 4096,
        ..Limits::default()
    };
    let c = Caller::new(host, host.hostile(), "chatty").with_limits(limits);
    let outcome = c
        .try_call("book", json!({"session-id": "s", "customer": "log:20000"}))
        .unwrap();
    assert_eq!(outcome.json()["ok"]["customer"], "logged");
    let logged: usize = outcome.logs.iter().map(|l| l.message.len()).sum();
    assert!(logged > 0 && logged <= 4096, "{logged} bytes of log kept");
}
