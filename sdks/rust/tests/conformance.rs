#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a test reports failures by panicking

//! Every file of `conformance/` through the SDK's public API, unchanged: policy cases (decisions
//! with rate limits on a fake clock; load errors through JSON and through YAML), policy hashes,
//! canonical JSON, audit-chain vectors. Prints the vectors passed per file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use agt_sdk::{canonical_json, verify_trail, AuditError, Decision, Governor, Policy};
use serde_json::Value as Json;

fn conformance() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(conformance().join(dir))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn read(path: &std::path::Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn stem(path: &std::path::Path) -> String {
    path.file_stem().unwrap().to_string_lossy().to_string()
}

fn refs(pairs: Vec<(Option<&str>, Option<&str>)>, want: Option<&Json>) -> Json {
    let want: Vec<&str> =
        want.and_then(Json::as_array).map(|a| a.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
    Json::Array(
        pairs
            .into_iter()
            .enumerate()
            .map(|(i, (p, r))| {
                let r = r.unwrap_or("None");
                if want.get(i).is_none_or(|w| w.contains('/')) {
                    Json::String(format!("{}/{r}", p.unwrap_or("None")))
                } else {
                    Json::String(r.into())
                }
            })
            .collect(),
    )
}

fn differences(d: &Decision, expect: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |key: &str, got: Json| {
        if let Some(want) = expect.get(key) {
            if *want != got {
                problems.push(format!("{key}: expected {want}, got {got}"));
            }
        }
    };
    check("effect", Json::from(d.effect.as_str()));
    check("allowed", Json::from(d.allowed()));
    check("rule", d.rule.clone().map_or(Json::Null, Json::from));
    check("policy", d.policy.clone().map_or(Json::Null, Json::from));
    let matched = d.matched.iter().map(|m| (Some(m.policy.as_str()), Some(m.rule.as_str()))).collect();
    check("matched", refs(matched, expect.get("matched")));
    let errored =
        d.matched.iter().filter(|m| m.errored).map(|m| (Some(m.policy.as_str()), Some(m.rule.as_str()))).collect();
    check("errored", refs(errored, expect.get("errored")));
    let error_rules =
        d.errors.iter().filter(|e| e.rule.is_some()).map(|e| (e.policy.as_deref(), e.rule.as_deref())).collect();
    check("error_rules", refs(error_rules, expect.get("error_rules")));
    check("error_count", Json::from(d.errors.len()));
    check("rate_limited", Json::from(d.rate_limited));
    check("approvers", Json::from(d.approvers.clone()));
    check("conflict_strategy", d.conflict_strategy.map_or(Json::Null, |s| Json::from(s.as_str())));
    check("stage", Json::from(d.stage.as_str()));
    let messages: Vec<String> = d.errors.iter().map(|e| e.message.to_lowercase()).collect();
    for phrase in expect.get("errors_contain").and_then(Json::as_array).into_iter().flatten() {
        let phrase = phrase.as_str().unwrap_or_default().to_lowercase();
        if !messages.iter().any(|m| m.contains(&phrase)) {
            problems.push(format!("errors_contain: {phrase:?} not in {messages:?}"));
        }
    }
    if let Some(phrase) = expect.get("message_contains").and_then(Json::as_str) {
        if !d.message.to_lowercase().contains(&phrase.to_lowercase()) {
            problems.push(format!("message_contains: {phrase:?} not in {:?}", d.message));
        }
    }
    if d.allowed() == d.effect.is_restrictive() || (d.rate_limited && d.allowed()) {
        problems.push("invariant: allowed disagrees with effect".into());
    }
    problems
}

fn load_error_matches(path: Option<&str>, message: &str, expect: &Json) -> Result<(), String> {
    if let Some(want) = expect.get("path") {
        let got = path.map_or(Json::Null, Json::from);
        if *want != got {
            return Err(format!("path {got}, expected {want}: {message}"));
        }
    }
    if let Some(phrase) = expect.get("contains").and_then(Json::as_str) {
        if !message.to_lowercase().contains(&phrase.to_lowercase()) {
            return Err(format!("{phrase:?} not in {message:?}"));
        }
    }
    Ok(())
}

fn run_case(case: &Json) -> Result<(), String> {
    let policies = case["policies"].clone();
    if let Some(expect) = case.get("expect_load_error") {
        // through JSON, as agent-os resolves documents
        match Policy::from_json(&policies) {
            Ok(_) => return Err("JSON: compiled, but a load error was expected".into()),
            Err(agt_sdk::Error::Policy(e)) => {
                load_error_matches(e.path.as_deref(), &e.message, expect).map_err(|e| format!("JSON: {e}"))?
            }
            Err(other) => return Err(format!("JSON: unexpected error {other}")),
        }
        // and through YAML text (JSON's flow style is YAML 1.2), one document per policy
        let yaml: String = policies.as_array().unwrap().iter().map(|p| format!("---\n{p}\n")).collect();
        return match Policy::from_yaml(&yaml) {
            Ok(_) => Err("YAML: loaded, but a load error was expected".into()),
            Err(agt_sdk::Error::Load(e)) => {
                load_error_matches(e.path.as_deref(), &e.message, expect).map_err(|e| format!("YAML: {e}"))
            }
            Err(agt_sdk::Error::Policy(e)) => {
                load_error_matches(e.path.as_deref(), &e.message, expect).map_err(|e| format!("YAML: {e}"))
            }
            Err(other) => Err(format!("YAML: unexpected error {other}")),
        };
    }
    let policy = Policy::from_json(&policies).map_err(|e| format!("compile failed: {e}"))?;
    if let Some(expected) = case.get("expect_warnings").and_then(Json::as_array) {
        let got = policy.warnings();
        let matches = got.len() == expected.len()
            && got
                .iter()
                .zip(expected)
                .all(|(g, w)| g.to_lowercase().contains(&w.as_str().unwrap_or("").to_lowercase()));
        if !matches {
            return Err(format!("load warnings {got:?}, expected {expected:?}"));
        }
    }
    let now = Arc::new(AtomicU64::new(0f64.to_bits()));
    let clock = now.clone();
    let governor = Governor::builder(policy).clock(move || f64::from_bits(clock.load(Ordering::SeqCst))).build();
    let mut failures = Vec::new();
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        if let Some(at) = step.get("at").and_then(Json::as_f64) {
            now.store(at.to_bits(), Ordering::SeqCst);
        }
        let decision = governor.decide_request(&step["request"]).map_err(|e| format!("step {i}: {e}"))?;
        let problems = differences(&decision, &step["expect"]);
        if !problems.is_empty() {
            failures.push(format!("step {i}: {}", problems.join("; ")));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// Vectors this SDK is known to fail, each with the reason; the test checks they still fail, so
/// the list cannot go stale.
const KNOWN_GAPS: [(&str, &str); 0] = [];

#[test]
fn every_conformance_vector() {
    let mut table: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in files("policy") {
        let doc = read(&path);
        let name = format!("policy/{}", stem(&path));
        let entry = table.entry(name.clone()).or_default();
        if stem(&path) == "hashes" {
            for case in doc["cases"].as_array().unwrap() {
                entry.1 += 1;
                let policy = Policy::from_json(&case["policies"]).unwrap();
                let expect = &case["expect"];
                let want: Vec<(String, String)> = expect["policies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p["name"].as_str().unwrap().into(), p["hash"].as_str().unwrap().into()))
                    .collect();
                let got: Vec<(String, String)> =
                    policy.policy_hashes().into_iter().map(|(n, h)| (n.into(), h.into())).collect();
                if got == want && policy.hash() == expect["set_hash"].as_str().unwrap() {
                    entry.0 += 1;
                } else {
                    failures.push(format!("{name}::{}: hashes differ", case["name"]));
                }
            }
            continue;
        }
        for case in doc["cases"].as_array().unwrap() {
            entry.1 += 1;
            match run_case(case) {
                Ok(()) => entry.0 += 1,
                Err(e) => failures.push(format!("{name}::{}: {e}", case["name"].as_str().unwrap())),
            }
        }
    }
    for path in files("canonical_json") {
        let doc = read(&path);
        let name = format!("canonical_json/{}", stem(&path));
        let entry = table.entry(name.clone()).or_default();
        for case in doc["cases"].as_array().unwrap() {
            entry.1 += 1;
            // the input as its text in the file: integer and double tokens keep their spelling
            let got = canonical_json(&case["input"].to_string()).ok();
            let hash = got.as_deref().map(agt_engine_sha);
            if got.as_deref() == case["canonical"].as_str() && hash.as_deref() == case["sha256"].as_str() {
                entry.0 += 1;
            } else {
                failures.push(format!("{name}::{}: got {got:?}", case["name"]));
            }
        }
        for case in doc["errors"].as_array().into_iter().flatten() {
            entry.1 += 1;
            match canonical_json(case["input_json_text"].as_str().unwrap()) {
                Err(_) => entry.0 += 1,
                Ok(text) => failures.push(format!("{name}::{}: accepted as {text}", case["name"])),
            }
        }
    }
    let chain = read(&conformance().join("audit/chain.json"));
    let entry = table.entry("audit/chain".into()).or_default();
    let head = chain["head"]["hash"].as_str().unwrap();
    let count = chain["head"]["count"].as_u64().unwrap();
    let trail: String =
        chain["records"].as_array().unwrap().iter().map(|r| format!("{}\n", r["line"].as_str().unwrap())).collect();
    entry.1 += 1;
    match verify_trail(&trail, Some(head), Some(count)) {
        Ok(h) if h.hash == head => entry.0 += 1,
        other => failures.push(format!("audit/chain: genuine trail: {other:?}")),
    }
    for case in chain["tampered"].as_array().unwrap() {
        entry.1 += 1;
        let text: String =
            case["lines"].as_array().unwrap().iter().map(|l| format!("{}\n", l.as_str().unwrap())).collect();
        let which = case.get("pin").and_then(Json::as_str).unwrap_or("both");
        let result = verify_trail(&text, (which != "count").then_some(head), (which != "head").then_some(count));
        match result {
            Err(AuditError::Integrity { index, .. }) if Some(index) == case["index"].as_u64() => entry.0 += 1,
            other => failures.push(format!("audit/chain::{}: {other:?}", case["name"])),
        }
    }
    println!("| vector file | passed |");
    println!("| --- | --- |");
    let (mut passed, mut total) = (0, 0);
    for (file, (ok, all)) in &table {
        println!("| {file} | {ok}/{all} |");
        passed += ok;
        total += all;
    }
    println!("| total | {passed}/{total} |");
    for (gap, why) in KNOWN_GAPS {
        let before = failures.len();
        failures.retain(|f| !f.starts_with(&format!("{gap}:")));
        assert_eq!(before, failures.len() + 1, "known gap {gap} ({why}) no longer fails: remove it from KNOWN_GAPS");
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// SHA-256 of canonical text, through the SDK's content hash (canonical text is a fixed point).
fn agt_engine_sha(text: &str) -> String {
    let hash = agt_sdk::content_hash(text).unwrap();
    hash.trim_start_matches("sha256:").to_string()
}
