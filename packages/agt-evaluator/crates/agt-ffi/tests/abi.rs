#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, clippy::undocumented_unsafe_blocks)]
// a test reports failures by panicking; every unsafe call below passes live C strings and slots

//! The C ABI through its exported functions: fail-closed errors with codes and JSON messages,
//! policies and decisions as JSON, canonical JSON vectors, audit vectors, tampering.

use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;
use std::ptr::null_mut;

use agt::*;
use serde_json::Value as Json;

fn conformance() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../conformance")
}

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

/// Takes ownership of a returned string.
fn take(ptr: *mut c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    let text = unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_string();
    unsafe { agt_string_free(ptr) };
    Some(text)
}

/// Runs a call with out/error slots: Ok(out) or Err((status, error JSON)).
fn call(f: impl Fn(*mut *mut c_char, *mut *mut c_char) -> AgtStatus) -> Result<String, (AgtStatus, Json)> {
    let (mut out, mut error) = (null_mut(), null_mut());
    let status = f(&mut out, &mut error);
    let (out, error) = (take(out), take(error));
    if status == AgtStatus::Ok {
        assert!(error.is_none());
        Ok(out.unwrap())
    } else {
        assert!(out.is_none(), "no output on failure");
        let error: Json = serde_json::from_str(&error.unwrap()).unwrap();
        assert_eq!(error["status"], status as i32);
        Err((status, error))
    }
}

struct Set(*mut AgtPolicySet);

impl Drop for Set {
    fn drop(&mut self) {
        unsafe { agt_policy_set_free(self.0) };
    }
}

fn compile(policies: &str) -> Result<Set, (AgtStatus, Json)> {
    let text = c(policies);
    let (mut out, mut error) = (null_mut(), null_mut());
    let status = unsafe { agt_policy_set_compile(text.as_ptr(), &mut out, &mut error) };
    if status == AgtStatus::Ok {
        Ok(Set(out))
    } else {
        assert!(out.is_null());
        Err((status, serde_json::from_str(&take(error).unwrap()).unwrap()))
    }
}

const SEED: &str = r#"[{"apiVersion": "governance.toolkit/v1", "name": "production-policy", "default_action": "allow",
  "rules": [{"name": "block-destructive", "condition": "action.type in ['drop', 'delete', 'truncate']", "action": "deny"},
            {"name": "require-approval-for-send", "condition": "action.type == 'send_email'", "action": "require_approval",
             "approvers": ["security-team"]},
            {"name": "reads", "condition": "action.type == 'read'", "action": "allow", "limit": "2/minute"}]}]"#;

fn request(action: &str) -> CString {
    c(&format!(
        r#"{{"action": {{"type": "{action}", "tool": "sql"}}, "args": {{}}, "agent": {{"id": "a"}}, "context": {{}}, "stage": "pre_tool"}}"#
    ))
}

fn evaluate(set: &Set, req: &CString) -> Result<Json, (AgtStatus, Json)> {
    call(|o, e| unsafe { agt_policy_set_evaluate(set.0, req.as_ptr(), o, e) })
        .map(|t| serde_json::from_str(&t).unwrap())
}

#[test]
fn seed_policy_decides_through_the_abi() {
    let set = compile(SEED).unwrap();
    let deny = evaluate(&set, &request("drop")).unwrap();
    assert_eq!((deny["effect"].as_str(), deny["allowed"].as_bool()), (Some("deny"), Some(false)));
    assert_eq!(deny["rule"], "block-destructive");
    assert!(deny["policy_hash"].as_str().unwrap().starts_with("sha256:"));
    let approval = evaluate(&set, &request("send_email")).unwrap();
    assert_eq!(approval["approvers"], serde_json::json!(["security-team"]));
    let info: Json = serde_json::from_str(&call(|o, e| unsafe { agt_policy_set_info(set.0, o, e) }).unwrap()).unwrap();
    assert_eq!(info["policies"][0]["name"], "production-policy");
    assert_eq!(info["limits"][0]["limit"], "2/minute");
}

#[test]
fn rate_limits_are_enforced_per_agent() {
    let set = compile(SEED).unwrap();
    let mut limiter = null_mut();
    assert_eq!(unsafe { agt_rate_limiter_new(&mut limiter, null_mut()) }, AgtStatus::Ok);
    let req = request("read");
    let decide = |now: f64| -> Json {
        let text = call(|o, e| unsafe { agt_policy_set_decide(set.0, limiter, req.as_ptr(), now, o, e) }).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    assert_eq!(decide(0.0)["effect"], "allow");
    assert_eq!(decide(1.0)["effect"], "allow");
    let third = decide(2.0);
    assert_eq!((third["effect"].as_str(), third["rate_limited"].as_bool()), (Some("deny"), Some(true)));
    assert_eq!(decide(60.5)["effect"], "allow", "the window slides");
    let nan = call(|o, e| unsafe { agt_policy_set_decide(set.0, limiter, req.as_ptr(), f64::NAN, o, e) });
    assert_eq!(nan.unwrap_err().0, AgtStatus::InvalidArgument);
    unsafe { agt_rate_limiter_free(limiter) };
}

#[test]
fn bad_input_fails_closed_with_a_code_and_a_message() {
    // a policy refused at load time names the path
    let (status, error) = compile(
        r#"[{"apiVersion": "governance.toolkit/v1", "name": "p", "rules": [{"name": "r", "condition": "lookup(args.x)", "action": "deny"}]}]"#,
    )
    .err()
    .unwrap();
    assert_eq!(status, AgtStatus::Policy);
    assert_eq!(error["path"], "rules[0].condition");
    assert!(error["message"].as_str().unwrap().contains("unknown function"), "{error}");
    // a content hash that does not match its document is refused
    let (status, error) = compile(
        r#"[{"document": {"apiVersion": "governance.toolkit/v1", "name": "p", "rules": []}, "content_hash": "sha256:00"}]"#,
    )
    .err()
    .unwrap();
    assert_eq!(status, AgtStatus::Policy, "{error}");
    // not JSON, duplicate keys
    assert_eq!(compile("[{").err().unwrap().0, AgtStatus::Json);
    assert_eq!(compile(r#"[{"name": "a", "name": "b"}]"#).err().unwrap().1["kind"], "duplicate_key");
    // NULL pointers
    let mut out = null_mut();
    assert_eq!(unsafe { agt_policy_set_compile(std::ptr::null(), &mut out, null_mut()) }, AgtStatus::InvalidArgument);
    let req = request("read");
    let null_set = call(|o, e| unsafe { agt_policy_set_evaluate(std::ptr::null(), req.as_ptr(), o, e) });
    assert_eq!(null_set.unwrap_err().0, AgtStatus::InvalidArgument);
    let set = compile(SEED).unwrap();
    let null_out = unsafe { agt_policy_set_evaluate(set.0, req.as_ptr(), null_mut(), null_mut()) };
    assert_eq!(null_out, AgtStatus::InvalidArgument);
    // a request that is not JSON, or has no canonical reading, cannot be judged
    let (status, _) = evaluate(&set, &c("{\"action\": ")).unwrap_err();
    assert_eq!(status, AgtStatus::Request);
    let (status, _) = evaluate(&set, &c(r#"{"action": {"type": "read"}, "action": {"type": "drop"}}"#)).unwrap_err();
    assert_eq!(status, AgtStatus::Request, "a duplicate key could hide `drop` from one reader");
    // malformed requests are decided (deny), as the vectors require
    let refused =
        evaluate(&set, &c(r#"{"action": {"type": "read", "tool": "sql"}, "args": {}, "context": {}}"#)).unwrap();
    assert_eq!(refused["effect"], "deny");
    // bytes that are not UTF-8
    let bad = [0xffu8, 0xfe, 0];
    let status = call(|o, e| unsafe { agt_canonical_json(bad.as_ptr().cast(), o, e) }).unwrap_err().0;
    assert_eq!(status, AgtStatus::InvalidArgument);
    // freeing NULL is harmless
    unsafe {
        agt_string_free(null_mut());
        agt_policy_set_free(null_mut());
        agt_rate_limiter_free(null_mut());
        agt_audit_log_free(null_mut());
    }
    assert_eq!(unsafe { CStr::from_ptr(agt_version()) }.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn canonical_json_vectors() {
    let dir = conformance().join("canonical_json");
    let mut passed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let file = agt_engine::json_text::parse_strict(&text).unwrap();
        for case in file["cases"].as_array().unwrap() {
            let input = c(&case["input"].to_string());
            let got = call(|o, e| unsafe { agt_canonical_json(input.as_ptr(), o, e) });
            assert_eq!(got.as_deref().ok(), case["canonical"].as_str(), "{}: {}", path.display(), case["name"]);
            let hash = call(|o, e| unsafe { agt_content_hash(input.as_ptr(), o, e) }).unwrap();
            assert_eq!(hash, format!("sha256:{}", case["sha256"].as_str().unwrap()));
            passed += 1;
        }
        for case in file["errors"].as_array().into_iter().flatten() {
            let input = c(case["input_json_text"].as_str().unwrap());
            let got = call(|o, e| unsafe { agt_canonical_json(input.as_ptr(), o, e) });
            let (status, error) = got.expect_err(case["name"].as_str().unwrap());
            assert!(matches!(status, AgtStatus::Json | AgtStatus::Canonical), "{error}");
            assert_eq!(error["kind"], case["kind"], "{}", case["name"]);
            passed += 1;
        }
    }
    assert!(passed > 1000, "{passed}");
}

#[test]
fn audit_vectors_through_the_abi() {
    let text = std::fs::read_to_string(conformance().join("audit/chain.json")).unwrap();
    let v = agt_engine::json_text::parse_strict(&text).unwrap();
    let mut log = null_mut();
    assert_eq!(unsafe { agt_audit_log_new(&mut log, null_mut()) }, AgtStatus::Ok);
    let mut trail = String::new();
    for r in v["records"].as_array().unwrap() {
        let (ts, prev) = (c(r["timestamp"].as_str().unwrap()), c(r["prev_hash"].as_str().unwrap()));
        let (req, dec) = (c(&r["request"].to_string()), c(&r["decision"].to_string()));
        let approval = (!r["approval"].is_null()).then(|| c(&r["approval"].to_string()));
        let approval_ptr = approval.as_ref().map_or(std::ptr::null(), |a| a.as_ptr());
        let seq = r["seq"].as_u64().unwrap();
        let body = call(|o, e| unsafe {
            agt_audit_record_body(seq, ts.as_ptr(), prev.as_ptr(), req.as_ptr(), dec.as_ptr(), approval_ptr, o, e)
        })
        .unwrap();
        assert_eq!(body, r["body"].as_str().unwrap());
        let body_c = c(&body);
        let hash = call(|o, e| unsafe { agt_audit_record_hash(body_c.as_ptr(), o, e) }).unwrap();
        assert_eq!(hash, r["hash"].as_str().unwrap());
        let hash_c = c(&hash);
        let line = call(|o, e| unsafe { agt_audit_record_line(body_c.as_ptr(), hash_c.as_ptr(), o, e) }).unwrap();
        assert_eq!(line, r["line"].as_str().unwrap());
        let appended = call(|o, e| unsafe {
            agt_audit_log_append(log, ts.as_ptr(), req.as_ptr(), dec.as_ptr(), approval_ptr, o, e)
        });
        assert_eq!(appended.unwrap(), line);
        trail.push_str(&line);
        trail.push('\n');
    }
    let head: Json = serde_json::from_str(&call(|o, e| unsafe { agt_audit_log_head(log, o, e) }).unwrap()).unwrap();
    assert_eq!(head["hash"], v["head"]["hash"]);
    assert_eq!(call(|o, e| unsafe { agt_audit_log_lines(log, o, e) }).unwrap(), trail);
    unsafe { agt_audit_log_free(log) };

    let pin =
        c(&serde_json::json!({"expected_head": v["head"]["hash"], "expected_count": v["head"]["count"]}).to_string());
    let trail_c = c(&trail);
    let verified: Json = serde_json::from_str(
        &call(|o, e| unsafe { agt_audit_verify_lines(trail_c.as_ptr(), pin.as_ptr(), o, e) }).unwrap(),
    )
    .unwrap();
    assert_eq!(verified["hash"], v["head"]["hash"]);
    let unpinned = c("{}");
    let status = call(|o, e| unsafe { agt_audit_verify_lines(trail_c.as_ptr(), unpinned.as_ptr(), o, e) });
    assert_eq!(status.unwrap_err().0, AgtStatus::Unpinned);
    for case in v["tampered"].as_array().unwrap() {
        let mut tampered = String::new();
        for line in case["lines"].as_array().unwrap() {
            tampered.push_str(line.as_str().unwrap());
            tampered.push('\n');
        }
        let which = case.get("pin").and_then(Json::as_str).unwrap_or("both");
        let mut pin = serde_json::Map::new();
        if which != "count" {
            pin.insert("expected_head".into(), v["head"]["hash"].clone());
        }
        if which != "head" {
            pin.insert("expected_count".into(), v["head"]["count"].clone());
        }
        let (t, p) = (c(&tampered), c(&Json::Object(pin).to_string()));
        let (status, error) = call(|o, e| unsafe { agt_audit_verify_lines(t.as_ptr(), p.as_ptr(), o, e) }).unwrap_err();
        assert_eq!(status, AgtStatus::AuditIntegrity, "{}", case["name"]);
        assert_eq!(error["index"], case["index"], "{}: {error}", case["name"]);
    }
    // stored (hash, body) pairs
    let entries: Vec<Json> =
        v["records"].as_array().unwrap().iter().map(|r| serde_json::json!([r["hash"], r["body"]])).collect();
    let entries_c = c(&Json::Array(entries).to_string());
    let deep = c(r#"{"deep": true}"#);
    let head: Json = serde_json::from_str(
        &call(|o, e| unsafe { agt_audit_verify_chain(entries_c.as_ptr(), deep.as_ptr(), o, e) }).unwrap(),
    )
    .unwrap();
    assert_eq!(head["count"], 5);
    // a record part that is not JSON, or a timestamp that would break the layout, is refused
    let (ts, prev, bad) = (c("2026-12-01T10:00:00\"Z"), c(agt_engine::audit::GENESIS_HASH), c("{}"));
    let status = call(|o, e| unsafe {
        agt_audit_record_body(0, ts.as_ptr(), prev.as_ptr(), bad.as_ptr(), bad.as_ptr(), std::ptr::null(), o, e)
    });
    assert_eq!(status.unwrap_err().0, AgtStatus::AuditWrite);
    let now = call(|o, e| unsafe { agt_utc_now(o, e) }).unwrap();
    assert!(now.len() == 27 && now.ends_with('Z'), "{now}");
}

#[test]
fn yaml_policies_load_with_positions() {
    let seed = std::fs::read_to_string(conformance().join("seed-policy.yaml")).unwrap();
    let text = c(&seed);
    let mut set = null_mut();
    assert_eq!(
        unsafe { agt_policy_set_load_yaml(text.as_ptr(), std::ptr::null(), &mut set, null_mut()) },
        AgtStatus::Ok
    );
    let set = Set(set);
    assert_eq!(evaluate(&set, &request("truncate")).unwrap()["rule"], "block-destructive");
    let paths = c(&serde_json::json!([conformance().join("seed-policy.yaml")]).to_string());
    let mut from_file = null_mut();
    let status = unsafe { agt_policy_set_load_files(paths.as_ptr(), std::ptr::null(), &mut from_file, null_mut()) };
    assert_eq!(status, AgtStatus::Ok);
    let from_file = Set(from_file);
    assert_eq!(evaluate(&from_file, &request("send_email")).unwrap()["effect"], "require_approval");
    // a misspelt key: refused at its line and column
    let bad = c(&seed.replace("  action: deny", "  action: deny\n  actoin: allow"));
    let mut none = null_mut();
    let mut error = null_mut();
    let status = unsafe { agt_policy_set_load_yaml(bad.as_ptr(), std::ptr::null(), &mut none, &mut error) };
    assert_eq!(status, AgtStatus::Policy);
    assert!(none.is_null());
    let error: Json = serde_json::from_str(&take(error).unwrap()).unwrap();
    assert_eq!(
        (error["path"].as_str(), error["line"].as_u64(), error["column"].as_u64()),
        (Some("rules[0].actoin"), Some(10), Some(3)),
        "{error}"
    );
    // a duplicate key could turn a deny into an allow: refused
    let dup = c(&seed.replace("  action: deny", "  action: deny\n  action: allow"));
    let status = unsafe { agt_policy_set_load_yaml(dup.as_ptr(), std::ptr::null(), &mut none, null_mut()) };
    assert_eq!(status, AgtStatus::Policy);
    let missing = c(r#"["/nonexistent/policy.yaml"]"#);
    let status = unsafe { agt_policy_set_load_files(missing.as_ptr(), std::ptr::null(), &mut none, null_mut()) };
    assert_eq!(status, AgtStatus::Policy);
}
