//! Arbitrary bytes as a condition: compiling never panics or hangs, and whatever compiles
//! evaluates to a value or the engine's own error (also a panic-free path).
//!
//! The bytes are read as UTF-8 when they are (so the fuzzer's dictionary of CEL tokens works on
//! the real text), otherwise lossily: the engine only ever receives `&str`.

#![no_main]

use std::sync::OnceLock;

use agt_engine::cel::{compile_condition, Limits};
use agt_engine::Value;
use libfuzzer_sys::fuzz_target;

fn request() -> &'static Value {
    static REQUEST: OnceLock<Value> = OnceLock::new();
    REQUEST.get_or_init(|| {
        let json = serde_json::json!({
            "action": {"type": "drop", "tool": "sql"},
            "args": {"x": [1, "a", null, 2.5, {"k": [true]}], "n": 9007199254740993i64, "s": "é😀\u{0}",
                     "o": {"$opaque": "bytes"}, "d": -0.0, "big": 1e308},
            "agent": {"id": "a", "trust": 0.5},
            "context": {"env": "prod"},
            "stage": "pre_tool",
            "result": null,
        });
        Value::from_json(&json, 64).unwrap_or(Value::Null)
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let limits = Limits::default();
    if let Ok(program) = compile_condition(&text, &limits) {
        if let Value::Map(map) = request() {
            let _ = program.evaluate(&**map);
            let _ = program.evaluate_bool(&**map);
        }
    }
});
