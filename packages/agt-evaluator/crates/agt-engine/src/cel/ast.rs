//! The syntax tree of a condition. Every node keeps the offset of the token that best locates it
//! and its depth (1 for a leaf), which the parser bounds so recursive passes stay shallow.

use crate::value::Value;

/// Binary relations and arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    /// The operator as conditions spell it.
    pub fn text(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }
}

/// One node.
#[derive(Clone, Debug)]
pub enum Expr {
    Lit {
        value: Value,
        offset: usize,
    },
    Ident {
        name: String,
        offset: usize,
    },
    Select {
        operand: Box<Expr>,
        field: String,
        offset: usize,
        depth: usize,
    },
    Index {
        operand: Box<Expr>,
        index: Box<Expr>,
        offset: usize,
        depth: usize,
    },
    Call {
        name: String,
        target: Option<Box<Expr>>,
        args: Vec<Expr>,
        offset: usize,
        depth: usize,
    },
    List {
        items: Vec<Expr>,
        offset: usize,
        depth: usize,
    },
    Map {
        entries: Vec<(Expr, Expr)>,
        offset: usize,
        depth: usize,
    },
    /// `!x` (also `not x`) when `neg` is false, `-x` when true.
    Unary {
        neg: bool,
        operand: Box<Expr>,
        offset: usize,
        depth: usize,
    },
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
        offset: usize,
        depth: usize,
    },
    /// A flattened chain of `&&` (`and` true) or `||`.
    Logical {
        and: bool,
        operands: Vec<Expr>,
        offset: usize,
        depth: usize,
    },
    Cond {
        cond: Box<Expr>,
        then: Box<Expr>,
        other: Box<Expr>,
        offset: usize,
        depth: usize,
    },
}

impl Expr {
    /// Offset of the node's locating token.
    pub fn offset(&self) -> usize {
        match self {
            Expr::Lit { offset, .. }
            | Expr::Ident { offset, .. }
            | Expr::Select { offset, .. }
            | Expr::Index { offset, .. }
            | Expr::Call { offset, .. }
            | Expr::List { offset, .. }
            | Expr::Map { offset, .. }
            | Expr::Unary { offset, .. }
            | Expr::Binary { offset, .. }
            | Expr::Logical { offset, .. }
            | Expr::Cond { offset, .. } => *offset,
        }
    }

    /// Depth of the subtree (1 for a leaf).
    pub fn depth(&self) -> usize {
        match self {
            Expr::Lit { .. } | Expr::Ident { .. } => 1,
            Expr::Select { depth, .. }
            | Expr::Index { depth, .. }
            | Expr::Call { depth, .. }
            | Expr::List { depth, .. }
            | Expr::Map { depth, .. }
            | Expr::Unary { depth, .. }
            | Expr::Binary { depth, .. }
            | Expr::Logical { depth, .. }
            | Expr::Cond { depth, .. } => *depth,
        }
    }

    /// Offset of the first character of the node's text (its leftmost token).
    pub fn start_offset(&self) -> usize {
        let mut node = self;
        loop {
            node = match node {
                Expr::Select { operand, .. } | Expr::Index { operand, .. } => operand,
                Expr::Binary { left, .. } => left,
                Expr::Cond { cond, .. } => cond,
                Expr::Call { target: Some(target), .. } if !matches!(**target, Expr::Unary { .. }) => {
                    if matches!(**target, Expr::Binary { .. } | Expr::Logical { .. } | Expr::Cond { .. }) {
                        return node.offset();
                    }
                    target
                }
                Expr::Logical { operands, .. } => match operands.first() {
                    Some(first) => first,
                    None => return node.offset(),
                },
                _ => return node.offset(),
            };
        }
    }
}
