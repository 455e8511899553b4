//! State in the database (SQLite or PostgreSQL).
//!
//! The runtime calls the store synchronously from inside a wasm host call, so
//! each method blocks on the pool through the Tokio runtime that opened it.
//!
//! On SQLite, one host owns the file (several hosts share PostgreSQL), so
//! every write goes through this store: it keeps the entries of each scope
//! it has touched in memory, loaded on first use and updated after each
//! commit, and serves reads from there. A read-only call then costs no query
//! at all. On PostgreSQL other hosts write too, so every read asks the
//! database.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use sqlx::Row;
use tokio::runtime::Handle;

use crate::Database;
use crate::db::Engine;
use mercato_types::state::{Commit, Scope, StateError, StateStore, Version};

/// A scope's entries as committed, and the lock its commits take so the
/// mirror is updated in commit order.
#[derive(Debug, Default)]
struct Mirrored {
    data: RwLock<(Version, BTreeMap<String, Vec<u8>>)>,
    commit: Mutex<()>,
}

/// The mirrored scopes of one SQLite database.
type Mirror = Arc<Mutex<HashMap<Scope, Arc<Mirrored>>>>;

/// State in SQL tables `state_scopes` and `state_entries`.
#[derive(Debug, Clone)]
pub struct SqlState {
    db: Database,
    runtime: Handle,
    mirror: Option<Mirror>,
}

impl SqlState {
    /// State kept in `db`. Call from inside a Tokio runtime; its handle is kept
    /// to run queries for the store's blocking methods.
    pub fn new(db: Database) -> Self {
        let mirror = (db.engine() == Engine::Sqlite).then(Default::default);
        SqlState {
            db,
            runtime: Handle::current(),
            mirror,
        }
    }

    /// The in-memory copy of a scope (SQLite only), loaded on first use.
    fn mirrored(&self, scope: &Scope) -> Result<Option<Arc<Mirrored>>, StateError> {
        let Some(mirror) = &self.mirror else {
            return Ok(None);
        };
        // Held while loading: a scope's first commit waits for its load, so
        // no commit can slip between the load and the mirror's first use.
        let mut scopes = mirror.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = scopes.get(scope) {
            return Ok(Some(m.clone()));
        }
        let version = self.db_version(scope)?;
        let entries = self.block(async {
            let rows = sqlx::query(
                "SELECT key, value FROM state_entries WHERE tenant = $1 AND component = $2",
            )
            .bind(&scope.tenant)
            .bind(&scope.component)
            .fetch_all(self.db.pool())
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<Vec<u8>, _>(1)?)))
                .collect::<Result<BTreeMap<_, _>, sqlx::Error>>()
        })?;
        let m = Arc::new(Mirrored {
            data: RwLock::new((version, entries)),
            commit: Mutex::new(()),
        });
        scopes.insert(scope.clone(), m.clone());
        Ok(Some(m))
    }

    fn block<T>(&self, f: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, StateError> {
        self.runtime
            .block_on(f)
            .map_err(|e| StateError::Storage(e.to_string()))
    }
}

fn version_of(v: i64) -> Version {
    Version::try_from(v).unwrap_or(0)
}

impl SqlState {
    fn db_version(&self, scope: &Scope) -> Result<Version, StateError> {
        self.block(async {
            let row = sqlx::query(
                "SELECT version FROM state_scopes WHERE tenant = $1 AND component = $2",
            )
            .bind(&scope.tenant)
            .bind(&scope.component)
            .fetch_optional(self.db.pool())
            .await?;
            row.map(|r| r.try_get::<i64, _>(0)).transpose()
        })
        .map(|v| v.map_or(0, version_of))
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

    fn db_commit(&self, scope: &Scope, commit: &Commit) -> Result<Version, StateError> {
        let base = commit.base;
        let applied = self.block(async {
            let mut tx = self.db.pool().begin().await?;
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
                .execute(&mut *tx)
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
                .execute(&mut *tx)
                .await?
                .rows_affected()
            };
            if claimed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            for (key, value) in &commit.writes {
                match value {
                    Some(value) => {
                        sqlx::query(
                            "INSERT INTO state_entries (tenant, component, key, value) \
                             VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (tenant, component, key) DO UPDATE SET value = excluded.value",
                        )
                        .bind(&scope.tenant)
                        .bind(&scope.component)
                        .bind(key)
                        .bind(value.clone())
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        sqlx::query(
                            "DELETE FROM state_entries WHERE tenant = $1 AND component = $2 AND key = $3",
                        )
                        .bind(&scope.tenant)
                        .bind(&scope.component)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            for event in &commit.events {
                sqlx::query(
                    "INSERT INTO events (tenant, component, name, customer, properties, occurred_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&scope.tenant)
                .bind(&scope.component)
                .bind(&event.name)
                .bind(event.customer.clone())
                .bind(event.properties.to_string())
                .bind(i64::try_from(event.occurred_at).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
            }
            for approval in &commit.approvals {
                let details = serde_json::to_string(&approval.details).unwrap_or_default();
                sqlx::query(
                    "INSERT INTO approvals (id, tenant, component, subject, summary, details, status, requested_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
                )
                .bind(&approval.id)
                .bind(&scope.tenant)
                .bind(&scope.component)
                .bind(&approval.subject)
                .bind(&approval.summary)
                .bind(details)
                .bind(i64::try_from(approval.requested_at).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })?;
        if applied {
            Ok(base + 1)
        } else {
            Err(StateError::Conflict {
                base,
                current: self.db_version(scope)?,
            })
        }
    }
}

fn read<T>(m: &Mirrored, f: impl FnOnce(&(Version, BTreeMap<String, Vec<u8>>)) -> T) -> T {
    f(&m.data.read().unwrap_or_else(|p| p.into_inner()))
}

impl StateStore for SqlState {
    fn version(&self, scope: &Scope) -> Result<Version, StateError> {
        match self.mirrored(scope)? {
            Some(m) => Ok(read(&m, |(v, _)| *v)),
            None => self.db_version(scope),
        }
    }

    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        match self.mirrored(scope)? {
            Some(m) => Ok(read(&m, |(_, e)| e.get(key).cloned())),
            None => self.db_get(scope, key),
        }
    }

    fn list_keys(&self, scope: &Scope, prefix: &str) -> Result<Vec<String>, StateError> {
        match self.mirrored(scope)? {
            Some(m) => Ok(read(&m, |(_, e)| {
                e.range(prefix.to_owned()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, _)| k.clone())
                    .collect()
            })),
            None => self.db_list_keys(scope, prefix),
        }
    }

    fn commit(&self, scope: &Scope, commit: Commit) -> Result<Version, StateError> {
        let Some(m) = self.mirrored(scope)? else {
            return self.db_commit(scope, &commit);
        };
        let _order = m.commit.lock().unwrap_or_else(|p| p.into_inner());
        let current = read(&m, |(v, _)| *v);
        if current != commit.base {
            return Err(StateError::Conflict {
                base: commit.base,
                current,
            });
        }
        let version = match self.db_commit(scope, &commit) {
            Ok(v) => v,
            Err(e) => {
                // Another writer reached the file after all: forget the copy
                // so the next call reloads it.
                if matches!(e, StateError::Conflict { .. })
                    && let Some(mirror) = &self.mirror
                {
                    mirror
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(scope);
                }
                return Err(e);
            }
        };
        let mut data = m.data.write().unwrap_or_else(|p| p.into_inner());
        for (key, value) in commit.writes {
            match value {
                Some(value) => data.1.insert(key, value),
                None => data.1.remove(&key),
            };
        }
        data.0 = version;
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
