//! Compiles a checked syntax tree into an evaluation tree, and evaluates it.
//!
//! Sub-trees without variables are folded into constants at compile time (unless evaluating
//! them fails: then the error stays a runtime error, as CEL specifies). A variable followed by
//! literal keys (`args.to`, `action['type']`) becomes one path lookup; `x in [literals]` becomes
//! a hash-set membership test. Each fast path gives exactly the result of the general rule.

use std::collections::HashSet;
use std::sync::Arc;

use regex::Regex;

use super::ast::{BinOp, Expr};
use super::checker::VARIABLES;
use super::functions::{call_unary, matches_value, string_test, Unary};
use super::ops::{arithmetic, cel_eq, cel_in, compare, index_key, negate, no_overload1, Key};
use super::regex::compile_regex;
use super::{EvalError, Limits, SyntaxError};
use crate::activation::{Activation, Memo, Resolved};
use crate::fast_hash::FastSet;
use crate::value::{py_repr_str, py_str, Kind, Map, Value};

/// The slot of a path its policy set has not numbered (it is resolved without the memo).
const NO_SLOT: usize = usize::MAX;

/// What one element of a built list costs against `max_eval_bytes` (one reference).
const LIST_ELEMENT_BYTES: usize = 8;
/// What one entry of a built map costs against `max_eval_bytes` (a key and a value).
const MAP_ENTRY_BYTES: usize = 16;

/// The list macros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MacroKind {
    All,
    Exists,
    ExistsOne,
    Filter,
    Map,
}

/// A node of the evaluation tree.
#[derive(Debug)]
enum Node {
    Const(Value),
    /// A variable followed by literal keys, and the number its policy set gave the path
    /// ([`NO_SLOT`] until it is numbered).
    Path {
        path: Vec<Arc<str>>,
        slot: usize,
    },
    Select(Box<Node>, Arc<str>),
    Index(Box<Node>, Box<Node>),
    List(Vec<Node>),
    MapLit(Vec<(Node, Node)>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Logical {
        and: bool,
        operands: Vec<Node>,
    },
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Eq {
        left: Box<Node>,
        right: Box<Node>,
        negate: bool,
    },
    In {
        left: Box<Node>,
        right: Box<Node>,
        negate: bool,
    },
    /// `x in [scalar literals]`: a hit is a set lookup; a miss is false at once when every
    /// non-null literal is of the value's kind, and takes the general rule otherwise.
    InSet {
        left: Box<Node>,
        keys: FastSet<Key>,
        kind: Option<Kind>,
        items: Value,
        negate: bool,
    },
    Compare {
        op: &'static str,
        left: Box<Node>,
        right: Box<Node>,
    },
    Arith {
        op: &'static str,
        left: Box<Node>,
        right: Box<Node>,
    },
    Has(Box<Node>, Arc<str>),
    MatchesLiteral(Box<Node>, Arc<Regex>),
    MatchesDynamic(Box<Node>, Box<Node>),
    StringTest {
        name: &'static str,
        target: Box<Node>,
        arg: Box<Node>,
    },
    Unary(Unary, Box<Node>),
    Macro {
        kind: MacroKind,
        target: Box<Node>,
        var: Arc<str>,
        body: Vec<Node>,
    },
}

/// Evaluation state: the request, the macro variables in scope, and the step counter.
pub(crate) struct Env<'a> {
    activation: &'a dyn Activation,
    /// The policy set's memo of the request, when evaluating inside one: numbered paths are
    /// read from it by reference.
    memo: Option<&'a Memo<'a>>,
    vars: Vec<(Arc<str>, Value)>,
    steps: usize,
    max_steps: usize,
    /// Bytes of strings, lists and maps built so far, and the most allowed.
    produced: usize,
    budget: usize,
}

impl Env<'_> {
    /// Counts `size` bytes about to be built; refuses to go over the budget.
    fn charge(&mut self, size: usize) -> Result<(), EvalError> {
        let total = self.produced.saturating_add(size);
        if total > self.budget {
            return Err(EvalError::new(format!(
                "condition would build more than {} bytes of strings and lists (limit max_eval_bytes)",
                self.budget
            )));
        }
        self.produced = total;
        Ok(())
    }
}

/// A compiled condition.
#[derive(Debug)]
pub struct Compiled {
    root: Node,
    max_steps: usize,
    max_bytes: usize,
}

impl Compiled {
    /// Evaluates the condition against a request (a map of variables), requiring a bool.
    pub fn evaluate_bool(&self, activation: &dyn Activation) -> Result<bool, EvalError> {
        match self.evaluate(activation)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::new(format!("the condition must evaluate to a bool, got {}", other.type_name()))),
        }
    }

    /// Evaluates the condition against a request, returning its value.
    pub fn evaluate(&self, activation: &dyn Activation) -> Result<Value, EvalError> {
        self.run(activation, None)
    }

    /// Evaluates the condition against a policy set's memo of a request, requiring a bool.
    pub(crate) fn evaluate_bool_in(&self, memo: &Memo<'_>) -> Result<bool, EvalError> {
        if let Some(decided) = path_against_literal(&self.root, memo) {
            return decided;
        }
        match self.run(memo, Some(memo))? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::new(format!("the condition must evaluate to a bool, got {}", other.type_name()))),
        }
    }

    fn run<'a>(&self, activation: &'a dyn Activation, memo: Option<&'a Memo<'a>>) -> Result<Value, EvalError> {
        let mut env = Env {
            activation,
            memo,
            vars: Vec::new(),
            steps: 0,
            max_steps: self.max_steps,
            produced: 0,
            budget: self.max_bytes,
        };
        eval(&self.root, &mut env)
    }
}

impl Compiled {
    /// Numbers every path that starts with a request variable: `slot_of` gives a path's
    /// number in its policy set. Macro variables cannot hide request variables (the checker
    /// refuses such names), so a numbered path always reads the request.
    pub(crate) fn number_paths(&mut self, slot_of: &mut dyn FnMut(&[Arc<str>]) -> usize) {
        number_node(&mut self.root, slot_of);
    }
}

fn number_node(node: &mut Node, slot_of: &mut dyn FnMut(&[Arc<str>]) -> usize) {
    match node {
        Node::Path { path, slot } => {
            if path.first().is_some_and(|root| VARIABLES.contains(&&**root)) {
                *slot = slot_of(path);
            }
        }
        Node::Const(_) => {}
        Node::Select(inner, _)
        | Node::Not(inner)
        | Node::Neg(inner)
        | Node::Has(inner, _)
        | Node::MatchesLiteral(inner, _)
        | Node::Unary(_, inner) => number_node(inner, slot_of),
        Node::InSet { left, .. } => number_node(left, slot_of),
        Node::Index(a, b)
        | Node::Eq { left: a, right: b, .. }
        | Node::In { left: a, right: b, .. }
        | Node::Compare { left: a, right: b, .. }
        | Node::Arith { left: a, right: b, .. }
        | Node::MatchesDynamic(a, b)
        | Node::StringTest { target: a, arg: b, .. } => {
            number_node(a, slot_of);
            number_node(b, slot_of);
        }
        Node::List(items) | Node::Logical { operands: items, .. } => {
            for item in items {
                number_node(item, slot_of);
            }
        }
        Node::MapLit(entries) => {
            for (k, v) in entries {
                number_node(k, slot_of);
                number_node(v, slot_of);
            }
        }
        Node::Cond(a, b, c) => {
            number_node(a, slot_of);
            number_node(b, slot_of);
            number_node(c, slot_of);
        }
        Node::Macro { target, body, .. } => {
            number_node(target, slot_of);
            for item in body {
                number_node(item, slot_of);
            }
        }
    }
}

/// Compiles a checked tree.
pub fn compile(expr: &Expr, limits: &Limits) -> Result<Compiled, SyntaxError> {
    let root = compile_node(expr)?;
    Ok(Compiled { root, max_steps: limits.max_eval_steps, max_bytes: limits.max_eval_bytes })
}

fn is_const(node: &Node) -> bool {
    matches!(node, Node::Const(_))
}

/// Replaces `node` by its value when its operands are all constants and it evaluates cleanly.
fn fold(node: Node, children_const: bool) -> Node {
    if !children_const {
        return node;
    }
    let empty = Map::new();
    // constants computed at compile time cost nothing at evaluation time
    let mut env = Env {
        activation: &empty,
        memo: None,
        vars: Vec::new(),
        steps: 0,
        max_steps: usize::MAX,
        produced: 0,
        budget: usize::MAX,
    };
    match eval(&node, &mut env) {
        Ok(value) => Node::Const(value),
        Err(_) => node,
    }
}

fn path_of(node: &Node) -> Option<&Vec<Arc<str>>> {
    match node {
        Node::Path { path, .. } => Some(path),
        _ => None,
    }
}

fn compile_node(expr: &Expr) -> Result<Node, SyntaxError> {
    Ok(match expr {
        Expr::Lit { value, .. } => Node::Const(value.clone()),
        Expr::Ident { name, .. } => Node::Path { path: vec![Arc::from(name.as_str())], slot: NO_SLOT },
        Expr::Select { operand, field, .. } => {
            let inner = compile_node(operand)?;
            if let Node::Path { mut path, slot } = inner {
                path.push(Arc::from(field.as_str()));
                return Ok(Node::Path { path, slot });
            }
            let c = is_const(&inner);
            fold(Node::Select(Box::new(inner), Arc::from(field.as_str())), c)
        }
        Expr::Index { operand, index, .. } => {
            let inner = compile_node(operand)?;
            let key = compile_node(index)?;
            if let (Some(_), Node::Const(Value::Str(k))) = (path_of(&inner), &key) {
                let k = k.clone();
                if let Node::Path { mut path, slot } = inner {
                    path.push(k);
                    return Ok(Node::Path { path, slot });
                }
            }
            let c = is_const(&inner) && is_const(&key);
            fold(Node::Index(Box::new(inner), Box::new(key)), c)
        }
        Expr::List { items, .. } => {
            let nodes = items.iter().map(compile_node).collect::<Result<Vec<_>, _>>()?;
            let c = nodes.iter().all(is_const);
            fold(Node::List(nodes), c)
        }
        Expr::Map { entries, .. } => {
            let mut nodes = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                nodes.push((compile_node(k)?, compile_node(v)?));
            }
            let c = nodes.iter().all(|(k, v)| is_const(k) && is_const(v));
            fold(Node::MapLit(nodes), c)
        }
        Expr::Unary { neg, operand, .. } => {
            let inner = compile_node(operand)?;
            let c = is_const(&inner);
            if *neg {
                fold(Node::Neg(Box::new(inner)), c)
            } else {
                fold(Node::Not(Box::new(inner)), c)
            }
        }
        Expr::Logical { and, operands, .. } => {
            let nodes = operands.iter().map(compile_node).collect::<Result<Vec<_>, _>>()?;
            let c = nodes.iter().all(is_const);
            fold(Node::Logical { and: *and, operands: nodes }, c)
        }
        Expr::Cond { cond, then, other, .. } => {
            let c = compile_node(cond)?;
            let t = compile_node(then)?;
            let o = compile_node(other)?;
            match c {
                Node::Const(Value::Bool(true)) => t,
                Node::Const(Value::Bool(false)) => o,
                c => Node::Cond(Box::new(c), Box::new(t), Box::new(o)),
            }
        }
        Expr::Binary { op, left, right, .. } => compile_binary(*op, left, right)?,
        Expr::Call { .. } => compile_call(expr)?,
    })
}

fn mirror(op: &'static str) -> &'static str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        _ => "<=",
    }
}

fn compile_binary(op: BinOp, left: &Expr, right: &Expr) -> Result<Node, SyntaxError> {
    let mut l = compile_node(left)?;
    let mut r = compile_node(right)?;
    let both = is_const(&l) && is_const(&r);
    Ok(match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
            fold(Node::Arith { op: op.text(), left: Box::new(l), right: Box::new(r) }, both)
        }
        BinOp::Eq | BinOp::Ne => {
            // a constant on the left is compared as if written on the right
            if is_const(&l) && !is_const(&r) {
                std::mem::swap(&mut l, &mut r);
            }
            fold(Node::Eq { left: Box::new(l), right: Box::new(r), negate: op == BinOp::Ne }, both)
        }
        BinOp::In | BinOp::NotIn => {
            let negate = op == BinOp::NotIn;
            if !is_const(&l) {
                if let Node::Const(Value::List(items)) = &r {
                    let scalar = |v: &Value| {
                        matches!(v, Value::Null | Value::Bool(_) | Value::Int(_) | Value::Str(_))
                            || matches!(v, Value::Double(d) if !d.is_nan())
                    };
                    if !items.is_empty() && items.iter().all(scalar) {
                        let keys = items.iter().filter_map(index_key).collect();
                        let kinds: HashSet<Kind> = items.iter().map(Value::kind).filter(|k| *k != Kind::Null).collect();
                        let kind = if kinds.len() == 1 { kinds.into_iter().next() } else { None };
                        let items = r_value_clone(&r);
                        return Ok(Node::InSet { left: Box::new(l), keys, kind, items, negate });
                    }
                }
            }
            fold(Node::In { left: Box::new(l), right: Box::new(r), negate }, both)
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let mut op = op.text();
            if is_const(&l) && !is_const(&r) {
                std::mem::swap(&mut l, &mut r);
                op = mirror(op);
            }
            fold(Node::Compare { op, left: Box::new(l), right: Box::new(r) }, both)
        }
    })
}

fn compile_call(expr: &Expr) -> Result<Node, SyntaxError> {
    let Expr::Call { name, target, args, .. } = expr else {
        return Err(SyntaxError::new("internal: not a call", expr.offset()));
    };
    if let Some(target) = target {
        let kind = match name.as_str() {
            "all" => Some(MacroKind::All),
            "exists" => Some(MacroKind::Exists),
            "exists_one" => Some(MacroKind::ExistsOne),
            "filter" => Some(MacroKind::Filter),
            "map" => Some(MacroKind::Map),
            _ => None,
        };
        if let Some(kind) = kind {
            let Some(Expr::Ident { name: var, .. }) = args.first() else {
                return Err(SyntaxError::new("internal: macro without a variable", expr.offset()));
            };
            let body = args.iter().skip(1).map(compile_node).collect::<Result<Vec<_>, _>>()?;
            return Ok(Node::Macro {
                kind,
                target: Box::new(compile_node(target)?),
                var: Arc::from(var.as_str()),
                body,
            });
        }
    }
    if name == "has" {
        let Some(Expr::Select { operand, field, .. }) = args.first() else {
            return Err(SyntaxError::new("internal: has() without a selection", expr.offset()));
        };
        let inner = compile_node(operand)?;
        let c = is_const(&inner);
        return Ok(fold(Node::Has(Box::new(inner), Arc::from(field.as_str())), c));
    }
    let mut operands = Vec::new();
    if let Some(target) = target {
        operands.push(compile_node(target)?);
    }
    for arg in args {
        operands.push(compile_node(arg)?);
    }
    let all_const = operands.iter().all(is_const);
    let mut operands = operands.into_iter();
    let (Some(first), second) = (operands.next(), operands.next()) else {
        return Err(SyntaxError::new("internal: call without operands", expr.offset()));
    };
    Ok(match (name.as_str(), second) {
        ("matches", Some(Node::Const(Value::Str(pattern)))) => {
            let regex = compile_regex(&pattern, false).map_err(|reason| {
                let offset = args.last().map_or(expr.offset(), Expr::start_offset);
                SyntaxError::new(format!("invalid regular expression `{pattern}`: {reason}"), offset)
            })?;
            fold(Node::MatchesLiteral(Box::new(first), Arc::new(regex)), all_const)
        }
        ("matches", Some(pattern)) => fold(Node::MatchesDynamic(Box::new(first), Box::new(pattern)), all_const),
        (test @ ("contains" | "startsWith" | "endsWith"), Some(arg)) => {
            let name: &'static str = match test {
                "contains" => "contains",
                "startsWith" => "startsWith",
                _ => "endsWith",
            };
            fold(Node::StringTest { name, target: Box::new(first), arg: Box::new(arg) }, all_const)
        }
        (function, None) => {
            let unary = match function {
                "size" => Unary::Size,
                "int" => Unary::Int,
                "double" => Unary::Double,
                "string" => Unary::String,
                "lowerAscii" => Unary::LowerAscii,
                "upperAscii" => Unary::UpperAscii,
                _ => return Err(SyntaxError::new(format!("internal: unknown function `{function}`"), expr.offset())),
            };
            fold(Node::Unary(unary, Box::new(first)), all_const)
        }
        (function, Some(_)) => {
            return Err(SyntaxError::new(format!("internal: unknown function `{function}`"), expr.offset()))
        }
    })
}

// -- evaluation ----------------------------------------------------------------------------

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
        _ => false,
    }
}

/// Renders a path as a condition would spell it: `args.to`, `args['x-y']`.
fn path_text(path: &[Arc<str>]) -> String {
    let mut out = String::new();
    for (i, key) in path.iter().enumerate() {
        if i == 0 {
            out.push_str(key);
        } else if is_identifier(key) {
            out.push('.');
            out.push_str(key);
        } else {
            out.push('[');
            out.push_str(&py_repr_str(key));
            out.push(']');
        }
    }
    out
}

/// A value an operator reads: lent by a constant or the request's memo, or computed.
enum Operand<'v> {
    Lent(&'v Value),
    Made(Value),
}

impl std::ops::Deref for Operand<'_> {
    type Target = Value;

    fn deref(&self) -> &Value {
        match self {
            Operand::Lent(value) => value,
            Operand::Made(value) => value,
        }
    }
}

impl Operand<'_> {
    fn into_value(self) -> Value {
        match self {
            Operand::Lent(value) => value.clone(),
            Operand::Made(value) => value,
        }
    }
}

/// Evaluates an operand, lending constants and numbered paths instead of copying them.
fn operand<'v, 'e: 'v>(node: &'v Node, env: &mut Env<'e>) -> Result<Operand<'v>, EvalError> {
    match node {
        Node::Const(value) => Ok(Operand::Lent(value)),
        Node::Path { path, slot } => {
            if *slot != NO_SLOT {
                if let Some(resolved) = env.memo.and_then(|memo| memo.get(*slot, path)) {
                    return match resolved {
                        Resolved::Found(value) => Ok(Operand::Lent(value)),
                        other => Err(lookup_error(path, other)),
                    };
                }
            }
            lookup(path, *slot, env).map(Operand::Made)
        }
        other => eval(other, env).map(Operand::Made),
    }
}

fn lookup(path: &[Arc<str>], slot: usize, env: &Env<'_>) -> Result<Value, EvalError> {
    let Some(root) = path.first() else {
        return Err(EvalError::new("internal: empty path"));
    };
    let resolved = if slot != NO_SLOT {
        // a numbered path starts with a request variable, which no macro variable may hide
        env.activation.resolve_slot(slot, path)
    } else {
        match env.vars.iter().rev().find(|(name, _)| name == root) {
            // a macro variable: its value is already an engine value
            Some((_, value)) => {
                let mut scope = Map::with_capacity(1);
                scope.insert(root.to_string(), value.clone());
                scope.resolve(path)
            }
            None => env.activation.resolve(path),
        }
    };
    match resolved {
        Resolved::Found(value) => Ok(value),
        other => Err(lookup_error(path, &other)),
    }
}

/// Why a path could not be read (for every resolution but `Found`).
fn lookup_error(path: &[Arc<str>], resolved: &Resolved) -> EvalError {
    let root = path.first().map_or("", |r| &**r);
    match resolved {
        Resolved::Found(_) => EvalError::new("internal: a found value is not an error"),
        Resolved::Unset => EvalError::new(format!("variable `{root}` is not set in this request")),
        Resolved::NotAMap { depth, found } => {
            let key = path.get(*depth).map_or("", |k| &**k);
            let at = path_text(path.get(..*depth).unwrap_or(path));
            if found.is_opaque() {
                EvalError::new(format!(
                    "cannot select `{key}`: `{at}` is {}, which conditions cannot inspect",
                    found.a_type()
                ))
            } else {
                EvalError::new(format!("cannot select `{key}`: `{at}` is {}, not a map", found.a_type()))
            }
        }
        Resolved::NoKey { depth } => {
            let key = path.get(*depth).map_or("", |k| &**k);
            EvalError::new(format!("no such key `{key}` in `{}`", path_text(path.get(..*depth).unwrap_or(path))))
        }
        Resolved::Unreadable(reason) => EvalError::new(reason.clone()),
    }
}

fn map_is_opaque(map: &Map) -> bool {
    map.len() == 1 && (map.contains_key("$opaque") || map.contains_key("$bytes"))
}

fn r_value_clone(node: &Node) -> Value {
    match node {
        Node::Const(value) => value.clone(),
        _ => Value::Null,
    }
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn eval(node: &Node, env: &mut Env<'_>) -> Result<Value, EvalError> {
    match node {
        Node::Const(value) => Ok(value.clone()),
        Node::Path { .. } => operand(node, env).map(Operand::into_value),
        Node::Select(target, field) => match &*operand(target, env)? {
            Value::Map(map) if !map_is_opaque(map) => match map.get(&**field) {
                Some(v) => Ok(v.clone()),
                None => Err(EvalError::new(format!("no such key `{field}`"))),
            },
            other => Err(EvalError::new(format!("cannot select `{field}` on {}, only on a map", other.a_type()))),
        },
        Node::Index(target, index) => {
            let container = operand(target, env)?;
            let key = operand(index, env)?;
            index_value(&container, &key)
        }
        Node::List(items) => {
            env.charge(LIST_ELEMENT_BYTES * items.len())?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(eval(item, env)?);
            }
            Ok(Value::List(Arc::new(out)))
        }
        Node::MapLit(entries) => {
            env.charge(MAP_ENTRY_BYTES * entries.len())?;
            let mut out = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let key = eval(k, env)?;
                let Value::Str(key) = key else {
                    return Err(EvalError::new(format!("map keys must be strings, got {}", key.type_name())));
                };
                if out.contains_key(&*key) {
                    return Err(EvalError::new(format!("duplicate map key `{key}`")));
                }
                let value = eval(v, env)?;
                out.insert(key.to_string(), value);
            }
            Ok(Value::Map(Arc::new(out)))
        }
        Node::Not(target) => match &*operand(target, env)? {
            Value::Bool(b) => Ok(Value::Bool(!b)),
            other => Err(no_overload1("!", other)),
        },
        Node::Neg(target) => negate(&*operand(target, env)?),
        Node::Logical { and, operands } => logical(*and, operands, env),
        Node::Cond(cond, then, other) => match eval(cond, env)? {
            Value::Bool(true) => eval(then, env),
            Value::Bool(false) => eval(other, env),
            flag => Err(EvalError::new(format!("the condition of `?:` must be a bool, got {}", flag.type_name()))),
        },
        Node::Eq { left, right, negate } => {
            let x = operand(left, env)?;
            let y = operand(right, env)?;
            Ok(Value::Bool(cel_eq(&x, &y)? != *negate))
        }
        Node::In { left, right, negate } => {
            let x = operand(left, env)?;
            let y = operand(right, env)?;
            Ok(Value::Bool(cel_in(&x, &y)? != *negate))
        }
        Node::InSet { left, keys, kind, items, negate } => {
            let x = operand(left, env)?;
            in_set(&x, keys, *kind, items, *negate).map(Value::Bool)
        }
        Node::Compare { op, left, right } => {
            let x = operand(left, env)?;
            let y = operand(right, env)?;
            compare(op, &x, &y).map(Value::Bool)
        }
        Node::Arith { op, left, right } => {
            let x = operand(left, env)?;
            let y = operand(right, env)?;
            if *op == "+" {
                // the one operator that builds strings and lists: charged before it builds them
                match (&*x, &*y) {
                    (Value::Str(a), Value::Str(b)) => env.charge(a.len() + b.len())?,
                    (Value::List(a), Value::List(b)) => env.charge(LIST_ELEMENT_BYTES * (a.len() + b.len()))?,
                    _ => {}
                }
            }
            arithmetic(op, &x, &y)
        }
        Node::Has(target, field) => match &*operand(target, env)? {
            Value::Map(map) if !map_is_opaque(map) => Ok(Value::Bool(map.contains_key(&**field))),
            other => Err(EvalError::new(format!("has() needs a map before `.{field}`, got {}", other.type_name()))),
        },
        Node::MatchesLiteral(target, regex) => match &*operand(target, env)? {
            Value::Str(text) => Ok(Value::Bool(regex.is_match(text))),
            other => Err(EvalError::new(format!("no such overload: {}.matches(string)", other.type_name()))),
        },
        Node::MatchesDynamic(target, pattern) => {
            let text = operand(target, env)?;
            let pattern = operand(pattern, env)?;
            matches_value(&text, &pattern).map(Value::Bool)
        }
        Node::StringTest { name, target, arg } => {
            let value = operand(target, env)?;
            let other = operand(arg, env)?;
            string_test(name, &value, &other).map(Value::Bool)
        }
        Node::Unary(function, target) => {
            let value = operand(target, env)?;
            match (function, &*value) {
                (Unary::LowerAscii | Unary::UpperAscii, Value::Str(s)) => env.charge(s.len())?,
                (Unary::String, _) => {
                    let text = call_unary(*function, &value)?;
                    if let Value::Str(s) = &text {
                        env.charge(s.len())?;
                    }
                    return Ok(text);
                }
                _ => {}
            }
            call_unary(*function, &value)
        }
        Node::Macro { kind, target, var, body } => run_macro(*kind, target, var, body, env),
    }
}

/// `x in [literals]` (negated for `not in`).
fn in_set(x: &Value, keys: &FastSet<Key>, kind: Option<Kind>, items: &Value, negate: bool) -> Result<bool, EvalError> {
    if let Some(key) = index_key(x) {
        if keys.contains(&key) {
            return Ok(!negate);
        }
        if kind == Some(x.kind()) {
            return Ok(negate);
        }
    }
    Ok(cel_in(x, items)? != negate)
}

/// The most common condition shapes, a numbered path compared with a literal (`args.n > 5`,
/// `action.type == 'drop'`, `action.type in ['a', 'b']`), decided without setting up a general
/// evaluation: the same operations `eval` applies to the same operands, in the same order.
/// None for any other shape.
fn path_against_literal(root: &Node, memo: &Memo<'_>) -> Option<Result<bool, EvalError>> {
    let (left, literal) = match root {
        Node::Compare { left, right, .. } | Node::Eq { left, right, .. } => match &**right {
            Node::Const(value) => (left, Some(value)),
            _ => return None,
        },
        Node::InSet { left, .. } => (left, None),
        _ => return None,
    };
    let Node::Path { path, slot } = &**left else {
        return None;
    };
    if *slot == NO_SLOT {
        return None;
    }
    let x = match memo.get(*slot, path)? {
        Resolved::Found(value) => value,
        other => return Some(Err(lookup_error(path, other))),
    };
    Some(match (root, literal) {
        (Node::Compare { op, .. }, Some(y)) => compare(op, x, y),
        (Node::Eq { negate, .. }, Some(y)) => cel_eq(x, y).map(|equal| equal != *negate),
        (Node::InSet { keys, kind, items, negate, .. }, None) => in_set(x, keys, *kind, items, *negate),
        _ => return None,
    })
}

fn index_value(container: &Value, key: &Value) -> Result<Value, EvalError> {
    match container {
        Value::List(items) => {
            let Value::Int(i) = key else {
                return Err(EvalError::new(format!("a list index must be an int, got {}", key.type_name())));
            };
            // CEL has no negative indexing: `list[-1]` is out of range, not the last element
            match usize::try_from(*i).ok().and_then(|i| items.get(i)) {
                Some(v) => Ok(v.clone()),
                None => Err(EvalError::new(format!("index `{i}` is out of range for a list of size {}", items.len()))),
            }
        }
        Value::Map(map) if !map_is_opaque(map) => {
            if let Value::Str(k) = key {
                if let Some(v) = map.get(&**k) {
                    return Ok(v.clone());
                }
            }
            Err(EvalError::new(format!("no such key `{}`", py_str(key))))
        }
        other => Err(EvalError::new(format!("cannot index {}", other.a_type()))),
    }
}

fn logic_error(and: bool, value: &Value) -> EvalError {
    let op = if and { "&&" } else { "||" };
    EvalError::new(format!("`{op}` needs bool operands, got {}", value.type_name()))
}

/// `&&` and `||` are commutative with respect to errors: an operand equal to the absorbing value
/// decides even if another operand errored; otherwise the first error wins.
fn logical(and: bool, operands: &[Node], env: &mut Env<'_>) -> Result<Value, EvalError> {
    let absorbing = !and;
    let mut error: Option<EvalError> = None;
    for operand in operands {
        match eval(operand, env) {
            Err(e) => {
                if error.is_none() {
                    error = Some(e);
                }
            }
            Ok(value) => match as_bool(&value) {
                Some(b) if b == absorbing => return Ok(Value::Bool(b)),
                Some(_) => {}
                None => {
                    if error.is_none() {
                        error = Some(logic_error(and, &value));
                    }
                }
            },
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(Value::Bool(and)),
    }
}

fn macro_name(kind: MacroKind) -> &'static str {
    match kind {
        MacroKind::All => "all",
        MacroKind::Exists => "exists",
        MacroKind::ExistsOne => "exists_one",
        MacroKind::Filter => "filter",
        MacroKind::Map => "map",
    }
}

fn not_bool(kind: MacroKind, value: &Value) -> EvalError {
    EvalError::new(format!("the predicate of `{}` must be a bool, got {}", macro_name(kind), value.type_name()))
}

fn run_macro(
    kind: MacroKind,
    target: &Node,
    var: &Arc<str>,
    body: &[Node],
    env: &mut Env<'_>,
) -> Result<Value, EvalError> {
    let range = eval(target, env)?;
    let items: Vec<Value> = match &range {
        Value::List(items) => items.iter().cloned().collect(),
        // iterating a map yields its keys, as in CEL
        Value::Map(map) if !map_is_opaque(map) => map.keys().map(|k| Value::str(k)).collect(),
        other => {
            return Err(EvalError::new(format!(
                "`{}` needs a list or a map, got {}",
                macro_name(kind),
                other.type_name()
            )))
        }
    };
    env.vars.push((var.clone(), Value::Null));
    let result = iterate(kind, &items, body, env);
    env.vars.pop();
    result
}

fn step(env: &mut Env<'_>, item: &Value) -> Result<(), EvalError> {
    let steps = env.steps + 1;
    if steps > env.max_steps {
        return Err(EvalError::new(format!(
            "condition exceeded {} macro iterations (limit max_eval_steps)",
            env.max_steps
        )));
    }
    env.steps = steps;
    if let Some(slot) = env.vars.last_mut() {
        slot.1 = item.clone();
    }
    Ok(())
}

fn iterate(kind: MacroKind, items: &[Value], body: &[Node], env: &mut Env<'_>) -> Result<Value, EvalError> {
    let Some(first) = body.first() else {
        return Err(EvalError::new("internal: macro without a body"));
    };
    match kind {
        MacroKind::All | MacroKind::Exists => {
            let absorbing = kind == MacroKind::Exists;
            let mut error: Option<EvalError> = None;
            for item in items {
                step(env, item)?;
                match eval(first, env) {
                    Err(e) => {
                        if error.is_none() {
                            error = Some(e);
                        }
                    }
                    Ok(value) => match as_bool(&value) {
                        Some(b) if b == absorbing => return Ok(Value::Bool(b)),
                        Some(_) => {}
                        None => {
                            if error.is_none() {
                                error = Some(not_bool(kind, &value));
                            }
                        }
                    },
                }
            }
            match error {
                Some(e) => Err(e),
                None => Ok(Value::Bool(!absorbing)),
            }
        }
        MacroKind::ExistsOne => {
            let mut count = 0usize;
            for item in items {
                step(env, item)?;
                let value = eval(first, env)?;
                match as_bool(&value) {
                    Some(true) => count += 1,
                    Some(false) => {}
                    None => return Err(not_bool(kind, &value)),
                }
            }
            Ok(Value::Bool(count == 1))
        }
        MacroKind::Filter | MacroKind::Map if kind == MacroKind::Filter || body.len() == 2 => {
            let transform = if kind == MacroKind::Map { body.get(1) } else { None };
            let mut out = Vec::new();
            for item in items {
                step(env, item)?;
                let keep = eval(first, env)?;
                match as_bool(&keep) {
                    Some(true) => {
                        let value = match transform {
                            Some(t) => eval(t, env)?,
                            None => item.clone(),
                        };
                        env.charge(LIST_ELEMENT_BYTES)?;
                        out.push(value);
                    }
                    Some(false) => {}
                    None => return Err(not_bool(kind, &keep)),
                }
            }
            Ok(Value::List(Arc::new(out)))
        }
        MacroKind::Filter | MacroKind::Map => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                step(env, item)?;
                let value = eval(first, env)?;
                env.charge(LIST_ELEMENT_BYTES)?;
                out.push(value);
            }
            Ok(Value::List(Arc::new(out)))
        }
    }
}
