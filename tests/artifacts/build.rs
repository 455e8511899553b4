//! Build every component once, with a nested cargo into `target/components`
//! (its own target directory: the outer build holds a lock on the main
//! one), then generate a constant per component with its path. A component
//! listed here that fails to build fails this build, loudly.

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
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "component",
        ])
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

    let out_dir = target_dir.join("wasm32-wasip2/component");
    let mut constants = String::new();
    for (krate, constant) in COMPONENTS {
        let path = out_dir.join(format!("{}.wasm", krate.replace('-', "_")));
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
    let generated =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("components.rs");
    std::fs::write(generated, constants).expect("write the component paths");
}
