//! The author commands' printing; the work is `mercato_cli`'s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use mercato_cli::calls;
use mercato_cli::scaffold::{self, NewCrate, SdkSource};
use mercato_runtime::{Grants, Kind, Runtime};
use serde_json::Value;

pub fn new(kind: Kind, dir: PathBuf, publisher: String, sdk: Option<&str>) -> Result<()> {
    let sdk = sdk.map_or_else(SdkSource::default_for_this_build, SdkSource::parse);
    let files = scaffold::create(&NewCrate {
        kind,
        dir: dir.clone(),
        publisher,
        sdk,
    })?;
    for file in &files {
        println!("{}", file.display());
    }
    eprintln!(
        "created a {kind} component in {}; next: cd {0} && cargo test && mercato run . --calls calls.json",
        dir.display()
    );
    Ok(())
}

pub fn keygen(out: &Path) -> Result<()> {
    let (public_hex, key_id) = mercato_cli::keys::keygen(out)?;
    eprintln!(
        "secret key: {} (keep it private)\npublic key: {}.pub (key id {key_id})",
        out.display(),
        out.display(),
    );
    eprintln!("register it with: POST /v1/publishers/<publisher>/keys {{\"public_key\": \"...\"}}");
    println!("{public_hex}");
    Ok(())
}

pub fn publish(path: &Path, server: &str, token: &str) -> Result<()> {
    let body = mercato_cli::publish::publish(path, server, token)?;
    eprintln!(
        "published {}@{}: {} (waiting for review)",
        body["name"].as_str().unwrap_or("?"),
        body["version"].as_str().unwrap_or("?"),
        body["state"].as_str().unwrap_or("?")
    );
    println!("{body}");
    Ok(())
}

pub fn run(
    target: &Path,
    calls_path: &Path,
    kind: Option<Kind>,
    grants: Option<Grants>,
    settings: Option<Value>,
) -> Result<ExitCode> {
    let text = std::fs::read_to_string(calls_path)
        .with_context(|| format!("reading the calls file {}", calls_path.display()))?;
    let calls = calls::parse_calls(&text)?;
    let (code, setup) = calls::resolve(target, kind, grants, settings)?;
    let runtime = Runtime::builder().build()?;
    let report = calls::run(&runtime, &code, &setup, calls)?;
    print!("{}", report.render());
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
