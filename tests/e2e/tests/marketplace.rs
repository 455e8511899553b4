//! The marketplace's whole story over real HTTP against the `mercato`
//! binary: a developer registers a key, packs and publishes
//! livestream-booking; a reviewer approves it; a director enables it with
//! settings; a rep books; disabling refuses the next call; a version asking
//! for more permissions waits for the director; rollback works. Then every
//! refusal, by status and code, and the audit log's tamper check.

use ed25519_dalek::SigningKey;
use mercato_e2e::{Server, mercato, ok, refused, success};
use mercato_registry::{Manifest, Package};
use serde_json::{Value, json};

fn manifest_v(version: &str, permissions: &[&str], kind: &str) -> Manifest {
    serde_json::from_value(json!({
        "name": "mercato/livestream-booking", "version": version, "kind": kind,
        "wit": mercato_registry::package::WIT_PACKAGE, "permissions": permissions,
        "description": "Livestream sessions with limited seats, a waitlist and reminders."
    }))
    .expect("manifest")
}

#[test]
fn the_marketplace_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");

    // The operator bootstraps the platform from the console.
    let operator = ok(mercato(&[
        "admin",
        "create-account",
        "ops",
        "--role",
        "operator",
        "--data-dir",
        data_arg,
    ]));
    let server = Server::start(&data);
    let op = Some(operator.as_str());
    for tenant in ["acme", "globex"] {
        success(
            server.send("POST", "/v1/tenants", op, Some(&json!({"name": tenant}))),
            201,
        );
    }
    success(
        server.send(
            "POST",
            "/v1/publishers",
            op,
            Some(&json!({"name": "mercato"})),
        ),
        201,
    );
    let mut tokens = std::collections::HashMap::new();
    for (name, role, tenant, publisher) in [
        ("dev", "developer", None, Some("mercato")),
        ("legal", "reviewer", None, None),
        ("dora", "director", Some("acme"), None),
        ("ray", "rep", Some("acme"), None),
        ("gus", "director", Some("globex"), None),
    ] {
        let body = success(
            server.send(
                "POST",
                "/v1/accounts",
                op,
                Some(
                    &json!({"name": name, "role": role, "tenant": tenant, "publisher": publisher}),
                ),
            ),
            201,
        );
        tokens.insert(
            name,
            body["token"]["token"].as_str().expect("token").to_owned(),
        );
    }
    let t = |name: &str| Some(tokens[name].clone());
    let (dev, legal, dora, ray, gus) = (t("dev"), t("legal"), t("dora"), t("ray"), t("gus"));

    // The developer makes a key, registers it, packs, verifies and publishes.
    let key_path = dir.path().join("signing.key");
    let public = ok(mercato(&[
        "keygen",
        "--out",
        key_path.to_str().expect("path"),
    ]));
    success(
        server.send(
            "POST",
            "/v1/publishers/mercato/keys",
            dev.as_deref(),
            Some(&json!({"public_key": public})),
        ),
        201,
    );
    let package_path = dir.path().join("livestream.mrc");
    ok(mercato(&[
        "pack",
        "--manifest-path",
        "plugins/livestream-booking/Cargo.toml",
        "--key",
        key_path.to_str().expect("path"),
        "--wasm",
        mercato_artifacts::LIVESTREAM_BOOKING,
        "--out",
        package_path.to_str().expect("path"),
    ]));
    let verified = ok(mercato(&["verify", package_path.to_str().expect("path")]));
    assert!(verified.contains("signature:   valid"), "{verified}");
    let published = ok(mercato(&[
        "publish",
        package_path.to_str().expect("path"),
        "--server",
        &server.base,
        "--token",
        dev.as_deref().expect("token"),
    ]));
    let published: Value = serde_json::from_str(&published).expect("publish prints JSON");
    assert_eq!(published["state"], "submitted");
    let first = published["version"].as_str().expect("version").to_owned();

    // The reviewer finds it in the queue with its permissions, and approves.
    let queue = success(
        server.send(
            "GET",
            "/v1/packages?state=submitted",
            legal.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(queue["versions"].as_array().expect("list").len(), 1);
    let detail = success(
        server.send(
            "GET",
            &format!("/v1/packages/mercato/livestream-booking/{first}"),
            legal.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(
        detail["version"]["manifest"]["permissions"],
        json!(["store", "events"])
    );
    assert_eq!(
        detail["changes"]["permissions_added"],
        json!(["store", "events"])
    );
    refused(
        server.send(
            "POST",
            &format!("/v1/packages/mercato/livestream-booking/{first}/review"),
            ray.as_deref(),
            Some(&json!({"decision": "approve"})),
        ),
        403,
        "forbidden",
    );
    success(
        server.send(
            "POST",
            &format!("/v1/packages/mercato/livestream-booking/{first}/review"),
            legal.as_deref(),
            Some(&json!({"decision": "approve"})),
        ),
        200,
    );
    let catalog = success(
        server.send("GET", "/v1/catalog", dora.as_deref(), None),
        200,
    );
    assert_eq!(catalog["packages"][0]["name"], "mercato/livestream-booking");

    // The director enables it with settings; the component validates them.
    let install =
        json!({"package": "mercato/livestream-booking", "settings": {"max-capacity": 50}});
    refused(
        server.send(
            "POST",
            "/v1/tenants/acme/installs",
            legal.as_deref(),
            Some(&install),
        ),
        403,
        "forbidden",
    );
    refused(
        server.send(
            "POST",
            "/v1/tenants/acme/installs",
            gus.as_deref(),
            Some(&install),
        ),
        403,
        "forbidden",
    );
    let (status, body) = server.send(
        "POST",
        "/v1/tenants/acme/installs",
        dora.as_deref(),
        Some(&json!({"package": "mercato/livestream-booking", "settings": {"max-capacity": 0}})),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid-settings")),
        "{body}"
    );
    assert_eq!(
        body["error"]["details"]["fields"][0]["field"],
        "max-capacity"
    );
    success(
        server.send(
            "POST",
            "/v1/tenants/acme/installs",
            dora.as_deref(),
            Some(&install),
        ),
        201,
    );

    // A rep books seats.
    let base = "/v1/tenants/acme/components/livestream-booking";
    let session = success(
        server.send(
            "POST",
            &format!("{base}/schedule"),
            ray.as_deref(),
            Some(&json!({"draft": {
            "title": "Spring launch", "host": "Mia", "starts-at": 4_102_444_800_000u64,
            "duration-minutes": 45, "capacity": 2}})),
        ),
        200,
    );
    let sid = session["id"].as_str().expect("session id").to_owned();
    let mut statuses = Vec::new();
    for customer in ["ann", "bob", "cy"] {
        let b = success(
            server.send(
                "POST",
                &format!("{base}/book"),
                ray.as_deref(),
                Some(&json!({"session-id": sid, "customer": customer})),
            ),
            200,
        );
        statuses.push(b["status"].as_str().expect("status").to_owned());
    }
    assert_eq!(statuses, ["confirmed", "confirmed", "waitlisted"]);
    // Another tenant's director sees nothing of acme's data.
    refused(
        server.send(
            "POST",
            &format!("{base}/list-sessions"),
            gus.as_deref(),
            Some(&json!({})),
        ),
        403,
        "forbidden",
    );
    refused(
        server.send("GET", "/v1/tenants/acme/installs", gus.as_deref(), None),
        403,
        "forbidden",
    );
    refused(
        server.send(
            "PATCH",
            "/v1/tenants/acme/installs/livestream-booking",
            gus.as_deref(),
            Some(&json!({"enabled": false})),
        ),
        403,
        "forbidden",
    );

    // The director's customers and the events the component emitted.
    let director_token = dora.as_deref().expect("token");
    let (status, body) = server.raw(
        "POST",
        "/v1/tenants/acme/customers",
        director_token,
        "text/csv",
        "id,name,email,phone\nann,Ann Lee,ann@example.com,13812345678\nbob,Bob Roe,,\n",
    );
    assert_eq!((status, body.as_str()), (200, r#"{"imported":2}"#));
    let (status, body) = server.raw(
        "POST",
        "/v1/tenants/acme/customers",
        director_token,
        "text/csv",
        "id,name,email\nzed,Zed,not-an-address\n",
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("email") && body.contains("record 1"),
        "{body}"
    );
    refused(
        server.send(
            "GET",
            "/v1/tenants/acme/customers/ann",
            gus.as_deref(),
            None,
        ),
        403,
        "forbidden",
    );
    let events = success(
        server.send(
            "GET",
            "/v1/tenants/acme/events?customer=ann",
            dora.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(events["events"][0]["name"], "booking.confirmed", "{events}");
    let (status, csv) = server.raw(
        "GET",
        "/v1/tenants/acme/events?component=livestream-booking&format=csv",
        director_token,
        "text/plain",
        "",
    );
    assert_eq!(status, 200);
    assert!(
        csv.starts_with("id,occurred_at,component,name,customer,properties\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 4, "scheduled + 3 bookings: {csv}");
    let (status, ndjson) = server.raw(
        "GET",
        "/v1/tenants/acme/events?name=booking.confirmed&format=ndjson",
        director_token,
        "text/plain",
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(ndjson.lines().count(), 2, "{ndjson}");
    refused(
        server.send("GET", "/v1/tenants/acme/events", ray.as_deref(), None),
        403,
        "forbidden",
    );
    // Tracking off: the component works as before and nothing is stored.
    success(
        server.send(
            "PATCH",
            "/v1/tenants/acme/installs/livestream-booking",
            dora.as_deref(),
            Some(&json!({"tracking": false})),
        ),
        200,
    );
    success(
        server.send(
            "POST",
            &format!("{base}/book"),
            ray.as_deref(),
            Some(&json!({"session-id": sid, "customer": "dan"})),
        ),
        200,
    );
    let untracked = success(
        server.send(
            "GET",
            "/v1/tenants/acme/events?customer=dan",
            dora.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(untracked["events"], json!([]));
    success(
        server.send(
            "PATCH",
            "/v1/tenants/acme/installs/livestream-booking",
            dora.as_deref(),
            Some(&json!({"tracking": true})),
        ),
        200,
    );
    // Erasure on request: the profile and the events about ann are gone.
    let erased = success(
        server.send(
            "DELETE",
            "/v1/tenants/acme/customers/ann",
            dora.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(erased["events_removed"], 1);
    refused(
        server.send(
            "GET",
            "/v1/tenants/acme/customers/ann",
            dora.as_deref(),
            None,
        ),
        404,
        "unknown-customer",
    );
    let gone = success(
        server.send(
            "GET",
            "/v1/tenants/acme/events?customer=ann",
            dora.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(gone["events"], json!([]));

    // Disabled: the next call is refused; enabled again: it works.
    success(
        server.send(
            "PATCH",
            "/v1/tenants/acme/installs/livestream-booking",
            dora.as_deref(),
            Some(&json!({"enabled": false})),
        ),
        200,
    );
    refused(
        server.send(
            "POST",
            &format!("{base}/list-sessions"),
            ray.as_deref(),
            Some(&json!({})),
        ),
        409,
        "component-disabled",
    );
    success(
        server.send(
            "PATCH",
            "/v1/tenants/acme/installs/livestream-booking",
            dora.as_deref(),
            Some(&json!({"enabled": true})),
        ),
        200,
    );
    success(
        server.send(
            "POST",
            &format!("{base}/list-sessions"),
            ray.as_deref(),
            Some(&json!({})),
        ),
        200,
    );

    // Version 0.1.1 asks for `customers` too: it waits for the director.
    let key = SigningKey::from_bytes(
        &hex::decode(std::fs::read_to_string(&key_path).expect("key").trim())
            .expect("hex")
            .try_into()
            .expect("32 bytes"),
    );
    let code = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    let v2 = Package::build(
        &manifest_v(
            "0.1.1",
            &["store", "events", "customers"],
            "livestream-booking",
        ),
        &code,
        &key,
    )
    .expect("build");
    success(server.upload(dev.as_deref().expect("token"), &v2), 201);
    let detail = success(
        server.send(
            "GET",
            "/v1/packages/mercato/livestream-booking/0.1.1",
            legal.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(detail["changes"]["previous"], first);
    assert_eq!(detail["changes"]["permissions_added"], json!(["customers"]));
    let reviewed = success(
        server.send(
            "POST",
            "/v1/packages/mercato/livestream-booking/0.1.1/review",
            legal.as_deref(),
            Some(&json!({"decision": "approve"})),
        ),
        200,
    );
    assert_eq!(
        reviewed["rollout"]["awaiting_acceptance"],
        json!(["acme/livestream-booking"])
    );
    let waiting = success(
        server.send(
            "GET",
            "/v1/tenants/acme/installs/livestream-booking",
            dora.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(
        (waiting["version"].as_str(), waiting["pending"].as_str()),
        (Some(first.as_str()), Some("0.1.1"))
    );
    let described = success(server.send("GET", base, ray.as_deref(), None), 200);
    assert_eq!(
        described["version"],
        first.as_str(),
        "still runs the accepted version"
    );
    refused(
        server.send(
            "POST",
            "/v1/tenants/acme/installs/livestream-booking/accept",
            ray.as_deref(),
            Some(&json!({"version": "0.1.1"})),
        ),
        403,
        "forbidden",
    );
    let accepted = success(
        server.send(
            "POST",
            "/v1/tenants/acme/installs/livestream-booking/accept",
            dora.as_deref(),
            Some(&json!({"version": "0.1.1"})),
        ),
        200,
    );
    assert_eq!(accepted["install"]["version"], "0.1.1");
    let described = success(server.send("GET", base, ray.as_deref(), None), 200);
    assert_eq!(described["version"], "0.1.1");
    assert_eq!(
        described["permissions"],
        json!(["store", "events", "customers"])
    );
    let sessions = success(
        server.send(
            "POST",
            &format!("{base}/list-sessions"),
            ray.as_deref(),
            Some(&json!({})),
        ),
        200,
    );
    assert_eq!(
        sessions[0]["booked"], 2,
        "data survives the upgrade: {sessions}"
    );

    // Rollback to the version it ran before.
    let back = success(
        server.send(
            "POST",
            "/v1/tenants/acme/installs/livestream-booking/rollback",
            dora.as_deref(),
            Some(&json!({"version": first})),
        ),
        200,
    );
    assert_eq!(
        (back["version"].as_str(), back["requirement"].as_str()),
        (Some(first.as_str()), Some(format!("={first}").as_str()))
    );
    let described = success(server.send("GET", base, ray.as_deref(), None), 200);
    assert_eq!(described["version"], first.as_str());

    // Upload refusals: each by status and code, none stored.
    let dev_token = dev.as_deref().expect("token");
    let v3 = |permissions: &[&str], kind: &str, key: &SigningKey, code: &[u8]| {
        Package::build(&manifest_v("0.3.0", permissions, kind), code, key).expect("build")
    };
    let mut flipped_code = v3(&["store"], "livestream-booking", &key, &code);
    let last = flipped_code.len() - 10;
    flipped_code[last] ^= 0x01;
    refused(
        server.upload(dev_token, &flipped_code),
        422,
        "bad-signature",
    );
    let mut flipped_manifest = v3(&["store"], "livestream-booking", &key, &code);
    let at = flipped_manifest
        .windows(9)
        .position(|w| w == b"Livestrea")
        .expect("description");
    flipped_manifest[at] = b'l';
    refused(
        server.upload(dev_token, &flipped_manifest),
        422,
        "bad-signature",
    );
    let stranger = SigningKey::from_bytes(&[42; 32]);
    refused(
        server.upload(
            dev_token,
            &v3(&["store"], "livestream-booking", &stranger, &code),
        ),
        403,
        "unknown-key",
    );
    let revoked = SigningKey::from_bytes(&[43; 32]);
    let registered = success(
        server.send(
            "POST",
            "/v1/publishers/mercato/keys",
            dev.as_deref(),
            Some(&json!({"public_key": hex::encode(revoked.verifying_key().as_bytes())})),
        ),
        201,
    );
    let revoked_id = registered["key_id"].as_str().expect("key id");
    success(
        server.send(
            "POST",
            &format!("/v1/publishers/mercato/keys/{revoked_id}/revoke"),
            dev.as_deref(),
            None,
        ),
        200,
    );
    refused(
        server.upload(
            dev_token,
            &v3(&["store"], "livestream-booking", &revoked, &code),
        ),
        403,
        "revoked-key",
    );
    let same = Package::build(
        &manifest_v("0.1.1", &["store"], "livestream-booking"),
        &code,
        &key,
    )
    .expect("build");
    refused(server.upload(dev_token, &same), 409, "version-not-greater");
    let core_module = v3(&["store"], "livestream-booking", &key, b"\0asm\x01\0\0\0");
    refused(server.upload(dev_token, &core_module), 422, "core-module");
    refused(
        server.upload(dev_token, &v3(&["store"], "sample-requests", &key, &code)),
        422,
        "wrong-world",
    );
    refused(
        server.upload(dev_token, &vec![0u8; 16 * 1024 * 1024 + 1]),
        413,
        "too-large",
    );
    refused(
        server.upload(
            legal.as_deref().expect("token"),
            &v3(&["store"], "livestream-booking", &key, &code),
        ),
        403,
        "forbidden",
    );
    let versions = success(
        server.send(
            "GET",
            "/v1/packages?name=mercato/livestream-booking",
            legal.as_deref(),
            None,
        ),
        200,
    );
    assert_eq!(
        versions["versions"].as_array().expect("list").len(),
        2,
        "nothing refused was stored"
    );

    // Authentication.
    refused(
        server.send("GET", "/v1/me", None, None),
        401,
        "unauthenticated",
    );
    refused(
        server.send("GET", "/v1/me", Some("garbage"), None),
        401,
        "unauthenticated",
    );
    refused(
        server.send(
            "GET",
            "/v1/me",
            Some(&format!("mrc_{}", "ab".repeat(32))),
            None,
        ),
        401,
        "unauthenticated",
    );
    assert_eq!(
        success(server.send("GET", "/v1/me", ray.as_deref(), None), 200)["role"],
        "rep"
    );

    // Metrics and the API description.
    let metrics = server
        .agent
        .get(format!("{}/metrics", server.base))
        .call()
        .expect("metrics")
        .body_mut()
        .read_to_string()
        .expect("text");
    // One series per version that served calls: 0.1.0, then 0.1.1 after the upgrade.
    for version in ["0.1.0", "0.1.1"] {
        assert!(
            metrics.contains(&format!(
                r#"mercato_invocations_total{{tenant="acme",component="livestream-booking",version="{version}"}}"#
            )),
            "{version}: {metrics}"
        );
    }
    let openapi = success(server.send("GET", "/v1/openapi.json", None, None), 200);
    for path in [
        "/v1/packages",
        "/v1/tenants/{tenant}/installs/{id}/rollback",
        "/v1/tenants/{tenant}/components/{component}/{function}",
        "/v1/audit/verify",
        "/metrics",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} is described");
    }

    // The audit log verifies, then fails after one stored row is edited.
    let audit = success(server.send("GET", "/v1/audit/verify", op, None), 200);
    assert_eq!(audit["ok"], true, "{audit}");
    drop(server);
    let verified = ok(mercato(&["audit", "verify", "--data-dir", data_arg]));
    assert!(verified.contains("intact"), "{verified}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let db = mercato_registry::Database::open_sqlite(&data.join("mercato.db"))
            .await
            .expect("db");
        let edited = mercato_registry::db::execute_raw(
            &db,
            "UPDATE audit_log SET actor = 'mallory (operator)' WHERE seq = 5",
        )
        .await
        .expect("edit");
        assert_eq!(edited, 1);
    });
    let output = mercato(&["audit", "verify", "--data-dir", data_arg]);
    assert!(!output.status.success(), "verify must fail after an edit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("entry 5"), "{stderr}");
}
