#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a test reports failures by panicking

//! Runs every policy vector in `conformance/policy/*.json` through the engine.
//!
//! Each decision case compiles its policies into one set, then decides each step's request with
//! policy evaluation and rate limits (one limiter, a fake clock set by `at`), and compares the
//! keys its `expect` lists, as `conformance/README.md` specifies. Each load-error case must be
//! refused with the given path and message phrase. `AGT_CONFORMANCE_DIR` points elsewhere.

use std::fs;
use std::path::PathBuf;

use agt_engine::{Decision, PolicyDocument, PolicyError, PolicySet, RateLimiter, ResolvedPolicy, Value};
use serde_json::Value as Json;

fn vector_dir() -> PathBuf {
    match std::env::var_os("AGT_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../conformance/policy"),
    }
}

fn compile(policies: &[Json]) -> Result<PolicySet, PolicyError> {
    let mut resolved = Vec::new();
    for doc in policies {
        let document = PolicyDocument::from_json(doc)?;
        resolved.push(ResolvedPolicy { document, sealed_rules: vec![], content_hash: None, warnings: vec![] });
    }
    PolicySet::compile(&resolved)
}

fn refs(actual: &[(Option<String>, Option<String>)], want: &Json) -> Json {
    let want: Vec<&str> = want.as_array().map(|a| a.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
    Json::Array(
        actual
            .iter()
            .enumerate()
            .map(|(i, (policy, rule))| {
                let qualified = want.get(i).is_none_or(|w| w.contains('/'));
                let rule = rule.clone().unwrap_or_else(|| "None".into());
                if qualified {
                    Json::String(format!("{}/{rule}", policy.clone().unwrap_or_else(|| "None".into())))
                } else {
                    Json::String(rule)
                }
            })
            .collect(),
    )
}

fn opt(value: &Option<String>) -> Json {
    value.clone().map_or(Json::Null, Json::String)
}

fn differences(d: &Decision, expect: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(expect) = expect.as_object() else {
        return vec!["expect is not an object".into()];
    };
    let mut check = |key: &str, got: Json| {
        if let Some(want) = expect.get(key) {
            if *want != got {
                problems.push(format!("{key}: expected {want}, got {got}"));
            }
        }
    };
    check("effect", Json::String(d.effect.as_str().into()));
    check("allowed", Json::Bool(d.allowed()));
    check("rule", opt(&d.rule));
    check("policy", opt(&d.policy));
    let matched: Vec<_> = d.matched.iter().map(|m| (Some(m.policy.clone()), Some(m.rule.clone()))).collect();
    check("matched", refs(&matched, expect.get("matched").unwrap_or(&Json::Null)));
    let errored: Vec<_> =
        d.matched.iter().filter(|m| m.errored).map(|m| (Some(m.policy.clone()), Some(m.rule.clone()))).collect();
    check("errored", refs(&errored, expect.get("errored").unwrap_or(&Json::Null)));
    let error_rules: Vec<_> =
        d.errors.iter().filter(|e| e.rule.is_some()).map(|e| (e.policy.clone(), e.rule.clone())).collect();
    check("error_rules", refs(&error_rules, expect.get("error_rules").unwrap_or(&Json::Null)));
    check("error_count", Json::from(d.errors.len()));
    check("rate_limited", Json::Bool(d.rate_limited));
    check("approvers", Json::Array(d.approvers.iter().cloned().map(Json::String).collect()));
    check("conflict_strategy", d.conflict_strategy.map_or(Json::Null, |s| Json::String(s.as_str().into())));
    check("stage", Json::String(d.stage.as_str().into()));
    let messages: Vec<String> = d.errors.iter().map(|e| e.message.to_lowercase()).collect();
    for phrase in expect.get("errors_contain").and_then(Json::as_array).into_iter().flatten() {
        let phrase = phrase.as_str().unwrap_or_default().to_lowercase();
        if !messages.iter().any(|m| m.contains(&phrase)) {
            problems.push(format!("errors_contain: no error mentions {phrase:?}: {messages:?}"));
        }
    }
    if let Some(phrase) = expect.get("message_contains").and_then(Json::as_str) {
        if !d.message.to_lowercase().contains(&phrase.to_lowercase()) {
            problems.push(format!("message_contains: {phrase:?} not in {:?}", d.message));
        }
    }
    problems
}

fn invariants(d: &Decision) -> Vec<String> {
    let mut problems = Vec::new();
    if d.evaluator != agt_engine::policy_set::EVALUATOR || d.evaluator != "native" {
        problems.push(format!("invariant: the engine's decision records evaluator `{}`", d.evaluator));
    }
    if d.rate_limited && d.effect != agt_engine::Action::Deny {
        problems.push("invariant: a rate-limited decision must deny".into());
    }
    if !d.approvers.is_empty() && d.effect != agt_engine::Action::RequireApproval {
        problems.push("invariant: approvers on a decision that is not require_approval".into());
    }
    for m in &d.matched {
        if m.errored && !m.action.is_restrictive() {
            problems.push(format!("invariant: permissive rule `{}` counted as matched by an error", m.rule));
        }
    }
    let pairs: Vec<(&str, &str)> = d.matched.iter().map(|m| (m.policy.as_str(), m.rule.as_str())).collect();
    for (i, pair) in pairs.iter().enumerate() {
        if pairs[..i].contains(pair) {
            problems.push("invariant: a rule is listed twice in matched".into());
        }
    }
    if let (Some(rule), Some(policy)) = (&d.rule, &d.policy) {
        if !pairs.contains(&(policy.as_str(), rule.as_str())) {
            problems.push("invariant: the deciding rule is not among the matched ones".into());
        }
    }
    problems
}

fn agent_id(request: &Json) -> Option<&str> {
    request.get("agent")?.get("id")?.as_str()
}

fn run_decisions(case: &Json) -> Result<(), String> {
    let policies = case["policies"].as_array().cloned().unwrap_or_default();
    let set = compile(&policies).map_err(|e| format!("compile failed: {e}"))?;
    let mut limiter = RateLimiter::new();
    let mut now = 0.0;
    let mut failures = Vec::new();
    for (i, step) in case["steps"].as_array().into_iter().flatten().enumerate() {
        if let Some(at) = step.get("at").and_then(Json::as_f64) {
            now = at;
        }
        let request = &step["request"];
        let decision = match Value::from_json(request, 128) {
            Ok(value) => set.evaluate(&value),
            Err(e) => return Err(format!("step {i}: request not convertible: {e}")),
        };
        let decision = match agent_id(request) {
            Some(agent) if decision.effect != agt_engine::Action::Deny => limiter.apply(&set, decision, agent, now),
            _ => decision,
        };
        let mut problems = differences(&decision, &step["expect"]);
        problems.extend(invariants(&decision));
        if !problems.is_empty() {
            failures.push(format!(
                "step {i}: request {request}\n    {}\n    decision: {decision:?}",
                problems.join("\n    ")
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn run_load_error(case: &Json) -> Result<(), String> {
    let policies = case["policies"].as_array().cloned().unwrap_or_default();
    let expect = &case["expect_load_error"];
    let Err(error) = compile(&policies) else {
        return Err("compiled, but a load error was expected".into());
    };
    if let Some(path) = expect.get("path") {
        let got = error.path.clone().map_or(Json::Null, Json::String);
        if *path != got {
            return Err(format!("path: expected {path}, got {got} ({error})"));
        }
    }
    if let Some(phrase) = expect.get("contains").and_then(Json::as_str) {
        let message = error.message.to_lowercase();
        let policy = error.policy.clone().unwrap_or_default().to_lowercase();
        if !message.contains(&phrase.to_lowercase()) && !policy.contains(&phrase.to_lowercase()) {
            return Err(format!("{phrase:?} not in {:?}", error.message));
        }
    }
    Ok(())
}

#[test]
fn every_policy_vector() {
    let dir = vector_dir();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.file_name().is_some_and(|n| n != "hashes.json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected the conformance vectors in {}", dir.display());
    let mut total = 0;
    let mut failures = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        for case in doc["cases"].as_array().into_iter().flatten() {
            total += 1;
            let name = case["name"].as_str().unwrap_or("?");
            let result =
                if case.get("expect_load_error").is_some() { run_load_error(case) } else { run_decisions(case) };
            if let Err(problem) = result {
                failures.push(format!("{stem}::{name}\n  {problem}"));
            }
        }
    }
    println!("{} of {total} policy vectors passed", total - failures.len());
    assert!(failures.is_empty(), "{} of {total} vectors failed:\n{}", failures.len(), failures.join("\n"));
}

/// `hashes.json`: each policy's resolved document, its content hash and the set hash are pinned.
#[test]
fn pinned_policy_hashes() {
    let path = vector_dir().join("hashes.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases = doc["cases"].as_array().cloned().unwrap_or_default();
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let policies = case["policies"].as_array().cloned().unwrap_or_default();
        let set = compile(&policies).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expect = &case["expect"];
        for (i, want) in expect["policies"].as_array().into_iter().flatten().enumerate() {
            let document = PolicyDocument::from_json(&policies[i]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(document.to_json(), want["resolved"], "{name}: resolved document");
            let (got_name, got_hash) = set.policy_hashes()[i];
            assert_eq!(got_name, want["name"].as_str().unwrap_or_default(), "{name}");
            assert_eq!(got_hash, want["hash"].as_str().unwrap_or_default(), "{name}: policy hash");
        }
        assert_eq!(set.hash(), expect["set_hash"].as_str().unwrap_or_default(), "{name}: set hash");
    }
}
