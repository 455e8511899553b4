//! `mercato serve --demo`: a ready-to-try marketplace. A publisher
//! `mercato` with a fresh key; the first-party components, their manifests
//! made from their crates' `[package.metadata.mercato]` exactly as
//! `mercato pack` makes them, signed, published and approved; tenant `demo`
//! with them enabled; an account per role, their tokens in
//! `<data-dir>/demo-tokens.json`. Seeding happens once; later starts reuse
//! it.

use std::collections::BTreeMap;
use std::path::Path;

use mercato_registry::{
    Decision, NewAccount, NewInstall, NewKey, NewTenant, Package, Principal, Role,
};
use mercato_server::Marketplace;
use serde_json::Value;

use crate::CliError;
use crate::manifest::{describe_with, kind_of, manifest};

const TENANT: &str = "demo";

/// The index the workspace's component build writes beside the components.
pub const INDEX: &str = "mercato-components.json";

/// Seed the demo marketplace from the components built in `components`
/// (with their [`INDEX`]), unless it is seeded already.
pub async fn seed(
    market: &Marketplace,
    data_dir: &Path,
    components: &Path,
) -> Result<(), CliError> {
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
        return Err(CliError::Invalid(format!(
            "tenant `demo` exists but {} is missing; start from an empty --data-dir",
            tokens_path.display()
        )));
    }
    let index_path = components.join(INDEX);
    let index: Vec<Value> = std::fs::read_to_string(&index_path)
        .map_err(CliError::file("reading the component index (build the components first: cargo build -p mercato-artifacts)", &index_path))
        .and_then(|text| {
            serde_json::from_str(&text)
                .map_err(|e| CliError::Invalid(format!("{}: {e}", index_path.display())))
        })?;

    market
        .create_tenant(
            &console,
            NewTenant {
                name: TENANT.into(),
                title: Some("Demo Company".into()),
            },
        )
        .await?;
    market.create_publisher(&console, "mercato").await?;
    let mut tokens = BTreeMap::new();
    let mut principals = BTreeMap::new();
    for role in Role::ALL {
        let (tenant, publisher) = match role {
            Role::Director | Role::Rep => (Some(TENANT.to_owned()), None),
            Role::Developer => (None, Some("mercato".to_owned())),
            Role::Operator | Role::Reviewer => (None, None),
        };
        let (_, token) = market
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
        principals.insert(role, market.authenticate(&token.token).await?);
        tokens.insert(role.as_str(), token.token);
    }
    let who = |role: Role| principals[&role].clone();
    let key = crate::keys::new_key()?;
    market
        .register_key(
            &who(Role::Developer),
            "mercato",
            NewKey {
                public_key: hex::encode(key.verifying_key().as_bytes()),
            },
        )
        .await?;

    for entry in &index {
        let metadata = &entry["metadata"];
        let file = components.join(entry["file"].as_str().unwrap_or_default());
        let Ok(code) = std::fs::read(&file) else {
            tracing::warn!(path = %file.display(), "not built; skipped in the demo");
            continue;
        };
        let kind = kind_of(metadata)?;
        let runtime = market.runtime().clone();
        let bytes = code.clone();
        // On the host's runtime: the compilation lands in its cache, so
        // publishing below does not compile again.
        let described = tokio::task::spawn_blocking(move || describe_with(&runtime, kind, &bytes))
            .await
            .map_err(|e| CliError::Invalid(format!("describing a component failed: {e}")))??;
        let manifest = manifest(
            metadata,
            entry["version"].as_str().unwrap_or_default(),
            entry["description"].as_str(),
            &described,
        )?;
        let file = Package::build(&manifest, &code, &key)?;
        let version = market.publish(&who(Role::Developer), file).await?;
        market
            .review(
                &who(Role::Reviewer),
                &version.name,
                &version.version,
                Decision::Approve,
                None,
            )
            .await?;
        market
            .install(
                &who(Role::Director),
                TENANT,
                NewInstall {
                    package: version.name.clone(),
                    ..NewInstall::default()
                },
            )
            .await?;
        tracing::info!(component = %version.name, version = %version.version, "demo: published, approved, enabled");
    }
    let text = serde_json::to_string_pretty(&tokens)
        .map_err(|e| CliError::Invalid(format!("the tokens: {e}")))?;
    std::fs::write(&tokens_path, format!("{text}\n"))
        .map_err(CliError::file("writing", &tokens_path))?;
    tracing::info!(
        "demo marketplace ready; tokens in {}",
        tokens_path.display()
    );
    Ok(())
}
