//! Arbitrary bytes as a policy document (JSON): loading and compiling never panic, and a set
//! that compiles decides a fixed request without panicking.

#![no_main]

use agt_engine::{PolicyDocument, PolicySet, ResolvedPolicy, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(document) = PolicyDocument::from_json(&json) else {
        return;
    };
    let resolved = [ResolvedPolicy { document, sealed_rules: vec![], content_hash: None, warnings: vec![] }];
    let Ok(set) = PolicySet::compile(&resolved) else {
        return;
    };
    let request = serde_json::json!({
        "action": {"type": "drop", "tool": "sql"}, "args": {"a": 1, "b": "x"},
        "agent": {"id": "a"}, "context": {}, "stage": "pre_tool",
    });
    if let Ok(request) = Value::from_json(&request, 64) {
        let _ = set.evaluate(&request);
    }
});
