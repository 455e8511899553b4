//! Component state: key/value entries per (tenant, component), and what an
//! invocation emitted (events, approval requests), committed all at once.
//!
//! Concurrency is optimistic and per scope: every scope has a version that
//! each commit bumps. An invocation notes the version before its first read
//! and commits only if it is unchanged; otherwise the caller re-runs it. This
//! works the same for one process and for several hosts sharing PostgreSQL.

use std::collections::BTreeMap;

/// Whose data: one tenant's data of one component.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The tenant's id.
    pub tenant: String,
    /// The component's name (`publisher/name`).
    pub component: String,
}

impl Scope {
    /// The scope of `component`'s data for `tenant`.
    pub fn new(tenant: impl Into<String>, component: impl Into<String>) -> Self {
        Scope {
            tenant: tenant.into(),
            component: component.into(),
        }
    }
}

/// A scope's version; 0 means never written.
pub type Version = u64;

/// An analytics event a component emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Dotted name.
    pub name: String,
    /// The customer it is about.
    pub customer: Option<String>,
    /// Properties as a JSON object.
    pub properties: serde_json::Value,
    /// Milliseconds since the Unix epoch.
    pub occurred_at: u64,
}

/// An approval request a component filed.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// The id the component was given.
    pub id: String,
    /// The component's own reference.
    pub subject: String,
    /// One line for the inbox.
    pub summary: String,
    /// Label/value pairs.
    pub details: Vec<(String, String)>,
    /// Milliseconds since the Unix epoch.
    pub requested_at: u64,
}

/// Everything one invocation changed, applied atomically.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// The scope's version the invocation read.
    pub base: Version,
    /// Key → new value, or `None` to delete.
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
    /// Events to store.
    pub events: Vec<EventRecord>,
    /// Approval requests to file.
    pub approvals: Vec<ApprovalRecord>,
}

impl Commit {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.events.is_empty() && self.approvals.is_empty()
    }
}

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Someone else committed to the scope since `base` was read; re-run.
    #[error("the component's data changed during the invocation (version {base} is now {current})")]
    Conflict {
        /// The version the invocation started from.
        base: Version,
        /// The version found at commit.
        current: Version,
    },
    /// The storage engine failed.
    #[error("state storage failed: {0}")]
    Storage(String),
}

/// Where component state lives. Methods block; call them from a thread that
/// may block (never from inside an async task).
pub trait StateStore: Send + Sync + 'static {
    /// The scope's current version.
    fn version(&self, scope: &Scope) -> Result<Version, StateError>;
    /// The value under `key`.
    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    /// Keys starting with `prefix`, ascending.
    fn list_keys(&self, scope: &Scope, prefix: &str) -> Result<Vec<String>, StateError>;
    /// Apply `commit` if the scope is still at `commit.base`; returns the new version.
    fn commit(&self, scope: &Scope, commit: Commit) -> Result<Version, StateError>;
}

#[cfg(any(test, feature = "testing"))]
#[allow(clippy::unwrap_used)]
pub mod contract {
    //! The behaviour every [`StateStore`] must show, run against each backend.

    use super::*;

    fn write(base: Version, pairs: &[(&str, Option<&str>)]) -> Commit {
        Commit {
            base,
            writes: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.map(|v| v.as_bytes().to_vec())))
                .collect(),
            ..Commit::default()
        }
    }

    /// Panics where `store` breaks the contract.
    pub fn check(store: &dyn StateStore) {
        let a = Scope::new("acme", "pub/comp");
        let b = Scope::new("globex", "pub/comp");
        assert_eq!(store.version(&a).unwrap(), 0);
        assert_eq!(store.get(&a, "k").unwrap(), None);

        let v1 = store
            .commit(
                &a,
                write(
                    0,
                    &[
                        ("k", Some("1")),
                        ("list/2", Some("x")),
                        ("list/1", Some("y")),
                    ],
                ),
            )
            .unwrap();
        assert_eq!(v1, 1);
        assert_eq!(store.get(&a, "k").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(
            store.list_keys(&a, "list/").unwrap(),
            vec!["list/1", "list/2"]
        );
        // Another tenant sees nothing of it.
        assert_eq!(store.get(&b, "k").unwrap(), None);
        assert_eq!(store.version(&b).unwrap(), 0);

        // A commit from a stale version is refused and changes nothing.
        let stale = store.commit(&a, write(0, &[("k", Some("stale"))]));
        assert!(matches!(
            stale,
            Err(StateError::Conflict {
                base: 0,
                current: 1
            })
        ));
        assert_eq!(store.get(&a, "k").unwrap().as_deref(), Some(&b"1"[..]));

        let v2 = store
            .commit(&a, write(1, &[("k", None), ("list/3", Some("z"))]))
            .unwrap();
        assert_eq!(v2, 2);
        assert_eq!(store.get(&a, "k").unwrap(), None);
        assert_eq!(
            store.list_keys(&a, "list/").unwrap(),
            vec!["list/1", "list/2", "list/3"]
        );
        assert_eq!(store.list_keys(&a, "").unwrap().len(), 3);

        // Events and approvals commit with the writes.
        let mut c = write(2, &[]);
        c.events.push(EventRecord {
            name: "e".into(),
            customer: Some("c".into()),
            properties: serde_json::json!({"n": 1}),
            occurred_at: 5,
        });
        c.approvals.push(ApprovalRecord {
            id: "apr-1".into(),
            subject: "s".into(),
            summary: "sum".into(),
            details: vec![("a".into(), "b".into())],
            requested_at: 6,
        });
        assert_eq!(store.commit(&a, c).unwrap(), 3);
    }
}
