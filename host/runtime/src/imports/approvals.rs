//! `approvals`: requests for a human decision, filed at commit.

use mercato_types::ApprovalRecord;

use crate::Permission;
use crate::bindings::mercato::sales::approvals::{ApprovalRequest, Host};
use crate::fault::Fault;
use crate::sandbox::{MAX_APPROVALS, Sandbox};

impl Host for Sandbox {
    fn request(&mut self, request: ApprovalRequest) -> wasmtime::Result<String> {
        self.require(Permission::Approvals, "approvals.request")?;
        if self.tx.approvals.len() >= MAX_APPROVALS {
            return Err(Fault::Quota(format!(
                "one invocation may request at most {MAX_APPROVALS} approvals"
            ))
            .into());
        }
        let id = format!("apr-{}", uuid::Uuid::new_v4().simple());
        self.tx.approvals.push(ApprovalRecord {
            id: id.clone(),
            subject: request.subject,
            summary: request.summary,
            details: request.details,
            requested_at: self.now_ms,
        });
        Ok(id)
    }
}
