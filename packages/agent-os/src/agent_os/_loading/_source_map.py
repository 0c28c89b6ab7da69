"""Where each part of a policy document is in its source: `SourceMap`, `Location`, `DocPath`.

`SourceMap` answers "where is ``rules[2].condition``?" for errors, and
`SourceMap.condition_location` maps an offset inside a condition to the line and column of that
character in the file, for plain, quoted and block scalars alike. Policies given as dicts get a
map without locations, which still knows the order of their parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from agent_os._loading._scalar_offsets import scalar_indexes

__all__ = [
    "MAX_NESTING",
    "TEXT_START",
    "DocPath",
    "Location",
    "Mark",
    "SourceMap",
    "advance",
    "data_source_map",
    "format_path",
    "mark_location",
]

MAX_NESTING = 64
"""Deepest nesting of mappings and lists in a policy document."""

DocPath = tuple[str | int, ...]
"""A position in a document as keys and list indexes, e.g. ``("rules", 2, "condition")``."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Mark(Protocol):
    """What we read of a PyYAML mark (0-based)."""

    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...
    @property
    def index(self) -> int: ...


@dataclass(frozen=True)
class _TextMark:
    line: int
    column: int
    index: int


TEXT_START: Mark = _TextMark(0, 0, 0)
"""The start of a text, as a mark."""


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in a policy's source text."""

    line: int
    column: int


def format_path(path: DocPath) -> str:
    """Write a document path as users read it: ``rules[2].condition``, ``request_schema["a-b"]``.

    Args:
        path: Keys and list indexes from the document's root.

    Returns:
        The path; the empty string for the root.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out += f'["{escaped}"]'
    return out


class SourceMap:
    """Where each key and value of one policy document sits in its source.

    Policies given as dicts have no text: locations are then None, but the order of their parts
    is still known, so that the first error in document order can be reported.
    """

    __slots__ = ("_end_order", "_keys", "_nodes", "_order", "file", "text")

    def __init__(
        self,
        *,
        file: str | None,
        text: str | None,
        nodes: dict[DocPath, yaml.Node],
        keys: dict[DocPath, yaml.Node],
        order: dict[DocPath, int],
        end_order: dict[DocPath, int],
    ) -> None:
        self.file = file
        self.text = text
        self._nodes = nodes
        self._keys = keys
        self._order = order
        self._end_order = end_order

    def location(self, path: DocPath) -> Location | None:
        """The start of the value at `path`, or of the nearest enclosing value that exists."""
        for prefix in _prefixes(path):
            node = self._nodes.get(prefix)
            if node is not None:
                return mark_location(node.start_mark)
        return None

    def key_location(self, path: DocPath) -> Location | None:
        """The start of the key that holds `path`; the value's location when there is no key."""
        node = self._keys.get(path)
        if node is not None:
            return mark_location(node.start_mark)
        return self.location(path)

    def has(self, path: DocPath) -> bool:
        """Whether the source holds a value at exactly `path`."""
        return path in self._order

    def order(self, path: DocPath) -> int:
        """A sort key putting `path` (or its nearest existing parent) in document order."""
        for prefix in _prefixes(path):
            if prefix in self._order:
                return self._order[prefix]
        return 0

    def end_order(self, path: DocPath) -> int:
        """A sort key for the end of the value at `path` (or its nearest existing parent)."""
        for prefix in _prefixes(path):
            if prefix in self._end_order:
                return self._end_order[prefix]
        return self.order(path)

    def condition_location(self, path: DocPath, offset: int) -> tuple[Location, bool] | None:
        """Where the character at `offset` of the string at `path` is written in the source.

        Args:
            path: Path of a string value, e.g. ``("rules", 2, "condition")``.
            offset: 0-based offset into the string's value (may equal its length).

        Returns:
            ``(location, exact)``. ``exact`` is False when the scalar could not be mapped
            character by character; the location is then the scalar's start. None when the
            document has no source text.
        """
        node = self._nodes.get(path)
        if self.text is None or not isinstance(node, yaml.ScalarNode):
            return None
        indexes = scalar_indexes(self.text, node)
        if indexes is None:
            return mark_location(node.start_mark), False
        if not indexes:
            return mark_location(node.start_mark), True
        # An error at the end of the condition points just past its last character.
        target = indexes[max(offset, 0)] if offset < len(indexes) else indexes[-1] + 1
        return advance(self.text, node.start_mark, target), True


def _prefixes(path: DocPath) -> Iterator[DocPath]:
    for end in range(len(path), -1, -1):
        yield path[:end]


def mark_location(mark: Mark) -> Location:
    return Location(mark.line + 1, mark.column + 1)


def advance(text: str, mark: Mark, target: int) -> Location:
    """The location of `text[target]`, counting lines from `mark` the way PyYAML does."""
    line, column = mark.line, mark.column
    for i in range(mark.index, min(target, len(text))):
        ch = text[i]
        if ch in "\n\x85\u2028\u2029" or (ch == "\r" and text[i + 1 : i + 2] != "\n"):
            line += 1
            column = 0
        elif ch != "\ufeff":
            column += 1
    return Location(line + 1, column + 1)


def data_source_map(data: Any) -> SourceMap:
    """A `SourceMap` for a policy given as data: no locations, only document order.

    Args:
        data: Plain data (dicts, lists and scalars) as produced by the caller's dict.
    """
    order: dict[DocPath, int] = {}
    end_order: dict[DocPath, int] = {}
    counter = 0

    def walk(value: Any, path: DocPath, depth: int) -> None:
        nonlocal counter
        order[path] = counter
        counter += 1
        if depth < MAX_NESTING:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    walk(item, (*path, key), depth + 1)
            elif isinstance(value, Sequence) and not isinstance(value, str):
                for i, item in enumerate(value):
                    walk(item, (*path, i), depth + 1)
        end_order[path] = counter
        counter += 1

    walk(data, (), 0)
    return SourceMap(file=None, text=None, nodes={}, keys={}, order=order, end_order=end_order)
