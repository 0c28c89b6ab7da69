"""load_policies(): policy files, folders, YAML text and dicts to checked, resolved policies.

Everything that can be wrong with a policy is found here, once, before any request is
evaluated: YAML syntax, duplicate keys, anchors, unknown or misspelt fields, wrong types,
conditions that do not compile, ``extends`` that escape their folder or weaken a parent. Each
problem is a `PolicyError` with the file, line and column to fix. A policy that loads may still
draw a `PolicyWarning`: a condition reading a field its ``request_schema`` does not declare.

Which ``str`` is what: a string holding a line break, or starting with ``{``, is YAML (or JSON)
text; any other string is a path. A path that does not exist is an error, never read as YAML.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_os._cel import Program
from agent_os._extends import ResolvedPolicy, resolve_extends
from agent_os._load_document import (
    ParsedPolicy,
    check_text_size,
    parse_data,
    parse_document,
    parse_model,
    read_policy_file,
)
from agent_os._load_schema import schema_warnings
from agent_os._yaml_source import YamlDocument, parse_yaml
from agt_core import PolicyDocument, PolicyError, PolicyWarning, content_hash

__all__ = ["POLICY_FILE_SUFFIXES", "LoadedPolicy", "PolicySource", "load_policies"]

PolicySource = str | os.PathLike[str] | Mapping[str, Any] | PolicyDocument | Sequence[Any]
"""A policy file or folder path, YAML text, a dict, a `PolicyDocument`, or a list of those."""

POLICY_FILE_SUFFIXES = (".yaml", ".yml", ".json")
"""The files a policy folder is read for (compared without regard to case)."""


@dataclass(frozen=True)
class LoadedPolicy:
    """One policy, checked and with ``extends`` resolved, ready to compile into a policy set.

    Attributes:
        document: The resolved document: the parents' rules first (in ``extends`` order, depth
            first, each parent file once), then the policy's own; ``extends`` is empty.
        source: The file the policy came from, or None for YAML text, a dict or a model.
        sealed_rules: Names of inherited rules whose action is deny or require_approval; the
            engine lets none of the policy's own rules override them.
        conditions: Rule name -> compiled condition, for every rule, enabled or not.
        content_hash: ``sha256:<hex>`` of the resolved document's canonical JSON: names exactly
            the rules in force.
        warnings: Every `PolicyWarning` message raised while loading this policy.
    """

    document: PolicyDocument
    source: str | None
    sealed_rules: frozenset[str]
    conditions: Mapping[str, Program]
    content_hash: str
    warnings: tuple[str, ...]


def load_policies(
    source: PolicySource, *, base_dir: str | os.PathLike[str] | None = None
) -> list[LoadedPolicy]:
    """Load, check and resolve policies.

    Args:
        source: A policy file path; a folder path (every ``*.yaml``, ``*.yml`` and ``*.json``
            file directly inside, sorted by name); YAML text (a ``str`` holding a line break or
            starting with ``{``); a dict; a `PolicyDocument`; or a list of those. A file may hold
            several YAML documents separated by ``---``; each is a policy.
        base_dir: The folder ``extends`` paths of YAML text, dicts and models are relative to.
            It also widens the folder that parent files must lie in, for file sources, from the
            file's own folder to `base_dir`.

    Returns:
        The policies in source order.

    Raises:
        PolicyError: For the first problem found, with file, line, column and path.

    Warns:
        PolicyWarning: When a condition reads a field the policy's request_schema does not
            declare (the messages are also in `LoadedPolicy.warnings`).
    """
    loader = _Loader(base_dir)
    for item in _items(source):
        loader.add(item)
    for policy in loader.loaded:
        for message in policy.warnings:
            warnings.warn(PolicyWarning(message), stacklevel=2)
    return loader.loaded


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

    def __init__(self, base_dir: str | os.PathLike[str] | None) -> None:
        self.base_dir: str | None = None
        self.base_real: str | None = None
        if base_dir is not None:
            shown = os.fspath(base_dir)
            if not os.path.isdir(shown):
                raise PolicyError(f"base_dir `{shown}` is not an existing folder")
            self.base_dir = shown
            self.base_real = os.path.realpath(shown)
        self.loaded: list[LoadedPolicy] = []
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
            parsed = parse_document(doc, real_path=None, folder=self.base_real, display_folder=self.base_dir)
            self._root(parsed, source=None, boundary=self.base_real)

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
            self._file(path)

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
            parsed = parse_document(doc, real_path=real, folder=folder, display_folder=os.path.dirname(path))
            self._root(parsed, source=path, boundary=self.base_real or folder)

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
        self.names[name] = f"in `{source}`" if source else f"policy {len(self.loaded) + 1} of this load"
        resolved = resolve_extends(parsed, boundary=boundary, load_parent=self._parent)
        self.loaded.append(_loaded(resolved, source))


def _file_documents(text: str, shown: str) -> list[YamlDocument]:
    return parse_yaml(text, file=shown, json_text=shown.lower().endswith(".json"))


def _loaded(resolved: ResolvedPolicy, source: str | None) -> LoadedPolicy:
    document = resolved.document
    return LoadedPolicy(
        document=document,
        source=source,
        sealed_rules=resolved.sealed_rules,
        conditions=resolved.conditions,
        content_hash=content_hash(document.model_dump(mode="json", by_alias=True)),
        warnings=tuple(schema_warnings(resolved)),
    )
