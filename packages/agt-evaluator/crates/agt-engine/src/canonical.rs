//! RFC 8785 canonical JSON (JSON Canonicalization Scheme) and SHA-256 content hashes.
//!
//! Keys sort by UTF-16 code units; strings escape only `"`, `\` and U+0000..U+001F; numbers are
//! written as ECMAScript writes the double; integers no double holds exactly, NaN and
//! infinities have no canonical form and are refused (see `conformance/README.md`).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::value::shortest_digits;

/// Why a value has no canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalError(pub String);

impl std::fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonicalError {}

/// The canonical JSON text of `value`.
pub fn canonical_json(value: &serde_json::Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

/// `sha256:<hex>` of the canonical JSON of `value`.
pub fn content_hash(value: &serde_json::Value) -> Result<String, CanonicalError> {
    Ok(format!("sha256:{}", sha256_hex(canonical_json(value)?.as_bytes())))
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    // a table, not `write!` per byte: this runs for every audit record of a governed call
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

fn write_value(value: &serde_json::Value, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        serde_json::Value::Null => out.push_str("null"),
        serde_json::Value::Bool(true) => out.push_str("true"),
        serde_json::Value::Bool(false) => out.push_str("false"),
        serde_json::Value::Number(n) => out.push_str(&number(n)?),
        serde_json::Value::String(s) => write_json_string(s, out),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_value(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn number(n: &serde_json::Number) -> Result<String, CanonicalError> {
    if n.is_i64() || n.is_u64() {
        // An integer token is kept only when it is, digit for digit, how ECMAScript writes the
        // double it reads as: anything else would silently become another number elsewhere.
        let text = n.to_string();
        let d: f64 = text.parse().unwrap_or(f64::INFINITY);
        let written = if d.is_finite() { es_number(d) } else { String::new() };
        if written != text {
            return Err(CanonicalError(format!("integer {text} has no exact double")));
        }
        return Ok(written);
    }
    match n.as_f64() {
        Some(d) if d.is_finite() => Ok(es_number(d)),
        _ => Err(CanonicalError(format!("{n} is not a finite number"))),
    }
}

/// ECMAScript's `Number.prototype.toString` for a finite double.
pub fn es_number(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let neg = if value < 0.0 { "-" } else { "" };
    let (digits, n) = shortest_digits(value);
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        format!("{neg}{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (a, b) = digits.split_at(n as usize);
        format!("{neg}{a}.{b}")
    } else if -6 < n && n <= 0 {
        format!("{neg}0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{neg}{first}e{sign}{}", e.abs())
        } else {
            format!("{neg}{first}.{rest}e{sign}{}", e.abs())
        }
    }
}

/// Appends `text` as an RFC 8785 JSON string (quotes, escapes as ECMAScript writes them).
pub fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_ecmascript_writes_them() {
        for (value, text) in [
            (1.0, "1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (-0.0, "0"),
            (123.456, "123.456"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            // An exact tie between two 17-digit strings: ECMAScript takes the even digit.
            (2f64.powi(-25), "2.9802322387695312e-8"), // 2.98023223876953125e-8 exactly
        ] {
            assert_eq!(es_number(value), text);
        }
    }

    #[test]
    fn keys_sort_by_utf16_units() {
        let value: serde_json::Value =
            serde_json::from_str("{\"\u{e000}\":1,\"\u{1f600}\":2,\"b\":3,\"a\":4}").unwrap_or_default();
        assert_eq!(canonical_json(&value).unwrap_or_default(), "{\"a\":4,\"b\":3,\"\u{1f600}\":2,\"\u{e000}\":1}");
    }
}
