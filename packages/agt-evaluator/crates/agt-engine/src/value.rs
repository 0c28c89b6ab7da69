//! Values conditions work on: JSON data, with CEL's int/double distinction kept.
//!
//! A request arrives as JSON (or as Python objects converted by the binding). A number written
//! without fraction or exponent is an `Int`, one with either is a `Double`, exactly as the
//! conformance vectors require (`1000.0 / 2` has no overload; `1000 / 2` is 500).

use std::fmt::Write as _;
use std::sync::Arc;

use indexmap::IndexMap;

/// A map with string keys that keeps insertion order (macros iterate keys in that order).
pub type Map = IndexMap<String, Value>;

/// What decides whether two values can be compared: values of different kinds never are
/// (ints and doubles are both numbers; null is unequal to everything; opaque values compare
/// with nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    List,
    Map,
    Opaque,
}

/// One CEL value.
#[derive(Clone, Debug)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`; never equal to a number.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// An IEEE 754 double.
    Double(f64),
    /// A string of Unicode scalar values.
    Str(Arc<str>),
    /// A list.
    List(Arc<Vec<Value>>),
    /// A map with string keys.
    Map(Arc<Map>),
}

impl Value {
    /// A string value.
    pub fn str(text: &str) -> Value {
        Value::Str(Arc::from(text))
    }

    /// Whether this is the request builder's stand-in for a value it could not convert: a map
    /// with exactly one key, `$opaque` (the type's name) or, in its older form for bytes,
    /// `$bytes` (the length). Conditions cannot inspect such a value.
    pub fn is_opaque(&self) -> bool {
        match self {
            Value::Map(map) => map.len() == 1 && (map.contains_key("$opaque") || map.contains_key("$bytes")),
            _ => false,
        }
    }

    /// The kind of the value: what decides whether two values can be compared.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) | Value::Double(_) => Kind::Number,
            Value::Str(_) => Kind::String,
            Value::List(_) => Kind::List,
            Value::Map(_) if self.is_opaque() => Kind::Opaque,
            Value::Map(_) => Kind::Map,
        }
    }

    /// The CEL type name, as error messages spell it.
    pub fn type_name(&self) -> String {
        if let Value::Map(map) = self {
            if self.is_opaque() {
                let described = if map.contains_key("$bytes") {
                    Some("bytes".to_string())
                } else {
                    match map.get("$opaque") {
                        Some(Value::Str(s)) => Some(s.to_string()),
                        _ => None,
                    }
                };
                return match described {
                    Some(d) => format!("opaque value `{d}`"),
                    None => "opaque value".to_string(),
                };
            }
        }
        self.base_type_name().to_string()
    }

    fn base_type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Double(_) => "double",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// The type name with its article: `an int`, `a string`.
    pub fn a_type(&self) -> String {
        let name = self.type_name();
        if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            format!("an {name}")
        } else {
            format!("a {name}")
        }
    }

    /// Converts JSON into a value; `max_depth` bounds nesting (deeper data is refused).
    pub fn from_json(json: &serde_json::Value, max_depth: usize) -> Result<Value, String> {
        if max_depth == 0 {
            return Err("the request nests too deeply".to_string());
        }
        Ok(match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if n.is_u64() {
                    return Err(format!("integer `{n}` is beyond the 64-bit int range"));
                } else {
                    Value::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(items) => Value::List(Arc::new(
                items.iter().map(|item| Value::from_json(item, max_depth - 1)).collect::<Result<_, _>>()?,
            )),
            serde_json::Value::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, item) in entries {
                    map.insert(key.clone(), Value::from_json(item, max_depth - 1)?);
                }
                Value::Map(Arc::new(map))
            }
        })
    }

    /// Converts back to JSON (NaN and infinities become null: JSON has no spelling for them).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Double(d) => {
                serde_json::Number::from_f64(*d).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
            }
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(map) => serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// How Python's `str()` writes a value: error messages quote values this way in every evaluator.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::Str(s) => s.to_string(),
        other => py_repr(other),
    }
}

/// How Python's `repr()` writes a value (the JSON-shaped subset).
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(value, &mut out);
    out
}

fn write_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Double(d) => out.push_str(&py_float_repr(*d)),
        Value::Str(s) => out.push_str(&py_repr_str(s)),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&py_repr_str(key));
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr()` of a string: single quotes unless the text holds `'` and no `"`.
pub fn py_repr_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_printable(c) => {
                let code = c as u32;
                if code < 0x100 {
                    let _ = write!(out, "\\x{code:02x}");
                } else if code < 0x10000 {
                    let _ = write!(out, "\\u{code:04x}");
                } else {
                    let _ = write!(out, "\\U{code:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn py_printable(c: char) -> bool {
    // Python's str.isprintable: not a control, format, separator (except space), surrogate,
    // private-use or unassigned character. The categories below are the common ones.
    let code = c as u32;
    if c == ' ' {
        return true;
    }
    if code < 0x20 || (0x7f..0xa1).contains(&code) || code == 0xad {
        return false;
    }
    if c.is_whitespace() {
        return false;
    }
    !matches!(
        code,
        0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0xe000..=0xf8ff
            | 0xf0000..=0x10ffff
            | 0xe0001
            | 0xe0020..=0xe007f
    )
}

/// The shortest decimal digits that read back as `value` (finite, non-zero), and the exponent
/// `e` such that `value = 0.DIGITS * 10^e`.
pub(crate) fn shortest_digits(value: f64) -> (String, i32) {
    // `{:e}` writes the shortest round-tripping digits: `1.2345e-7`. When two digit strings of
    // that length round-trip equally close, it does not pick the even one as ECMAScript and
    // Python do (2**-25 is `2.9802322387695312e-8` there, `...313e-8` from `{:e}`). The exactly
    // rounded (half to even) decimal of that length is the closest; it is taken when it reads
    // back as `value` (below a power of two the gap is narrower, so it may not).
    let shortest = format!("{:e}", value.abs());
    let length =
        shortest.split_once('e').map_or(shortest.as_str(), |(m, _)| m).chars().filter(char::is_ascii_digit).count();
    let closest = format!("{:.*e}", length.saturating_sub(1), value.abs());
    let text = if closest.parse::<f64>() == Ok(value.abs()) { closest } else { shortest };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exponent.parse().unwrap_or(0);
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0".to_string() } else { digits.to_string() };
    (digits, exp + 1)
}

/// Python's `repr()` of a float: `1.0`, `1e+16`, `1e-05`, `inf`, `nan`.
pub fn py_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let neg = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{neg}0.0");
    }
    let (digits, point) = shortest_digits(value);
    let exp10 = point - 1;
    if !(-4..16).contains(&exp10) {
        let mut mantissa = digits[..1].to_string();
        if digits.len() > 1 {
            mantissa.push('.');
            mantissa.push_str(&digits[1..]);
        }
        let sign = if exp10 < 0 { '-' } else { '+' };
        return format!("{neg}{mantissa}e{sign}{:02}", exp10.abs());
    }
    positional(neg, &digits, point, true)
}

fn positional(neg: &str, digits: &str, point: i32, point_zero: bool) -> String {
    let len = digits.len() as i32;
    if point <= 0 {
        format!("{neg}0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= len {
        let zeros = "0".repeat((point - len) as usize);
        if point_zero {
            format!("{neg}{digits}{zeros}.0")
        } else {
            format!("{neg}{digits}{zeros}")
        }
    } else {
        let (int_part, frac) = digits.split_at(point as usize);
        format!("{neg}{int_part}.{frac}")
    }
}

/// How CEL's `string()` writes a double (Go's shortest `%g`): `1.5`, `123456`, `1e+06`,
/// `0.0001`, `1e-05`, `NaN`, `+Inf`.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let neg = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{neg}0");
    }
    let (digits, point) = shortest_digits(value);
    let exp10 = point - 1;
    if !(-4..6).contains(&exp10) {
        let mut mantissa = digits[..1].to_string();
        if digits.len() > 1 {
            mantissa.push('.');
            mantissa.push_str(&digits[1..]);
        }
        let sign = if exp10 < 0 { '-' } else { '+' };
        return format!("{neg}{mantissa}e{sign}{:02}", exp10.abs());
    }
    positional(neg, &digits, point, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        for (value, text) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (123.456, "123.456"),
            (f64::INFINITY, "inf"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(py_float_repr(value), text);
        }
    }

    #[test]
    fn go_format_double() {
        for (value, text) in [
            (1.5, "1.5"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (-0.0, "-0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
            (1234567.0, "1.234567e+06"),
        ] {
            assert_eq!(format_double(value), text);
        }
    }

    #[test]
    fn python_repr_of_strings() {
        assert_eq!(py_repr_str("x-y"), "'x-y'");
        assert_eq!(py_repr_str("it's"), "\"it's\"");
        assert_eq!(py_repr_str("a\nb\u{0}"), "'a\\nb\\x00'");
        assert_eq!(py_repr_str("é😀"), "'é😀'");
    }
}
