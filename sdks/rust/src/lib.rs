#![doc = include_str!("../README.md")]

mod approval;
mod audit;
mod error;
mod governor;
mod policy;

pub use agt_engine::audit::{AuditError, ChainHead};
pub use agt_engine::loader::LoadError;
pub use agt_engine::{Action as Effect, Decision, MatchedRule, RuleError};
pub use approval::{Approval, ApprovalHandler, ApprovalRequest};
pub use audit::{verify_trail, AuditTrail};
pub use error::{Error, GovernError};
#[cfg(feature = "async")]
pub use governor::GovernedAsync;
pub use governor::{Governed, Governor, GovernorBuilder, Permit, DEFAULT_APPROVAL_TIMEOUT};
pub use policy::Policy;

/// The RFC 8785 canonical JSON of a JSON text: what the toolkit hashes and signs. Integer tokens
/// stay exact; duplicate keys, lone surrogates, NaN and integers no double holds are refused.
pub fn canonical_json(json_text: &str) -> Result<String, Error> {
    let value = agt_engine::json_text::parse_strict(json_text).map_err(|e| Error::Json(e.to_string()))?;
    agt_engine::canonical::canonical_json(&value).map_err(|e| Error::Json(e.0))
}

/// `sha256:<hex>` of the canonical JSON of a JSON text (how policies and approvals are named).
pub fn content_hash(json_text: &str) -> Result<String, Error> {
    let canonical = canonical_json(json_text)?;
    let value = agt_engine::json_text::parse_strict(&canonical).map_err(|e| Error::Json(e.to_string()))?;
    agt_engine::canonical::content_hash(&value).map_err(|e| Error::Json(e.0))
}
