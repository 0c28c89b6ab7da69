"""The policy document model: ``apiVersion: governance.toolkit/v1``.

These models describe the *shape* of a policy. Loading (YAML with line and column, ``extends``,
directories) and condition checking live in agent-os, which owns the policy engine.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "API_VERSION",
    "CONFLICT_STRATEGIES",
    "STAGES",
    "ConflictStrategy",
    "PolicyDocument",
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
        if value is not None:
            parse_limit(value)
        return value

    @model_validator(mode="after")
    def _check_action_fields(self) -> Rule:
        if self.approvers and self.action != "require_approval":
            raise ValueError("`approvers` only applies to rules whose action is require_approval")
        if self.limit is not None and self.action == "deny":
            raise ValueError("`limit` has no effect on a deny rule: a deny rule already refuses every call")
        return self


class PolicyDocument(BaseModel):
    """A policy document as written by its author (``extends`` not yet resolved)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

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
            _check_schema_node(value, "request_schema")
        return value

    @model_validator(mode="after")
    def _unique_rule_names(self) -> PolicyDocument:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"duplicate rule name `{rule.name}`")
            seen.add(rule.name)
        return self


def _check_schema_node(node: dict[str, Any], where: str) -> None:
    for key, sub in node.items():
        if isinstance(sub, dict):
            _check_schema_node(sub, f"{where}.{key}")
        elif not (isinstance(sub, str) and sub in _FIELD_TYPES):
            raise ValueError(
                f"{where}.{key}: expected a nested mapping or one of {', '.join(sorted(_FIELD_TYPES))}, got `{sub}`"
            )
