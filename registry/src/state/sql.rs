//! State in the database (SQLite or PostgreSQL).
//!
//! The runtime calls the store synchronously from inside a wasm host call, so
//! each method blocks on the pool through the Tokio runtime that opened it.

use sqlx::Row;
use tokio::runtime::Handle;

use super::{Commit, Scope, StateError, StateStore, Version};
use crate::Database;

/// State in SQL tables `state_scopes` and `state_entries`.
#[derive(Debug, Clone)]
pub struct SqlState {
    db: Database,
    runtime: Handle,
}

impl SqlState {
    /// State kept in `db`. Call from inside a Tokio runtime; its handle is kept
    /// to run queries for the store's blocking methods.
    pub fn new(db: Database) -> Self {
        SqlState {
            db,
            runtime: Handle::current(),
        }
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

impl StateStore for SqlState {
    fn version(&self, scope: &Scope) -> Result<Version, StateError> {
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

    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StateError> {
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

    fn list_keys(&self, scope: &Scope, prefix: &str) -> Result<Vec<String>, StateError> {
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

    fn commit(&self, scope: &Scope, commit: Commit) -> Result<Version, StateError> {
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
                current: self.version(scope)?,
            })
        }
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
            tokio::task::spawn_blocking(move || super::super::contract::check(&state))
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
