//! Publisher signing keys: made by `mercato keygen`, read by `mercato pack`.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use mercato_registry::key_id;

use crate::CliError;

/// A fresh random signing key.
pub fn new_key() -> Result<SigningKey, CliError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| CliError::Invalid(format!("no randomness available: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Read a signing key written by [`keygen`] (64 hex digits).
pub fn read_key(path: &Path) -> Result<SigningKey, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::File {
        action: "reading the signing key (make one with `mercato keygen`)",
        path: path.to_owned(),
        source,
    })?;
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            CliError::Invalid(format!(
                "{} is not a mercato signing key (64 hex digits)",
                path.display()
            ))
        })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A new key pair: the secret key in `out` (mode 0600), the public key in
/// `<out>.pub`; neither file may exist. Returns the public key in hex.
pub fn keygen(out: &Path) -> Result<(String, String), CliError> {
    let public = PathBuf::from(format!("{}.pub", out.display()));
    for path in [out, public.as_path()] {
        if path.exists() {
            return Err(CliError::Invalid(format!(
                "{} exists already; refusing to overwrite a key",
                path.display()
            )));
        }
    }
    let key = new_key()?;
    write_secret(out, &hex::encode(key.to_bytes()))?;
    let public_hex = hex::encode(key.verifying_key().as_bytes());
    std::fs::write(&public, format!("{public_hex}\n"))
        .map_err(CliError::file("writing", &public))?;
    Ok((public_hex, key_id(key.verifying_key().as_bytes())))
}

fn write_secret(path: &Path, hex_key: &str) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(CliError::file("creating", path))?;
    writeln!(file, "{hex_key}").map_err(CliError::file("writing", path))
}
