"""Rego policies, evaluated in process by `regopy` (the Python binding of rego-cpp).

Contract (documented in docs/policy-format.md): a ``.rego`` file is one policy, named after its
``package``. The policy decides with one of

* ``decision``: an object ``{"effect": "allow"|"deny"|"require_approval"|"warn"|"log",
  "reason": str, "approvers": [str], "rule": str}`` (only ``effect`` is required; ``rule``
  names the deciding rule in the audit trail, default ``decision``); or
* a boolean pair ``allow`` / ``deny``: ``deny`` true denies, else ``allow`` true allows.

The request is ``input``. The module is parsed and compiled once, into a bundle with its
entrypoints; each call sets ``input`` and runs the entrypoint. Fail closed: an undefined
``decision`` (no ``default``), an undefined ``allow``, a result outside the contract, or any
engine error (built-in errors are raised, not turned into undefined) is a deny with the reason
in ``Decision.errors``. One interpreter per policy, used under a lock: rego-cpp interpreters are
not shared between threads.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from agent_os._engine_part import deny, line_column, missing_engine, read_source, source_hash
from agt_core import EFFECT_SEVERITY, Decision, MatchedRule, PolicyError

__all__ = ["RegoPolicy", "load_rego"]

_PACKAGE = re.compile(r"^[ \t]*package[ \t]+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)", re.M)
_ERROR = re.compile(r"\(error \d+:([^|]*)\|(\d+)\|\d+")
_HELP = (
    'define the decision rule, e.g. `default decision := {"effect": "deny", "reason": "not allowed"}` '
    'and `decision := {"effect": "allow"} if input.action.type == "read"` (or boolean `allow`/`deny` rules)'
)
_PROBE = {
    "action": {"type": "", "tool": ""},
    "args": {},
    "agent": {"id": ""},
    "context": {},
    "stage": "pre_tool",
}


def _head(name: str) -> re.Pattern[str]:
    # A rule head at the start of a line: `decision :=`, `default decision :=`, `allow if`, ...
    return re.compile(rf"^[ \t]*(?:default[ \t]+)?{name}\b(?![ \t]*\()", re.M)


def load_rego(path: str) -> RegoPolicy:
    """Compile one ``.rego`` file (see the module docstring).

    Raises:
        PolicyError: With file and line for a syntax or compile error, a module without the
            decision rule, a decision that is not an object, or a missing ``regopy``.
    """
    text = read_source(path)
    try:
        import regopy  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:
        raise missing_engine("regopy", "rego", path) from exc
    match = _PACKAGE.search(text)
    if match is None:
        raise PolicyError(
            "rego module has no `package` declaration", file=path, line=1, help="start it with `package agt`"
        )
    package = match.group(1)
    if _head("decision").search(text):
        rules: tuple[str, ...] = ("decision",)
    else:
        rules = tuple(name for name in ("deny", "allow") if _head(name).search(text))
    if not rules:
        raise PolicyError(
            f"rego module `package {package}` defines no `decision` rule (nor `allow`/`deny`)",
            file=path,
            line=text.count("\n", 0, match.start()) + 1,
            help=_HELP,
        )
    interpreter = regopy.Interpreter()
    interpreter.log_level = regopy.LogLevel.NONE
    interpreter.strict_built_in_errors = True
    base = package.replace(".", "/")
    try:
        interpreter.add_module(path, text)
        bundle = interpreter.build(None, [f"{base}/{rule}" for rule in rules])
    except regopy.RegoError as exc:
        raise _load_error(str(exc), path, text) from exc
    if not bundle.ok():
        raise PolicyError("rego module failed to compile", file=path, help="check it with `opa check`")
    policy = RegoPolicy(
        name=package,
        content_hash=source_hash("rego", text),
        interpreter=interpreter,
        bundle=bundle,
        entrypoints={rule: f"{base}/{rule}" for rule in rules},
        make_input=regopy.Input,
    )
    problem = policy.contract_problem(_PROBE)
    if problem is not None:
        line = next((text.count("\n", 0, m.start()) + 1 for m in _head(rules[0]).finditer(text)), None)
        raise PolicyError(problem, file=path, line=line, help=_HELP)
    return policy


def _load_error(raw: str, path: str, text: str) -> PolicyError:
    found = _ERROR.search(raw)
    message = _errormsg(raw) or "rego module does not compile"
    if found is None:
        return PolicyError(f"rego: {message}", file=path, help="fix the module (try `opa check`)")
    line, column = line_column(text, int(found.group(2)))
    return PolicyError(
        f"rego: {message}", file=path, line=line, column=column, help="fix the Rego at that position"
    )


def _errormsg(raw: str) -> str | None:
    # rego-cpp prints `(errormsg <length>:<text>)`: read exactly <length> characters.
    found = re.search(r"\(errormsg (\d+):", raw)
    if found is None:
        return None
    start = found.end()
    return raw[start : start + int(found.group(1))]


class RegoPolicy:
    """One compiled Rego policy; `evaluate` never raises (fail closed)."""

    evaluator = "rego"
    """What its decisions name as their evaluator."""

    def __init__(
        self,
        *,
        name: str,
        content_hash: str,
        interpreter: Any,
        bundle: Any,
        entrypoints: Mapping[str, str],
        make_input: Callable[[Any], Any],
    ) -> None:
        self._name = name
        self._hash = content_hash
        self._interpreter = interpreter
        self._bundle = bundle
        self._entrypoints = dict(entrypoints)
        self._make_input = make_input
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The policy name: the module's ``package``."""
        return self._name

    @property
    def content_hash(self) -> str:
        """``sha256:<hex>`` of the module source."""
        return self._hash

    def _query(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Rule name -> value (absent when undefined). Raises on an engine error."""
        # regopy.Input builds the engine's value directly: 2-3x cheaper than parsing JSON text.
        # Requests are plain JSON (the kernel's request builder refuses NaN and infinities); a
        # value Input cannot convert raises, which denies.
        value = self._make_input(dict(request))
        values: dict[str, Any] = {}
        with self._lock:
            self._interpreter.set_input(value)
            for rule, entrypoint in self._entrypoints.items():
                output = self._interpreter.query_bundle_entrypoint(self._bundle, entrypoint)
                if not output.ok():
                    raise RuntimeError(
                        f"rego evaluation error in `{rule}`: {_errormsg(str(output)) or output}"
                    )
                expressions = output.results[0].expressions if output.results else []
                if expressions:
                    values[rule] = expressions[0]
        return values

    def contract_problem(self, request: Mapping[str, Any]) -> str | None:
        """Why the result for `request` breaks the contract (None when it keeps it)."""
        try:
            values = self._query(request)
        except Exception as exc:
            return str(exc)
        for rule, value in values.items():
            problem = _check(rule, value)
            if problem is not None:
                return problem
        return None

    def evaluate(self, request: Mapping[str, Any]) -> Decision:
        """Decide `request`; an engine error or a result outside the contract denies."""
        # Stamped once here rather than at every return below: each one is this engine's decision.
        return self._decide(request).model_copy(update={"evaluator": self.evaluator})

    def _decide(self, request: Mapping[str, Any]) -> Decision:
        try:
            values = self._query(request)
        except Exception as exc:
            return deny(policy=self._name, policy_hash=self._hash, message=f"{type(exc).__name__}: {exc}")
        for rule, value in values.items():
            problem = _check(rule, value)
            if problem is not None:
                return deny(policy=self._name, policy_hash=self._hash, rule=rule, message=problem)
        if "decision" in self._entrypoints:
            if "decision" not in values:
                return deny(
                    policy=self._name,
                    policy_hash=self._hash,
                    message="rego `decision` is undefined for this request (fail closed)",
                )
            return self._decided(values["decision"])
        if values.get("deny") is True:
            return self._made("deny", "deny", "rego rule `deny` holds")
        if values.get("allow") is True:
            return self._made("allow", "allow", "")
        return Decision(
            effect="deny",
            allowed=False,
            policy=self._name,
            policy_hash=self._hash,
            message="no rego `allow` rule held",
        )

    def _decided(self, value: Mapping[str, Any]) -> Decision:
        effect = value["effect"]
        return self._made(
            effect,
            value.get("rule", "decision"),
            value.get("reason", ""),
            tuple(value.get("approvers", ())),
        )

    def _made(self, effect: str, rule: str, message: str, approvers: tuple[str, ...] = ()) -> Decision:
        return Decision(
            effect=effect,
            allowed=effect in ("allow", "warn", "log"),
            rule=rule,
            policy=self._name,
            policy_hash=self._hash,
            message=message,
            matched=(MatchedRule(policy=self._name, rule=rule, action=effect),),
            approvers=approvers,
        )


def _check(rule: str, value: Any) -> str | None:
    if rule != "decision":
        if not isinstance(value, bool):
            return f"rego rule `{rule}` must be true or false, got {json.dumps(value)[:80]}"
        return None
    if not isinstance(value, dict):
        return f"rego `decision` must be an object with an `effect`, got {json.dumps(value)[:80]}"
    unknown = sorted(set(value) - {"effect", "reason", "approvers", "rule"})
    if unknown:
        return f"rego `decision` has unknown keys {unknown}: use effect, reason, approvers, rule"
    if value.get("effect") not in EFFECT_SEVERITY:
        return f"rego `decision.effect` must be one of {sorted(EFFECT_SEVERITY)}, got {json.dumps(value.get('effect'))}"
    if not isinstance(value.get("reason", ""), str) or not isinstance(value.get("rule", ""), str):
        return "rego `decision.reason` and `decision.rule` must be strings"
    if not value.get("rule", "x"):
        return "rego `decision.rule` must not be empty"
    approvers = value.get("approvers", [])
    if not isinstance(approvers, list) or not all(isinstance(a, str) for a in approvers):
        return "rego `decision.approvers` must be a list of strings"
    return None
