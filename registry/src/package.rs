//! The package file: one file holding a component and its manifest, signed
//! with the publisher's ed25519 key.
//!
//! Layout (integers little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `MRCTPKG1` |
//! | 4 | manifest length `m` |
//! | m | manifest, JSON |
//! | 32 | the signer's ed25519 public key |
//! | 64 | ed25519 signature |
//! | rest | the component |
//!
//! The signature covers `"mercato-package-v1\0" ‖ sha256(manifest) ‖
//! sha256(code)`, so a changed byte anywhere in manifest or code fails
//! [`Package::verify`]. Whether the key may sign for the manifest's publisher
//! is the registry's question, not this module's.

use std::collections::BTreeSet;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Permission;

/// The first bytes of every package.
pub const MAGIC: &[u8; 8] = b"MRCTPKG1";
/// What the signature's message starts with, so it can never be mistaken for
/// a signature over anything else.
const DOMAIN: &[u8] = b"mercato-package-v1\0";
pub use mercato_types::{RequestedLimits, SUPPORTED_WIT, WIT_PACKAGE};

/// What a package says about its component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// `publisher/name`, lowercase letters, digits and dashes.
    pub name: String,
    /// Semantic version.
    pub version: semver::Version,
    /// One of the [`Kind`](mercato_types::Kind)s.
    pub kind: String,
    /// The WIT package it was built against, one of [`SUPPORTED_WIT`].
    pub wit: String,
    /// Permissions it asks for.
    #[serde(default)]
    pub permissions: BTreeSet<Permission>,
    /// Limits it asks for.
    #[serde(default)]
    pub limits: RequestedLimits,
    /// JSON Schema of its settings.
    #[serde(default)]
    pub settings_schema: Option<serde_json::Value>,
    /// One paragraph for reviewers and the catalog.
    pub description: String,
    /// Calls the publisher ships for review: the reviewer sees them
    /// replayed against the last approved version. Signed with the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixtures: Vec<FixtureCall>,
}

/// Most fixture calls a package may carry.
pub const MAX_FIXTURES: usize = 200;

/// One fixture call: a function of the component and its arguments (the
/// object the HTTP API takes, keyed by WIT parameter name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureCall {
    /// The WIT function's name.
    pub function: String,
    /// Its arguments.
    #[serde(default = "empty_object")]
    pub args: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Why a package was refused.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Does not start with [`MAGIC`].
    #[error("not a Mercato package (it does not start with the package header)")]
    NotAPackage,
    /// Ends before a part it announces.
    #[error("the package is truncated: {0} is incomplete")]
    Truncated(&'static str),
    /// The manifest is not valid JSON of the right shape.
    #[error("the manifest is invalid: {0}")]
    Manifest(String),
    /// A manifest field has a value the registry does not accept.
    #[error("the manifest field `{field}` is invalid: {message}")]
    ManifestField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The embedded public key is not a valid ed25519 key.
    #[error("the package's public key is malformed")]
    BadKey,
    /// The signature does not match manifest and code.
    #[error(
        "the signature does not match the manifest and code (tampered, or signed with another key)"
    )]
    BadSignature,
}

/// A parsed package. Parsing checks structure and the manifest's shape, not
/// the signature: call [`Package::verify`].
#[derive(Debug, Clone)]
pub struct Package {
    /// The manifest.
    pub manifest: Manifest,
    manifest_bytes: Vec<u8>,
    public_key: [u8; 32],
    signature: [u8; 64],
    /// The component bytes.
    pub code: Vec<u8>,
}

/// sha256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A key's short id: the first 16 hex digits of the sha256 of the public key.
pub fn key_id(public_key: &[u8; 32]) -> String {
    sha256_hex(public_key)[..16].to_owned()
}

fn message(manifest: &[u8], code: &[u8]) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&Sha256::digest(manifest));
    m.extend_from_slice(&Sha256::digest(code));
    m
}

impl Manifest {
    /// The publisher part of the name.
    pub fn publisher(&self) -> &str {
        self.name.split('/').next().unwrap_or_default()
    }

    /// Check the values the shape alone does not.
    pub fn validate(&self) -> Result<(), PackageError> {
        let slug = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !s.starts_with('-')
        };
        match self.name.split_once('/') {
            Some((publisher, name)) if slug(publisher) && slug(name) => {}
            _ => {
                return Err(PackageError::ManifestField {
                    field: "name",
                    message: format!(
                        "`{}` is not `publisher/name` in lowercase letters, digits and dashes",
                        self.name
                    ),
                });
            }
        }
        if let Err(message) = crate::versions::no_build_metadata(&self.version) {
            return Err(PackageError::ManifestField {
                field: "version",
                message,
            });
        }
        if let Err(e) = self.kind.parse::<mercato_types::Kind>() {
            return Err(PackageError::ManifestField {
                field: "kind",
                message: e.to_string(),
            });
        }
        if !SUPPORTED_WIT.contains(&self.wit.as_str()) {
            return Err(PackageError::ManifestField {
                field: "wit",
                message: format!(
                    "`{}` is not supported (supported: {})",
                    self.wit,
                    SUPPORTED_WIT.join(", ")
                ),
            });
        }
        if self.description.trim().is_empty() {
            return Err(PackageError::ManifestField {
                field: "description",
                message: "must not be empty".to_owned(),
            });
        }
        let field = |e: crate::RegistryError| match e {
            crate::RegistryError::Invalid { field, message } => {
                PackageError::ManifestField { field, message }
            }
            other => PackageError::Manifest(other.to_string()),
        };
        crate::bounds::DESCRIPTION
            .text(&self.description)
            .map_err(field)?;
        if let Some(schema) = &self.settings_schema {
            crate::bounds::SETTINGS_SCHEMA.json(schema).map_err(field)?;
        }
        if self.fixtures.len() > MAX_FIXTURES {
            return Err(PackageError::ManifestField {
                field: "fixtures",
                message: format!(
                    "holds {} calls; at most {MAX_FIXTURES} are accepted",
                    self.fixtures.len()
                ),
            });
        }
        for (i, call) in self.fixtures.iter().enumerate() {
            if call.function.trim().is_empty() || !call.args.is_object() {
                return Err(PackageError::ManifestField {
                    field: "fixtures",
                    message: format!(
                        "call {i} needs a `function` name and `args` as a JSON object"
                    ),
                });
            }
        }
        Ok(())
    }
}

impl Package {
    /// Build a signed package file from a manifest and component bytes.
    pub fn build(
        manifest: &Manifest,
        code: &[u8],
        key: &SigningKey,
    ) -> Result<Vec<u8>, PackageError> {
        manifest.validate()?;
        let manifest_bytes =
            serde_json::to_vec(manifest).map_err(|e| PackageError::Manifest(e.to_string()))?;
        let len = u32::try_from(manifest_bytes.len())
            .map_err(|_| PackageError::Manifest("the manifest is too large".to_owned()))?;
        let signature = key.sign(&message(&manifest_bytes, code));
        let mut file = Vec::with_capacity(8 + 4 + manifest_bytes.len() + 96 + code.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&manifest_bytes);
        file.extend_from_slice(key.verifying_key().as_bytes());
        file.extend_from_slice(&signature.to_bytes());
        file.extend_from_slice(code);
        Ok(file)
    }

    /// Split a package file into its parts and parse the manifest.
    pub fn parse(bytes: &[u8]) -> Result<Package, PackageError> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or(PackageError::NotAPackage)?;
        let (len, rest) = split(rest, 4, "the manifest length")?;
        let len = u32::from_le_bytes(
            len.try_into()
                .map_err(|_| PackageError::Truncated("the manifest length"))?,
        ) as usize;
        // Bounded before it is parsed, so a huge manifest costs nothing.
        if len > crate::bounds::MANIFEST.max {
            return Err(PackageError::ManifestField {
                field: "manifest",
                message: format!(
                    "is {len} bytes; at most {} are accepted",
                    crate::bounds::MANIFEST.max
                ),
            });
        }
        let (manifest_bytes, rest) = split(rest, len, "the manifest")?;
        let (public_key, rest) = split(rest, 32, "the public key")?;
        let (signature, code) = split(rest, 64, "the signature")?;
        let manifest: Manifest = serde_json::from_slice(manifest_bytes)
            .map_err(|e| PackageError::Manifest(e.to_string()))?;
        manifest.validate()?;
        Ok(Package {
            manifest,
            manifest_bytes: manifest_bytes.to_vec(),
            public_key: public_key
                .try_into()
                .map_err(|_| PackageError::Truncated("the public key"))?,
            signature: signature
                .try_into()
                .map_err(|_| PackageError::Truncated("the signature"))?,
            code: code.to_vec(),
        })
    }

    /// Check the signature over manifest and code with the embedded key.
    pub fn verify(&self) -> Result<(), PackageError> {
        let key = VerifyingKey::from_bytes(&self.public_key).map_err(|_| PackageError::BadKey)?;
        let signature = Signature::from_bytes(&self.signature);
        key.verify(&message(&self.manifest_bytes, &self.code), &signature)
            .map_err(|_| PackageError::BadSignature)
    }

    /// The signer's public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// sha256 of the component bytes, lowercase hex.
    pub fn code_digest(&self) -> String {
        sha256_hex(&self.code)
    }

    /// sha256 of the manifest as signed, lowercase hex.
    pub fn manifest_digest(&self) -> String {
        sha256_hex(&self.manifest_bytes)
    }
}

fn split<'a>(
    bytes: &'a [u8],
    n: usize,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), PackageError> {
    if bytes.len() < n {
        Err(PackageError::Truncated(what))
    } else {
        Ok(bytes.split_at(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "name": "acme/booking",
            "version": "1.2.0",
            "kind": "livestream-booking",
            "wit": "mercato:sales@0.1.0",
            "permissions": ["store", "events"],
            "limits": {"memory-bytes": 33554432},
            "description": "Books livestream seats."
        }))
        .unwrap()
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    const CODE: &[u8] = b"\0asm\x0d\0\x01\0 pretend component";

    #[test]
    fn a_signed_package_round_trips_and_verifies() {
        let file = Package::build(&manifest(), CODE, &key(7)).unwrap();
        let package = Package::parse(&file).unwrap();
        assert_eq!(package.manifest, manifest());
        assert_eq!(package.code, CODE);
        assert_eq!(package.public_key(), key(7).verifying_key().as_bytes());
        package.verify().unwrap();
        assert_eq!(package.code_digest(), sha256_hex(CODE));
        assert_eq!(key_id(package.public_key()).len(), 16);
    }

    #[test]
    fn a_flipped_byte_in_code_or_manifest_fails_verification() {
        let file = Package::build(&manifest(), CODE, &key(7)).unwrap();
        let mut code = file.clone();
        *code.last_mut().unwrap() ^= 1;
        assert!(matches!(
            Package::parse(&code).unwrap().verify(),
            Err(PackageError::BadSignature)
        ));
        // "1.2.0" → "1.3.0": still a valid manifest, no longer the signed one.
        let at = file.windows(5).position(|w| w == b"1.2.0").unwrap();
        let mut manifest = file.clone();
        manifest[at + 2] = b'3';
        let tampered = Package::parse(&manifest).unwrap();
        assert_eq!(tampered.manifest.version, semver::Version::new(1, 3, 0));
        assert!(matches!(tampered.verify(), Err(PackageError::BadSignature)));
    }

    /// A package signed as its author would sign it, whatever its manifest
    /// says (so the parser, not the builder, must refuse what is wrong).
    fn signed_raw(manifest: &serde_json::Value) -> Vec<u8> {
        let bytes = serde_json::to_vec(manifest).unwrap();
        let signature = key(7).sign(&message(&bytes, CODE));
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        file.extend_from_slice(&bytes);
        file.extend_from_slice(key(7).verifying_key().as_bytes());
        file.extend_from_slice(&signature.to_bytes());
        file.extend_from_slice(CODE);
        file
    }

    #[test]
    fn versions_are_told_apart_by_precedence_so_build_metadata_is_refused() {
        let mut m = serde_json::to_value(manifest()).unwrap();
        for version in ["1.2.0+evil", "1.2.0-rc.1+build.5"] {
            m["version"] = version.into();
            match Package::parse(&signed_raw(&m)) {
                Err(PackageError::ManifestField { field, message }) => {
                    assert_eq!(field, "version");
                    assert!(message.contains("build metadata"), "{message}");
                }
                other => panic!("{version}: {other:?}"),
            }
        }
        // A pre-release is a version of its own precedence, and accepted.
        m["version"] = "1.2.0-rc.1".into();
        Package::parse(&signed_raw(&m)).unwrap().verify().unwrap();
        // Where a caller names a version or a range, the same rule.
        let err = crate::versions::parse_version("version", "0.1.0+evil").unwrap_err();
        assert_eq!(err.code(), "invalid-input");
        assert!(err.to_string().contains("build metadata"), "{err}");
    }

    #[test]
    fn another_key_over_the_same_content_is_a_different_signer() {
        let mine = Package::parse(&Package::build(&manifest(), CODE, &key(7)).unwrap()).unwrap();
        let theirs = Package::parse(&Package::build(&manifest(), CODE, &key(8)).unwrap()).unwrap();
        theirs.verify().unwrap();
        assert_ne!(key_id(mine.public_key()), key_id(theirs.public_key()));
    }

    #[test]
    fn malformed_files_and_manifests_are_refused_by_name() {
        assert!(matches!(
            Package::parse(b"\0asm garbage"),
            Err(PackageError::NotAPackage)
        ));
        let file = Package::build(&manifest(), CODE, &key(7)).unwrap();
        assert!(matches!(
            Package::parse(&file[..20]),
            Err(PackageError::Truncated("the manifest"))
        ));

        let unknown = serde_json::from_value::<Manifest>(serde_json::json!({
            "name": "acme/booking", "version": "1.0.0", "kind": "livestream-booking",
            "wit": "mercato:sales@0.1.0", "description": "x", "network": true
        }));
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `network`")
        );
        let bad_permission = serde_json::from_value::<Manifest>(serde_json::json!({
            "name": "acme/booking", "version": "1.0.0", "kind": "livestream-booking",
            "wit": "mercato:sales@0.1.0", "description": "x", "permissions": ["filesystem"]
        }));
        assert!(
            bad_permission
                .unwrap_err()
                .to_string()
                .contains("`filesystem`")
        );

        for (field, value) in [
            ("name", "Acme/Booking"),
            ("kind", "crm"),
            ("wit", "mercato:sales@9.0.0"),
            ("description", " "),
        ] {
            let mut m = serde_json::to_value(manifest()).unwrap();
            m[field] = serde_json::json!(value);
            let m: Manifest = serde_json::from_value(m).unwrap();
            match Package::build(&m, CODE, &key(7)) {
                Err(PackageError::ManifestField { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected a field error, got {other:?}"),
            }
        }
    }
}
