//! Operators on values: equality, membership, ordering, arithmetic, and the index key.
//!
//! Every rule about comparing values of different kinds lives here, so the choice between
//! CEL's heterogeneous equality and the toolkit's strict one is made in exactly one place.

use std::cmp::Ordering;
use std::sync::Arc;

use super::EvalError;
use crate::value::Value;

/// The error for `operation` applied to a value conditions cannot inspect.
pub fn opaque_error(operation: &str, value: &Value) -> EvalError {
    EvalError::new(format!("{operation} on {}: conditions cannot inspect it", value.a_type()))
}

/// `no such overload: <type> <op> <type>` (or the opaque-value error when one operand is opaque).
pub fn no_overload2(op: &str, x: &Value, y: &Value) -> EvalError {
    for v in [x, y] {
        if v.is_opaque() {
            return opaque_error(&format!("`{op}`"), v);
        }
    }
    EvalError::new(format!("no such overload: {} {op} {}", x.type_name(), y.type_name()))
}

/// `no such overload: <op><type>` (or the opaque-value error).
pub fn no_overload1(op: &str, x: &Value) -> EvalError {
    if x.is_opaque() {
        return opaque_error(&format!("`{op}`"), x);
    }
    EvalError::new(format!("no such overload: {op}{}", x.type_name()))
}

/// The error for comparing (`==`, `!=`, `in`) values of different kinds, or an opaque one.
pub fn compare_error(x: &Value, y: &Value) -> EvalError {
    for v in [x, y] {
        if v.is_opaque() {
            return EvalError::new(format!("cannot compare {}: conditions cannot inspect it", v.a_type()));
        }
    }
    EvalError::new(format!(
        "cannot compare {} with {}: values of different kinds are neither equal nor unequal",
        x.a_type(),
        y.a_type()
    ))
}

/// Exact comparison of an int with a double (no rounding of the int).
pub fn cmp_int_double(i: i64, d: f64) -> Option<Ordering> {
    if d.is_nan() {
        return None;
    }
    // 2^63 as a double; every double at or above it is larger than any i64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO_63 {
        return Some(Ordering::Less);
    }
    if d < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let t = d.trunc();
    // |t| < 2^63 so the conversion is exact
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            let frac = d - t;
            if frac > 0.0 {
                Some(Ordering::Less)
            } else if frac < 0.0 {
                Some(Ordering::Greater)
            } else {
                Some(Ordering::Equal)
            }
        }
        other => Some(other),
    }
}

fn num_cmp(x: &Value, y: &Value) -> Option<Option<Ordering>> {
    Some(match (x, y) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Double(a), Value::Double(b)) => a.partial_cmp(b),
        (Value::Int(a), Value::Double(b)) => cmp_int_double(*a, *b),
        (Value::Double(a), Value::Int(b)) => cmp_int_double(*b, *a).map(Ordering::reverse),
        _ => return None,
    })
}

/// Equality, with values of different kinds an error instead of unequal (a deliberate
/// deviation from CEL's heterogeneous equality: `'5' == 5` in a deny rule must fail closed, not
/// be false). `null` is unequal to every other value, never an error; ints and doubles compare
/// as numbers. Lists of different sizes and maps with different keys are unequal; otherwise they
/// are unequal as soon as one pair of elements is, equal when every pair is, and an error when a
/// pair errors and none differs. Opaque values compare with nothing.
pub fn cel_eq(x: &Value, y: &Value) -> Result<bool, EvalError> {
    match (x, y) {
        (Value::Str(a), Value::Str(b)) => Ok(a == b),
        (Value::Bool(a), Value::Bool(b)) => Ok(a == b),
        (Value::Null, Value::Null) => Ok(true),
        (Value::List(a), Value::List(b)) => {
            if a.len() != b.len() {
                return Ok(false);
            }
            all_equal(a.iter().zip(b.iter()))
        }
        (Value::Map(a), Value::Map(b)) if !x.is_opaque() && !y.is_opaque() => {
            if a.len() != b.len() || a.keys().any(|k| !b.contains_key(k)) {
                return Ok(false);
            }
            all_equal(a.iter().filter_map(|(k, p)| b.get(k).map(|q| (p, q))))
        }
        _ => {
            if let Some(ord) = num_cmp(x, y) {
                return Ok(ord == Some(Ordering::Equal));
            }
            let null_vs_other =
                (matches!(x, Value::Null) && !y.is_opaque()) || (matches!(y, Value::Null) && !x.is_opaque());
            if null_vs_other {
                return Ok(false);
            }
            Err(compare_error(x, y))
        }
    }
}

fn all_equal<'a>(pairs: impl Iterator<Item = (&'a Value, &'a Value)>) -> Result<bool, EvalError> {
    let mut error = None;
    for (a, b) in pairs {
        match cel_eq(a, b) {
            Ok(false) => return Ok(false),
            Ok(true) => {}
            Err(e) => {
                if error.is_none() {
                    error = Some(e);
                }
            }
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(true),
    }
}

/// `x in container`: membership in a list, or among a map's keys. True when some element
/// equals `x` (even if comparing with another element errors); otherwise an error when `x`
/// could not be compared with some element; otherwise false. An opaque `x` or container is
/// always an error.
pub fn cel_in(x: &Value, container: &Value) -> Result<bool, EvalError> {
    let keys: Vec<Value>;
    let items: &[Value] = match container {
        Value::List(items) => items,
        Value::Map(map) if !container.is_opaque() => {
            if let Value::Str(key) = x {
                // map keys are strings: a string is found or not, never an error
                return Ok(map.contains_key(&**key));
            }
            keys = map.keys().map(|k| Value::str(k)).collect();
            &keys
        }
        _ => return Err(no_overload2("in", x, container)),
    };
    if x.is_opaque() {
        return Err(opaque_error("`in`", x));
    }
    let mut error = None;
    for item in items {
        match cel_eq(x, item) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => {
                if error.is_none() {
                    error = Some(e);
                }
            }
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(false),
    }
}

fn order(x: &Value, y: &Value) -> Option<Option<Ordering>> {
    if let Some(ord) = num_cmp(x, y) {
        return Some(ord);
    }
    match (x, y) {
        (Value::Str(a), Value::Str(b)) => Some(Some(a.cmp(b))),
        (Value::Bool(a), Value::Bool(b)) => Some(Some(a.cmp(b))),
        _ => None,
    }
}

/// `x < y`, `x <= y`, `x > y`, `x >= y` for numbers (int and double mix), strings or bools.
pub fn compare(op: &str, x: &Value, y: &Value) -> Result<bool, EvalError> {
    let Some(ord) = order(x, y) else {
        return Err(no_overload2(op, x, y));
    };
    Ok(match (op, ord) {
        (_, None) => false,
        ("<", Some(o)) => o == Ordering::Less,
        ("<=", Some(o)) => o != Ordering::Greater,
        (">", Some(o)) => o == Ordering::Greater,
        (_, Some(o)) => o != Ordering::Less,
    })
}

fn overflow(op: &str) -> EvalError {
    EvalError::new(format!("integer overflow in `{op}`"))
}

/// Arithmetic: `+` on ints, doubles, strings and lists; `- * /` on ints and doubles; `%` on ints.
pub fn arithmetic(op: &str, x: &Value, y: &Value) -> Result<Value, EvalError> {
    match (op, x, y) {
        ("+", Value::Int(a), Value::Int(b)) => a.checked_add(*b).map(Value::Int).ok_or_else(|| overflow("+")),
        ("+", Value::Double(a), Value::Double(b)) => Ok(Value::Double(a + b)),
        ("+", Value::Str(a), Value::Str(b)) => {
            let mut text = String::with_capacity(a.len() + b.len());
            text.push_str(a);
            text.push_str(b);
            Ok(Value::Str(Arc::from(text)))
        }
        ("+", Value::List(a), Value::List(b)) => {
            let mut items = Vec::with_capacity(a.len() + b.len());
            items.extend(a.iter().cloned());
            items.extend(b.iter().cloned());
            Ok(Value::List(Arc::new(items)))
        }
        ("-", Value::Int(a), Value::Int(b)) => a.checked_sub(*b).map(Value::Int).ok_or_else(|| overflow("-")),
        ("-", Value::Double(a), Value::Double(b)) => Ok(Value::Double(a - b)),
        ("*", Value::Int(a), Value::Int(b)) => a.checked_mul(*b).map(Value::Int).ok_or_else(|| overflow("*")),
        ("*", Value::Double(a), Value::Double(b)) => Ok(Value::Double(a * b)),
        ("/", Value::Int(a), Value::Int(b)) => {
            if *b == 0 {
                return Err(EvalError::new("division by zero"));
            }
            a.checked_div(*b).map(Value::Int).ok_or_else(|| overflow("/"))
        }
        ("/", Value::Double(a), Value::Double(b)) => Ok(Value::Double(a / b)),
        ("%", Value::Int(a), Value::Int(b)) => {
            if *b == 0 {
                return Err(EvalError::new("modulus by zero"));
            }
            // i64::MIN % -1 is 0, not an overflow: the remainder takes the sign of the dividend
            Ok(Value::Int(a.checked_rem(*b).unwrap_or(0)))
        }
        _ => Err(no_overload2(op, x, y)),
    }
}

/// `-x` on an int (`-i64::MIN` overflows) or a double.
pub fn negate(x: &Value) -> Result<Value, EvalError> {
    match x {
        Value::Int(a) => a.checked_neg().map(Value::Int).ok_or_else(|| overflow("-")),
        Value::Double(a) => Ok(Value::Double(-a)),
        _ => Err(no_overload1("-", x)),
    }
}

/// A hash key for scalars that agrees with equality: two scalars are equal exactly when their
/// keys are equal. Lists and maps have none.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Null,
    Bool(bool),
    /// Ints, and doubles that hold an integer in the i64 range (so `1 == 1.0` share a key).
    Int(i64),
    /// Other doubles by their bits (`-0.0` is `Int(0)`, so signs of zero agree).
    Double(u64),
    /// NaN equals nothing; no literal ever gets this key.
    NaN,
    Str(Arc<str>),
}

/// The index key of a value, or None for lists and maps.
pub fn index_key(value: &Value) -> Option<Key> {
    Some(match value {
        Value::Null => Key::Null,
        Value::Bool(b) => Key::Bool(*b),
        Value::Int(i) => Key::Int(*i),
        Value::Double(d) => {
            if d.is_nan() {
                Key::NaN
            } else if d.trunc() == *d
                && cmp_int_double(i64::MIN, *d) != Some(Ordering::Greater)
                && cmp_int_double(i64::MAX, *d) != Some(Ordering::Less)
            {
                Key::Int(*d as i64)
            } else {
                Key::Double(d.to_bits())
            }
        }
        Value::Str(s) => Key::Str(s.clone()),
        Value::List(_) | Value::Map(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_double_comparison_is_exact() {
        assert_eq!(cmp_int_double(9_007_199_254_740_993, 9_007_199_254_740_992.0), Some(Ordering::Greater));
        assert_eq!(cmp_int_double(i64::MAX, 9_223_372_036_854_775_808.0), Some(Ordering::Less));
        assert_eq!(cmp_int_double(i64::MIN, -9_223_372_036_854_775_808.0), Some(Ordering::Equal));
        assert_eq!(cmp_int_double(1, 1.5), Some(Ordering::Less));
        assert_eq!(cmp_int_double(-1, -1.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_double(0, -0.0), Some(Ordering::Equal));
        assert_eq!(cmp_int_double(0, f64::NAN), None);
    }

    #[test]
    fn keys_agree_with_equality() {
        let values = [
            Value::Int(1),
            Value::Double(1.0),
            Value::Double(-0.0),
            Value::Int(0),
            Value::Bool(true),
            Value::Null,
            Value::str("1"),
            Value::Double(1.5),
            Value::Double(9_223_372_036_854_775_808.0),
            Value::Int(i64::MAX),
        ];
        for x in &values {
            for y in &values {
                // values of different kinds do not compare (an error); equal keys mean equal values
                match cel_eq(x, y) {
                    Ok(equal) => assert_eq!(equal, index_key(x) == index_key(y), "{x:?} {y:?}"),
                    Err(_) => assert_ne!(index_key(x), index_key(y), "{x:?} {y:?}"),
                }
            }
        }
    }
}
