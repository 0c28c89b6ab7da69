"""Recursive-descent parser for conditions.

Binary operators are parsed by precedence climbing, so one level of parentheses costs a handful
of Python frames; prefix operators and member chains are parsed in loops. Nesting is counted as
it happens and refused past ``CelLimits.max_nesting`` before Python's own recursion limit could
be reached.

``not`` is parsed with Python's precedence (its operand is a whole relation: ``not a == b`` is
``!(a == b)``), while ``!`` keeps CEL's tight binding (``!a == b`` is ``(!a) == b``).
"""

from __future__ import annotations

from typing import TypeVar

from agent_os._cel._ast import (
    Binary,
    Call,
    Cond,
    Expr,
    Ident,
    Index,
    ListExpr,
    Lit,
    Logical,
    MapExpr,
    Select,
    Unary,
)
from agent_os._cel._errors import CelSyntaxError
from agent_os._cel._lexer import Token, describe, tokenize
from agent_os._cel._limits import CelLimits

__all__ = ["RESERVED_WORDS", "parse"]

RESERVED_WORDS = frozenset(
    {
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
    }
)

_INT64_MAX = 2**63 - 1

_N = TypeVar("_N", Lit, Ident, Select, Index, Call, ListExpr, MapExpr, Unary, Binary, Logical, Cond)

_OR, _AND, _REL, _ADD, _MUL = 1, 2, 3, 4, 5

# token kind -> (precedence, operator)
_BINARY: dict[str, tuple[int, str]] = {
    "||": (_OR, "||"),
    "or": (_OR, "||"),
    "&&": (_AND, "&&"),
    "and": (_AND, "&&"),
    "==": (_REL, "=="),
    "!=": (_REL, "!="),
    "<": (_REL, "<"),
    "<=": (_REL, "<="),
    ">": (_REL, ">"),
    ">=": (_REL, ">="),
    "in": (_REL, "in"),
    "+": (_ADD, "+"),
    "-": (_ADD, "-"),
    "*": (_MUL, "*"),
    "/": (_MUL, "/"),
    "%": (_MUL, "%"),
}


class _Parser:
    def __init__(self, tokens: list[Token], source: str, limits: CelLimits) -> None:
        self.tokens = tokens
        self.pos = 0
        self.source = source
        self.limits = limits
        self.node_count = 0
        self.nesting = 0

    # -- helpers ---------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, ahead: int) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def error(self, message: str, offset: int) -> CelSyntaxError:
        return CelSyntaxError(message, offset, self.source)

    def where(self, offset: int) -> str:
        before = self.source[:offset]
        column = offset - (before.rfind("\n") + 1) + 1
        if "\n" in before:
            return f"line {before.count(chr(10)) + 1}, column {column}"
        return f"column {column}"

    def expect(self, kind: str, message: str) -> Token:
        if self.tok.kind != kind:
            raise self.error(f"{message}, found {describe(self.tok)}", self.tok.offset)
        return self.advance()

    def add(self, node: _N) -> _N:
        self.node_count += 1
        if self.node_count > self.limits.max_ast_nodes:
            raise self.error(
                f"condition has more than {self.limits.max_ast_nodes} syntax nodes (limit max_ast_nodes)",
                node.offset,
            )
        if node.depth > self.limits.max_nesting:
            raise self.error(self.nesting_message(), node.offset)
        return node

    def nesting_message(self) -> str:
        return f"condition nests deeper than {self.limits.max_nesting} levels (limit max_nesting)"

    # -- grammar ---------------------------------------------------------------------------

    def parse(self) -> Expr:
        expr = self.parse_expr()
        tok = self.tok
        if tok.kind == "not":
            raise self.error("expected `in` after `not`", self.peek(1).offset)
        if tok.kind != "eof":
            raise self.error(
                f"unexpected {describe(tok)}: expected an operator or the end of the condition", tok.offset
            )
        return expr

    def parse_expr(self) -> Expr:
        self.nesting += 1
        if self.nesting > self.limits.max_nesting:
            raise self.error(self.nesting_message(), self.tok.offset)
        try:
            cond = self.parse_binary(_OR)
            if self.tok.kind != "?":
                return cond
            question = self.advance()
            then = self.parse_binary(_OR)
            self.expect(":", f"expected `:` in the conditional started at {self.where(question.offset)}")
            other = self.parse_expr()
            depth = 1 + max(cond.depth, then.depth, other.depth)
            return self.add(Cond(cond, then, other, question.offset, depth))
        finally:
            self.nesting -= 1

    def parse_binary(self, min_prec: int) -> Expr:
        left = self.parse_operand(min_prec)
        while True:
            tok = self.tok
            if tok.kind == "not":
                # `a not in b`; any other `not` here ends the operand and is reported by the caller
                if min_prec > _REL or self.peek(1).kind != "in":
                    return left
                self.advance()
                self.advance()
                prec, op = _REL, "not in"
            else:
                entry = _BINARY.get(tok.kind)
                if entry is None or entry[0] < min_prec:
                    return left
                prec, op = entry
                self.advance()
            right = self.parse_binary(prec + 1)
            if op in ("&&", "||"):
                left = self.logical(op, left, right, tok.offset)
            else:
                left = self.add(Binary(op, left, right, tok.offset, 1 + max(left.depth, right.depth)))

    def logical(self, op: str, left: Expr, right: Expr, offset: int) -> Expr:
        # `a && b && c` is one node with three operands: evaluation loops instead of nesting, and
        # a long chain of alternatives does not count against max_nesting
        operands: list[Expr] = []
        for side in (left, right):
            if isinstance(side, Logical) and side.op == op:
                operands.extend(side.operands)
            else:
                operands.append(side)
        if isinstance(left, Logical) and left.op == op:
            offset = left.offset
        depth = 1 + max(operand.depth for operand in operands)
        return self.add(Logical(op, tuple(operands), offset, depth))

    def parse_operand(self, min_prec: int) -> Expr:
        if self.tok.kind != "not":
            return self.parse_unary()
        if min_prec > _REL:
            raise self.error(
                "unexpected `not` here: write `!` or put `not …` in parentheses", self.tok.offset
            )
        nots: list[Token] = []
        while self.tok.kind == "not":
            nots.append(self.advance())
        # Python precedence: `not` negates the whole relation that follows
        operand = self.parse_binary(_REL)
        for tok in reversed(nots):
            operand = self.add(Unary("!", operand, tok.offset, operand.depth + 1))
        return operand

    def parse_unary(self) -> Expr:
        ops: list[Token] = []
        while self.tok.kind in ("!", "-"):
            ops.append(self.advance())
        node: Expr
        if (
            ops
            and ops[-1].kind == "-"
            and self.tok.kind in ("int", "double")
            and self.peek(1).kind not in (".", "[")
        ):
            # a negative literal is one literal: it lets `-9223372036854775808` through and makes
            # `x == -1` indexable
            minus = ops.pop()
            value = -self.advance().value
            if type(value) is int and value < -_INT64_MAX - 1:
                raise self.error(f"integer literal `{value}` is out of range", minus.offset)
            node = self.add(Lit(value, minus.offset))
        else:
            node = self.parse_member()
        for op in reversed(ops):
            node = self.add(Unary(op.kind, node, op.offset, node.depth + 1))
        return node

    def parse_member(self) -> Expr:
        node = self.parse_primary()
        while True:
            kind = self.tok.kind
            if kind == ".":
                self.advance()
                name = self.tok
                if name.kind != "ident":
                    raise self.error(
                        f"expected a field or method name after `.`, found {describe(name)}", name.offset
                    )
                self.advance()
                if self.tok.kind == "(":
                    args = self.parse_args(name)
                    depth = 1 + max([node.depth, *(a.depth for a in args)])
                    node = self.add(Call(name.value, node, args, name.offset, depth))
                else:
                    node = self.add(Select(node, name.value, name.offset, node.depth + 1))
            elif kind == "[":
                bracket = self.advance()
                index = self.parse_expr()
                self.expect("]", f"expected `]` to close the index started at {self.where(bracket.offset)}")
                node = self.add(Index(node, index, bracket.offset, 1 + max(node.depth, index.depth)))
            else:
                return node

    def parse_args(self, name: Token) -> tuple[Expr, ...]:
        self.advance()  # (
        args: list[Expr] = []
        if self.tok.kind == ")":
            self.advance()
            return ()
        while True:
            args.append(self.parse_expr())
            if self.tok.kind == ",":
                self.advance()
                continue
            self.expect(")", f"expected `)` to close the call started at {self.where(name.offset)}")
            return tuple(args)

    def parse_primary(self) -> Expr:
        tok = self.tok
        kind = tok.kind
        if kind == "int":
            if tok.value > _INT64_MAX:
                raise self.error(f"integer literal `{tok.value}` is out of range", tok.offset)
            self.advance()
            return self.add(Lit(tok.value, tok.offset))
        if kind in ("double", "string", "true", "false", "null"):
            self.advance()
            return self.add(Lit(tok.value, tok.offset))
        if kind == "ident":
            self.advance()
            if tok.value in RESERVED_WORDS:
                raise self.error(f"`{tok.value}` is a reserved word and cannot be used as a name", tok.offset)
            if self.tok.kind == "(":
                args = self.parse_args(tok)
                depth = 1 + max((a.depth for a in args), default=0)
                return self.add(Call(tok.value, None, args, tok.offset, depth))
            return self.add(Ident(tok.value, tok.offset))
        if kind == "(":
            self.advance()
            inner = self.parse_expr()
            self.expect(")", f"expected `)` to close the parenthesis opened at {self.where(tok.offset)}")
            return inner
        if kind == "[":
            return self.parse_list(tok)
        if kind == "{":
            return self.parse_map(tok)
        if kind == "eof":
            raise self.error("unexpected end of the condition: expected a value", tok.offset)
        if kind == ".":
            raise self.error("a name cannot start with `.`", tok.offset)
        if kind == "not":
            raise self.error("unexpected `not` here: write `!` or put `not …` in parentheses", tok.offset)
        raise self.error(f"expected a value, found {describe(tok)}", tok.offset)

    def parse_list(self, open_tok: Token) -> Expr:
        self.advance()
        items: list[Expr] = []
        while self.tok.kind != "]":
            items.append(self.parse_expr())
            if self.tok.kind == ",":
                self.advance()
            elif self.tok.kind != "]":
                raise self.error(
                    f"expected `,` or `]` in the list started at {self.where(open_tok.offset)}, "
                    f"found {describe(self.tok)}",
                    self.tok.offset,
                )
        self.advance()
        depth = 1 + max((i.depth for i in items), default=0)
        return self.add(ListExpr(tuple(items), open_tok.offset, depth))

    def parse_map(self, open_tok: Token) -> Expr:
        self.advance()
        entries: list[tuple[Expr, Expr]] = []
        while self.tok.kind != "}":
            key = self.parse_expr()
            self.expect(":", "expected `:` after the map key")
            value = self.parse_expr()
            entries.append((key, value))
            if self.tok.kind == ",":
                self.advance()
            elif self.tok.kind != "}":
                raise self.error(
                    f"expected `,` or `}}` in the map started at {self.where(open_tok.offset)}, "
                    f"found {describe(self.tok)}",
                    self.tok.offset,
                )
        self.advance()
        depth = 1 + max((max(k.depth, v.depth) for k, v in entries), default=0)
        return self.add(MapExpr(tuple(entries), open_tok.offset, depth))


def parse(source: str, limits: CelLimits) -> Expr:
    """Parses ``source`` into a syntax tree.

    Raises:
        CelSyntaxError: On a lexing or parse error, or a node-count or nesting limit exceeded.
    """
    if len(source) > limits.max_source_length:
        raise CelSyntaxError(
            f"condition is longer than {limits.max_source_length} characters (limit max_source_length)",
            limits.max_source_length,
            source,
        )
    return _Parser(tokenize(source), source, limits).parse()
