#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a test reports failures by panicking

//! The engine's half of the CEL project's conformance run (`conformance/cel-spec/run.py`).
//!
//! The runner maps each cel-spec test onto our condition language and writes the cases to the
//! file named by `AGT_CEL_SPEC_IN`; this test compiles and evaluates each one with the engine's
//! CEL (`agt_engine::cel::compile_condition`, `Program::evaluate`) and writes what happened to
//! `AGT_CEL_SPEC_OUT`. Without those variables it does nothing (plain `cargo test` stays fast).
//!
//! Values cross as tagged JSON, so ints and doubles stay apart and NaN and the infinities survive:
//! `{"t": "int", "v": 1}`, `{"t": "double", "v": "NaN"}`, `{"t": "list", "v": [...]}`,
//! `{"t": "map", "v": [[key, value], ...]}`, `{"t": "string" | "bool" | "null", ...}`.

use std::fs;
use std::sync::Arc;

use agt_engine::cel::{compile_condition, Limits};
use agt_engine::Value;
use serde_json::{json, Value as Json};

fn decode(tagged: &Json) -> Value {
    let v = &tagged["v"];
    match tagged["t"].as_str().unwrap() {
        "null" => Value::Null,
        "bool" => Value::Bool(v.as_bool().unwrap()),
        "int" => Value::Int(v.as_i64().unwrap()),
        "double" => Value::Double(match v {
            Json::String(s) if s == "NaN" => f64::NAN,
            Json::String(s) if s == "Infinity" => f64::INFINITY,
            Json::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
            Json::String(s) => s.parse().unwrap(),
            other => other.as_f64().unwrap(),
        }),
        "string" => Value::str(v.as_str().unwrap()),
        "list" => Value::List(Arc::new(v.as_array().unwrap().iter().map(decode).collect())),
        "map" => {
            let mut map = agt_engine::value::Map::new();
            for pair in v.as_array().unwrap() {
                map.insert(pair[0].as_str().unwrap().to_string(), decode(&pair[1]));
            }
            Value::Map(Arc::new(map))
        }
        other => panic!("unknown tag {other}"),
    }
}

fn encode(value: &Value) -> Json {
    match value {
        Value::Null => json!({"t": "null"}),
        Value::Bool(b) => json!({"t": "bool", "v": b}),
        Value::Int(i) => json!({"t": "int", "v": i}),
        Value::Double(d) => {
            let text = if d.is_nan() {
                "NaN".to_string()
            } else if d.is_infinite() {
                if *d > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
            } else {
                format!("{d:e}")
            };
            json!({"t": "double", "v": text})
        }
        Value::Str(s) => json!({"t": "string", "v": &**s}),
        Value::List(items) => json!({"t": "list", "v": items.iter().map(encode).collect::<Vec<_>>()}),
        Value::Map(map) => {
            json!({"t": "map", "v": map.iter().map(|(k, v)| json!([k, encode(v)])).collect::<Vec<_>>()})
        }
    }
}

#[test]
fn cel_spec_cases() {
    let (Some(input), Some(output)) = (std::env::var_os("AGT_CEL_SPEC_IN"), std::env::var_os("AGT_CEL_SPEC_OUT"))
    else {
        return;
    };
    let cases: Vec<Json> = serde_json::from_str(&fs::read_to_string(input).unwrap()).unwrap();
    let limits = Limits::default();
    let mut results = Vec::with_capacity(cases.len());
    for case in &cases {
        let Value::Map(root) = decode(&case["activation"]) else { panic!("activation must be a map") };
        let result = match compile_condition(case["expr"].as_str().unwrap(), &limits) {
            Err(e) => json!({"id": case["id"], "outcome": "compile_error", "message": e.message}),
            Ok(program) => match program.evaluate(&*root) {
                Ok(value) => json!({"id": case["id"], "outcome": "value", "value": encode(&value)}),
                Err(e) => json!({"id": case["id"], "outcome": "eval_error", "message": e.message}),
            },
        };
        results.push(result);
    }
    fs::write(output, serde_json::to_string(&results).unwrap()).unwrap();
}
