//! C ABI of the Agent Governance Toolkit engine (`libagt`): what the Go and .NET SDKs call.
//!
//! Conventions, the same for every function (`include/agt.h` is generated from this file):
//! - Opaque handles (`AgtPolicySet`, `AgtRateLimiter`, `AgtAuditLog`) are created by a function
//!   that writes them to an out pointer and released with their own `*_free`.
//! - Everything else crosses as UTF-8 JSON text (NUL-terminated). Strings the library returns
//!   are owned by the caller and released with `agt_string_free`.
//! - Fallible functions return an `AgtStatus` (`AGT_STATUS_OK` = 0). On failure `*out` stays
//!   NULL and, when `error` is not NULL, `*error` receives a JSON object
//!   `{"status": <code>, "kind": "...", "message": "...", ...}` (load errors add `policy`, `path`,
//!   `file`, `line`, `column`; audit errors add `index`). Success leaves `*error` NULL.
//! - No panic crosses the boundary: every entry point runs under `catch_unwind`, and an internal
//!   panic becomes `AGT_STATUS_INTERNAL` with its message. A handle whose lock was poisoned by
//!   such a panic refuses further use (create a new one) rather than continue in an unknown state.
//! - Handles are thread-safe: a policy set is immutable; a rate limiter and an audit log lock.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

use agt_engine::audit::{self, AuditError, AuditLog, ChainHead, Pin};
use agt_engine::canonical::{canonical_json, content_hash};
use agt_engine::interchange::{decision_to_json, policy_error_to_json, resolved_list_from_json};
use agt_engine::json_text::{parse_strict, JsonTextError};
use agt_engine::loader::{load_paths, load_yaml_text, LoadError};
use agt_engine::{PolicyError, PolicySet, RateLimiter, Value};
use serde_json::{json, Value as Json};

/// What a call returned. Values are stable: new ones are only ever added.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgtStatus {
    /// Success.
    Ok = 0,
    /// A NULL pointer where a value is required, text that is not UTF-8, or a malformed option.
    InvalidArgument = 1,
    /// Input text is not JSON (or has no canonical form: duplicate keys, lone surrogates, ...).
    Json = 2,
    /// A policy was refused at load time (see `path`, `line`, `column`).
    Policy = 3,
    /// A value has no canonical JSON form (NaN, infinity, an integer no double holds).
    Canonical = 4,
    /// An audit trail does not verify (see `index`): tampered, truncated, reordered.
    AuditIntegrity = 5,
    /// An audit record cannot be written as given (bad timestamp, prev_hash, non-canonical part).
    AuditWrite = 6,
    /// Verification without a pinned head or count was asked for and not explicitly allowed.
    Unpinned = 7,
    /// A file could not be read.
    Io = 8,
    /// The request could not be decided as given (not JSON, too deep); the call must not run.
    Request = 9,
    /// An internal error (a caught panic or a poisoned handle). The call must not run.
    Internal = 100,
}

/// A compiled, immutable policy set.
pub struct AgtPolicySet {
    set: PolicySet,
}

/// Rate-limit state: calls counted per (agent, policy, rule).
pub struct AgtRateLimiter {
    inner: Mutex<RateLimiter>,
}

/// An in-memory hash-chained audit log.
pub struct AgtAuditLog {
    inner: Mutex<AuditLog>,
}

struct Failure {
    status: AgtStatus,
    body: Json,
}

impl Failure {
    fn new(status: AgtStatus, kind: &str, message: impl Into<String>) -> Failure {
        Failure { status, body: json!({"kind": kind, "message": message.into()}) }
    }
}

impl From<PolicyError> for Failure {
    fn from(e: PolicyError) -> Failure {
        Failure { status: AgtStatus::Policy, body: policy_error_to_json(&e) }
    }
}

impl From<AuditError> for Failure {
    fn from(e: AuditError) -> Failure {
        let status = match e {
            AuditError::Integrity { .. } => AgtStatus::AuditIntegrity,
            AuditError::Write(_) => AgtStatus::AuditWrite,
            AuditError::Unpinned(_) => AgtStatus::Unpinned,
        };
        let mut body = json!({"kind": e.kind(), "message": e.message()});
        if let (AuditError::Integrity { index, .. }, Some(map)) = (&e, body.as_object_mut()) {
            map.insert("index".into(), json!(index));
        }
        Failure { status, body }
    }
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Failure {
        Failure {
            status: AgtStatus::Policy,
            body: json!({
                "kind": "policy", "message": e.message, "file": e.file, "line": e.line, "column": e.column,
                "path": e.path, "policy": e.policy, "display": e.to_string(),
            }),
        }
    }
}

/// A string argument read as strict JSON (duplicate keys, lone surrogates, NaN refused).
fn json_arg(ptr: *const c_char, name: &str) -> Result<Json, Failure> {
    parse_strict(text(ptr, name)?).map_err(|e| json_failure(name, e))
}

fn json_failure(what: &str, e: JsonTextError) -> Failure {
    Failure {
        status: AgtStatus::Json,
        body: json!({"kind": e.kind, "message": format!("{what}: {}", e.message), "offset": e.offset}),
    }
}

/// A value without canonical form; `kind` as the canonical JSON vectors name it.
fn canonical_failure(e: agt_engine::canonical::CanonicalError) -> Failure {
    let kind = if e.0.starts_with("integer ") { "inexact_integer" } else { "number_overflow" };
    Failure::new(AgtStatus::Canonical, kind, e.0)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn to_c(text: String) -> Result<*mut c_char, Failure> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Failure::new(AgtStatus::Internal, "internal", "output holds a NUL byte"))
}

/// Runs `body` under `catch_unwind`; writes its error (if any) to `error`.
fn run(error: *mut *mut c_char, body: impl FnOnce() -> Result<(), Failure>) -> AgtStatus {
    if !error.is_null() {
        // SAFETY: the caller passes NULL or a valid pointer to a `char *` it owns.
        unsafe { *error = std::ptr::null_mut() };
    }
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return AgtStatus::Ok,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::new(
            AgtStatus::Internal,
            "internal",
            format!("internal error (caught panic): {}; the call must not proceed", panic_message(&*payload)),
        ),
    };
    let status = failure.status;
    if !error.is_null() {
        let mut body = failure.body;
        if let Some(map) = body.as_object_mut() {
            map.insert("status".into(), json!(status as i32));
        }
        if let Ok(text) = to_c(body.to_string()) {
            // SAFETY: checked non-NULL above; the caller owns the slot.
            unsafe { *error = text };
        }
    }
    status
}

/// Writes an owned string to an out pointer.
fn put(out: *mut *mut c_char, text: String) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::new(AgtStatus::InvalidArgument, "invalid_argument", "out pointer is NULL"));
    }
    let raw = to_c(text)?;
    // SAFETY: `out` is non-NULL and points to a `char *` slot the caller owns.
    unsafe { *out = raw };
    Ok(())
}

fn put_handle<T>(out: *mut *mut T, value: T) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::new(AgtStatus::InvalidArgument, "invalid_argument", "out pointer is NULL"));
    }
    // SAFETY: `out` is non-NULL and points to a handle slot the caller owns.
    unsafe { *out = Box::into_raw(Box::new(value)) };
    Ok(())
}

fn clear<T>(out: *mut *mut T) {
    if !out.is_null() {
        // SAFETY: the caller passes NULL or a valid pointer to a slot it owns.
        unsafe { *out = std::ptr::null_mut() };
    }
}

/// Borrows a NUL-terminated UTF-8 argument.
fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::new(AgtStatus::InvalidArgument, "invalid_argument", format!("`{name}` is NULL")));
    }
    // SAFETY: non-NULL, and the caller guarantees a NUL-terminated string alive for the call.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|_| Failure::new(AgtStatus::InvalidArgument, "invalid_argument", format!("`{name}` is not UTF-8")))
}

fn handle<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller passes NULL or a handle this library created and has not freed.
    unsafe { ptr.as_ref() }
        .ok_or_else(|| Failure::new(AgtStatus::InvalidArgument, "invalid_argument", format!("`{name}` is NULL")))
}

fn lock<'a, T>(mutex: &'a Mutex<T>, name: &str) -> Result<MutexGuard<'a, T>, Failure> {
    mutex.lock().map_err(|_| {
        Failure::new(
            AgtStatus::Internal,
            "internal",
            format!("the {name} was left in an unknown state by an earlier internal error; create a new one"),
        )
    })
}

fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller passes a handle this library created, exactly once.
            drop(unsafe { Box::from_raw(ptr) });
        }));
    }
}

fn head_json(head: &ChainHead) -> String {
    json!({"count": head.count, "seq": head.seq, "hash": head.hash}).to_string()
}

static VERSION: &CStr = c"0.1.0";

/// The library version (a static string: do not free it).
#[no_mangle]
pub extern "C" fn agt_version() -> *const c_char {
    VERSION.as_ptr()
}

/// Releases a string this library returned. NULL is ignored.
///
/// # Safety
/// `text` must be NULL or a string returned by this library, released at most once.
#[no_mangle]
pub unsafe extern "C" fn agt_string_free(text: *mut c_char) {
    if !text.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller passes a string from `CString::into_raw`, exactly once.
            drop(unsafe { CString::from_raw(text) });
        }));
    }
}

/// Compiles a policy set from a JSON list of resolved policies (`{"document", "sealed_rules",
/// "content_hash", "warnings"}` as agt-core's `ResolvedPolicy` dumps them) or plain policy
/// documents, in load order.
///
/// # Safety
/// `policies_json` is NULL or a NUL-terminated string; `out` and `error` are NULL or valid slots.
#[no_mangle]
pub unsafe extern "C" fn agt_policy_set_compile(
    policies_json: *const c_char,
    out: *mut *mut AgtPolicySet,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let text = text(policies_json, "policies_json")?;
        let list = parse_strict(text).map_err(|e| json_failure("policies_json", e))?;
        let resolved = resolved_list_from_json(&list)?;
        let set = PolicySet::compile(&resolved)?;
        put_handle(out, AgtPolicySet { set })
    })
}

fn base_dir(ptr: *const c_char) -> Result<Option<std::path::PathBuf>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    Ok(Some(std::path::PathBuf::from(text(ptr, "base_dir")?)))
}

/// Loads and compiles `governance.toolkit/v1` YAML (or JSON) text: one policy per document
/// (`---`). `base_dir` (NULL for none) is the folder `extends` paths are relative to; without it
/// `extends` is refused. Load errors carry `file`, `line`, `column` and `path`.
///
/// # Safety
/// `yaml_text`/`base_dir` NULL or NUL-terminated; `out` and `error` NULL or valid slots.
#[no_mangle]
pub unsafe extern "C" fn agt_policy_set_load_yaml(
    yaml_text: *const c_char,
    base_dir: *const c_char,
    out: *mut *mut AgtPolicySet,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let text = text(yaml_text, "yaml_text")?;
        let resolved = load_yaml_text(text, self::base_dir(base_dir)?.as_deref())?;
        let set = PolicySet::compile(&resolved)?;
        put_handle(out, AgtPolicySet { set })
    })
}

/// Loads and compiles policy files or folders given as a JSON list of paths (a folder: every
/// `*.yaml`, `*.yml`, `*.json` directly inside, by name). Parents named in `extends` must lie in
/// the naming file's folder, or in `base_dir` when it is not NULL.
///
/// # Safety
/// `paths_json`/`base_dir` NULL or NUL-terminated; `out` and `error` NULL or valid slots.
#[no_mangle]
pub unsafe extern "C" fn agt_policy_set_load_files(
    paths_json: *const c_char,
    base_dir: *const c_char,
    out: *mut *mut AgtPolicySet,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let list = json_arg(paths_json, "paths_json")?;
        let bad =
            || Failure::new(AgtStatus::InvalidArgument, "invalid_argument", "paths_json must be a JSON list of paths");
        let paths: Vec<std::path::PathBuf> = list
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|p| p.as_str().map(std::path::PathBuf::from).ok_or_else(bad))
            .collect::<Result<_, _>>()?;
        let resolved = load_paths(&paths, self::base_dir(base_dir)?.as_deref())?;
        let set = PolicySet::compile(&resolved)?;
        put_handle(out, AgtPolicySet { set })
    })
}

/// Describes a set as JSON: `{"hash", "policies": [{"name", "hash"}], "warnings", "stages",
/// "limits": [{"policy", "rule", "limit"}]}`.
///
/// # Safety
/// `set` is NULL or a live handle; `out` and `error` are NULL or valid slots.
#[no_mangle]
pub unsafe extern "C" fn agt_policy_set_info(
    set: *const AgtPolicySet,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let set = &handle(set, "set")?.set;
        let info = json!({
            "hash": set.hash(),
            "policies": set.policy_hashes().iter().map(|(n, h)| json!({"name": n, "hash": h})).collect::<Vec<_>>(),
            "warnings": set.warnings(),
            "stages": set.stages().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "limits": set.limits().iter().map(|(p, r, l)| json!({"policy": p, "rule": r, "limit": l})).collect::<Vec<_>>(),
        });
        put(out, info.to_string())
    })
}

fn request_value(request_json: *const c_char) -> Result<(Json, Value), Failure> {
    let text = text(request_json, "request_json")?;
    let json = parse_strict(text).map_err(|e| Failure {
        status: AgtStatus::Request,
        body: json!({"kind": "request", "message": format!("request_json: {}", e.message), "offset": e.offset}),
    })?;
    let value = Value::from_json(&json, 128)
        .map_err(|e| Failure::new(AgtStatus::Request, "request", format!("request cannot be judged: {e}")))?;
    Ok((json, value))
}

/// Evaluates one request (JSON shaped like `EvaluationRequest`) without rate limits; writes the
/// decision JSON (the keys of `agt_core.Decision`).
///
/// # Safety
/// `set` is NULL or a live handle; `request_json` NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_policy_set_evaluate(
    set: *const AgtPolicySet,
    request_json: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let set = &handle(set, "set")?.set;
        let (_, request) = request_value(request_json)?;
        put(out, decision_to_json(&set.evaluate(&request)).to_string())
    })
}

/// Evaluates one request and applies rate limits at time `now` (seconds on a monotonic clock the
/// caller keeps): a decision that is not a deny counts against each limit of its matched rules,
/// and the call that would exceed one is a deny with `rate_limited: true`.
///
/// # Safety
/// `set`/`limiter` are NULL or live handles; `request_json` NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_policy_set_decide(
    set: *const AgtPolicySet,
    limiter: *const AgtRateLimiter,
    request_json: *const c_char,
    now: f64,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let set = &handle(set, "set")?.set;
        let limiter = handle(limiter, "limiter")?;
        if !now.is_finite() {
            return Err(Failure::new(AgtStatus::InvalidArgument, "invalid_argument", "`now` must be finite"));
        }
        let (json, request) = request_value(request_json)?;
        let decision = set.evaluate(&request);
        let agent = json.get("agent").and_then(|a| a.get("id")).and_then(Json::as_str);
        let decision = match agent {
            Some(agent) => lock(&limiter.inner, "rate limiter")?.apply(set, decision, agent, now),
            _ => decision,
        };
        put(out, decision_to_json(&decision).to_string())
    })
}

/// Releases a policy set. NULL is ignored.
///
/// # Safety
/// `set` is NULL or a handle from `agt_policy_set_compile`, released at most once.
#[no_mangle]
pub unsafe extern "C" fn agt_policy_set_free(set: *mut AgtPolicySet) {
    free_handle(set);
}

/// Creates empty rate-limit state.
///
/// # Safety
/// `out` and `error` are NULL or valid slots.
#[no_mangle]
pub unsafe extern "C" fn agt_rate_limiter_new(out: *mut *mut AgtRateLimiter, error: *mut *mut c_char) -> AgtStatus {
    clear(out);
    run(error, || put_handle(out, AgtRateLimiter { inner: Mutex::new(RateLimiter::new()) }))
}

/// Releases rate-limit state. NULL is ignored.
///
/// # Safety
/// `limiter` is NULL or a handle from `agt_rate_limiter_new`, released at most once.
#[no_mangle]
pub unsafe extern "C" fn agt_rate_limiter_free(limiter: *mut AgtRateLimiter) {
    free_handle(limiter);
}

/// The RFC 8785 canonical JSON of a JSON text (integer tokens kept exact, duplicate keys,
/// lone surrogates, NaN and inexact integers refused).
///
/// # Safety
/// `json_text` NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_canonical_json(
    json_text: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let value = json_arg(json_text, "json_text")?;
        let canonical = canonical_json(&value).map_err(canonical_failure)?;
        put(out, canonical)
    })
}

/// `sha256:<hex>` of the canonical JSON of a JSON text (how policies and approvals are named).
///
/// # Safety
/// `json_text` NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_content_hash(
    json_text: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let value = json_arg(json_text, "json_text")?;
        let hash = content_hash(&value).map_err(canonical_failure)?;
        put(out, hash)
    })
}

fn optional_text<'a>(ptr: *const c_char, name: &str, default: &'a str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        Ok(default)
    } else {
        text(ptr, name)
    }
}

/// The body of one audit record (canonical JSON, agt-core's layout). The three JSON parts may be
/// any JSON text (they are canonicalised); `approval_json` NULL means no approval (`null`).
///
/// # Safety
/// String arguments NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_record_body(
    seq: u64,
    timestamp: *const c_char,
    prev_hash: *const c_char,
    request_json: *const c_char,
    decision_json: *const c_char,
    approval_json: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let request = audit::canonical_part("request", text(request_json, "request_json")?)?;
        let decision = audit::canonical_part("decision", text(decision_json, "decision_json")?)?;
        let approval = audit::canonical_part("approval", optional_text(approval_json, "approval_json", "null")?)?;
        let body = audit::record_body(
            seq,
            text(timestamp, "timestamp")?,
            text(prev_hash, "prev_hash")?,
            &request,
            &decision,
            &approval,
        )?;
        put(out, body)
    })
}

/// The record's hash: lowercase hex SHA-256 of the body's UTF-8 bytes.
///
/// # Safety
/// `body` NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_record_hash(
    body: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || put(out, audit::record_hash(text(body, "body")?)))
}

/// The exported line of a record: its body with `"hash"` in canonical key order.
///
/// # Safety
/// `body`/`hash` NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_record_line(
    body: *const c_char,
    hash: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || put(out, audit::record_line(text(body, "body")?, text(hash, "hash")?)?))
}

fn pin_from_json(text_in: &str) -> Result<Pin, Failure> {
    let bad = |m: String| Failure::new(AgtStatus::InvalidArgument, "invalid_argument", m);
    let options = parse_strict(text_in).map_err(|e| json_failure("pin_json", e))?;
    let Json::Object(map) = options else {
        return Err(bad("pin_json must be a JSON object".into()));
    };
    let mut pin = Pin::default();
    for (key, value) in &map {
        match (key.as_str(), value) {
            (_, Json::Null) => {}
            ("expected_head", Json::String(s)) => pin.expected_head = Some(s.clone()),
            ("expected_count", v) if v.is_u64() => pin.expected_count = v.as_u64(),
            ("start_seq", v) if v.is_u64() => pin.start_seq = v.as_u64().unwrap_or_default(),
            ("prev_hash", Json::String(s)) => pin.prev_hash = s.clone(),
            ("allow_unpinned", Json::Bool(b)) => pin.allow_unpinned = *b,
            ("deep", Json::Bool(_)) => {}
            _ => return Err(bad(format!("pin_json: `{key}` is unknown or has the wrong type ({value})"))),
        }
    }
    Ok(pin)
}

/// Verifies an exported trail (JSON lines, oldest first) against a pin given as JSON:
/// `{"expected_head": "<hex>"|null, "expected_count": N|null, "start_seq": 0, "prev_hash": "<hex>",
/// "allow_unpinned": false}` (absent keys take those defaults; head or count is required unless
/// `allow_unpinned`). Writes the head `{"count", "seq", "hash"}`.
///
/// # Safety
/// `trail`/`pin_json` NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_verify_lines(
    trail: *const c_char,
    pin_json: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let pin = pin_from_json(text(pin_json, "pin_json")?)?;
        let head = audit::verify_lines(audit::trail_lines(text(trail, "trail")?), &pin)?;
        put(out, head_json(&head))
    })
}

/// Verifies stored records given as JSON `[[hash, body], ...]` (oldest first) from `start_seq`
/// linking to `prev_hash` (options JSON: `{"start_seq", "prev_hash", "deep"}`, all optional).
/// Writes the head `{"count", "seq", "hash"}`; compare it with a published head.
///
/// # Safety
/// `entries_json`/`options_json` NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_verify_chain(
    entries_json: *const c_char,
    options_json: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let options = optional_text(options_json, "options_json", "{}")?;
        let pin = pin_from_json(options)?;
        let deep = parse_strict(options).ok().and_then(|o| o.get("deep").and_then(Json::as_bool)).unwrap_or(false);
        let entries = json_arg(entries_json, "entries_json")?;
        let bad =
            || Failure::new(AgtStatus::InvalidArgument, "invalid_argument", "entries_json must be [[hash, body], ...]");
        let mut pairs = Vec::new();
        for entry in entries.as_array().ok_or_else(bad)? {
            match entry.as_array().map(Vec::as_slice) {
                Some([Json::String(h), Json::String(b)]) => pairs.push((h.as_str(), b.as_str())),
                _ => return Err(bad()),
            }
        }
        let head = audit::verify_chain(pairs, pin.start_seq, &pin.prev_hash, deep)?;
        put(out, head_json(&head))
    })
}

/// Creates an empty in-memory audit log.
///
/// # Safety
/// `out` and `error` are NULL or valid slots.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_log_new(out: *mut *mut AgtAuditLog, error: *mut *mut c_char) -> AgtStatus {
    clear(out);
    run(error, || put_handle(out, AgtAuditLog { inner: Mutex::new(AuditLog::new()) }))
}

/// Appends one record (parts as any JSON text, canonicalised; `approval_json` NULL for none) and
/// writes its exported line.
///
/// # Safety
/// `log` NULL or a live handle; strings NULL or NUL-terminated; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_log_append(
    log: *const AgtAuditLog,
    timestamp: *const c_char,
    request_json: *const c_char,
    decision_json: *const c_char,
    approval_json: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let log = handle(log, "log")?;
        let request = audit::canonical_part("request", text(request_json, "request_json")?)?;
        let decision = audit::canonical_part("decision", text(decision_json, "decision_json")?)?;
        let approval = audit::canonical_part("approval", optional_text(approval_json, "approval_json", "null")?)?;
        let timestamp = text(timestamp, "timestamp")?;
        let mut log = lock(&log.inner, "audit log")?;
        let hash = log.append(timestamp, &request, &decision, &approval)?.to_string();
        let body = log.records().last().map(|(_, b)| b.clone()).unwrap_or_default();
        put(out, audit::record_line(&body, &hash)?)
    })
}

/// Writes the log's head `{"count", "hash"}` (64 zeros when empty): publish it to pin the trail.
///
/// # Safety
/// `log` NULL or a live handle; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_log_head(
    log: *const AgtAuditLog,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let log = lock(&handle(log, "log")?.inner, "audit log")?;
        let (count, hash) = log.head();
        put(out, json!({"count": count, "hash": hash}).to_string())
    })
}

/// Writes the trail: every record's exported line, oldest first, each ending in `\n`.
///
/// # Safety
/// `log` NULL or a live handle; slots NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_log_lines(
    log: *const AgtAuditLog,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> AgtStatus {
    clear(out);
    run(error, || {
        let log = lock(&handle(log, "log")?.inner, "audit log")?;
        let mut trail = String::new();
        for line in log.lines()? {
            trail.push_str(&line);
            trail.push('\n');
        }
        put(out, trail)
    })
}

/// Releases an audit log. NULL is ignored.
///
/// # Safety
/// `log` is NULL or a handle from `agt_audit_log_new`, released at most once.
#[no_mangle]
pub unsafe extern "C" fn agt_audit_log_free(log: *mut AgtAuditLog) {
    free_handle(log);
}

/// The current UTC time as agt-core stamps audit records (`2026-12-01T13:49:20.123456Z`).
///
/// # Safety
/// `out` and `error` are NULL or valid slots.
#[no_mangle]
pub unsafe extern "C" fn agt_utc_now(out: *mut *mut c_char, error: *mut *mut c_char) -> AgtStatus {
    clear(out);
    run(error, || put(out, audit::utc_now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::panic)]
    fn a_panic_becomes_an_internal_error() {
        let mut error: *mut c_char = std::ptr::null_mut();
        let status = run(&mut error, || panic!("boom"));
        assert_eq!(status, AgtStatus::Internal);
        // SAFETY: `run` wrote a string from `CString::into_raw`.
        let text = unsafe { CString::from_raw(error) }.into_string().unwrap_or_default();
        assert!(text.contains("boom") && text.contains("\"status\":100"), "{text}");
    }
}
