//! Host-side reasons to end an invocation, carried through wasmtime as the
//! trap's error and recovered by downcasting when the invocation is judged.

use mercato_types::{Limit, Permission, StateError};

/// Refuse text a component hands the host to keep (a key, an event's name,
/// an approval's subject) when it holds a NUL: PostgreSQL's text cannot,
/// and the same component must behave the same on either engine.
pub(crate) fn storable<'a>(
    what: &'static str,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<(), Fault> {
    if texts.into_iter().any(|t| t.contains('\0')) {
        return Err(Fault::Unstorable(what));
    }
    Ok(())
}

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
    #[error("{0} holds a NUL character, which no store can keep")]
    Unstorable(&'static str),
    #[error("the invocation exceeded its {limit} limit: {detail}")]
    Limit { limit: Limit, detail: String },
    #[error("component state storage failed: {0}")]
    Storage(#[from] StateError),
}
