//! The Agent Governance Toolkit policy engine.
//!
//! A plain Rust library (no Python in it): the policy model, CEL conditions (lexer, parser,
//! checker, compiler, evaluator), the rule index, conflict strategies, multi-policy combination,
//! rate limits, RFC 8785 canonical JSON and SHA-256 content hashes. The Python binding
//! (`agt_evaluator._native`) and the SDKs build on it; the conformance vectors in
//! `conformance/policy/` are its specification, and `cargo test` runs every one of them.
//!
//! ```
//! use agt_engine::{PolicyDocument, PolicySet, ResolvedPolicy, Value};
//!
//! let doc = serde_json::json!({
//!     "apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "allow",
//!     "rules": [{"name": "no-drop", "condition": "action.type in ['drop', 'delete']", "action": "deny"}],
//! });
//! let document = PolicyDocument::from_json(&doc).unwrap();
//! let set = PolicySet::compile(&[ResolvedPolicy { document, sealed_rules: vec![], content_hash: None, warnings: vec![] }]).unwrap();
//! let request = Value::from_json(&serde_json::json!({
//!     "action": {"type": "drop", "tool": "sql"}, "args": {}, "agent": {"id": "a"}, "context": {}, "stage": "pre_tool",
//! }), 64).unwrap();
//! assert_eq!(set.evaluate(&request).rule.as_deref(), Some("no-drop"));
//! ```

pub mod activation;
pub mod audit;
pub mod canonical;
pub mod cel;
pub mod fast_hash;
pub mod interchange;
pub mod json_text;
pub mod loader;
pub mod policy;
pub mod policy_set;
pub mod rate_limit;
pub mod value;
pub mod warnings;

pub use activation::{Activation, Resolved};
pub use policy::{Action, PolicyDocument, PolicyError, Rule, Stage, Strategy};
pub use policy_set::{Decision, MatchedRule, Outcome, PolicySet, ResolvedPolicy, RuleError};
pub use rate_limit::RateLimiter;
pub use value::Value;
