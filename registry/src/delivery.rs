//! Delivering a director's decision to the component that asked for it,
//! durably: the decision is stored `waiting` in the same write that records
//! it; a host claims it (one host at a time), calls the component, and
//! records its answer, `accepted` or `refused` with the component's reason.
//! A decision the component could not take (install disabled or removed,
//! host overloaded) goes back to `waiting` and is delivered when the install
//! is enabled again; one the component failed on (a trap, a limit) is tried
//! again up to [`MAX_ATTEMPTS`] times, then `failed`.
//!
//! Exactly once, as far as a store separate from the component's allows: a
//! claim is taken by one conditional update, so two hosts never deliver the
//! same decision at once; only a host that stopped between the component's
//! commit and recording its answer leaves a claim that another host takes
//! again after [`CLAIM_STALE_MS`]. Components answer a repeated decision
//! with a refusal (the request is no longer awaiting one), never by acting
//! twice.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::inbox::{Approval, approval_from_row};
use crate::{RegistryError, now_ms};

/// Tries after which a decision the component keeps failing on is `failed`.
pub const MAX_ATTEMPTS: i64 = 5;
/// After this long a claim is presumed lost with its host.
pub const CLAIM_STALE_MS: i64 = 5 * 60 * 1000;

/// Where a decision stands with the component.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryState {
    /// Not decided yet: nothing to deliver.
    Undecided,
    /// Decided; the component has not had it yet.
    Waiting,
    /// A host is handing it over now.
    Delivering,
    /// The component took the decision.
    Accepted,
    /// The component refused it, with its reason (e.g. the request was
    /// cancelled meanwhile).
    Refused,
    /// The component failed on it [`MAX_ATTEMPTS`] times.
    Failed,
    /// Decided before deliveries were recorded.
    NotRecorded,
}

/// A decision's delivery, as the inbox shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Where it stands.
    pub state: DeliveryState,
    /// The component's answer (`{"ok": …}` or its error), or the host's
    /// last error while it waits or after it failed.
    pub reply: Option<Value>,
    /// Calls made to the component with it.
    pub attempts: i64,
    /// When the component answered.
    pub delivered_at: Option<i64>,
}

impl Delivery {
    /// A decision just made.
    pub fn waiting() -> Delivery {
        Delivery {
            state: DeliveryState::Waiting,
            reply: None,
            attempts: 0,
            delivered_at: None,
        }
    }

    pub(crate) fn from_row(row: &sqlx::any::AnyRow, decided: bool) -> Result<Self, RegistryError> {
        let state: String = row.try_get("delivery")?;
        let state = match state.as_str() {
            "" if decided => DeliveryState::NotRecorded,
            "" => DeliveryState::Undecided,
            "waiting" => DeliveryState::Waiting,
            "delivering" => DeliveryState::Delivering,
            "accepted" => DeliveryState::Accepted,
            "refused" => DeliveryState::Refused,
            "failed" => DeliveryState::Failed,
            other => {
                return Err(RegistryError::Corrupt(format!(
                    "approval delivery state `{other}`"
                )));
            }
        };
        let reply: Option<String> = row.try_get("delivery_reply")?;
        let reply = reply
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| RegistryError::Corrupt(format!("approval delivery reply: {e}")))?;
        Ok(Delivery {
            state,
            reply,
            attempts: row.try_get("delivery_attempts")?,
            delivered_at: row.try_get("delivered_at")?,
        })
    }
}

/// How handing a decision over ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Handover {
    /// The component returned `ok`.
    Accepted(Value),
    /// The component returned its error.
    Refused(Value),
    /// The component could not be called (disabled, removed, host busy):
    /// it waits, and the try does not count.
    Unavailable(String),
    /// The component failed on it (trap, limit): it waits for another try
    /// until [`MAX_ATTEMPTS`].
    Failed(String),
}

impl crate::Registry {
    /// The decisions of `component` waiting for delivery, oldest first.
    pub async fn waiting_deliveries(
        &self,
        tenant: &str,
        component: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let rows = sqlx::query(
            "SELECT id FROM approvals WHERE tenant = $1 AND component = $2 \
             AND delivery IN ('waiting', 'delivering') ORDER BY decided_at, id",
        )
        .bind(tenant)
        .bind(component)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Take a waiting decision (or a claim gone stale) to deliver it; `None`
    /// when there is nothing to take (delivered, or another host has it).
    pub async fn claim_delivery(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<Approval>, RegistryError> {
        let now = now_ms();
        let claimed = sqlx::query(
            "UPDATE approvals SET delivery = 'delivering', delivery_claimed_at = $1, \
             delivery_attempts = delivery_attempts + 1 \
             WHERE tenant = $2 AND id = $3 AND (delivery = 'waiting' \
             OR (delivery = 'delivering' AND delivery_claimed_at < $4))",
        )
        .bind(now)
        .bind(tenant)
        .bind(id)
        .bind(now - CLAIM_STALE_MS)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        if claimed == 0 {
            return Ok(None);
        }
        self.approval(tenant, id).await.map(Some)
    }

    /// Record how a claimed delivery ended.
    pub async fn finish_delivery(
        &self,
        tenant: &str,
        id: &str,
        handover: Handover,
    ) -> Result<Approval, RegistryError> {
        let now = now_ms();
        let (state, reply, uncount, delivered_at) = match handover {
            Handover::Accepted(v) => ("accepted", v, 0, Some(now)),
            Handover::Refused(v) => ("refused", v, 0, Some(now)),
            Handover::Unavailable(e) => ("waiting", Value::String(e), 1, None),
            Handover::Failed(e) => ("waiting", Value::String(e), 0, None),
        };
        let reply = reply.to_string();
        sqlx::query(
            "UPDATE approvals SET delivery = CASE WHEN $1 = 'waiting' AND \
             delivery_attempts - $2 >= $3 THEN 'failed' ELSE $1 END, \
             delivery_reply = $4, delivery_attempts = delivery_attempts - $2, \
             delivered_at = $5, delivery_claimed_at = NULL \
             WHERE tenant = $6 AND id = $7 AND delivery = 'delivering'",
        )
        .bind(state)
        .bind(uncount)
        .bind(MAX_ATTEMPTS)
        .bind(reply)
        .bind(delivered_at)
        .bind(tenant)
        .bind(id)
        .execute(self.db.pool())
        .await?;
        self.approval(tenant, id).await
    }

    /// One approval request, without a caller check: for the host
    /// delivering a decision it was asked to.
    pub async fn approval(&self, tenant: &str, id: &str) -> Result<Approval, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM approvals WHERE tenant = $1 AND id = $2",
            crate::inbox::COLUMNS
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| RegistryError::not_found("approval", format!("{tenant}/{id}")))?;
        approval_from_row(&row)
    }
}
