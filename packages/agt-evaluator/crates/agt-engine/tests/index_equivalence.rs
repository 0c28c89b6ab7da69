//! The rule index never changes a decision: a set compiled with the index and one compiled
//! without it (every rule evaluated) decide every generated request identically. Policies pin
//! `action.type` and `args.kind` to literals of every kind (and null), mixed in one list or not;
//! requests put values of every kind there, or leave the path out. `PROPTEST_CASES` raises the
//! number of cases for a longer campaign.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failures by panicking

use agt_engine::{PolicyDocument, PolicySet, ResolvedPolicy, Value};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

fn literal() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["'a'", "'b'", "'1'", "1", "1.0", "2", "true", "false", "null", "-0.0", "''"])
}

fn pinned_condition() -> impl Strategy<Value = String> {
    let path = prop::sample::select(vec!["action.type", "args.kind", "action['type']"]);
    let rest = prop::sample::select(vec!["", " && args.n > 1", " && args.kind != 'z'", " && size(args) >= 0"]);
    (path, prop::collection::vec(literal(), 1..4), any::<bool>(), rest).prop_map(|(path, lits, use_in, rest)| {
        if use_in {
            format!("{path} in [{}]{rest}", lits.join(", "))
        } else {
            format!("{path} == {}{rest}", lits[0])
        }
    })
}

fn condition() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => pinned_condition(),
        1 => prop::sample::select(vec!["args.n > 1", "true", "has(args.kind)", "args.kind == action.type"]).prop_map(String::from),
    ]
}

fn policy() -> impl Strategy<Value = Json> {
    let rule = (condition(), prop::sample::select(vec!["allow", "deny", "require_approval", "warn", "log"]), -1i64..2);
    (
        prop::collection::vec(rule, 2..10),
        prop::sample::select(vec!["deny_overrides", "allow_overrides", "priority_first_match", "most_specific_wins"]),
        prop::sample::select(vec!["allow", "deny"]),
    )
        .prop_map(|(rules, strategy, default)| {
            let rules: Vec<Json> = rules
                .into_iter()
                .enumerate()
                .map(|(i, (condition, action, priority))| {
                    json!({"name": format!("r{i}"), "condition": condition, "action": action, "priority": priority})
                })
                .collect();
            json!({"apiVersion": "governance.toolkit/v1", "name": "p", "conflict_strategy": strategy,
                   "default_action": default, "rules": rules})
        })
}

fn scalar() -> impl Strategy<Value = Json> {
    prop::sample::select(vec![
        json!("a"),
        json!("b"),
        json!("1"),
        json!(""),
        json!(1),
        json!(2),
        json!(1.0),
        json!(-0.0),
        json!(1.5),
        json!(true),
        json!(false),
        json!(null),
        json!([]),
        json!(["a"]),
        json!({}),
        json!({"$opaque": "x.Y"}),
    ])
}

fn request() -> impl Strategy<Value = Json> {
    (prop::option::of(scalar()), prop::option::of(scalar()), prop::option::of(0i64..3)).prop_map(|(ty, kind, n)| {
        let mut action = serde_json::Map::new();
        action.insert("tool".into(), json!("t"));
        if let Some(ty) = ty {
            action.insert("type".into(), ty);
        }
        let mut args = serde_json::Map::new();
        if let Some(kind) = kind {
            args.insert("kind".into(), kind);
        }
        if let Some(n) = n {
            args.insert("n".into(), json!(n));
        }
        json!({"action": action, "args": args, "agent": {"id": "a"}, "context": {}, "stage": "pre_tool"})
    })
}

fn resolved(doc: &Json) -> Option<ResolvedPolicy> {
    let document = PolicyDocument::from_json(doc).ok()?;
    Some(ResolvedPolicy { document, sealed_rules: vec![], content_hash: None, warnings: vec![] })
}

proptest! {
    #[test]
    fn index_never_changes_a_decision(doc in policy(), requests in prop::collection::vec(request(), 1..8)) {
        let Some(policy) = resolved(&doc) else { return Ok(()) };
        let indexed = PolicySet::compile(std::slice::from_ref(&policy)).unwrap();
        let reference = PolicySet::compile_unindexed(&[policy]).unwrap();
        for request in requests {
            let value = Value::from_json(&request, 64).unwrap();
            prop_assert_eq!(indexed.evaluate(&value), reference.evaluate(&value), "request {}", request);
        }
    }
}
