//! Call recording: a director switches it on for one install, and the host
//! keeps a bounded ring of that install's recent calls (function, arguments,
//! outcome) for replaying against a candidate version.
//!
//! The ring is bounded twice, by count and by age, both set by the director
//! within the platform's caps ([`MAX_CALLS`], [`MAX_RETENTION_HOURS`]).
//! What is stored was masked by the host before it got here: this module
//! keeps records and never sees a contact detail. Switching recording off,
//! removing the install or erasing a customer deletes what the ring holds of
//! them. Only the tenant's directors read a ring; reviewers, operators and
//! other tenants never do.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use crate::access::{Action, On};
use crate::audit::Change;
use crate::principal::Principal;
use crate::{RegistryError, now_ms};

/// Most calls one install's ring may keep.
pub const MAX_CALLS: u32 = 10_000;
/// Longest a recorded call may be kept.
pub const MAX_RETENTION_HOURS: u32 = 24 * 30;
/// Ring size when the director names none.
pub const DEFAULT_CALLS: u32 = 1_000;
/// Retention when the director names none.
pub const DEFAULT_RETENTION_HOURS: u32 = 24 * 7;

/// How an install records its calls (stored while recording is on).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Most calls kept; the oldest go first (1 to [`MAX_CALLS`]).
    #[serde(default = "default_calls")]
    pub calls: u32,
    /// Hours a call is kept (1 to [`MAX_RETENTION_HOURS`]).
    #[serde(default = "default_retention")]
    pub retention_hours: u32,
}

fn default_calls() -> u32 {
    DEFAULT_CALLS
}

fn default_retention() -> u32 {
    DEFAULT_RETENTION_HOURS
}

impl Default for Recording {
    fn default() -> Self {
        Recording {
            calls: DEFAULT_CALLS,
            retention_hours: DEFAULT_RETENTION_HOURS,
        }
    }
}

impl Recording {
    /// Refuse sizes outside the platform's caps, naming the field.
    pub fn check(&self) -> Result<(), RegistryError> {
        if !(1..=MAX_CALLS).contains(&self.calls) {
            return Err(RegistryError::invalid(
                "calls",
                format!(
                    "a ring keeps 1 to {MAX_CALLS} calls (the platform's cap); {} asked",
                    self.calls
                ),
            ));
        }
        if !(1..=MAX_RETENTION_HOURS).contains(&self.retention_hours) {
            return Err(RegistryError::invalid(
                "retention_hours",
                format!(
                    "calls are kept 1 to {MAX_RETENTION_HOURS} hours (the platform's cap); {} asked",
                    self.retention_hours
                ),
            ));
        }
        Ok(())
    }

    fn retention_ms(&self) -> i64 {
        i64::from(self.retention_hours) * 3_600_000
    }
}

/// One recorded call, masked.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedCall {
    /// `call-…`.
    pub id: String,
    /// The tenant.
    pub tenant: String,
    /// The install.
    pub install: String,
    /// When it ran, milliseconds since the Unix epoch.
    pub at: i64,
    /// The version that served it.
    pub version: String,
    /// The WIT function.
    pub function: String,
    /// Its arguments (masked).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub args: Value,
    /// `{"ok": result}` or `{"error": {code, message}}` (masked).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub outcome: Value,
}

/// A call as the host recorded it (masked), before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecordedCall {
    /// The tenant.
    pub tenant: String,
    /// The install.
    pub install: String,
    /// When it ran, milliseconds since the Unix epoch.
    pub at: i64,
    /// The version that served it.
    pub version: String,
    /// The WIT function.
    pub function: String,
    /// Its arguments, masked.
    pub args: Value,
    /// `{"ok": result}` or `{"error": {code, message}}`, masked.
    pub outcome: Value,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt(format!("stored recorded call {what}: {e}"))
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<RecordedCall, RegistryError> {
    let args: String = row.try_get("args")?;
    let outcome: String = row.try_get("outcome")?;
    Ok(RecordedCall {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        install: row.try_get("install")?,
        at: row.try_get("at")?,
        version: row.try_get("version")?,
        function: row.try_get("function")?,
        args: serde_json::from_str(&args).map_err(|e| corrupt("args", e))?,
        outcome: serde_json::from_str(&outcome).map_err(|e| corrupt("outcome", e))?,
    })
}

pub(crate) fn recording_from_column(
    text: Option<String>,
) -> Result<Option<Recording>, RegistryError> {
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| RegistryError::Corrupt(format!("stored recording settings: {e}")))
    })
    .transpose()
}

impl crate::Registry {
    /// Switch recording of an install's calls on (with its ring's size and
    /// retention) or off (`None`, which deletes what the ring held). Audited.
    pub async fn set_recording(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
        recording: Option<Recording>,
    ) -> Result<Option<Recording>, RegistryError> {
        actor.may(Action::Record, On::Tenant(tenant))?;
        if let Some(r) = &recording {
            r.check()?;
        }
        let mut change = Change::begin(&self.db, actor).await?;
        let before = Self::load_install(change.conn(), tenant, install).await?;
        let text = recording
            .map(|r| serde_json::to_string(&r))
            .transpose()
            .map_err(|e| RegistryError::Corrupt(format!("recording settings: {e}")))?;
        sqlx::query("UPDATE installs SET recording = $1 WHERE tenant = $2 AND id = $3")
            .bind(text)
            .bind(tenant)
            .bind(install)
            .execute(change.conn())
            .await?;
        if recording.is_none() {
            Self::delete_recorded(&mut change, tenant, install).await?;
        } else if let Some(r) = &recording {
            Self::prune_ring(change.conn(), tenant, install, r, now_ms()).await?;
        }
        change
            .record(
                "install.recording",
                &format!("{tenant}/{install}"),
                Some(tenant),
                &json!({ "recording": before.recording }),
                &json!({ "recording": recording }),
            )
            .await?;
        change.commit().await?;
        Ok(recording)
    }

    pub(crate) async fn delete_recorded(
        change: &mut Change,
        tenant: &str,
        install: &str,
    ) -> Result<(), RegistryError> {
        sqlx::query("DELETE FROM recorded_calls WHERE tenant = $1 AND install = $2")
            .bind(tenant)
            .bind(install)
            .execute(change.conn())
            .await?;
        Ok(())
    }

    /// Drop what a ring holds past its size or its retention.
    async fn prune_ring(
        conn: &mut sqlx::AnyConnection,
        tenant: &str,
        install: &str,
        recording: &Recording,
        now: i64,
    ) -> Result<(), RegistryError> {
        sqlx::query(
            "DELETE FROM recorded_calls WHERE tenant = $1 AND install = $2 AND (at < $3 OR id NOT IN \
             (SELECT id FROM recorded_calls WHERE tenant = $1 AND install = $2 \
              ORDER BY at DESC, id DESC LIMIT $4))",
        )
        .bind(tenant)
        .bind(install)
        .bind(now - recording.retention_ms())
        .bind(i64::from(recording.calls))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Store calls a host recorded (already masked), in one transaction,
    /// and trim each ring they went to. Calls of an install whose recording
    /// was switched off (or that was removed) meanwhile are dropped. Not
    /// audited: a record of traffic, not a decision.
    pub async fn append_recorded(&self, calls: &[NewRecordedCall]) -> Result<usize, RegistryError> {
        let mut tx = self.db.begin_write().await?;
        let mut rings: Vec<(&str, &str, Option<Recording>)> = Vec::new();
        let mut stored = 0;
        for call in calls {
            let ring = match rings
                .iter()
                .find(|(t, i, _)| *t == call.tenant && *i == call.install)
            {
                Some((_, _, ring)) => *ring,
                None => {
                    let text: Option<Option<String>> = sqlx::query_scalar(
                        "SELECT recording FROM installs WHERE tenant = $1 AND id = $2",
                    )
                    .bind(&call.tenant)
                    .bind(&call.install)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let ring = recording_from_column(text.flatten())?;
                    rings.push((&call.tenant, &call.install, ring));
                    ring
                }
            };
            if ring.is_none() {
                continue;
            }
            sqlx::query(
                "INSERT INTO recorded_calls (id, tenant, install, at, version, function, args, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(format!("call-{}", crate::accounts::random_hex(10)?))
            .bind(&call.tenant)
            .bind(&call.install)
            .bind(call.at)
            .bind(&call.version)
            .bind(&call.function)
            .bind(call.args.to_string())
            .bind(call.outcome.to_string())
            .execute(&mut *tx)
            .await?;
            stored += 1;
        }
        let now = now_ms();
        for (tenant, install, ring) in &rings {
            if let Some(ring) = ring {
                Self::prune_ring(&mut tx, tenant, install, ring, now).await?;
            }
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// An install's recorded calls within its retention, oldest first, at
    /// most `limit` (the newest ones). The tenant's directors only.
    pub async fn recorded_calls(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
        limit: u32,
    ) -> Result<Vec<RecordedCall>, RegistryError> {
        actor.may(Action::ReadRecordings, On::Tenant(tenant))?;
        let mut conn = self.db.pool().acquire().await?;
        let found = Self::load_install(&mut conn, tenant, install).await?;
        let retention = found.recording.unwrap_or_default().retention_ms();
        let rows = sqlx::query(
            "SELECT id, tenant, install, at, version, function, args, outcome FROM recorded_calls \
             WHERE tenant = $1 AND install = $2 AND at >= $3 ORDER BY at DESC, id DESC LIMIT $4",
        )
        .bind(tenant)
        .bind(install)
        .bind(now_ms() - retention)
        .bind(i64::from(limit.min(MAX_CALLS)))
        .fetch_all(&mut *conn)
        .await?;
        let mut calls = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        calls.reverse();
        Ok(calls)
    }

    /// Delete a tenant's recorded calls that name `customer` (inside the
    /// customer's erasure).
    pub(crate) async fn erase_recorded_customer(
        conn: &mut sqlx::AnyConnection,
        tenant: &str,
        customer: &str,
    ) -> Result<u64, RegistryError> {
        // The id as a JSON string, escaped as it was stored.
        let quoted = Value::String(customer.to_owned()).to_string();
        let pattern = format!("%{}%", like_escape(&quoted));
        let done = sqlx::query(
            "DELETE FROM recorded_calls WHERE tenant = $1 AND \
             (args LIKE $2 ESCAPE '!' OR outcome LIKE $2 ESCAPE '!')",
        )
        .bind(tenant)
        .bind(pattern)
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }
}

fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_are_capped_by_the_platform() {
        assert!(Recording::default().check().is_ok());
        let big = Recording {
            calls: MAX_CALLS + 1,
            ..Recording::default()
        };
        assert!(big.check().unwrap_err().to_string().contains("calls"));
        let long = Recording {
            retention_hours: 0,
            ..Recording::default()
        };
        assert!(
            long.check()
                .unwrap_err()
                .to_string()
                .contains("retention_hours")
        );
        assert_eq!(like_escape("a_b%c!"), "a!_b!%c!!");
    }
}
