//! The agt-engine crate for JavaScript: the TypeScript SDK's only way to decide.
//!
//! Thin on purpose: JSON text in, JSON text out. Text, not JS objects, crosses the boundary
//! because the engine must see `5` and `5.0` as different numbers (CEL `int` and `double`), and
//! a JS number cannot say which it was. Every result is an envelope, `{"ok": ...}` or
//! `{"error": {...}}`, so no Rust error becomes a JS exception; a panic traps the module, and the
//! panic hook keeps its message for `takePanic` so the SDK can say what happened (and refuse).

use std::sync::Mutex;

use agt_engine::canonical::{canonical_json, content_hash, sha256_hex};
use agt_engine::{Action, Decision, PolicyDocument, PolicyError, PolicySet, RateLimiter, ResolvedPolicy, Value};
use serde_json::{json, Value as Json};
use wasm_bindgen::prelude::*;

/// Deepest request nesting the engine converts; deeper data is refused (fail closed).
const MAX_DEPTH: usize = 128;

/// The last panic's message, for the SDK to report after the trap.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
}

/// The message of the last panic (once), or undefined.
#[wasm_bindgen(js_name = takePanic)]
pub fn take_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut last| last.take())
}

/// Panics: lets the SDK's tests prove a trap becomes a refusal, never an allowed call.
#[wasm_bindgen(js_name = panicForTests)]
#[allow(clippy::panic)] // the one deliberate panic: the test hook
pub fn panic_for_tests(message: &str) {
    std::panic::panic_any(message.to_string())
}

/// The engine crate's version.
#[wasm_bindgen(js_name = engineVersion)]
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

fn ok(value: Json) -> String {
    json!({ "ok": value }).to_string()
}

fn error(kind: &str, message: impl Into<String>) -> String {
    json!({ "error": { "kind": kind, "message": message.into() } }).to_string()
}

fn policy_error(e: &PolicyError) -> String {
    let (line, column) = e.position.map_or((Json::Null, Json::Null), |(l, c)| (json!(l), json!(c)));
    json!({ "error": {
        "kind": "policy", "message": e.message, "policy": e.policy, "path": e.path, "line": line, "column": column,
    }})
    .to_string()
}

fn parse(text: &str, what: &str) -> Result<Json, String> {
    serde_json::from_str(text).map_err(|e| error("json", format!("{what} is not valid JSON: {e}")))
}

/// One resolved policy: a bare document, or `{"document", "sealed_rules", "content_hash",
/// "warnings"}` as agt-core's `ResolvedPolicy` dumps it (what the Python loader hands evaluators).
fn resolved(item: &Json, index: usize) -> Result<ResolvedPolicy, String> {
    let wrapped = item.as_object().filter(|o| o.contains_key("document") && !o.contains_key("apiVersion"));
    let Some(wrapper) = wrapped else {
        let document = PolicyDocument::from_json(item).map_err(|e| policy_error(&e))?;
        return Ok(ResolvedPolicy { document, sealed_rules: vec![], content_hash: None, warnings: vec![] });
    };
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match wrapper.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| error("policy", format!("policies[{index}].{key} must be a list of strings"))),
            Some(_) => Err(error("policy", format!("policies[{index}].{key} must be a list of strings"))),
        }
    };
    let document = PolicyDocument::from_json(&wrapper["document"]).map_err(|e| policy_error(&e))?;
    let sealed_rules = strings("sealed_rules")?;
    if let Some(unknown) = sealed_rules.iter().find(|s| !document.rules.iter().any(|r| &r.name == *s)) {
        return Err(error("policy", format!("sealed rule `{unknown}` is not a rule of policy `{}`", document.name)));
    }
    let computed = content_hash(&document.to_json()).map_err(|e| error("policy", e.0))?;
    match wrapper.get("content_hash").and_then(Json::as_str) {
        Some(given) if !given.is_empty() && given != computed => {
            return Err(error(
                "policy",
                format!(
                    "policy `{}` has content_hash `{given}`, but its document hashes to `{computed}`",
                    document.name
                ),
            ))
        }
        _ => {}
    }
    Ok(ResolvedPolicy { document, sealed_rules, content_hash: Some(computed), warnings: strings("warnings")? })
}

/// The decision as `agt_core.Decision.model_dump(mode="json")` writes it (`refused_by` null:
/// the SDK sets it for refusals made outside the policy).
fn decision_json(d: &Decision) -> Json {
    json!({
        "effect": d.effect.as_str(),
        "allowed": d.allowed(),
        "rule": d.rule,
        "policy": d.policy,
        "policy_hash": d.policy_hash,
        "policy_set_hash": d.policy_set_hash,
        "message": d.message,
        "stage": d.stage.as_str(),
        "matched": d.matched.iter().map(|m| json!({
            "policy": m.policy, "rule": m.rule, "action": m.action.as_str(), "priority": m.priority, "errored": m.errored,
        })).collect::<Vec<_>>(),
        "errors": d.errors.iter().map(|e| json!({"policy": e.policy, "rule": e.rule, "message": e.message}))
            .collect::<Vec<_>>(),
        "conflict_strategy": d.conflict_strategy.map(|s| s.as_str()),
        "approvers": d.approvers,
        "rate_limited": d.rate_limited,
        "refused_by": Json::Null,
    })
}

/// A compiled policy set and its rate limiter (one per governed scope).
#[wasm_bindgen]
pub struct Engine {
    set: PolicySet,
    limiter: RateLimiter,
}

#[wasm_bindgen]
impl Engine {
    /// Compiles a JSON array of resolved policies, in load order. Returns the envelope's error
    /// text when the policies are refused (the SDK reads it with `Engine.compileError`).
    pub fn compile(policies_json: &str) -> Result<Engine, String> {
        let Json::Array(items) = parse(policies_json, "the policies")? else {
            return Err(error("policy", "the policies must be a JSON list of policy documents"));
        };
        let policies = items.iter().enumerate().map(|(i, item)| resolved(item, i)).collect::<Result<Vec<_>, _>>()?;
        let set = PolicySet::compile(&policies).map_err(|e| policy_error(&e))?;
        Ok(Engine { set, limiter: RateLimiter::new() })
    }

    /// `sha256:<hex>` of the set (over its policies' names and hashes, in load order).
    #[wasm_bindgen(getter)]
    pub fn hash(&self) -> String {
        self.set.hash().to_string()
    }

    /// `{"policies": [{"name", "hash"}], "limits": [{"policy", "rule", "limit"}], "warnings": [...],
    /// "stages": [...]}`.
    pub fn describe(&self) -> String {
        let policies: Vec<Json> =
            self.set.policy_hashes().into_iter().map(|(name, hash)| json!({"name": name, "hash": hash})).collect();
        let limits: Vec<Json> = self
            .set
            .limits()
            .into_iter()
            .map(|(policy, rule, limit)| json!({"policy": policy, "rule": rule, "limit": limit}))
            .collect();
        let stages: Vec<&str> = self.set.stages().into_iter().map(|s| s.as_str()).collect();
        json!({"policies": policies, "limits": limits, "warnings": self.set.warnings(), "stages": stages}).to_string()
    }

    /// Decides one request (JSON text): policy evaluation, then, when `now` is given (seconds on
    /// a monotonic clock), the rate limits of the matched rules, as the kernel applies them.
    /// Returns `{"ok": decision}` or `{"error": ...}` for text that is not a JSON request.
    pub fn decide(&mut self, request_json: &str, now: Option<f64>) -> String {
        let request = match parse(request_json, "the request") {
            Ok(json) => json,
            Err(e) => return e,
        };
        let decision = match Value::from_json(&request, MAX_DEPTH) {
            Ok(value) => self.set.evaluate(&value),
            Err(e) => return error("request", format!("the request cannot be evaluated: {e}")),
        };
        let agent = request.get("agent").and_then(|a| a.get("id")).and_then(Json::as_str);
        let decision = match (now, agent) {
            (Some(now), Some(agent)) if decision.effect != Action::Deny => {
                if !now.is_finite() {
                    return error("request", "the rate-limit clock reading is not a finite number");
                }
                self.limiter.apply(&self.set, decision, agent, now)
            }
            _ => decision,
        };
        ok(decision_json(&decision))
    }
}

/// RFC 8785 canonical JSON of a JSON text: `{"ok": "<canonical text>"}` or an error.
#[wasm_bindgen(js_name = canonicalJson)]
pub fn canonical_json_text(text: &str) -> String {
    let value = match parse(text, "the value") {
        Ok(value) => value,
        Err(e) => return e,
    };
    match canonical_json(&value) {
        Ok(canonical) => ok(Json::String(canonical)),
        Err(e) => error("canonical", e.0),
    }
}

/// Lowercase hex SHA-256 of a text's UTF-8 bytes.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex_text(text: &str) -> String {
    sha256_hex(text.as_bytes())
}
