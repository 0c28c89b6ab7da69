//! Recursive-descent parser with precedence climbing; nesting is counted as it happens and
//! refused past `Limits::max_nesting`, so no input can exhaust the stack.
//!
//! `not` takes Python's precedence (`not a == b` is `!(a == b)`); `!` keeps CEL's tight binding.

use super::ast::{BinOp, Expr};
use super::lexer::{describe, tokenize, Tok, Token};
use super::{Limits, SyntaxError};
use crate::value::Value;

const RESERVED_WORDS: [&str; 17] = [
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "namespace",
    "package",
    "return",
    "var",
    "void",
    "while",
];

const INT64_MAX: i128 = i64::MAX as i128;

const OR: u8 = 1;
const AND: u8 = 2;
const REL: u8 = 3;
const ADD: u8 = 4;
const MUL: u8 = 5;

enum Infix {
    Logical(bool),
    Binary(BinOp),
}

fn binary(tok: &Tok) -> Option<(u8, Infix)> {
    Some(match tok {
        Tok::Or | Tok::Op("||") => (OR, Infix::Logical(false)),
        Tok::And | Tok::Op("&&") => (AND, Infix::Logical(true)),
        Tok::Op("==") => (REL, Infix::Binary(BinOp::Eq)),
        Tok::Op("!=") => (REL, Infix::Binary(BinOp::Ne)),
        Tok::Op("<") => (REL, Infix::Binary(BinOp::Lt)),
        Tok::Op("<=") => (REL, Infix::Binary(BinOp::Le)),
        Tok::Op(">") => (REL, Infix::Binary(BinOp::Gt)),
        Tok::Op(">=") => (REL, Infix::Binary(BinOp::Ge)),
        Tok::In => (REL, Infix::Binary(BinOp::In)),
        Tok::Op("+") => (ADD, Infix::Binary(BinOp::Add)),
        Tok::Op("-") => (ADD, Infix::Binary(BinOp::Sub)),
        Tok::Op("*") => (MUL, Infix::Binary(BinOp::Mul)),
        Tok::Op("/") => (MUL, Infix::Binary(BinOp::Div)),
        Tok::Op("%") => (MUL, Infix::Binary(BinOp::Mod)),
        _ => return None,
    })
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    source: &'a [char],
    limits: &'a Limits,
    node_count: usize,
    nesting: usize,
}

/// Parses `source` into a syntax tree.
pub fn parse(source: &[char], limits: &Limits) -> Result<Expr, SyntaxError> {
    if source.len() > limits.max_source_length {
        return Err(SyntaxError::new(
            format!("condition is longer than {} characters (limit max_source_length)", limits.max_source_length),
            limits.max_source_length,
        ));
    }
    let tokens = tokenize(source)?;
    let mut parser = Parser { tokens, pos: 0, source, limits, node_count: 0, nesting: 0 };
    parser.parse()
}

impl Parser<'_> {
    fn tok(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.pos.min(last)]
    }

    fn peek(&self, ahead: usize) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.pos + ahead).min(last)]
    }

    fn advance(&mut self) -> Token {
        let tok = self.tok().clone();
        if tok.tok != Tok::Eof {
            self.pos += 1;
        }
        tok
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.tok().tok, Tok::Op(o) if o == op)
    }

    fn where_(&self, offset: usize) -> String {
        let before = self.source.get(..offset).unwrap_or(self.source);
        let last_newline = before.iter().rposition(|&c| c == '\n');
        let column = offset - last_newline.map_or(0, |p| p + 1) + 1;
        if last_newline.is_some() {
            let line = before.iter().filter(|&&c| c == '\n').count() + 1;
            format!("line {line}, column {column}")
        } else {
            format!("column {column}")
        }
    }

    fn expect(&mut self, op: &str, message: &str) -> Result<Token, SyntaxError> {
        if !self.is_op(op) {
            let tok = self.tok();
            return Err(SyntaxError::new(format!("{message}, found {}", describe(tok)), tok.offset));
        }
        Ok(self.advance())
    }

    fn add(&mut self, node: Expr) -> Result<Expr, SyntaxError> {
        self.node_count += 1;
        if self.node_count > self.limits.max_ast_nodes {
            return Err(SyntaxError::new(
                format!("condition has more than {} syntax nodes (limit max_ast_nodes)", self.limits.max_ast_nodes),
                node.offset(),
            ));
        }
        if node.depth() > self.limits.max_nesting {
            return Err(SyntaxError::new(self.nesting_message(), node.offset()));
        }
        Ok(node)
    }

    fn nesting_message(&self) -> String {
        format!("condition nests deeper than {} levels (limit max_nesting)", self.limits.max_nesting)
    }

    fn parse(&mut self) -> Result<Expr, SyntaxError> {
        let expr = self.parse_expr()?;
        let tok = self.tok().clone();
        if tok.tok == Tok::Not {
            return Err(SyntaxError::new("expected `in` after `not`", self.peek(1).offset));
        }
        if tok.tok != Tok::Eof {
            return Err(SyntaxError::new(
                format!("unexpected {}: expected an operator or the end of the condition", describe(&tok)),
                tok.offset,
            ));
        }
        Ok(expr)
    }

    fn parse_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.nesting += 1;
        let result = self.parse_expr_inner();
        self.nesting -= 1;
        result
    }

    fn parse_expr_inner(&mut self) -> Result<Expr, SyntaxError> {
        if self.nesting > self.limits.max_nesting {
            return Err(SyntaxError::new(self.nesting_message(), self.tok().offset));
        }
        let cond = self.parse_binary(OR)?;
        if !self.is_op("?") {
            return Ok(cond);
        }
        let question = self.advance();
        let then = self.parse_binary(OR)?;
        let message = format!("expected `:` in the conditional started at {}", self.where_(question.offset));
        self.expect(":", &message)?;
        let other = self.parse_expr()?;
        let depth = 1 + cond.depth().max(then.depth()).max(other.depth());
        self.add(Expr::Cond {
            cond: Box::new(cond),
            then: Box::new(then),
            other: Box::new(other),
            offset: question.offset,
            depth,
        })
    }

    fn parse_binary(&mut self, min_prec: u8) -> Result<Expr, SyntaxError> {
        let mut left = self.parse_operand(min_prec)?;
        loop {
            let tok = self.tok().clone();
            let (prec, infix) = if tok.tok == Tok::Not {
                if min_prec > REL || self.peek(1).tok != Tok::In {
                    return Ok(left);
                }
                self.advance();
                self.advance();
                (REL, Infix::Binary(BinOp::NotIn))
            } else {
                match binary(&tok.tok) {
                    Some((prec, infix)) if prec >= min_prec => {
                        self.advance();
                        (prec, infix)
                    }
                    _ => return Ok(left),
                }
            };
            let right = self.parse_binary(prec + 1)?;
            left = match infix {
                Infix::Logical(and) => self.logical(and, left, right, tok.offset)?,
                Infix::Binary(op) => {
                    let depth = 1 + left.depth().max(right.depth());
                    self.add(Expr::Binary {
                        op,
                        left: Box::new(left),
                        right: Box::new(right),
                        offset: tok.offset,
                        depth,
                    })?
                }
            };
        }
    }

    fn logical(&mut self, and: bool, left: Expr, right: Expr, offset: usize) -> Result<Expr, SyntaxError> {
        let mut offset = offset;
        let mut operands = Vec::new();
        if let Expr::Logical { and: a, offset: o, .. } = &left {
            if *a == and {
                offset = *o;
            }
        }
        for side in [left, right] {
            match side {
                Expr::Logical { and: a, operands: inner, .. } if a == and => operands.extend(inner),
                other => operands.push(other),
            }
        }
        let depth = 1 + operands.iter().map(Expr::depth).max().unwrap_or(0);
        self.add(Expr::Logical { and, operands, offset, depth })
    }

    fn parse_operand(&mut self, min_prec: u8) -> Result<Expr, SyntaxError> {
        if self.tok().tok != Tok::Not {
            return self.parse_unary();
        }
        if min_prec > REL {
            return Err(SyntaxError::new(
                "unexpected `not` here: write `!` or put `not …` in parentheses",
                self.tok().offset,
            ));
        }
        let mut nots = Vec::new();
        while self.tok().tok == Tok::Not {
            nots.push(self.advance());
        }
        let mut operand = self.parse_binary(REL)?;
        for tok in nots.iter().rev() {
            let depth = operand.depth() + 1;
            operand = self.add(Expr::Unary { neg: false, operand: Box::new(operand), offset: tok.offset, depth })?;
        }
        Ok(operand)
    }

    fn parse_unary(&mut self) -> Result<Expr, SyntaxError> {
        let mut ops = Vec::new();
        while self.is_op("!") || self.is_op("-") {
            ops.push(self.advance());
        }
        let negative_literal = matches!(ops.last(), Some(Token { tok: Tok::Op("-"), .. }))
            && matches!(self.tok().tok, Tok::Int(_) | Tok::Double(_))
            && !matches!(self.peek(1).tok, Tok::Op(".") | Tok::Op("["));
        let mut node = if negative_literal {
            let minus = ops.pop().map_or(0, |t| t.offset);
            let value = match self.advance().tok {
                Tok::Int(v) => {
                    let v = -v;
                    if v < -INT64_MAX - 1 {
                        return Err(SyntaxError::new(format!("integer literal `{v}` is out of range"), minus));
                    }
                    Value::Int(v as i64)
                }
                Tok::Double(d) => Value::Double(-d),
                _ => Value::Null,
            };
            self.add(Expr::Lit { value, offset: minus })?
        } else {
            self.parse_member()?
        };
        for op in ops.iter().rev() {
            let depth = node.depth() + 1;
            let neg = op.tok == Tok::Op("-");
            node = self.add(Expr::Unary { neg, operand: Box::new(node), offset: op.offset, depth })?;
        }
        Ok(node)
    }

    fn parse_member(&mut self) -> Result<Expr, SyntaxError> {
        let mut node = self.parse_primary()?;
        loop {
            if self.is_op(".") {
                self.advance();
                let name = self.tok().clone();
                let Tok::Ident(field) = &name.tok else {
                    return Err(SyntaxError::new(
                        format!("expected a field or method name after `.`, found {}", describe(&name)),
                        name.offset,
                    ));
                };
                let field = field.clone();
                self.advance();
                if self.is_op("(") {
                    let args = self.parse_args(&name)?;
                    let depth = 1 + args.iter().map(Expr::depth).fold(node.depth(), usize::max);
                    node = self.add(Expr::Call {
                        name: field,
                        target: Some(Box::new(node)),
                        args,
                        offset: name.offset,
                        depth,
                    })?;
                } else {
                    let depth = node.depth() + 1;
                    node = self.add(Expr::Select { operand: Box::new(node), field, offset: name.offset, depth })?;
                }
            } else if self.is_op("[") {
                let bracket = self.advance();
                let index = self.parse_expr()?;
                let message = format!("expected `]` to close the index started at {}", self.where_(bracket.offset));
                self.expect("]", &message)?;
                let depth = 1 + node.depth().max(index.depth());
                node = self.add(Expr::Index {
                    operand: Box::new(node),
                    index: Box::new(index),
                    offset: bracket.offset,
                    depth,
                })?;
            } else {
                return Ok(node);
            }
        }
    }

    fn parse_args(&mut self, name: &Token) -> Result<Vec<Expr>, SyntaxError> {
        self.advance();
        let mut args = Vec::new();
        if self.is_op(")") {
            self.advance();
            return Ok(args);
        }
        loop {
            args.push(self.parse_expr()?);
            if self.is_op(",") {
                self.advance();
                continue;
            }
            let message = format!("expected `)` to close the call started at {}", self.where_(name.offset));
            self.expect(")", &message)?;
            return Ok(args);
        }
    }

    fn parse_primary(&mut self) -> Result<Expr, SyntaxError> {
        let tok = self.tok().clone();
        let offset = tok.offset;
        let literal = match &tok.tok {
            Tok::Int(v) => {
                if *v > INT64_MAX {
                    return Err(SyntaxError::new(format!("integer literal `{v}` is out of range"), offset));
                }
                Some(Value::Int(*v as i64))
            }
            Tok::Double(d) => Some(Value::Double(*d)),
            Tok::Str(s) => Some(Value::str(s)),
            Tok::True => Some(Value::Bool(true)),
            Tok::False => Some(Value::Bool(false)),
            Tok::Null => Some(Value::Null),
            _ => None,
        };
        if let Some(value) = literal {
            self.advance();
            return self.add(Expr::Lit { value, offset });
        }
        match &tok.tok {
            Tok::Ident(name) => {
                self.advance();
                if RESERVED_WORDS.contains(&name.as_str()) {
                    return Err(SyntaxError::new(
                        format!("`{name}` is a reserved word and cannot be used as a name"),
                        offset,
                    ));
                }
                if self.is_op("(") {
                    let args = self.parse_args(&tok)?;
                    let depth = 1 + args.iter().map(Expr::depth).max().unwrap_or(0);
                    return self.add(Expr::Call { name: name.clone(), target: None, args, offset, depth });
                }
                self.add(Expr::Ident { name: name.clone(), offset })
            }
            Tok::Op("(") => {
                self.advance();
                let inner = self.parse_expr()?;
                let message = format!("expected `)` to close the parenthesis opened at {}", self.where_(offset));
                self.expect(")", &message)?;
                Ok(inner)
            }
            Tok::Op("[") => self.parse_list(offset),
            Tok::Op("{") => self.parse_map(offset),
            Tok::Eof => Err(SyntaxError::new("unexpected end of the condition: expected a value", offset)),
            Tok::Op(".") => Err(SyntaxError::new("a name cannot start with `.`", offset)),
            Tok::Not => Err(SyntaxError::new("unexpected `not` here: write `!` or put `not …` in parentheses", offset)),
            _ => Err(SyntaxError::new(format!("expected a value, found {}", describe(&tok)), offset)),
        }
    }

    fn parse_list(&mut self, open: usize) -> Result<Expr, SyntaxError> {
        self.advance();
        let mut items = Vec::new();
        while !self.is_op("]") {
            items.push(self.parse_expr()?);
            if self.is_op(",") {
                self.advance();
            } else if !self.is_op("]") {
                let tok = self.tok();
                return Err(SyntaxError::new(
                    format!(
                        "expected `,` or `]` in the list started at {}, found {}",
                        self.where_(open),
                        describe(tok)
                    ),
                    tok.offset,
                ));
            }
        }
        self.advance();
        let depth = 1 + items.iter().map(Expr::depth).max().unwrap_or(0);
        self.add(Expr::List { items, offset: open, depth })
    }

    fn parse_map(&mut self, open: usize) -> Result<Expr, SyntaxError> {
        self.advance();
        let mut entries = Vec::new();
        while !self.is_op("}") {
            let key = self.parse_expr()?;
            self.expect(":", "expected `:` after the map key")?;
            let value = self.parse_expr()?;
            entries.push((key, value));
            if self.is_op(",") {
                self.advance();
            } else if !self.is_op("}") {
                let tok = self.tok();
                return Err(SyntaxError::new(
                    format!(
                        "expected `,` or `}}` in the map started at {}, found {}",
                        self.where_(open),
                        describe(tok)
                    ),
                    tok.offset,
                ));
            }
        }
        self.advance();
        let depth = 1 + entries.iter().map(|(k, v)| k.depth().max(v.depth())).max().unwrap_or(0);
        self.add(Expr::Map { entries, offset: open, depth })
    }
}
