//! No ambient authority: no files, environment, arguments, network or clock.

use serde_json::json;

use crate::harness::{Caller, NOW, shared};

#[test]
fn a_component_finds_no_ambient_authority() {
    let host = shared();
    let c = Caller::new(host, host.hostile(), "probe");
    let report = c.ok("book", json!({"session-id": "s", "customer": "probe"}));
    assert_eq!(
        report["customer"],
        format!("fs=false env=0 args=0 net=false wall={NOW}"),
        "the wall clock is frozen at the invocation's start"
    );
}
