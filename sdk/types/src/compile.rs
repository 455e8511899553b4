//! How a component crate is compiled for Mercato. The settings go on cargo's
//! command line, so an author's crate needs no profile or config of ours;
//! `mercato pack` and this workspace's own component build read this one
//! list, so first-party components are built exactly as third-party ones.

use std::path::{Path, PathBuf};

/// The Rust target components are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The cargo profile the settings below adjust.
pub const PROFILE: &str = "release";

/// `--config` values for the build, each with why.
pub const CONFIG: &[&str] = &[
    // Speed over size: a booking runs thousands of times a second, while
    // the component ships once.
    "profile.release.opt-level=3",
    "profile.release.lto=true",
    "profile.release.codegen-units=1",
    "profile.release.debug=false",
    "profile.release.strip=true",
    // A panic ends the invocation either way; unwinding tables are dead weight.
    "profile.release.panic=\"abort\"",
    // A 64 KiB shadow stack instead of Rust's 1 MiB: placed first in linear
    // memory, the pages a call touches (stack top, data, first heap pages)
    // stay inside the window the host keeps resident between invocations.
    "target.wasm32-wasip2.rustflags=[\"-C\", \"link-arg=-zstack-size=65536\"]",
];

/// The arguments after `cargo` that build a component crate.
pub fn cargo_build_args() -> Vec<String> {
    let mut args: Vec<String> = ["build", "--release", "--target", TARGET]
        .map(str::to_owned)
        .to_vec();
    for config in CONFIG {
        args.push("--config".to_owned());
        args.push((*config).to_owned());
    }
    args
}

/// Where cargo writes crate `crate_name`'s component under `target_dir`.
pub fn artifact(target_dir: &Path, crate_name: &str) -> PathBuf {
    target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", crate_name.replace('-', "_")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_setting_is_a_config_flag_and_the_artifact_follows_cargo() {
        let args = super::cargo_build_args();
        assert_eq!(
            &args[..4],
            ["build", "--release", "--target", "wasm32-wasip2"]
        );
        assert_eq!(
            args.iter().filter(|a| *a == "--config").count(),
            super::CONFIG.len()
        );
        assert_eq!(
            super::artifact(std::path::Path::new("t"), "my-booking"),
            std::path::Path::new("t/wasm32-wasip2/release/my_booking.wasm")
        );
    }
}
