//! The registry's one error type. Every refusal names what was wrong and
//! carries a stable code the HTTP layer maps to a status.

use crate::PackageError;

/// Why a registry operation was refused or failed. Nothing is stored when
/// one is returned.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No valid token was presented.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller's role or tenant does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The named thing does not exist (or is not visible to the caller).
    #[error("{what} `{name}` does not exist")]
    NotFound {
        /// What kind of thing (`tenant`, `package version`, …).
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// It exists already, or the request conflicts with its current state.
    #[error("{message}")]
    Conflict {
        /// Stable code, e.g. `version-not-greater`.
        code: &'static str,
        /// What conflicts.
        message: String,
    },
    /// A request field has a value the registry does not accept.
    #[error("`{field}`: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The upload is larger than the registry accepts.
    #[error("the package is {size} bytes; the limit is {max} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// The package file was refused.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The package's signing key is not one the registry trusts for it.
    #[error("{message}")]
    Untrusted {
        /// `unknown-key`, `revoked-key`, `retired-key` or `wrong-publisher`.
        code: &'static str,
        /// Which key and why.
        message: String,
    },
    /// Every database connection stayed busy past the pool's wait: the host
    /// is overloaded, not broken; retry shortly.
    #[error("the host is busy; retry shortly")]
    Busy,
    /// The database failed.
    #[error("registry storage failed: {0}")]
    Storage(sqlx::Error),
    /// Stored data could not be read back (a bug or an edited database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_busy(&e) {
            RegistryError::Busy
        } else {
            RegistryError::Storage(e)
        }
    }
}

impl RegistryError {
    /// A stable, kebab-case code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Unauthenticated(_) => "unauthenticated",
            RegistryError::Forbidden(_) => "forbidden",
            RegistryError::NotFound { what, .. } => match *what {
                "tenant" => "unknown-tenant",
                "account" => "unknown-account",
                "publisher" => "unknown-publisher",
                "key" => "unknown-key",
                "package" | "package version" => "unknown-package",
                "install" => "unknown-install",
                "approval" => "unknown-approval",
                "token" => "unknown-token",
                "customer" => "unknown-customer",
                _ => "not-found",
            },
            RegistryError::Conflict { code, .. } => code,
            RegistryError::Invalid { .. } => "invalid-input",
            RegistryError::TooLarge { .. } => "too-large",
            RegistryError::Package(e) => match e {
                PackageError::NotAPackage | PackageError::Truncated(_) => "not-a-package",
                PackageError::Manifest(_) | PackageError::ManifestField { .. } => {
                    "invalid-manifest"
                }
                PackageError::BadKey | PackageError::BadSignature => "bad-signature",
            },
            RegistryError::Untrusted { code, .. } => code,
            RegistryError::Busy => "busy",
            RegistryError::Storage(_) | RegistryError::Corrupt(_) => "internal",
        }
    }

    pub(crate) fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        RegistryError::NotFound {
            what,
            name: name.into(),
        }
    }

    /// Input refused, naming the field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        RegistryError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// A refusal because of the records' state, with a stable code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        RegistryError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        RegistryError::Forbidden(message.into())
    }
}
