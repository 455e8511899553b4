//! Compiled components on disk, keyed by the sha256 digest of their bytes and
//! by the engine's compatibility hash, so a restart deserializes (a memory
//! map) instead of recompiling, and a wasmtime upgrade never loads stale code.
//!
//! The directory is trusted like the binary itself: only this process writes
//! it, each file atomically and never in place (files are memory-mapped).
//! Package signatures are verified before a digest ever reaches here.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of `<digest>-<engine>.cwasm` files.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// Use (creating if needed) `dir` for `engine`'s artifacts.
    pub fn open(dir: &Path, engine: &Engine) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompileCache {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// Whether a compilation of `digest` is on disk.
    pub fn contains(&self, digest: &str) -> bool {
        self.path(digest).is_file()
    }

    /// The cached compilation of `digest`, if present and loadable. An
    /// unloadable file (truncated, foreign) is removed so it is rebuilt.
    pub fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        if !path.exists() {
            return None;
        }
        match deserialize(engine, &path) {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "dropping unusable cached component");
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Store the compilation of `digest`.
    pub fn put(&self, digest: &str, component: &Component) -> io::Result<()> {
        let bytes = component.serialize().map_err(io::Error::other)?;
        let path = self.path(digest);
        let tmp = self.dir.join(format!(
            ".{digest}-{}-{}.tmp",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        fs::write(&tmp, bytes)?;
        fs::rename(&tmp, &path).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }
}

/// Map a file this process wrote with [`Component::serialize`].
///
/// Mapping is 3× faster than reading and copying (the copy page-faults every
/// page). It relies on files never changing in place while mapped: `put`
/// only ever renames a complete new file over a name, which leaves existing
/// mappings on the old inode.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires a file produced by `serialize` for a compatible
    // engine that is not modified while mapped. Files in this directory are
    // written only by `put` (atomically, via rename, never in place) and named
    // with the engine's compatibility hash; wasmtime re-checks the header.
    unsafe { Component::deserialize_file(engine, path) }
}
