//! RE2 semantics for `matches` on top of the `regex` crate (linear time, like RE2).
//!
//! The two syntaxes agree except where the `regex` crate is Unicode-aware by default: in RE2
//! the Perl classes `\d \s \w` and the word boundaries `\b \B` are ASCII-only. Patterns are
//! rewritten so that these keep RE2's meaning (`\d` becomes `[0-9]`, `\b` becomes `(?-u:\b)`).

use std::sync::{Arc, Mutex, OnceLock};

use indexmap::IndexMap;
use regex::{Regex, RegexBuilder};

/// RE2's default memory budget, used for patterns written in a policy.
const LITERAL_SIZE_LIMIT: usize = 8 << 20;
/// The budget for patterns that come from request data.
const DYNAMIC_SIZE_LIMIT: usize = 1 << 20;
const DYNAMIC_CACHE: usize = 64;

fn class_body(c: char) -> Option<&'static str> {
    match c {
        'd' => Some("0-9"),
        's' => Some("\\t\\n\\x0C\\r "),
        'w' => Some("0-9A-Za-z_"),
        _ => None,
    }
}

/// Rewrites RE2's ASCII-only Perl classes and word boundaries for the `regex` crate.
fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while let Some(&c) = chars.get(i) {
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                out.push(c);
                break;
            };
            let lower = next.to_ascii_lowercase();
            if let Some(body) = class_body(lower) {
                let negated = next.is_ascii_uppercase();
                match (in_class, negated) {
                    (false, false) => out.push_str(&format!("[{body}]")),
                    (false, true) | (true, true) => out.push_str(&format!("[^{body}]")),
                    (true, false) => out.push_str(body),
                }
            } else if !in_class && (next == 'b' || next == 'B') {
                out.push_str(&format!("(?-u:\\{next})"));
            } else {
                out.push(c);
                out.push(next);
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == '[' && chars.get(i + 1) == Some(&':') {
                // a POSIX class `[:alpha:]`: copy through its closing `:]`
                let mut j = i + 2;
                while j + 1 < chars.len() && !(chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&']')) {
                    j += 1;
                }
                let end = (j + 2).min(chars.len());
                out.extend(chars.get(i..end).unwrap_or(&[]));
                i = end;
                continue;
            }
            if c == ']' {
                in_class = false;
            } else if c == '[' {
                // RE2 has no nested classes: a `[` inside a class is a literal bracket
                out.push_str("\\[");
                i += 1;
                continue;
            } else if (c == '&' || c == '-' || c == '~') && chars.get(i + 1) == Some(&c) {
                // `&&`, `--`, `~~` are set operations for the regex crate, literal text in RE2
                out.push('\\');
                out.push(c);
                i += 1;
                continue;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push(c);
            i += 1;
            if chars.get(i) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            // a `]` right after `[` or `[^` is a literal
            if chars.get(i) == Some(&']') {
                out.push_str("\\]");
                i += 1;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Compiles `pattern` with RE2 semantics. Errors carry a one-line reason.
pub fn compile_regex(pattern: &str, dynamic: bool) -> Result<Regex, String> {
    let limit = if dynamic { DYNAMIC_SIZE_LIMIT } else { LITERAL_SIZE_LIMIT };
    RegexBuilder::new(&translate(pattern)).size_limit(limit).dfa_size_limit(limit).build().map_err(|err| {
        let text = err.to_string();
        // the crate's messages span several lines (pattern, caret, reason): keep the reason
        let reason = text
            .lines()
            .rev()
            .find(|line| line.trim_start().starts_with("error:"))
            .map(|line| line.trim_start().trim_start_matches("error:").trim().to_string())
            .unwrap_or_else(|| text.lines().last().unwrap_or("invalid pattern").trim().to_string());
        reason
    })
}

type Cache = Mutex<IndexMap<String, Result<Arc<Regex>, String>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(IndexMap::new()))
}

/// Compiles a pattern that comes from request data, through a small cache (bad patterns are
/// cached too, so a request cannot force recompiles).
pub fn dynamic_regex(pattern: &str) -> Result<Arc<Regex>, String> {
    if let Ok(guard) = cache().lock() {
        if let Some(found) = guard.get(pattern) {
            return found.clone();
        }
    }
    let compiled = compile_regex(pattern, true).map(Arc::new);
    if let Ok(mut guard) = cache().lock() {
        if guard.len() >= DYNAMIC_CACHE {
            guard.shift_remove_index(0);
        }
        guard.insert(pattern.to_string(), compiled.clone());
    }
    compiled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_match(pattern: &str, text: &str) -> bool {
        compile_regex(pattern, false).map(|r| r.is_match(text)).unwrap_or(false)
    }

    #[test]
    fn perl_classes_are_ascii_as_in_re2() {
        assert!(is_match(r"^\d+$", "123"));
        assert!(!is_match(r"^\d+$", "١٢٣"));
        assert!(!is_match(r"^\w+$", "é"));
        assert!(is_match(r"^\W$", "é"));
        assert!(is_match(r"^[\w-]+$", "a-b_c"));
        assert!(!is_match(r"^[\w]+$", "é"));
        assert!(is_match(r"^[^\d]$", "x"));
        assert!(!is_match(r"^\s$", "\u{0b}"));
        assert!(!is_match(r"\bé", "é"));
        assert!(is_match(r"^[]a]+$", "]a"));
        assert!(is_match(r"^[[:alpha:]]+$", "abc"));
        assert!(is_match(r"^[a&&b]+$", "a&b"));
    }

    #[test]
    fn re2_refuses_what_regex_refuses() {
        assert!(compile_regex("(?=x)", false).is_err());
        assert!(compile_regex("(unclosed", false).is_err());
        assert!(compile_regex(r"(a)\1", false).is_err());
    }
}
