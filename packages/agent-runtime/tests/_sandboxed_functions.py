"""Functions the sandbox tests run in a child interpreter (importable by reference)."""

from __future__ import annotations

import os
from typing import Any


def add(a: int, b: int) -> dict[str, Any]:
    print("printed inside")
    return {"sum": a + b, "uid": os.getuid()}


def fails() -> None:
    raise ValueError("nope")


def returns_a_set() -> set[int]:
    return {1}
