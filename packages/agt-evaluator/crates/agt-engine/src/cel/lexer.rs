//! Turns condition text into tokens.
//!
//! Besides CEL's own tokens it recognises `and`, `or` and `not` as operator words. A word right
//! after `.` is a field name whatever it spells (`args.not` selects the key `not`). Offsets are
//! counted in characters (Unicode scalar values), as every evaluator reports them.

use super::SyntaxError;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Int(i128),
    Double(f64),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    In,
    And,
    Or,
    Not,
    Eof,
    /// An operator or punctuation: `==`, `(`, `.`…
    Op(&'static str),
}

/// One token and the character offset of its first character.
#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub offset: usize,
}

/// Names a token for an error message.
pub fn describe(token: &Token) -> String {
    match &token.tok {
        Tok::Eof => "the end of the condition".into(),
        Tok::Str(_) => "a string literal".into(),
        Tok::Int(v) => format!("the number `{v}`"),
        Tok::Double(v) => format!("the number `{}`", crate::value::py_float_repr(*v)),
        Tok::Ident(name) => format!("`{name}`"),
        Tok::True => "`True`".into(),
        Tok::False => "`False`".into(),
        Tok::Null => "`None`".into(),
        Tok::In => "`in`".into(),
        Tok::And => "`and`".into(),
        Tok::Or => "`or`".into(),
        Tok::Not => "`not`".into(),
        Tok::Op(op) => format!("`{op}`"),
    }
}

const INT64_LIMIT: i128 = 1 << 63;

const OPERATORS_2: [&str; 6] = ["==", "!=", "<=", ">=", "&&", "||"];
const OPERATORS_1: [&str; 18] =
    ["<", ">", "!", "+", "-", "*", "/", "%", "?", ":", ".", ",", "[", "]", "(", ")", "{", "}"];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

struct Lexer<'a> {
    src: &'a [char],
    pos: usize,
    tokens: Vec<Token>,
}

/// Splits `source` into tokens ending with `Eof`.
pub fn tokenize(src: &[char]) -> Result<Vec<Token>, SyntaxError> {
    let mut lexer = Lexer { src, pos: 0, tokens: Vec::new() };
    lexer.run()?;
    Ok(lexer.tokens)
}

impl Lexer<'_> {
    fn at(&self, pos: usize) -> Option<char> {
        self.src.get(pos).copied()
    }

    fn starts_with(&self, pos: usize, text: &str) -> bool {
        text.chars().enumerate().all(|(i, c)| self.at(pos + i) == Some(c))
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.src.get(start..end.min(self.src.len())).unwrap_or(&[]).iter().collect()
    }

    fn push(&mut self, tok: Tok, offset: usize) {
        self.tokens.push(Token { tok, offset });
    }

    fn run(&mut self) -> Result<(), SyntaxError> {
        let n = self.src.len();
        loop {
            self.skip_space();
            if self.pos >= n {
                self.push(Tok::Eof, n);
                return Ok(());
            }
            let start = self.pos;
            let c = self.at(start).unwrap_or('\0');
            if is_ident_start(c) {
                self.word(start)?;
            } else if c.is_ascii_digit() || (c == '.' && self.at(start + 1).is_some_and(|d| d.is_ascii_digit())) {
                self.number(start)?;
            } else if c == '\'' || c == '"' {
                self.string(start, false)?;
            } else if let Some(op) = OPERATORS_2.iter().find(|op| self.starts_with(start, op)) {
                self.pos += 2;
                self.push(Tok::Op(op), start);
            } else if c == '=' {
                return Err(SyntaxError::new("unexpected `=`: compare with `==`", start));
            } else if let Some(op) = OPERATORS_1.iter().find(|op| self.starts_with(start, op)) {
                self.pos += 1;
                self.push(Tok::Op(op), start);
            } else if c == '&' || c == '|' {
                return Err(SyntaxError::new(format!("unexpected `{c}`: write `{c}{c}`"), start));
            } else {
                return Err(SyntaxError::new(format!("unexpected character `{c}`"), start));
            }
        }
    }

    fn skip_space(&mut self) {
        let n = self.src.len();
        while self.pos < n {
            let c = self.at(self.pos).unwrap_or('\0');
            if is_space(c) {
                self.pos += 1;
            } else if self.starts_with(self.pos, "//") {
                while self.pos < n && self.at(self.pos) != Some('\n') {
                    self.pos += 1;
                }
                if self.pos < n {
                    self.pos += 1;
                }
            } else {
                return;
            }
        }
    }

    fn word(&mut self, start: usize) -> Result<(), SyntaxError> {
        let mut end = start;
        while self.at(end).is_some_and(is_ident_char) {
            end += 1;
        }
        let text = self.text(start, end);
        if matches!(self.at(end), Some('\'' | '"')) {
            let prefix = text.to_lowercase();
            if prefix == "r" {
                self.pos = end;
                return self.string(start, true);
            }
            if matches!(prefix.as_str(), "b" | "rb" | "br") {
                return Err(SyntaxError::new("bytes literals are not supported; use a string", start));
            }
        }
        self.pos = end;
        let after_dot = matches!(self.tokens.last(), Some(Token { tok: Tok::Op("."), .. }));
        let tok = if after_dot {
            Tok::Ident(text)
        } else {
            match text.as_str() {
                "true" => Tok::True,
                "false" => Tok::False,
                "null" => Tok::Null,
                "in" => Tok::In,
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                _ => Tok::Ident(text),
            }
        };
        self.push(tok, start);
        Ok(())
    }

    fn number(&mut self, start: usize) -> Result<(), SyntaxError> {
        let n = self.src.len();
        let mut pos = start;
        if self.starts_with(pos, "0x") || self.starts_with(pos, "0X") {
            pos += 2;
            let digits_start = pos;
            while self.at(pos).is_some_and(|c| c.is_ascii_hexdigit()) {
                pos += 1;
            }
            if pos == digits_start {
                return Err(SyntaxError::new("expected hexadecimal digits after `0x`", start));
            }
            self.reject_unsigned(pos)?;
            self.pos = pos;
            let digits = self.text(digits_start, pos);
            let value = parse_int(&digits, 16);
            let value = self.check_int(value, start, pos)?;
            self.push(Tok::Int(value), start);
            return Ok(());
        }
        let mut is_double = false;
        while self.at(pos).is_some_and(|c| c.is_ascii_digit()) {
            pos += 1;
        }
        if pos + 1 < n && self.at(pos) == Some('.') && self.at(pos + 1).is_some_and(|c| c.is_ascii_digit()) {
            is_double = true;
            pos += 1;
            while self.at(pos).is_some_and(|c| c.is_ascii_digit()) {
                pos += 1;
            }
        }
        if matches!(self.at(pos), Some('e' | 'E')) {
            let mut exp = pos + 1;
            if matches!(self.at(exp), Some('+' | '-')) {
                exp += 1;
            }
            if !self.at(exp).is_some_and(|c| c.is_ascii_digit()) {
                return Err(SyntaxError::new("expected digits in the exponent of the number", pos));
            }
            is_double = true;
            pos = exp;
            while self.at(pos).is_some_and(|c| c.is_ascii_digit()) {
                pos += 1;
            }
        }
        let text = self.text(start, pos);
        if is_double {
            let value: f64 = text.parse().unwrap_or(f64::INFINITY);
            if value.is_infinite() {
                return Err(SyntaxError::new(format!("double literal `{text}` is out of range"), start));
            }
            if let Some(u @ ('u' | 'U')) = self.at(pos) {
                return Err(SyntaxError::new(format!("unexpected `{u}` after the number `{text}`"), pos));
            }
            self.pos = pos;
            self.push(Tok::Double(value), start);
            return Ok(());
        }
        self.reject_unsigned(pos)?;
        self.pos = pos;
        let value = self.check_int(parse_int(&text, 10), start, pos)?;
        self.push(Tok::Int(value), start);
        Ok(())
    }

    fn check_int(&self, value: Option<i128>, start: usize, end: usize) -> Result<i128, SyntaxError> {
        match value {
            Some(v) if v <= INT64_LIMIT => Ok(v),
            _ => Err(SyntaxError::new(format!("integer literal `{}` is out of range", self.text(start, end)), start)),
        }
    }

    fn reject_unsigned(&self, pos: usize) -> Result<(), SyntaxError> {
        if matches!(self.at(pos), Some('u' | 'U')) {
            return Err(SyntaxError::new("unsigned integers (`1u`) are not supported; use a plain int", pos));
        }
        Ok(())
    }

    fn string(&mut self, start: usize, raw: bool) -> Result<(), SyntaxError> {
        let n = self.src.len();
        let quote_pos = self.pos;
        let quote = self.at(quote_pos).unwrap_or('\'');
        let triple_text: String = [quote, quote, quote].iter().collect();
        let triple = self.starts_with(quote_pos, &triple_text);
        let closing = if triple { triple_text } else { quote.to_string() };
        let closing_len = closing.chars().count();
        let mut pos = quote_pos + closing_len;
        let mut out = String::new();
        loop {
            if pos >= n {
                return Err(SyntaxError::new("unterminated string literal", start));
            }
            let c = self.at(pos).unwrap_or('\0');
            if self.starts_with(pos, &closing) {
                pos += closing_len;
                break;
            }
            if !triple && (c == '\r' || c == '\n') {
                return Err(SyntaxError::new(
                    "unterminated string literal (use ''' or \"\"\" for multi-line text)",
                    start,
                ));
            }
            if c == '\\' && !raw {
                let (text, next) = self.escape(pos)?;
                out.push(text);
                pos = next;
                continue;
            }
            out.push(c);
            pos += 1;
        }
        self.pos = pos;
        self.push(Tok::Str(out), start);
        Ok(())
    }

    fn escape(&self, pos: usize) -> Result<(char, usize), SyntaxError> {
        let Some(c) = self.at(pos + 1) else {
            return Err(SyntaxError::new("unterminated string literal", pos));
        };
        let simple = match c {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' | '`' | '?' => Some(c),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok((s, pos + 2));
        }
        match c {
            'x' | 'X' => Ok((self.code_point_escape(pos, 2)?, pos + 4)),
            'u' => Ok((self.code_point_escape(pos, 4)?, pos + 6)),
            'U' => Ok((self.code_point_escape(pos, 8)?, pos + 10)),
            '0'..='3' => {
                let digits = self.text(pos + 1, pos + 4);
                if digits.chars().count() == 3 && digits.chars().all(|d| ('0'..='7').contains(&d)) {
                    let code = u32::from_str_radix(&digits, 8).unwrap_or(0);
                    let ch = char::from_u32(code).unwrap_or('\0');
                    Ok((ch, pos + 4))
                } else {
                    Err(SyntaxError::new("octal escape needs three digits, like `\\101`", pos))
                }
            }
            _ => Err(SyntaxError::new(format!("invalid escape sequence `\\{c}`"), pos)),
        }
    }

    fn code_point_escape(&self, pos: usize, width: usize) -> Result<char, SyntaxError> {
        let digits = self.text(pos + 2, pos + 2 + width);
        let seq = self.text(pos, pos + 2 + width);
        let letter = self.at(pos + 1).unwrap_or('x');
        if digits.chars().count() != width || !digits.chars().all(|d| d.is_ascii_hexdigit()) {
            return Err(SyntaxError::new(format!("escape `\\{letter}` needs {width} hexadecimal digits"), pos));
        }
        let code = u32::from_str_radix(&digits, 16).unwrap_or(u32::MAX);
        if (0xD800..=0xDFFF).contains(&code) {
            return Err(SyntaxError::new(format!("escape `{seq}` is a surrogate, not a character"), pos));
        }
        match char::from_u32(code) {
            Some(ch) => Ok(ch),
            None => Err(SyntaxError::new(format!("escape `{seq}` is beyond the last Unicode character"), pos)),
        }
    }
}

/// Parses digits into an i128, or None when the number is too large to matter (out of range).
fn parse_int(digits: &str, radix: u32) -> Option<i128> {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 32 {
        return None;
    }
    if trimmed.is_empty() {
        return Some(0);
    }
    i128::from_str_radix(trimmed, radix).ok()
}
