//! The agt-engine crate for JavaScript: the TypeScript SDK's only way to decide and to hash.
//!
//! Thin on purpose, the same entry points as the C ABI (`agt-ffi`): JSON text in, JSON text out.
//! Text, not JS objects, crosses the boundary because the engine must see `5` and `5.0` as
//! different numbers (CEL `int` and `double`), and a JS number cannot say which it was; every
//! text is read by the engine's strict reader. Every result is an envelope, `{"ok": ...}` or
//! `{"error": {"kind", "message", ...}}`, so no engine error becomes a JS exception. A panic traps
//! the module (wasm32 has no unwinding); the panic hook keeps its message for `takePanic`, so the
//! SDK can say what happened, and refuse.

use std::path::Path;
use std::sync::Mutex;

use agt_engine::audit::{self, AuditError, Pin};
use agt_engine::canonical::{canonical_json, content_hash, sha256_hex, CanonicalError};
use agt_engine::interchange::{decision_to_json, policy_error_to_json, resolved_list_from_json};
use agt_engine::json_text::{parse_strict, JsonTextError};
use agt_engine::loader::{load_yaml_text, LoadError};
use agt_engine::{PolicyError, PolicySet, RateLimiter, ResolvedPolicy, Value};
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

type Failure = Json;

fn envelope(result: Result<Json, Failure>) -> String {
    match result {
        Ok(value) => json!({ "ok": value }),
        Err(error) => json!({ "error": error }),
    }
    .to_string()
}

fn failure(kind: &str, message: impl Into<String>) -> Failure {
    json!({ "kind": kind, "message": message.into() })
}

fn json_failure(what: &str, e: &JsonTextError) -> Failure {
    json!({ "kind": e.kind, "message": format!("{what}: {}", e.message), "offset": e.offset })
}

fn canonical_failure(e: &CanonicalError) -> Failure {
    let kind = if e.0.starts_with("integer ") { "inexact_integer" } else { "number_overflow" };
    failure(kind, e.0.clone())
}

fn policy_failure(e: &PolicyError) -> Failure {
    policy_error_to_json(e)
}

fn load_failure(e: &LoadError) -> Failure {
    json!({
        "kind": "policy", "message": e.message, "file": e.file, "line": e.line, "column": e.column,
        "path": e.path, "policy": e.policy,
    })
}

fn audit_failure(e: &AuditError) -> Failure {
    let mut body = failure(e.kind(), e.message());
    if let (AuditError::Integrity { index, .. }, Some(map)) = (e, body.as_object_mut()) {
        map.insert("index".into(), json!(index));
    }
    body
}

fn strict(text: &str, what: &str) -> Result<Json, Failure> {
    parse_strict(text).map_err(|e| json_failure(what, &e))
}

/// A compiled policy set and its rate limiter (one per `PolicySet` of the SDK).
#[wasm_bindgen]
pub struct Engine {
    set: PolicySet,
    limiter: RateLimiter,
}

impl Engine {
    fn new(resolved: &[ResolvedPolicy]) -> Result<Engine, Failure> {
        let set = PolicySet::compile(resolved).map_err(|e| policy_failure(&e))?;
        Ok(Engine { set, limiter: RateLimiter::new() })
    }

    fn request(text: &str) -> Result<(Json, Value), Failure> {
        let json = strict(text, "the request")?;
        let value = Value::from_json(&json, MAX_DEPTH)
            .map_err(|e| failure("request", format!("the request cannot be judged: {e}")))?;
        Ok((json, value))
    }
}

#[wasm_bindgen]
impl Engine {
    /// Compiles a JSON list of resolved policies (as agt-core's `ResolvedPolicy` dumps them) or
    /// plain policy documents, in load order. Refused: throws the error JSON as a string.
    pub fn compile(policies_json: &str) -> Result<Engine, String> {
        let list = strict(policies_json, "the policies").map_err(|e| e.to_string())?;
        let resolved = resolved_list_from_json(&list).map_err(|e| policy_failure(&e).to_string())?;
        Engine::new(&resolved).map_err(|e| e.to_string())
    }

    /// Loads and compiles `governance.toolkit/v1` YAML (or JSON) text with the engine's loader:
    /// one policy per document. Without a filesystem in WebAssembly, `extends` is refused.
    #[wasm_bindgen(js_name = loadYaml)]
    pub fn load_yaml(text: &str) -> Result<Engine, String> {
        let resolved = load_yaml_text(text, None::<&Path>).map_err(|e| load_failure(&e).to_string())?;
        Engine::new(&resolved).map_err(|e| e.to_string())
    }

    /// `{"hash", "policies": [{"name", "hash"}], "limits": [{"policy", "rule", "limit"}],
    /// "warnings": [...], "stages": [...]}`.
    pub fn describe(&self) -> String {
        let set = &self.set;
        json!({
            "hash": set.hash(),
            "policies": set.policy_hashes().iter().map(|(n, h)| json!({"name": n, "hash": h})).collect::<Vec<_>>(),
            "warnings": set.warnings(),
            "stages": set.stages().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "limits": set.limits().iter().map(|(p, r, l)| json!({"policy": p, "rule": r, "limit": l})).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// Evaluates one request (JSON text) without rate limits: the decision as agt-core writes it.
    pub fn evaluate(&self, request_json: &str) -> String {
        envelope(Engine::request(request_json).map(|(_, request)| decision_to_json(&self.set.evaluate(&request))))
    }

    /// Evaluates one request and applies the matched rules' rate limits at `now` (seconds on a
    /// monotonic clock the SDK keeps): a decision that is not a deny counts against each limit,
    /// and the call that would exceed one is a deny with `rate_limited: true`.
    pub fn decide(&mut self, request_json: &str, now: f64) -> String {
        envelope((|| {
            if !now.is_finite() {
                return Err(failure("request", "the rate-limit clock reading is not a finite number"));
            }
            let (json, request) = Engine::request(request_json)?;
            let decision = self.set.evaluate(&request);
            let decision = match json.get("agent").and_then(|a| a.get("id")).and_then(Json::as_str) {
                Some(agent) => self.limiter.apply(&self.set, decision, agent, now),
                None => decision,
            };
            Ok(decision_to_json(&decision))
        })())
    }
}

/// RFC 8785 canonical JSON of a JSON text (read strictly: duplicate keys, lone surrogates, NaN,
/// overflowing and inexact integers refused).
#[wasm_bindgen(js_name = canonicalJson)]
pub fn canonical_json_text(text: &str) -> String {
    envelope(
        strict(text, "the value").and_then(|v| canonical_json(&v).map(Json::String).map_err(|e| canonical_failure(&e))),
    )
}

/// `sha256:<hex>` of the canonical JSON of a JSON text.
#[wasm_bindgen(js_name = contentHash)]
pub fn content_hash_text(text: &str) -> String {
    envelope(
        strict(text, "the value").and_then(|v| content_hash(&v).map(Json::String).map_err(|e| canonical_failure(&e))),
    )
}

/// Lowercase hex SHA-256 of a text's UTF-8 bytes.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex_text(text: &str) -> String {
    sha256_hex(text.as_bytes())
}

/// The body of one audit record (agt-core's layout); the three parts may be any JSON text (they
/// are canonicalised). `seq` is a JS number: a safe integer.
#[wasm_bindgen(js_name = auditRecordBody)]
pub fn audit_record_body(
    seq: f64,
    timestamp: &str,
    prev_hash: &str,
    request_json: &str,
    decision_json: &str,
    approval_json: &str,
) -> String {
    envelope((|| {
        if !(0.0..=9_007_199_254_740_991.0).contains(&seq) || seq.fract() != 0.0 {
            return Err(failure("audit_write", format!("sequence number {seq} is not a whole number")));
        }
        let part = |name: &str, text: &str| audit::canonical_part(name, text).map_err(|e| audit_failure(&e));
        let (request, decision, approval) =
            (part("request", request_json)?, part("decision", decision_json)?, part("approval", approval_json)?);
        audit::record_body(seq as u64, timestamp, prev_hash, &request, &decision, &approval)
            .map(Json::String)
            .map_err(|e| audit_failure(&e))
    })())
}

/// The record's hash: lowercase hex SHA-256 of the body's UTF-8 bytes.
#[wasm_bindgen(js_name = auditRecordHash)]
pub fn audit_record_hash(body: &str) -> String {
    audit::record_hash(body)
}

/// The exported line of a record: its body with `"hash"` in canonical key order.
#[wasm_bindgen(js_name = auditRecordLine)]
pub fn audit_record_line(body: &str, hash: &str) -> String {
    envelope(audit::record_line(body, hash).map(Json::String).map_err(|e| audit_failure(&e)))
}

/// Verifies an exported trail (JSON lines, oldest first) against a pin:
/// `{"expected_head", "expected_count", "start_seq", "prev_hash", "allow_unpinned"}` (absent:
/// the defaults). The head `{"count", "seq", "hash"}`, or the first record that does not verify.
#[wasm_bindgen(js_name = auditVerifyLines)]
pub fn audit_verify_lines(trail: &str, pin_json: &str) -> String {
    envelope((|| {
        let mut pin = Pin::default();
        let Json::Object(options) = strict(pin_json, "the pin")? else {
            return Err(failure("invalid_argument", "the pin must be a JSON object"));
        };
        for (key, value) in &options {
            match (key.as_str(), value) {
                (_, Json::Null) => {}
                ("expected_head", Json::String(s)) => pin.expected_head = Some(s.clone()),
                ("expected_count", v) if v.is_u64() => pin.expected_count = v.as_u64(),
                ("start_seq", v) if v.is_u64() => pin.start_seq = v.as_u64().unwrap_or_default(),
                ("prev_hash", Json::String(s)) => pin.prev_hash = s.clone(),
                ("allow_unpinned", Json::Bool(b)) => pin.allow_unpinned = *b,
                _ => return Err(failure("invalid_argument", format!("pin: `{key}` is unknown or has the wrong type"))),
            }
        }
        let head = audit::verify_lines(audit::trail_lines(trail), &pin).map_err(|e| audit_failure(&e))?;
        Ok(json!({"count": head.count, "seq": head.seq, "hash": head.hash}))
    })())
}

/// A UTC timestamp as agt-core's `UtcClock` writes it, from microseconds since the Unix epoch.
#[wasm_bindgen(js_name = utcTimestamp)]
pub fn utc_timestamp(micros: f64) -> String {
    audit::utc_timestamp(micros as i64)
}
