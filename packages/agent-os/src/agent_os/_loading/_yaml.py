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
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.resolver import Resolver

from agent_os._loading._source_map import (
    MAX_NESTING,
    TEXT_START,
    DocPath,
    Location,
    Mark,
    SourceMap,
    advance,
    format_path,
    mark_location,
)
from agt_core import PolicyError

__all__ = ["MAX_NODES", "YamlDocument", "parse_yaml"]

MAX_NODES = 1_000_000
"""Most YAML nodes (keys, values, list items) in one policy file or string."""


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


# -- composing ----------------------------------------------------------------------------------


class _LibyamlDiffers(Exception):
    """libyaml would read this text differently from PyYAML: read it again with PyYAML."""


class _Refusal(Exception):
    """Something valid YAML may hold but a policy must not (alias, anchor, tag, excess nesting)."""

    def __init__(self, message: str, mark: Mark | None, help: str | None = None) -> None:
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
            documents.append(YamlDocument(data, smap, index, mark_location(node.start_mark)))
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
        where = advance(text, TEXT_START, exc.position)
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


def _error_at(message: str, mark: Mark, file: str | None, *, help: str | None = None) -> PolicyError:
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
