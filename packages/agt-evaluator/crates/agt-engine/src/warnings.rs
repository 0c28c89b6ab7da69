//! Load warnings, as agent-os's loader gives them (`agent_os/_loading/_fields.py`).
//!
//! A typo in a field name does not fail quietly (reading a missing field is an error, and errors
//! fail closed), but it makes the rule useless: a deny rule on `args.ammount` denies every call.
//! So every field path a condition reads is checked against the request's shape: without
//! `request_schema`, against the fields the toolkit fixes (`action.type`, `agent.id`, ...; the
//! caller's `args`, `context` and `result` are open); with one, against the declared fields plus
//! the toolkit's. A policy that allows every call (allow default, no enabled deny or
//! require_approval rule) is warned about too. Not here yet: agent-os's "did you mean" hints and
//! its advice on unguarded reads of the `sql`/`k8s` request facets.

use serde_json::{json, Map, Value as Json};

use crate::cel::{literal_path, parse_condition, Expr, Limits};
use crate::policy::PolicyDocument;

/// Fields the toolkit sets or its enrichers add, and the request facets (agent-os: `TOOLKIT_FIELDS`).
fn toolkit_fields() -> Map<String, Json> {
    let agent = json!({
        "id": "string", "did": "string", "trust": "any", "ring": "any", "roles": "any", "capabilities": "any",
        "name": "string", "trust_tier": "string", "capability_granted": "bool", "delegation": "map",
        "signature": "string",
    });
    let fields = json!({
        "action": {"type": "string", "tool": "string"},
        "agent": agent,
        "stage": "string",
        "context": {"session": "any", "required_capability": "string"},
        "sql": {"statements": "int", "verbs": "list", "verb": "string", "writes": "bool", "tables": "list",
                "qualified_tables": "list", "functions": "list"},
        "k8s": {"verb": "string", "group": "string", "version": "string", "resource": "string", "name": "string",
                "subresource": "string", "namespace": "string", "command": "string"},
    });
    fields.as_object().cloned().unwrap_or_default()
}

/// The request's shape for policies without `request_schema` (agent-os: `KNOWN_FIELDS`).
fn known_fields() -> Map<String, Json> {
    let mut fields = toolkit_fields();
    fields.insert("args".into(), json!("map"));
    fields.insert("context".into(), json!("map"));
    fields.insert("result".into(), json!("any"));
    fields
}

/// `declared` over `base`: mappings merge, a declared type replaces the base's.
fn merge(base: &Map<String, Json>, declared: &Map<String, Json>) -> Map<String, Json> {
    let mut out = base.clone();
    for (key, value) in declared {
        let merged = match (out.get(key), value) {
            (Some(Json::Object(mine)), Json::Object(theirs)) => Json::Object(merge(mine, theirs)),
            _ => value.clone(),
        };
        out.insert(key.clone(), merged);
    }
    out
}

fn declared(schema: &Map<String, Json>, path: &[String]) -> bool {
    let mut node = schema;
    for (i, segment) in path.iter().enumerate() {
        match node.get(segment) {
            None => return false,
            Some(Json::Object(inner)) => node = inner,
            // a scalar type ends the path, except map and any, which hold anything below them
            Some(Json::String(kind)) => return i + 1 == path.len() || kind == "map" || kind == "any",
            Some(_) => return false,
        }
    }
    true
}

/// Every longest member-selection path rooted at a request variable, sorted.
fn field_paths(expr: &Expr) -> Vec<Vec<String>> {
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut stack = vec![expr];
    while let Some(node) = stack.pop() {
        if matches!(node, Expr::Select { .. } | Expr::Index { .. }) {
            if let Some(path) = literal_path(node) {
                if !found.contains(&path) {
                    found.push(path);
                }
                continue;
            }
        }
        match node {
            Expr::Select { operand, .. } | Expr::Unary { operand, .. } => stack.push(operand),
            Expr::Index { operand, index, .. } => {
                stack.push(operand);
                stack.push(index);
            }
            Expr::Call { target, args, .. } => {
                stack.extend(target.as_deref());
                stack.extend(args.iter());
            }
            Expr::List { items, .. } => stack.extend(items.iter()),
            Expr::Map { entries, .. } => {
                for (key, value) in entries {
                    stack.push(key);
                    stack.push(value);
                }
            }
            Expr::Binary { left, right, .. } => {
                stack.push(left);
                stack.push(right);
            }
            Expr::Logical { operands, .. } => stack.extend(operands.iter()),
            Expr::Cond { cond, then, other, .. } => {
                stack.push(cond);
                stack.push(then);
                stack.push(other);
            }
            Expr::Lit { .. } | Expr::Ident { .. } => {}
        }
    }
    found.sort();
    found
}

/// The warnings for one resolved document: unknown field paths in rule order, then a weak default.
/// Each ends with `(in policy `<name>`)`, as agent-os writes warnings of policies without a file.
pub fn load_warnings(document: &PolicyDocument) -> Vec<String> {
    let schema = match &document.request_schema {
        Some(declared_fields) => merge(&toolkit_fields(), declared_fields),
        None => known_fields(),
    };
    let name = &document.name;
    let mut found = Vec::new();
    for rule in &document.rules {
        // the loader has compiled every condition already: one that does not parse has no paths
        let Ok(expr) = parse_condition(&rule.condition, &Limits::default()) else { continue };
        for path in field_paths(&expr) {
            if declared(&schema, &path) {
                continue;
            }
            let dotted = path.join(".");
            let reason = if document.request_schema.is_some() {
                format!("rule `{}` reads `{dotted}`, which request_schema does not declare", rule.name)
            } else {
                format!(
                    "rule `{}` reads `{dotted}`, which requests never hold (declare it in request_schema if an \
                     enricher of yours adds it)",
                    rule.name
                )
            };
            found.push(format!("{reason} (in policy `{name}`)"));
        }
    }
    let restrictive = document.rules.iter().any(|r| r.enabled && r.action.is_restrictive());
    if document.default_action == crate::policy::Action::Allow && !restrictive {
        found.push(format!(
            "policy `{name}` allows every call: default_action is allow and no enabled rule denies or requires \
             approval (in policy `{name}`)"
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn warnings(doc: serde_json::Value) -> Vec<String> {
        load_warnings(&PolicyDocument::from_json(&doc).unwrap())
    }

    #[test]
    fn typos_and_weak_defaults_are_reported() {
        let with_schema = json!({"apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "allow",
            "request_schema": {"args": {"amount": "int"}},
            "rules": [{"name": "r", "condition": "args.ammount > 100 && action.type == 'pay' && agent.id != ''", "action": "deny"}]});
        let found = warnings(with_schema);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`args.ammount`"));
        let open = json!({"apiVersion": "governance.toolkit/v1", "name": "p",
            "rules": [{"name": "r", "condition": "args['x'].y == 1 && action.typ == 'a' && context.z == 1 && [1].exists(v, v == args.q)", "action": "deny"}]});
        let found = warnings(open);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`action.typ`"));
        let allow_all = json!({"apiVersion": "governance.toolkit/v1", "name": "p", "default_action": "allow",
            "rules": [{"name": "r", "condition": "true", "action": "allow"}]});
        assert!(warnings(allow_all)[0].contains("allows every call"));
    }
}
