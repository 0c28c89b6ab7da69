"""Requests are plain JSON data within limits; anything else is refused with a clear error."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from pathlib import PurePosixPath

import pytest

from agent_os import RequestError, RequestLimits, to_json_data


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    pass


def test_scalars_and_containers_pass_through() -> None:
    value = {"s": "x", "i": 3, "f": 1.5, "b": True, "n": None, "l": [1, (2, 3)], "d": {"k": "v"}}
    assert to_json_data(value) == {
        "s": "x",
        "i": 3,
        "f": 1.5,
        "b": True,
        "n": None,
        "l": [1, [2, 3]],
        "d": {"k": "v"},
    }


def test_python_values_are_converted_predictably() -> None:
    out = to_json_data(
        {
            "enum": Colour.RED,
            "intenum": Level.HIGH,
            "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "day": dt.date(2026, 1, 2),
            "path": PurePosixPath("/etc/passwd"),
            "point": Point(1, 2),
            "set": {3, 1, 2},
            "blob": b"abc",
            "thing": Opaque(),
        }
    )
    assert out == {
        "enum": "red",
        "intenum": 3,
        "when": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
        "path": "/etc/passwd",
        "point": {"x": 1, "y": 2},
        "set": [1, 2, 3],
        "blob": {"$opaque": "bytes"},
        "thing": {"$opaque": f"{__name__}.Opaque"},
    }
    assert type(out["intenum"]) is int


def test_pydantic_models_are_dumped() -> None:
    from pydantic import BaseModel

    class Order(BaseModel):
        amount: int
        currency: str

    assert to_json_data({"o": Order(amount=5, currency="EUR")}) == {"o": {"amount": 5, "currency": "EUR"}}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(bad: float) -> None:
    with pytest.raises(RequestError, match="not a JSON number"):
        to_json_data({"x": bad})


def test_huge_integers_are_refused_not_rounded() -> None:
    with pytest.raises(RequestError, match=r"args\.id") as info:
        to_json_data({"id": 2**53})
    assert "as strings" in str(info.value)
    assert to_json_data({"id": 2**53 - 1}) == {"id": 2**53 - 1}


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(RequestError, match="not a string"):
        to_json_data({"m": {1: "a"}})


def test_cycles_are_refused() -> None:
    a: list[object] = []
    a.append(a)
    with pytest.raises(RequestError, match="contains itself"):
        to_json_data({"a": a})


def test_shared_but_acyclic_values_are_fine() -> None:
    shared = {"k": 1}
    assert to_json_data({"a": shared, "b": shared}) == {"a": {"k": 1}, "b": {"k": 1}}


def test_depth_limit() -> None:
    deep: object = "leaf"
    for _ in range(40):
        deep = [deep]
    with pytest.raises(RequestError, match="deeper than 32"):
        to_json_data({"d": deep})
    to_json_data({"d": deep}, RequestLimits(max_depth=64))


def test_item_and_string_limits() -> None:
    with pytest.raises(RequestError, match="more than 100 values"):
        to_json_data({"l": list(range(200))}, RequestLimits(max_items=100))
    with pytest.raises(RequestError, match="longer than 10"):
        to_json_data({"s": "x" * 11}, RequestLimits(max_string_length=10))
