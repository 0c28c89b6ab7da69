//! The JSON shapes the engine exchanges with SDKs: resolved policies in, decisions out.
//!
//! Resolved policies are what agt-core's `ResolvedPolicy.model_dump(mode="json", by_alias=True)`
//! writes (`document`, `sealed_rules`, `content_hash`, `warnings`), or plain policy documents.
//! A plain document gets the engine's load warnings; a resolved policy keeps the warnings its
//! loader gave. Decisions are written with the keys of `agt_core.Decision`, so a decision made by
//! an SDK and one made by Python read alike in an audit trail.

use serde_json::{json, Value as Json};

use crate::canonical::content_hash;
use crate::policy::{PolicyDocument, PolicyError};
use crate::policy_set::{Decision, ResolvedPolicy};

/// What the engine records as the evaluator of its decisions (`agt_core.Decision.evaluator`).
pub const EVALUATOR_NAME: &str = "native";

fn load_error(policy: Option<String>, path: Option<String>, message: String) -> PolicyError {
    PolicyError { policy, path, message, position: None }
}

fn string_list(value: Option<&Json>, what: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(String::from)
                    .ok_or_else(|| load_error(None, None, format!("`{what}` must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(load_error(None, None, format!("`{what}` must be a list of strings"))),
    }
}

/// Reads one resolved policy: `{"document": {...}, "sealed_rules": [...], "content_hash": "...",
/// "warnings": [...]}` or a plain document. A given `content_hash` must match the document's.
pub fn resolved_from_json(item: &Json) -> Result<ResolvedPolicy, PolicyError> {
    let wrapped = item.as_object().filter(|o| o.contains_key("document"));
    let Some(wrapper) = wrapped else {
        let document = PolicyDocument::from_json(item)?;
        let warnings = crate::warnings::load_warnings(&document);
        return Ok(ResolvedPolicy { document, sealed_rules: Vec::new(), content_hash: None, warnings });
    };
    const KEYS: [&str; 5] = ["document", "sealed_rules", "content_hash", "warnings", "source"];
    if let Some(key) = wrapper.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(load_error(None, None, format!("unknown field `{key}` in a resolved policy")));
    }
    let document = PolicyDocument::from_json(wrapper.get("document").unwrap_or(&Json::Null))?;
    let name = Some(document.name.clone());
    let computed = content_hash(&document.to_json()).map_err(|e| load_error(name.clone(), None, e.0))?;
    match wrapper.get("content_hash") {
        None | Some(Json::Null) => {}
        Some(Json::String(given)) if given.is_empty() || *given == computed => {}
        Some(given) => {
            return Err(load_error(
                name,
                None,
                format!("policy has content_hash {given}, but its document hashes to `{computed}`"),
            ))
        }
    }
    Ok(ResolvedPolicy {
        document,
        sealed_rules: string_list(wrapper.get("sealed_rules"), "sealed_rules")?,
        content_hash: Some(computed),
        warnings: string_list(wrapper.get("warnings"), "warnings")?,
    })
}

/// Reads a list of resolved policies (load order).
pub fn resolved_list_from_json(list: &Json) -> Result<Vec<ResolvedPolicy>, PolicyError> {
    let Json::Array(items) = list else {
        return Err(load_error(None, None, "policies must be a JSON list of resolved policies or documents".into()));
    };
    items.iter().map(resolved_from_json).collect()
}

/// The decision as `agt_core.Decision.model_dump(mode="json")` writes it.
pub fn decision_to_json(decision: &Decision) -> Json {
    json!({
        "effect": decision.effect.as_str(),
        "allowed": decision.allowed(),
        "rule": decision.rule,
        "policy": decision.policy,
        "policy_hash": decision.policy_hash,
        "policy_set_hash": decision.policy_set_hash,
        "message": decision.message,
        "stage": decision.stage.as_str(),
        "matched": decision.matched.iter().map(|m| json!({
            "policy": m.policy, "rule": m.rule, "action": m.action.as_str(),
            "priority": m.priority, "errored": m.errored,
        })).collect::<Vec<_>>(),
        "errors": decision.errors.iter().map(|e| json!({
            "policy": e.policy, "rule": e.rule, "message": e.message,
        })).collect::<Vec<_>>(),
        "conflict_strategy": decision.conflict_strategy.map(|s| s.as_str()),
        "approvers": decision.approvers,
        "rate_limited": decision.rate_limited,
        "refused_by": Json::Null,
        "evaluator": EVALUATOR_NAME,
    })
}

/// A load error as JSON: `kind`, `message`, `policy`, `path`, `line`, `column` (and `file` when
/// the loader knows it).
pub fn policy_error_to_json(error: &PolicyError) -> Json {
    json!({
        "kind": "policy",
        "message": error.message,
        "policy": error.policy,
        "path": error.path,
        "line": error.position.map(|p| p.0),
        "column": error.position.map(|p| p.1),
    })
}
