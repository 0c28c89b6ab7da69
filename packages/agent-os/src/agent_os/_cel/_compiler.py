"""Compiles a checked syntax tree into Python closures.

Each node becomes a closure ``fn(activation) -> value``. Sub-trees without variables are folded
into constants at compile time (unless evaluating them fails: then the error stays a runtime
error, as CEL specifies). The shapes policies use most get closures of their own:

* a variable followed by literal field names (``args.to``, ``action['type']``) → nested dict
  lookups in one ``try`` (see ``_paths``);
* ``path == 'literal'`` → one closure doing the lookups and one ``==``;
* ``path in ['a', 'b']`` → a type check and a frozenset membership;
* comparisons and string methods with a literal operand → one type check and the operation;
* ``matches`` with a literal pattern → the RE2 program compiled once, here.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
from agent_os._cel._errors import CelEvalError, CelSyntaxError
from agent_os._cel._functions import (
    compile_regex,
    lower_ascii,
    matches,
    size,
    to_double,
    to_int,
    to_string,
    upper_ascii,
)
from agent_os._cel._limits import CelLimits
from agent_os._cel._macros import (
    LIST_ELEMENT_BYTES,
    MAP_ENTRY_BYTES,
    as_eval_error,
    charge,
    macro,
    string_bytes,
    with_env,
)
from agent_os._cel._paths import Fn, getter, inlinable, lookup
from agent_os._cel._values import (
    a_type,
    add,
    cel_eq,
    cel_in,
    divide,
    index_key,
    is_opaque,
    kind_of,
    less,
    less_equal,
    modulo,
    multiply,
    negate,
    no_overload,
    subtract,
    type_name,
)

__all__ = ["CompiledExpr", "compile_expr"]

_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {  # "+" builds values: see _add
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": modulo,
}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_ORDER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SCALARS = (str, int, float, bool, type(None))
_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": str.__contains__,
    "startsWith": str.startswith,
    "endsWith": str.endswith,
}


@dataclass(slots=True)
class _Node:
    fn: Fn
    is_bool: bool = False  # the closure returns a bool or raises
    const: bool = False
    value: Any = None
    path: tuple[str, ...] | None = None  # set when the node is a variable followed by literal keys


@dataclass(frozen=True, slots=True)
class CompiledExpr:
    """A compiled condition.

    Attributes:
        fn: Evaluates the condition against an activation.
        is_bool: Whether ``fn`` always returns a bool (or raises).
    """

    fn: Fn
    is_bool: bool


def _constant(value: Any) -> _Node:
    def const(_: Any) -> Any:
        return value

    return _Node(const, is_bool=type(value) is bool, const=True, value=value)


def _fold(node: _Node, *children: _Node) -> _Node:
    """Replaces ``node`` by its value when all its operands are constants."""
    if not all(child.const for child in children):
        return node
    try:
        value = node.fn(None)
    except Exception:
        return node  # an always-failing sub-expression still fails when evaluated, not here
    return _constant(value)


# -- logical operators ---------------------------------------------------------------------


def _logic_error(op: str, value: Any) -> CelEvalError:
    return CelEvalError(f"`{op}` needs bool operands, got {type_name(value)}")


def _logical(op: str, absorbing: bool, fns: tuple[Fn, ...]) -> Fn:
    """Builds ``&&`` (``absorbing=False``) or ``||`` (``absorbing=True``) over ``fns``.

    CEL's ``&&`` and ``||`` are commutative with respect to errors: an operand equal to the
    absorbing value decides the result even if another operand errored; otherwise the first
    error wins.
    """
    identity = not absorbing
    if len(fns) == 2:
        first, second = fns

        def logical2(a: Any) -> bool:
            try:
                left = first(a)
            except Exception as exc:
                error = as_eval_error(exc)
            else:
                if left is identity:
                    right = second(a)
                    if right is True or right is False:
                        return right
                    raise _logic_error(op, right)
                if left is absorbing:
                    return left
                error = _logic_error(op, left)
            try:
                right = second(a)
            except Exception:
                raise error from None
            if right is absorbing:
                return right
            raise error

        return logical2

    def logical_n(a: Any) -> bool:
        error: CelEvalError | None = None
        for fn in fns:
            try:
                value = fn(a)
            except Exception as exc:
                if error is None:
                    error = as_eval_error(exc)
                continue
            if value is absorbing:
                return value
            if value is not identity and error is None:
                error = _logic_error(op, value)
        if error is not None:
            raise error
        return identity

    return logical_n


def _not(fn: Fn) -> Fn:
    def not_(a: Any) -> bool:
        value = fn(a)
        if value is True:
            return False
        if value is False:
            return True
        raise no_overload("!", value)

    return not_


def _conditional(cond: Fn, then: Fn, other: Fn) -> Fn:
    def conditional(a: Any) -> Any:
        flag = cond(a)
        if flag is True:
            return then(a)
        if flag is False:
            return other(a)
        raise CelEvalError(f"the condition of `?:` must be a bool, got {type_name(flag)}")

    return conditional


# -- equality ------------------------------------------------------------------------------
# The fast paths below handle a value of the literal's own kind; every other value goes to
# cel_eq / cel_in, which decide null (unequal to everything) and raise for other kinds.


def _eq_str_path2(path: tuple[str, ...], literal: str, negate: bool) -> Fn:
    # `action.type == 'x'`, the commonest condition of all, in a single closure
    k0, k1 = path
    if negate:

        def ne(a: Any) -> bool:
            value: object
            try:
                value = a[k0][k1]
            except Exception:
                value = lookup(a, path)
            if type(value) is str:
                return literal != value
            return not cel_eq(value, literal)

        return ne

    def eq(a: Any) -> bool:
        value: object
        try:
            value = a[k0][k1]
        except Exception:
            value = lookup(a, path)
        if type(value) is str:
            return literal == value
        return cel_eq(value, literal)

    return eq


def _eq_const(fn: Fn, literal: Any, negate: bool) -> Fn:
    t = type(literal)
    if t is str:

        def eq_str(a: Any) -> bool:
            value = fn(a)
            if type(value) is str:
                return value == literal  # type: ignore[no-any-return]
            return cel_eq(value, literal)

        eq: Fn = eq_str
    elif t is bool:

        def eq_bool(a: Any) -> bool:
            value = fn(a)
            if type(value) is bool:
                return value is literal  # identity: Python's True == 1 must not leak into CEL
            return cel_eq(value, literal)

        eq = eq_bool
    elif literal is None:

        def eq_null(a: Any) -> bool:
            value = fn(a)
            if value is None:
                return True
            return cel_eq(value, None)

        eq = eq_null
    elif t is int or t is float:

        def eq_number(a: Any) -> bool:
            value = fn(a)
            tv = type(value)
            if tv is int or tv is float:
                return value == literal  # type: ignore[no-any-return]
            return cel_eq(value, literal)

        eq = eq_number
    else:
        return _eq(fn, lambda _: literal, negate)
    if negate:
        return lambda a: not eq(a)
    return eq


def _eq(left: Fn, right: Fn, negate: bool) -> Fn:
    if negate:
        return lambda a: not cel_eq(left(a), right(a))
    return lambda a: cel_eq(left(a), right(a))


# -- membership ----------------------------------------------------------------------------


def _in_str_set(fn: Fn, path: tuple[str, ...] | None, items: list[str], negate: bool) -> Fn:
    # every literal is a string: a string value is a set lookup
    literals = frozenset(items)
    if path is not None and len(path) == 2 and inlinable(path) and not negate:
        k0, k1 = path

        def in_set2(a: Any) -> bool:
            try:
                value = a[k0][k1]
            except Exception:
                value = lookup(a, path)
            if type(value) is str:
                return value in literals
            return cel_in(value, items)

        return in_set2

    def in_set(a: Any) -> bool:
        value = fn(a)
        if type(value) is str:
            return (value in literals) is not negate
        return cel_in(value, items) is not negate

    return in_set


def _in_key_set(fn: Fn, items: list[Any], negate: bool) -> Fn:
    # scalar literals: index keys agree with CEL equality (bool apart from int, 1 equal to 1.0),
    # so a hit is a set lookup; a miss is false at once when every literal (nulls aside) is of
    # the value's kind, and takes the general path otherwise (a null value, or an error)
    keys = frozenset(index_key(item) for item in items)
    kinds = frozenset(kind_of(item) for item in items if item is not None)
    (kind,) = kinds if len(kinds) == 1 else (None,)

    def in_keys(a: Any) -> bool:
        value = fn(a)
        key = index_key(value)
        if key is not None:
            if key in keys:
                return not negate
            if kind is not None and kind_of(value) == kind:
                return negate
        return cel_in(value, items) is not negate

    return in_keys


def _is_nan(value: Any) -> bool:
    # a NaN equals nothing, itself included, so it must not become a set member
    return type(value) is float and math.isnan(value)


def _in(left: Fn, right: Fn, negate: bool) -> Fn:
    if negate:
        return lambda a: not cel_in(left(a), right(a))
    return lambda a: cel_in(left(a), right(a))


# -- ordering ------------------------------------------------------------------------------


def _compare_number(fn: Fn, op: str, literal: Any) -> Fn:
    # `args.amount > 100`: one type check, one comparison; a string amount is an error
    if op == ">":

        def gt(a: Any) -> bool:
            value = fn(a)
            t = type(value)
            if t is int or t is float:
                return bool(value > literal)
            raise no_overload(">", value, literal)

        return gt
    if op == ">=":

        def ge(a: Any) -> bool:
            value = fn(a)
            t = type(value)
            if t is int or t is float:
                return bool(value >= literal)
            raise no_overload(">=", value, literal)

        return ge
    if op == "<":

        def lt(a: Any) -> bool:
            value = fn(a)
            t = type(value)
            if t is int or t is float:
                return bool(value < literal)
            raise no_overload("<", value, literal)

        return lt

    def le(a: Any) -> bool:
        value = fn(a)
        t = type(value)
        if t is int or t is float:
            return bool(value <= literal)
        raise no_overload("<=", value, literal)

    return le


def _compare_same(fn: Fn, op: str, literal: Any) -> Fn:
    # a string or bool literal: only a value of the same type compares
    compare = _ORDER_OPS[op]
    kind = type(literal)

    def compare_same(a: Any) -> bool:
        value = fn(a)
        if type(value) is kind:
            return bool(compare(value, literal))
        raise no_overload(op, value, literal)

    return compare_same


def _compare(left: Fn, op: str, right: Fn) -> Fn:
    if op == "<":
        return lambda a: less(left(a), right(a))
    if op == "<=":
        return lambda a: less_equal(left(a), right(a))
    if op == ">":

        def gt(a: Any) -> bool:
            x = left(a)
            y = right(a)
            try:
                return less(y, x)
            except CelEvalError:
                raise no_overload(">", x, y) from None

        return gt

    def ge(a: Any) -> bool:
        x = left(a)
        y = right(a)
        try:
            return less_equal(y, x)
        except CelEvalError:
            raise no_overload(">=", x, y) from None

    return ge


# -- member access -------------------------------------------------------------------------


def _select(fn: Fn, field: str) -> Fn:
    def select(a: Any) -> Any:
        value = fn(a)
        if type(value) is dict and not is_opaque(value):
            try:
                return value[field]
            except KeyError:
                raise CelEvalError(f"no such key `{field}`") from None
        raise CelEvalError(f"cannot select `{field}` on {a_type(value)}, only on a map")

    return select


def _index_value(container: Any, key: Any) -> Any:
    tc = type(container)
    if tc is list:
        if type(key) is not int:
            raise CelEvalError(f"a list index must be an int, got {type_name(key)}")
        # CEL has no negative indexing: `list[-1]` is out of range, not the last element
        if 0 <= key < len(container):
            return container[key]
        raise CelEvalError(f"index `{key}` is out of range for a list of size {len(container)}")
    if tc is dict and not is_opaque(container):
        if type(key) is str and key in container:
            return container[key]
        raise CelEvalError(f"no such key `{key}`")
    raise CelEvalError(f"cannot index {a_type(container)}")


def _index(container: Fn, key: Fn) -> Fn:
    return lambda a: _index_value(container(a), key(a))


def _has(fn: Fn, field: str) -> Fn:
    def has(a: Any) -> bool:
        value = fn(a)
        if type(value) is dict and not is_opaque(value):
            return field in value
        raise CelEvalError(f"has() needs a map before `.{field}`, got {type_name(value)}")

    return has


# -- functions -----------------------------------------------------------------------------


def _string_test(name: str, fn: Fn, arg: _Node) -> Fn:
    test = _STRING_TESTS[name]
    if arg.const and type(arg.value) is str:
        literal: str = arg.value

        def string_test_literal(a: Any) -> bool:
            value = fn(a)
            if type(value) is str:
                return test(value, literal)
            raise CelEvalError(f"no such overload: {type_name(value)}.{name}(string)")

        return string_test_literal
    arg_fn = arg.fn

    def string_test(a: Any) -> bool:
        value = fn(a)
        other = arg_fn(a)
        if type(value) is str and type(other) is str:
            return test(value, other)
        raise CelEvalError(f"no such overload: {type_name(value)}.{name}({type_name(other)})")

    return string_test


def _literal_regex(fn: Fn, regex: Any) -> Fn:
    search = regex.search

    def matches_literal(a: Any) -> bool:
        value = fn(a)
        if type(value) is str:
            try:
                return search(value) is not None
            except UnicodeEncodeError:
                raise CelEvalError(
                    "cannot match a string that is not valid Unicode (lone surrogate)"
                ) from None
        raise CelEvalError(f"no such overload: {type_name(value)}.matches(string)")

    return matches_literal


def _unary_fn(function: Callable[[Any], Any], fn: Fn) -> Fn:
    return lambda a: function(fn(a))


def _add(left: Fn, right: Fn) -> Fn:
    # the one operator that builds strings and lists: charged before it builds them
    def plus(a: Any) -> Any:
        x = left(a)
        y = right(a)
        tx = type(x)
        if tx is type(y):
            if tx is str:
                charge(a, string_bytes(x) + string_bytes(y))
            elif tx is list:
                charge(a, LIST_ELEMENT_BYTES * (len(x) + len(y)))
        return add(x, y)

    return plus


def _case_fn(function: Callable[[Any], str], fn: Fn) -> Fn:
    # lowerAscii / upperAscii build a string as long as their operand
    def case(a: Any) -> str:
        value = fn(a)
        if type(value) is str:
            charge(a, string_bytes(value))
        return function(value)

    return case


def _to_string_fn(fn: Fn) -> Fn:
    def to_string_(a: Any) -> str:
        text = to_string(fn(a))
        charge(a, string_bytes(text))
        return text

    return to_string_


def _list(fns: tuple[Fn, ...]) -> Fn:
    size = LIST_ELEMENT_BYTES * len(fns)

    def build_list(a: Any) -> list[Any]:
        charge(a, size)
        return [fn(a) for fn in fns]

    return build_list


def _map(entries: tuple[tuple[Fn, Fn], ...]) -> Fn:
    size = MAP_ENTRY_BYTES * len(entries)

    def build(a: Any) -> dict[str, Any]:
        charge(a, size)
        out: dict[str, Any] = {}
        for key_fn, value_fn in entries:
            key = key_fn(a)
            if type(key) is not str:
                raise CelEvalError(f"map keys must be strings, got {type_name(key)}")
            if key in out:
                raise CelEvalError(f"duplicate map key `{key}`")
            out[key] = value_fn(a)
        return out

    return build


class _Compiler:
    def __init__(self, source: str, limits: CelLimits) -> None:
        self.source = source
        self.limits = limits
        self.uses_env = False  # macros or values built at evaluation time need an Env

    def compile(self, node: Expr) -> _Node:
        match node:
            case Lit(value=value):
                return _constant(value)
            case Ident(name=name):
                return _Node(getter((name,)), path=(name,))
            case Select(operand=operand, field=field):
                inner = self.compile(operand)
                if inner.path is not None:
                    path = (*inner.path, field)
                    return _Node(getter(path), path=path)
                return _fold(_Node(_select(inner.fn, field)), inner)
            case Index(operand=operand, index=index):
                inner = self.compile(operand)
                key = self.compile(index)
                if inner.path is not None and key.const and type(key.value) is str:
                    path = (*inner.path, key.value)
                    return _Node(getter(path), path=path)
                return _fold(_Node(_index(inner.fn, key.fn)), inner, key)
            case ListExpr(items=items):
                compiled = [self.compile(item) for item in items]
                return self.building(_fold(_Node(_list(tuple(c.fn for c in compiled))), *compiled))
            case MapExpr(entries=entries):
                pairs = [(self.compile(k), self.compile(v)) for k, v in entries]
                built = _Node(_map(tuple((k.fn, v.fn) for k, v in pairs)))
                return self.building(_fold(built, *(c for pair in pairs for c in pair)))
            case Unary(op="!", operand=operand):
                inner = self.compile(operand)
                return _fold(_Node(_not(inner.fn), is_bool=True), inner)
            case Unary(operand=operand):
                inner = self.compile(operand)
                return _fold(_Node(_unary_fn(negate, inner.fn)), inner)
            case Logical(op=op, operands=operands):
                compiled = [self.compile(o) for o in operands]
                fns = tuple(c.fn for c in compiled)
                fn = _logical(op, op == "||", fns)
                return _fold(_Node(fn, is_bool=True), *compiled)
            case Cond(cond=cond, then=then, other=other):
                c_cond, c_then, c_other = self.compile(cond), self.compile(then), self.compile(other)
                is_bool = c_then.is_bool and c_other.is_bool
                if c_cond.const and type(c_cond.value) is bool:
                    return c_then if c_cond.value else c_other
                return _Node(_conditional(c_cond.fn, c_then.fn, c_other.fn), is_bool=is_bool)
            case Binary():
                return self.compile_binary(node)
            case Call():
                return self.compile_call(node)

    def compile_binary(self, node: Binary) -> _Node:
        op = node.op
        left = self.compile(node.left)
        right = self.compile(node.right)
        if op == "+":
            return self.building(_fold(_Node(_add(left.fn, right.fn)), left, right))
        if op in _ARITHMETIC:
            function = _ARITHMETIC[op]
            l_fn, r_fn = left.fn, right.fn
            return _fold(_Node(lambda a: function(l_fn(a), r_fn(a))), left, right)
        if op in ("==", "!="):
            negate = op == "!="
            if not left.const and right.const:
                return _Node(self.eq_const(left, right.value, negate), is_bool=True)
            if left.const and not right.const:
                return _Node(self.eq_const(right, left.value, negate), is_bool=True)
            return _fold(_Node(_eq(left.fn, right.fn, negate), is_bool=True), left, right)
        if op in ("in", "not in"):
            negate = op == "not in"
            if right.const and not left.const and type(right.value) is list:
                return _Node(self.in_const(left, right.value, negate), is_bool=True)
            return _fold(_Node(_in(left.fn, right.fn, negate), is_bool=True), left, right)
        # ordering
        if left.const and not right.const:
            left, right, op = right, left, _MIRROR[op]
        if right.const and not left.const:
            t = type(right.value)
            if t is int or t is float:
                return _Node(_compare_number(left.fn, op, right.value), is_bool=True)
            if t is str or t is bool:
                return _Node(_compare_same(left.fn, op, right.value), is_bool=True)
        return _fold(_Node(_compare(left.fn, op, right.fn), is_bool=True), left, right)

    @staticmethod
    def eq_const(other: _Node, literal: Any, negate: bool) -> Fn:
        if type(literal) is str and other.path is not None and len(other.path) == 2 and inlinable(other.path):
            return _eq_str_path2(other.path, literal, negate)
        return _eq_const(other.fn, literal, negate)

    @staticmethod
    def in_const(left: _Node, items: list[Any], negate: bool) -> Fn:
        if items and all(type(item) is str for item in items):
            return _in_str_set(left.fn, left.path, items, negate)
        if items and all(type(item) in _SCALARS and not _is_nan(item) for item in items):
            return _in_key_set(left.fn, items, negate)
        return _in(left.fn, lambda _: items, negate)

    def compile_call(self, node: Call) -> _Node:
        name = node.name
        if node.target is not None and name in ("all", "exists", "exists_one", "filter", "map"):
            return self.compile_macro(node, node.target)
        if name == "has":
            selection = node.args[0]
            assert isinstance(selection, Select)
            inner = self.compile(selection.operand)
            return _fold(_Node(_has(inner.fn, selection.field), is_bool=True), inner)
        arguments = node.args if node.target is None else (node.target, *node.args)
        operands = [self.compile(arg) for arg in arguments]
        first = operands[0]
        if name == "matches":
            pattern = operands[1]
            if pattern.const and type(pattern.value) is str:
                try:
                    regex = compile_regex(pattern.value)
                except ValueError as exc:
                    offset = start_offset(node.args[-1])
                    raise CelSyntaxError(
                        f"invalid regular expression `{pattern.value}`: {exc}", offset, self.source
                    ) from None
                return _fold(_Node(_literal_regex(first.fn, regex), is_bool=True), first)
            f_fn, p_fn = first.fn, pattern.fn
            return _fold(_Node(lambda a: matches(f_fn(a), p_fn(a)), is_bool=True), first, pattern)
        if name in _STRING_TESTS:
            return _fold(_Node(_string_test(name, first.fn, operands[1]), is_bool=True), *operands)
        if name in ("lowerAscii", "upperAscii"):
            case = lower_ascii if name == "lowerAscii" else upper_ascii
            return self.building(_fold(_Node(_case_fn(case, first.fn)), first))
        if name == "string":
            return self.building(_fold(_Node(_to_string_fn(first.fn)), first))
        function = {"size": size, "int": to_int, "double": to_double}[name]
        return _fold(_Node(_unary_fn(function, first.fn)), first)

    def building(self, node: _Node) -> _Node:
        """Marks that the program builds values at evaluation time (unless ``node`` folded)."""
        if not node.const:
            self.uses_env = True
        return node

    def compile_macro(self, node: Call, target: Expr) -> _Node:
        self.uses_env = True
        var = node.args[0]
        assert isinstance(var, Ident)
        target_fn = self.compile(target).fn
        body = tuple(self.compile(arg).fn for arg in node.args[1:])
        fn = macro(node.name, target_fn, var.name, body, self.limits.max_eval_steps)
        return _Node(fn, is_bool=node.name in ("all", "exists", "exists_one"))


def _ensure_bool(fn: Fn) -> Fn:
    def boolean(a: Any) -> bool:
        value = fn(a)
        if value is True or value is False:
            return value
        raise CelEvalError(f"the condition must evaluate to a bool, got {type_name(value)}")

    return boolean


def compile_expr(expr: Expr, source: str, limits: CelLimits) -> tuple[CompiledExpr, CompiledExpr]:
    """Compiles a checked syntax tree.

    Returns:
        The program as a value-returning closure and as a bool-returning one (the same closure
        when the expression can only produce a bool).

    Raises:
        CelSyntaxError: When a literal regular expression is invalid.
    """
    compiler = _Compiler(source, limits)
    root = compiler.compile(expr)
    fn = root.fn
    if compiler.uses_env:
        fn = with_env(fn, limits.max_eval_bytes)
    bool_fn = fn if root.is_bool else _ensure_bool(fn)
    return CompiledExpr(fn, root.is_bool), CompiledExpr(bool_fn, True)
