//! `mercato new`: a component crate of a kind, ready to build, test, run
//! and pack outside any workspace of ours: `Cargo.toml` with
//! `[package.metadata.mercato]`, a component with a few working functions,
//! a native test through `mercato_sdk::testing`, and a calls file for
//! `mercato run`.

use std::path::{Path, PathBuf};

use mercato_types::Kind;

use crate::CliError;

/// Where the new crate gets `mercato-sdk` from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A local checkout's `sdk/` directory.
    Path(PathBuf),
    /// A git repository holding the workspace.
    Git(String),
    /// A version from the registry.
    Version(String),
}

impl SdkSource {
    /// The SDK of the checkout this `mercato` was built from, when it is
    /// still there; else the registry version matching this `mercato`.
    pub fn default_for_this_build() -> SdkSource {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
        match checkout.canonicalize() {
            Ok(path) if path.join("Cargo.toml").exists() => SdkSource::Path(path),
            _ => SdkSource::Version(env!("CARGO_PKG_VERSION").to_owned()),
        }
    }

    /// Parse `--sdk`: a git URL, a directory, or a version.
    pub fn parse(text: &str) -> SdkSource {
        if text.starts_with("https://") || text.starts_with("git@") || text.ends_with(".git") {
            SdkSource::Git(text.to_owned())
        } else if text.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            SdkSource::Version(text.to_owned())
        } else {
            SdkSource::Path(PathBuf::from(text))
        }
    }

    fn dependency(&self) -> String {
        match self {
            SdkSource::Path(path) => format!("{{ path = {:?} }}", path.display().to_string()),
            SdkSource::Git(url) => format!("{{ git = {url:?} }}"),
            SdkSource::Version(version) => format!("{version:?}"),
        }
    }
}

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewCrate {
    /// The component's kind.
    pub kind: Kind,
    /// The directory to create; its last segment names the crate.
    pub dir: PathBuf,
    /// The publisher the package name starts with.
    pub publisher: String,
    /// Where `mercato-sdk` comes from.
    pub sdk: SdkSource,
}

/// Files per kind: component source, native test, calls file.
fn templates(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::LivestreamBooking => (
            include_str!("scaffold/livestream.rs.tmpl"),
            include_str!("scaffold/livestream.test.tmpl"),
            include_str!("scaffold/livestream.calls.tmpl"),
        ),
        Kind::SampleRequests => (
            include_str!("scaffold/samples.rs.tmpl"),
            include_str!("scaffold/samples.test.tmpl"),
            include_str!("scaffold/samples.calls.tmpl"),
        ),
        Kind::TrialFeedback => (
            include_str!("scaffold/feedback.rs.tmpl"),
            include_str!("scaffold/feedback.test.tmpl"),
            include_str!("scaffold/feedback.calls.tmpl"),
        ),
        Kind::Experiments => (
            include_str!("scaffold/experiments.rs.tmpl"),
            include_str!("scaffold/experiments.test.tmpl"),
            include_str!("scaffold/experiments.calls.tmpl"),
        ),
    }
}

/// A name the package format accepts: lowercase letters, digits and
/// dashes, starting with a letter, at most 64 characters.
fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Create the crate; returns the files written.
pub fn create(new: &NewCrate) -> Result<Vec<PathBuf>, CliError> {
    let name = new
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    if !valid_name(&name) {
        return Err(CliError::Invalid(format!(
            "the directory name `{name}` names the crate and the component; use lowercase \
             letters, digits and dashes, starting with a letter (e.g. `my-booking`)"
        )));
    }
    if !valid_name(&new.publisher) {
        return Err(CliError::Invalid(format!(
            "--publisher `{}`: use lowercase letters, digits and dashes, starting with a letter",
            new.publisher
        )));
    }
    if new
        .dir
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(CliError::Invalid(format!(
            "{} exists and is not empty; choose a new directory",
            new.dir.display()
        )));
    }
    let ident = name.replace('-', "_");
    let title: String = name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let fill = |t: &str| t.replace("{{crate}}", &ident).replace("{{title}}", &title);
    let (source, test, calls) = templates(new.kind);
    let cargo_toml = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
description = "{title}: a Mercato {kind} component."

[lib]
# cdylib: the component; rlib: so native tests can link the crate.
crate-type = ["cdylib", "rlib"]

[dependencies]
mercato-sdk = {sdk}

# What `mercato pack` puts in the package's manifest. Permissions are what
# the component may use (store, events, approvals, customers,
# customers.contact); a reviewer approves them. Limits are optional
# (fuel, deadline-ms, memory-bytes, output-bytes, log-bytes).
[package.metadata.mercato]
name = "{publisher}/{name}"
kind = "{kind}"
permissions = ["store", "events"]

# Its own workspace, so it builds wherever it sits; remove this table to
# make it a member of one of yours.
[workspace]
"#,
        kind = new.kind,
        publisher = new.publisher,
        sdk = new.sdk.dependency(),
    );
    let readme = format!(
        "# {title}\n\nA Mercato `{kind}` component.\n\n```sh\n\
         cargo test                                   # native tests against the SDK's test host\n\
         mercato run . --calls calls.json             # build, run the calls in the sandbox, show costs\n\
         mercato keygen --out {publisher}.key          # once: a signing key\n\
         mercato pack --key {publisher}.key           # build, check and sign {publisher}-{name}-0.1.0.mrc\n\
         mercato publish {publisher}-{name}-0.1.0.mrc --server URL --token TOKEN\n```\n",
        kind = new.kind,
        publisher = new.publisher,
    );
    let files = [
        (PathBuf::from("Cargo.toml"), cargo_toml),
        (PathBuf::from("src/lib.rs"), fill(source)),
        (PathBuf::from("tests/native.rs"), fill(test)),
        (PathBuf::from("calls.json"), fill(calls)),
        (PathBuf::from("README.md"), readme),
        (
            PathBuf::from(".gitignore"),
            "/target\n*.mrc\n*.key\n*.db\n".to_owned(),
        ),
    ];
    let mut written = Vec::new();
    for (relative, text) in files {
        let path = new.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(CliError::file("creating", parent))?;
        }
        std::fs::write(&path, text).map_err(CliError::file("writing", &path))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sdk_sources_are_checked_and_spelled_for_cargo() {
        assert!(valid_name("my-booking"));
        assert!(!valid_name("My_Booking"));
        assert!(!valid_name("1st"));
        assert_eq!(
            SdkSource::parse("0.1.0"),
            SdkSource::Version("0.1.0".into())
        );
        assert_eq!(
            SdkSource::parse("https://example.org/mercato.git").dependency(),
            r#"{ git = "https://example.org/mercato.git" }"#
        );
        assert_eq!(
            SdkSource::parse("../mercato/sdk").dependency(),
            r#"{ path = "../mercato/sdk" }"#
        );
    }

    #[test]
    fn a_bad_directory_name_or_a_non_empty_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = NewCrate {
            kind: Kind::LivestreamBooking,
            dir: dir.path().join("Bad_Name"),
            publisher: "acme".into(),
            sdk: SdkSource::Version("0.1.0".into()),
        };
        assert!(create(&bad).unwrap_err().to_string().contains("`Bad_Name`"));
        let taken = dir.path().join("taken");
        std::fs::create_dir_all(&taken).expect("mkdir");
        std::fs::write(taken.join("x"), "x").expect("write");
        let err = create(&NewCrate { dir: taken, ..bad }).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
    }

    #[test]
    fn every_kind_scaffolds_its_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        for kind in Kind::ALL {
            let new = NewCrate {
                kind,
                dir: dir.path().join(kind.as_str()),
                publisher: "acme".into(),
                sdk: SdkSource::Version("0.1.0".into()),
            };
            let files = create(&new).expect("created");
            assert_eq!(files.len(), 6);
            let toml = std::fs::read_to_string(new.dir.join("Cargo.toml")).expect("read");
            assert!(toml.contains(&format!("kind = \"{kind}\"")), "{toml}");
            assert!(toml.contains(&format!("name = \"acme/{kind}\"")), "{toml}");
            let calls: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(new.dir.join("calls.json")).expect("read"),
            )
            .expect("the calls file is JSON");
            assert!(calls.as_array().is_some_and(|c| !c.is_empty()));
            let test = std::fs::read_to_string(new.dir.join("tests/native.rs")).expect("read");
            assert!(test.contains(&format!("use {}::", kind.as_str().replace('-', "_"))));
        }
    }
}
