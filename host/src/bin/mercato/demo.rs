//! `mercato serve --demo`: a ready-to-try marketplace. A publisher
//! `mercato` with a fresh key; the first-party components packed, signed,
//! published and approved; tenant `demo` with them enabled; an account per
//! role, their tokens in `<data-dir>/demo-tokens.json`. Seeding happens
//! once; later starts reuse it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use mercato_host::Kind;
use mercato_host::marketplace::Marketplace;
use mercato_registry::{
    Decision, NewAccount, NewInstall, NewKey, NewTenant, Package, Principal, Role,
};
use serde_json::json;

/// First-party components: crate, built file stem, kind, permissions.
/// Mirrors each crate's `[package.metadata.mercato]`.
const FIRST_PARTY: &[(&str, Kind, &[&str], &str)] = &[
    (
        "livestream-booking",
        Kind::LivestreamBooking,
        &["store", "events"],
        "Livestream sessions with limited seats, a waitlist and reminders.",
    ),
    (
        "sample-requests",
        Kind::SampleRequests,
        &["store", "events", "approvals"],
        "Sample requests with stock checks, director approval above a threshold, and shipping through to delivery.",
    ),
    (
        "trial-feedback",
        Kind::TrialFeedback,
        &["store", "events"],
        "Trial feedback with NPS, feature ratings, trends and at-risk customers.",
    ),
    (
        "experiments",
        Kind::Experiments,
        &["store", "events"],
        "A/B experiments with sticky assignment and sound statistics.",
    ),
];

const TENANT: &str = "demo";

pub async fn seed(market: &Marketplace, data_dir: &Path, components: &Path) -> Result<()> {
    let tokens_path = data_dir.join("demo-tokens.json");
    let registry = market.registry();
    let console = Principal::console();
    if registry.tenant(&console, TENANT).await.is_ok() {
        if tokens_path.exists() {
            tracing::info!(
                "demo marketplace already seeded; tokens in {}",
                tokens_path.display()
            );
            return Ok(());
        }
        bail!(
            "tenant `demo` exists but {} is missing; start from an empty --data-dir",
            tokens_path.display()
        );
    }
    registry
        .create_tenant(
            &console,
            NewTenant {
                name: TENANT.into(),
                title: Some("Demo Company".into()),
            },
        )
        .await?;
    registry.create_publisher(&console, "mercato").await?;
    let mut tokens = BTreeMap::new();
    let mut principals = BTreeMap::new();
    for role in Role::ALL {
        let (tenant, publisher) = match role {
            Role::Director | Role::Rep => (Some(TENANT.to_owned()), None),
            Role::Developer => (None, Some("mercato".to_owned())),
            Role::Operator | Role::Reviewer => (None, None),
        };
        let (_, token) = registry
            .create_account(
                &console,
                NewAccount {
                    name: format!("demo-{role}"),
                    role,
                    tenant,
                    publisher,
                },
            )
            .await?;
        principals.insert(role, registry.authenticate(&token.token).await?);
        tokens.insert(role.as_str(), token.token);
    }
    let who = |role: Role| principals.get(&role).cloned().context("demo account");
    let key = crate::author::new_key()?;
    registry
        .register_key(
            &who(Role::Developer)?,
            "mercato",
            NewKey {
                public_key: hex::encode(key.verifying_key().as_bytes()),
            },
        )
        .await?;

    for (krate, kind, permissions, description) in FIRST_PARTY {
        let path = components.join(format!("{}.wasm", krate.replace('-', "_")));
        let Ok(code) = std::fs::read(&path) else {
            tracing::warn!(component = krate, path = %path.display(), "not built; skipped in the demo");
            continue;
        };
        let runtime = market.runtime().clone();
        let (kind, bytes) = (*kind, code.clone());
        // On the host's runtime: the compilation lands in its cache, so
        // publishing below does not compile again.
        let described = tokio::task::spawn_blocking(move || {
            crate::author::describe_with(&runtime, kind, &bytes)
        })
        .await??;
        let metadata = json!({ "mercato": {
            "name": format!("mercato/{krate}"), "kind": kind.as_str(), "permissions": permissions,
        }});
        let manifest = crate::author::manifest(
            &metadata,
            env!("CARGO_PKG_VERSION"),
            Some(description),
            &described,
        )?;
        let file = Package::build(&manifest, &code, &key)?;
        let version = market.publish(&who(Role::Developer)?, file).await?;
        registry
            .review(
                &who(Role::Reviewer)?,
                &version.name,
                &version.version,
                Decision::Approve,
                None,
            )
            .await?;
        market
            .install(
                &who(Role::Director)?,
                TENANT,
                NewInstall {
                    package: version.name.clone(),
                    ..NewInstall::default()
                },
            )
            .await?;
        tracing::info!(component = %version.name, version = %version.version, "demo: published, approved, enabled");
    }
    let text = serde_json::to_string_pretty(&tokens)?;
    std::fs::write(&tokens_path, format!("{text}\n"))
        .with_context(|| format!("writing {}", tokens_path.display()))?;
    tracing::info!(
        "demo marketplace ready; tokens in {}",
        tokens_path.display()
    );
    Ok(())
}
