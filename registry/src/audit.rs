//! The audit log: every change to the registry appends one entry (who, what,
//! when, before and after) in the same transaction as the change itself.
//!
//! Entries are hash-chained: `hash = sha256(JSON [seq, at, actor, action,
//! subject, tenant, before, after, prev_hash])`, and `prev_hash` is the hash
//! of the entry before (64 zeros for the first). The `audit_head` row holds
//! the last sequence number and hash; every change updates it first, which
//! serialises registry writers on SQLite and PostgreSQL alike, and gives
//! hosts one number to watch for "something changed".

use serde::Serialize;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::access::{Action, On};
use crate::principal::Principal;
use crate::{Database, RegistryError, now_ms, sha256_hex};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// The account that made the change (`name (role)`).
    pub actor: String,
    /// What was done, e.g. `package.approve`.
    pub action: String,
    /// What it was done to, e.g. `acme/booking@1.0.0`.
    pub subject: String,
    /// The tenant it concerns, if any.
    pub tenant: Option<String>,
    /// State before, JSON (`null` when created).
    pub before: String,
    /// State after, JSON (`null` when removed).
    pub after: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl AuditEntry {
    fn computed_hash(&self) -> String {
        let fields = serde_json::json!([
            self.seq,
            self.at,
            self.actor,
            self.action,
            self.subject,
            self.tenant,
            self.before,
            self.after,
            self.prev_hash
        ]);
        sha256_hex(fields.to_string().as_bytes())
    }
}

/// One registry change in progress: a transaction that holds the audit head.
/// Dropping it without [`Change::commit`] rolls everything back.
pub(crate) struct Change {
    tx: Transaction<'static, Any>,
    actor: String,
    seq: i64,
    hash: String,
    recorded: bool,
}

impl Change {
    pub(crate) async fn begin(db: &Database, actor: &Principal) -> Result<Change, RegistryError> {
        let mut tx = db.begin_write().await?;
        // Write first: takes the row lock (PostgreSQL; SQLite's write lock
        // is already held) before anything is read, so two changes never
        // chain onto the same entry.
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        Ok(Change {
            tx,
            actor: actor.to_string(),
            seq: row.try_get(0)?,
            hash: row.try_get(1)?,
            recorded: false,
        })
    }

    /// The connection to run the change's queries on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Append an entry for what this change did.
    pub(crate) async fn record(
        &mut self,
        action: &str,
        subject: &str,
        tenant: Option<&str>,
        before: &serde_json::Value,
        after: &serde_json::Value,
    ) -> Result<(), RegistryError> {
        let mut entry = AuditEntry {
            seq: self.seq + 1,
            at: now_ms(),
            actor: self.actor.clone(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            tenant: tenant.map(str::to_owned),
            before: before.to_string(),
            after: after.to_string(),
            prev_hash: self.hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry.computed_hash();
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, subject, tenant, before, after, \
             prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(entry.seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.subject)
        .bind(&entry.tenant)
        .bind(&entry.before)
        .bind(&entry.after)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *self.tx)
        .await?;
        self.seq = entry.seq;
        self.hash = entry.hash;
        self.recorded = true;
        Ok(())
    }

    /// Make the change and its audit entries durable.
    pub(crate) async fn commit(mut self) -> Result<(), RegistryError> {
        if !self.recorded {
            return Err(RegistryError::Corrupt(
                "a registry change was about to commit without an audit entry".to_owned(),
            ));
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(self.seq)
            .bind(&self.hash)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// The last audit sequence number: changes whenever the registry does.
pub async fn head(db: &Database) -> Result<i64, RegistryError> {
    Ok(sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?)
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        tenant: row.try_get("tenant")?,
        before: row.try_get("before")?,
        after: row.try_get("after")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

const COLUMNS: &str = "seq, at, actor, action, subject, tenant, before, after, prev_hash, hash";

/// Entries after `after_seq`, oldest first, at most `limit`, optionally only
/// those of one tenant.
pub async fn list(
    db: &Database,
    tenant: Option<&str>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, RegistryError> {
    let rows = match tenant {
        Some(t) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 AND tenant = $2 ORDER BY seq LIMIT $3"
        )))
        .bind(after_seq)
        .bind(t)
        .bind(limit)
        .fetch_all(db.pool())
        .await?,
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
            )))
            .bind(after_seq)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
    };
    rows.iter()
        .map(entry_from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// What [`verify`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Entries checked.
    pub entries: i64,
    /// The head's sequence number.
    pub head: i64,
    /// Every break in the chain, first first; empty when intact.
    pub problems: Vec<String>,
}

impl Verification {
    /// True when the chain is intact.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walk the whole chain and report every edited, removed or reordered entry.
pub async fn verify(db: &Database) -> Result<Verification, RegistryError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    let (head_seq, head_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    let mut problems = Vec::new();
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_owned();
    let mut entries = 0;
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_log ORDER BY seq"
    )))
    .fetch(db.pool());
    use futures_util::TryStreamExt;
    while let Some(row) = rows.try_next().await? {
        let entry = entry_from_row(&row)?;
        entries += 1;
        if entry.seq != expected_seq {
            problems.push(format!(
                "entries {expected_seq}..{} are missing (removed)",
                entry.seq - 1
            ));
        }
        if entry.prev_hash != prev {
            problems.push(format!(
                "entry {} does not follow the entry before it (an entry was removed, reordered or edited)",
                entry.seq
            ));
        }
        if entry.computed_hash() != entry.hash {
            problems.push(format!(
                "entry {} ({} on {}) was edited: its content no longer matches its hash",
                entry.seq, entry.action, entry.subject
            ));
        }
        expected_seq = entry.seq + 1;
        prev = entry.hash;
    }
    if expected_seq - 1 != head_seq || prev != head_hash {
        problems.push(format!(
            "the log ends at entry {} but the head says {head_seq}: entries at the end were removed or the head was edited",
            expected_seq - 1
        ));
    }
    Ok(Verification {
        entries,
        head: head_seq,
        problems,
    })
}

impl crate::Registry {
    /// The audit log's entries after `after_seq` (at most `limit`): the
    /// whole log for operators and reviewers, one tenant's for its
    /// director too.
    pub async fn audit_entries(
        &self,
        actor: &Principal,
        tenant: Option<&str>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, RegistryError> {
        let tenant = actor.narrowed(tenant);
        actor.may(Action::ReadAudit, tenant.map_or(On::Platform, On::Tenant))?;
        list(&self.db, tenant, after_seq, limit.clamp(1, 1000)).await
    }

    /// Walk the whole hash chain (operators, reviewers).
    pub async fn verify_audit(&self, actor: &Principal) -> Result<Verification, RegistryError> {
        actor.may(Action::VerifyAudit, On::Platform)?;
        verify(&self.db).await
    }
}
