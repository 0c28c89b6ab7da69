"""Validate policy data against `PolicyDocument` and turn pydantic's errors into a `PolicyError`.

pydantic reports every problem at once, in model-field order, in its own words. A policy author
wants every problem in *their* file's order, where each is, what was expected instead and, for a
typo, the name they probably meant. This module is the one place where pydantic's
`ValidationError` is translated: one handler per pydantic error type, reading the error's
structured ``type``, ``loc`` and ``ctx``.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from agent_os._loading._problems import combine
from agent_os._loading._source_map import DocPath, Location, SourceMap, format_path
from agt_core import PolicyDocument, PolicyError, Rule

__all__ = ["MAX_RULES", "Issue", "issues_error", "validate_document"]

MAX_RULES = 10_000
"""Most rules in one policy document, inherited rules included."""

_RULE_FIELDS = ("rules",)
_TYPE_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "`true` or `false`",
    "bool_parsing": "`true` or `false`",
    "float_type": "a number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
    "none_required": "null",
}
_FIELD_EXPECTED = {
    ("extends",): "a file path or a list of file paths",
    ("agents",): "a list of agent ids or glob patterns",
    ("approvers",): "a list of approver names",
}
_NAME_EXPECTED = "letters, digits and `_ . : -`, starting with a letter or digit"
_YAML11_BOOLS = frozenset(
    {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"}
)


@dataclass(frozen=True)
class Issue:
    """One problem found in a policy document, not yet raised."""

    order: int
    path: DocPath
    message: str
    at_key: bool = False
    expected: str | None = None
    help: str | None = None
    location: Location | None = None  # overrides the location of `path` (inside a condition)


def validate_document(
    data: Any, source_map: SourceMap, *, more_issues: Callable[[Any], list[Issue]] | None = None
) -> PolicyDocument:
    """Validate one policy's data, raising every problem found.

    Args:
        data: The document as plain data (a dict for anything that can be a policy).
        source_map: Where each part of `data` is in its source.
        more_issues: Finds further problems in `data` (conditions that do not compile), asked
            only when the document is invalid, so that one error lists them all.

    Returns:
        The validated document (``extends`` not yet resolved).

    Raises:
        PolicyError: Listing every problem in document order (`PolicyProblems` when there are
            several), each with its own position.
    """
    if not isinstance(data, dict):
        raise issues_error(
            [
                Issue(
                    0,
                    (),
                    f"a policy must be a mapping, found {_describe(data)}",
                    help="a policy starts with `apiVersion: governance.toolkit/v1` and `name: ...`",
                )
            ],
            source_map,
        )
    rules = data.get("rules")
    if isinstance(rules, list) and len(rules) > MAX_RULES:
        raise issues_error(
            [
                Issue(
                    0,
                    ("rules",),
                    f"policy has {len(rules):,} rules, more than the limit of {MAX_RULES:,}",
                    help="split the rules over several policies",
                )
            ],
            source_map,
        )
    issues = _duplicate_rule_names(rules, source_map)
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            if issues and error["type"] == "duplicate_rule_name":
                continue  # already reported by _duplicate_rule_names, with the position
            issues.append(_translate(error, data, source_map))
    else:
        if not issues:
            return document
    if more_issues is not None:
        issues.extend(more_issues(data))
    from agent_os._migrate import looks_like_peer_policy

    peer = looks_like_peer_policy(data)
    if peer is not None:
        # Name the migration first, instead of leaving "did you mean `apiVersion`" for `version`.
        issues.insert(
            0,
            Issue(
                -1,
                (),
                f"this looks like a policy written for Microsoft's Agent Governance Toolkit ({peer})",
                help="migrate it: `agt policy migrate IN -o OUT`, or `agent_os.migrate_policy` (docs/migrating.md)",
            ),
        )
    raise issues_error(issues, source_map) from None


def issues_error(issues: list[Issue], source_map: SourceMap) -> PolicyError:
    """`issues` as one `PolicyError`, every problem in document order, each with its position."""
    errors = [_as_error(issue, source_map) for issue in sorted(issues, key=lambda issue: issue.order)]
    return combine(errors)


def _as_error(issue: Issue, source_map: SourceMap) -> PolicyError:
    loc = issue.location
    if loc is None:
        loc = source_map.key_location(issue.path) if issue.at_key else source_map.location(issue.path)
    return PolicyError(
        issue.message,
        file=source_map.file,
        line=loc.line if loc else None,
        column=loc.column if loc else None,
        path=format_path(issue.path) or None,
        expected=issue.expected,
        help=issue.help,
    )


def _duplicate_rule_names(rules: Any, source_map: SourceMap) -> list[Issue]:
    if not isinstance(rules, list):
        return []
    seen: dict[str, int] = {}
    issues: list[Issue] = []
    for i, rule in enumerate(rules):
        name = rule.get("name") if isinstance(rule, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            first = source_map.location(("rules", seen[name], "name"))
            where = f"at line {first.line}" if first is not None else f"rules[{seen[name]}]"
            path: DocPath = ("rules", i, "name")
            issues.append(
                Issue(
                    source_map.order(path),
                    path,
                    f"duplicate rule name `{name}`",
                    help=f"the first rule named `{name}` is {where}; rule names must be unique in a policy",
                )
            )
        else:
            seen[name] = i
    return issues


def _model_at(path: DocPath) -> type[BaseModel] | None:
    """Which model validates the mapping at `path`."""
    if path == ():
        return PolicyDocument
    if len(path) == 2 and path[0] in _RULE_FIELDS and isinstance(path[1], int):
        return Rule
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _get(data: Any, path: DocPath) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _did_you_mean(word: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


@dataclass(frozen=True)
class _Error:
    """One pydantic error, with what every handler needs to place and phrase it."""

    kind: str
    path: DocPath
    value: Any
    ctx: Mapping[str, Any]
    msg: str
    data: Any
    source_map: SourceMap

    @property
    def field(self) -> str | int | None:
        return self.path[-1] if self.path else None

    @property
    def order(self) -> int:
        return self.source_map.order(self.path)


def _translate(error: Any, data: Any, source_map: SourceMap) -> Issue:
    """One pydantic error as an `Issue`: path, position, message, expectation and help."""
    parsed = _Error(
        kind=error["type"],
        path=tuple(part for part in error["loc"] if isinstance(part, (str, int))),
        value=error.get("input"),
        ctx=error.get("ctx") or {},
        msg=str(error["msg"]),
        data=data,
        source_map=source_map,
    )
    handler = _HANDLERS.get(parsed.kind)
    if handler is not None:
        return handler(parsed)
    if parsed.kind in _TYPE_EXPECTED:
        return _wrong_type(parsed)
    return Issue(parsed.order, parsed.path, parsed.msg[:1].lower() + parsed.msg[1:])


def _extra_forbidden(e: _Error) -> Issue:
    model = _model_at(e.path[:-1])
    help_text = None
    if model is not None and isinstance(e.field, str):
        fields = _field_names(model)
        help_text = (
            _did_you_mean(e.field, fields) or f"the fields are {', '.join(f'`{f}`' for f in sorted(fields))}"
        )
    return Issue(e.order, e.path, f"unknown field `{e.field}`", at_key=True, help=help_text)


def _missing(e: _Error) -> Issue:
    parent = e.path[:-1]
    help_text = None
    mapping = _get(e.data, parent)
    model = _model_at(parent)
    if isinstance(mapping, dict) and model is not None and isinstance(e.field, str):
        unknown = [k for k in mapping if k not in _field_names(model)]
        close = difflib.get_close_matches(e.field, unknown, n=1, cutoff=0.6)
        if close:
            help_text = f"found the unknown field `{close[0]}`; did you mean `{e.field}`?"
    if e.field == "apiVersion" and help_text is None:
        help_text = "a policy starts with `apiVersion: governance.toolkit/v1`"
    # A missing field has no place in the file: report it at the mapping that lacks it, but
    # after that mapping's other problems, which are often the cause (a misspelt key).
    return Issue(
        e.source_map.end_order(parent), e.path, f"missing required field `{e.field}`", help=help_text
    )


def _literal_error(e: _Error) -> Issue:
    options = _literal_options(e)
    if len(options) > 1:
        expected: str | None = "one of " + ", ".join(f"`{o}`" for o in options)
    else:
        expected = f"`{options[0]}`" if options else e.ctx.get("expected")
    if isinstance(e.value, str):
        return Issue(
            e.order,
            e.path,
            f"invalid value `{_short(e.value)}`",
            expected=expected,
            help=_did_you_mean(e.value, options),
        )
    return Issue(e.order, e.path, f"wrong type: found {_describe(e.value)}", expected=expected)


def _literal_options(e: _Error) -> list[str]:
    """The allowed values of the Literal field at the error's path, read from the model."""
    model = _model_at(e.path[:-1])
    if model is None or not isinstance(e.field, str):
        return []
    for name, info in model.model_fields.items():
        if e.field in (name, info.alias):
            return [str(option) for option in typing.get_args(info.annotation)]
    return []


def _wrong_type(e: _Error) -> Issue:
    expected = _FIELD_EXPECTED.get((e.field,)) if isinstance(e.field, str) else None
    return Issue(
        e.order,
        e.path,
        f"wrong type: found {_describe(e.value)}",
        expected=expected or _TYPE_EXPECTED[e.kind],
        help=_type_help(e.kind, e.value),
    )


def _pattern_mismatch(e: _Error) -> Issue:
    if e.field == "name":
        return Issue(e.order, e.path, f"invalid name `{_short(str(e.value))}`", expected=_NAME_EXPECTED)
    return Issue(e.order, e.path, f"`{_short(str(e.value))}` does not match `{e.ctx.get('pattern')}`")


def _too_long(e: _Error) -> Issue:
    return Issue(
        e.order,
        e.path,
        f"too long: {len(str(e.value))} characters",
        expected=f"at most {e.ctx.get('max_length')} characters",
    )


def _too_short(e: _Error) -> Issue:
    what = "a CEL expression" if e.field == "condition" else f"at least {e.ctx.get('min_length')} character"
    return Issue(e.order, e.path, "empty string", expected=what)


def _out_of_range(e: _Error) -> Issue:
    bound = {"greater_than_equal": "at least", "less_than_equal": "at most"}.get(e.kind, "beyond")
    limit = next(iter(e.ctx.values()), None)
    return Issue(e.order, e.path, f"`{e.value}` is out of range", expected=f"{bound} {limit}")


def _structured(e: _Error) -> Issue:
    """An agt-core model check with structured context: ``reason``, ``field`` or ``path``, ``expected``.

    ``field`` names the key of the validated mapping the check is about (reported at the key),
    ``path`` the keys below the validated value (reported at the value).
    """
    reason = str(e.ctx.get("reason", e.msg))
    expected = e.ctx.get("expected")
    field = e.ctx.get("field")
    if isinstance(field, str) and e.source_map.has((*e.path, field)):
        target: DocPath = (*e.path, field)
        return Issue(e.source_map.order(target), target, reason, at_key=True, expected=expected)
    below = tuple(str(part) for part in e.ctx.get("path", ()))
    target = (*e.path, *below)
    if not e.source_map.has(target):
        target = e.path
    if e.kind == "request_schema_type":
        reason = f"invalid request_schema type `{_short(str(_get(e.value, below)))}`"
    return Issue(e.source_map.order(target), target, reason, expected=expected)


def _value_error(e: _Error) -> Issue:
    """Errors from validators that raise a plain ``ValueError``: reported at the value, as written.

    agt-core's policy validators raise structured errors (`_structured`); nothing here parses an
    error's text to find out what it is about.
    """
    return Issue(e.order, e.path, e.msg.removeprefix("Value error, "))


_HANDLERS: dict[str, Callable[[_Error], Issue]] = {
    "extra_forbidden": _extra_forbidden,
    "missing": _missing,
    "literal_error": _literal_error,
    "string_pattern_mismatch": _pattern_mismatch,
    "string_too_long": _too_long,
    "string_too_short": _too_short,
    "greater_than_equal": _out_of_range,
    "less_than_equal": _out_of_range,
    "greater_than": _out_of_range,
    "less_than": _out_of_range,
    "policy_field": _structured,
    "request_schema_type": _structured,
    "rate_limit": _structured,
    "duplicate_rule_name": _structured,
    "value_error": _value_error,
}
"""pydantic error type -> the handler that phrases it for a policy author."""


def _type_help(kind: str, value: Any) -> str | None:
    if (
        kind in ("int_type", "int_parsing")
        and isinstance(value, str)
        and re.fullmatch(r"\s*[-+]?[0-9]+\s*", value)
    ):
        return "remove the quotes: numbers are written without them"
    if kind in ("bool_type", "bool_parsing") and isinstance(value, str):
        if value in _YAML11_BOOLS:
            return f"`{value}` is a string here, not a boolean; write `true` or `false`"
        return "write `true` or `false` without quotes"
    if kind in ("tuple_type", "list_type") and isinstance(value, str):
        return f'write a list: `["{value}"]`'
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(value: Any) -> str:
    """Name a value's type (and the value, when short) for a message: ``a string `5` ``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"the integer `{value}`"
    if isinstance(value, float):
        return f"the number `{value}`"
    if isinstance(value, str):
        return f"a string `{_short(value)}`"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a `{type(value).__name__}`"
