//! The policy set reads each request path at most once per evaluation, by the number
//! `PolicySet::paths` gives it, and that never changes a decision.
//!
//! A recording activation checks every read the set makes: a numbered read names the path its
//! number stands for, and no number is read twice in one evaluation. Sets that read more paths
//! than the memo keeps inline (and across several of its chunks) decide exactly what each rule's
//! condition, compiled on its own and evaluated directly on the request, says.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failures by panicking

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use agt_engine::cel::{compile_condition, Limits};
use agt_engine::value::Map;
use agt_engine::{Activation, PolicyDocument, PolicySet, Resolved, ResolvedPolicy, Value};
use serde_json::{json, Value as Json};

/// A request that records every read made of it.
struct Recording {
    request: Map,
    numbered: RefCell<Vec<(usize, Vec<String>)>>,
    plain: RefCell<Vec<Vec<String>>>,
}

impl Recording {
    fn new(request: &Json) -> Recording {
        let Value::Map(map) = Value::from_json(request, 64).unwrap() else { panic!("not a map") };
        Recording { request: (*map).clone(), numbered: RefCell::default(), plain: RefCell::default() }
    }
}

fn names(path: &[Arc<str>]) -> Vec<String> {
    path.iter().map(|k| k.to_string()).collect()
}

impl Activation for Recording {
    fn resolve(&self, path: &[Arc<str>]) -> Resolved {
        self.plain.borrow_mut().push(names(path));
        self.request.resolve(path)
    }

    fn resolve_slot(&self, slot: usize, path: &[Arc<str>]) -> Resolved {
        self.numbered.borrow_mut().push((slot, names(path)));
        self.request.resolve(path)
    }
}

fn compile(doc: &Json) -> PolicySet {
    let document = PolicyDocument::from_json(doc).unwrap();
    PolicySet::compile(&[ResolvedPolicy { document, sealed_rules: vec![], content_hash: None, warnings: vec![] }])
        .unwrap()
}

/// Checks the reads one evaluation made; returns how many numbered reads there were.
fn check_reads(set: &PolicySet, recording: &Recording) -> usize {
    let numbered = recording.numbered.borrow();
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for (slot, path) in numbered.iter() {
        let expected: Vec<String> = names(&set.paths()[*slot]);
        assert_eq!(path, &expected, "slot {slot} read as {path:?}");
        *seen.entry(*slot).or_default() += 1;
    }
    // `stage` is read once to pick the rules and again only if a condition reads it
    for (slot, count) in seen {
        let limit = if slot == 0 { 2 } else { 1 };
        assert!(count <= limit, "path {:?} read {count} times in one evaluation", set.paths()[slot]);
    }
    assert!(recording.plain.borrow().is_empty(), "unnumbered reads: {:?}", recording.plain.borrow());
    numbered.len()
}

#[test]
fn each_path_is_read_once_by_its_number() {
    let doc = json!({
        "apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "allow",
        "rules": [
            {"name": "a", "condition": "action.type in ['drop', 'delete'] && args.table == 'users'", "action": "deny"},
            {"name": "b", "condition": "action.type == 'read' && args.rows > 10", "action": "deny"},
            {"name": "c", "condition": "args.table == 'secrets' || args.rows > 100", "action": "require_approval"},
            {"name": "d", "condition": "has(args.table) && args.tags.exists(t, t == args.table)", "action": "warn"},
            {"name": "e", "condition": "stage == 'pre_tool' && context.tenant != agent.id", "action": "log"},
            {"name": "f", "condition": "action['type'] == 'drop' && args['rows'] >= 0", "action": "deny"},
        ],
    });
    let set = compile(&doc);
    assert_eq!(names(&set.paths()[0]), ["stage"]);
    assert_eq!(names(&set.paths()[1]), ["agent", "id"]);
    let requests = [
        json!({"action": {"type": "drop"}, "args": {"table": "users", "rows": 3, "tags": ["users"]},
               "agent": {"id": "a1"}, "context": {"tenant": "t"}, "stage": "pre_tool"}),
        json!({"action": {"type": "read"}, "args": {"rows": 50, "tags": []}, "agent": {"id": "a1"},
               "context": {}, "stage": "pre_tool"}),
        json!({"action": {"type": "write"}, "args": [1, 2], "agent": {"id": "a1"}, "context": {}}),
        json!({"action": "drop", "agent": {"id": "a1"}, "stage": "pre_tool"}),
    ];
    for request in &requests {
        let recording = Recording::new(request);
        let outcome = set.outcome_of(&recording);
        let reads = check_reads(&set, &recording);
        assert!(reads >= 2, "at least stage and agent.id are read");
        // the same request held as a value decides the same
        let value = Value::from_json(request, 64).unwrap();
        assert_eq!(set.decision(&outcome), set.evaluate(&value), "request {request}");
    }
}

/// What a rule's condition says about a request when compiled alone and evaluated directly:
/// `Some(errored)` when the (deny) rule counts as matched.
fn direct(condition: &str, request: &Map) -> Option<bool> {
    let program = compile_condition(condition, &Limits::default()).unwrap();
    match program.evaluate_bool(request) {
        Ok(true) => Some(false),
        Ok(false) => None,
        Err(_) => Some(true),
    }
}

/// A small deterministic generator (no dependency, same cases every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn sets_reading_many_paths_decide_as_each_condition_alone() {
    // 130 distinct paths: more than the memo keeps inline, spread over several chunks
    let mut rules = Vec::new();
    let mut conditions = Vec::new();
    for i in 0..120 {
        let condition = match i % 4 {
            0 => format!("args.f{i} == {i}"),
            1 => format!("args.f{i} > {i} && args.f{} != 'x'", i - 1),
            2 => format!("context.c{i}.v in [{i}, 'v{i}']"),
            _ => format!("has(args.f{i}) && args.f{i} == args.f{}", i - 3),
        };
        rules.push(json!({"name": format!("r{i:03}"), "condition": condition, "action": "deny"}));
        conditions.push(condition);
    }
    let doc = json!({"apiVersion": "governance.toolkit/v1", "name": "wide", "default_action": "allow", "rules": rules});
    let set = compile(&doc);
    assert!(set.paths().len() > 100, "{} paths", set.paths().len());
    let mut random = Lcg(7);
    for _ in 0..200 {
        let mut args = serde_json::Map::new();
        let mut context = serde_json::Map::new();
        for i in 0..120u64 {
            let value = match random.next(6) {
                0 => continue, // missing: conditions reading it error (and fail closed)
                1 => json!(i),
                2 => json!(i + 1),
                3 => json!("x"),
                4 => json!(format!("v{i}")),
                _ => json!(null),
            };
            if i % 4 == 2 {
                let inner = if random.next(5) == 0 { json!([value]) } else { json!({"v": value}) };
                context.insert(format!("c{i}"), inner);
            } else {
                args.insert(format!("f{i}"), value);
            }
        }
        let args = if random.next(20) == 0 { json!("not a map") } else { Json::Object(args) };
        let request = json!({"action": {"type": "t"}, "args": args, "agent": {"id": "a"},
                             "context": context, "stage": "pre_tool"});
        let recording = Recording::new(&request);
        let decision = set.decision(&set.outcome_of(&recording));
        check_reads(&set, &recording);
        let expected: Vec<(String, bool)> = conditions
            .iter()
            .enumerate()
            .filter_map(|(i, c)| direct(c, &recording.request).map(|errored| (format!("r{i:03}"), errored)))
            .collect();
        let got: Vec<(String, bool)> = decision.matched.iter().map(|m| (m.rule.clone(), m.errored)).collect();
        assert_eq!(got, expected, "request {request}");
        let deciding = expected.first().map(|(name, _)| name.clone());
        assert_eq!(decision.rule, deciding, "request {request}");
    }
}
