//! A package's manifest, made from the crate's `[package.metadata.mercato]`
//! and what the component says about itself through `describe`. `pack`,
//! the demo seeding and the tests all build manifests here.

use mercato_registry::{Manifest, RequestedLimits};
use mercato_runtime::{Kind, Runtime};
use mercato_types::WIT_PACKAGE;
use serde_json::{Value, json};

use crate::CliError;

/// What a component says about itself (`describe`), which also proves it
/// loads as its kind.
pub fn describe(kind: Kind, code: &[u8]) -> Result<Value, CliError> {
    describe_with(&Runtime::builder().build()?, kind, code)
}

/// [`describe`] on an existing runtime (whose compile cache then holds the
/// component for the next load).
pub fn describe_with(runtime: &Runtime, kind: Kind, code: &[u8]) -> Result<Value, CliError> {
    let component = runtime
        .load(kind, code)
        .map_err(|source| CliError::Load { kind, source })?;
    Ok(runtime.describe(&component)?)
}

/// The kind a crate's `[package.metadata.mercato]` names.
pub fn kind_of(metadata: &Value) -> Result<Kind, CliError> {
    let kind = metadata["mercato"]["kind"].as_str().ok_or_else(|| {
        CliError::Invalid(
            "[package.metadata.mercato] has no `kind` (one of livestream-booking, \
             sample-requests, trial-feedback, experiments)"
                .to_owned(),
        )
    })?;
    kind.parse()
        .map_err(|e| CliError::Invalid(format!("[package.metadata.mercato] kind: {e}")))
}

/// The manifest for a component: the crate's `[package.metadata.mercato]`
/// (in `metadata`), its version and description, and what the component
/// describes (`described`).
pub fn manifest(
    metadata: &Value,
    version: &str,
    crate_description: Option<&str>,
    described: &Value,
) -> Result<Manifest, CliError> {
    let mercato = metadata.get("mercato").ok_or_else(|| {
        CliError::Invalid(
            "the crate has no [package.metadata.mercato] table (name, kind, permissions)"
                .to_owned(),
        )
    })?;
    let settings_schema = described["settings-schema"]
        .as_str()
        .map(serde_json::from_str::<Value>)
        .transpose()
        .map_err(|e| {
            CliError::Invalid(format!("the component's settings schema is not JSON: {e}"))
        })?;
    let text = crate_description
        .map(str::to_owned)
        .filter(|d| !d.trim().is_empty())
        .or_else(|| described["summary"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let manifest: Manifest = serde_json::from_value(json!({
        "name": mercato["name"],
        "version": version,
        "kind": mercato["kind"],
        "wit": WIT_PACKAGE,
        "permissions": mercato.get("permissions").cloned().unwrap_or(json!([])),
        "limits": mercato.get("limits").cloned().unwrap_or(json!({})),
        "settings-schema": settings_schema,
        "description": text,
    }))
    .map_err(|e| {
        CliError::Invalid(format!(
            "[package.metadata.mercato] does not make a valid manifest: {e}"
        ))
    })?;
    manifest.validate()?;
    Ok(manifest)
}

/// Requested limits as `name value` pairs; what is not asked for gets the
/// platform default.
pub fn show_limits(limits: &RequestedLimits) -> String {
    let asked: Vec<String> = limits
        .fields()
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {v}")))
        .collect();
    if asked.is_empty() {
        "platform defaults".to_owned()
    } else {
        format!("{} (the rest: platform defaults)", asked.join(", "))
    }
}
