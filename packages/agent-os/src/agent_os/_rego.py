"""Rego policies, evaluated in process by regorus (through agt-evaluator) or regopy (rego-cpp).

Contract (documented in docs/policy-format.md): a ``.rego`` file is one policy, named after its
``package``. The policy decides with one of

* ``decision``: an object ``{"effect": "allow"|"deny"|"require_approval"|"warn"|"log",
  "reason": str, "approvers": [str], "rule": str}`` (only ``effect`` is required; ``rule``
  names the deciding rule in the audit trail, default ``decision``); or
* a boolean pair ``allow`` / ``deny``: ``deny`` true denies, else ``allow`` true allows.

The request is ``input``. Data documents sit beside the module as ``<stem>.data.json`` or
``<stem>.data.yaml`` and are merged under ``data``; they are part of the policy's hash. The
module is parsed and compiled once; each call sets ``input`` and evaluates the decision rules.

Engines: ``regorus`` (Microsoft's Rego interpreter in Rust, compiled into agt-evaluator's native
module) when agt-evaluator is installed, else ``regopy`` (the Python binding of rego-cpp, the
``agent-os[rego]`` extra). ``AGT_REGO_ENGINE=regorus|regopy`` picks one; naming an engine that is
not installed is a load error, never a silent switch. Each evaluation is time-limited under
regorus (``AGT_REGO_TIME_LIMIT_MS``, default 250); regopy offers no way to stop an evaluation,
so it has no limit (docs/status.md says so).

Fail closed: an undefined ``decision`` (no ``default``), an undefined ``allow``, a result outside
the contract, the time limit, or any engine error (built-in errors are raised, not turned into
undefined) is a deny with the reason in ``Decision.errors``. One engine per policy, used under a
lock: neither engine's state is shared between threads.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from agent_os._engine_part import (
    REGO_DATA_SUFFIXES,
    deny,
    line_column,
    missing_engine,
    read_source,
    source_hash,
)
from agt_core import EFFECT_SEVERITY, Decision, MatchedRule, PolicyError

__all__ = ["RegoPolicy", "load_rego", "rego_engine"]

_PACKAGE = re.compile(r"^[ \t]*package[ \t]+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)", re.M)
_ERROR = re.compile(r"\(error \d+:([^|]*)\|(\d+)\|\d+")
_REGORUS_AT = re.compile(r"--> (.*?):(\d+):(\d+)")
_ENGINES = ("regorus", "regopy")
DEFAULT_TIME_LIMIT_MS = 250
"""Per-evaluation time limit under regorus unless ``AGT_REGO_TIME_LIMIT_MS`` says otherwise."""
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


def rego_engine() -> str:
    """The Rego engine `load_rego` uses: ``AGT_REGO_ENGINE`` if set, else regorus when installed, else regopy.

    Raises:
        PolicyError: If ``AGT_REGO_ENGINE`` names something else.
    """
    chosen = os.environ.get("AGT_REGO_ENGINE", "").strip().lower()
    if chosen and chosen not in _ENGINES:
        raise PolicyError(
            f"AGT_REGO_ENGINE={chosen!r} is not a Rego engine",
            help="set it to `regorus` or `regopy`, or unset it",
        )
    if chosen:
        return chosen
    return "regorus" if _regorus_class() is not None else "regopy"


def _regorus_class() -> Any:
    """The engine class of regorus, registered by agt-evaluator under the ``agt.rego_engines`` entry points."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="agt.rego_engines", name="regorus"):
        try:
            return entry.load()
        except (ImportError, AttributeError):
            return None  # an agt-evaluator built without Rego support: regopy is used
    return None


def _time_limit_ms() -> int:
    raw = os.environ.get("AGT_REGO_TIME_LIMIT_MS", "")
    if not raw:
        return DEFAULT_TIME_LIMIT_MS
    if not raw.isdigit() or int(raw) == 0:
        raise PolicyError(
            f"AGT_REGO_TIME_LIMIT_MS={raw!r} is not a positive whole number of milliseconds",
            help="e.g. AGT_REGO_TIME_LIMIT_MS=250",
        )
    return int(raw)


def data_documents(path: str) -> list[tuple[str, str]]:
    """The data documents beside a module (``<stem>.data.json|yaml|yml``): (file, JSON text) pairs.

    Raises:
        PolicyError: With file and line for a document that does not parse or is not an object.
    """
    stem = path[: -len(".rego")] if path.lower().endswith(".rego") else path
    found: list[tuple[str, str]] = []
    for suffix in REGO_DATA_SUFFIXES:
        candidate = stem + suffix
        if not os.path.isfile(candidate):
            continue
        text = read_source(candidate)
        try:
            if suffix == ".data.json":
                value = json.loads(text)
            else:
                import yaml

                value = yaml.safe_load(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(
                f"rego data document: {exc.msg}", file=candidate, line=exc.lineno, column=exc.colno
            ) from exc
        except Exception as exc:  # yaml.YAMLError: positions in its `problem_mark`
            mark = getattr(exc, "problem_mark", None)
            raise PolicyError(
                f"rego data document: {getattr(exc, 'problem', None) or exc}",
                file=candidate,
                line=mark.line + 1 if mark is not None else None,
                column=mark.column + 1 if mark is not None else None,
            ) from exc
        if not isinstance(value, dict):
            raise PolicyError(
                "rego data document must be an object (a mapping) at the top",
                file=candidate,
                line=1,
                help='its keys are merged under `data`, e.g. `{"allowed_tools": ["read"]}`',
            )
        found.append(
            (candidate, json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False))
        )
    return found


def load_rego(path: str) -> RegoPolicy:
    """Compile one ``.rego`` file and its data documents (see the module docstring).

    Raises:
        PolicyError: With file and line for a syntax or compile error, a module without the
            decision rule, a decision that is not an object, a bad data document, or a missing
            engine.
    """
    text = read_source(path)
    engine = rego_engine()
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
    data = data_documents(path)
    query = (
        _regorus_query(path, text, package, rules, data)
        if engine == "regorus"
        else _regopy_query(path, text, package, rules, data)
    )
    policy = RegoPolicy(
        name=package,
        content_hash=source_hash("rego", text, *(document for _, document in data)),
        query=query,
        engine=engine,
        rules=rules,
    )
    problem = policy.contract_problem(_PROBE)
    if problem is not None and _REGORUS_AT.search(problem):
        # The engine failed on the probe at a position it names (an unknown built-in, a runtime
        # error): point there rather than at the decision rule's head.
        raise _regorus_load_error(problem, path, data)
    if problem is not None:
        line = next((text.count("\n", 0, m.start()) + 1 for m in _head(rules[0]).finditer(text)), None)
        raise PolicyError(problem, file=path, line=line, help=_HELP)
    return policy


class _Query(Protocol):
    def __call__(self, request: Mapping[str, Any]) -> dict[str, Any]: ...


def _regorus_query(
    path: str, text: str, package: str, rules: tuple[str, ...], data: list[tuple[str, str]]
) -> _Query:
    engine_class = _regorus_class()
    if engine_class is None:
        raise PolicyError(
            "AGT_REGO_ENGINE=regorus needs agt-evaluator (its native module carries regorus), which is not installed",
            file=path,
            help="pip install agt-evaluator, or set AGT_REGO_ENGINE=regopy with agent-os[rego]",
        )
    try:
        engine = engine_class([(path, text)], [document for _, document in data], _time_limit_ms())
    except ValueError as exc:
        raise _regorus_load_error(str(exc), path, data) from exc
    paths = [f"data.{package}.{rule}" for rule in rules]

    def query(request: Mapping[str, Any]) -> dict[str, Any]:
        # Requests are plain JSON (the kernel's request builder refuses NaN and infinities).
        input_json = json.dumps(request, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        try:
            values = engine.evaluate(input_json, paths)
        except TimeoutError as exc:
            raise TimeoutError(
                f"rego evaluation exceeded its time limit ({_time_limit_ms()} ms): {exc}"
            ) from exc
        except RuntimeError as exc:
            raise RuntimeError(f"rego evaluation error: {exc}") from exc
        return {
            rule: json.loads(value) for rule, value in zip(rules, values, strict=True) if value is not None
        }

    return query


def _regorus_load_error(raw: str, path: str, data: list[tuple[str, str]]) -> PolicyError:
    found = _REGORUS_AT.search(raw)
    message = raw.strip().splitlines()[-1] if raw.strip() else "rego module does not compile"
    message = message.removeprefix("error: ")
    if found is None:
        where = data[0][0] if data and "data" in raw.lower() and "-->" not in raw else path
        return PolicyError(f"rego: {message}", file=where, help="fix the module (try `opa check`)")
    help_text = "fix the Rego at that position"
    if "could not find function" in message:
        help_text = (
            "regorus here is built without some built-ins (time.*, urlquery.*, http.send, yaml.*, uuid.*; "
            "docs/policy-format.md): avoid it, or evaluate with AGT_REGO_ENGINE=regopy"
        )
    return PolicyError(
        f"rego: {message}",
        file=found.group(1),
        line=int(found.group(2)),
        column=int(found.group(3)),
        help=help_text,
    )


def _regopy_query(
    path: str, text: str, package: str, rules: tuple[str, ...], data: list[tuple[str, str]]
) -> _Query:
    try:
        import regopy  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:
        raise missing_engine("regopy", "rego", path) from exc
    interpreter = regopy.Interpreter()
    interpreter.log_level = regopy.LogLevel.NONE
    interpreter.strict_built_in_errors = True
    base = package.replace(".", "/")
    try:
        interpreter.add_module(path, text)
        for _, document in data:
            interpreter.add_data_json(document)
        bundle = interpreter.build(None, [f"{base}/{rule}" for rule in rules])
    except regopy.RegoError as exc:
        raise _load_error(str(exc), path, text) from exc
    if not bundle.ok():
        raise PolicyError("rego module failed to compile", file=path, help="check it with `opa check`")
    entrypoints = {rule: f"{base}/{rule}" for rule in rules}
    make_input: Callable[[Any], Any] = regopy.Input
    lock = threading.Lock()

    def query(request: Mapping[str, Any]) -> dict[str, Any]:
        # regopy.Input builds the engine's value directly: 2-3x cheaper than parsing JSON text.
        # A value Input cannot convert raises, which denies.
        value = make_input(dict(request))
        values: dict[str, Any] = {}
        with lock:
            interpreter.set_input(value)
            for rule, entrypoint in entrypoints.items():
                output = interpreter.query_bundle_entrypoint(bundle, entrypoint)
                if not output.ok():
                    raise RuntimeError(
                        f"rego evaluation error in `{rule}`: {_errormsg(str(output)) or output}"
                    )
                expressions = output.results[0].expressions if output.results else []
                if expressions:
                    values[rule] = expressions[0]
        return values

    return query


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
        self, *, name: str, content_hash: str, query: _Query, engine: str, rules: tuple[str, ...]
    ) -> None:
        self._name = name
        self._rules = rules
        self._hash = content_hash
        self._query = query
        self._engine = engine

    @property
    def name(self) -> str:
        """The policy name: the module's ``package``."""
        return self._name

    @property
    def content_hash(self) -> str:
        """``sha256:<hex>`` of the module source and its data documents."""
        return self._hash

    @property
    def engine(self) -> str:
        """The Rego engine evaluating it: ``regorus`` or ``regopy``."""
        return self._engine

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
        if "decision" in self._rules:
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
