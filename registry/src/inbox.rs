//! A tenant's approvals inbox: requests components filed through the
//! `approvals` host interface, and the director's decisions on them.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::access::{Action, On};
use crate::audit::Change;
use crate::paging::Page;
use crate::principal::Principal;
use crate::{RegistryError, now_ms};

/// An approval request and, once decided, its decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// Id (the one the component was given).
    pub id: String,
    /// The tenant.
    pub tenant: String,
    /// The install that asked.
    pub component: String,
    /// The component's own reference (e.g. a sample request id).
    pub subject: String,
    /// One line for the inbox.
    pub summary: String,
    /// Label/value pairs.
    pub details: Vec<(String, String)>,
    /// The customer it is about, if the component (or the held call) said.
    pub customer: Option<String>,
    /// `pending`, `approved`, `rejected`, or `withdrawn` (the component
    /// closed it before anyone decided).
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub requested_at: i64,
    /// The director who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// The director's reason.
    pub reason: Option<String>,
    /// Where the decision stands with the component that asked; for a
    /// held call, whether the call ran and what it answered (`reply`).
    pub delivery: crate::delivery::Delivery,
    /// For a call a guard held: the function it will run on approval (its
    /// arguments are in `details`, contact details masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<HeldFunction>,
}

/// The function of a held call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldFunction {
    /// Its WIT name.
    pub function: String,
}

/// A call a guard held: what runs on approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldCall {
    /// The function.
    pub function: String,
    /// Its arguments, as sent (unmasked: they are what runs).
    pub args: serde_json::Value,
}

/// A director's answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// `approve` or `reject`.
    pub decision: crate::versions::Decision,
    /// Why; required for a rejection.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Which approval requests.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApprovalQuery {
    /// `pending`, `approved`, `rejected` or `withdrawn`.
    pub status: Option<String>,
    /// The page after this cursor (a previous page's `next`).
    pub before: Option<String>,
    /// At most this many (default 100, at most 1000; a page also ends
    /// after 4 MiB of requests).
    pub limit: Option<i64>,
}

pub(crate) const COLUMNS: &str = "id, tenant, component, subject, summary, details, status, requested_at, \
     decided_by, decided_at, reason, delivery, delivery_reply, delivery_attempts, delivered_at, held_call, \
     customer";

pub(crate) fn approval_from_row(row: &sqlx::any::AnyRow) -> Result<Approval, RegistryError> {
    let details: String = row.try_get("details")?;
    let status: String = row.try_get("status")?;
    let decided = matches!(status.as_str(), "approved" | "rejected");
    let delivery = crate::delivery::Delivery::from_row(row, decided)?;
    let held: Option<String> = row.try_get("held_call")?;
    let call = held
        .map(|h| serde_json::from_str::<HeldCall>(&h))
        .transpose()
        .map_err(|e| RegistryError::Corrupt(format!("stored held call: {e}")))?
        .map(|h| HeldFunction {
            function: h.function,
        });
    Ok(Approval {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        component: row.try_get("component")?,
        subject: row.try_get("subject")?,
        summary: row.try_get("summary")?,
        details: serde_json::from_str(&details)
            .map_err(|e| RegistryError::Corrupt(format!("stored approval details: {e}")))?,
        customer: row.try_get("customer")?,
        status,
        requested_at: row.try_get("requested_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        reason: row.try_get("reason")?,
        delivery,
        call,
    })
}

impl crate::Registry {
    /// A tenant's approval requests, newest first, optionally by status, a
    /// page at a time (by count and bytes; see [`crate::paging`]).
    pub async fn approvals(
        &self,
        actor: &Principal,
        tenant: &str,
        query: &ApprovalQuery,
    ) -> Result<Page<Approval>, RegistryError> {
        actor.may(Action::ReadApprovals, On::Tenant(tenant))?;
        if let Some(s) = query.status.as_deref()
            && !["pending", "approved", "rejected", "withdrawn"].contains(&s)
        {
            return Err(RegistryError::invalid(
                "status",
                format!("`{s}` is not one of pending, approved, rejected, withdrawn"),
            ));
        }
        let (before_at, before_id) = match query.before.as_deref() {
            None => (i64::MAX, String::new()),
            Some(cursor) => cursor
                .split_once(':')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| {
                    RegistryError::invalid("before", format!("`{cursor}` is not a page cursor"))
                })?,
        };
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let mut conn = self.db.pool().acquire().await?;
        self.tenant_exists(&mut conn, tenant).await?;
        drop(conn);
        let statement = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM approvals WHERE tenant = $1 AND ($2 = '' OR status = $2) \
             AND (requested_at < $3 OR (requested_at = $3 AND id > $4)) \
             ORDER BY requested_at DESC, id LIMIT $5"
        )))
        .bind(tenant.to_owned())
        .bind(query.status.clone().unwrap_or_default())
        .bind(before_at)
        .bind(before_id)
        .bind(limit);
        crate::paging::read(statement, self.db.pool(), limit as usize, |row| {
            let a = approval_from_row(row)?;
            let size = a.subject.len()
                + a.summary.len()
                + a.details
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>();
            let cursor = format!("{}:{}", a.requested_at, a.id);
            Ok((a, size, cursor))
        })
        .await
    }

    /// Decide a pending request (the tenant's director). The host then
    /// tells the component.
    pub async fn decide(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        answer: Answer,
    ) -> Result<Approval, RegistryError> {
        actor.may(Action::Decide, On::Tenant(tenant))?;
        let approved = answer.decision == crate::versions::Decision::Approve;
        let reason = crate::bounds::REASON.optional(answer.reason)?;
        if !approved && reason.is_none() {
            return Err(RegistryError::invalid(
                "reason",
                "a rejection needs a reason",
            ));
        }
        let mut change = Change::begin(&self.db, actor).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM approvals WHERE tenant = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(change.conn())
        .await?
        .ok_or_else(|| RegistryError::not_found("approval", format!("{tenant}/{id}")))?;
        let before = approval_from_row(&row)?;
        if before.status == "withdrawn" {
            return Err(RegistryError::conflict(
                "withdrawn",
                format!(
                    "approval {id} was withdrawn by `{}`: what it asked about no longer needs a decision",
                    before.component
                ),
            ));
        }
        if before.status != "pending" {
            return Err(RegistryError::conflict(
                "already-decided",
                format!("approval {id} was {} already", before.status),
            ));
        }
        // A held call that was refused has nothing to deliver: it never runs.
        let delivers = approved || before.call.is_none();
        let after = Approval {
            status: if approved { "approved" } else { "rejected" }.to_owned(),
            decided_by: Some(actor.name.clone()),
            decided_at: Some(now_ms()),
            reason,
            delivery: if delivers {
                crate::delivery::Delivery::waiting()
            } else {
                before.delivery.clone()
            },
            ..before.clone()
        };
        // The decision and the duty to deliver it are one write: a host that
        // stops here leaves a decision someone will still deliver.
        sqlx::query(
            "UPDATE approvals SET status = $1, decided_by = $2, decided_at = $3, reason = $4, \
             delivery = $5 WHERE tenant = $6 AND id = $7",
        )
        .bind(&after.status)
        .bind(&after.decided_by)
        .bind(after.decided_at)
        .bind(&after.reason)
        .bind(if delivers { "waiting" } else { "" })
        .bind(tenant)
        .bind(id)
        .execute(change.conn())
        .await?;
        change
            .record(
                &format!("approval.{}", if approved { "approve" } else { "reject" }),
                &format!("{}/{id}", before.component),
                Some(tenant),
                &serde_json::json!({"status": before.status, "subject": before.subject}),
                &serde_json::json!({"status": after.status, "reason": after.reason}),
            )
            .await?;
        change.commit().await?;
        Ok(after)
    }

    /// File a call a guard held (the host checked the guard): pending in
    /// the inbox with `details` (the arguments, contact details masked),
    /// the real arguments kept to run on approval. Audited.
    pub async fn hold_call(
        &self,
        tenant: &str,
        install: &str,
        call: &HeldCall,
        caller: &Principal,
        details: Vec<(String, String)>,
        customer: Option<&str>,
    ) -> Result<Approval, RegistryError> {
        let id = format!("apr-{}", crate::accounts::random_hex(16)?);
        let held = serde_json::to_string(call)
            .map_err(|e| RegistryError::Corrupt(format!("held call: {e}")))?;
        let summary = format!(
            "`{}` of {install}, called by {}, needs a decision before it runs",
            call.function, caller.name
        );
        let detail_text = serde_json::to_string(&details).unwrap_or_default();
        let mut change = Change::begin(&self.db, caller).await?;
        sqlx::query(
            "INSERT INTO approvals (id, tenant, component, subject, summary, details, status, \
             requested_at, held_call, customer) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(install)
        .bind(&call.function)
        .bind(&summary)
        .bind(&detail_text)
        .bind(now_ms())
        .bind(held)
        .bind(customer)
        .execute(change.conn())
        .await?;
        change
            .record(
                "approval.hold",
                &format!("{install}/{id}"),
                Some(tenant),
                &serde_json::Value::Null,
                &serde_json::json!({"function": call.function, "details": details}),
            )
            .await?;
        change.commit().await?;
        self.approval(tenant, &id).await
    }

    /// The call held under approval `id`, if it is one.
    pub async fn held_call(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<HeldCall>, RegistryError> {
        let held: Option<String> =
            sqlx::query_scalar("SELECT held_call FROM approvals WHERE tenant = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .fetch_optional(self.db.pool())
                .await?
                .flatten();
        held.map(|h| serde_json::from_str(&h))
            .transpose()
            .map_err(|e| RegistryError::Corrupt(format!("stored held call: {e}")))
    }

    /// Audit how a held call's run ended (after its delivery finished).
    pub async fn record_held_run(
        &self,
        tenant: &str,
        approval: &Approval,
    ) -> Result<(), RegistryError> {
        let actor = Principal::console();
        let mut change = Change::begin(&self.db, &actor).await?;
        change
            .record(
                "approval.run",
                &format!("{}/{}", approval.component, approval.id),
                Some(tenant),
                &serde_json::json!({"status": approval.status, "decided_by": approval.decided_by}),
                &serde_json::json!({"delivery": approval.delivery}),
            )
            .await?;
        change.commit().await
    }

    /// Every approval request about `customer` (its director, operators),
    /// oldest first: for that customer's export.
    pub async fn approvals_about(
        &self,
        actor: &Principal,
        tenant: &str,
        customer: &str,
    ) -> Result<Vec<Approval>, RegistryError> {
        actor.may(Action::ReadApprovals, On::Tenant(tenant))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM approvals WHERE tenant = $1 AND customer = $2 \
             ORDER BY requested_at, id"
        )))
        .bind(tenant)
        .bind(customer)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(approval_from_row).collect()
    }
}
