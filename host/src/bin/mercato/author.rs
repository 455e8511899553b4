//! Author commands: `keygen`, `pack`, `verify`, `publish`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::SigningKey;
use indicatif::{ProgressBar, ProgressStyle};
use mercato_host::{CallContext, Grants, Kind, Limits, Runtime};
use mercato_registry::package::SUPPORTED_WIT;
use mercato_registry::{Manifest, Package, RequestedLimits, Scope, key_id};
use serde_json::{Value, json};

/// Steps shown as a spinner on a terminal, as lines otherwise.
struct Steps {
    bar: ProgressBar,
    total: usize,
    done: usize,
}

impl Steps {
    fn new(total: usize) -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_length(total as u64);
        bar.enable_steady_tick(Duration::from_millis(100));
        Steps {
            bar,
            total,
            done: 0,
        }
    }

    fn start(&mut self, what: &str) {
        self.done += 1;
        self.bar.set_position(self.done as u64);
        self.bar.set_message(what.to_owned());
        if self.bar.is_hidden() {
            eprintln!("[{}/{}] {what}", self.done, self.total);
        }
    }

    fn finish(self, what: &str) {
        self.bar.finish_and_clear();
        eprintln!("{what}");
    }
}

/// Read a signing key written by `keygen` (64 hex digits).
pub fn read_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the signing key {} (make one with `mercato keygen`)",
            path.display()
        )
    })?;
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            anyhow!(
                "{} is not a mercato signing key (64 hex digits)",
                path.display()
            )
        })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A fresh random signing key.
pub fn new_key() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness available: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

pub fn keygen(out: &Path) -> Result<()> {
    let public = PathBuf::from(format!("{}.pub", out.display()));
    for path in [out, public.as_path()] {
        if path.exists() {
            bail!(
                "{} exists already; refusing to overwrite a key",
                path.display()
            );
        }
    }
    let key = new_key()?;
    write_secret(out, &hex::encode(key.to_bytes()))?;
    let public_hex = hex::encode(key.verifying_key().as_bytes());
    std::fs::write(&public, format!("{public_hex}\n"))
        .with_context(|| format!("writing {}", public.display()))?;
    eprintln!(
        "secret key: {} (keep it private)\npublic key: {} (key id {})",
        out.display(),
        public.display(),
        key_id(key.verifying_key().as_bytes())
    );
    eprintln!("register it with: POST /v1/publishers/<publisher>/keys {{\"public_key\": \"...\"}}");
    println!("{public_hex}");
    Ok(())
}

fn write_secret(path: &Path, hex_key: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{hex_key}").with_context(|| format!("writing {}", path.display()))
}

/// What a component says about itself (`describe`), which also proves it
/// loads as its kind.
pub fn describe(kind: Kind, code: &[u8]) -> Result<Value> {
    describe_with(&Runtime::builder().build()?, kind, code)
}

/// [`describe`] on an existing runtime (whose compile cache then holds the
/// component for the next load).
pub fn describe_with(runtime: &Runtime, kind: Kind, code: &[u8]) -> Result<Value> {
    let component = runtime
        .load(kind, code)
        .with_context(|| format!("the component is not a valid `{kind}` component"))?;
    let call = Arc::new(CallContext {
        scope: Scope::new("pack", "pack"),
        grants: Grants::none(),
        settings: "{}".into(),
        track_events: false,
    });
    let outcome = runtime
        .invoke_json(
            &component,
            &call,
            &Limits::default(),
            "describe",
            &json!({}),
        )
        .context("calling the component's `describe`")?;
    Ok(outcome.json())
}

/// The manifest for a component: the crate's `[package.metadata.mercato]`
/// and what the component describes.
pub fn manifest(
    metadata: &Value,
    version: &str,
    fallback_description: Option<&str>,
    description: &Value,
) -> Result<Manifest> {
    let mercato = metadata
        .get("mercato")
        .ok_or_else(|| anyhow!("the crate has no [package.metadata.mercato] table"))?;
    let settings_schema = description["settings-schema"]
        .as_str()
        .map(serde_json::from_str::<Value>)
        .transpose()
        .context("the component's settings schema is not JSON")?;
    let text = fallback_description
        .map(str::to_owned)
        .filter(|d| !d.trim().is_empty())
        .or_else(|| description["summary"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let manifest: Manifest = serde_json::from_value(json!({
        "name": mercato["name"],
        "version": version,
        "kind": mercato["kind"],
        "wit": SUPPORTED_WIT[0],
        "permissions": mercato.get("permissions").cloned().unwrap_or(json!([])),
        "limits": mercato.get("limits").cloned().unwrap_or(json!({})),
        "settings-schema": settings_schema,
        "description": text,
    }))
    .context("[package.metadata.mercato] does not make a valid manifest")?;
    manifest.validate()?;
    Ok(manifest)
}

/// Requested limits as `name value` pairs; what is not asked for gets the
/// platform default.
pub fn show_limits(l: &RequestedLimits) -> String {
    let asked: Vec<String> = [
        ("fuel", l.fuel),
        ("deadline-ms", l.deadline_ms),
        ("memory-bytes", l.memory_bytes),
        ("output-bytes", l.output_bytes),
        ("log-bytes", l.log_bytes),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.map(|v| format!("{name} {v}")))
    .collect();
    if asked.is_empty() {
        "platform defaults".to_owned()
    } else {
        format!("{} (the rest: platform defaults)", asked.join(", "))
    }
}

pub fn pack(
    manifest_path: &Path,
    key_path: &Path,
    wasm: Option<&Path>,
    out: Option<&Path>,
) -> Result<()> {
    let mut steps = Steps::new(if wasm.is_some() { 3 } else { 4 });
    steps.start("reading the crate's metadata");
    let key = read_key(key_path)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let meta = Command::new(&cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest_path)
        .output()
        .context("running `cargo metadata`")?;
    if !meta.status.success() {
        bail!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&meta.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&meta.stdout).context("reading cargo metadata")?;
    let wanted = std::fs::canonicalize(manifest_path)
        .with_context(|| format!("finding {}", manifest_path.display()))?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(PathBuf::from) == Some(wanted.clone()))
        .ok_or_else(|| anyhow!("{} is not a package manifest", manifest_path.display()))?;
    let crate_name = package["name"].as_str().unwrap_or_default().to_owned();
    let lib = crate_name.replace('-', "_");
    let target_dir =
        PathBuf::from(meta["target_directory"].as_str().unwrap_or("target")).join("components");

    let wasm_path = match wasm {
        Some(path) => path.to_owned(),
        None => {
            steps.start(&format!("building {crate_name} for wasm32-wasip2"));
            let status = Command::new(&cargo)
                .args([
                    "build",
                    "--target",
                    "wasm32-wasip2",
                    "--profile",
                    "component",
                    "--quiet",
                ])
                .arg("--manifest-path")
                .arg(manifest_path)
                .arg("--target-dir")
                .arg(&target_dir)
                .status()
                .context("running cargo build")?;
            if !status.success() {
                bail!(
                    "building {crate_name} failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
                );
            }
            target_dir.join(format!("wasm32-wasip2/component/{lib}.wasm"))
        }
    };
    let code = std::fs::read(&wasm_path)
        .with_context(|| format!("reading the component {}", wasm_path.display()))?;

    steps.start("checking the component against its kind's world");
    let metadata = &package["metadata"];
    let kind: Kind = metadata["mercato"]["kind"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| anyhow!("[package.metadata.mercato] kind: {e}"))?;
    let description = describe(kind, &code)?;
    let manifest = manifest(
        metadata,
        package["version"].as_str().unwrap_or_default(),
        package["description"].as_str(),
        &description,
    )?;

    steps.start("signing");
    let file = Package::build(&manifest, &code, &key)?;
    let out = out.map(Path::to_owned).unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}-{}.mrc",
            manifest.name.replace('/', "-"),
            manifest.version
        ))
    });
    std::fs::write(&out, &file).with_context(|| format!("writing {}", out.display()))?;
    steps.finish(&format!(
        "packed {}@{} ({} bytes, signed by key {}) into {}",
        manifest.name,
        manifest.version,
        file.len(),
        key_id(key.verifying_key().as_bytes()),
        out.display()
    ));
    println!("{}", out.display());
    Ok(())
}

pub fn verify(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let package = Package::parse(&bytes)?;
    package.verify()?;
    let m = &package.manifest;
    let kind: Kind = m.kind.parse().map_err(|e| anyhow!("{e}"))?;
    describe(kind, &package.code)?;
    println!("{}@{} ({})", m.name, m.version, m.kind);
    println!("  signature:   valid, key {}", key_id(package.public_key()));
    println!(
        "  permissions: {}",
        m.permissions
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  limits:      {}", show_limits(&m.limits));
    println!("  manifest:    sha256 {}", package.manifest_digest());
    println!(
        "  code:        sha256 {} ({} bytes)",
        package.code_digest(),
        package.code.len()
    );
    println!(
        "  component:   implements the {} world of {}",
        m.kind, m.wit
    );
    Ok(())
}

pub fn publish(path: &Path, server: &str, token: &str) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let url = format!("{}/v1/packages", server.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/octet-stream")
        .send(&bytes[..])
        .with_context(|| format!("uploading to {url}"))?;
    let status = response.status();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| json!({"error": {"code": "unexpected-reply", "message": "the server's reply was not JSON"}}));
    if !status.is_success() {
        bail!(
            "the server refused the package ({}): {} [{}]",
            status.as_u16(),
            body["error"]["message"].as_str().unwrap_or("?"),
            body["error"]["code"].as_str().unwrap_or("?")
        );
    }
    eprintln!(
        "published {}@{}: {} (waiting for review)",
        body["name"].as_str().unwrap_or("?"),
        body["version"].as_str().unwrap_or("?"),
        body["state"].as_str().unwrap_or("?")
    );
    println!("{body}");
    Ok(())
}
