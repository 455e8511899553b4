//! Host-side reasons to end an invocation, carried through wasmtime as the
//! trap's error and recovered by downcasting when the invocation is judged.

use mercato_types::{Limit, Permission, StateError};

/// A host-side reason to end an invocation, carried through wasmtime as the
/// trap's error and recovered by downcasting.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Fault {
    #[error("called `{call}` without the `{permission}` permission")]
    PermissionDenied {
        permission: Permission,
        call: &'static str,
    },
    #[error("called `{0}`, which would block; components must not sleep or poll")]
    Blocking(String),
    #[error("the invocation exceeded its {limit} limit: {detail}")]
    Limit { limit: Limit, detail: String },
    #[error("component state storage failed: {0}")]
    Storage(#[from] StateError),
}
