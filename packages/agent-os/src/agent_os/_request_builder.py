"""Turn a Python call into an evaluation request: plain JSON data, bounded in size and depth.

Conditions only ever see JSON data (dict, list, str, int, float, bool, None), so the request is
identical for every evaluator and can be hashed canonically for the audit trail. Python values
are converted once here:

* tuples, lists, sets (sorted when their items allow) -> lists; dicts with str keys -> objects
* pydantic models -> ``model_dump(mode="json")``; dataclasses -> their fields; enums -> their value
* datetimes, dates, times -> ISO 8601 strings; paths -> strings; bytes -> ``{"$bytes": <length>}``
* anything else -> ``{"$opaque": "<module>.<type>"}``: a condition that tests it as a string or a
  number errors, and a restrictive rule that errors matches (fail closed)

NaN, infinities, integers beyond ±(2**53 - 1), non-string keys, cycles and data past the limits
raise `RequestError`; the governed call is then denied and audited.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agt_core import MAX_SAFE_INTEGER, RequestError

__all__ = ["DEFAULT_REQUEST_LIMITS", "RequestLimits", "to_json_data"]


@dataclass(frozen=True)
class RequestLimits:
    """Bounds on what a request may carry. Exceeding one denies the call.

    Attributes:
        max_depth: Deepest nesting of lists and objects.
        max_items: Total number of values (every scalar, list and object counts one).
        max_string_length: Longest single string, in code points.
    """

    max_depth: int = 32
    max_items: int = 10_000
    max_string_length: int = 1_000_000


DEFAULT_REQUEST_LIMITS = RequestLimits()

_SCALARS = (str, int, float, bool, type(None))


class _Budget:
    __slots__ = ("items", "limits")

    def __init__(self, limits: RequestLimits) -> None:
        self.limits = limits
        self.items = 0


def to_json_data(value: Any, limits: RequestLimits = DEFAULT_REQUEST_LIMITS, *, where: str = "args") -> Any:
    """Convert `value` to JSON data for a request, enforcing `limits`.

    Raises:
        RequestError: naming where in the request the problem is.
    """
    if type(value) is dict and len(value) < limits.max_items:
        # Fast path for the common call: a flat mapping of short strings, bools, None and safe ints.
        for k, v in value.items():
            t = type(v)
            if type(k) is not str:
                break
            if t is str:
                if len(v) > limits.max_string_length:
                    break
            elif t is int:
                if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                    break
            elif not (t is bool or v is None):
                break
        else:
            return dict(value)
    return _convert(value, _Budget(limits), 0, where, set())


def _convert(value: Any, budget: _Budget, depth: int, where: str, active: set[int]) -> Any:
    budget.items += 1
    if budget.items > budget.limits.max_items:
        raise RequestError(
            f"request holds more than {budget.limits.max_items} values (at `{where}`)",
            help="raise RequestLimits.max_items or pass less data to the governed tool",
        )
    t = type(value)
    if t is str:
        if len(value) > budget.limits.max_string_length:
            raise RequestError(
                f"string at `{where}` is longer than {budget.limits.max_string_length} characters"
            )
        return value
    if t is bool or value is None:
        return value
    if t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise RequestError(
            f"integer at `{where}` is outside ±(2**53 - 1), which JSON cannot carry exactly",
            help="pass large identifiers as strings",
        )
    if t is float:
        if not math.isfinite(value):
            raise RequestError(f"`{value}` at `{where}` is not a JSON number")
        return value
    if depth >= budget.limits.max_depth:
        raise RequestError(f"request nests deeper than {budget.limits.max_depth} levels (at `{where}`)")
    marker = id(value)
    if t is dict or t is list or t is tuple or isinstance(value, (Mapping, list, tuple, set, frozenset)):
        if marker in active:
            raise RequestError(f"value at `{where}` contains itself")
        active.add(marker)
        try:
            if isinstance(value, Mapping):
                out: dict[str, Any] = {}
                for k, v in value.items():
                    if type(k) is not str:
                        raise RequestError(f"key `{k!r}` at `{where}` is not a string")
                    out[k] = _convert(v, budget, depth + 1, f"{where}.{k}", active)
                return out
            items = list(value)
            if isinstance(value, (set, frozenset)):
                try:
                    items = sorted(items)
                except TypeError:
                    items = sorted(items, key=repr)
            return [_convert(v, budget, depth + 1, f"{where}[{i}]", active) for i, v in enumerate(items)]
        finally:
            active.discard(marker)
    return _convert_object(value, budget, depth, where, active)


def _convert_object(value: Any, budget: _Budget, depth: int, where: str, active: set[int]) -> Any:
    if isinstance(value, bool | int | float | str):  # subclasses of the JSON scalars, e.g. IntEnum
        if isinstance(value, enum.Enum):
            return _convert(value.value, budget, depth, where, active)
        base = next(b for b in (bool, int, float, str) if isinstance(value, b))
        return _convert(base(value), budget, depth, where, active)
    if isinstance(value, enum.Enum):
        return _convert(value.value, budget, depth, where, active)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return _convert(os.fspath(value), budget, depth, where, active)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": len(value)}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and hasattr(type(value), "model_fields"):
        return _convert(model_dump(mode="json"), budget, depth, where, active)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _convert(fields, budget, depth, where, active)
    cls = type(value)
    return {"$opaque": f"{cls.__module__}.{cls.__qualname__}"}
