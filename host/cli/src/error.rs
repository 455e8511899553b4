//! What can go wrong in the author commands and the demo seeding, each
//! naming what was wrong and, where there is one, the fix.

use std::path::PathBuf;

use mercato_registry::{PackageError, RegistryError};
use mercato_runtime::{InvokeError, LoadError, RuntimeError};
use mercato_server::MarketError;

/// Why an author command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    File {
        /// What was being done (`reading`, `writing`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The input does not make sense; the message names the field or flag.
    #[error("{0}")]
    Invalid(String),
    /// The `wasm32-wasip2` target is missing from the Rust toolchain.
    #[error(
        "the wasm32-wasip2 Rust target is not installed; install it with \
         `rustup target add wasm32-wasip2` and run the command again"
    )]
    TargetMissing,
    /// cargo could not be run or failed.
    #[error("`cargo {step}` failed: {detail}")]
    Cargo {
        /// The cargo subcommand.
        step: &'static str,
        /// What cargo said.
        detail: String,
    },
    /// The component could not be loaded as its kind.
    #[error("the component is not a valid `{kind}` component: {source}")]
    Load {
        /// The kind it claims.
        kind: mercato_types::Kind,
        /// Why it was refused.
        #[source]
        source: LoadError,
    },
    /// Calling the component failed.
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    /// The runtime could not start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The package file is malformed or its signature does not hold.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The registry refused.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The marketplace refused.
    #[error(transparent)]
    Market(#[from] MarketError),
    /// The server refused an upload.
    #[error("the server refused the package ({status}): {message} [{code}]")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached.
    #[error("cannot reach {url}: {detail}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        detail: String,
    },
}

impl CliError {
    /// A file error while `action` (`reading`, `writing`) `path`.
    pub fn file(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> CliError {
        let path = path.into();
        move |source| CliError::File {
            action,
            path,
            source,
        }
    }
}
