//! CEL (Common Expression Language) conditions: lexer, parser, checker, compiler, evaluator.
//!
//! The engine's own implementation rather than the `cel` crate: conditions must decide exactly
//! as the Python evaluator does on every conformance vector, including the `and`/`or`/`not`
//! spellings, the strict typing and error messages, the fail-closed error rules, the resource
//! limits and RE2 semantics for `matches`, and evaluation must only ever return this module's
//! own error (see `docs/agt-evaluator.md` for the comparison).

mod ast;
mod checker;
mod functions;
mod lexer;
mod ops;
mod parser;
mod program;
mod regex;

use std::fmt;

pub use ast::{BinOp, Expr};
pub use checker::VARIABLES;
pub use ops::{cel_eq, index_key, Key};
pub use program::Compiled;

use crate::value::Value;

/// A condition that cannot be compiled; `offset` counts characters from the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

impl SyntaxError {
    pub(crate) fn new(message: impl Into<String>, offset: usize) -> SyntaxError {
        SyntaxError { message: message.into(), offset }
    }

    /// 1-based line and column of the offset within `source`.
    pub fn position(&self, source: &str) -> (usize, usize) {
        let before: Vec<char> = source.chars().take(self.offset).collect();
        let line = before.iter().filter(|&&c| c == '\n').count() + 1;
        let last = before.iter().rposition(|&c| c == '\n').map_or(0, |p| p + 1);
        (line, self.offset - last + 1)
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// A condition that could not be evaluated against a request (fail closed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> EvalError {
        EvalError { message: message.into() }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

/// Bounds that keep a hostile or mistaken condition from costing unbounded time or memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted condition, in characters.
    pub max_source_length: usize,
    /// Most syntax-tree nodes in one condition.
    pub max_ast_nodes: usize,
    /// Deepest nesting of the syntax tree; a chain of `&&` or `||` counts as one level.
    pub max_nesting: usize,
    /// Most macros nested inside each other.
    pub max_comprehension_nesting: usize,
    /// Most macro iterations in one evaluation.
    pub max_eval_steps: usize,
    /// Most bytes of strings, lists and maps one evaluation may build: a string counts its
    /// UTF-8 length, a list 8 bytes per element, a map 16 per entry; values read from the
    /// request and constants folded at compile time count nothing.
    pub max_eval_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_source_length: 4096,
            max_ast_nodes: 1024,
            max_nesting: 48,
            max_comprehension_nesting: 3,
            max_eval_steps: 100_000,
            max_eval_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A top-level conjunct `PATH == LITERAL` or `PATH in [LITERALS]`: the condition can only be
/// true when the value at `path` has one of `keys`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub path: Vec<String>,
    pub keys: Vec<Key>,
}

/// A compiled condition with what it reveals about itself.
#[derive(Debug)]
pub struct Program {
    /// The condition's text.
    pub source: String,
    compiled: Compiled,
    /// Number of operands of the top-level `&&` chain (1 if there is none).
    pub conjunct_count: usize,
    /// Index pins of the top-level conjuncts.
    pub pins: Vec<Pin>,
}

impl Program {
    /// Evaluates the condition, which must produce a bool.
    pub fn evaluate_bool(&self, activation: &dyn crate::activation::Activation) -> Result<bool, EvalError> {
        self.compiled.evaluate_bool(activation)
    }

    /// Evaluates the condition, returning its value.
    pub fn evaluate(&self, activation: &dyn crate::activation::Activation) -> Result<Value, EvalError> {
        self.compiled.evaluate(activation)
    }

    /// Evaluates the condition against a policy set's memo of a request, requiring a bool.
    pub(crate) fn evaluate_bool_in(&self, memo: &crate::activation::Memo<'_>) -> Result<bool, EvalError> {
        self.compiled.evaluate_bool_in(memo)
    }

    /// Numbers the request paths the condition reads (see `PolicySet::paths`).
    pub(crate) fn number_paths(&mut self, slot_of: &mut dyn FnMut(&[std::sync::Arc<str>]) -> usize) {
        self.compiled.number_paths(slot_of);
    }
}

/// Parses a condition without checking or compiling it, for analyses of its syntax tree (the
/// loader's field-path warnings).
pub fn parse_condition(source: &str, limits: &Limits) -> Result<Expr, SyntaxError> {
    let chars: Vec<char> = source.chars().collect();
    parser::parse(&chars, limits)
}

/// Parses, checks and compiles a condition.
pub fn compile_condition(source: &str, limits: &Limits) -> Result<Program, SyntaxError> {
    let chars: Vec<char> = source.chars().collect();
    let expr = parser::parse(&chars, limits)?;
    checker::check(&expr, limits)?;
    let compiled = program::compile(&expr, limits)?;
    let conjuncts = conjuncts(&expr);
    Ok(Program { source: source.to_string(), compiled, conjunct_count: conjuncts.len(), pins: pins(&conjuncts) })
}

fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::Logical { and: true, operands, .. } => operands.iter().collect(),
        other => vec![other],
    }
}

/// The path of a variable followed by field selections and literal string indexes
/// (`args.to`, `context["user"]`), or None for any other expression.
pub(crate) fn literal_path(node: &Expr) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    let mut node = node;
    loop {
        match node {
            Expr::Select { operand, field, .. } => {
                keys.push(field.clone());
                node = operand;
            }
            Expr::Index { operand, index, .. } => match &**index {
                Expr::Lit { value: Value::Str(key), .. } => {
                    keys.push(key.to_string());
                    node = operand;
                }
                _ => return None,
            },
            Expr::Ident { name, .. } if VARIABLES.contains(&name.as_str()) => {
                keys.push(name.clone());
                keys.reverse();
                return Some(keys);
            }
            _ => return None,
        }
    }
}

fn scalar_literal(node: &Expr) -> Option<&Value> {
    match node {
        Expr::Lit { value, .. } if !matches!(value, Value::List(_) | Value::Map(_)) => Some(value),
        _ => None,
    }
}

fn pins(conjuncts: &[&Expr]) -> Vec<Pin> {
    let mut found = Vec::new();
    for node in conjuncts {
        let Expr::Binary { op, left, right, .. } = node else {
            continue;
        };
        match op {
            BinOp::Eq => {
                for (path_side, literal_side) in [(left, right), (right, left)] {
                    if let (Some(path), Some(literal)) = (literal_path(path_side), scalar_literal(literal_side)) {
                        found.push(Pin { path, keys: index_key(literal).into_iter().collect() });
                        break;
                    }
                }
            }
            BinOp::In => {
                if let Expr::List { items, .. } = &**right {
                    let Some(path) = literal_path(left) else {
                        continue;
                    };
                    let literals: Option<Vec<&Value>> = items.iter().map(scalar_literal).collect();
                    if let Some(literals) = literals {
                        if !literals.is_empty() {
                            found.push(Pin { path, keys: literals.into_iter().filter_map(index_key).collect() });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    found
}
