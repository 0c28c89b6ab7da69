//! What can go wrong: loading a policy (`Error`) and governing a call (`GovernError`).

use std::fmt;

use agt_engine::audit::AuditError;
use agt_engine::loader::LoadError;
use agt_engine::PolicyError;

use crate::approval::Approval;
use crate::Decision;

/// A policy that cannot be loaded or compiled, or input that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// YAML or a policy file refused at load time, with file, line, column and path.
    Load(Box<LoadError>),
    /// A policy document refused while compiling (path inside the document).
    Policy(PolicyError),
    /// JSON text that cannot be read or has no canonical form.
    Json(String),
    /// An audit trail that does not verify, or a record that cannot be written.
    Audit(AuditError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Load(e) => write!(f, "policy not loaded: {e}"),
            Error::Policy(e) => write!(f, "policy not loaded: {e}"),
            Error::Json(e) => write!(f, "invalid JSON: {e}"),
            Error::Audit(e) => write!(f, "audit: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<LoadError> for Error {
    fn from(e: LoadError) -> Error {
        Error::Load(Box::new(e))
    }
}

impl From<PolicyError> for Error {
    fn from(e: PolicyError) -> Error {
        Error::Policy(e)
    }
}

impl From<AuditError> for Error {
    fn from(e: AuditError) -> Error {
        Error::Audit(e)
    }
}

/// Why a governed call did not run, or the tool's own error. Every refusal was audited first
/// (except `Audit`, which says the record could not be written, so the call was refused).
#[derive(Debug)]
pub enum GovernError<E> {
    /// The policy denied the call (a deny rule, a deny default, a condition that failed closed,
    /// an exhausted rate limit, or a request no policy applies to).
    Denied(Box<Decision>),
    /// The policy requires approval and it was not given (no handler, the handler refused or
    /// failed).
    ApprovalRefused {
        /// The require_approval decision.
        decision: Box<Decision>,
        /// What the approval handler answered (or why there was none).
        approval: Approval,
    },
    /// The arguments cannot be judged faithfully (not a JSON object, too deep, no canonical
    /// form), so the call was refused.
    Request(String),
    /// The audit record could not be written, so the call was refused (fail closed).
    Audit(AuditError),
    /// The call was allowed and ran; the tool itself failed.
    Tool(E),
}

impl<E> GovernError<E> {
    /// The decision behind a refusal, when a policy made one.
    pub fn decision(&self) -> Option<&Decision> {
        match self {
            GovernError::Denied(d) | GovernError::ApprovalRefused { decision: d, .. } => Some(d),
            _ => None,
        }
    }

    /// True when governance refused the call (anything but the tool's own error).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, GovernError::Tool(_))
    }
}

impl<E: fmt::Display> fmt::Display for GovernError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GovernError::Denied(d) => {
                let who = match (&d.rule, &d.policy) {
                    (Some(rule), Some(policy)) => format!("rule `{rule}` of policy `{policy}`"),
                    (None, Some(policy)) => format!("the default of policy `{policy}`"),
                    _ => "the engine".to_string(),
                };
                write!(f, "denied by {who}")?;
                if d.rate_limited {
                    write!(f, " (rate limited)")?;
                }
                if !d.message.is_empty() {
                    write!(f, ": {}", d.message)?;
                }
                Ok(())
            }
            GovernError::ApprovalRefused { decision, approval } => write!(
                f,
                "approval required by rule `{}` was not given: {}",
                decision.rule.as_deref().unwrap_or(""),
                approval.reason
            ),
            GovernError::Request(m) => write!(f, "refused: {m}"),
            GovernError::Audit(e) => write!(f, "refused: the audit record could not be written: {e}"),
            GovernError::Tool(e) => write!(f, "{e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GovernError<E> {}
