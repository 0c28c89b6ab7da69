"""Compile-time checks that catch mistakes a policy author would otherwise only see at runtime.

Unknown variables (``acton.type``), unknown functions and methods, wrong argument counts,
malformed macros, ``in []`` with an empty list literal (always false, so ``x in []`` could never
match and ``x not in []`` could never fail: a silent fail-open elsewhere), non-string or
duplicate map-literal keys, and macros nested past the limit.
"""

from __future__ import annotations

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
    start_offset,
)
from agent_os._cel._errors import CelSyntaxError
from agent_os._cel._limits import CelLimits

__all__ = ["FUNCTIONS", "MACROS", "METHODS", "VARIABLES", "check"]

_VARIABLE_ORDER = ("action", "args", "agent", "context", "stage", "result", "sql", "k8s")
VARIABLES = frozenset(_VARIABLE_ORDER)
_VARIABLE_LIST = ", ".join(_VARIABLE_ORDER)

# name -> accepted argument counts
FUNCTIONS: dict[str, tuple[int, ...]] = {
    "has": (1,),
    "size": (1,),
    "int": (1,),
    "double": (1,),
    "string": (1,),
    "matches": (2,),
}
METHODS: dict[str, tuple[int, ...]] = {
    "size": (0,),
    "contains": (1,),
    "startsWith": (1,),
    "endsWith": (1,),
    "matches": (1,),
    "lowerAscii": (0,),
    "upperAscii": (0,),
}
MACROS: dict[str, tuple[int, ...]] = {
    "all": (2,),
    "exists": (2,),
    "exists_one": (2,),
    "filter": (2,),
    "map": (2, 3),
}


def _arity_text(counts: tuple[int, ...]) -> str:
    text = " or ".join(str(c) for c in counts)
    return f"{text} argument" + ("" if counts == (1,) else "s")


class _Checker:
    def __init__(self, source: str, limits: CelLimits) -> None:
        self.source = source
        self.limits = limits

    def error(self, message: str, offset: int) -> CelSyntaxError:
        return CelSyntaxError(message, offset, self.source)

    def check(self, node: Expr, scope: tuple[str, ...], macro_depth: int) -> None:
        match node:
            case Lit():
                return
            case Ident(name=name, offset=offset):
                if name in scope or name in VARIABLES:
                    return
                extra = "".join(f", {var}" for var in scope)
                raise self.error(
                    f"unknown variable `{name}`; conditions can use {_VARIABLE_LIST}{extra}", offset
                )
            case Select(operand=operand):
                self.check(operand, scope, macro_depth)
            case Index(operand=operand, index=index):
                self.check(operand, scope, macro_depth)
                self.check(index, scope, macro_depth)
            case ListExpr(items=items):
                for item in items:
                    self.check(item, scope, macro_depth)
            case MapExpr(entries=entries):
                seen: set[str] = set()
                for key, value in entries:
                    if isinstance(key, Lit):
                        if type(key.value) is not str:
                            raise self.error("map keys must be strings", key.offset)
                        if key.value in seen:
                            raise self.error(f"duplicate map key `{key.value}`", key.offset)
                        seen.add(key.value)
                    self.check(key, scope, macro_depth)
                    self.check(value, scope, macro_depth)
            case Unary(operand=operand):
                self.check(operand, scope, macro_depth)
            case Binary(op=op, left=left, right=right):
                if op in ("in", "not in") and isinstance(right, ListExpr) and not right.items:
                    if op == "in":
                        message = "`in []` is always false, so this test can never match; list the values"
                    else:
                        message = "`not in []` is always true, so this test can never fail; list the values"
                    raise self.error(message, right.offset)
                self.check(left, scope, macro_depth)
                self.check(right, scope, macro_depth)
            case Logical(operands=operands):
                for operand in operands:
                    self.check(operand, scope, macro_depth)
            case Cond(cond=cond, then=then, other=other):
                self.check(cond, scope, macro_depth)
                self.check(then, scope, macro_depth)
                self.check(other, scope, macro_depth)
            case Call(target=None):
                self.check_function(node, scope, macro_depth)
            case Call():
                self.check_method(node, scope, macro_depth)

    def check_function(self, node: Call, scope: tuple[str, ...], macro_depth: int) -> None:
        name = node.name
        counts = FUNCTIONS.get(name)
        if counts is None:
            if name in METHODS or name in MACROS:
                raise self.error(f"`{name}` is a method: write `value.{name}(…)`", node.offset)
            functions = ", ".join(FUNCTIONS)
            raise self.error(f"unknown function `{name}`; functions are {functions}", node.offset)
        self.check_arity(node, counts)
        if name == "has":
            arg = node.args[0]
            if not isinstance(arg, Select):
                raise self.error("has() takes a field selection, like `has(args.amount)`", start_offset(arg))
        for arg in node.args:
            self.check(arg, scope, macro_depth)

    def check_method(self, node: Call, scope: tuple[str, ...], macro_depth: int) -> None:
        name = node.name
        assert node.target is not None
        if name in MACROS:
            self.check_macro(node, node.target, scope, macro_depth)
            return
        counts = METHODS.get(name)
        if counts is None:
            if name in FUNCTIONS:
                hint = "has(x.field)" if name == "has" else f"{name}(value)"
                raise self.error(f"`{name}` is a function, not a method: write `{hint}`", node.offset)
            methods = ", ".join([*METHODS, *MACROS])
            raise self.error(f"unknown method `{name}`; methods are {methods}", node.offset)
        self.check_arity(node, counts)
        self.check(node.target, scope, macro_depth)
        for arg in node.args:
            self.check(arg, scope, macro_depth)

    def check_macro(self, node: Call, target: Expr, scope: tuple[str, ...], macro_depth: int) -> None:
        self.check_arity(node, MACROS[node.name])
        var = node.args[0]
        if not isinstance(var, Ident):
            raise self.error(
                f"the first argument of `{node.name}` must be a variable name, like `x`", start_offset(var)
            )
        if var.name in VARIABLES or var.name in scope:
            raise self.error(
                f"macro variable `{var.name}` would hide the variable of the same name; pick another name",
                var.offset,
            )
        if macro_depth + 1 > self.limits.max_comprehension_nesting:
            raise self.error(
                f"macros nest deeper than {self.limits.max_comprehension_nesting} levels "
                "(limit max_comprehension_nesting)",
                node.offset,
            )
        self.check(target, scope, macro_depth)
        inner = (*scope, var.name)
        for arg in node.args[1:]:
            self.check(arg, inner, macro_depth + 1)

    def check_arity(self, node: Call, counts: tuple[int, ...]) -> None:
        if len(node.args) not in counts:
            raise self.error(
                f"`{node.name}` takes {_arity_text(counts)}, got {len(node.args)}",
                node.offset,
            )


def check(expr: Expr, source: str, limits: CelLimits) -> None:
    """Checks names, arities, macros and literal mistakes in a parsed condition.

    Raises:
        CelSyntaxError: At the offending node's offset.
    """
    _Checker(source, limits).check(expr, (), 0)
