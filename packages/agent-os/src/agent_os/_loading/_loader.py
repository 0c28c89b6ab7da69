"""load_policies(): policy files, folders, YAML text and dicts to checked, resolved policies.

Everything that can be wrong with a policy is found here, once, before any request is
evaluated: YAML syntax, duplicate keys, anchors, unknown or misspelt fields, wrong types,
conditions that do not compile, ``extends`` that escape their folder or weaken a parent. Each
problem is a `PolicyError` with the file, line and column to fix; a load that finds several
problems raises one error listing them all (`PolicyProblems`). A policy that loads may still draw
a `PolicyWarning` (see `agent_os._loading._fields`): a condition reading a field requests never
hold, a deny or require_approval rule that refuses every request lacking a field it reads
unguarded (`agent_os._loading._missing`), or a policy that allows every call. Strict mode makes
those warnings load errors.

The result is `agt_core.ResolvedPolicy`: plain data, the same for every evaluator.

Which ``str`` is what: a string holding a line break, or starting with ``{``, is YAML (or JSON)
text; any other string is a path. A path that does not exist is an error, never read as YAML.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from agent_os._loading._document import (
    ParsedPolicy,
    check_text_size,
    parse_data,
    parse_document,
    parse_model,
    read_policy_file,
)
from agent_os._loading._extends import resolve_extends
from agent_os._loading._fields import LoadWarning, load_warnings, missing_parser
from agent_os._loading._problems import combine
from agent_os._loading._yaml import YamlDocument, parse_yaml
from agt_core import PolicyDocument, PolicyError, PolicyWarning, ResolvedPolicy

__all__ = ["POLICY_FILE_SUFFIXES", "STRICT_ENV", "PolicySource", "load_policies", "strict_from_env"]

PolicySource = str | os.PathLike[str] | Mapping[str, Any] | PolicyDocument | Sequence[Any]
"""A policy file or folder path, YAML text, a dict, a `PolicyDocument`, or a list of those."""

POLICY_FILE_SUFFIXES = (".yaml", ".yml", ".json")
"""The files a policy folder is read for (compared without regard to case)."""

STRICT_ENV = "AGT_STRICT_POLICIES"
"""Set to ``1`` to load every policy in strict mode (warnings are errors)."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def strict_from_env() -> bool:
    """Whether `STRICT_ENV` asks for strict loading.

    Raises:
        PolicyError: If the variable holds something other than a yes or no (a typo must not
            quietly turn strict mode off).
    """
    value = os.environ.get(STRICT_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise PolicyError(
        f"environment variable {STRICT_ENV} is `{value}`",
        expected="`1` (strict) or `0` (not strict)",
        help=f"unset {STRICT_ENV} or set it to 1 or 0",
    )


def load_policies(
    source: PolicySource,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    strict: bool = False,
    lint: bool = True,
) -> list[ResolvedPolicy]:
    """Load, check and resolve policies.

    Args:
        source: A policy file path; a folder path (every ``*.yaml``, ``*.yml`` and ``*.json``
            file directly inside, sorted by name); YAML text (a ``str`` holding a line break or
            starting with ``{``); a dict; a `PolicyDocument`; or a list of those. A file may hold
            several YAML documents separated by ``---``; each is a policy.
        base_dir: The folder ``extends`` paths of YAML text, dicts and models are relative to.
            It also widens the folder that parent files must lie in, for file sources, from the
            file's own folder to `base_dir`.
        strict: Turn every policy warning into a load error. ``AGT_STRICT_POLICIES=1`` in the
            environment does the same for every load.
        lint: Warn about each deny or require_approval rule that reads a field not every request
            has (an argument, context or agent field; a request facet ``sql``/``k8s``) without a
            ``has()`` guard, a ``!has() ||`` refusal or a tool scope, so that it refuses every
            request lacking the field. On by default; ``False`` turns this warning off (and so
            its error in strict mode); evaluation is the same either way.

    Returns:
        The resolved policies in source order.

    Raises:
        PolicyError: Listing every problem found, each with file, line, column and path.

    Warns:
        PolicyWarning: For a condition that reads a field requests never hold (or that its
            policy's request_schema does not declare), for a restrictive rule that reads a field
            not every request has unguarded (unless `lint` is False), and for a policy that
            allows every call (the messages are also in `ResolvedPolicy.warnings`).
    """
    strict = strict_from_env() or strict
    loader = _Loader(base_dir, lint=lint)
    for item in _items(source):
        try:
            loader.add(item)
        except PolicyError as exc:
            loader.problems.append(exc)  # keep going: one load reports every source's problems
    if loader.problems:
        raise combine(loader.problems)
    found = [warning for _, policy_warnings in loader.loaded for warning in policy_warnings]
    if strict and found:
        raise combine([warning.error() for warning in found])
    level = _outside_agent_os()
    for warning in found:
        warnings.warn(PolicyWarning(warning.text), stacklevel=level)
    return [policy for policy, _ in loader.loaded]


def _outside_agent_os() -> int:
    """The stacklevel of the first caller outside agent_os: warnings point at the user's line."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("agent_os."):
        frame = frame.f_back
        level += 1
    return level


def _items(source: object) -> list[object]:
    if isinstance(source, (str, os.PathLike, Mapping, PolicyDocument)):
        return [source]
    if isinstance(source, (list, tuple)):
        if not source:
            raise PolicyError(
                "no policies given: the list of policy sources is empty",
                help="pass at least one policy; without one nothing would be governed",
            )
        for item in source:
            if not isinstance(item, (str, os.PathLike, Mapping, PolicyDocument)):
                raise _unsupported(item, "in the list of policy sources")
        return list(source)
    raise _unsupported(source, "")


def _unsupported(value: object, where: str) -> PolicyError:
    kind = type(value).__name__
    return PolicyError(
        f"unsupported policy source of type `{kind}`" + (f" {where}" if where else ""),
        help="pass a file or folder path, YAML text, a dict, a PolicyDocument, or a flat list of those",
    )


class _Loader:
    """One load_policies() call: its roots, and the parent files they share (read once)."""

    def __init__(self, base_dir: str | os.PathLike[str] | None, *, lint: bool) -> None:
        self.lint = lint
        self.base_dir: str | None = None
        self.base_real: str | None = None
        if base_dir is not None:
            shown = os.fspath(base_dir)
            if not os.path.isdir(shown):
                raise PolicyError(f"base_dir `{shown}` is not an existing folder")
            self.base_dir = shown
            self.base_real = os.path.realpath(shown)
        self.loaded: list[tuple[ResolvedPolicy, list[LoadWarning]]] = []
        self.problems: list[PolicyError] = []
        self.names: dict[str, str] = {}
        self.parents: dict[str, ParsedPolicy] = {}

    def add(self, item: object) -> None:
        if isinstance(item, PolicyDocument):
            self._root(parse_model(item, folder=self.base_real), source=None, boundary=self.base_real)
        elif isinstance(item, Mapping):
            self._root(parse_data(item, folder=self.base_real), source=None, boundary=self.base_real)
        elif isinstance(item, str) and ("\n" in item or "\r" in item or item.startswith("{")):
            self._text(item)
        elif isinstance(item, (str, os.PathLike)):
            path = os.fspath(item)
            if not isinstance(path, str):
                raise _unsupported(path, "(a bytes path)")
            if os.path.isdir(path):
                self._folder(path)
            else:
                self._file(path)
        else:
            raise _unsupported(item, "")

    def _text(self, text: str) -> None:
        check_text_size(text, shown=None)
        documents = parse_yaml(text, file=None)
        if not documents:
            raise PolicyError(
                "policy text is empty", help="a policy starts with `apiVersion: governance.toolkit/v1`"
            )
        for doc in documents:
            try:
                parsed = parse_document(
                    doc, real_path=None, folder=self.base_real, display_folder=self.base_dir
                )
                self._root(parsed, source=None, boundary=self.base_real)
            except PolicyError as exc:
                self.problems.append(exc)  # keep going: one load reports every document's problems

    def _folder(self, folder: str) -> None:
        names = sorted(name for name in os.listdir(folder) if name.lower().endswith(POLICY_FILE_SUFFIXES))
        files = [
            os.path.join(folder, name) for name in names if not os.path.isdir(os.path.join(folder, name))
        ]
        if not files:
            raise PolicyError(
                f"policy folder `{folder}` holds no .yaml, .yml or .json files",
                file=folder,
                help="policy folders are not searched recursively",
            )
        for path in files:
            try:
                self._file(path)
            except PolicyError as exc:
                self.problems.append(exc)

    def _file(self, path: str) -> None:
        text = read_policy_file(path, shown=path)
        documents = _file_documents(text, path)
        if not documents:
            raise PolicyError(
                f"policy file `{path}` is empty",
                file=path,
                help="a policy starts with `apiVersion: governance.toolkit/v1`",
            )
        real = os.path.realpath(path)
        # Relative `extends` start from the folder the file was named in, and parents must stay
        # inside it (or inside base_dir, when given).
        folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        for doc in documents:
            try:
                parsed = parse_document(
                    doc, real_path=real, folder=folder, display_folder=os.path.dirname(path)
                )
                self._root(parsed, source=path, boundary=self.base_real or folder)
            except PolicyError as exc:
                self.problems.append(exc)

    def _parent(self, real: str, shown: str) -> ParsedPolicy:
        cached = self.parents.get(real)
        if cached is not None:
            return cached
        documents = _file_documents(read_policy_file(real, shown=shown), shown)
        if len(documents) != 1:
            start = documents[1].start if len(documents) > 1 else None
            raise PolicyError(
                f"parent policy `{shown}` holds {len(documents)} policies"
                if documents
                else f"parent policy `{shown}` is empty",
                file=shown,
                line=start.line if start else None,
                column=start.column if start else None,
                help="a file named in `extends` must hold exactly one policy",
            )
        parsed = parse_document(
            documents[0], real_path=real, folder=os.path.dirname(real), display_folder=os.path.dirname(shown)
        )
        self.parents[real] = parsed
        return parsed

    def _root(self, parsed: ParsedPolicy, *, source: str | None, boundary: str | None) -> None:
        name = parsed.document.name
        other = self.names.get(name)
        if other is not None:
            loc = parsed.source_map.location(("name",))
            raise PolicyError(
                f"two policies are named `{name}`",
                file=parsed.file,
                line=loc.line if loc else None,
                column=loc.column if loc else None,
                path="name",
                help=f"the other is {other}; policy names must be unique in one policy set",
            )
        self.names[name] = f"in `{source}`" if source else f"policy {len(self.names) + 1} of this load"
        resolution = resolve_extends(parsed, boundary=boundary, load_parent=self._parent)
        unparsable = missing_parser(resolution)
        if unparsable is not None:
            raise unparsable
        found = load_warnings(resolution, lint=self.lint)
        policy = ResolvedPolicy(
            document=resolution.document,
            sealed_rules=resolution.sealed_rules,
            source=source,
            warnings=tuple(warning.text for warning in found),
        )
        self.loaded.append((policy, found))


def _file_documents(text: str, shown: str) -> list[YamlDocument]:
    return parse_yaml(text, file=shown, json_text=shown.lower().endswith(".json"))
