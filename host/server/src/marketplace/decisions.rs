//! A director's decision on an approval request, and its delivery to the
//! component that asked (see [`mercato_registry::delivery`]): at once when
//! the install can take it, else when the install is enabled again; the
//! component's answer is what the director is shown.

use mercato_registry::delivery::{DeliveryState, Handover};
use mercato_registry::inbox::{Answer, Approval};
use mercato_registry::{Principal, RegistryError};
use mercato_runtime::InvokeError;
use serde_json::{Value, json};

use super::{MarketError, Marketplace};

impl Marketplace {
    /// Decide an approval request and hand the decision to the component
    /// that asked; the approval returned carries the component's answer (or
    /// why it is still waiting).
    pub async fn decide(
        &self,
        actor: &Principal,
        tenant: &str,
        approval: &str,
        answer: Answer,
    ) -> Result<Approval, MarketError> {
        let decided = self
            .registry
            .decide(actor, tenant, approval, answer)
            .await?;
        self.forget();
        let delivered = self.deliver(tenant, &decided).await?;
        // Earlier decisions a failure left waiting get their next try too.
        if delivered.delivery.state != DeliveryState::Waiting {
            self.deliver_decisions(tenant, &delivered.component).await;
        }
        Ok(delivered)
    }

    /// Hand every decision waiting for `install` to it (after it is enabled
    /// again); returns how many the component answered.
    pub async fn deliver_waiting(&self, tenant: &str, install: &str) -> Result<usize, MarketError> {
        let mut answered = 0;
        for id in self.registry.waiting_deliveries(tenant, install).await? {
            let approval = self.registry.approval(tenant, &id).await?;
            let after = self.deliver(tenant, &approval).await?;
            if matches!(
                after.delivery.state,
                DeliveryState::Accepted | DeliveryState::Refused
            ) {
                answered += 1;
            }
        }
        Ok(answered)
    }

    /// [`Self::deliver_waiting`] after an install change that already
    /// succeeded: a delivery that cannot happen now stays waiting, logged.
    pub(super) async fn deliver_decisions(&self, tenant: &str, install: &str) {
        if let Err(e) = self.deliver_waiting(tenant, install).await {
            tracing::warn!(tenant, install, error = %e, "decisions stay waiting for delivery");
        }
    }

    /// Deliver one decided approval if its install can take it now.
    async fn deliver(&self, tenant: &str, approval: &Approval) -> Result<Approval, MarketError> {
        let active = match self.active(tenant, &approval.component).await {
            Ok(active) if active.install.enabled => active,
            // Disabled or removed: it waits, untouched, for the install.
            Ok(_) | Err(MarketError::Registry(RegistryError::NotFound { .. })) => {
                return Ok(approval.clone());
            }
            Err(e) => return Err(e),
        };
        let Some(claimed) = self.registry.claim_delivery(tenant, &approval.id).await? else {
            // Delivered already, or another host is delivering it.
            return Ok(self.registry.approval(tenant, &approval.id).await?);
        };
        if claimed.call.is_some() {
            return self.finish_held(tenant, &active, &claimed).await;
        }
        let decision = json!({
            "decision": {
                "approval-id": claimed.id,
                "subject": claimed.subject,
                "approved": claimed.status == "approved",
                "reason": claimed.reason,
                "decided-by": claimed.decided_by,
                "decided-at": claimed.decided_at.unwrap_or_default(),
            }
        });
        let handover = match self.call(&active, "approval-decided", decision).await {
            Ok(outcome) => match outcome.json() {
                Value::Object(mut o) if o.len() == 1 && o.contains_key("err") => {
                    Handover::Refused(o.remove("err").unwrap_or(Value::Null))
                }
                reply => Handover::Accepted(reply),
            },
            Err(e @ (MarketError::Refused(_) | MarketError::Disabled { .. })) => {
                Handover::Unavailable(e.to_string())
            }
            Err(
                e @ MarketError::Invoke(
                    InvokeError::Storage(_) | InvokeError::Busy | InvokeError::Contention { .. },
                ),
            ) => Handover::Unavailable(e.to_string()),
            Err(e) => Handover::Failed(e.to_string()),
        };
        Ok(self
            .registry
            .finish_delivery(tenant, &claimed.id, handover)
            .await?)
    }

    /// Run an approved held call (the delivery of its decision) and record
    /// its result on the approval, audited.
    async fn finish_held(
        &self,
        tenant: &str,
        active: &std::sync::Arc<super::Active>,
        claimed: &Approval,
    ) -> Result<Approval, MarketError> {
        let handover = match self.run_held(active, claimed).await? {
            None => Handover::Failed("the held call is missing".into()),
            Some(Ok(Value::Object(mut o))) if o.len() == 1 && o.contains_key("err") => {
                Handover::Refused(o.remove("err").unwrap_or(Value::Null))
            }
            Some(Ok(reply)) => Handover::Accepted(reply),
            Some(Err(e @ (MarketError::Refused(_) | MarketError::Disabled { .. }))) => {
                Handover::Unavailable(e.to_string())
            }
            Some(Err(e)) => Handover::Failed(e.to_string()),
        };
        let after = self
            .registry
            .finish_delivery(tenant, &claimed.id, handover)
            .await?;
        self.registry.record_held_run(tenant, &after).await?;
        Ok(after)
    }
}
