//! `mercato verify`: what a reviewer's first look would check, locally —
//! structure, manifest, signature, and that the component implements its
//! kind's world.

use std::path::Path;

use mercato_registry::{Package, key_id};
use mercato_runtime::Kind;

use crate::CliError;
use crate::manifest::{describe, show_limits};

/// A package that verified.
#[derive(Debug)]
pub struct Verified {
    /// The package.
    pub package: Package,
    /// The signing key's id.
    pub key_id: String,
}

/// Check the package file at `path`.
pub fn verify(path: &Path) -> Result<Verified, CliError> {
    let bytes = std::fs::read(path).map_err(CliError::file("reading", path))?;
    let package = Package::parse(&bytes)?;
    package.verify()?;
    let kind: Kind = package
        .manifest
        .kind
        .parse()
        .map_err(|e| CliError::Invalid(format!("the manifest's kind: {e}")))?;
    describe(kind, &package.code)?;
    let key_id = key_id(package.public_key());
    Ok(Verified { package, key_id })
}

impl Verified {
    /// The report `mercato verify` prints.
    pub fn report(&self) -> String {
        let p = &self.package;
        let m = &p.manifest;
        let permissions: Vec<&str> = m.permissions.iter().map(|p| p.as_str()).collect();
        format!(
            "{}@{} ({})\n  signature:   valid, key {}\n  permissions: {}\n  limits:      {}\n  \
             manifest:    sha256 {}\n  code:        sha256 {} ({} bytes)\n  \
             component:   implements the {} world of {}",
            m.name,
            m.version,
            m.kind,
            self.key_id,
            if permissions.is_empty() {
                "none".to_owned()
            } else {
                permissions.join(", ")
            },
            show_limits(&m.limits),
            p.manifest_digest(),
            p.code_digest(),
            p.code.len(),
            m.kind,
            m.wit
        )
    }
}
