"""The policy document model: ``apiVersion: governance.toolkit/v1``.

These models describe the *shape* of a policy. Loading (YAML with line and column, ``extends``,
directories) and condition checking live in agent-os, which owns the policy engine.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "API_VERSION",
    "CONFLICT_STRATEGIES",
    "REDACTION_DETECTORS",
    "STAGES",
    "ConflictStrategy",
    "PolicyDocument",
    "Redaction",
    "RedactionDetector",
    "Rule",
    "RuleAction",
    "Stage",
    "parse_limit",
]

API_VERSION = "governance.toolkit/v1"

RuleAction = Literal["allow", "deny", "require_approval", "warn", "log"]
"""What a matched rule does. allow, warn and log let the action through; deny and require_approval hold it."""

_LIMIT_RE = re.compile(r"^([1-9][0-9]{0,8})/(second|minute|hour|day)$")
_PERIOD_SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
_FIELD_TYPES = frozenset({"string", "int", "double", "number", "bool", "list", "map", "null", "any"})


Stage = Literal["pre_input", "pre_tool", "post_tool", "pre_output"]
"""Where in an agent's turn a rule applies."""

STAGES: tuple[Stage, ...] = ("pre_input", "pre_tool", "post_tool", "pre_output")

ConflictStrategy = Literal["deny_overrides", "allow_overrides", "priority_first_match", "most_specific_wins"]
"""How one policy resolves several matching rules into one decision."""

CONFLICT_STRATEGIES: tuple[ConflictStrategy, ...] = (
    "deny_overrides",
    "allow_overrides",
    "priority_first_match",
    "most_specific_wins",
)


def parse_limit(text: str) -> tuple[int, float]:
    """Parse a rate limit such as ``"10/minute"`` into (count, period in seconds).

    Raises:
        ValueError: if `text` is not ``N/second``, ``N/minute``, ``N/hour`` or ``N/day`` with N >= 1.
    """
    m = _LIMIT_RE.match(text)
    if not m:
        raise ValueError(
            f"invalid rate limit `{text}`: expected N/second, N/minute, N/hour or N/day with N >= 1"
        )
    return int(m.group(1)), _PERIOD_SECONDS[m.group(2)]


_LIMIT_EXPECTED = "N/second, N/minute, N/hour or N/day with N >= 1"


def _policy_error(
    kind: str,
    reason: str,
    *,
    field: str | None = None,
    path: tuple[str, ...] = (),
    expected: str | None = None,
) -> PydanticCustomError:
    """A validation error whose context says what it is about, so loaders never parse its text.

    ``ctx``: ``reason`` (the message without the expectation), ``field`` (the key of the validated
    mapping the error is about) or ``path`` (keys below the validated value), and ``expected``.
    """
    context: dict[str, Any] = {"reason": reason}
    if field is not None:
        context["field"] = field
    if path:
        context["path"] = list(path)
    if expected is not None:
        context["expected"] = expected
    return PydanticCustomError(kind, "{reason}: expected {expected}" if expected else "{reason}", context)


def _str_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Rule(BaseModel):
    """One rule of a policy."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: Annotated[str, Field(pattern=_NAME_RE, max_length=128)]
    description: str = ""
    condition: Annotated[str, Field(min_length=1)]
    action: RuleAction
    message: str = ""
    priority: Annotated[int, Field(ge=-1_000_000_000, le=1_000_000_000)] = 0
    # Tuples, not lists: a frozen model must not be editable through its containers.
    approvers: Annotated[tuple[str, ...], Field(strict=False)] = ()
    limit: str | None = None
    stage: Stage = "pre_tool"
    enabled: bool = True

    @field_validator("limit")
    @classmethod
    def _check_limit(cls, value: str | None) -> str | None:
        if value is not None and not _LIMIT_RE.match(value):
            raise _policy_error("rate_limit", f"invalid rate limit `{value}`", expected=_LIMIT_EXPECTED)
        return value

    @model_validator(mode="after")
    def _check_action_fields(self) -> Rule:
        if self.approvers and self.action != "require_approval":
            raise _policy_error(
                "policy_field",
                "`approvers` only applies to rules whose action is require_approval",
                field="approvers",
            )
        if self.limit is not None and self.action == "deny":
            raise _policy_error(
                "policy_field",
                "`limit` has no effect on a deny rule: a deny rule already refuses every call",
                field="limit",
            )
        return self


RedactionDetector = Literal[
    "openai_api_key",
    "anthropic_api_key",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "stripe_key",
    "google_api_key",
    "private_key",
    "jwt",
    "url_password",
    "secret_field",
    "credit_card",
    "email",
    "phone_number",
]
"""What a redaction detector finds; agent-os implements them (`agent_os.redaction`)."""

REDACTION_DETECTORS: tuple[RedactionDetector, ...] = get_args(RedactionDetector)


class Redaction(BaseModel):
    """A policy's ``redaction:`` block: which secrets and personal data are kept out of the audit trail.

    The policy always judges the request as made; the audit record stores it redacted.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    detectors: Annotated[tuple[RedactionDetector, ...], Field(strict=False, min_length=1)] = (
        REDACTION_DETECTORS
    )
    fields: Annotated[tuple[str, ...], Field(strict=False, min_length=1)] = ("args", "context", "result")
    replacement: Literal["label", "hash"] = "label"
    results: bool = False

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            head = path.split(".", 1)[0]
            if head not in {"args", "agent", "context", "result"} or "" in path.split("."):
                raise _policy_error(
                    "policy_field",
                    f"redaction field `{path}` is not a part of the request",
                    field="fields",
                    expected="`args`, `agent`, `context` or `result`, optionally followed by `.<key>`s",
                )
        return value


class PolicyDocument(BaseModel):
    """A policy document as written by its author (``extends`` not yet resolved)."""

    # serialize_by_alias: model_dump() writes `apiVersion`, so a dump validates back into the model.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, serialize_by_alias=True)

    api_version: Literal["governance.toolkit/v1"] = Field(alias="apiVersion")
    name: Annotated[str, Field(pattern=_NAME_RE, max_length=128)]
    description: str = ""
    default_action: Literal["allow", "deny"] = "deny"
    conflict_strategy: ConflictStrategy = "deny_overrides"
    agents: Annotated[tuple[str, ...] | None, Field(strict=False)] = None
    extends: Annotated[
        tuple[str, ...],
        BeforeValidator(_str_or_list, json_schema_input_type=str | list[str]),
        Field(strict=False),
    ] = ()
    request_schema: dict[str, Any] | None = None
    rules: Annotated[tuple[Rule, ...], Field(strict=False)] = ()
    # Left out of dumps (and so of the policy hash) when absent: policies without it hash as before.
    redaction: Redaction | None = Field(default=None, exclude_if=lambda value: value is None)

    @field_validator("agents")
    @classmethod
    def _check_agents(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return value
        if not value:
            raise ValueError(
                "`agents: []` applies the policy to no agent; omit `agents` to apply it to every agent"
            )
        for pattern in value:
            if not pattern:
                raise ValueError("an agent pattern is empty")
            # Only `*` and `?` are portable across every SDK's glob matcher; brackets and
            # backslashes mean different things in different languages.
            bad = next((c for c in pattern if c in "[]\\"), None)
            if bad is not None:
                raise ValueError(
                    f"agent pattern `{pattern}` uses `{bad}`; patterns support only `*` and `?` wildcards"
                )
        return value

    @field_validator("request_schema")
    @classmethod
    def _check_request_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _check_schema_node(value)
        return value

    @model_validator(mode="after")
    def _unique_rule_names(self) -> PolicyDocument:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise _policy_error(
                    "duplicate_rule_name", f"duplicate rule name `{rule.name}`", field="rules"
                )
            seen.add(rule.name)
        return self


def _check_schema_node(node: dict[str, Any], path: tuple[str, ...] = ()) -> None:
    for key, sub in node.items():
        if isinstance(sub, dict):
            _check_schema_node(sub, (*path, key))
        elif not (isinstance(sub, str) and sub in _FIELD_TYPES):
            raise _policy_error(
                "request_schema_type",
                f"invalid request_schema type `{sub}` at `request_schema.{'.'.join((*path, key))}`",
                path=(*path, key),
                expected=f"a nested mapping or one of {', '.join(sorted(_FIELD_TYPES))}",
            )
