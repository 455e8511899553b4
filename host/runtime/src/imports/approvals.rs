//! `approvals`: requests for a human decision, filed at commit.

use mercato_types::ApprovalRecord;

use crate::Permission;
use crate::bindings::v0_2::mercato::sales::approvals::{ApprovalRequest, Host};
use crate::sandbox::Sandbox;

impl Host for Sandbox {
    fn request(&mut self, request: ApprovalRequest) -> wasmtime::Result<String> {
        self.require(Permission::Approvals, "approvals.request")?;
        crate::fault::storable(
            "an approval request's subject, summary or details",
            [request.subject.as_str(), request.summary.as_str()]
                .into_iter()
                .chain(request.customer.as_deref())
                .chain(
                    request
                        .details
                        .iter()
                        .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
                ),
        )?;
        let size = request.subject.len()
            + request.summary.len()
            + request
                .details
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        let id = format!("apr-{}", uuid::Uuid::new_v4().simple());
        let size = size + request.customer.as_ref().map_or(0, String::len);
        let record = ApprovalRecord {
            id: id.clone(),
            subject: request.subject,
            summary: request.summary,
            details: request.details,
            customer: request.customer,
            requested_at: self.now_ms,
        };
        self.tx.approval(size as u64, record)?;
        Ok(id)
    }

    fn withdraw(&mut self, approval_id: String) -> wasmtime::Result<()> {
        self.require(Permission::Approvals, "approvals.withdraw")?;
        crate::fault::storable("an approval id", [approval_id.as_str()])?;
        self.tx.withdraw(approval_id)?;
        Ok(())
    }
}
