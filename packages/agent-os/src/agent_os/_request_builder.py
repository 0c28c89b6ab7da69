"""Turn a Python call into an evaluation request, and freeze the values the tool will receive.

The policy must judge exactly the call that runs. So for every argument this module produces two
things from one read of the value:

* the **judged** form: plain JSON data for the request (dict, list, str, int, float, bool, None),
  read through the built-in types' own methods, never a subclass's override;
* the **passed** form: what the tool receives instead of the caller's object, which cannot change
  after it was judged: immutable values as they are, containers as fresh copies of their built-in
  base type (a ``list`` subclass arrives as a ``list``), models and dataclasses as deep copies
  taken before they were read.

Conversions (judged form):

* ``str``/``int``/``float``/``bool``/``None`` and their subclasses -> the base value
* enums -> their value (the tool receives the enum member itself)
* lists, tuples, deques, sets, frozensets, dict views, ranges -> lists (sets sorted when possible)
* dicts and mappings with string keys -> objects
* pydantic models -> ``BaseModel.model_dump(mode="json")``; dataclasses -> their fields
* datetimes, dates, times -> ISO 8601; paths -> strings; UUIDs -> strings
* bytes and anything else -> ``{"$opaque": "<type>"}``: every comparison on it is an evaluation
  error, so a restrictive rule that tests it matches (fail closed)
* iterators and generators cannot be read without consuming them: refused, unless the tool was
  governed with ``consume_iterators=True`` (then they are read into a list, bounded by the
  limits, and the tool receives an iterator over that list)

NaN, infinities, integers beyond ±(2**53 - 1), non-string keys, cycles, lone surrogates, a
``**kwargs`` key that repeats a named parameter, and data past the limits raise `RequestError`;
the governed call is then refused and the refusal audited.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as _dt
import enum
import functools
import inspect
import math
import os
import sys
import types
import typing
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as encode_json_string  # RFC 8785 string escaping
from typing import Any

from agt_core import MAX_SAFE_INTEGER, RequestError, canonical_json

__all__ = ["DEFAULT_REQUEST_LIMITS", "RequestBuilder", "RequestLimits", "normalize_action", "to_json_data"]


@dataclass(frozen=True)
class RequestLimits:
    """Bounds on what a request may carry. Exceeding one refuses the call.

    Attributes:
        max_depth: Deepest nesting of lists and objects.
        max_items: Total number of values (every scalar, list and object counts one).
        max_string_length: Longest single string, in code points.
        max_total_chars: Total code points of every string and key in the request.
    """

    max_depth: int = 32
    max_items: int = 10_000
    max_string_length: int = 1_000_000
    max_total_chars: int = 2_000_000


DEFAULT_REQUEST_LIMITS = RequestLimits()

_ITERATOR_TYPES = (Iterator, types.GeneratorType)
_int_text = int.__repr__  # what the C JSON encoder writes for an int
_VIEW_TYPES: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


class _Budget:
    __slots__ = ("chars", "consume", "items", "limits")

    def __init__(self, limits: RequestLimits, consume: bool = False) -> None:
        self.limits = limits
        self.items = 0
        self.chars = 0
        self.consume = consume

    def count(self, where: str) -> None:
        self.items += 1
        if self.items > self.limits.max_items:
            raise RequestError(
                f"request holds more than {self.limits.max_items} values (at `{where}`)",
                help="raise RequestLimits.max_items or pass less data to the governed tool",
            )

    def text(self, value: str, where: str) -> str:
        size = len(value)
        if size > self.limits.max_string_length:
            raise RequestError(
                f"string at `{where}` is longer than {self.limits.max_string_length} characters"
            )
        self.chars += size
        if self.chars > self.limits.max_total_chars:
            raise RequestError(
                f"request holds more than {self.limits.max_total_chars} characters of text (at `{where}`)",
                help="raise RequestLimits.max_total_chars or pass less data to the governed tool",
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise RequestError(
                    f"string at `{where}` holds a lone surrogate, which has no UTF-8 form"
                ) from exc
        return value


def to_json_data(value: Any, limits: RequestLimits = DEFAULT_REQUEST_LIMITS, *, where: str = "args") -> Any:
    """Convert `value` to JSON data for a request (the judged form), enforcing `limits`.

    Raises:
        RequestError: naming where in the request the problem is.
    """
    if type(value) is dict:
        # The common case (enricher facts, a framework's context): plain JSON of ASCII text, bools,
        # None and safe integers, nested a little. Copied in one pass, with no per-value bookkeeping.
        copied = _plain_copy(value, limits, [limits.max_items, limits.max_total_chars], 0)
        if copied is not _NOT_PLAIN:
            return copied
    return _freeze(value, _Budget(limits), 0, where, set())[0]


_NOT_PLAIN: Any = object()
_PLAIN_DEPTH = 4


def _plain_copy(value: Any, limits: RequestLimits, room: list[int], depth: int) -> Any:
    """A copy of `value` if it is small plain JSON (see `to_json_data`), else `_NOT_PLAIN`.

    `room` holds the values and characters still allowed; anything unusual (non-ASCII text, a
    float, a subclass, deep nesting) returns `_NOT_PLAIN`, and the full reading decides.
    """
    if depth > _PLAIN_DEPTH:
        return _NOT_PLAIN
    t = type(value)
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                return _NOT_PLAIN
            room[1] -= len(k)
            item = _plain_copy(v, limits, room, depth + 1)
            if item is _NOT_PLAIN:
                return _NOT_PLAIN
            out[k] = item
        room[0] -= 1
    elif t is list:
        out_list = []
        for v in value:
            item = _plain_copy(v, limits, room, depth + 1)
            if item is _NOT_PLAIN:
                return _NOT_PLAIN
            out_list.append(item)
        room[0] -= 1
        return out_list if room[0] >= 0 and room[1] >= 0 else _NOT_PLAIN
    elif t is str:
        if not value.isascii() or len(value) > limits.max_string_length:
            return _NOT_PLAIN
        room[0] -= 1
        room[1] -= len(value)
        return value
    elif t is int:
        room[0] -= 1
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else _NOT_PLAIN
    elif t is bool or value is None:
        room[0] -= 1
        return value
    else:
        return _NOT_PLAIN
    return out if room[0] >= 0 and room[1] >= 0 else _NOT_PLAIN


def _freeze(value: Any, budget: _Budget, depth: int, where: str, active: set[int]) -> tuple[Any, Any]:
    """``(judged, passed)`` for one value; see the module docstring."""
    budget.count(where)
    t = type(value)
    if t is str:
        return budget.text(value, where), value
    if t is bool or value is None:
        return value, value
    if t is int:
        return _int(value, where), value
    if t is float:
        return _float(value, where), value
    if isinstance(value, enum.Enum):
        judged, _ = _freeze(value._value_, budget, depth, where, active)
        return judged, value
    if isinstance(value, str):
        plain = str.__str__(value)
        return budget.text(plain, where), plain
    if isinstance(value, bool):  # a bool subclass cannot exist, but be exact
        return bool(value), bool(value)
    if isinstance(value, int):
        plain_int = int.__index__(value)
        return _int(plain_int, where), plain_int
    if isinstance(value, float):
        plain_float = float.__float__(value)
        return _float(plain_float, where), plain_float
    if depth >= budget.limits.max_depth:
        raise RequestError(f"request nests deeper than {budget.limits.max_depth} levels (at `{where}`)")
    marker = id(value)
    if marker in active:
        raise RequestError(f"value at `{where}` contains itself")
    active.add(marker)
    try:
        return _freeze_composite(value, budget, depth, where, active)
    finally:
        active.discard(marker)


def _int(value: int, where: str) -> int:
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    raise RequestError(
        f"integer at `{where}` is outside ±(2**53 - 1), which JSON cannot carry exactly",
        help="pass large identifiers as strings",
    )


def _float(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise RequestError(f"`{value}` at `{where}` is not a JSON number")
    return value


def _freeze_composite(
    value: Any, budget: _Budget, depth: int, where: str, active: set[int]
) -> tuple[Any, Any]:
    if isinstance(value, dict):
        return _freeze_items(dict.items(value), budget, depth, where, active)
    if isinstance(value, types.MappingProxyType):
        return _freeze_items(dict(value).items(), budget, depth, where, active)
    if isinstance(value, list):
        judged, passed = _freeze_sequence(list.__iter__(value), budget, depth, where, active)
        return judged, passed
    if isinstance(value, tuple):
        judged, passed = _freeze_sequence(tuple.__iter__(value), budget, depth, where, active)
        return judged, tuple(passed)
    if isinstance(value, collections.deque):
        judged, passed = _freeze_sequence(collections.deque.__iter__(value), budget, depth, where, active)
        return judged, collections.deque(passed, maxlen=value.maxlen)
    if isinstance(value, (set, frozenset)):
        kind: Any = set if isinstance(value, set) else frozenset
        items: list[Any] = list(kind.__iter__(value))
        try:
            items.sort()
        except TypeError:
            items.sort(key=repr)
        judged, passed = _freeze_sequence(iter(items), budget, depth, where, active)
        return judged, kind(passed)
    if isinstance(value, _VIEW_TYPES):
        view: Any = value
        judged, passed = _freeze_sequence(iter(list(view)), budget, depth, where, active)
        return judged, passed
    if type(value) is range:
        if len(value) > budget.limits.max_items:
            raise RequestError(f"range at `{where}` holds more than {budget.limits.max_items} values")
        judged, _ = _freeze_sequence(iter(value), budget, depth, where, active)
        return judged, value
    if isinstance(value, (bytes, bytearray, memoryview)):
        # A copy of the bytes as they were judged (a bytearray stays mutable, but it is a fresh one).
        data: bytes | bytearray = bytearray(value) if isinstance(value, bytearray) else bytes(value)
        return {"$opaque": "bytes"}, data
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        moment: Any = next(b for b in (_dt.datetime, _dt.date, _dt.time) if isinstance(value, b))
        return budget.text(moment.isoformat(value), where), value
    uuid_module = sys.modules.get("uuid")  # not imported here: if it was never imported, no UUID exists
    if uuid_module is not None and isinstance(value, uuid_module.UUID):
        return budget.text(str(value), where), value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return budget.text(str.__str__(path), where), value
        return {"$opaque": "bytes"}, value
    if _is_pydantic_model(value):
        copied = value.model_copy(deep=True)
        from pydantic import BaseModel

        dumped = BaseModel.model_dump(copied, mode="json")
        judged, _ = _freeze(dumped, budget, depth, where, active)
        return judged, copied
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        import copy

        copied = copy.deepcopy(value)
        fields = {f.name: object.__getattribute__(copied, f.name) for f in dataclasses.fields(copied)}
        judged, _ = _freeze_items(fields.items(), budget, depth, where, active)
        return judged, copied
    if isinstance(value, Mapping):
        return _freeze_mapping_object(value, budget, depth, where, active)
    if isinstance(value, _ITERATOR_TYPES):
        if not budget.consume:
            raise RequestError(
                f"argument at `{where}` is an iterator (`{type(value).__name__}`), which cannot be judged "
                "without consuming it",
                help="pass a list, or govern the tool with consume_iterators=True to read it into one first",
            )
        items = []
        for item in value:
            if len(items) >= budget.limits.max_items:
                raise RequestError(f"iterator at `{where}` yields more than {budget.limits.max_items} values")
            items.append(item)
        judged, passed = _freeze_sequence(iter(items), budget, depth, where, active)
        return judged, iter(passed)
    cls = type(value)
    return {"$opaque": f"{cls.__module__}.{cls.__qualname__}"}, value


def _freeze_items(items: Any, budget: _Budget, depth: int, where: str, active: set[int]) -> tuple[Any, Any]:
    judged: dict[str, Any] = {}
    passed: dict[Any, Any] = {}
    for raw_key, item in items:
        if type(raw_key) is str:
            key = raw_key
        elif isinstance(raw_key, str):
            key = str.__str__(raw_key)
        else:
            raise RequestError(f"key `{raw_key!r}` at `{where}` is not a string")
        budget.text(key, where)
        judged[key], passed[key] = _freeze(item, budget, depth + 1, f"{where}.{key}", active)
    return judged, passed


def _freeze_mapping_object(
    value: Mapping[Any, Any], budget: _Budget, depth: int, where: str, active: set[int]
) -> tuple[Any, Any]:
    # A mapping that is not a dict has no built-in storage to read; iterate it, bounded, once.
    pairs: list[tuple[Any, Any]] = []
    for key in value:
        if len(pairs) >= budget.limits.max_items:
            raise RequestError(f"mapping at `{where}` holds more than {budget.limits.max_items} keys")
        pairs.append((key, value[key]))
    return _freeze_items(pairs, budget, depth, where, active)


def _freeze_sequence(
    items: Iterator[Any], budget: _Budget, depth: int, where: str, active: set[int]
) -> tuple[list[Any], list[Any]]:
    judged: list[Any] = []
    passed: list[Any] = []
    for i, item in enumerate(items):
        j, p = _freeze(item, budget, depth + 1, f"{where}[{i}]", active)
        judged.append(j)
        passed.append(p)
    return judged, passed


def _is_pydantic_model(value: Any) -> bool:
    return hasattr(type(value), "__pydantic_fields__") and callable(getattr(type(value), "model_copy", None))


# -- action.type ---------------------------------------------------------------------------------


def normalize_action(text: str) -> str:
    """The form of an action name the policy sees as ``action.type``.

    Unicode NFKC (full-width ``ｄｒｏｐ`` is ``drop``), case-folded (``DROP`` is ``drop``), with
    invisible format characters (zero-width spaces, joiners) removed and surrounding whitespace
    stripped, so ``action.type in ['drop']`` refuses every spelling a database or shell would
    treat as ``drop``. The exact text stays visible to conditions as ``args.action``.
    """
    if text.isascii():
        folded = text.lower()
    else:
        folded = unicodedata.normalize("NFKC", text).casefold()
        folded = "".join(c for c in folded if unicodedata.category(c) != "Cf")
        folded = unicodedata.normalize("NFKC", folded)
    return folded.strip()


# -- argument type checks ------------------------------------------------------------------------


def _type_check(annotation: Any) -> Callable[[Any], bool] | None:
    """A predicate for the annotations we can check exactly, or None for anything else."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return None
    if annotation is None or annotation is type(None):
        return lambda v: v is None
    if annotation is bool:
        return lambda v: type(v) is bool
    if annotation is int:
        return lambda v: type(v) is int
    if annotation is float:
        return lambda v: type(v) is float or type(v) is int
    if annotation is str:
        return lambda v: type(v) is str
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return lambda v: isinstance(v, annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        allowed = [(type(a), a) for a in args]
        return lambda v: (type(v), v) in allowed
    if origin is typing.Union or origin is types.UnionType:
        checks = [_type_check(a) for a in args]
        if any(c is None for c in checks):
            return None
        return lambda v: any(c(v) for c in checks)  # type: ignore[misc]
    if origin is list or annotation is list:
        item = _type_check(args[0]) if args else (lambda v: True)
        if item is None:
            return lambda v: type(v) is list
        return lambda v: type(v) is list and all(item(i) for i in v)
    if origin is dict or annotation is dict:
        value_check = _type_check(args[1]) if len(args) == 2 else (lambda v: True)
        key_ok = not args or args[0] is str
        if value_check is None or not key_ok:
            return lambda v: type(v) is dict
        return lambda v: type(v) is dict and all(type(k) is str and value_check(x) for k, x in v.items())
    return None


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # unresolvable string annotations: nothing we can check exactly
        return {}


_EXACT: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    bool: (bool,),
    float: (float, int),
    None: (type(None),),
    type(None): (type(None),),
}


def _exact_types(annotation: Any) -> tuple[type, ...] | None:
    """The exact types an annotation allows, when it is a plain scalar type or a union of them."""
    if annotation in _EXACT:
        return _EXACT[annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        parts = [_exact_types(a) for a in typing.get_args(annotation)]
        if all(p is not None for p in parts):
            return tuple(t for p in parts for t in p)  # type: ignore[union-attr]
    return None


def _describe(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


# -- the builder ---------------------------------------------------------------------------------


class RequestBuilder:
    """Builds the request for calls of one tool function; the signature is inspected once.

    Args:
        fn: The function that will receive the arguments (for a `functools.partial`, its ``func``).
        tool: The tool's name in requests.
        agent: Fixed agent facts (``id`` included).
        context: Fixed context.
        limits: Bounds on every request.
        preset: Arguments bound in advance (a partial's ``args`` and ``keywords``), judged with each call.
        consume_iterators: Read iterator arguments into lists (see the module docstring).
        check_types: Check arguments against simple parameter annotations before evaluation.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        tool: str,
        agent: Mapping[str, Any],
        context: Mapping[str, Any],
        limits: RequestLimits,
        *,
        preset: tuple[tuple[Any, ...], Mapping[str, Any]] = ((), {}),
        consume_iterators: bool = False,
        check_types: bool = True,
    ) -> None:
        self.tool = tool
        self.limits = limits
        self.consume = consume_iterators
        self.preset_args, self.preset_kwargs = preset[0], dict(preset[1])
        self.agent = to_json_data(agent, limits, where="agent")
        self.context = to_json_data(context, limits, where="context")
        # Canonical JSON of the parts that never change, so the audit record costs one small encode.
        self.agent_json = canonical_json(self.agent)
        self.context_json = canonical_json(self.context)
        self.action_json = canonical_json({"tool": tool, "type": tool})
        self.tool_json_prefix = '{"tool":' + encode_json_string(tool) + ',"type":'

        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters.values())
        # A method decorated in its class body receives the instance first; it is not an argument.
        self.skip_first = bool(params) and params[0].name in ("self", "cls") and not inspect.ismethod(fn)
        simple_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        self.simple = (
            all(p.kind in simple_kinds for p in params) and not self.preset_args and not self.preset_kwargs
        )
        self.positional = tuple(p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.names = frozenset(p.name for p in params)
        self.defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        self.var_keyword = next((p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD), None)
        # Characters of every parameter name (counted against the text limits like any text), or -1
        # when a name is not short ASCII and each call must take the general reading.
        self.names_chars = sum(len(n) for n in self.names) if all(n.isascii() for n in self.names) else -1
        self.longest_name = max((len(n) for n in self.names), default=0)
        # `"name":` for every parameter, in RFC 8785 key order (code point order, as names are ASCII).
        self.json_keys = tuple((n, encode_json_string(n) + ":") for n in sorted(self.names))
        self.annotations: dict[str, Any] = _hints(fn) if check_types else {}
        checks = self._type_checks(self.annotations, params)
        self.expected = {name: expected for name, (_, expected) in checks.items()}
        # Annotations that name exact types are checked with one `type(v) in (...)` test.
        self.fast_checks: tuple[tuple[str, tuple[type, ...]], ...] = tuple(
            (name, allowed)
            for name, allowed in ((n, _exact_types(self.annotations.get(n))) for n in checks)
            if allowed
        )
        fast = {name for name, _ in self.fast_checks}
        self.checks: dict[str, Callable[[Any], bool]] = {
            name: check for name, (check, _) in checks.items() if name not in fast
        }

    @staticmethod
    def _type_checks(
        hints: Mapping[str, Any], params: list[inspect.Parameter]
    ) -> dict[str, tuple[Callable[[Any], bool], str]]:
        checks = {}
        for p in params:
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            annotation = hints.get(p.name, inspect.Parameter.empty)
            check = _type_check(annotation)
            if check is not None:
                checks[p.name] = (check, _describe(annotation))
        return checks

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Every argument by parameter name, defaults included (``**kwargs`` under their own names).

        Raises:
            TypeError: for a call that does not match the function's signature.
            RequestError: when a ``**kwargs`` key repeats the name of another parameter.
        """
        if self.preset_args or self.preset_kwargs:
            args = (*self.preset_args, *args)
            kwargs = {**self.preset_kwargs, **kwargs}
        if self.simple and not args and not self.skip_first and kwargs.keys() <= self.names:
            # The common agent-framework call: keywords only.
            bound = {**self.defaults, **kwargs}
            if len(bound) == len(self.names):
                return bound
        elif self.simple and len(args) <= len(self.positional) and kwargs.keys() <= self.names:
            bound = dict(self.defaults)
            bound.update(zip(self.positional, args, strict=False))
            if kwargs:
                for name in self.positional[: len(args)]:
                    if name in kwargs:
                        raise TypeError(f"{self.tool}() got multiple values for argument '{name}'")
                bound.update(kwargs)
            if len(bound) == len(self.names):
                if self.skip_first:
                    del bound[self.positional[0]]
                return bound
        ba = self.signature.bind(*args, **kwargs)  # raises the same TypeError the call would
        ba.apply_defaults()
        bound = dict(ba.arguments)
        if self.var_keyword is not None:
            extra = bound.pop(self.var_keyword)
            clash = sorted(set(extra) & set(bound))
            if clash:
                raise RequestError(
                    f"keyword argument `{clash[0]}` of `**{self.var_keyword}` has the name of another "
                    "parameter; the policy could not tell the two apart",
                    help="rename the keyword argument",
                )
            bound.update(extra)
        if self.skip_first:
            bound.pop(next(iter(self.signature.parameters)), None)
        return bound

    def build(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], *, with_json: bool = True
    ) -> tuple[dict[str, Any], str | None, tuple[tuple[Any, ...], dict[str, Any]]]:
        """The pre_tool request for one call, its canonical JSON (None when not cheap), and the call to make.

        The call to make is ``(args, kwargs)`` holding the frozen values the tool must receive in
        place of the caller's (see the module docstring).

        Raises:
            RequestError: if an argument cannot be judged faithfully or breaks the limits.
            TypeError: for a call that does not match the function's signature.
        """
        bound = self.bind(args, kwargs)
        judged, args_json = self._scalars(bound, with_json)
        frozen: dict[str, Any] | None = None
        if judged is None:
            judged, frozen = self._freeze_all(bound)
        values = bound if frozen is None else frozen
        for name, allowed in self.fast_checks:
            if name in values and type(values[name]) not in allowed:
                self._wrong_type(name, values)
        for name, check in self.checks.items():
            if name in values and not check(values[name]):
                self._wrong_type(name, values)
        action: dict[str, Any]
        action_json: str | None
        given = judged.get("action")
        if given is None:
            action, action_json = {"type": self.tool, "tool": self.tool}, self.action_json
        elif type(given) is str and given.isascii():
            # The common case, inline: for ASCII text, normalize_action is lower() and strip().
            action_type = given.lower().strip()
            action = {"type": action_type, "tool": self.tool}
            action_json = self.tool_json_prefix + encode_json_string(action_type) + "}"
        else:
            action_type = self._action_type(bound.get("action"), given)
            if type(given) is dict:
                action, action_json = {**given, "type": action_type, "tool": self.tool}, None
            else:
                action = {"type": action_type, "tool": self.tool}
                action_json = self.tool_json_prefix + encode_json_string(action_type) + "}"
        request = {
            "action": action,
            "args": judged,
            "agent": self.agent,
            "context": self.context,
            "stage": "pre_tool",
        }
        # Immutable scalars are passed as given; anything else as its frozen copy.
        call = (args, kwargs) if frozen is None else self._call(bound, frozen, args, kwargs)
        if not with_json or action_json is None:
            return request, None, call
        # Keys in RFC 8785 order: action, agent, args, context, stage.
        return (
            request,
            f'{{"action":{action_json},"agent":{self.agent_json},'
            f'"args":{args_json if args_json is not None else canonical_json(judged)},'
            f'"context":{self.context_json},"stage":"pre_tool"}}',
            call,
        )

    def _scalars(
        self, bound: dict[str, Any], with_json: bool = True
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The common call, read without copying: every argument an ASCII string, bool, None or safe int.

        Returns ``(judged, args_json)`` (the args' canonical JSON when every parameter was bound,
        else None), or ``(None, None)`` when any argument needs the full reading.
        """
        limits = self.limits
        if self.preset_args or self.preset_kwargs or len(bound) >= limits.max_items:
            return None, None
        max_length = limits.max_string_length
        if (
            self.var_keyword is None
            and len(bound) == len(self.names)
            and self.names_chars >= 0
            and self.longest_name <= max_length
        ):
            # Every parameter bound, and only parameters: the names were checked once, at init. The
            # args' RFC 8785 text is written in the same pass: keys in sorted order, each value as
            # the C encoder writes it (for these types, exactly the canonical form).
            chars = self.names_chars
            parts = []
            for name, key in self.json_keys:
                value = bound[name]
                t = type(value)
                if t is str:
                    if len(value) > max_length or not value.isascii():
                        return None, None
                    chars += len(value)
                    parts.append(key + encode_json_string(value))
                elif t is int:
                    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                        return None, None
                    parts.append(key + _int_text(value))
                elif t is bool:
                    parts.append(key + ("true" if value else "false"))
                elif value is None:
                    parts.append(key + "null")
                else:
                    return None, None
            if chars > limits.max_total_chars:
                return None, None
            # `bind` returns a fresh dict: it becomes the request's args without a copy.
            return bound, "{" + ",".join(parts) + "}" if with_json else None
        chars = 0
        for name, value in bound.items():
            # Names count like the full reading counts them: every name, against both limits.
            if len(name) > max_length or not name.isascii():
                return None, None
            chars += len(name)
            t = type(value)
            if t is str:
                if len(value) > max_length or not value.isascii():
                    return None, None
                chars += len(value)
            elif t is int:
                if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                    return None, None
            elif not (t is bool or value is None):
                return None, None
        if chars > limits.max_total_chars:
            return None, None
        return dict(bound), None

    def _freeze_all(self, bound: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        budget = _Budget(self.limits, self.consume)
        budget.count("args")
        judged: dict[str, Any] = {}
        frozen: dict[str, Any] = {}
        try:
            for name, value in bound.items():
                budget.text(name, name)
                judged[name], frozen[name] = _freeze(value, budget, 1, name, set())
        except RequestError:
            raise
        except Exception as exc:  # a conversion that raises (a failing model_dump, a broken __iter__)
            raise RequestError(f"argument could not be read: {type(exc).__name__}: {exc}") from exc
        return judged, frozen

    def _wrong_type(self, name: str, values: Mapping[str, Any]) -> None:
        expected = self.expected[name]
        raise RequestError(
            f"argument `{name}` is `{type(values[name]).__name__}` where the tool declares `{expected}`",
            help="pass a value of the declared type; the call was not evaluated",
        )

    def _action_type(self, given: Any, judged: Any) -> str:
        if type(judged) is str:
            return normalize_action(judged)
        if isinstance(judged, dict):
            action_type = judged.get("type")
            if type(action_type) is not str:
                raise RequestError("argument `action` is a mapping without a string `type`")
            return normalize_action(action_type)
        raise RequestError(
            f"argument `action` is a `{type(given).__name__}`, which cannot name an action",
            help="pass the action as a string (or an enum of strings, or a mapping with a string `type`)",
        )

    def _call(
        self, bound: dict[str, Any], frozen: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The positional and keyword arguments to call the function with, holding the frozen values."""
        if self.simple:
            if self.skip_first and args:
                # The instance of a method governed in its class body passes through untouched.
                names = self.positional[1 : len(args)]
                return (args[0], *(frozen[n] for n in names)), {k: frozen[k] for k in kwargs}
            names = self.positional[: len(args)]
            return tuple(frozen[n] for n in names), {k: frozen[k] for k in kwargs}
        if self.preset_args or self.preset_kwargs:
            args = (*self.preset_args, *args)
            kwargs = {**self.preset_kwargs, **kwargs}
        ba = self.signature.bind(*args, **kwargs)
        first = next(iter(self.signature.parameters), None) if self.skip_first else None
        for name in list(ba.arguments):
            if name == first:
                continue
            param = self.signature.parameters[name]
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                ba.arguments[name] = {k: frozen[k] for k in ba.arguments[name]}
            elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                ba.arguments[name] = tuple(frozen[name])
            else:
                ba.arguments[name] = frozen[name]
        return ba.args, ba.kwargs


def unwrap_partial(
    fn: Callable[..., Any],
) -> tuple[Callable[..., Any], tuple[tuple[Any, ...], dict[str, Any]]]:
    """``(function, (preset args, preset keywords))``: a partial's target and what it binds in advance."""
    if isinstance(fn, functools.partial):
        return fn.func, (tuple(fn.args), dict(fn.keywords))
    return fn, ((), {})
