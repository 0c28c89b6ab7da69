"""One policy document, from file bytes, YAML text or data to a checked `ParsedPolicy`.

A parsed policy is validated against the model and has every condition compiled (to check it and
report its errors at the right character); the programs are kept in `agent_os._programs`, where
the Python evaluator finds them, so no condition is compiled twice; its ``extends`` are not resolved yet
(that is `agent_os._loading._extends`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent_os._cel import CelSyntaxError
from agent_os._loading._source_map import MAX_NESTING, DocPath, SourceMap, data_source_map, format_path
from agent_os._loading._validate import MAX_RULES, Issue, issues_error, validate_document
from agent_os._loading._yaml import YamlDocument
from agent_os._programs import program
from agt_core import PolicyDocument, PolicyError

__all__ = [
    "MAX_FILE_BYTES",
    "ParsedPolicy",
    "check_conditions",
    "check_text_size",
    "parse_data",
    "parse_document",
    "parse_model",
    "read_policy_file",
    "validate_rule_count",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Largest policy file, or YAML string, that is read (10 MiB)."""


@dataclass(frozen=True)
class ParsedPolicy:
    """One validated policy document with its conditions checked, ``extends`` unresolved.

    Attributes:
        document: The document as written.
        source_map: Where each part of it is in its source.
        file: The file as shown in messages, or None for strings, dicts and models.
        real_path: The file's resolved path, or None.
        folder: The real folder its ``extends`` paths are relative to, or None if it has none.
        display_folder: That folder as shown in messages.
    """

    document: PolicyDocument
    source_map: SourceMap
    file: str | None
    real_path: str | None
    folder: str | None
    display_folder: str | None


def read_policy_file(path: str, *, shown: str) -> str:
    """Read a policy file as text, refusing what is missing, special, too large or not UTF-8.

    Args:
        path: The file to read.
        shown: The file's name as shown in messages.

    Raises:
        PolicyError: If the file does not exist, is not a regular file, exceeds
            `MAX_FILE_BYTES`, cannot be read or is not UTF-8.
    """
    if "\0" in path:
        escaped = shown.replace("\0", "\\0")
        raise PolicyError(f"policy file path `{escaped}` holds a NUL character", file=escaped)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        hint = None
        if ":" in shown and "\n" not in shown:
            hint = "a str without a line break is read as a path; YAML text must hold a line break"
        raise PolicyError(f"policy file `{shown}` does not exist", file=shown, help=hint) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file `{shown}`: {exc.strerror}", file=shown) from None
    if not stat.S_ISREG(info.st_mode):
        raise PolicyError(f"policy file `{shown}` is not a regular file", file=shown)
    if info.st_size > MAX_FILE_BYTES:
        raise _too_large(shown)
    try:
        # Read at most one byte past the limit: the file may have grown since stat().
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PolicyError(f"cannot read policy file `{shown}`: {exc.strerror}", file=shown) from None
    if len(raw) > MAX_FILE_BYTES:
        raise _too_large(shown)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8-sig", "replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise PolicyError(
            f"policy file is not UTF-8: invalid byte `0x{raw[exc.start]:02x}`",
            file=shown,
            line=line,
            column=column,
            help="save the file as UTF-8",
        ) from None


def _too_large(shown: str | None) -> PolicyError:
    return PolicyError(
        f"policy is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
        file=shown,
        help="split it into several policies",
    )


def check_text_size(text: str, *, shown: str | None) -> None:
    """Refuse YAML text beyond `MAX_FILE_BYTES` of UTF-8.

    Raises:
        PolicyError: If the text is too large.
    """
    # Each character is at most 4 bytes: only long texts need encoding to be measured.
    if len(text) * 4 > MAX_FILE_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _too_large(shown)


def parse_document(
    doc: YamlDocument, *, real_path: str | None, folder: str | None, display_folder: str | None
) -> ParsedPolicy:
    """Validate one YAML document and check its conditions.

    Raises:
        PolicyError: Listing every problem, each with its file, line and column.
    """
    document = validate_document(doc.data, doc.source_map, more_issues=_condition_issues(doc.source_map))
    check_conditions(document, doc.source_map)
    return ParsedPolicy(
        document=document,
        source_map=doc.source_map,
        file=doc.source_map.file,
        real_path=real_path,
        folder=folder,
        display_folder=display_folder,
    )


def parse_data(data: Mapping[str, Any], *, folder: str | None) -> ParsedPolicy:
    """Validate a policy given as a mapping and check its conditions.

    Args:
        data: The policy as a dict (or any mapping; nested mappings and lists are copied).
        folder: The real folder its ``extends`` paths are relative to (``base_dir``), or None.

    Raises:
        PolicyError: Listing every problem, each with its path (a dict has no lines or columns).
    """
    # A copy made of plain dicts and lists: the strict model accepts nothing else, and the
    # caller cannot change the policy while (or after) we check it.
    plain = _plain(data, (), 0)
    source_map = data_source_map(plain)
    document = validate_document(plain, source_map, more_issues=_condition_issues(source_map))
    check_conditions(document, source_map)
    return ParsedPolicy(
        document=document,
        source_map=source_map,
        file=None,
        real_path=None,
        folder=folder,
        display_folder=folder,
    )


def parse_model(document: PolicyDocument, *, folder: str | None) -> ParsedPolicy:
    """Check a ready `PolicyDocument`: the rule limit and its conditions.

    Raises:
        PolicyError: If it has too many rules or a condition does not compile.
    """
    source_map = data_source_map(document.model_dump(by_alias=True))
    validate_rule_count(len(document.rules), source_map)
    check_conditions(document, source_map)
    return ParsedPolicy(
        document=document,
        source_map=source_map,
        file=None,
        real_path=None,
        folder=folder,
        display_folder=folder,
    )


def validate_rule_count(count: int, source_map: SourceMap) -> None:
    """Refuse more than `MAX_RULES` rules.

    Raises:
        PolicyError: If `count` exceeds the limit.
    """
    if count > MAX_RULES:
        raise PolicyError(
            f"policy has {count:,} rules, more than the limit of {MAX_RULES:,}",
            file=source_map.file,
            path="rules",
            help="split the rules over several policies",
        )


def _plain(value: Any, path: DocPath, depth: int) -> Any:
    if depth > MAX_NESTING:
        raise PolicyError(f"policy nests deeper than {MAX_NESTING} levels", path=format_path(path) or None)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise PolicyError(
                    f"mapping keys must be strings, found `{key!r}`", path=format_path(path) or None
                )
            out[key] = _plain(item, (*path, key), depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, (*path, i), depth + 1) for i, item in enumerate(value)]
    return value


def check_conditions(document: PolicyDocument, source_map: SourceMap) -> None:
    """Compile the condition of every rule, enabled or not, to refuse those that do not compile.

    Raises:
        PolicyError: Listing every condition that does not compile, each at the line and column
            of the problem inside the condition (or its column in the condition, for dicts).
    """
    issues: list[Issue] = []
    for i, rule in enumerate(document.rules):
        try:
            program(rule.condition)
        except CelSyntaxError as exc:
            issues.append(_condition_issue(exc, i, rule.condition, source_map))
    if issues:
        raise issues_error(issues, source_map)


def _condition_issue(exc: CelSyntaxError, index: int, condition: str, source_map: SourceMap) -> Issue:
    path: DocPath = ("rules", index, "condition")
    offset = max(0, min(exc.offset, len(condition)))
    before = condition[:offset]
    line_in = before.count("\n") + 1
    column_in = offset - (before.rfind("\n") + 1) + 1
    in_condition = f"column {column_in}" if line_in == 1 else f"line {line_in}, column {column_in}"
    message = f"invalid condition: {exc.message}"
    found = source_map.condition_location(path, offset)
    if found is None:
        return Issue(source_map.order(path), path, f"{message} at {in_condition} of the condition")
    location, exact = found
    if not exact:
        # The scalar could not be mapped character by character: point at its start instead.
        message += f" (at {in_condition} of the condition)"
    return Issue(source_map.order(path), path, message, location=location)


def _condition_issues(source_map: SourceMap) -> Callable[[Any], list[Issue]]:
    """Compile errors of the conditions in raw, invalid data: reported with its other problems."""

    def find(data: Any) -> list[Issue]:
        rules = data.get("rules") if isinstance(data, dict) else None
        if not isinstance(rules, list):
            return []
        issues: list[Issue] = []
        for i, rule in enumerate(rules):
            condition = rule.get("condition") if isinstance(rule, dict) else None
            if not isinstance(condition, str) or not condition:
                continue
            try:
                program(condition)
            except CelSyntaxError as exc:
                issues.append(_condition_issue(exc, i, condition, source_map))
        return issues

    return find
