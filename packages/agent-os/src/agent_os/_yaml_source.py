"""Policy YAML to plain data, remembering the line and column of every key and value.

We compose PyYAML's node tree and build the Python data ourselves rather than calling
``yaml.safe_load``, because ``safe_load`` would:

* keep the last of two equal keys without a word, so a second ``action:`` in a rule could turn a
  deny into an allow; we refuse duplicates with the position of the second key;
* expand anchors, aliases and ``<<`` merge keys, which hide what a rule says (and are the
  billion-laughs vector); we refuse them, and explicit tags (``!!str``, ``!foo``) too;
* read scalars by YAML 1.1 rules, where ``yes``, ``on`` and ``no`` are booleans and ``1_000`` and
  ``1:20`` are integers; we read plain scalars by the YAML 1.2 core schema (only ``true`` and
  ``false`` are booleans, only ``null``, ``~`` and nothing are null), so ``enabled: yes`` is a
  string and the strict model refuses it instead of guessing;
* forget where things were, which every error message needs.

Events come from libyaml's C parser when PyYAML was built with it, and from PyYAML's own
pure-Python scanner and parser otherwise. The texts where the two would differ (see
`_libyaml_agrees`) are read by PyYAML, and when the fast path fails in any way (a syntax error, a
refused anchor, a duplicate key...), the text is read again with the pure-Python parser, so every
error keeps PyYAML's exact wording and position.

`SourceMap` answers "where is ``rules[2].condition``?" for errors, and
`SourceMap.condition_location` maps an offset inside a condition to the line and column of that
character in the file, for plain, quoted and block scalars alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import yaml
from yaml.composer import Composer
from yaml.resolver import Resolver

from agt_core import PolicyError

__all__ = [
    "MAX_NESTING",
    "MAX_NODES",
    "DocPath",
    "Location",
    "SourceMap",
    "YamlDocument",
    "data_source_map",
    "format_path",
    "parse_yaml",
]

MAX_NESTING = 64
"""Deepest nesting of mappings and lists in a policy document."""

MAX_NODES = 1_000_000
"""Most YAML nodes (keys, values, list items) in one policy file or string."""

DocPath = tuple[str | int, ...]
"""A position in a document as keys and list indexes, e.g. ``("rules", 2, "condition")``."""

_BREAKS = "\r\n\x85\u2028\u2029"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# YAML 1.2 core schema, for plain (unquoted) scalars only.
_NULL = re.compile(r"~|null|Null|NULL|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_INT_DEC = re.compile(r"[-+]?[0-9]+")
_INT_OCT = re.compile(r"0o[0-7]+")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")

# Double-quoted escapes as PyYAML reads them; used to map condition offsets back to the file.
_ESCAPES = {
    "0": "\0",
    "a": "\x07",
    "b": "\x08",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\x0b",
    "f": "\x0c",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


class _Mark(Protocol):
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


_TEXT_START = _TextMark(0, 0, 0)


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
                return _mark_location(node.start_mark)
        return None

    def key_location(self, path: DocPath) -> Location | None:
        """The start of the key that holds `path`; the value's location when there is no key."""
        node = self._keys.get(path)
        if node is not None:
            return _mark_location(node.start_mark)
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
        indexes = _scalar_indexes(self.text, node)
        if indexes is None:
            return _mark_location(node.start_mark), False
        if not indexes:
            return _mark_location(node.start_mark), True
        # An error at the end of the condition points just past its last character.
        target = indexes[max(offset, 0)] if offset < len(indexes) else indexes[-1] + 1
        return _advance(self.text, node.start_mark, target), True


def _prefixes(path: DocPath) -> Iterator[DocPath]:
    for end in range(len(path), -1, -1):
        yield path[:end]


def _mark_location(mark: _Mark) -> Location:
    return Location(mark.line + 1, mark.column + 1)


def _advance(text: str, mark: _Mark, target: int) -> Location:
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


# -- condition offsets -> source positions ------------------------------------------------------


def _break_length(text: str, i: int) -> int:
    return 2 if text.startswith("\r\n", i) else 1


def _normal_break(ch: str) -> str:
    return "\n" if ch in "\r\n\x85" else ch


def _scalar_indexes(text: str, node: yaml.ScalarNode) -> list[int] | None:
    """For every character of the scalar's value, its index in `text`; None if we cannot tell.

    We rebuild the value from the source by YAML's folding and escaping rules, keeping each
    character's source index, and only trust the result when it equals PyYAML's value exactly;
    otherwise the caller falls back to the scalar's start.
    """
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):
        return _block_indexes(text, start, end, node.value)
    if node.style in ("'", '"'):
        rebuilt = _flow_indexes(text, start + 1, end - 1, node.style)
    elif node.style is None:
        rebuilt = _flow_indexes(text, start, end, "")
    else:
        return None
    if rebuilt is None or rebuilt[0] != node.value:
        return None
    return rebuilt[1]


def _flow_indexes(text: str, start: int, end: int, quote: str) -> tuple[str, list[int]] | None:
    r"""Rebuild a plain or quoted scalar: line breaks fold into spaces, escapes become characters.

    A character made by an escape (``\\n``, ``\\u00e9``, ``''``) maps to its first source character,
    so positions inside double-quoted strings with escapes point at the escape itself.
    """
    chars: list[str] = []
    indexes: list[int] = []
    pending: list[int] = []  # whitespace that is content only if more content follows on the line

    def emit(ch: str, at: int) -> None:
        chars.append(ch)
        indexes.append(at)

    def skip_blank_lines(i: int) -> int:
        # Leading whitespace of continuation lines is dropped; each further empty line is a break.
        while i < end:
            c = text[i]
            if c in " \t":
                i += 1
            elif c in _BREAKS:
                emit(_normal_break(c), i)
                i += _break_length(text, i)
            else:
                break
        return i

    i = start
    while i < end:
        ch = text[i]
        if ch in _BREAKS:
            pending.clear()  # whitespace before a line break is not content
            first, first_at = _normal_break(ch), i
            i += _break_length(text, i)
            before = len(chars)
            i = skip_blank_lines(i)
            if first != "\n":
                chars.insert(before, first)
                indexes.insert(before, first_at)
            elif len(chars) == before:
                emit(" ", first_at)  # a single line break folds into a space
            continue
        if ch in " \t":
            pending.append(i)
            i += 1
            continue
        for at in pending:
            emit(text[at], at)
        pending.clear()
        if quote == "'" and ch == "'":
            if not text.startswith("''", i):
                return None
            emit("'", i)
            i += 2
        elif quote == '"' and ch == "\\":
            if i + 1 >= end:
                return None
            code = text[i + 1]
            if code in _ESCAPES:
                emit(_ESCAPES[code], i)
                i += 2
            elif code in _HEX_ESCAPES:
                digits = text[i + 2 : i + 2 + _HEX_ESCAPES[code]]
                if len(digits) != _HEX_ESCAPES[code] or not all(
                    c in "0123456789abcdefABCDEF" for c in digits
                ):
                    return None
                emit(chr(int(digits, 16)), i)
                i += 2 + len(digits)
            elif code in _BREAKS:
                # An escaped line break joins the lines without a space.
                i = skip_blank_lines(i + 1 + _break_length(text, i + 1))
            else:
                return None
        else:
            emit(ch, i)
            i += 1
    for at in pending:
        emit(text[at], at)
    return "".join(chars), indexes


def _block_indexes(text: str, start: int, end: int, value: str) -> list[int] | None:
    """Map a literal (``|``) or folded (``>``) block scalar's value back to its source lines."""
    i = start
    while i < end and text[i] not in _BREAKS:
        i += 1  # the header: indicator, chomping and indentation indicators, comment
    if i >= end:
        return [] if not value else None
    i += _break_length(text, i)
    lines: list[tuple[int, int]] = []
    while i < end:
        j = i
        while j < end and text[j] not in _BREAKS:
            j += 1
        lines.append((i, j))
        i = j + _break_length(text, j) if j < end else end
    # The indentation is whatever the first content line has beyond the value's own leading
    # spaces (this also covers an explicit indentation indicator such as `|2`).
    first = next((ln for ln in lines if text[ln[0] : ln[1]].strip(" ")), None)
    indent = 0
    if first is not None:
        body = value.lstrip(_BREAKS)
        if not body:
            return None
        source_lead = len(text[first[0] : first[1]]) - len(text[first[0] : first[1]].lstrip(" "))
        indent = source_lead - (len(body) - len(body.lstrip(" ")))
        if indent < 0:
            return None
    # The literal reading of the lines, with the source index of every character; each line
    # break maps to the end of its line.
    lit_chars: list[str] = []
    lit_indexes: list[int] = []
    for line_start, line_end in lines:
        for k in range(line_start + indent, line_end):
            lit_chars.append(text[k])
            lit_indexes.append(k)
        lit_chars.append("\n")
        lit_indexes.append(line_end)
    # Align the value with that reading: folding turns some line breaks into spaces or drops them.
    out: list[int] = []
    j = 0
    for ch in value:
        while True:
            if j >= len(lit_chars):
                return None
            lit = lit_chars[j]
            if lit == ch or (lit == "\n" and ch in " \u2028\u2029"):
                out.append(lit_indexes[j])
                j += 1
                break
            if lit == "\n":
                j += 1
                continue
            return None
    return out


# -- composing ----------------------------------------------------------------------------------


class _LibyamlDiffers(Exception):
    """libyaml would read this text differently from PyYAML: read it again with PyYAML."""


class _Refusal(Exception):
    """Something valid YAML may hold but a policy must not (alias, anchor, tag, excess nesting)."""

    def __init__(self, message: str, mark: _Mark | None, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.help = help


class _PolicyComposer(Composer):
    """PyYAML's composer, refusing what a policy must not contain; the parser is mixed in."""

    _depth: int
    _node_count: int

    if TYPE_CHECKING:
        # From the parser mixed in.
        def peek_event(self) -> Any: ...
        def dispose(self) -> None: ...

    def _start_composing(self) -> None:
        self._depth = 0
        self._node_count = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refusal(
                f"YAML alias `*{event.anchor}` is not allowed in a policy",
                event.start_mark,
                help="write the value out in full: aliases hide what a rule says",
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refusal(
                f"YAML anchor `&{anchor}` is not allowed in a policy",
                event.start_mark,
                help="write each value out in full: anchors and aliases hide what a rule says",
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise _Refusal(
                f"YAML tag `{tag}` is not allowed in a policy",
                event.start_mark,
                help="remove the tag; quote the value if it must be a string",
            )
        self._node_count += 1
        if self._node_count > MAX_NODES:
            raise _Refusal(f"policy has more than {MAX_NODES:,} YAML nodes", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise _Refusal(f"policy nests deeper than {MAX_NESTING} levels", event.start_mark)
            node: yaml.Node | None = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            raise _Refusal("unsupported YAML node", event.start_mark)
        return node


class _Loader(_PolicyComposer, yaml.SafeLoader):
    """SafeLoader's pure-Python reader, scanner and parser under our composer."""

    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._start_composing()


_FastLoader: Callable[[str], _PolicyComposer] | None
try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    _FastLoader = None
else:

    class _CLoader(_PolicyComposer, CParser, Resolver):
        """libyaml's C reader, scanner and parser under our composer (several times faster).

        Only the composer is PyYAML's: `Composer` comes before `CParser` in the MRO, so our
        `compose_node` sees every event, as with `_Loader`.
        """

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            Resolver.__init__(self)
            self._start_composing()
            self._flow_depth = 0

        def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
            event = self.peek_event()
            if (
                isinstance(event, yaml.ScalarEvent)
                and self._flow_depth
                and not event.value
                and not event.style
            ):
                # An empty value in a flow collection (`{a: }`): libyaml puts it after the blanks
                # that follow the `:`, PyYAML right after the `:`; let PyYAML read this text.
                raise _LibyamlDiffers
            flow = int(isinstance(event, yaml.CollectionStartEvent) and event.flow_style is True)
            self._flow_depth += flow
            try:
                return super().compose_node(parent, index)
            finally:
                self._flow_depth -= flow

        def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
            node = super().compose_scalar_node(anchor)
            if node.style == "":
                node.style = None  # libyaml says "" for a plain scalar, PyYAML None
            return node

    _FastLoader = _CLoader


@dataclass(frozen=True)
class YamlDocument:
    """One YAML document of a policy source: its data and where each part of it is."""

    data: Any
    source_map: SourceMap
    index: int
    start: Location


def parse_yaml(text: str, *, file: str | None, json_text: bool = False) -> list[YamlDocument]:
    """Parse every document of a YAML stream into plain data with a `SourceMap` each.

    Empty documents (a trailing ``---``, for instance) are skipped.

    Args:
        text: The YAML text (a leading byte order mark is ignored).
        file: The file name shown in errors, or None for YAML given as a string.
        json_text: The text is JSON: tabs between tokens are read as spaces (YAML forbids them
            where JSON allows them).

    Returns:
        The non-empty documents in order.

    Raises:
        PolicyError: On a YAML syntax error, a duplicate key, a non-string key, an anchor,
            alias, merge key or tag, or nesting or size beyond the limits.
    """
    text = text.removeprefix("\ufeff")
    if json_text:
        text = _json_tabs_to_spaces(text)
    if _FastLoader is not None and _libyaml_agrees(text):
        try:
            return _parse_documents(text, file, _FastLoader)
        except Exception:  # noqa: S110 - any failure is read again below, for PyYAML's exact error
            pass
    return _parse_documents(text, file, _Loader)


# Where libyaml and PyYAML read the same text differently: libyaml takes a tab for a space,
# `?` inside a plain scalar in a flow collection, and `|#` for a block scalar header with a comment,
# where PyYAML refuses all three; it counts a byte order mark in the middle of the text as a column
# and puts the end of a text without a final line break on the next line. Such texts are read by
# PyYAML alone. (False alarms, e.g. `?` in a quoted string, only cost speed.) `_CLoader` gives up
# on the one difference found while composing: empty values in flow collections.
_LIBYAML_DIFFERS = re.compile(r"[\t\ufeff]|[|>][-+0-9]*#")


def _libyaml_agrees(text: str) -> bool:
    if not text.endswith("\n") or _LIBYAML_DIFFERS.search(text):
        return False
    return "?" not in text or not ("[" in text or "{" in text)


def _parse_documents(
    text: str, file: str | None, make_loader: Callable[[str], _PolicyComposer]
) -> list[YamlDocument]:
    documents: list[YamlDocument] = []
    loader: _PolicyComposer | None = None
    try:
        loader = make_loader(text)
        index = 0
        while loader.check_node():
            node = loader.get_node()
            index += 1
            if node is None or _is_empty_document(node):
                continue
            nodes: dict[DocPath, yaml.Node] = {}
            keys: dict[DocPath, yaml.Node] = {}
            data = _build(node, (), nodes, keys, file)
            order = {path: n.start_mark.index for path, n in nodes.items()}
            order.update({path: n.start_mark.index for path, n in keys.items()})
            end_order = {path: n.end_mark.index for path, n in nodes.items()}
            smap = SourceMap(file=file, text=text, nodes=nodes, keys=keys, order=order, end_order=end_order)
            documents.append(YamlDocument(data, smap, index, _mark_location(node.start_mark)))
    except _Refusal as exc:
        mark = exc.mark
        raise PolicyError(
            exc.message,
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            help=exc.help,
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.reader.ReaderError as exc:
        where = _advance(text, _TEXT_START, exc.position)
        code = ord(exc.character) if isinstance(exc.character, str) else int(exc.character)
        raise PolicyError(
            f"invalid character `U+{code:04X}` in YAML",
            file=file,
            line=where.line,
            column=where.column,
            help="YAML does not allow control characters; write them as escapes in a double-quoted string",
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _syntax_error(exc: yaml.MarkedYAMLError, file: str | None) -> PolicyError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    help_text = None
    if exc.context and exc.context_mark is not None and exc.problem:
        help_text = f"{exc.context} at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
    if "'\\t'" in problem:
        help_text = "YAML does not allow tabs for indentation; indent with spaces"
    return PolicyError(
        f"invalid YAML: {problem}",
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        help=help_text,
    )


def _is_empty_document(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style is None and node.value == ""


def _build(
    node: yaml.Node,
    path: DocPath,
    nodes: dict[DocPath, yaml.Node],
    keys: dict[DocPath, yaml.Node],
    file: str | None,
) -> Any:
    """Turn a node into plain data, recording every node's position under its path.

    Recursion is bounded by MAX_NESTING, which the loader enforces while composing.
    """
    nodes[path] = node
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, file)
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), nodes, keys, file) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key(key_node, file)
            child = (*path, key)
            if key in out:
                first = keys[child].start_mark
                raise PolicyError(
                    f"duplicate key `{key}`",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                    path=format_path(child),
                    help=(
                        f"`{key}` is already set at line {first.line + 1}, column {first.column + 1}; "
                        "YAML readers would silently keep only the last one, so keep exactly one"
                    ),
                )
            keys[child] = key_node
            out[key] = _build(value_node, child, nodes, keys, file)
        return out
    raise _Refusal(f"unsupported YAML node `{type(node).__name__}`", node.start_mark)


def _key(node: yaml.Node, file: str | None) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _error_at("mapping keys must be strings, found a nested mapping or list", node.start_mark, file)
    if node.style is None and node.value == "<<":
        raise _error_at(
            "YAML merge keys (`<<`) are not allowed in a policy",
            node.start_mark,
            file,
            help="write the merged fields out in full: merge keys hide what a rule says",
        )
    key = _scalar(node, file)
    if not isinstance(key, str):
        shown = "null" if key is None else node.value
        raise _error_at(
            f"mapping keys must be strings, found `{shown}`",
            node.start_mark,
            file,
            help=f"quote the key: `'{node.value}'`",
        )
    return key


def _error_at(message: str, mark: _Mark, file: str | None, *, help: str | None = None) -> PolicyError:
    return PolicyError(message, file=file, line=mark.line + 1, column=mark.column + 1, help=help)


def _scalar(node: yaml.ScalarNode, file: str | None) -> Any:
    value: str = node.value
    if node.style is not None:
        return _combine_surrogates(value, node, file)
    if _NULL.fullmatch(value):
        return None
    if _TRUE.fullmatch(value):
        return True
    if _FALSE.fullmatch(value):
        return False
    try:
        if _INT_DEC.fullmatch(value):
            return int(value, 10)
        if _INT_OCT.fullmatch(value):
            return int(value[2:], 8)
        if _INT_HEX.fullmatch(value):
            return int(value[2:], 16)
    except ValueError:
        # Python refuses to read integers of thousands of digits; no policy field needs one.
        raise _error_at(f"number `{value[:20]}…` has too many digits", node.start_mark, file) from None
    if _FLOAT.fullmatch(value):
        return float(value)
    if _INF.fullmatch(value):
        return -math.inf if value.startswith("-") else math.inf
    if _NAN.fullmatch(value):
        return math.nan
    return _combine_surrogates(value, node, file)


def _combine_surrogates(value: str, node: yaml.ScalarNode, file: str | None) -> str:
    r"""Join ``\\uD83D\\uDE00``-style escape pairs into one character, as JSON readers do."""
    if not any("\ud800" <= c <= "\udfff" for c in value):
        return value
    combined = value.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
    if "\ufffd" in combined and "\ufffd" not in value:
        raise _error_at(
            "string holds a lone surrogate escape, which is not a character", node.start_mark, file
        )
    return combined


def _json_tabs_to_spaces(text: str) -> str:
    r"""Replace tabs outside JSON strings by spaces; each tab stays one column wide.

    JSON allows tabs between tokens, PyYAML does not. Inside JSON strings a raw tab is invalid
    JSON anyway (it must be written ``\\t``), so strings are left untouched.
    """
    if "\t" not in text:
        return text
    out = list(text)
    in_string = False
    escaped = False
    for i, ch in enumerate(out):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "\t":
            out[i] = " "
    return "".join(out)


# -- dict sources -------------------------------------------------------------------------------


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
