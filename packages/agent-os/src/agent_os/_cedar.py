"""Cedar policies, evaluated in process by `cedarpy` (the binding of the Cedar Rust engine).

A ``.cedar`` file is one policy, named after the file (``payments.cedar`` -> ``payments``),
parsed once into a Cedar policy set. When ``<name>.cedarschema`` lies beside it, the policies
are validated against that schema at load. Each request maps to Cedar as:

* principal ``Agent::"<agent.id>"``, an entity whose attributes are the rest of ``agent``
  (``trust``, ``ring``, ``did`` and whatever enrichers added);
* action ``Action::"<action.type>"``; resource ``Tool::"<action.tool>"``;
* context ``{"args": <args>, "context": <context>}``.

JSON values become Cedar values: numbers that are integers are ``Long``, other numbers
``decimal`` (at most 4 decimal places, else the call is denied), lists are sets, objects
records, and ``null`` leaves the attribute out (``has`` is false). An object key Cedar reads as
an escape (``__entity``, ``__extn``, ``__expr``) is refused: argument data must not turn into an
entity reference.

Effects: ``forbid`` beats ``permit``; no permit denies. Annotations refine them:
``@id("name")`` names the rule in the decision; ``@reason("...")`` is the message;
``@effect("require_approval")`` (on a forbid) asks for approval instead of denying, with
``@approvers("a,b")``; ``@effect("warn")`` or ``@effect("log")`` (on a permit) annotate an
allowed call. Fail closed: Cedar skips a policy whose evaluation errors; here any evaluation
error denies the call, with the error in ``Decision.errors``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from agent_os._engine_part import deny, missing_engine, read_source, source_hash
from agt_core import EFFECT_SEVERITY, Decision, MatchedRule, PolicyError

__all__ = ["CedarPolicy", "load_cedar"]

_PERMIT_EFFECTS = ("allow", "warn", "log")
_FORBID_EFFECTS = ("deny", "require_approval")
_ESCAPES = frozenset({"__entity", "__extn", "__expr"})
_LONG = (-(2**63), 2**63 - 1)


class _Rule:
    __slots__ = ("approvers", "effect", "index", "name", "reason")

    def __init__(self, index: int, name: str, effect: str, reason: str, approvers: tuple[str, ...]) -> None:
        self.index = index
        self.name = name
        self.effect = effect
        self.reason = reason
        self.approvers = approvers


def load_cedar(path: str) -> CedarPolicy:
    """Parse (and, with a schema beside it, validate) one ``.cedar`` file.

    Raises:
        PolicyError: With file and the line of the failing policy statement for a syntax or
            validation error, a bad annotation, or a missing ``cedarpy``.
    """
    text = read_source(path)
    try:
        import cedarpy
    except ImportError as exc:
        raise missing_engine("cedarpy", "cedar", path) from exc
    starts = statement_lines(text)
    try:
        policy_set = cedarpy.PolicySet.from_str(text)
        est = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        raise _syntax_error(cedarpy, text, starts, path, exc) from exc
    if est.get("templates"):
        raise PolicyError(
            "cedar templates are not supported in policy files", file=path, help="write static policies"
        )
    rules = _rules(est.get("staticPolicies", {}), starts, path)
    schema_path = os.path.splitext(path)[0] + ".cedarschema"
    extra = ""
    if os.path.exists(schema_path):
        extra = read_source(schema_path)
        _validate(cedarpy, text, extra, rules, starts, path)
    name = os.path.splitext(os.path.basename(path))[0]
    return CedarPolicy(
        name=name, content_hash=source_hash("cedar", text, extra), policy_set=policy_set, rules=rules
    )


def statement_lines(text: str) -> list[int]:
    """1-based line where each top-level statement (ending in ``;``) starts, skipping comments and strings."""
    starts: list[int] = []
    line, i, begun = 1, 0, False
    while i < len(text):
        char = text[i]
        if char == "\n":
            line += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n":
                    line += 1
                i += 1
        elif char == ";":
            begun = False
        elif not char.isspace() and not begun:
            starts.append(line)
            begun = True
        i += 1
    return starts


def _syntax_error(cedarpy: Any, text: str, starts: list[int], path: str, exc: ValueError) -> PolicyError:
    # cedarpy reports no position: find the first statement that fails on its own.
    line: int | None = None
    pieces = _statements(text)
    for index, piece in enumerate(pieces):
        try:
            cedarpy.PolicySet.from_str(piece)
        except ValueError:
            line = starts[index] if index < len(starts) else None
            break
    return PolicyError(
        f"cedar: {exc}",
        file=path,
        line=line,
        help="write `permit(principal, action, resource) when { ... };` or `forbid(...)`, each ending in `;`",
    )


def _statements(text: str) -> list[str]:
    pieces, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        current.append(char)
        if char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                current.append(text[i])
                if text[i] == "\\" and i + 1 < len(text):
                    current.append(text[i + 1])
                    i += 1
                i += 1
            if i < len(text):
                current.append(text[i])
        elif char == ";":
            pieces.append("".join(current))
            current = []
        i += 1
    if "".join(current).strip():
        pieces.append("".join(current))
    return [piece for piece in pieces if piece.strip()]


def _rules(static: Mapping[str, Any], starts: list[int], path: str) -> dict[str, _Rule]:
    rules: dict[str, _Rule] = {}
    for index, (policy_id, policy) in enumerate(static.items()):
        notes = policy.get("annotations", {}) or {}
        kind = policy.get("effect")
        allowed = _PERMIT_EFFECTS if kind == "permit" else _FORBID_EFFECTS
        effect = notes.get("effect") or allowed[0]
        line = starts[index] if index < len(starts) else None
        if effect not in allowed:
            raise PolicyError(
                f'cedar {kind} policy has @effect("{effect}")',
                file=path,
                line=line,
                expected=" or ".join(f'@effect("{e}")' for e in allowed),
                help="forbid may ask for approval; permit may warn or log; severity never moves across them",
            )
        approvers = tuple(a.strip() for a in (notes.get("approvers") or "").split(",") if a.strip())
        rules[policy_id] = _Rule(
            index, notes.get("id") or policy_id, effect, notes.get("reason") or "", approvers
        )
    return rules


def _validate(
    cedarpy: Any, text: str, schema: str, rules: Mapping[str, _Rule], starts: list[int], path: str
) -> None:
    try:
        result = cedarpy.validate_policies(text, schema)
    except ValueError as exc:
        raise PolicyError(f"cedar schema: {exc}", file=path[: -len(".cedar")] + ".cedarschema") from exc
    if result.validation_passed:
        return
    first = result.errors[0]
    rule = rules.get(first.policy_id)
    line = starts[rule.index] if rule is not None and rule.index < len(starts) else None
    more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
    raise PolicyError(
        f"cedar policy does not match its schema: {first.error}{more}",
        file=path,
        line=line,
        help='use the entity types and actions the .cedarschema declares (Agent, Tool, Action::"<type>")',
    )


def _cedar_value(value: Any) -> Any:
    """JSON data to Cedar JSON values; raises ValueError for what Cedar cannot hold faithfully."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not _LONG[0] <= value <= _LONG[1]:
            raise ValueError(f"integer {value} is outside Cedar's Long range")
        return value
    if isinstance(value, float):
        if value.is_integer() and _LONG[0] <= value <= _LONG[1]:
            return int(value)
        if round(value, 4) != value or abs(value) >= 922337203685477:
            raise ValueError(f"number {value!r} is not a Cedar decimal (at most 4 decimal places)")
        return {"__extn": {"fn": "decimal", "arg": f"{value:.4f}"}}
    if isinstance(value, (list, tuple)):
        return [_cedar_value(item) for item in value if item is not None]
    if isinstance(value, Mapping):
        escapes = _ESCAPES & set(value)
        if escapes:
            raise ValueError(f"object key `{sorted(escapes)[0]}` is a Cedar escape and is refused")
        return {str(k): _cedar_value(v) for k, v in value.items() if v is not None}
    raise ValueError(f"value of type `{type(value).__name__}` has no Cedar form")


class CedarPolicy:
    """One parsed Cedar policy file; `evaluate` never raises (fail closed)."""

    evaluator = "cedar"
    """What its decisions name as their evaluator."""

    def __init__(self, *, name: str, content_hash: str, policy_set: Any, rules: Mapping[str, _Rule]) -> None:
        self._name = name
        self._hash = content_hash
        self._policy_set = policy_set
        self._rules = dict(rules)

    @property
    def name(self) -> str:
        """The policy name: the file name without ``.cedar``."""
        return self._name

    @property
    def content_hash(self) -> str:
        """``sha256:<hex>`` of the policy source (and its schema, when there is one)."""
        return self._hash

    def evaluate(self, request: Mapping[str, Any]) -> Decision:
        """Decide `request`; an unmappable request or any Cedar error denies."""
        # Stamped once here rather than at every return below: each one is this engine's decision.
        return self._decide(request).model_copy(update={"evaluator": self.evaluator})

    def _decide(self, request: Mapping[str, Any]) -> Decision:
        try:
            import cedarpy

            agent = request.get("agent", {})
            action = request.get("action", {})
            principal = {"type": "Agent", "id": str(agent.get("id", ""))}
            attrs = _cedar_value({k: v for k, v in agent.items() if k != "id"})
            entities = json.dumps([{"uid": principal, "attrs": attrs, "parents": []}])
            cedar_request = {
                "principal": principal,
                "action": {"type": "Action", "id": str(action.get("type", ""))},
                "resource": {"type": "Tool", "id": str(action.get("tool", ""))},
                "context": _cedar_value(
                    {"args": request.get("args", {}), "context": request.get("context", {})}
                ),
            }
            result = cedarpy.is_authorized(cedar_request, self._policy_set, entities)
            decision = result.decision.value
            reasons = list(result.diagnostics.reasons)
            errors = list(result.diagnostics.errors)
        except Exception as exc:
            return deny(
                policy=self._name, policy_hash=self._hash, message=f"cedar: {type(exc).__name__}: {exc}"
            )
        if errors:
            return deny(
                policy=self._name,
                policy_hash=self._hash,
                message="cedar evaluation error: " + "; ".join(errors),
            )
        matched = [self._rules[r] for r in reasons if r in self._rules]
        if len(matched) != len(reasons) or decision not in ("Allow", "Deny"):
            return deny(
                policy=self._name, policy_hash=self._hash, message=f"cedar answered `{decision}` {reasons}"
            )
        if decision == "Deny" and not matched:
            return Decision(
                effect="deny",
                allowed=False,
                policy=self._name,
                policy_hash=self._hash,
                message="no cedar permit policy matched",
            )
        matched.sort(key=lambda rule: (-EFFECT_SEVERITY[rule.effect], rule.index))
        winner = matched[0]
        if (decision == "Allow") != (winner.effect in _PERMIT_EFFECTS):
            return deny(
                policy=self._name, policy_hash=self._hash, message=f"cedar answered `{decision}` {reasons}"
            )
        return Decision(
            effect=winner.effect,
            allowed=winner.effect in _PERMIT_EFFECTS,
            rule=winner.name,
            policy=self._name,
            policy_hash=self._hash,
            message=winner.reason,
            matched=tuple(
                MatchedRule(policy=self._name, rule=rule.name, action=rule.effect)
                for rule in sorted(matched, key=lambda rule: rule.index)
            ),
            approvers=winner.approvers,
        )
