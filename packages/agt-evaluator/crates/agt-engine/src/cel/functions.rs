//! The functions conditions can call: sizes, string tests, RE2 matching and conversions.

use std::sync::Arc;

use super::ops::cmp_int_double;
use super::regex::dynamic_regex;
use super::EvalError;
use crate::value::{format_double, Value};

/// The one-argument functions and methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    Size,
    Int,
    Double,
    String,
    LowerAscii,
    UpperAscii,
}

/// Applies a one-argument function.
pub fn call_unary(function: Unary, value: &Value) -> Result<Value, EvalError> {
    match function {
        Unary::Size => size(value),
        Unary::Int => to_int(value),
        Unary::Double => to_double(value),
        Unary::String => to_string(value),
        Unary::LowerAscii => match value {
            Value::Str(s) => Ok(Value::Str(Arc::from(s.to_ascii_lowercase()))),
            other => Err(EvalError::new(format!("no such overload: {}.lowerAscii()", other.type_name()))),
        },
        Unary::UpperAscii => match value {
            Value::Str(s) => Ok(Value::Str(Arc::from(s.to_ascii_uppercase()))),
            other => Err(EvalError::new(format!("no such overload: {}.upperAscii()", other.type_name()))),
        },
    }
}

fn size(value: &Value) -> Result<Value, EvalError> {
    let n = match value {
        Value::Str(s) => s.chars().count(),
        Value::List(items) => items.len(),
        Value::Map(map) if !value.is_opaque() => map.len(),
        other => return Err(EvalError::new(format!("no such overload: size({})", other.type_name()))),
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn to_int(value: &Value) -> Result<Value, EvalError> {
    match value {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Double(d) => {
            let t = d.trunc();
            // CEL excludes -2^63 too: the double bounds are exclusive (cel-spec conversions tests)
            let in_range = d.is_finite()
                && cmp_int_double(i64::MIN, t) == Some(std::cmp::Ordering::Less)
                && cmp_int_double(i64::MAX, t) != Some(std::cmp::Ordering::Less);
            if in_range {
                Ok(Value::Int(t as i64))
            } else {
                Err(EvalError::new(format!("int() of `{}` is out of the int range", format_double(*d))))
            }
        }
        Value::Str(s) => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                match s.parse::<i64>() {
                    Ok(i) => Ok(Value::Int(i)),
                    Err(_) => Err(EvalError::new(format!("int() of `{s}` is out of the int range"))),
                }
            } else {
                Err(EvalError::new(format!("int() cannot convert `{s}`: not a decimal integer")))
            }
        }
        other => Err(EvalError::new(format!("no such overload: int({})", other.type_name()))),
    }
}

/// Python's `float()` on ASCII text without surrounding whitespace or underscores.
fn parse_python_float(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let negative = text.starts_with('-');
    let lower = body.to_ascii_lowercase();
    let special = match lower.as_str() {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    };
    if let Some(v) = special {
        return Some(if negative { -v } else { v });
    }
    // digits, an optional fraction, an optional exponent: nothing else
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
        mantissa_digits += 1;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse().ok()
}

fn to_double(value: &Value) -> Result<Value, EvalError> {
    match value {
        Value::Double(d) => Ok(Value::Double(*d)),
        Value::Int(i) => Ok(Value::Double(*i as f64)),
        Value::Str(s) => {
            let python_strip = |c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c);
            let clean = s.is_ascii() && s.trim_matches(python_strip) == &**s && !s.contains('_');
            match clean.then(|| parse_python_float(s)).flatten() {
                Some(d) => Ok(Value::Double(d)),
                None => Err(EvalError::new(format!("double() cannot convert `{s}`: not a number"))),
            }
        }
        other => Err(EvalError::new(format!("no such overload: double({})", other.type_name()))),
    }
}

fn to_string(value: &Value) -> Result<Value, EvalError> {
    match value {
        Value::Str(s) => Ok(Value::Str(s.clone())),
        Value::Int(i) => Ok(Value::str(&i.to_string())),
        Value::Double(d) => Ok(Value::str(&format_double(*d))),
        Value::Bool(b) => Ok(Value::str(if *b { "true" } else { "false" })),
        other => Err(EvalError::new(format!("no such overload: string({})", other.type_name()))),
    }
}

/// `text.contains(s)`, `text.startsWith(s)`, `text.endsWith(s)`.
pub fn string_test(name: &str, value: &Value, arg: &Value) -> Result<bool, EvalError> {
    match (value, arg) {
        (Value::Str(v), Value::Str(a)) => Ok(match name {
            "contains" => v.contains(&**a),
            "startsWith" => v.starts_with(&**a),
            _ => v.ends_with(&**a),
        }),
        _ => Err(EvalError::new(format!("no such overload: {}.{name}({})", value.type_name(), arg.type_name()))),
    }
}

/// `text.matches(pattern)` with a pattern only known at evaluation time.
pub fn matches_value(text: &Value, pattern: &Value) -> Result<bool, EvalError> {
    let (Value::Str(t), Value::Str(p)) = (text, pattern) else {
        return Err(EvalError::new(format!("no such overload: {}.matches({})", text.type_name(), pattern.type_name())));
    };
    match dynamic_regex(p) {
        Ok(regex) => Ok(regex.is_match(t)),
        // the decision carries this message and both evaluators must agree on it: the regex
        // libraries word their reasons differently, so only the pattern is named
        Err(_) => Err(EvalError::new(format!("invalid regular expression `{p}`"))),
    }
}
