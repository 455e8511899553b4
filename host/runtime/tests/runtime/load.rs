//! Loading refuses what is not a component of the right kind, naming why.

use mercato_runtime::{Kind, LoadError, Runtime};

use crate::harness::shared;

fn refuse(kind: Kind, bytes: &[u8]) -> LoadError {
    shared()
        .runtime
        .load(kind, bytes)
        .expect_err("must be refused")
}

#[test]
fn garbage_is_not_wasm() {
    let err = refuse(Kind::LivestreamBooking, b"definitely not wasm");
    assert!(matches!(err, LoadError::NotWasm), "{err}");
}

#[test]
fn a_core_module_is_refused_as_such() {
    let module = wat::parse_str("(module (func (export \"book\")))").unwrap();
    let err = refuse(Kind::LivestreamBooking, &module);
    assert!(matches!(err, LoadError::CoreModule), "{err}");
    assert!(err.to_string().contains("core WebAssembly module"));
}

#[test]
fn a_truncated_component_is_malformed() {
    let bytes = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    let err = refuse(Kind::LivestreamBooking, &bytes[..bytes.len() / 2]);
    assert!(matches!(err, LoadError::Invalid(_)), "{err}");
}

#[test]
fn the_wrong_kind_names_the_missing_export() {
    let bytes = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    let err = refuse(Kind::SampleRequests, &bytes);
    match &err {
        LoadError::WrongWorld { kind, detail } => {
            assert_eq!(*kind, Kind::SampleRequests);
            assert!(detail.contains("mercato:sales/samples@0.2.0"), "{detail}");
        }
        other => panic!("expected WrongWorld, got {other}"),
    }
}

/// A component exporting both interfaces, every function `func() -> u32`.
fn impostor(component_functions: &[&str]) -> Vec<u8> {
    let exports = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("(export \"{n}\" (func $f))"))
            .collect::<String>()
    };
    let wat = format!(
        r#"(component
        (core module $m (func (export "f") (result i32) i32.const 0))
        (core instance $i (instantiate $m))
        (func $f (result u32) (canon lift (core func $i "f")))
        (instance $ls {})
        (export "mercato:sales/livestream@0.1.0" (instance $ls))
        (instance $c {})
        (export "mercato:sales/component@0.1.0" (instance $c)))"#,
        exports(&[
            "schedule",
            "book",
            "cancel-booking",
            "cancel-session",
            "get-session",
            "list-sessions",
            "list-bookings",
            "reminders-due"
        ]),
        exports(component_functions)
    );
    wat::parse_str(wat).unwrap()
}

fn wrong_world_detail(bytes: &[u8]) -> String {
    match refuse(Kind::LivestreamBooking, bytes) {
        LoadError::WrongWorld { detail, .. } => detail,
        other => panic!("expected WrongWorld, got {other}"),
    }
}

#[test]
fn a_missing_function_is_named() {
    let detail = wrong_world_detail(&impostor(&[]));
    assert!(detail.starts_with("`mercato:sales/component@0.1.0` has no function `describe` (expected `func() -> record{"), "{detail}");
}

#[test]
fn a_mismatched_function_type_is_named() {
    let detail = wrong_world_detail(&impostor(&[
        "describe",
        "validate-settings",
        "approval-decided",
    ]));
    assert!(detail.starts_with("`mercato:sales/component@0.1.0#describe` is `func() -> u32`, but the world expects `func() -> record{title: string"), "{detail}");
}

#[test]
fn an_unknown_import_is_named() {
    let wat = r#"(component
        (import "evil:net/socket@1.0.0" (instance $s (export "open" (func))))
    )"#;
    let err = refuse(Kind::LivestreamBooking, &wat::parse_str(wat).unwrap());
    match &err {
        LoadError::UnknownImport(detail) => {
            assert!(detail.contains("evil:net/socket@1.0.0"), "{detail}")
        }
        other => panic!("expected UnknownImport, got {other}"),
    }
}

#[test]
fn an_oversized_component_is_refused_before_parsing() {
    let big = vec![0u8; mercato_runtime::runtime::MAX_COMPONENT_BYTES + 1];
    assert!(matches!(
        refuse(Kind::LivestreamBooking, &big),
        LoadError::TooLarge { .. }
    ));
}

#[test]
fn a_restart_loads_from_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    let first = Runtime::builder().cache_dir(dir.path()).build().unwrap();
    let loaded = first.load(Kind::LivestreamBooking, &bytes).unwrap();
    assert!(!loaded.from_cache());
    drop(first);
    let second = Runtime::builder().cache_dir(dir.path()).build().unwrap();
    let reloaded = second.load(Kind::LivestreamBooking, &bytes).unwrap();
    assert!(
        reloaded.from_cache(),
        "a restart must deserialize, not recompile"
    );
    assert_eq!(reloaded.digest(), loaded.digest());
    assert!(reloaded.function("book").is_some());
    drop((reloaded, second));

    // A corrupted cache file is dropped and rebuilt, not trusted.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let tmp = path.with_extension("corrupt");
        std::fs::write(&tmp, b"garbage").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    let third = Runtime::builder().cache_dir(dir.path()).build().unwrap();
    assert!(
        !third
            .load(Kind::LivestreamBooking, &bytes)
            .unwrap()
            .from_cache()
    );
}

/// The value of the first `mercato-wit` custom section, anywhere in the binary.
fn stamp(bytes: &[u8]) -> Option<String> {
    wasmparser::Parser::new(0)
        .parse_all(bytes)
        .find_map(|p| match p.ok()? {
            wasmparser::Payload::CustomSection(s) if s.name() == "mercato-wit" => {
                Some(String::from_utf8_lossy(s.data()).into_owned())
            }
            _ => None,
        })
}

#[test]
fn sdk_components_carry_the_wit_stamp() {
    let bytes = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    assert_eq!(stamp(&bytes).as_deref(), Some("mercato:sales@0.2.0"));
}

#[test]
fn a_component_built_for_another_wit_version_is_refused() {
    let mut bytes = impostor(&["describe"]);
    // Append a top-level custom section: id 0, size, name, payload.
    let name = b"mercato-wit";
    let payload = b"mercato:sales@9.0.0";
    bytes.push(0);
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    match refuse(Kind::LivestreamBooking, &bytes) {
        LoadError::UnsupportedWit { found, supported } => {
            assert_eq!(
                (found.as_str(), supported.as_str()),
                (
                    "mercato:sales@9.0.0",
                    "mercato:sales@0.2.0, mercato:sales@0.1.0"
                )
            );
        }
        other => panic!("expected UnsupportedWit, got {other}"),
    }
}

/// A component built against WIT 0.1 before 0.2 existed loads as 0.1 and
/// runs through the 0.1 host interfaces (store, events, clock) as it did.
#[test]
fn a_component_built_against_wit_0_1_keeps_running() {
    use mercato_runtime::WitVersion;
    use serde_json::json;

    let host = crate::harness::TestHost::new();
    let old = std::sync::Arc::new(host.load(
        Kind::LivestreamBooking,
        mercato_artifacts::LIVESTREAM_BOOKING_V0_1,
    ));
    assert_eq!(old.wit(), WitVersion::V0_1);
    assert!(old.function("book").is_some());
    assert!(
        old.function("forget-customer").is_none(),
        "0.1 has no erasure"
    );
    let c = crate::harness::Caller::new(&host, old, "acme");
    let session = c.ok(
        "schedule",
        json!({"draft": {"title": "Old build", "host": "Mia",
                         "starts-at": crate::harness::NOW + crate::harness::HOUR,
                         "duration-minutes": 30, "capacity": 1}}),
    );
    let booked = c.ok(
        "book",
        json!({"session-id": session["id"], "customer": "ann"}),
    );
    assert_eq!(booked["status"], "confirmed");
    assert_eq!(c.ok("list-sessions", json!({}))[0]["booked"], 1);
    assert!(
        host.state
            .events(&mercato_runtime::Scope::new("acme", "test/component"))
            .iter()
            .any(|e| e.name == "booking.confirmed"),
        "0.1's events.emit reaches the store"
    );
}
