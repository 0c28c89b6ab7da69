"""JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): apply a patch to a copy, or diff two documents.

A patch that does not apply (bad path, missing member, failed ``test``, malformed operation) is
refused as a whole with `PatchError` naming the operation and why; the input is never modified.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from agt_core import GovernanceError

__all__ = ["PatchError", "apply_patch", "diff"]


class PatchError(GovernanceError):
    """A JSON Patch could not be applied.

    Attributes:
        op_index: Index of the failing operation in the patch (None when the patch itself is malformed).
    """

    def __init__(self, message: str, *, op_index: int | None = None) -> None:
        super().__init__(message)
        self.op_index = op_index


def _tokens(pointer: Any, at: int) -> list[str]:
    if not isinstance(pointer, str):
        raise PatchError(f"operation {at}: path must be a string", op_index=at)
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"operation {at}: path `{pointer}` must start with `/`", op_index=at)
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _index(container: list[Any], part: str, at: int, *, insert: bool) -> int:
    if part == "-" and insert:
        return len(container)
    if not part.isdigit() or (part != "0" and part.startswith("0")):
        raise PatchError(f"operation {at}: `{part}` is not an array index", op_index=at)
    index = int(part)
    limit = len(container) if insert else len(container) - 1
    if index > limit:
        raise PatchError(f"operation {at}: array index {index} is out of range", op_index=at)
    return index


def _parent(doc: Any, tokens: list[str], at: int) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"operation {at}: member `{token}` does not exist", op_index=at)
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, at, insert=False)]
        else:
            raise PatchError(f"operation {at}: cannot descend into a scalar at `{token}`", op_index=at)
    return node


def _get(doc: Any, tokens: list[str], at: int) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens, at)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"operation {at}: member `{last}` does not exist", op_index=at)
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, at, insert=False)]
    raise PatchError(f"operation {at}: cannot index a scalar with `{last}`", op_index=at)


def _remove(doc: Any, tokens: list[str], at: int) -> Any:
    if not tokens:
        raise PatchError(f"operation {at}: cannot remove the whole document", op_index=at)
    parent = _parent(doc, tokens, at)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"operation {at}: member `{last}` does not exist", op_index=at)
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, at, insert=False))
    raise PatchError(f"operation {at}: cannot remove from a scalar", op_index=at)


def _add(doc: Any, tokens: list[str], value: Any, at: int) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens, at)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, at, insert=True), value)
    else:
        raise PatchError(f"operation {at}: cannot add to a scalar", op_index=at)
    return doc


def _replace(doc: Any, tokens: list[str], value: Any, at: int) -> Any:
    if not tokens:
        return value
    _get(doc, tokens, at)  # must exist
    parent = _parent(doc, tokens, at)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    else:
        parent[_index(parent, last, at, insert=False)] = value
    return doc


def _same(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0 but True != 1, and lists/objects compare element-wise.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return (
        bool(a == b) and type(a) in (int, float, str, type(None)) and type(b) in (int, float, str, type(None))
    )


def apply_patch(document: Any, patch: Sequence[Mapping[str, Any]] | Any) -> Any:
    """Apply `patch` to a deep copy of `document` and return the result.

    Raises:
        PatchError: naming the first operation that cannot be applied; nothing is changed.
    """
    if isinstance(patch, str | bytes) or not isinstance(patch, Sequence):
        raise PatchError("a JSON Patch is a list of operations")
    doc = copy.deepcopy(document)
    for at, op in enumerate(patch):
        if not isinstance(op, Mapping):
            raise PatchError(f"operation {at} is not an object", op_index=at)
        kind = op.get("op")
        path = _tokens(op.get("path"), at)
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {at}: `{kind}` needs a `value`", op_index=at)
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]), at)
        elif kind == "remove":
            _remove(doc, path, at)
        elif kind == "replace":
            doc = _replace(doc, path, copy.deepcopy(op["value"]), at)
        elif kind in ("move", "copy"):
            source = _tokens(op.get("from"), at)
            if kind == "move" and path[: len(source)] == source and len(path) > len(source):
                raise PatchError(f"operation {at}: cannot move a value into itself", op_index=at)
            value = _remove(doc, source, at) if kind == "move" else copy.deepcopy(_get(doc, source, at))
            doc = _add(doc, path, value, at)
        elif kind == "test":
            if not _same(_get(doc, path, at), op["value"]):
                raise PatchError(f"operation {at}: test failed at `{op.get('path')}`", op_index=at)
        else:
            raise PatchError(f"operation {at}: unknown op `{kind}`", op_index=at)
    return doc


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """A JSON Patch that turns `old` into `new` (objects diffed member by member, arrays replaced whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[dict[str, Any]] = []
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
        for key, value in new.items():
            child = f"{path}/{_escape(key)}"
            if key not in old:
                ops.append({"op": "add", "path": child, "value": copy.deepcopy(value)})
            else:
                ops.extend(diff(old[key], value, child))
        return ops
    if _same(old, new):
        return []
    return [{"op": "replace", "path": path, "value": copy.deepcopy(new)}]
