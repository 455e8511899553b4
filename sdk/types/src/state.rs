//! Component state: key/value entries per (tenant, component), and what an
//! invocation emitted (events, approval requests), committed all at once.
//!
//! Concurrency is optimistic and per scope: every scope has a version that
//! each commit *with writes* bumps. An invocation notes the version before
//! its first read and commits only if it is unchanged; otherwise the caller
//! re-runs it. A commit that read nothing (only appends events or approval
//! requests) checks no version, and one that wrote nothing bumps none, so
//! every conflict is a real one: something the invocation read was changed.
//! This works the same for one process and for several hosts sharing
//! PostgreSQL.
//!
//! A commit also carries the scope's quota (keys and bytes held) and the
//! time by which it must be applied: one over its quota or its deadline
//! applies nothing.

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
    /// The component version that emitted it, when the host said.
    pub version: Option<String>,
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
    /// The customer it is about, if the component said.
    pub customer: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub requested_at: u64,
}

/// What a scope may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Keys.
    pub keys: u64,
    /// Bytes of keys and values.
    pub bytes: u64,
}

impl Quota {
    /// No bound (tests and tools).
    pub const UNBOUNDED: Quota = Quota {
        keys: u64::MAX,
        bytes: u64::MAX,
    };
}

impl Default for Quota {
    fn default() -> Self {
        Quota::UNBOUNDED
    }
}

/// What a scope holds: its keys and the bytes of its keys and values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Keys.
    pub keys: u64,
    /// Bytes of keys and values.
    pub bytes: u64,
}

impl Usage {
    /// This usage after `commit` if none of its keys existed before: the
    /// most it can grow to. When that is within the quota, the commit can
    /// be applied without first looking up what it replaces.
    pub fn at_most_after(&self, commit: &Commit) -> Usage {
        commit
            .writes
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.len() + v.len()) as u64))
            .fold(*self, |u, bytes| Usage {
                keys: u.keys + 1,
                bytes: u.bytes + bytes,
            })
    }

    /// Whether this usage is over `quota` while `grew` (a commit that
    /// shrinks a scope is always allowed, so a lowered quota never traps a
    /// component that is cleaning up).
    pub fn breaches(&self, quota: &Quota, before: &Usage) -> bool {
        (self.keys > quota.keys && self.keys > before.keys)
            || (self.bytes > quota.bytes && self.bytes > before.bytes)
    }
}

/// Everything one invocation changed, applied atomically.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// The scope's version the invocation read; `None` when it read nothing
    /// (then it has no writes either: a blind write depends on the version
    /// it overwrites).
    pub base: Option<Version>,
    /// The scope's quota.
    pub quota: Quota,
    /// Apply by then or not at all.
    pub deadline: Option<std::time::Instant>,
    /// Key → new value, or `None` to delete.
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
    /// Events to store.
    pub events: Vec<EventRecord>,
    /// Approval requests to file.
    pub approvals: Vec<ApprovalRecord>,
    /// Ids of pending approval requests of this scope to close as withdrawn.
    pub withdrawals: Vec<String>,
}

impl Commit {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.events.is_empty()
            && self.approvals.is_empty()
            && self.withdrawals.is_empty()
    }
}

/// A scope's entries at one version, shared and never changed in place.
pub type Entries = std::sync::Arc<BTreeMap<String, Vec<u8>>>;

/// What one invocation reads from: the scope's version and, when the store
/// holds the scope in memory, its entries at exactly that version. Reads
/// from `entries` form one consistent view, so a read-only invocation that
/// used them needs no second look at the version.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The scope's version.
    pub version: Version,
    /// Its entries at `version`, or `None` when reads go to the store.
    pub entries: Option<Entries>,
}

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The commit would leave the scope over its quota; nothing was applied.
    #[error(
        "the store would hold {} keys and {} bytes; its quota is {} keys and {} bytes",
        .usage.keys, .usage.bytes, .quota.keys, .quota.bytes
    )]
    OverQuota {
        /// What the scope would hold.
        usage: Usage,
        /// Its quota.
        quota: Quota,
    },
    /// The commit could not be applied before its deadline; nothing was.
    #[error("the commit was not applied before the invocation's deadline")]
    Deadline,
    /// Someone else committed to the scope since `base` was read; re-run.
    #[error("the component's data changed during the invocation (version {base} is now {current})")]
    Conflict {
        /// The version the invocation started from.
        base: Version,
        /// The version found at commit.
        current: Version,
    },
    /// The storage engine stayed busy past its wait (load, not a fault).
    #[error("state storage is busy; retry shortly")]
    Busy,
    /// The storage engine failed.
    #[error("state storage failed: {0}")]
    Storage(String),
}

/// Where component state lives. Methods block; call them from a thread that
/// may block (never from inside an async task).
pub trait StateStore: Send + Sync + 'static {
    /// The scope's current version.
    fn version(&self, scope: &Scope) -> Result<Version, StateError>;
    /// The scope as an invocation starts reading it: its current version
    /// and, where the store can, its entries at that version in one
    /// consistent view. The default hands out the version only.
    fn snapshot(&self, scope: &Scope) -> Result<Snapshot, StateError> {
        Ok(Snapshot {
            version: self.version(scope)?,
            entries: None,
        })
    }
    /// The value under `key`.
    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    /// Keys starting with `prefix`, ascending.
    fn list_keys(&self, scope: &Scope, prefix: &str) -> Result<Vec<String>, StateError>;
    /// Apply `commit` if the scope is still at `commit.base` (any version
    /// when it is `None`), within its quota and deadline; returns the
    /// scope's version after it.
    fn commit(&self, scope: &Scope, commit: Commit) -> Result<Version, StateError>;
    /// What the scope holds.
    fn usage(&self, scope: &Scope) -> Result<Usage, StateError>;
}

#[cfg(any(test, feature = "testing"))]
#[allow(clippy::unwrap_used)]
pub mod contract {
    //! The behaviour every [`StateStore`] must show, run against each backend.

    use super::*;

    fn write(base: Version, pairs: &[(&str, Option<&str>)]) -> Commit {
        Commit {
            base: Some(base),
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

        // A snapshot is the scope at one version; one taken before a commit
        // keeps showing what it showed.
        let before = store.snapshot(&a).unwrap();
        assert_eq!(before.version, 1);
        let v2 = store
            .commit(&a, write(1, &[("k", None), ("list/3", Some("z"))]))
            .unwrap();
        assert_eq!(v2, 2);
        if let Some(entries) = &before.entries {
            assert_eq!(entries.get("k").map(Vec::as_slice), Some(&b"1"[..]));
            assert!(!entries.contains_key("list/3"));
        }
        let after = store.snapshot(&a).unwrap();
        assert_eq!(after.version, 2);
        if let Some(entries) = &after.entries {
            let keys: Vec<&str> = entries.keys().map(String::as_str).collect();
            assert_eq!(keys, ["list/1", "list/2", "list/3"]);
        }
        assert_eq!(store.snapshot(&b).unwrap().version, 0);
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
            version: None,
        });
        c.approvals.push(ApprovalRecord {
            id: "apr-1".into(),
            subject: "s".into(),
            summary: "sum".into(),
            details: vec![("a".into(), "b".into())],
            customer: None,
            requested_at: 6,
        });
        assert_eq!(store.commit(&a, c).unwrap(), 2, "no writes: no new version");

        // Appends that read nothing never conflict, and bump nothing.
        let append = Commit {
            events: vec![EventRecord {
                name: "e2".into(),
                customer: None,
                properties: serde_json::json!({}),
                occurred_at: 7,
                version: None,
            }],
            ..Commit::default()
        };
        assert_eq!(store.commit(&a, append).unwrap(), 2);
        // A commit that read an old version but wrote nothing still conflicts.
        let mut stale_read = write(1, &[]);
        stale_read.events.push(EventRecord {
            name: "e3".into(),
            customer: None,
            properties: serde_json::json!({}),
            occurred_at: 8,
            version: None,
        });
        assert!(matches!(
            store.commit(&a, stale_read),
            Err(StateError::Conflict { .. })
        ));

        // Usage counts keys and their bytes; a commit over the quota applies
        // nothing, one that shrinks an over-quota scope is allowed.
        let usage = store.usage(&a).unwrap();
        assert_eq!(usage.keys, 3);
        assert_eq!(
            usage.bytes,
            ("list/1y".len() + "list/2x".len() + "list/3z".len()) as u64
        );
        let mut over = write(2, &[("big", Some("0123456789"))]);
        over.quota = Quota {
            keys: 10,
            bytes: usage.bytes + 5,
        };
        assert!(matches!(
            store.commit(&a, over),
            Err(StateError::OverQuota { .. })
        ));
        assert_eq!(store.get(&a, "big").unwrap(), None);
        assert_eq!(store.usage(&a).unwrap(), usage);
        let mut shrink = write(2, &[("list/1", None)]);
        shrink.quota = Quota { keys: 1, bytes: 1 };
        assert_eq!(store.commit(&a, shrink).unwrap(), 3);
        assert_eq!(store.usage(&a).unwrap().keys, 2);
        // Overwriting a key counts the new value instead of the old one.
        store
            .commit(&a, write(3, &[("list/2", Some("xyz"))]))
            .unwrap();
        assert_eq!(
            store.usage(&a).unwrap().bytes,
            ("list/2xyz".len() + "list/3z".len()) as u64
        );

        // A commit past its deadline applies nothing.
        let mut late = write(4, &[("late", Some("1"))]);
        late.deadline = Some(std::time::Instant::now() - std::time::Duration::from_millis(1));
        assert!(matches!(store.commit(&a, late), Err(StateError::Deadline)));
        assert_eq!(store.get(&a, "late").unwrap(), None);
    }
}
