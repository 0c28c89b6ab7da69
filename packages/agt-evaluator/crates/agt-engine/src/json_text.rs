//! A strict JSON reader for text that will be hashed or compared with its canonical form.
//!
//! `serde_json` keeps the last of two duplicate keys and turns an integer token beyond `u64` into
//! the nearest double, so two different texts would hash alike. This reader refuses what has no
//! canonical form, each with a `kind` named as in `conformance/canonical_json` (`duplicate_key`,
//! `number_overflow`, `inexact_integer`, `lone_surrogate`, `not_json`), plus `syntax` and
//! `too_deep`. Integer tokens stay integers (CEL `int`), tokens with a fraction or exponent
//! become doubles, so the int/double distinction the policy vectors rely on survives.

use serde_json::{Map, Number, Value as Json};

use crate::canonical::es_number;

/// Nesting deeper than this is refused: recursion on a foreign thread's small stack would abort
/// the process, which no `catch_unwind` can turn into an error.
pub const MAX_DEPTH: usize = 256;

/// Why a text was refused, and where (byte offset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonTextError {
    pub kind: &'static str,
    pub message: String,
    pub offset: usize,
}

impl std::fmt::Display for JsonTextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for JsonTextError {}

/// Reads one JSON value (surrounded by optional whitespace) strictly.
pub fn parse_strict(text: &str) -> Result<Json, JsonTextError> {
    let mut reader = Reader { bytes: text.as_bytes(), text, at: 0 };
    reader.skip_ws();
    let value = reader.value(0)?;
    reader.skip_ws();
    if reader.at != reader.bytes.len() {
        return Err(reader.fail("syntax", "unexpected text after the JSON value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn fail(&self, kind: &'static str, message: impl Into<String>) -> JsonTextError {
        JsonTextError { kind, message: message.into(), offset: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, JsonTextError> {
        if self.bytes.get(self.at..self.at + word.len()) == Some(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.fail("syntax", "invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonTextError> {
        if depth > MAX_DEPTH {
            return Err(self.fail("too_deep", format!("JSON nested deeper than {MAX_DEPTH} levels")));
        }
        match self.peek() {
            None => Err(self.fail("syntax", "unexpected end of JSON text")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'N') => Err(self.fail("not_json", "NaN is not a JSON number")),
            Some(b'I') => Err(self.fail("not_json", "Infinity is not a JSON number")),
            Some(b'-') if self.bytes.get(self.at + 1) == Some(&b'I') => {
                Err(self.fail("not_json", "-Infinity is not a JSON number"))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.fail("syntax", "expected a JSON value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonTextError> {
        self.at += 1;
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.fail("syntax", "expected a string key"));
            }
            let key_at = self.at;
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.fail("syntax", "expected `:` after a key"));
            }
            self.at += 1;
            self.skip_ws();
            let item = self.value(depth + 1)?;
            if map.contains_key(&key) {
                return Err(JsonTextError {
                    kind: "duplicate_key",
                    message: format!("duplicate key {key:?}"),
                    offset: key_at,
                });
            }
            map.insert(key, item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(map));
                }
                _ => return Err(self.fail("syntax", "expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonTextError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.fail("syntax", "expected `,` or `]`")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonTextError> {
        let digits = self.text.get(self.at..self.at + 4).ok_or_else(|| self.fail("syntax", "short \\u escape"))?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.fail("syntax", "invalid \\u escape"));
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.fail("syntax", "invalid \\u escape"))
    }

    fn string(&mut self) -> Result<String, JsonTextError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // `start..at` ends before an ASCII byte or at the end, so it is on char boundaries
            out.push_str(self.text.get(start..self.at).unwrap_or_default());
            match self.peek() {
                None => return Err(self.fail("syntax", "unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escape = self.peek().ok_or_else(|| self.fail("syntax", "unterminated string"))?;
                    self.at += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return Err(self.fail("syntax", "invalid escape")),
                    }
                }
                Some(_) => return Err(self.fail("syntax", "control character in a string")),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, JsonTextError> {
        let first = self.hex4()?;
        let lone = |r: &Reader<'_>| r.fail("lone_surrogate", format!("lone surrogate \\u{first:04x} in a string"));
        if (0xDC00..0xE000).contains(&first) {
            return Err(lone(self));
        }
        if (0xD800..0xDC00).contains(&first) {
            if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                return Err(lone(self));
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(lone(self));
            }
            let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
            return char::from_u32(code).ok_or_else(|| lone(self));
        }
        char::from_u32(first).ok_or_else(|| lone(self))
    }

    fn number(&mut self) -> Result<Json, JsonTextError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.fail("syntax", "invalid number")),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.at += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.fail("syntax", "invalid number"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integral = false;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.fail("syntax", "invalid number"));
            }
            self.digits();
        }
        let token = self.text.get(start..self.at).unwrap_or_default();
        let at = start;
        let error = |kind: &'static str, message: String| JsonTextError { kind, message, offset: at };
        if integral {
            if let Ok(n) = token.parse::<i64>() {
                return Ok(Json::Number(n.into()));
            }
            if let Ok(n) = token.parse::<u64>() {
                return Ok(Json::Number(n.into()));
            }
        }
        let d: f64 = token.parse().map_err(|_| error("syntax", format!("invalid number {token}")))?;
        if !d.is_finite() {
            return Err(error("number_overflow", format!("number {token} is beyond the largest double")));
        }
        if integral && es_number(d) != token {
            return Err(error("inexact_integer", format!("integer {token} has no exact double")));
        }
        Number::from_f64(d).map(Json::Number).ok_or_else(|| error("number_overflow", format!("number {token}")))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn kind(text: &str) -> &'static str {
        parse_strict(text).err().map_or("ok", |e| e.kind)
    }

    #[test]
    fn refuses_what_has_no_canonical_form() {
        assert_eq!(kind(r#"{"a":1,"\u0061":2}"#), "duplicate_key");
        assert_eq!(kind("1e400"), "number_overflow");
        assert_eq!(kind("18446744073709551616"), "inexact_integer");
        assert_eq!(kind(r#""\ud800""#), "lone_surrogate");
        assert_eq!(kind(r#""\udc00\ud800""#), "lone_surrogate");
        assert_eq!(kind("NaN"), "not_json");
        assert_eq!(kind("-Infinity"), "not_json");
        assert_eq!(kind("[1,]"), "syntax");
        assert_eq!(kind("01"), "syntax");
        assert_eq!(kind("\"a\u{1}\""), "syntax");
        assert_eq!(kind(&"[".repeat(MAX_DEPTH + 2)), "too_deep");
    }

    #[test]
    fn keeps_integers_and_doubles_apart() {
        assert!(parse_strict("5").unwrap().is_i64());
        assert!(parse_strict("5.0").unwrap().is_f64());
        assert!(parse_strict("100000000000000000000").unwrap().is_f64());
        assert_eq!(parse_strict(r#""\ud83d\ude00""#).unwrap(), Json::String("\u{1F600}".into()));
    }
}
