"""Validate policy data against `PolicyDocument` and turn pydantic's errors into a `PolicyError`.

pydantic reports every problem at once, in model-field order, in its own words. A policy author
wants the first problem in *their* file, where it is, what was expected instead and, for a typo,
the name they probably meant. This module is the one place where pydantic's `ValidationError`
is translated.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from agent_os._yaml_source import DocPath, Location, SourceMap, format_path
from agt_core import PolicyDocument, PolicyError, Rule

__all__ = ["MAX_RULES", "Issue", "first_error", "validate_document"]

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


def validate_document(data: Any, source_map: SourceMap) -> PolicyDocument:
    """Validate one policy's data, raising the first problem in document order.

    Args:
        data: The document as plain data (a dict for anything that can be a policy).
        source_map: Where each part of `data` is in its source.

    Returns:
        The validated document (``extends`` not yet resolved).

    Raises:
        PolicyError: For the first problem in document order, saying how many more there are.
    """
    if not isinstance(data, dict):
        raise first_error(
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
        raise first_error(
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
            if issues and error["type"] == "value_error" and "duplicate rule name" in error["msg"]:
                continue  # already reported by _duplicate_rule_names, with the position
            issues.append(_translate(error, data, source_map))
        raise first_error(issues, source_map) from None
    if issues:
        raise first_error(issues, source_map)
    return document


def first_error(issues: list[Issue], source_map: SourceMap) -> PolicyError:
    """The first of `issues` in document order as a `PolicyError`, saying how many there are."""
    first = min(issues, key=lambda issue: issue.order)
    message = first.message
    if len(issues) > 1:
        message += f" (first of {len(issues)} errors)"
    loc = first.location
    if loc is None:
        loc = source_map.key_location(first.path) if first.at_key else source_map.location(first.path)
    return PolicyError(
        message,
        file=source_map.file,
        line=loc.line if loc else None,
        column=loc.column if loc else None,
        path=format_path(first.path) or None,
        expected=first.expected,
        help=first.help,
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


def _translate(error: Any, data: Any, source_map: SourceMap) -> Issue:
    """One pydantic error as an `Issue`: path, position, message, expectation and help."""
    kind: str = error["type"]
    path: DocPath = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
    value = error.get("input")
    ctx = error.get("ctx") or {}
    field = path[-1] if path else None
    order = source_map.order(path)

    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        help_text = None
        if model is not None and isinstance(field, str):
            fields = _field_names(model)
            help_text = (
                _did_you_mean(field, fields)
                or f"the fields are {', '.join(f'`{f}`' for f in sorted(fields))}"
            )
        return Issue(order, path, f"unknown field `{field}`", at_key=True, help=help_text)

    if kind == "missing":
        parent = path[:-1]
        help_text = None
        mapping = _get(data, parent)
        model = _model_at(parent)
        if isinstance(mapping, dict) and model is not None and isinstance(field, str):
            unknown = [k for k in mapping if k not in _field_names(model)]
            close = difflib.get_close_matches(field, unknown, n=1, cutoff=0.6)
            if close:
                help_text = f"found the unknown field `{close[0]}`; did you mean `{field}`?"
        if field == "apiVersion" and help_text is None:
            help_text = "a policy starts with `apiVersion: governance.toolkit/v1`"
        # A missing field has no place in the file: report it at the mapping that lacks it, but
        # after that mapping's other problems, which are often the cause (a misspelt key).
        return Issue(
            source_map.end_order(parent),
            (*parent, path[-1]),
            f"missing required field `{field}`",
            help=help_text,
        )

    if kind == "literal_error":
        options = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected", "")))
        expected = (
            "one of " + ", ".join(f"`{o}`" for o in options)
            if len(options) > 1
            else f"`{options[0]}`"
            if options
            else None
        )
        if isinstance(value, str):
            return Issue(
                order,
                path,
                f"invalid value `{_short(value)}`",
                expected=expected,
                help=_did_you_mean(value, options),
            )
        return Issue(order, path, f"wrong type: found {_describe(value)}", expected=expected)

    if kind in _TYPE_EXPECTED:
        expected = _FIELD_EXPECTED.get((str(field),)) if isinstance(field, str) else None
        expected = expected or _TYPE_EXPECTED[kind]
        return Issue(
            order,
            path,
            f"wrong type: found {_describe(value)}",
            expected=expected,
            help=_type_help(kind, value),
        )

    if kind == "string_pattern_mismatch":
        if field == "name":
            return Issue(order, path, f"invalid name `{_short(str(value))}`", expected=_NAME_EXPECTED)
        return Issue(order, path, f"`{_short(str(value))}` does not match `{ctx.get('pattern')}`")

    if kind == "string_too_long":
        return Issue(
            order,
            path,
            f"too long: {len(str(value))} characters",
            expected=f"at most {ctx.get('max_length')} characters",
        )

    if kind == "string_too_short":
        what = "a CEL expression" if field == "condition" else f"at least {ctx.get('min_length')} character"
        return Issue(order, path, "empty string", expected=what)

    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {"greater_than_equal": "at least", "less_than_equal": "at most"}.get(kind, "beyond")
        limit = next(iter(ctx.values()), None)
        return Issue(order, path, f"`{value}` is out of range", expected=f"{bound} {limit}")

    if kind == "value_error":
        return _value_error(str(error["msg"]), path, data, source_map)

    message = str(error["msg"])
    return Issue(order, path, message[:1].lower() + message[1:])


def _value_error(msg: str, path: DocPath, data: Any, source_map: SourceMap) -> Issue:
    """Errors from the model's own validators: point at the field they are about."""
    text = msg.removeprefix("Value error, ")
    # request_schema.args.amount: expected a nested mapping or one of ..., got `float`
    schema = re.fullmatch(r"(request_schema(?:\.[^:]+)?): expected (.+), got `(.*)`", text)
    if schema:
        target: DocPath = tuple(schema.group(1).split("."))
        if not source_map.has(target):
            target = path
        return Issue(
            source_map.order(target),
            target,
            f"invalid request_schema type `{_short(schema.group(3))}`",
            expected=schema.group(2),
        )
    # Model-level checks mention the field they object to: `approvers` only applies to ...
    mapping = _get(data, path)
    named = re.search(r"`([A-Za-z_]+)`", text)
    if isinstance(mapping, dict) and named and named.group(1) in mapping:
        target = (*path, named.group(1))
        return Issue(source_map.order(target), target, text, at_key=True)
    message, sep, expected = text.partition(": expected ")
    return Issue(source_map.order(path), path, message, expected=expected if sep else None)


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
