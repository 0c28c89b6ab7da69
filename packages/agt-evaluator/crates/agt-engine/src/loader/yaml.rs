//! Policy YAML to JSON data, remembering where every key and value is (line and column).
//!
//! The same restricted reading as agent-os's `_loading/_yaml.py`, on the YAML 1.2 parser of the
//! `saphyr-parser` crate: duplicate keys are refused (a second `action:` must not silently turn a
//! deny into an allow), and so are anchors, aliases, `<<` merge keys and explicit tags (they hide
//! what a rule says; aliases are the billion-laughs vector); plain scalars are read by the YAML 1.2
//! core schema (only `true`/`false` are booleans, only `null`, `~` and nothing are null, so
//! `enabled: yes` stays a string and validation refuses it); nesting and node counts are bounded.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value as Json};

use super::LoadError;

/// Deepest nesting of mappings and lists in a policy (agent-os: `MAX_NESTING`).
pub const MAX_NESTING: usize = 64;
/// Most YAML nodes in one policy file or string (agent-os: `MAX_NODES`).
pub const MAX_NODES: usize = 1_000_000;

/// 1-based line and column.
pub type Position = (usize, usize);

/// One YAML document: its data and the position of each value and key, by path
/// (`rules[0].condition` as load errors name it; `""` is the document itself).
#[derive(Clone, Debug)]
pub struct YamlDocument {
    pub data: Json,
    pub values: HashMap<String, (Position, Option<ScalarStyle>)>,
    pub keys: HashMap<String, Position>,
    pub start: Position,
}

impl YamlDocument {
    /// The position of the value at `path`, or of the nearest enclosing value that exists.
    pub fn location(&self, path: &str) -> Option<Position> {
        let mut path = path.to_string();
        loop {
            if let Some((pos, _)) = self.values.get(&path) {
                return Some(*pos);
            }
            let cut = path.rfind(['.', '['])?;
            path.truncate(cut);
        }
    }

    /// The position of the key holding `path`; the value's when there is none.
    pub fn key_location(&self, path: &str) -> Option<Position> {
        self.keys.get(path).copied().or_else(|| self.location(path))
    }
}

fn pos(marker: &Marker) -> Position {
    (marker.line(), marker.col() + 1)
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    file: Option<&'a str>,
    nodes: usize,
    peeked: Option<(Event<'a>, Span)>,
}

impl<'a> Reader<'a> {
    fn error(&self, message: impl Into<String>, at: Option<Position>) -> LoadError {
        LoadError::at(message, self.file, at)
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), LoadError> {
        if let Some(peeked) = self.peeked.take() {
            return Ok(peeked);
        }
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(e)) => Err(self.error(format!("invalid YAML: {}", e.info()), Some(pos(e.marker())))),
            None => Err(self.error("invalid YAML: unexpected end of text", None)),
        }
    }

    fn peek(&mut self) -> Result<&(Event<'a>, Span), LoadError> {
        if self.peeked.is_none() {
            let event = self.next()?;
            self.peeked = Some(event);
        }
        self.peeked.as_ref().ok_or_else(|| LoadError::at("invalid YAML", self.file, None))
    }

    fn refuse_decorations(&self, anchor: usize, tag: bool, at: Position, what: &str) -> Result<(), LoadError> {
        if anchor != 0 {
            return Err(self.error(
                format!("YAML anchor on a {what} is not allowed in a policy (write each value out in full: anchors and aliases hide what a rule says)"),
                Some(at),
            ));
        }
        if tag {
            return Err(self.error(
                "YAML tag is not allowed in a policy (remove the tag; quote the value if it must be a string)",
                Some(at),
            ));
        }
        Ok(())
    }

    /// Reads one node at `path` into data, recording positions.
    fn node(&mut self, path: &str, depth: usize, doc: &mut YamlDocument) -> Result<Json, LoadError> {
        let (event, span) = self.next()?;
        let at = pos(&span.start);
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.error(format!("policy has more than {MAX_NODES} YAML nodes"), Some(at)));
        }
        if depth > MAX_NESTING {
            return Err(self.error(format!("policy nests deeper than {MAX_NESTING} levels"), Some(at)));
        }
        match event {
            Event::Alias(_) => Err(self.error(
                "YAML alias is not allowed in a policy (write the value out in full: aliases hide what a rule says)",
                Some(at),
            )),
            Event::Scalar(value, style, anchor, tag) => {
                self.refuse_decorations(anchor, tag.is_some(), at, "value")?;
                doc.values.insert(path.to_string(), (at, Some(style)));
                self.scalar(&value, style, at).map_err(|mut e| {
                    e.path = Some(path.to_string()).filter(|p| !p.is_empty());
                    e
                })
            }
            Event::SequenceStart(anchor, tag) => {
                self.refuse_decorations(anchor, tag.is_some(), at, "list")?;
                doc.values.insert(path.to_string(), (at, None));
                let mut items = Vec::new();
                loop {
                    if matches!(self.peek()?.0, Event::SequenceEnd) {
                        self.next()?;
                        return Ok(Json::Array(items));
                    }
                    let child = format!("{path}[{}]", items.len());
                    items.push(self.node(&child, depth + 1, doc)?);
                }
            }
            Event::MappingStart(anchor, tag) => {
                self.refuse_decorations(anchor, tag.is_some(), at, "mapping")?;
                doc.values.insert(path.to_string(), (at, None));
                let mut map = Map::new();
                loop {
                    if matches!(self.peek()?.0, Event::MappingEnd) {
                        self.next()?;
                        return Ok(Json::Object(map));
                    }
                    let (key, key_at) = self.key()?;
                    let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    if map.contains_key(&key) {
                        let first = doc.keys.get(&child).copied().unwrap_or(key_at);
                        let mut error = self.error(
                            format!(
                                "duplicate key `{key}` (already set at line {}, column {}; YAML readers would silently keep only the last one, so keep exactly one)",
                                first.0, first.1
                            ),
                            Some(key_at),
                        );
                        error.path = Some(child);
                        return Err(error);
                    }
                    doc.keys.insert(child.clone(), key_at);
                    let value = self.node(&child, depth + 1, doc)?;
                    map.insert(key, value);
                }
            }
            _ => Err(self.error("unsupported YAML node", Some(at))),
        }
    }

    fn key(&mut self) -> Result<(String, Position), LoadError> {
        let (event, span) = self.next()?;
        let at = pos(&span.start);
        self.nodes += 1;
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                self.refuse_decorations(anchor, tag.is_some(), at, "key")?;
                if style == ScalarStyle::Plain && value == "<<" {
                    return Err(self.error(
                        "YAML merge keys (`<<`) are not allowed in a policy (write the merged fields out in full)",
                        Some(at),
                    ));
                }
                match self.scalar(&value, style, at)? {
                    Json::String(key) => Ok((key, at)),
                    other => {
                        let shown = if other.is_null() { "null".to_string() } else { value.to_string() };
                        Err(self.error(
                            format!("mapping keys must be strings, found `{shown}` (quote the key: `'{value}'`)"),
                            Some(at),
                        ))
                    }
                }
            }
            Event::Alias(_) => Err(self.error("YAML alias is not allowed in a policy", Some(at))),
            _ => Err(self.error("mapping keys must be strings, found a nested mapping or list", Some(at))),
        }
    }

    /// A scalar by the YAML 1.2 core schema (plain scalars only; quoted and block scalars are strings).
    fn scalar(&self, value: &str, style: ScalarStyle, at: Position) -> Result<Json, LoadError> {
        if style != ScalarStyle::Plain {
            return Ok(Json::String(value.to_string()));
        }
        match value {
            "" | "~" | "null" | "Null" | "NULL" => return Ok(Json::Null),
            "true" | "True" | "TRUE" => return Ok(Json::Bool(true)),
            "false" | "False" | "FALSE" => return Ok(Json::Bool(false)),
            _ => {}
        }
        let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
        let too_big = || self.error(format!("number `{value}` is beyond the range of a 64-bit integer"), Some(at));
        if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
            let digits = value.strip_prefix('+').unwrap_or(value);
            return digits.parse::<i64>().map(|n| Json::Number(n.into())).map_err(|_| too_big());
        }
        if let Some(octal) =
            value.strip_prefix("0o").filter(|d| !d.is_empty() && d.bytes().all(|b| (b'0'..=b'7').contains(&b)))
        {
            return i64::from_str_radix(octal, 8).map(|n| Json::Number(n.into())).map_err(|_| too_big());
        }
        if let Some(hex) =
            value.strip_prefix("0x").filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return i64::from_str_radix(hex, 16).map(|n| Json::Number(n.into())).map_err(|_| too_big());
        }
        if is_core_float(unsigned) {
            let parsed: f64 = value.parse().map_err(|_| self.error(format!("invalid number `{value}`"), Some(at)))?;
            return Number::from_f64(parsed)
                .map(Json::Number)
                .ok_or_else(|| self.error(format!("number `{value}` is not finite"), Some(at)));
        }
        if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(value, ".nan" | ".NaN" | ".NAN") {
            return Err(self.error(format!("`{value}` is not a finite number; no policy field takes one"), Some(at)));
        }
        Ok(Json::String(value.to_string()))
    }
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// Parses every document of a YAML stream; empty documents are skipped.
pub fn parse_yaml(text: &str, file: Option<&str>) -> Result<Vec<YamlDocument>, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader { parser: Parser::new_from_str(text), file, nodes: 0, peeked: None };
    let mut documents = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => return Ok(documents),
            Event::DocumentStart(_) => {
                let mut doc = YamlDocument {
                    data: Json::Null,
                    values: HashMap::new(),
                    keys: HashMap::new(),
                    start: pos(&span.start),
                };
                let empty = matches!(&reader.peek()?.0, Event::Scalar(v, ScalarStyle::Plain, 0, None) if v.is_empty());
                doc.data = reader.node("", 1, &mut doc)?;
                if !empty {
                    if let Some((start, _)) = doc.values.get("") {
                        doc.start = *start;
                    }
                    documents.push(doc);
                }
            }
            _ => return Err(reader.error("invalid YAML: unexpected event outside a document", Some(pos(&span.start)))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refused(text: &str) -> String {
        parse_yaml(text, None).unwrap_err().message
    }

    #[test]
    fn reads_the_core_schema_and_positions() {
        let docs = parse_yaml("a: yes\nb: 0x1f\nc: 1.5\nd: ~\ne: 'true'\nf:\n  - x\n", None).unwrap();
        let d = &docs[0];
        assert_eq!(d.data, serde_json::json!({"a": "yes", "b": 31, "c": 1.5, "d": null, "e": "true", "f": ["x"]}));
        assert_eq!(d.location("f[0]"), Some((7, 5)));
        assert_eq!(d.key_location("c"), Some((3, 1)));
        assert_eq!(d.location("c"), Some((3, 4)));
        assert_eq!(d.location("f[0].nothing"), Some((7, 5)));
    }

    #[test]
    fn refuses_what_hides_a_rule() {
        assert!(refused("a: &x 1\nb: *x\n").contains("anchor"));
        assert!(refused("a: !!str 1\n").contains("tag"));
        assert!(refused("a: 1\na: 2\n").contains("duplicate key `a`"));
        assert!(refused("<<: {a: 1}\n").contains("merge"));
        assert!(refused("1: a\n").contains("keys must be strings"));
        assert!(refused("a: .inf\n").contains("finite"));
        assert!(refused(&format!("{}1{}", "[".repeat(70), "]".repeat(70))).contains("deeper"));
        let error = parse_yaml("a: [1,\n", Some("p.yaml")).unwrap_err();
        assert_eq!(error.file.as_deref(), Some("p.yaml"));
        assert!(error.line.is_some());
    }

    #[test]
    fn documents_are_split_and_empty_ones_skipped() {
        let docs = parse_yaml("a: 1\n---\n---\nb: 2\n", None).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].start, (4, 1));
    }
}
