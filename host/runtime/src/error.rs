//! What can go wrong loading or invoking a component, as typed errors the
//! HTTP layer maps to status codes.

use crate::{Kind, Limit, Permission};

/// Why component bytes were refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Larger than the platform allows.
    #[error("the component is {size} bytes, above the {max}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not WebAssembly at all.
    #[error("not a WebAssembly component: the bytes do not start with the wasm header")]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component: build with the mercato SDK for the \
         wasm32-wasip2 target (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// Built against a WIT package this host does not serve.
    #[error(
        "the component was built against `{found}`, a WIT version this host does not know \
         (it runs {supported})"
    )]
    UnsupportedWit {
        /// What the component's `mercato-wit` section says.
        found: String,
        /// Every version the host runs, comma-separated.
        supported: String,
    },
    /// Malformed or failed validation.
    #[error("the component is malformed: {0}")]
    Invalid(String),
    /// Shaped so that compiling it would take too long or too much memory.
    #[error("the component is too complex to compile: {0}")]
    TooComplex(String),
    /// Compiling took longer than the platform allows.
    #[error("compiling the component took longer than {seconds} s; it was refused")]
    CompileTimeout {
        /// The bound.
        seconds: f64,
    },
    /// The compiler is busy with other uploads; retry shortly.
    #[error("the host is compiling other components; retry shortly")]
    CompilerBusy,
    /// Imports something the host does not provide.
    #[error("the component imports something this host does not provide: {0}")]
    UnknownImport(String),
    /// Does not implement its kind's world.
    #[error("the component does not implement the `{kind}` world: {detail}")]
    WrongWorld {
        /// The kind it was loaded as.
        kind: Kind,
        /// The missing or mismatched export.
        detail: String,
    },
    /// The compile cache could not be written (the component still loaded).
    #[error("the compile cache failed: {0}")]
    Cache(#[from] std::io::Error),
}

/// Why an invocation did not return a value.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The kind has no such function.
    #[error("`{kind}` components have no function `{function}` (they have: {available})")]
    UnknownFunction {
        /// The kind.
        kind: Kind,
        /// What was asked for.
        function: String,
        /// What exists, comma-separated.
        available: String,
    },
    /// The arguments do not fit the function's parameters.
    #[error("bad arguments for `{function}`: {message}")]
    BadArguments {
        /// The function.
        function: String,
        /// Which parameter and what is wrong.
        message: String,
    },
    /// A limit ended the invocation.
    #[error("the invocation exceeded its {limit} limit: {detail}")]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// The limit's value and what happened.
        detail: String,
    },
    /// The component called a host interface it was not granted.
    #[error("the component called `{call}` without the `{permission}` permission")]
    PermissionDenied {
        /// The permission it lacks.
        permission: Permission,
        /// The host function it called.
        call: &'static str,
    },
    /// The component trapped (panicked, hit `unreachable`, misused the ABI, ...).
    #[error("the component failed: {message}")]
    ComponentFault {
        /// The trap, with what the component wrote to stderr just before.
        message: String,
    },
    /// Every instance slot is in use.
    #[error("the host is at its limit of concurrent invocations; retry shortly")]
    Busy,
    /// Other invocations kept changing the same data; gave up after retrying.
    #[error(
        "gave up after {attempts} attempts: concurrent invocations kept changing the same data"
    )]
    Contention {
        /// How many times it ran.
        attempts: u32,
    },
    /// Component state could not be read or written.
    #[error("component state storage failed: {0}")]
    Storage(String),
}

impl InvokeError {
    /// A stable, short code for the error (HTTP error codes, metrics labels).
    pub fn code(&self) -> &'static str {
        match self {
            InvokeError::UnknownFunction { .. } => "unknown-function",
            InvokeError::BadArguments { .. } => "bad-arguments",
            InvokeError::LimitExceeded { .. } => "limit-exceeded",
            InvokeError::PermissionDenied { .. } => "permission-denied",
            InvokeError::ComponentFault { .. } => "component-fault",
            InvokeError::Busy => "busy",
            InvokeError::Contention { .. } => "contention",
            InvokeError::Storage(_) => "storage",
        }
    }

    /// The limit, when a limit ended the invocation.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            InvokeError::LimitExceeded { limit, .. } => Some(*limit),
            _ => None,
        }
    }
}
