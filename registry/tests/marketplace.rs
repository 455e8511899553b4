//! The registry's whole workflow, run against SQLite and against PostgreSQL:
//! accounts and roles, keys, uploads and their refusals, review with
//! changes, the catalog, installs (pin, follow, upgrade, pending
//! permissions, rollback), the approvals inbox and the audit chain.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use ed25519_dalek::SigningKey;
use mercato_registry::versions::MAX_PACKAGE_BYTES;
use mercato_registry::{
    Decision, InstallUpdate, Manifest, NewAccount, NewInstall, NewKey, NewTenant, Package,
    Principal, Registry, RegistryError, Role, UpgradeRequest, VersionState,
};
use mercato_testapp::{Builder, TestApp};
use semver::Version;

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite_engine { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(mercato_testapp::TestApp::builder()).await;
            }
        )* }
        mod postgres_engine { $(
            /// PostgreSQL is part of every run: `scripts/test` sets
            /// `MERCATO_TEST_POSTGRES` to the local server.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(mercato_testapp::TestApp::builder().postgres()).await;
            }
        )* }
    };
}

on_both_engines!(
    roles_and_tokens,
    keys_and_upload_refusals,
    review_catalog_and_changes,
    installs_follow_pin_upgrade_accept_rollback,
    approvals_inbox,
    audit_chain_detects_edits_removals_and_reordering,
    customers_import_read_erase_and_events_query,
    concurrent_writers_wait_their_turn,
);

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn manifest(name: &str, version: &str, permissions: &[&str]) -> Manifest {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "version": version,
        "kind": "livestream-booking",
        "wit": "mercato:sales@0.1.0",
        "permissions": permissions,
        "description": "Books seats.",
    }))
    .expect("manifest")
}

fn package(name: &str, version: &str, permissions: &[&str], key: &SigningKey) -> Vec<u8> {
    Package::build(
        &manifest(name, version, permissions),
        format!("code of {name} {version}").as_bytes(),
        key,
    )
    .expect("build")
}

struct World {
    registry: Registry,
    operator: Principal,
    developer: Principal,
    reviewer: Principal,
    director: Principal,
    rep: Principal,
    other_director: Principal,
    _app: TestApp,
}

/// Publisher `acme` (with its key registered), tenants `north` and `south`,
/// and an account per role.
async fn world(base: Builder) -> World {
    let app = base
        .publisher("acme")
        .tenant("north")
        .tenant("south")
        .operator("ops")
        .developer("dev", "acme")
        .reviewer("legal")
        .director("dora", "north")
        .rep("ray", "north")
        .director("sam", "south")
        .build()
        .await;
    World {
        registry: app.registry().clone(),
        operator: app.who("ops").clone(),
        developer: app.who("dev").clone(),
        reviewer: app.who("legal").clone(),
        director: app.who("dora").clone(),
        rep: app.who("ray").clone(),
        other_director: app.who("sam").clone(),
        _app: app,
    }
}

async fn publish(
    w: &World,
    bytes: Vec<u8>,
) -> Result<mercato_registry::PackageVersion, RegistryError> {
    let upload = w.registry.check_upload(&w.developer, bytes).await?;
    w.registry.submit(&w.developer, upload).await
}

async fn approve(w: &World, name: &str, version: &str) {
    w.registry
        .review(&w.reviewer, name, &v(version), Decision::Approve, None)
        .await
        .expect("approve");
}

fn v(s: &str) -> Version {
    s.parse().expect("version")
}

async fn roles_and_tokens(base: Builder) {
    let w = world(base).await;
    assert_eq!(w.director.tenant.as_deref(), Some("north"));
    assert_eq!(w.developer.publisher.as_deref(), Some("acme"));

    // Only operators create accounts and tenants.
    let err = w
        .registry
        .create_tenant(
            &w.director,
            NewTenant {
                name: "x".into(),
                title: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    // Names are checked, duplicates refused, directors need a tenant.
    let bad = w
        .registry
        .create_account(
            &w.operator,
            NewAccount {
                name: "dora".into(),
                role: Role::Rep,
                tenant: Some("north".into()),
                publisher: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "account-exists");
    let bad = w
        .registry
        .create_account(
            &w.operator,
            NewAccount {
                name: "nobody".into(),
                role: Role::Director,
                tenant: None,
                publisher: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        bad,
        RegistryError::Invalid {
            field: "tenant",
            ..
        }
    ));
    let bad = w
        .registry
        .create_account(
            &w.operator,
            NewAccount {
                name: "x".into(),
                role: Role::Rep,
                tenant: Some("nowhere".into()),
                publisher: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "unknown-tenant");

    // Tokens: garbage and unknown refused; a revoked token stops working.
    assert_eq!(
        w.registry.authenticate("garbage").await.unwrap_err().code(),
        "unauthenticated"
    );
    assert_eq!(
        w.registry
            .authenticate(&format!("mrc_{}", "0".repeat(64)))
            .await
            .unwrap_err()
            .code(),
        "unauthenticated"
    );
    let extra = w
        .registry
        .issue_token(&w.rep, "ray", "laptop")
        .await
        .expect("own token");
    assert_eq!(
        w.registry
            .authenticate(&extra.token)
            .await
            .expect("works")
            .name,
        "ray"
    );
    let err = w
        .registry
        .issue_token(&w.rep, "dora", "steal")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    w.registry
        .revoke_token(&w.rep, &extra.id)
        .await
        .expect("revoke");
    assert_eq!(
        w.registry
            .authenticate(&extra.token)
            .await
            .unwrap_err()
            .code(),
        "unauthenticated"
    );

    // Tenant scoping.
    w.registry
        .tenant(&w.director, "north")
        .await
        .expect("own tenant");
    assert_eq!(
        w.registry
            .tenant(&w.director, "south")
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        w.registry.tenants(&w.director).await.unwrap_err().code(),
        "forbidden"
    );
    assert_eq!(
        w.registry.tenants(&w.operator).await.expect("list").len(),
        2
    );
    let north = w
        .registry
        .accounts(&w.director, Some("north"))
        .await
        .expect("own accounts");
    assert_eq!(
        north.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["dora", "ray"]
    );
}

async fn keys_and_upload_refusals(base: Builder) {
    let w = world(base).await;
    let k1 = key(1);
    let registered = w
        .registry
        .register_key(
            &w.developer,
            "acme",
            NewKey {
                public_key: hex::encode(k1.verifying_key().as_bytes()),
            },
        )
        .await
        .expect("register");
    // A developer registers keys for its own publisher only; keys are real points.
    w.registry
        .create_publisher(&w.operator, "rival")
        .await
        .expect("publisher");
    let err = w
        .registry
        .register_key(
            &w.developer,
            "rival",
            NewKey {
                public_key: hex::encode(key(9).verifying_key().as_bytes()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    let err = w
        .registry
        .register_key(
            &w.developer,
            "acme",
            NewKey {
                public_key: "zz".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::Invalid {
            field: "public_key",
            ..
        }
    ));

    let first = publish(&w, package("acme/booking", "1.0.0", &["store"], &k1))
        .await
        .expect("publish");
    assert_eq!(first.state, VersionState::Submitted);
    assert_eq!(first.key_id, registered.key_id);

    // Refusals, each by its code, each storing nothing.
    let count = |w: &World| {
        let r = w.registry.clone();
        let p = w.operator.clone();
        async move { r.versions(&p, None, None).await.expect("list").len() }
    };
    let mut flipped = package("acme/booking", "1.1.0", &["store"], &k1);
    *flipped.last_mut().expect("code") ^= 1;
    let mut manifest_flip = package("acme/booking", "1.1.0", &["store"], &k1);
    let at = manifest_flip
        .windows(5)
        .position(|s| s == b"1.1.0")
        .expect("version");
    manifest_flip[at + 4] = b'9';
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad-signature", flipped),
        ("bad-signature", manifest_flip),
        (
            "unknown-key",
            package("acme/booking", "1.1.0", &["store"], &key(2)),
        ),
        (
            "version-not-greater",
            package("acme/booking", "1.0.0", &["store"], &k1),
        ),
        (
            "version-not-greater",
            package("acme/booking", "0.9.0", &["store"], &k1),
        ),
        ("not-a-package", b"\0asm\x01\0\0\0".to_vec()),
        ("too-large", vec![0; MAX_PACKAGE_BYTES + 1]),
        ("forbidden", package("rival/booking", "1.0.0", &[], &k1)),
    ];
    for (code, bytes) in cases {
        let err = publish(&w, bytes).await.unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert_eq!(count(&w).await, 1, "{code}: nothing stored");
    }
    // The platform never publishes for a third party, even with its key.
    let op_upload = w
        .registry
        .check_upload(&w.operator, package("acme/booking", "2.0.0", &[], &k1))
        .await
        .unwrap_err();
    assert_eq!(op_upload.code(), "forbidden", "{op_upload}");
    // A key of one publisher cannot sign another's package.
    let (_, rival) = w
        .registry
        .create_account(
            &w.operator,
            NewAccount {
                name: "riva".into(),
                role: Role::Developer,
                tenant: None,
                publisher: Some("rival".into()),
            },
        )
        .await
        .expect("rival developer");
    let rival = w.registry.authenticate(&rival.token).await.expect("token");
    let wrong = w
        .registry
        .check_upload(&rival, package("rival/booking", "1.0.0", &[], &k1))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "wrong-publisher");
    // Reviewers and directors cannot publish.
    let err = w
        .registry
        .check_upload(&w.reviewer, package("acme/booking", "2.0.0", &[], &k1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");

    // Rotation: the new key signs, the old one is retired but what it signed loads.
    let k3 = key(3);
    w.registry
        .rotate_key(
            &w.developer,
            "acme",
            &registered.key_id,
            NewKey {
                public_key: hex::encode(k3.verifying_key().as_bytes()),
            },
        )
        .await
        .expect("rotate");
    let err = publish(&w, package("acme/booking", "1.1.0", &["store"], &k1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "retired-key");
    publish(&w, package("acme/booking", "1.1.0", &["store"], &k3))
        .await
        .expect("new key signs");
    w.registry
        .load_package("acme/booking", &v("1.0.0"))
        .await
        .expect("retired key's package loads");

    // Revocation: nothing it signed uploads or loads.
    let k3_id = mercato_registry::key_id(k3.verifying_key().as_bytes());
    w.registry
        .revoke_key(&w.developer, "acme", &k3_id)
        .await
        .expect("revoke");
    let err = publish(&w, package("acme/booking", "1.2.0", &["store"], &k3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "revoked-key");
    let err = w
        .registry
        .load_package("acme/booking", &v("1.1.0"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "revoked-key");
}

async fn review_catalog_and_changes(base: Builder) {
    let w = world(base).await;
    let k = key(1);
    w.registry
        .register_key(
            &w.developer,
            "acme",
            NewKey {
                public_key: hex::encode(k.verifying_key().as_bytes()),
            },
        )
        .await
        .expect("key");
    publish(&w, package("acme/booking", "1.0.0", &["store"], &k))
        .await
        .expect("1.0.0");
    // Developers cannot review their own work; directors see nothing unapproved.
    let err = w
        .registry
        .review(
            &w.developer,
            "acme/booking",
            &v("1.0.0"),
            Decision::Approve,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(
        w.registry
            .versions(&w.director, None, None)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        w.registry
            .catalog(&Principal::console())
            .await
            .expect("catalog")
            .is_empty()
    );

    let (first, changes) = w
        .registry
        .version(&w.reviewer, "acme/booking", &v("1.0.0"))
        .await
        .expect("get");
    assert_eq!(first.state, VersionState::Submitted);
    assert_eq!(changes.previous, None);
    assert_eq!(changes.permissions_added.len(), 1);
    approve(&w, "acme/booking", "1.0.0").await;
    let err = w
        .registry
        .review(
            &w.reviewer,
            "acme/booking",
            &v("1.0.0"),
            Decision::Reject,
            Some("x".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not-submitted");

    publish(
        &w,
        package("acme/booking", "1.1.0", &["store", "customers.contact"], &k),
    )
    .await
    .expect("1.1.0");
    let (_, changes) = w
        .registry
        .version(&w.reviewer, "acme/booking", &v("1.1.0"))
        .await
        .expect("get");
    assert_eq!(changes.previous, Some(v("1.0.0")));
    assert_eq!(
        changes.permissions_added,
        [mercato_registry::Permission::CustomersContact]
    );
    assert!(changes.permissions_removed.is_empty());

    // A rejection needs a reason; the reason is kept.
    let err = w
        .registry
        .review(
            &w.reviewer,
            "acme/booking",
            &v("1.1.0"),
            Decision::Reject,
            Some("  ".into()),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::Invalid {
            field: "reason",
            ..
        }
    ));
    let (rejected, _) = w
        .registry
        .review(
            &w.reviewer,
            "acme/booking",
            &v("1.1.0"),
            Decision::Reject,
            Some("contact data is not needed".into()),
        )
        .await
        .expect("reject");
    assert_eq!(
        rejected.reason.as_deref(),
        Some("contact data is not needed")
    );
    let submitted = w
        .registry
        .versions(&w.reviewer, Some(VersionState::Submitted), None)
        .await
        .expect("queue");
    assert!(submitted.is_empty());

    publish(
        &w,
        package("acme/booking", "1.2.0", &["store", "events"], &k),
    )
    .await
    .expect("1.2.0");
    approve(&w, "acme/booking", "1.2.0").await;
    let catalog = w
        .registry
        .catalog(&Principal::console())
        .await
        .expect("catalog");
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog[0].latest, v("1.2.0"));
    assert_eq!(catalog[0].versions, [v("1.2.0"), v("1.0.0")]);

    // Yank takes a version out of the catalog.
    let err = w
        .registry
        .yank(&w.director, "acme/booking", &v("1.2.0"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    w.registry
        .yank(&w.reviewer, "acme/booking", &v("1.2.0"), Some("bug".into()))
        .await
        .expect("yank");
    let catalog = w
        .registry
        .catalog(&Principal::console())
        .await
        .expect("catalog");
    assert_eq!(catalog[0].versions, [v("1.0.0")]);
}

async fn installs_follow_pin_upgrade_accept_rollback(base: Builder) {
    let w = world(base).await;
    let k = key(1);
    w.registry
        .register_key(
            &w.developer,
            "acme",
            NewKey {
                public_key: hex::encode(k.verifying_key().as_bytes()),
            },
        )
        .await
        .expect("key");
    publish(&w, package("acme/booking", "1.0.0", &["store"], &k))
        .await
        .expect("publish");
    // Nothing installable before approval.
    let new = || NewInstall {
        package: "acme/booking".into(),
        ..NewInstall::default()
    };
    assert_eq!(
        w.registry
            .plan_install(&w.director, "north", &new())
            .await
            .unwrap_err()
            .code(),
        "unknown-package"
    );
    approve(&w, "acme/booking", "1.0.0").await;

    // Reviewers, reps and other tenants' directors cannot enable.
    for who in [&w.reviewer, &w.rep, &w.other_director] {
        let err = w
            .registry
            .plan_install(who, "north", &new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "forbidden", "{who}");
    }
    let planned = w
        .registry
        .plan_install(&w.director, "north", &new())
        .await
        .expect("plan");
    let installed = w
        .registry
        .install(
            &w.director,
            "north",
            NewInstall {
                settings: Some(serde_json::json!({"max-capacity": 10})),
                ..new()
            },
            &planned.version,
        )
        .await
        .expect("install");
    assert_eq!(installed.id, "booking");
    assert_eq!(installed.requirement, "^1.0.0");
    assert!(installed.enabled);
    let err = w
        .registry
        .install(&w.director, "north", new(), &planned.version)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "install-exists");
    let err = w
        .registry
        .install(
            &w.director,
            "north",
            NewInstall {
                id: Some("b2".into()),
                settings: Some(serde_json::json!([1])),
                ..new()
            },
            &planned.version,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::Invalid {
            field: "settings",
            ..
        }
    ));
    // Another tenant's director sees nothing of north.
    assert_eq!(
        w.registry
            .installs(&w.other_director, "north")
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );

    // 1.1.0 with the same permissions rolls out to the follower by itself.
    publish(&w, package("acme/booking", "1.1.0", &["store"], &k))
        .await
        .expect("1.1.0");
    let (_, rollout) = w
        .registry
        .review(
            &w.reviewer,
            "acme/booking",
            &v("1.1.0"),
            Decision::Approve,
            None,
        )
        .await
        .expect("approve");
    assert_eq!(rollout.upgraded, ["north/booking"]);
    assert_eq!(
        w.registry
            .installed("north", "booking")
            .await
            .expect("get")
            .version,
        v("1.1.0")
    );

    // 1.2.0 asks for more: it waits for the director.
    publish(
        &w,
        package("acme/booking", "1.2.0", &["store", "events"], &k),
    )
    .await
    .expect("1.2.0");
    let (_, rollout) = w
        .registry
        .review(
            &w.reviewer,
            "acme/booking",
            &v("1.2.0"),
            Decision::Approve,
            None,
        )
        .await
        .expect("approve");
    assert_eq!(rollout.awaiting_acceptance, ["north/booking"]);
    let waiting = w.registry.installed("north", "booking").await.expect("get");
    assert_eq!(waiting.version, v("1.1.0"));
    assert_eq!(waiting.pending, Some(v("1.2.0")));
    let err = w
        .registry
        .accept(&w.rep, "north", "booking", &v("1.2.0"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    let err = w
        .registry
        .accept(&w.director, "north", "booking", &v("1.1.0"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "nothing-pending");
    let accepted = w
        .registry
        .accept(&w.director, "north", "booking", &v("1.2.0"))
        .await
        .expect("accept");
    assert_eq!(accepted.install.version, v("1.2.0"));
    assert!(
        accepted
            .install
            .accepted
            .contains(&mercato_registry::Permission::Events)
    );
    assert_eq!(
        accepted.install.history,
        [v("1.0.0"), v("1.1.0"), v("1.2.0")]
    );

    // Rollback to a version it ran pins it; to one it never ran is refused.
    let err = w
        .registry
        .rollback(&w.director, "north", "booking", &v("0.1.0"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "never-ran");
    let back = w
        .registry
        .rollback(&w.director, "north", "booking", &v("1.0.0"))
        .await
        .expect("rollback");
    assert_eq!(back.version, v("1.0.0"));
    assert_eq!(back.requirement, "=1.0.0");
    // Pinned: a new approval does not move it; an explicit upgrade does.
    publish(
        &w,
        package("acme/booking", "1.3.0", &["store", "events"], &k),
    )
    .await
    .expect("1.3.0");
    let (_, rollout) = w
        .registry
        .review(
            &w.reviewer,
            "acme/booking",
            &v("1.3.0"),
            Decision::Approve,
            None,
        )
        .await
        .expect("approve");
    assert!(rollout.upgraded.is_empty() && rollout.awaiting_acceptance.is_empty());
    let req = UpgradeRequest {
        follow: Some("^1".into()),
        version: None,
    };
    let target = w
        .registry
        .plan_upgrade(&w.director, "north", "booking", &req)
        .await
        .expect("plan");
    assert_eq!(target.version, v("1.3.0"));
    let up = w
        .registry
        .upgrade(&w.director, "north", "booking", req, &target.version)
        .await
        .expect("upgrade");
    assert_eq!(up.status, "upgraded");
    assert_eq!(up.install.requirement, "^1");
    let err = w
        .registry
        .plan_upgrade(&w.director, "north", "booking", &UpgradeRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "up-to-date");

    // Disable, settings, tracking.
    let off = w
        .registry
        .update_install(
            &w.director,
            "north",
            "booking",
            InstallUpdate {
                enabled: Some(false),
                tracking: Some(false),
                ..InstallUpdate::default()
            },
        )
        .await
        .expect("disable");
    assert!(!off.enabled && !off.tracking);
    assert!(
        w.registry
            .components(&w.rep, "north")
            .await
            .expect("rep list")
            .is_empty()
    );
    // A rep calls components; the installs with their settings are not theirs.
    assert_eq!(
        w.registry
            .installs(&w.rep, "north")
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        w.registry
            .installs(&w.director, "north")
            .await
            .expect("list")
            .len(),
        1
    );
    w.registry
        .uninstall(&w.director, "north", "booking")
        .await
        .expect("remove");
    assert_eq!(
        w.registry
            .installed("north", "booking")
            .await
            .unwrap_err()
            .code(),
        "unknown-install"
    );
}

async fn approvals_inbox(base: Builder) {
    use mercato_registry::inbox::Answer;
    use mercato_registry::{ApprovalRecord, Commit, Scope, SqlState, StateStore};
    let w = world(base).await;
    let state = SqlState::new(w.registry.database().clone());
    let scope = Scope::new("north", "samples");
    tokio::task::spawn_blocking(move || {
        state
            .commit(
                &scope,
                Commit {
                    base: Some(0),
                    approvals: vec![ApprovalRecord {
                        id: "apr_1".into(),
                        subject: "req-7".into(),
                        summary: "500 samples".into(),
                        details: vec![("sku".into(), "X1".into())],
                        customer: None,
                        requested_at: 1,
                    }],
                    ..Commit::default()
                },
            )
            .expect("commit")
    })
    .await
    .expect("thread");
    let inbox = w
        .registry
        .approvals(&w.director, "north", &pending())
        .await
        .expect("inbox")
        .items;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].details, [("sku".to_owned(), "X1".to_owned())]);
    assert_eq!(
        w.registry
            .approvals(&w.other_director, "north", &Default::default())
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        w.registry
            .approvals(&w.rep, "north", &Default::default())
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert!(
        w.registry
            .approvals(&w.other_director, "south", &Default::default())
            .await
            .expect("own")
            .items
            .is_empty()
    );
    let answer = |decision, reason: Option<&str>| Answer {
        decision,
        reason: reason.map(Into::into),
    };
    let err = w
        .registry
        .decide(
            &w.director,
            "north",
            "apr_1",
            answer(Decision::Reject, None),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::Invalid {
            field: "reason",
            ..
        }
    ));
    let err = w
        .registry
        .decide(
            &w.other_director,
            "north",
            "apr_1",
            answer(Decision::Approve, None),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    let decided = w
        .registry
        .decide(
            &w.director,
            "north",
            "apr_1",
            answer(Decision::Reject, Some("too many")),
        )
        .await
        .expect("decide");
    assert_eq!(decided.status, "rejected");
    assert_eq!(decided.decided_by.as_deref(), Some("dora"));
    let err = w
        .registry
        .decide(
            &w.director,
            "north",
            "apr_1",
            answer(Decision::Approve, None),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "already-decided");
}

async fn audit_chain_detects_edits_removals_and_reordering(base: Builder) {
    use mercato_registry::audit;
    let w = world(base).await;
    let db = w.registry.database().clone();
    let clean = audit::verify(&db).await.expect("verify");
    assert!(clean.ok(), "{:?}", clean.problems);
    // Every change so far is there: 2 tenants, a publisher, 6 accounts with
    // a token each, the publisher's key.
    assert_eq!(clean.entries, 2 + 1 + 6 * 2 + 1);
    let entries = audit::list(&db, Some("north"), 0, 100).await.expect("list");
    assert!(entries.iter().all(|e| e.tenant.as_deref() == Some("north")));
    assert!(
        entries
            .iter()
            .any(|e| e.action == "account.create" && e.subject == "dora")
    );

    let exec = |sql: &'static str| {
        let db = db.clone();
        async move {
            mercato_registry::db::execute_raw(&db, sql)
                .await
                .expect("tamper")
        }
    };
    // Edit one field of one entry.
    exec("UPDATE audit_log SET actor = 'someone else' WHERE seq = 3").await;
    let report = audit::verify(&db).await.expect("verify");
    assert!(!report.ok());
    assert!(
        report.problems[0].contains("entry 3"),
        "{:?}",
        report.problems
    );
    exec("UPDATE audit_log SET actor = 'console (operator)' WHERE seq = 3").await;
    assert!(audit::verify(&db).await.expect("verify").ok(), "restored");

    // Reorder: swap the contents of two entries.
    exec("UPDATE audit_log SET seq = -4 WHERE seq = 4").await;
    exec("UPDATE audit_log SET seq = 4 WHERE seq = 5").await;
    exec("UPDATE audit_log SET seq = 5 WHERE seq = -4").await;
    let report = audit::verify(&db).await.expect("verify");
    assert!(
        report.problems.iter().any(|p| p.contains("entry 4")),
        "{:?}",
        report.problems
    );

    // Remove one entry.
    exec("DELETE FROM audit_log WHERE seq = 7").await;
    let report = audit::verify(&db).await.expect("verify");
    assert!(
        report.problems.iter().any(|p| p.contains("missing")),
        "{:?}",
        report.problems
    );
}

async fn customers_import_read_erase_and_events_query(base: Builder) {
    use mercato_registry::events::EventQuery;
    use mercato_registry::{
        Commit, CustomerDirectory, EventRecord, Scope, SqlCustomers, SqlState, StateStore,
    };
    let w = world(base).await;
    let csv = "id,name,email,phone,tags\nann,Ann Lee,ann@example.com,13812345678,vip;beta\nbob,Bob Roe,,,\n";
    let profiles = mercato_registry::customers::from_csv(csv).unwrap();
    assert_eq!(profiles[0].tags, ["vip", "beta"]);
    assert_eq!(profiles[1].email, None);
    let ndjson = "{\"id\": \"cy\", \"name\": \"Cy Moe\", \"company\": \"Moe Ltd\"}\n\n";
    let more = mercato_registry::customers::from_ndjson(ndjson).unwrap();

    // Bad records are named by record and field; unknown columns refused.
    let err = mercato_registry::customers::from_csv("id,name,email\nann,Ann,not-an-address\n")
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Invalid { field: "email", message } if message.contains("record 1")),
        "{err}"
    );
    let err = mercato_registry::customers::from_csv("id,name,shoe_size\nann,Ann,9\n").unwrap_err();
    assert!(err.to_string().contains("shoe_size"), "{err}");
    let err =
        mercato_registry::customers::from_ndjson("{\"id\": \"x\", \"name\": \"X\", \"ssn\": 1}")
            .unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");

    // Only the tenant's director (or an operator) imports and reads.
    for who in [&w.rep, &w.other_director, &w.reviewer] {
        let err = w
            .registry
            .import_customers(who, "north", profiles.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "forbidden", "{who}");
    }
    assert_eq!(
        w.registry
            .import_customers(&w.director, "north", profiles)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        w.registry
            .import_customers(&w.director, "north", more)
            .await
            .unwrap(),
        1
    );
    let ann = w
        .registry
        .customer(&w.director, "north", "ann")
        .await
        .unwrap();
    assert_eq!(ann.phone.as_deref(), Some("13812345678"));
    let page = w
        .registry
        .customers(&w.director, "north", "ann", 10)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["bob", "cy"]
    );
    assert_eq!(
        w.registry
            .customer(&w.other_director, "north", "ann")
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );

    // The runtime's directory reads the same profiles.
    let directory = SqlCustomers::new(w.registry.database().clone());
    let found = tokio::task::spawn_blocking(move || directory.profile("north", "ann"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.map(|p| p.name), Some("Ann Lee".to_owned()));

    // Events as components commit them.
    let state = SqlState::new(w.registry.database().clone());
    let event = |name: &str, customer: &str, at: u64| EventRecord {
        name: name.into(),
        customer: Some(customer.into()),
        properties: serde_json::json!({"session": "s-1"}),
        occurred_at: at,
        version: None,
    };
    let events = vec![
        event("booking.confirmed", "ann", 10),
        event("booking.confirmed", "bob", 20),
        event("booking.cancelled", "ann", 30),
    ];
    tokio::task::spawn_blocking(move || {
        state
            .commit(
                &Scope::new("north", "booking"),
                Commit {
                    base: Some(0),
                    events,
                    ..Commit::default()
                },
            )
            .unwrap()
    })
    .await
    .unwrap();
    let q = |f: fn(&mut EventQuery)| {
        let mut q = EventQuery::default();
        f(&mut q);
        q
    };
    let by = |q: EventQuery| {
        let r = w.registry.clone();
        let d = w.director.clone();
        async move { r.events(&d, "north", &q).await.unwrap().events }
    };
    assert_eq!(by(q(|_| {})).await.len(), 3);
    assert_eq!(by(q(|q| q.customer = Some("ann".into()))).await.len(), 2);
    assert_eq!(
        by(q(|q| q.name = Some("booking.cancelled".into())))
            .await
            .len(),
        1
    );
    assert_eq!(
        by(q(|q| {
            q.from = Some(15);
            q.to = Some(30);
        }))
        .await
        .len(),
        1
    );
    assert_eq!(by(q(|q| q.component = Some("other".into()))).await.len(), 0);
    let first = by(q(|q| q.limit = Some(1))).await;
    let after = EventQuery {
        after: Some(first[0].id),
        ..EventQuery::default()
    };
    assert_eq!(by(after).await.len(), 2);
    let err = w
        .registry
        .events(
            &w.director,
            "north",
            &q(|q| {
                q.from = Some(5);
                q.to = Some(5);
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Invalid { field: "to", .. }));
    assert_eq!(
        w.registry
            .events(&w.rep, "north", &q(|_| {}))
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert!(
        w.registry
            .events(&w.other_director, "south", &q(|_| {}))
            .await
            .unwrap()
            .events
            .is_empty()
    );

    // Erasure: the profile and every event about them, nobody else's.
    assert_eq!(
        w.registry
            .erase_customer(&w.director, "north", "ann", &serde_json::json!([]), false)
            .await
            .unwrap(),
        (true, 2, 0)
    );
    assert_eq!(
        w.registry
            .customer(&w.director, "north", "ann")
            .await
            .unwrap_err()
            .code(),
        "unknown-customer"
    );
    assert!(by(q(|q| q.customer = Some("ann".into()))).await.is_empty());
    assert_eq!(by(q(|_| {})).await.len(), 1);
    assert_eq!(
        w.registry
            .erase_customer(&w.director, "north", "ann", &serde_json::json!([]), false)
            .await
            .unwrap_err()
            .code(),
        "unknown-customer"
    );
    // The audit log records the erasure without the contact details.
    let entries = mercato_registry::audit::list(w.registry.database(), Some("north"), 0, 1000)
        .await
        .unwrap();
    assert!(entries.iter().any(|e| e.action == "customer.erase"));
    assert!(
        entries
            .iter()
            .all(|e| !e.after.contains("ann@example.com") && !e.before.contains("ann@example.com"))
    );
}

fn pending() -> mercato_registry::inbox::ApprovalQuery {
    mercato_registry::inbox::ApprovalQuery {
        status: Some("pending".into()),
        ..Default::default()
    }
}

/// Writers that read before they write (an invocation's commit checks its
/// base version first) racing each other and the audit chain: each waits for
/// the lock and retries a conflict; none is refused as busy, and every write
/// is there afterwards.
async fn concurrent_writers_wait_their_turn(base: Builder) {
    use mercato_registry::{Commit, Scope, SqlState, StateError, StateStore};
    const COMMITS: u32 = 120;
    let w = world(base).await;
    let state = SqlState::new(w.registry.database().clone());
    let writers: Vec<_> = ["a", "b", "b"]
        .into_iter()
        .enumerate()
        .map(|(n, component)| {
            let state = state.clone();
            tokio::task::spawn_blocking(move || {
                let scope = Scope::new("north", component);
                for i in 0..COMMITS {
                    loop {
                        let base = state.version(&scope).expect("version");
                        let mut commit = Commit {
                            base: Some(base),
                            ..Commit::default()
                        };
                        commit
                            .writes
                            .insert(format!("w{n}-{i}"), Some(b"x".to_vec()));
                        match state.commit(&scope, commit) {
                            Ok(_) => break,
                            Err(StateError::Conflict { .. }) => continue,
                            Err(e) => panic!("writer {n}, commit {i}: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    // Audited changes (their own transactions) interleave with the commits.
    for i in 0..40u8 {
        w.registry
            .register_key(
                &w.developer,
                "acme",
                NewKey {
                    public_key: hex::encode(key(i + 10).verifying_key().as_bytes()),
                },
            )
            .await
            .expect("audited change");
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let state2 = state.clone();
    let counts = tokio::task::spawn_blocking(move || {
        ["a", "b"].map(|c| {
            state2
                .list_keys(&Scope::new("north", c), "")
                .expect("keys")
                .len()
        })
    })
    .await
    .expect("count");
    assert_eq!(counts, [COMMITS as usize, 2 * COMMITS as usize]);
}
