//! Ask a person to decide. Needs the `approvals` permission.
//!
//! The request lands in the tenant's approvals inbox when the invocation
//! commits. The director's answer arrives later through the component's
//! `approval_decided` trait method.

pub use crate::bindings::base::mercato::sales::approvals::{ApprovalRequest, Decision};

#[cfg(target_arch = "wasm32")]
use crate::bindings::base::mercato::sales::approvals as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::approvals as imp;

impl ApprovalRequest {
    /// A request about `subject` (an id of yours the decision will carry back).
    pub fn new(subject: impl Into<String>, summary: impl Into<String>) -> Self {
        ApprovalRequest {
            subject: subject.into(),
            summary: summary.into(),
            details: Vec::new(),
            customer: None,
        }
    }

    /// The customer it is about: their export lists the request and their
    /// erasure removes it from the inbox.
    pub fn about(mut self, customer: impl Into<String>) -> Self {
        self.customer = Some(customer.into());
        self
    }

    /// Add a labelled detail shown beside the summary.
    pub fn detail(mut self, label: impl Into<String>, value: impl ToString) -> Self {
        self.details.push((label.into(), value.to_string()));
        self
    }
}

/// File an approval request; returns its id.
pub fn request(request: &ApprovalRequest) -> String {
    imp::request(request)
}

/// Close a request this component filed and no longer needs (the sample
/// request was cancelled, say): the inbox shows it withdrawn and nobody can
/// decide it any more. Takes effect when the invocation commits; a request
/// that is not pending is left as it is.
pub fn withdraw(approval_id: &str) {
    imp::withdraw(approval_id)
}
