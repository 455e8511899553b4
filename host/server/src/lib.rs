//! Mercato's server: the marketplace as a host runs it, and its HTTP face.
//!
//! Owns [`Marketplace`], the one path by which the server changes registry
//! state (so cache invalidation and settings validation happen in one
//! place), the HTTP API ([`http::app`]) with its OpenAPI document, the web
//! console ([`console`]) on the same origin, and the Prometheus metrics. The HTTP layer is thin: it authenticates, parses,
//! calls the marketplace and maps typed errors to status codes.
//!
//! Must not know how components are sandboxed (that is `mercato-runtime`'s)
//! nor how records are stored (that is `mercato-registry`'s); role and
//! tenant checks are the registry's, asked the same way for every front end.

pub mod console;
pub mod http;
pub mod marketplace;
pub mod metrics;

pub use marketplace::{MarketError, Marketplace};
