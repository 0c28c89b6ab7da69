//! Arbitrary text never panics or hangs the condition compiler, and whatever compiles evaluates
//! to a value or the engine's own error. Inputs mix CEL's tokens, operator words, quotes,
//! escapes, deep nesting and random Unicode. `PROPTEST_CASES=100000 cargo test --release
//! --test parser_fuzz` is the long campaign.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failures by panicking

use agt_engine::cel::{compile_condition, Limits};
use agt_engine::Value;
use proptest::prelude::*;
use serde_json::json;

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "action", "args", "agent", "context", "stage", "result", ".", "type", "x", "(", ")", "[", "]", "{", "}",
            ",", ":", "?", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!", "-", "+", "*", "/", "%", "in", "not",
            "and", "or", "true", "false", "null", "'a'", "\"b\"", "'''m\nl'''", "r'\\d'", "b'x'", "1", "1u", "0x1F",
            "1.5", "1e308", "1e999", "9223372036854775808", "-9223372036854775808", "size", "has", "int", "double",
            "string", "matches", "contains", "startsWith", "exists", "all", "map", "filter", "exists_one",
            "lowerAscii", "'\\u00e9'", "'\\x41'", "'\\101'", "'\\q'", "'unterminated", "//c\n", " ", "\t", "😀",
            "'(?i)A+'", "'['", "'\\\\b'",
        ]).prop_map(String::from),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn source() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec(token(), 0..40).prop_map(|t| t.join(" ")),
        1 => prop::collection::vec(token(), 0..40).prop_map(|t| t.concat()),
        1 => any::<String>(),
        1 => (1usize..200).prop_map(|n| format!("{}1{}", "(".repeat(n), ")".repeat(n))),
        1 => (1usize..200).prop_map(|n| format!("{}true", "!".repeat(n))),
        1 => (1usize..200).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]
    #[test]
    fn compile_and_evaluate_never_panic(src in source()) {
        let limits = Limits::default();
        if let Ok(program) = compile_condition(&src, &limits) {
            let request = json!({"action": {"type": "a", "tool": "t"}, "args": {"x": [1, "a", null], "type": {"$opaque": "q"}},
                                 "agent": {"id": "a"}, "context": {}, "stage": "pre_tool"});
            let Value::Map(map) = Value::from_json(&request, 64).unwrap() else { unreachable!() };
            let _ = program.evaluate(&*map);
        }
    }
}

#[test]
fn pathological_inputs_are_refused_quickly() {
    let limits = Limits::default();
    for src in [
        "(".repeat(100_000),
        "!".repeat(100_000),
        "a.".repeat(50_000),
        format!("'{}'", "x".repeat(5000)),
        "[".repeat(10_000) + &"]".repeat(10_000),
        "1 + ".repeat(2000) + "1",
        "args.x || ".repeat(2000) + "true",
    ] {
        assert!(compile_condition(&src, &limits).is_err(), "accepted {}...", &src[..20]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]
    /// What the cargo-fuzz target `cel_condition` does, bounded, so `cargo test` always runs it:
    /// arbitrary bytes (read lossily as UTF-8) never panic the compiler or the evaluator.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(program) = compile_condition(&text, &Limits::default()) {
            let request = json!({"action": {"type": "a", "tool": "t"}, "args": {"x": [1, "a", null]},
                                 "agent": {"id": "a"}, "context": {}, "stage": "pre_tool"});
            let Value::Map(map) = Value::from_json(&request, 64).unwrap() else { unreachable!() };
            let _ = program.evaluate(&*map);
        }
    }
}
