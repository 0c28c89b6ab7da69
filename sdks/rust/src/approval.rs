//! The approval hook: who decides a call that a require_approval rule matched.

use serde_json::{json, Value as Json};

use crate::Decision;

/// What an approval handler is asked: the call exactly as it was judged.
#[derive(Debug)]
pub struct ApprovalRequest<'a> {
    /// The tool being called.
    pub tool: &'a str,
    /// The request the policy judged (`action`, `args`, `agent`, `context`, `stage`).
    pub request: &'a Json,
    /// The require_approval decision (its `approvers` say who may approve).
    pub decision: &'a Decision,
    /// `sha256:<hex>` of the request's canonical JSON: an approval is bound to exactly this call.
    pub request_hash: &'a str,
}

/// An approval handler's answer, recorded in the audit trail. Made by `ApprovalRequest::approve`
/// or `refuse`, which bind it to the call's request hash; an approval bound to another call (a
/// replayed answer) is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// Whether the call may run.
    pub approved: bool,
    /// Who approved or refused.
    pub approver: Option<String>,
    /// Why.
    pub reason: String,
    /// The hash of the request the answer is for.
    pub request_hash: Option<String>,
}

impl ApprovalRequest<'_> {
    /// An approval of exactly this call (bound to its request hash, so it cannot be replayed
    /// onto another call).
    pub fn approve(&self, approver: impl Into<String>, reason: impl Into<String>) -> Approval {
        Approval {
            approved: true,
            approver: Some(approver.into()),
            reason: reason.into(),
            request_hash: Some(self.request_hash.to_string()),
        }
    }

    /// A refusal of this call.
    pub fn refuse(&self, approver: impl Into<String>, reason: impl Into<String>) -> Approval {
        Approval {
            approved: false,
            approver: Some(approver.into()),
            reason: reason.into(),
            request_hash: Some(self.request_hash.to_string()),
        }
    }
}

impl Approval {
    pub(crate) fn refused_by_kernel(reason: impl Into<String>, request_hash: &str) -> Approval {
        Approval { approved: false, approver: None, reason: reason.into(), request_hash: Some(request_hash.into()) }
    }

    pub(crate) fn to_json(&self) -> Json {
        json!({
            "approved": self.approved,
            "approver": self.approver,
            "reason": self.reason,
            "request_hash": self.request_hash,
        })
    }
}

/// Decides require_approval calls. Implemented for every `Fn(&ApprovalRequest) -> Approval`.
/// A handler that panics refuses the call (the panic is caught and recorded).
pub trait ApprovalHandler: Send + Sync {
    /// Approves or refuses one call.
    fn decide(&self, request: &ApprovalRequest<'_>) -> Approval;
}

impl<F> ApprovalHandler for F
where
    F: Fn(&ApprovalRequest<'_>) -> Approval + Send + Sync,
{
    fn decide(&self, request: &ApprovalRequest<'_>) -> Approval {
        self(request)
    }
}
