//! Build every component once, with a nested cargo into `target/components`
//! (its own target directory: the outer build holds a lock on the main
//! one), then generate a constant per component with its path. A component
//! listed here that fails to build fails this build, loudly.
//!
//! Beside the built components goes `mercato-components.json`: for each
//! crate with a `[package.metadata.mercato]` table, its built file, version,
//! description and metadata, so `mercato serve --demo` makes its manifests
//! from the crates' own metadata, the way `mercato pack` does.

use std::path::PathBuf;
use std::process::Command;

/// (crate, constant) for every component to build.
const COMPONENTS: &[(&str, &str)] = &[
    ("livestream-booking", "LIVESTREAM_BOOKING"),
    ("sample-requests", "SAMPLE_REQUESTS"),
    ("trial-feedback", "TRIAL_FEEDBACK"),
    ("experiments", "EXPERIMENTS"),
    ("hostile", "HOSTILE"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("workspace root");
    let target_dir = root.join("target/components");
    for dir in [
        "sdk",
        "wit",
        "plugins",
        "tests/fixtures",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    // The same settings `mercato pack` builds an author's crate with.
    cmd.current_dir(&root)
        .args(mercato_types::compile::cargo_build_args())
        .arg("--target-dir")
        .arg(&target_dir);
    for (krate, _) in COMPONENTS {
        cmd.args(["-p", krate]);
    }
    // The outer build's flags are for the host, not for wasm.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PROFILE_RELEASE_LTO",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd.output().expect("run cargo to build the components");
    if !output.status.success() {
        panic!(
            "building the wasm components failed (is the wasm32-wasip2 target installed? \
             `rustup target add wasm32-wasip2`):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let mut constants = String::new();
    for (krate, constant) in COMPONENTS {
        let path = mercato_types::compile::artifact(&target_dir, krate);
        assert!(
            path.exists(),
            "component `{krate}` was not built at {}",
            path.display()
        );
        constants.push_str(&format!(
            "/// `{krate}` built for wasm32-wasip2.\npub const {constant}: &str = {:?};\n",
            path.display().to_string()
        ));
    }
    write_index(&root, &target_dir);

    let generated =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("components.rs");
    std::fs::write(generated, constants).expect("write the component paths");
}

/// Write `mercato-components.json` beside the built components.
fn write_index(root: &std::path::Path, target_dir: &std::path::Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let components: Vec<serde_json::Value> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["mercato"].is_object())
        .map(|p| {
            let name = p["name"].as_str().unwrap_or_default();
            serde_json::json!({
                "crate": name,
                "file": mercato_types::compile::artifact(target_dir, name)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned()),
                "version": p["version"],
                "description": p["description"],
                "metadata": p["metadata"],
            })
        })
        .collect();
    let index = mercato_types::compile::artifact(target_dir, "index")
        .with_file_name("mercato-components.json");
    std::fs::write(
        &index,
        serde_json::to_string_pretty(&components).expect("JSON"),
    )
    .expect("write the component index");
}
