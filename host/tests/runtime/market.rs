//! A marketplace seeded the way a real one is: tenant `acme`, publisher
//! `mercato`, an account per role, livestream-booking published, approved
//! and enabled. Also: two hosts sharing one PostgreSQL database.

use std::sync::Arc;
use std::time::Duration;

use mercato_host::Runtime;
use mercato_host::marketplace::{MarketError, Marketplace, REFRESH};
use mercato_registry::{
    Database, Decision, InstallUpdate, Manifest, NewAccount, NewInstall, NewKey, NewTenant,
    Package, Principal, Registry, RegistryError, Role, SqlState,
};
use serde_json::json;

use crate::harness::NOW;

pub struct Seeded {
    pub market: Arc<Marketplace>,
    pub developer: (Principal, String),
    pub director: (Principal, String),
    pub rep: (Principal, String),
    pub key_id: String,
}

pub fn market(db: Database) -> Arc<Marketplace> {
    let runtime = Arc::new(
        Runtime::builder()
            .state(Arc::new(SqlState::new(db.clone())))
            .clock(|| NOW)
            .build()
            .unwrap(),
    );
    Arc::new(Marketplace::new(Registry::new(db), runtime))
}

pub async fn seeded(db: Database) -> Seeded {
    let market = market(db);
    let r = market.registry();
    let console = Principal::console();
    r.create_tenant(
        &console,
        NewTenant {
            name: "acme".into(),
            title: None,
        },
    )
    .await
    .unwrap();
    r.create_publisher(&console, "mercato").await.unwrap();
    let mut who = Vec::new();
    for (name, role, tenant, publisher) in [
        ("dev", Role::Developer, None, Some("mercato")),
        ("legal", Role::Reviewer, None, None),
        ("dora", Role::Director, Some("acme"), None),
        ("ray", Role::Rep, Some("acme"), None),
    ] {
        let (_, token) = r
            .create_account(
                &console,
                NewAccount {
                    name: name.into(),
                    role,
                    tenant: tenant.map(Into::into),
                    publisher: publisher.map(Into::into),
                },
            )
            .await
            .unwrap();
        who.push((r.authenticate(&token.token).await.unwrap(), token.token));
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let registered = r
        .register_key(
            &who[0].0,
            "mercato",
            NewKey {
                public_key: hex::encode(key.verifying_key().as_bytes()),
            },
        )
        .await
        .unwrap();
    let manifest: Manifest = serde_json::from_value(json!({
        "name": "mercato/livestream-booking", "version": "1.0.0", "kind": "livestream-booking",
        "wit": "mercato:sales@0.1.0", "permissions": ["store", "events"], "description": "Seats."
    }))
    .unwrap();
    let code = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    let version = market
        .publish(&who[0].0, Package::build(&manifest, &code, &key).unwrap())
        .await
        .unwrap();
    r.review(
        &who[1].0,
        &version.name,
        &version.version,
        Decision::Approve,
        None,
    )
    .await
    .unwrap();
    market
        .install(
            &who[2].0,
            "acme",
            NewInstall {
                package: version.name.clone(),
                ..NewInstall::default()
            },
        )
        .await
        .unwrap();
    let mut who = who.into_iter();
    let developer = who.next().unwrap();
    let _reviewer = who.next();
    Seeded {
        market,
        developer,
        director: who.next().unwrap(),
        rep: who.next().unwrap(),
        key_id: registered.key_id,
    }
}

/// Several hosts share PostgreSQL: a change made through one reaches the
/// others' next calls within their refresh interval, without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn hosts_sharing_postgres_see_each_others_changes() {
    let url = mercato_registry::db::test_postgres_url()
        .expect("MERCATO_TEST_POSTGRES is not set: run the suite with scripts/test");
    let db = mercato_registry::db::fresh_postgres(&url).await.unwrap();
    let a = seeded(db.clone()).await;
    let b = market(db);
    let rep = &a.rep.0;
    let list = |m: Arc<Marketplace>| {
        let rep = rep.clone();
        async move {
            m.invoke(
                &rep,
                "acme",
                "livestream-booking",
                "list-sessions",
                json!({}),
            )
            .await
        }
    };
    list(b.clone()).await.expect("host B serves the install");

    // Disabled through host A: host B refuses soon after.
    a.market
        .update(
            &a.director.0,
            "acme",
            "livestream-booking",
            InstallUpdate {
                enabled: Some(false),
                ..InstallUpdate::default()
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(REFRESH + Duration::from_millis(100)).await;
    assert!(matches!(
        list(b.clone()).await,
        Err(MarketError::Disabled { .. })
    ));

    // Enabled again, then the signing key revoked through host A: host B
    // stops running code signed with it.
    a.market
        .update(
            &a.director.0,
            "acme",
            "livestream-booking",
            InstallUpdate {
                enabled: Some(true),
                ..InstallUpdate::default()
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(REFRESH + Duration::from_millis(100)).await;
    list(b.clone()).await.expect("enabled again");
    a.market
        .registry()
        .revoke_key(&a.developer.0, "mercato", &a.key_id)
        .await
        .unwrap();
    tokio::time::sleep(REFRESH + Duration::from_millis(100)).await;
    match list(b.clone()).await {
        Err(MarketError::Registry(e @ RegistryError::Untrusted { .. })) => {
            assert_eq!(e.code(), "revoked-key");
        }
        other => panic!("expected revoked-key, got {other:?}"),
    }
}
