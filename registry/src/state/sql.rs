//! State in the database (SQLite or PostgreSQL).
//!
//! The runtime calls the store synchronously from inside a wasm host call, so
//! each method blocks on the pool through the Tokio runtime that opened it.
//!
//! A host keeps the entries of scopes it has touched in memory (the
//! mirror), loaded on first use and updated after each commit through it,
//! and hands an invocation the scope at one version from there: its reads
//! then cost no query and form one consistent view. On SQLite one host owns
//! the file, so the mirror is the truth and a read-only call makes no query
//! at all. On PostgreSQL other hosts write too, so an invocation's first
//! read asks the database for the scope's version (one short query) and
//! reloads the scope in one statement only when another host moved it: a
//! write on one host is seen by the next call on every other.
//!
//! The mirror is bounded by bytes: least recently used scopes are evicted
//! past its budget, and a scope larger than an eighth of it is never
//! mirrored (its reads go to the database). Loading a scope holds only that
//! scope's slot, never the whole mirror.
//!
//! Each scope's row keeps its version and what it holds (keys, bytes), so a
//! commit checks the scope's quota in the same transaction that applies it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use sqlx::Row;
use tokio::runtime::Handle;

use crate::Database;
use crate::db::Engine;
use mercato_types::state::{
    Commit, Entries, Scope, Snapshot, StateError, StateStore, Usage, Version,
};

/// Default bytes of scope entries one host mirrors in memory.
pub const MIRROR_BUDGET: u64 = 256 << 20;

/// A scope's entries as committed, and the lock its commits take so the
/// mirror is updated in commit order.
#[derive(Debug, Default)]
struct Mirrored {
    data: RwLock<(Version, Entries)>,
    commit: Mutex<()>,
    /// Bytes of keys and values held.
    bytes: AtomicU64,
    /// The mirror's clock at the last use, for eviction.
    used: AtomicU64,
    /// Set (under `commit`) when the copy left the mirror: a commit that
    /// finds it set must go back for the current copy.
    evicted: AtomicBool,
}

/// One scope's place in the mirror. Its own lock is held while the scope
/// loads, so other scopes never wait for it.
#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
enum SlotState {
    #[default]
    Empty,
    Loaded(Arc<Mirrored>),
    /// Too large to mirror: served from the database.
    Unmirrored,
}

impl Mirrored {
    fn snapshot(&self) -> Snapshot {
        let data = self.data.read().unwrap_or_else(|p| p.into_inner());
        Snapshot {
            version: data.0,
            entries: Some(data.1.clone()),
        }
    }
}

/// The mirrored scopes of one database.
#[derive(Debug)]
struct Mirror {
    slots: Mutex<HashMap<Scope, Arc<Slot>>>,
    /// Bytes held by loaded scopes.
    total: AtomicU64,
    budget: u64,
    clock: AtomicU64,
    /// Other hosts write to the database too (PostgreSQL): a copy is
    /// checked against the scope's version before an invocation uses it.
    shared: bool,
}

impl Mirror {
    fn new(budget: u64, shared: bool) -> Self {
        Mirror {
            slots: Mutex::new(HashMap::new()),
            total: AtomicU64::new(0),
            budget,
            clock: AtomicU64::new(0),
            shared,
        }
    }

    /// Account for `m` now holding `bytes`.
    fn resize(&self, m: &Mirrored, bytes: u64) {
        let old = m.bytes.swap(bytes, Ordering::Relaxed);
        self.total.fetch_add(bytes, Ordering::Relaxed);
        self.total.fetch_sub(old, Ordering::Relaxed);
    }

    fn slot(&self, scope: &Scope) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(scope) {
            return slot.clone();
        }
        slots.entry(scope.clone()).or_default().clone()
    }

    /// The copy of `scope` if it is in memory, without waiting for a load.
    fn loaded(&self, scope: &Scope) -> Option<Arc<Mirrored>> {
        let slot = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.get(scope)?.clone()
        };
        let state = slot.state.try_lock().ok()?;
        match &*state {
            SlotState::Loaded(m) if !m.evicted.load(Ordering::Acquire) => {
                self.touch(m);
                Some(m.clone())
            }
            _ => None,
        }
    }

    fn touch(&self, m: &Mirrored) {
        m.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }

    /// The largest scope worth mirroring.
    fn max_scope(&self) -> u64 {
        self.budget / 8
    }

    /// Take `m` out of its slot (the caller holds both the slot's lock and
    /// `m`'s commit lock, so no commit can go through it afterwards). Empty
    /// slots stay in the map: a slot is never replaced, so two copies of one
    /// scope can never exist.
    fn unload(&self, state: &mut SlotState, m: &Mirrored) {
        if !m.evicted.swap(true, Ordering::AcqRel) {
            self.total
                .fetch_sub(m.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        if matches!(state, SlotState::Loaded(x) if std::ptr::eq(Arc::as_ptr(x), m)) {
            *state = SlotState::Empty;
        }
    }

    /// Drop `scope`'s copy after a failed or oversized commit; the caller
    /// holds `m`'s commit lock.
    fn forget(&self, scope: &Scope, m: &Mirrored) {
        let slot = self.slot(scope);
        let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
        self.unload(&mut state, m);
    }

    /// Evict least recently used scopes until the mirror is within budget.
    /// Scopes in the middle of a commit or a load are skipped.
    fn evict(&self) {
        if self.total.load(Ordering::Relaxed) <= self.budget {
            return;
        }
        let mut loaded: Vec<(u64, Arc<Slot>)> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .values()
                .filter_map(|slot| match &*slot.state.try_lock().ok()? {
                    SlotState::Loaded(m) => Some((m.used.load(Ordering::Relaxed), slot.clone())),
                    _ => None,
                })
                .collect()
        };
        loaded.sort_by_key(|(used, _)| *used);
        // Evict down to 90% so that the next loads do not evict again at once.
        let target = self.budget / 10 * 9;
        for (_, slot) in loaded {
            if self.total.load(Ordering::Relaxed) <= target {
                break;
            }
            let Ok(mut state) = slot.state.try_lock() else {
                continue;
            };
            let SlotState::Loaded(m) = &*state else {
                continue;
            };
            let m = m.clone();
            if let Ok(_order) = m.commit.try_lock() {
                self.unload(&mut state, &m);
            }
        }
    }
}

/// State in SQL tables `state_scopes` and `state_entries`.
#[derive(Debug, Clone)]
pub struct SqlState {
    db: Database,
    runtime: Handle,
    mirror: Arc<Mirror>,
    /// Statements and transactions sent, for tests and metrics.
    round_trips: Arc<AtomicU64>,
}

impl SqlState {
    /// State kept in `db`. Call from inside a Tokio runtime; its handle is kept
    /// to run queries for the store's blocking methods.
    pub fn new(db: Database) -> Self {
        Self::with_mirror_budget(db, MIRROR_BUDGET)
    }

    /// [`new`](Self::new) with `budget` bytes of mirrored scopes.
    pub fn with_mirror_budget(db: Database, budget: u64) -> Self {
        let shared = db.engine() != Engine::Sqlite;
        SqlState {
            db,
            runtime: Handle::current(),
            mirror: Arc::new(Mirror::new(budget, shared)),
            round_trips: Arc::default(),
        }
    }

    /// Queries (and commit transactions) sent to the database so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Bytes of scope entries mirrored in memory now.
    pub fn mirrored_bytes(&self) -> u64 {
        self.mirror.total.load(Ordering::Relaxed)
    }

    /// The in-memory copy of a scope (not for scopes too large to mirror),
    /// loaded on first use; true when it was loaded just now.
    fn mirrored(&self, scope: &Scope) -> Result<Option<(Arc<Mirrored>, bool)>, StateError> {
        let mirror = &self.mirror;
        let slot = mirror.slot(scope);
        // Held while loading: a scope's first commit waits for its load, so
        // no commit can slip between the load and the mirror's first use.
        let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
        match &*state {
            SlotState::Loaded(m) if !m.evicted.load(Ordering::Acquire) => {
                mirror.touch(m);
                return Ok(Some((m.clone(), false)));
            }
            SlotState::Unmirrored => return Ok(None),
            SlotState::Loaded(_) | SlotState::Empty => {}
        }
        let (_, usage) = self.db_scope(scope)?;
        if usage.bytes > mirror.max_scope() {
            *state = SlotState::Unmirrored;
            return Ok(None);
        }
        let (version, entries) = self.db_load(scope)?;
        let m = Arc::new(Mirrored {
            data: RwLock::new((version, Arc::new(entries))),
            ..Mirrored::default()
        });
        mirror.resize(&m, bytes_of(&m));
        mirror.touch(&m);
        *state = SlotState::Loaded(m.clone());
        drop(state);
        mirror.evict();
        Ok(Some((m, true)))
    }

    /// What `m`'s copy is worth against the database's `version` and
    /// `usage` of the scope (PostgreSQL, where other hosts write).
    fn check(&self, m: &Mirrored, version: Version, usage: Usage) -> Check {
        let held = m.snapshot();
        if held.version >= version {
            Check::Current(held)
        } else if usage.bytes > self.mirror.max_scope() {
            Check::TooLarge
        } else {
            Check::Stale
        }
    }

    /// Put a copy of the scope read at `version` into `m` if it is newer
    /// than what `m` holds; the snapshot to read from either way.
    fn install_load(
        &self,
        scope: &Scope,
        m: &Mirrored,
        version: Version,
        entries: BTreeMap<String, Vec<u8>>,
    ) -> Snapshot {
        let _order = m.commit.lock().unwrap_or_else(|p| p.into_inner());
        let mut data = m.data.write().unwrap_or_else(|p| p.into_inner());
        if version > data.0 && !m.evicted.load(Ordering::Acquire) {
            *data = (version, Arc::new(entries));
            drop(data);
            self.mirror.resize(m, bytes_of(m));
            if m.bytes.load(Ordering::Relaxed) > self.mirror.max_scope() {
                self.mirror.forget(scope, m);
            }
            drop(_order);
            self.mirror.evict();
            return m.snapshot();
        }
        if version >= data.0 {
            return Snapshot {
                version,
                entries: Some(Arc::new(entries)),
            };
        }
        // This host committed after the statement's view: its copy is newer.
        Snapshot {
            version: data.0,
            entries: Some(data.1.clone()),
        }
    }

    /// The scope's version and entries, read in one statement.
    fn db_load(&self, scope: &Scope) -> Result<(Version, BTreeMap<String, Vec<u8>>), StateError> {
        self.block(self.query_load(scope))
    }

    async fn query_load(
        &self,
        scope: &Scope,
    ) -> Result<(Version, BTreeMap<String, Vec<u8>>), sqlx::Error> {
        let rows = sqlx::query(
            "SELECT s.version, e.key, e.value FROM state_scopes s \
             LEFT JOIN state_entries e ON e.tenant = s.tenant AND e.component = s.component \
             WHERE s.tenant = $1 AND s.component = $2",
        )
        .bind(&scope.tenant)
        .bind(&scope.component)
        .fetch_all(self.db.pool())
        .await?;
        let mut version = 0;
        let mut entries = BTreeMap::new();
        for row in &rows {
            version = version_of(row.try_get::<i64, _>(0)?);
            if let (Some(key), Some(value)) = (
                row.try_get::<Option<String>, _>(1)?,
                row.try_get::<Option<Vec<u8>>, _>(2)?,
            ) {
                entries.insert(key, value);
            }
        }
        Ok((version, entries))
    }

    async fn query_scope(&self, scope: &Scope) -> Result<(Version, Usage), sqlx::Error> {
        let row = sqlx::query(
            "SELECT version, entry_count, entry_bytes FROM state_scopes \
             WHERE tenant = $1 AND component = $2",
        )
        .bind(&scope.tenant)
        .bind(&scope.component)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.as_ref().map(scope_row).transpose()?.unwrap_or_default())
    }

    /// The snapshot an invocation of `scope` would start from, taken
    /// without blocking (before the call runs, so that it need not wait
    /// for the database inside it): for a scope already in memory, checked
    /// against the database's version on PostgreSQL. `None` when the scope
    /// is not in memory yet or the database failed; the invocation then
    /// asks the store itself, which loads it or reports the failure.
    pub async fn prefetch(&self, scope: &Scope) -> Option<Snapshot> {
        let m = self.mirror.loaded(scope)?;
        if !self.mirror.shared {
            return Some(m.snapshot());
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let (version, usage) = self.query_scope(scope).await.ok()?;
        match self.check(&m, version, usage) {
            Check::Current(held) => Some(held),
            Check::TooLarge => None,
            Check::Stale => {
                self.round_trips.fetch_add(1, Ordering::Relaxed);
                let (version, entries) = self.query_load(scope).await.ok()?;
                Some(self.install_load(scope, &m, version, entries))
            }
        }
    }

    fn block<T>(&self, f: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, StateError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        crate::db::wait(&self.runtime, f).map_err(storage)
    }
}

/// A `state_scopes` row read as `version, entry_count, entry_bytes`.
fn scope_row(r: &sqlx::any::AnyRow) -> Result<(Version, Usage), sqlx::Error> {
    Ok((
        version_of(r.try_get::<i64, _>(0)?),
        Usage {
            keys: version_of(r.try_get::<i64, _>(1)?),
            bytes: version_of(r.try_get::<i64, _>(2)?),
        },
    ))
}

/// Bytes of keys and values `m` holds.
fn bytes_of(m: &Mirrored) -> u64 {
    read(m, |(_, e)| {
        e.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum()
    })
}

fn version_of(v: i64) -> Version {
    Version::try_from(v).unwrap_or(0)
}

impl SqlState {
    fn db_version(&self, scope: &Scope) -> Result<Version, StateError> {
        self.db_scope(scope).map(|(v, _)| v)
    }

    /// The scope's version and usage.
    fn db_scope(&self, scope: &Scope) -> Result<(Version, Usage), StateError> {
        self.block(self.query_scope(scope))
    }

    fn db_get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.block(async {
            let row = sqlx::query(
                "SELECT value FROM state_entries WHERE tenant = $1 AND component = $2 AND key = $3",
            )
            .bind(&scope.tenant)
            .bind(&scope.component)
            .bind(key)
            .fetch_optional(self.db.pool())
            .await?;
            row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()
        })
    }

    fn db_list_keys(&self, scope: &Scope, prefix: &str) -> Result<Vec<String>, StateError> {
        self.block(async {
            // Range scan on the primary key instead of LIKE, which would treat
            // `%` and `_` in the prefix as wildcards.
            let rows = sqlx::query(
                "SELECT key FROM state_entries WHERE tenant = $1 AND component = $2 AND key >= $3 \
                 ORDER BY key",
            )
            .bind(&scope.tenant)
            .bind(&scope.component)
            .bind(prefix)
            .fetch_all(self.db.pool())
            .await?;
            let mut keys = Vec::new();
            for row in rows {
                let key: String = row.try_get(0)?;
                if !key.starts_with(prefix) {
                    break;
                }
                keys.push(key);
            }
            Ok(keys)
        })
    }

    /// Apply `commit` in one transaction; returns the scope's version after
    /// it and its usage (when it wrote).
    fn db_commit(&self, scope: &Scope, commit: &Commit) -> Result<(Version, Usage), StateError> {
        let deadline = commit.deadline;
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return Err(StateError::Deadline);
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let work = async {
            // A commit that writes takes SQLite's write lock first: another
            // host task (a recording flush, an audit entry) committing
            // between this read and its write would otherwise fail it as
            // "locked" instead of making it wait.
            let mut tx = if commit.is_empty() {
                self.db.pool().begin().await?
            } else {
                self.db.begin_write().await?
            };
            let outcome = self.apply(&mut tx, scope, commit).await?;
            Ok::<_, sqlx::Error>((tx, outcome))
        };
        // The statements run within the invocation's deadline; past it the
        // transaction is dropped, which rolls it back. The final COMMIT is
        // not cut short, so a commit reported late never half-happened.
        let (tx, outcome) = match deadline {
            // The timer is made inside `block_on`: a worker thread of the
            // runtime's blocking pool has no runtime context of its own.
            Some(at) => match crate::db::wait(&self.runtime, async {
                tokio::time::timeout_at(at.into(), work).await
            }) {
                Ok(r) => r.map_err(storage)?,
                Err(_) => return Err(StateError::Deadline),
            },
            None => crate::db::wait(&self.runtime, work).map_err(storage)?,
        };
        match outcome {
            Applied::Done(version, usage) => {
                crate::db::wait(&self.runtime, tx.commit()).map_err(storage)?;
                Ok((version, usage))
            }
            Applied::Refused(e) => {
                let _ = crate::db::wait(&self.runtime, tx.rollback());
                Err(e)
            }
        }
    }

    async fn apply(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        scope: &Scope,
        commit: &Commit,
    ) -> Result<Applied, sqlx::Error> {
        let row = sqlx::query(
            "SELECT version, entry_count, entry_bytes FROM state_scopes \
             WHERE tenant = $1 AND component = $2",
        )
        .bind(&scope.tenant)
        .bind(&scope.component)
        .fetch_optional(&mut **tx)
        .await?;
        let (current, before) = row.as_ref().map(scope_row).transpose()?.unwrap_or_default();
        if let Some(base) = commit.base
            && base != current
        {
            return Ok(Applied::Refused(StateError::Conflict { base, current }));
        }
        let mut version = current;
        let mut usage = before;
        if !commit.writes.is_empty() {
            let base = commit.base.unwrap_or(current);
            let base_db = i64::try_from(base).unwrap_or(i64::MAX);
            // Claim the next version first: a concurrent committer from the same
            // base then matches no row (or hits the key) and backs off.
            let claimed = if base == 0 {
                sqlx::query(
                    "INSERT INTO state_scopes (tenant, component, version) VALUES ($1, $2, 1) \
                     ON CONFLICT (tenant, component) DO NOTHING",
                )
                .bind(&scope.tenant)
                .bind(&scope.component)
                .execute(&mut **tx)
                .await?
                .rows_affected()
            } else {
                sqlx::query(
                    "UPDATE state_scopes SET version = version + 1 \
                     WHERE tenant = $1 AND component = $2 AND version = $3",
                )
                .bind(&scope.tenant)
                .bind(&scope.component)
                .bind(base_db)
                .execute(&mut **tx)
                .await?
                .rows_affected()
            };
            if claimed != 1 {
                return Ok(Applied::Refused(StateError::Conflict {
                    base,
                    current: base + 1,
                }));
            }
            version = base + 1;
            for (key, value) in &commit.writes {
                let old = sqlx::query(
                    "SELECT length(value) FROM state_entries \
                     WHERE tenant = $1 AND component = $2 AND key = $3",
                )
                .bind(&scope.tenant)
                .bind(&scope.component)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?;
                if let Some(old) = old {
                    usage.keys = usage.keys.saturating_sub(1);
                    usage.bytes = usage
                        .bytes
                        .saturating_sub(key.len() as u64 + version_of(old));
                }
                match value {
                    Some(value) => {
                        usage.keys += 1;
                        usage.bytes += (key.len() + value.len()) as u64;
                        sqlx::query(
                            "INSERT INTO state_entries (tenant, component, key, value) \
                             VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (tenant, component, key) DO UPDATE SET value = excluded.value",
                        )
                        .bind(&scope.tenant)
                        .bind(&scope.component)
                        .bind(key)
                        .bind(value.clone())
                        .execute(&mut **tx)
                        .await?;
                    }
                    None if old.is_some() => {
                        sqlx::query(
                            "DELETE FROM state_entries WHERE tenant = $1 AND component = $2 AND key = $3",
                        )
                        .bind(&scope.tenant)
                        .bind(&scope.component)
                        .bind(key)
                        .execute(&mut **tx)
                        .await?;
                    }
                    None => {}
                }
            }
            if usage.breaches(&commit.quota, &before) {
                return Ok(Applied::Refused(StateError::OverQuota {
                    usage,
                    quota: commit.quota,
                }));
            }
            sqlx::query(
                "UPDATE state_scopes SET entry_count = $3, entry_bytes = $4 \
                 WHERE tenant = $1 AND component = $2",
            )
            .bind(&scope.tenant)
            .bind(&scope.component)
            .bind(i64::try_from(usage.keys).unwrap_or(i64::MAX))
            .bind(i64::try_from(usage.bytes).unwrap_or(i64::MAX))
            .execute(&mut **tx)
            .await?;
        }
        for event in &commit.events {
            sqlx::query(
                "INSERT INTO events (tenant, component, name, customer, properties, occurred_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&scope.tenant)
            .bind(&scope.component)
            .bind(&event.name)
            .bind(event.customer.clone())
            .bind(event.properties.to_string())
            .bind(i64::try_from(event.occurred_at).unwrap_or(i64::MAX))
            .bind(event.version.clone())
            .execute(&mut **tx)
            .await?;
        }
        for approval in &commit.approvals {
            let details = serde_json::to_string(&approval.details).unwrap_or_default();
            sqlx::query(
                "INSERT INTO approvals (id, tenant, component, subject, summary, details, status, requested_at, customer) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
            )
            .bind(&approval.id)
            .bind(&scope.tenant)
            .bind(&scope.component)
            .bind(&approval.subject)
            .bind(&approval.summary)
            .bind(details)
            .bind(i64::try_from(approval.requested_at).unwrap_or(i64::MAX))
            .bind(approval.customer.clone())
            .execute(&mut **tx)
            .await?;
        }
        for id in &commit.withdrawals {
            // Only this install's own pending requests; anything else is
            // left as it is (the interface promises no error).
            sqlx::query(
                "UPDATE approvals SET status = 'withdrawn', decided_at = $1 \
                 WHERE tenant = $2 AND component = $3 AND id = $4 AND status = 'pending'",
            )
            .bind(crate::now_ms())
            .bind(&scope.tenant)
            .bind(&scope.component)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        Ok(Applied::Done(version, usage))
    }
}

/// A mirrored copy checked against the database's version of its scope.
enum Check {
    /// As new as the database's: read from it.
    Current(Snapshot),
    /// Behind, and the scope is now too large to mirror.
    TooLarge,
    /// Behind: reload it.
    Stale,
}

/// What a commit's statements found.
enum Applied {
    /// Applied (not yet committed): the version and usage after it.
    Done(Version, Usage),
    /// Refused: roll back.
    Refused(StateError),
}

fn storage(e: sqlx::Error) -> StateError {
    if crate::db::is_busy(&e) {
        StateError::Busy
    } else {
        StateError::Storage(e.to_string())
    }
}

fn read<T>(m: &Mirrored, f: impl FnOnce(&(Version, Entries)) -> T) -> T {
    f(&m.data.read().unwrap_or_else(|p| p.into_inner()))
}

impl SqlState {
    /// The mirrored copy of `scope` when the mirror is the truth (SQLite).
    fn authoritative(&self, scope: &Scope) -> Result<Option<Arc<Mirrored>>, StateError> {
        if self.mirror.shared {
            return Ok(None);
        }
        Ok(self.mirrored(scope)?.map(|(m, _)| m))
    }
}

impl StateStore for SqlState {
    fn version(&self, scope: &Scope) -> Result<Version, StateError> {
        match self.authoritative(scope)? {
            Some(m) => Ok(read(&m, |(v, _)| *v)),
            None => self.db_version(scope),
        }
    }

    fn snapshot(&self, scope: &Scope) -> Result<Snapshot, StateError> {
        let Some((m, fresh)) = self.mirrored(scope)? else {
            return Ok(Snapshot {
                version: self.db_version(scope)?,
                entries: None,
            });
        };
        if fresh || !self.mirror.shared {
            return Ok(m.snapshot());
        }
        let (version, usage) = self.db_scope(scope)?;
        match self.check(&m, version, usage) {
            Check::Current(held) => Ok(held),
            Check::TooLarge => {
                // Grown too large to mirror: it loads as unmirrored next time.
                let _order = m.commit.lock().unwrap_or_else(|p| p.into_inner());
                self.mirror.forget(scope, &m);
                Ok(Snapshot {
                    version,
                    entries: None,
                })
            }
            Check::Stale => {
                // Another host committed: reload in one statement, so the
                // entries match the version.
                let (version, entries) = self.db_load(scope)?;
                Ok(self.install_load(scope, &m, version, entries))
            }
        }
    }

    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        match self.authoritative(scope)? {
            Some(m) => Ok(read(&m, |(_, e)| e.get(key).cloned())),
            None => self.db_get(scope, key),
        }
    }

    fn list_keys(&self, scope: &Scope, prefix: &str) -> Result<Vec<String>, StateError> {
        match self.authoritative(scope)? {
            Some(m) => Ok(read(&m, |(_, e)| {
                e.range(prefix.to_owned()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, _)| k.clone())
                    .collect()
            })),
            None => self.db_list_keys(scope, prefix),
        }
    }

    fn usage(&self, scope: &Scope) -> Result<Usage, StateError> {
        self.db_scope(scope).map(|(_, u)| u)
    }

    fn commit(&self, scope: &Scope, commit: Commit) -> Result<Version, StateError> {
        let mirror = &self.mirror;
        let Some((m, _)) = self.mirrored(scope)? else {
            return self.db_commit(scope, &commit).map(|(v, _)| v);
        };
        let _order = m.commit.lock().unwrap_or_else(|p| p.into_inner());
        if m.evicted.load(Ordering::Acquire) {
            // Evicted between the lookup and the lock: the database decides.
            drop(_order);
            return self.db_commit(scope, &commit).map(|(v, _)| v);
        }
        let held = read(&m, |(v, _)| *v);
        if let Some(base) = commit.base
            && held != base
            && !mirror.shared
        {
            return Err(StateError::Conflict {
                base,
                current: held,
            });
        }
        let (version, usage) = match self.db_commit(scope, &commit) {
            Ok(v) => v,
            Err(e) => {
                // Another writer reached the scope after all: forget the
                // copy so the next call reloads it.
                if matches!(e, StateError::Conflict { .. }) {
                    mirror.forget(scope, &m);
                }
                return Err(e);
            }
        };
        if commit.writes.is_empty() {
            return Ok(version);
        }
        if version != held + 1 {
            // Other hosts' commits lie between the copy and this one.
            mirror.forget(scope, &m);
            return Ok(version);
        }
        let mut data = m.data.write().unwrap_or_else(|p| p.into_inner());
        // Copied only while an invocation still reads the old snapshot.
        let entries = Arc::make_mut(&mut data.1);
        for (key, value) in commit.writes {
            match value {
                Some(value) => entries.insert(key, value),
                None => entries.remove(&key),
            };
        }
        data.0 = version;
        drop(data);
        mirror.resize(&m, usage.bytes);
        if usage.bytes > mirror.max_scope() {
            mirror.forget(scope, &m);
        }
        drop(_order);
        mirror.evict();
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(db: impl Future<Output = Database> + Send + 'static) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let db = rt.block_on(db);
        let state = rt.block_on(async { SqlState::new(db) });
        // The store blocks, so drive it from a blocking thread as the runtime does.
        rt.block_on(async move {
            tokio::task::spawn_blocking(move || mercato_types::state::contract::check(&state))
                .await
                .expect("contract holds");
        });
    }

    #[test]
    fn the_mirror_stays_within_its_budget_and_evicted_scopes_still_read() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let db = rt.block_on(async { Database::open_sqlite(&path).await.expect("open") });
        let budget = 64 << 10;
        let state = rt.block_on(async { SqlState::with_mirror_budget(db, budget) });
        rt.block_on(async move {
            tokio::task::spawn_blocking(move || {
                let write = |scope: &Scope, value: Vec<u8>| {
                    let base = state.version(scope).unwrap();
                    let mut commit = Commit {
                        base: Some(base),
                        ..Commit::default()
                    };
                    commit.writes.insert("k".into(), Some(value));
                    state.commit(scope, commit).unwrap();
                };
                // Forty scopes of 4 KiB: 160 KiB, more than the budget.
                for i in 0..40 {
                    write(&Scope::new(format!("t{i}"), "c"), vec![i as u8; 4 << 10]);
                    assert!(
                        state.mirrored_bytes() <= budget,
                        "{}",
                        state.mirrored_bytes()
                    );
                }
                assert!(state.mirrored_bytes() > 0);
                for i in 0..40 {
                    let value = state.get(&Scope::new(format!("t{i}"), "c"), "k").unwrap();
                    assert_eq!(value, Some(vec![i as u8; 4 << 10]), "scope t{i}");
                    assert!(state.mirrored_bytes() <= budget);
                }
                // A scope larger than an eighth of the budget is never mirrored.
                let big = Scope::new("big", "c");
                write(&big, vec![1; 16 << 10]);
                let before = state.mirrored_bytes();
                assert_eq!(
                    state.get(&big, "k").unwrap().map(|v| v.len()),
                    Some(16 << 10)
                );
                assert!(state.mirrored_bytes() <= before);
                assert_eq!(state.usage(&big).unwrap().keys, 1);
            })
            .await
            .expect("mirror holds");
        });
    }

    fn put(state: &SqlState, scope: &Scope, base: Version, key: &str, value: &str) -> Version {
        let mut commit = Commit {
            base: Some(base),
            ..Commit::default()
        };
        commit
            .writes
            .insert(key.into(), Some(value.as_bytes().to_vec()));
        state.commit(scope, commit).expect("commits")
    }

    fn value(snapshot: &Snapshot, key: &str) -> Option<String> {
        let entries = snapshot.entries.as_ref().expect("served from memory");
        entries
            .get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    #[test]
    fn on_sqlite_a_warm_snapshot_costs_no_query() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let db = rt.block_on(async { Database::open_sqlite(&path).await.expect("open") });
        let state = rt.block_on(async { SqlState::new(db) });
        rt.block_on(async move {
            tokio::task::spawn_blocking(move || {
                let scope = Scope::new("acme", "pub/c");
                put(&state, &scope, 0, "k", "1");
                let before = state.round_trips();
                let snapshot = state.snapshot(&scope).expect("snapshot");
                assert_eq!(state.round_trips(), before, "no query");
                assert_eq!(
                    (snapshot.version, value(&snapshot, "k")),
                    (1, Some("1".into()))
                );
            })
            .await
            .expect("holds");
        });
    }

    /// Two hosts on one PostgreSQL database: each serves an invocation's
    /// reads from memory after one version query, and a write on one is
    /// seen by the other's next snapshot.
    #[test]
    fn hosts_sharing_postgres_read_from_memory_and_see_each_others_writes() {
        let Some(url) = crate::db::test_postgres_url() else {
            panic!("MERCATO_TEST_POSTGRES is not set: run the suite with scripts/test");
        };
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (a, b) = rt.block_on(async {
            let db = crate::db::fresh_postgres(&url).await.expect("postgres");
            let url = db.shared_url().expect("shared").to_owned();
            let other = Database::connect(&url).await.expect("second host");
            (SqlState::new(db), SqlState::new(other))
        });
        rt.block_on(async move {
            tokio::task::spawn_blocking(move || {
                let scope = Scope::new("acme", "pub/c");
                assert_eq!(put(&a, &scope, 0, "k", "1"), 1);
                let first = b.snapshot(&scope).expect("loads");
                assert_eq!((first.version, value(&first, "k")), (1, Some("1".into())));

                // Warm: one query (the version), the entries from memory.
                let before = b.round_trips();
                let warm = b.snapshot(&scope).expect("snapshot");
                assert_eq!(b.round_trips() - before, 1, "one round trip");
                assert!(Arc::ptr_eq(
                    warm.entries.as_ref().expect("entries"),
                    first.entries.as_ref().expect("entries")
                ));

                // A write on A is seen by B's next snapshot; B's old view stays.
                assert_eq!(put(&a, &scope, 1, "k", "2"), 2);
                let next = b.snapshot(&scope).expect("snapshot");
                assert_eq!((next.version, value(&next, "k")), (2, Some("2".into())));
                assert_eq!(value(&first, "k"), Some("1".into()));

                // B committing from the old version conflicts and changes nothing.
                let mut stale = Commit {
                    base: Some(1),
                    ..Commit::default()
                };
                stale.writes.insert("k".into(), Some(b"stale".to_vec()));
                assert!(matches!(
                    b.commit(&scope, stale),
                    Err(StateError::Conflict { .. })
                ));
                // From the current one it applies, and A sees it next.
                assert_eq!(put(&b, &scope, 2, "k", "3"), 3);
                let on_a = a.snapshot(&scope).expect("snapshot");
                assert_eq!((on_a.version, value(&on_a, "k")), (3, Some("3".into())));
                let on_b = b.snapshot(&scope).expect("snapshot");
                assert_eq!((on_b.version, value(&on_b, "k")), (3, Some("3".into())));
                // A commit through A after B's: A's copy follows without reloading.
                assert_eq!(put(&a, &scope, 3, "other", "x"), 4);
                let before = a.round_trips();
                let after = a.snapshot(&scope).expect("snapshot");
                assert_eq!(a.round_trips() - before, 1);
                assert_eq!(
                    (after.version, value(&after, "other")),
                    (4, Some("x".into()))
                );
            })
            .await
            .expect("holds");
        });
    }

    #[test]
    fn sqlite_state_keeps_the_contract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        run(async move { Database::open_sqlite(&path).await.expect("open sqlite") });
    }

    /// PostgreSQL is part of every test run (`scripts/test` points
    /// `MERCATO_TEST_POSTGRES` at the local server); each run gets a fresh schema.
    #[test]
    fn postgres_state_keeps_the_contract() {
        let Some(url) = crate::db::test_postgres_url() else {
            panic!("MERCATO_TEST_POSTGRES is not set: run the suite with scripts/test");
        };
        run(async move {
            crate::db::fresh_postgres(&url)
                .await
                .expect("connect postgres")
        });
    }
}
