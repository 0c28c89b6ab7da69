//! Compile-time checks: unknown variables, functions and methods, argument counts, malformed
//! macros, `in []` with an empty list literal (a silent fail-open), bad map-literal keys, and
//! macros nested past the limit.

use super::ast::{BinOp, Expr};
use super::{Limits, SyntaxError};
use crate::value::Value;

/// The variables conditions can read, in the order error messages list them.
pub const VARIABLES: [&str; 8] = ["action", "args", "agent", "context", "stage", "result", "sql", "k8s"];

/// Functions (called as `name(x)`) and their argument counts.
pub const FUNCTIONS: [(&str, &[usize]); 6] =
    [("has", &[1]), ("size", &[1]), ("int", &[1]), ("double", &[1]), ("string", &[1]), ("matches", &[2])];

/// Methods (called as `x.name()`) and their argument counts.
pub const METHODS: [(&str, &[usize]); 7] = [
    ("size", &[0]),
    ("contains", &[1]),
    ("startsWith", &[1]),
    ("endsWith", &[1]),
    ("matches", &[1]),
    ("lowerAscii", &[0]),
    ("upperAscii", &[0]),
];

/// Macros and their argument counts (the variable included).
pub const MACROS: [(&str, &[usize]); 5] =
    [("all", &[2]), ("exists", &[2]), ("exists_one", &[2]), ("filter", &[2]), ("map", &[2, 3])];

fn lookup(table: &[(&str, &'static [usize])], name: &str) -> Option<&'static [usize]> {
    table.iter().find(|(n, _)| *n == name).map(|(_, counts)| *counts)
}

fn arity_text(counts: &[usize]) -> String {
    let text: Vec<String> = counts.iter().map(usize::to_string).collect();
    let plural = if counts == [1] { "" } else { "s" };
    format!("{} argument{plural}", text.join(" or "))
}

/// Checks names, arities, macros and literal mistakes in a parsed condition.
pub fn check(expr: &Expr, limits: &Limits) -> Result<(), SyntaxError> {
    let mut scope = Vec::new();
    check_node(expr, &mut scope, 0, limits)
}

fn check_node(node: &Expr, scope: &mut Vec<String>, macro_depth: usize, limits: &Limits) -> Result<(), SyntaxError> {
    match node {
        Expr::Lit { .. } => Ok(()),
        Expr::Ident { name, offset } => {
            if scope.iter().any(|s| s == name) || VARIABLES.contains(&name.as_str()) {
                return Ok(());
            }
            let extra: String = scope.iter().map(|v| format!(", {v}")).collect();
            Err(SyntaxError::new(
                format!("unknown variable `{name}`; conditions can use {}{extra}", VARIABLES.join(", ")),
                *offset,
            ))
        }
        Expr::Select { operand, .. } => check_node(operand, scope, macro_depth, limits),
        Expr::Index { operand, index, .. } => {
            check_node(operand, scope, macro_depth, limits)?;
            check_node(index, scope, macro_depth, limits)
        }
        Expr::List { items, .. } => {
            for item in items {
                check_node(item, scope, macro_depth, limits)?;
            }
            Ok(())
        }
        Expr::Map { entries, .. } => {
            let mut seen: Vec<&str> = Vec::new();
            for (key, value) in entries {
                if let Expr::Lit { value: literal, offset } = key {
                    let Value::Str(text) = literal else {
                        return Err(SyntaxError::new("map keys must be strings", *offset));
                    };
                    if seen.contains(&&**text) {
                        return Err(SyntaxError::new(format!("duplicate map key `{text}`"), *offset));
                    }
                    seen.push(text);
                }
                check_node(key, scope, macro_depth, limits)?;
                check_node(value, scope, macro_depth, limits)?;
            }
            Ok(())
        }
        Expr::Unary { operand, .. } => check_node(operand, scope, macro_depth, limits),
        Expr::Binary { op, left, right, .. } => {
            if matches!(op, BinOp::In | BinOp::NotIn) {
                if let Expr::List { items, offset, .. } = &**right {
                    if items.is_empty() {
                        let message = if *op == BinOp::In {
                            "`in []` is always false, so this test can never match; list the values"
                        } else {
                            "`not in []` is always true, so this test can never fail; list the values"
                        };
                        return Err(SyntaxError::new(message, *offset));
                    }
                }
            }
            check_node(left, scope, macro_depth, limits)?;
            check_node(right, scope, macro_depth, limits)
        }
        Expr::Logical { operands, .. } => {
            for operand in operands {
                check_node(operand, scope, macro_depth, limits)?;
            }
            Ok(())
        }
        Expr::Cond { cond, then, other, .. } => {
            check_node(cond, scope, macro_depth, limits)?;
            check_node(then, scope, macro_depth, limits)?;
            check_node(other, scope, macro_depth, limits)
        }
        Expr::Call { name, target: None, args, offset, .. } => {
            let Some(counts) = lookup(&FUNCTIONS, name) else {
                if lookup(&METHODS, name).is_some() || lookup(&MACROS, name).is_some() {
                    return Err(SyntaxError::new(format!("`{name}` is a method: write `value.{name}(…)`"), *offset));
                }
                let names: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
                return Err(SyntaxError::new(
                    format!("unknown function `{name}`; functions are {}", names.join(", ")),
                    *offset,
                ));
            };
            check_arity(name, args.len(), counts, *offset)?;
            if name == "has" {
                if let Some(arg) = args.first() {
                    if !matches!(arg, Expr::Select { .. }) {
                        return Err(SyntaxError::new(
                            "has() takes a field selection, like `has(args.amount)`",
                            arg.start_offset(),
                        ));
                    }
                }
            }
            for arg in args {
                check_node(arg, scope, macro_depth, limits)?;
            }
            Ok(())
        }
        Expr::Call { name, target: Some(target), args, offset, .. } => {
            if let Some(counts) = lookup(&MACROS, name) {
                return check_macro(name, target, args, *offset, counts, scope, macro_depth, limits);
            }
            let Some(counts) = lookup(&METHODS, name) else {
                if lookup(&FUNCTIONS, name).is_some() {
                    let hint = if name == "has" { "has(x.field)".to_string() } else { format!("{name}(value)") };
                    return Err(SyntaxError::new(
                        format!("`{name}` is a function, not a method: write `{hint}`"),
                        *offset,
                    ));
                }
                let names: Vec<&str> = METHODS.iter().chain(MACROS.iter()).map(|(n, _)| *n).collect();
                return Err(SyntaxError::new(
                    format!("unknown method `{name}`; methods are {}", names.join(", ")),
                    *offset,
                ));
            };
            check_arity(name, args.len(), counts, *offset)?;
            check_node(target, scope, macro_depth, limits)?;
            for arg in args {
                check_node(arg, scope, macro_depth, limits)?;
            }
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_macro(
    name: &str,
    target: &Expr,
    args: &[Expr],
    offset: usize,
    counts: &[usize],
    scope: &mut Vec<String>,
    macro_depth: usize,
    limits: &Limits,
) -> Result<(), SyntaxError> {
    check_arity(name, args.len(), counts, offset)?;
    let Some(var) = args.first() else {
        return Ok(());
    };
    let Expr::Ident { name: var_name, offset: var_offset } = var else {
        return Err(SyntaxError::new(
            format!("the first argument of `{name}` must be a variable name, like `x`"),
            var.start_offset(),
        ));
    };
    if VARIABLES.contains(&var_name.as_str()) || scope.contains(var_name) {
        return Err(SyntaxError::new(
            format!("macro variable `{var_name}` would hide the variable of the same name; pick another name"),
            *var_offset,
        ));
    }
    if macro_depth + 1 > limits.max_comprehension_nesting {
        return Err(SyntaxError::new(
            format!(
                "macros nest deeper than {} levels (limit max_comprehension_nesting)",
                limits.max_comprehension_nesting
            ),
            offset,
        ));
    }
    check_node(target, scope, macro_depth, limits)?;
    scope.push(var_name.clone());
    let result = args.iter().skip(1).try_for_each(|arg| check_node(arg, scope, macro_depth + 1, limits));
    scope.pop();
    result
}

fn check_arity(name: &str, got: usize, counts: &[usize], offset: usize) -> Result<(), SyntaxError> {
    if counts.contains(&got) {
        return Ok(());
    }
    Err(SyntaxError::new(format!("`{name}` takes {}, got {got}", arity_text(counts)), offset))
}
