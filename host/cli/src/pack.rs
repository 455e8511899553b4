//! `mercato pack`: build a component crate for `wasm32-wasip2` with the
//! platform's settings on cargo's command line (no profile or config of
//! ours needed in the author's workspace), describe it, build its manifest
//! from `[package.metadata.mercato]`, and sign the package.

use std::path::{Path, PathBuf};
use std::process::Command;

use ed25519_dalek::SigningKey;
use mercato_registry::{Manifest, Package, key_id};
use mercato_types::compile;
use serde_json::Value;

use crate::CliError;
use crate::manifest::{describe, kind_of, manifest};
use crate::progress::Steps;

/// What `cargo metadata` says about a component crate.
#[derive(Debug, Clone)]
pub struct CrateInfo {
    /// The crate's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its description, if any.
    pub description: Option<String>,
    /// Its `[package.metadata]` table.
    pub metadata: Value,
    /// Its `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// Where cargo builds it.
    pub target_dir: PathBuf,
}

/// A package written by [`pack`].
#[derive(Debug, Clone)]
pub struct Packed {
    /// The package file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Its size in bytes.
    pub size: usize,
    /// The signing key's id.
    pub key_id: String,
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Flags meant for an enclosing host build would replace the component's
    // own rustflags (RUSTFLAGS outranks target rustflags), so they go.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Read the crate at `manifest_path` through `cargo metadata`.
pub fn crate_info(manifest_path: &Path) -> Result<CrateInfo, CliError> {
    let output = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest_path)
        .output()
        .map_err(|e| CliError::Cargo {
            step: "metadata",
            detail: format!("cannot run cargo: {e}"),
        })?;
    if !output.status.success() {
        return Err(CliError::Cargo {
            step: "metadata",
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let meta: Value = serde_json::from_slice(&output.stdout).map_err(|e| CliError::Cargo {
        step: "metadata",
        detail: format!("unreadable output: {e}"),
    })?;
    let wanted =
        std::fs::canonicalize(manifest_path).map_err(CliError::file("finding", manifest_path))?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(PathBuf::from) == Some(wanted.clone()))
        .ok_or_else(|| {
            CliError::Invalid(format!(
                "{} is a workspace manifest, not a component crate's; pass the crate's Cargo.toml",
                manifest_path.display()
            ))
        })?;
    Ok(CrateInfo {
        name: package["name"].as_str().unwrap_or_default().to_owned(),
        version: package["version"].as_str().unwrap_or_default().to_owned(),
        description: package["description"].as_str().map(str::to_owned),
        metadata: package["metadata"].clone(),
        manifest_path: wanted,
        target_dir: PathBuf::from(meta["target_directory"].as_str().unwrap_or("target")),
    })
}

/// The fixture calls `[package.metadata.mercato] fixtures` names (a calls
/// file beside `Cargo.toml`, the format of `mercato run --calls`), shipped
/// in the manifest for the reviewer's replay; their expectations stay out.
pub fn fixtures(info: &CrateInfo) -> Result<Vec<mercato_registry::FixtureCall>, CliError> {
    let Some(file) = info.metadata["mercato"].get("fixtures") else {
        return Ok(Vec::new());
    };
    let file = file.as_str().ok_or_else(|| {
        CliError::Invalid(
            "[package.metadata.mercato] fixtures names a calls file, e.g. \"calls.json\"".into(),
        )
    })?;
    let path = info
        .manifest_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(file);
    let text = std::fs::read_to_string(&path).map_err(CliError::file("reading", &path))?;
    Ok(crate::calls::parse_calls(&text)?
        .into_iter()
        .map(|call| mercato_registry::FixtureCall {
            function: call.function,
            args: call.args,
        })
        .collect())
}

/// Whether the Rust toolchain has the component target's standard library.
pub fn target_installed() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", compile::TARGET])
        .output()
    else {
        // No rustc to ask: let cargo report what is missing.
        return true;
    };
    out.status.success() && Path::new(String::from_utf8_lossy(&out.stdout).trim()).is_dir()
}

/// Build the crate's component; returns the `.wasm` path.
pub fn build(info: &CrateInfo) -> Result<PathBuf, CliError> {
    if !target_installed() {
        return Err(CliError::TargetMissing);
    }
    let output = cargo()
        .args(compile::cargo_build_args())
        .arg("--manifest-path")
        .arg(&info.manifest_path)
        .arg("--target-dir")
        .arg(&info.target_dir)
        .output()
        .map_err(|e| CliError::Cargo {
            step: "build",
            detail: format!("cannot run cargo: {e}"),
        })?;
    if !output.status.success() {
        return Err(CliError::Cargo {
            step: "build",
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let wasm = compile::artifact(&info.target_dir, &info.name);
    if !wasm.exists() {
        return Err(CliError::Invalid(format!(
            "cargo built no component at {}; is the crate's [lib] crate-type [\"cdylib\", \"rlib\"]?",
            wasm.display()
        )));
    }
    Ok(wasm)
}

/// Build (unless `wasm` is given), check, describe and sign the crate at
/// `manifest_path` with `key`, writing the package to `out` (default
/// `<publisher>-<name>-<version>.mrc` in the current directory).
pub fn pack(
    manifest_path: &Path,
    key: &SigningKey,
    wasm: Option<&Path>,
    out: Option<&Path>,
) -> Result<Packed, CliError> {
    let mut steps = Steps::new(if wasm.is_some() { 3 } else { 4 });
    steps.start("reading the crate's metadata");
    let info = crate_info(manifest_path)?;
    let kind = kind_of(&info.metadata)?;
    let wasm_path = match wasm {
        Some(path) => path.to_owned(),
        None => {
            steps.start(&format!("building {} for {}", info.name, compile::TARGET));
            build(&info)?
        }
    };
    let code = std::fs::read(&wasm_path).map_err(CliError::file("reading", &wasm_path))?;

    steps.start("checking the component against its kind's world");
    let described = describe(kind, &code)?;
    let mut manifest = manifest(
        &info.metadata,
        &info.version,
        info.description.as_deref(),
        &described,
    )?;
    manifest.fixtures = fixtures(&info)?;
    manifest.validate()?;

    steps.start("signing");
    let file = Package::build(&manifest, &code, key)?;
    let path = out.map(Path::to_owned).unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}-{}.mrc",
            manifest.name.replace('/', "-"),
            manifest.version
        ))
    });
    std::fs::write(&path, &file).map_err(CliError::file("writing", &path))?;
    let packed = Packed {
        path,
        manifest,
        size: file.len(),
        key_id: key_id(key.verifying_key().as_bytes()),
    };
    steps.finish(&format!(
        "packed {}@{} ({} bytes, signed by key {}) into {}",
        packed.manifest.name,
        packed.manifest.version,
        packed.size,
        packed.key_id,
        packed.path.display()
    ));
    Ok(packed)
}
