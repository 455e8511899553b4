//! Component state kept in the database. The contract (scopes, commits,
//! optimistic versions) is `mercato-types`'; this module implements it on
//! SQLite and PostgreSQL.

mod sql;

pub use mercato_types::{
    ApprovalRecord, Commit, EventRecord, MemoryState, Scope, StateError, StateStore, Version,
};
pub use sql::SqlState;
