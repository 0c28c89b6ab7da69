"""The policy evaluator vectors in conformance/policy/, run against agent_os.

Every file is checked against conformance/schema/policy-case.schema.json by the small JSON Schema
checker below (the vectors must not need the `jsonschema` package), then each case runs as one
test with id ``<file stem>::<case name>``:

* a decision case compiles its policies with ``agent_os.compile_policies``, builds one
  ``agent_os.Kernel`` with a ``RateLimiter`` on a fake clock, and decides each step's request with
  ``Kernel.decide`` (policy evaluation plus rate limits), comparing the keys its ``expect`` lists;
* a load-error case expects ``compile_policies`` to raise ``agt_core.PolicyError`` with the given
  ``path`` and message phrase.

The format is documented in conformance/README.md, section ``policy``.
"""

from __future__ import annotations

import copy
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
VECTORS = HERE / "policy"
SCHEMA_PATH = HERE / "schema" / "policy-case.schema.json"
FILES = sorted(VECTORS.glob("*.json"))
PERMISSIVE = frozenset({"allow", "warn", "log"})
RESTRICTIVE = frozenset({"deny", "require_approval"})


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key `{key}`")
        result[key] = value
    return result


def _load(path: Path) -> Any:
    """Read JSON, refusing duplicate keys (a dict would silently keep the last one)."""
    return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)


# -- a JSON Schema checker for the keywords the vector schema uses ---------------------------------

SUPPORTED_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$ref",
        "$defs",
        "title",
        "description",
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "uniqueItems",
        "minLength",
        "pattern",
        "minimum",
        "oneOf",
    }
)
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description"})


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not JSON data: {type(value).__name__}")


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported, got `{ref}`")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node  # type: ignore[no-any-return]


def schema_errors(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> list[str]:
    """Validate `value` against `schema`, returning every problem as ``"<json path>: <what>"``.

    Implements the keywords in SUPPORTED_KEYWORDS with their JSON Schema 2020-12 meaning and
    raises ValueError on any other keyword, so the schema can never silently outgrow the checker.
    """
    unknown = set(schema) - SUPPORTED_KEYWORDS
    if unknown:
        raise ValueError(f"schema keyword(s) {sorted(unknown)} are not supported by this checker")
    errors: list[str] = []
    if "$ref" in schema:
        errors += schema_errors(value, _resolve(schema["$ref"], root), root, where)
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        actual = _json_type(value)
        if actual not in allowed and not (actual == "integer" and "number" in allowed):
            errors.append(f"{where}: expected {' or '.join(allowed)}, got {actual}")
            return errors
    if "enum" in schema and not any(_json_equal(value, option) for option in schema["enum"]):
        errors.append(f"{where}: {json.dumps(value)} is not one of {json.dumps(schema['enum'])}")
    if "const" in schema and not _json_equal(value, schema["const"]):
        errors.append(f"{where}: expected {json.dumps(schema['const'])}")
    if "oneOf" in schema:
        results = [schema_errors(value, option, root, where) for option in schema["oneOf"]]
        passing = [r for r in results if not r]
        if len(passing) != 1:
            if not passing:
                # report the alternative that got furthest (fewest problems)
                errors += min(results, key=len)
            else:
                errors.append(f"{where}: matches {len(passing)} alternatives of oneOf, expected exactly one")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']} character(s)")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {json.dumps(value)} does not match {schema['pattern']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: less than {schema['minimum']}")
        if isinstance(value, float) and not math.isfinite(value):
            errors.append(f"{where}: not a finite number")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} item(s)")
        if schema.get("uniqueItems"):
            for i, item in enumerate(value):
                if any(_json_equal(item, earlier) for earlier in value[:i]):
                    errors.append(f"{where}[{i}]: duplicate item")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], root, f"{where}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(f"{where}: missing required key `{key}`")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], root, f"{where}.{key}")
            elif extra is False:
                errors.append(f"{where}: unknown key `{key}`")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, root, f"{where}.{key}")
    return errors


def _schema_keywords(node: Any, found: set[str]) -> None:
    """Collect every keyword used anywhere in a schema (skipping names under properties/$defs)."""
    if isinstance(node, list):
        for item in node:
            _schema_keywords(item, found)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        found.add(key)
        if key in ("properties", "$defs"):
            for sub in value.values():
                _schema_keywords(sub, found)
        elif key not in ("enum", "const", "required") and key not in _ANNOTATIONS:
            _schema_keywords(value, found)


def semantic_errors(doc: dict[str, Any]) -> list[str]:
    """Rules of the format that JSON Schema cannot say."""
    errors: list[str] = []
    seen: set[str] = set()
    for i, case in enumerate(doc.get("cases", ())):
        name = case.get("name")
        where = f"$.cases[{i}]"
        if name in seen:
            errors.append(f"{where}: duplicate case name `{name}`")
        seen.add(name)
        clock = 0.0
        for j, step in enumerate(case.get("steps", ())):
            at = step.get("at", clock)
            if at < clock:
                errors.append(f"{where}.steps[{j}].at: the clock goes back from {clock} to {at}")
            clock = at
            expect = step.get("expect", {})
            if (
                "allowed" in expect
                and "effect" in expect
                and expect["allowed"] != (expect["effect"] in PERMISSIVE)
            ):
                errors.append(f"{where}.steps[{j}].expect: allowed contradicts effect `{expect['effect']}`")
            if not set(expect.get("errored", ())) <= set(expect.get("matched", expect.get("errored", ()))):
                errors.append(f"{where}.steps[{j}].expect: errored rules must also be matched")
    return errors


# -- collecting the cases ---------------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    return _load(SCHEMA_PATH)  # type: ignore[no-any-return]


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, _load(path)) for path in FILES]


def _cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{path.stem}::{case['name']}")
        for path, doc in _documents()
        for case in doc["cases"]
    ]


def test_schema_uses_only_supported_keywords() -> None:
    found: set[str] = set()
    _schema_keywords(_schema(), found)
    assert found <= SUPPORTED_KEYWORDS, sorted(found - SUPPORTED_KEYWORDS)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector_file_is_valid(path: Path) -> None:
    schema = _schema()
    doc = _load(path)
    problems = schema_errors(doc, schema, schema) + semantic_errors(doc)
    assert not problems, "\n".join(problems)


def test_vector_coverage() -> None:
    docs = _documents()
    assert len(docs) >= 10
    steps = sum(len(case.get("steps", ())) for _, doc in docs for case in doc["cases"])
    load_errors = sum("expect_load_error" in case for _, doc in docs for case in doc["cases"])
    assert steps >= 120
    assert load_errors >= 20


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"description": "x", "cases": []}, "$.cases: fewer than 1"),
        ({"description": "x", "cases": [{"name": "a", "policies": [{}], "steps": []}]}, "fewer than 1"),
        (
            {"cases": [{"name": "a", "policies": [{}], "expect_load_error": {}}]},
            "missing required key `description`",
        ),
        (
            {
                "description": "x",
                "cases": [{"name": "a", "policies": [{}], "steps": [{"request": {}, "expect": {}}]}],
            },
            "missing required key `effect`",
        ),
        (
            {
                "description": "x",
                "cases": [
                    {"name": "a", "policies": [{}], "steps": [{"request": {}, "expect": {"effect": "block"}}]}
                ],
            },
            "is not one of",
        ),
        (
            {
                "description": "x",
                "cases": [
                    {
                        "name": "a",
                        "policies": [{}],
                        "steps": [{"request": {}, "expect": {"effect": "deny", "matchd": []}}],
                    }
                ],
            },
            "unknown key `matchd`",
        ),
        (
            {
                "description": "x",
                "cases": [
                    {"name": "a", "policies": [{}], "steps": [{"request": {}, "expect": {"effect": "deny"}}]},
                    {"name": "a", "policies": [{}], "expect_load_error": {"path": "name"}},
                ],
            },
            "duplicate case name",
        ),
        (
            {
                "description": "x",
                "cases": [
                    {
                        "name": "a",
                        "policies": [{}],
                        "steps": [
                            {"at": 5, "request": {}, "expect": {"effect": "deny"}},
                            {"at": 4, "request": {}, "expect": {"effect": "deny"}},
                        ],
                    }
                ],
            },
            "the clock goes back",
        ),
        (
            {
                "description": "x",
                "cases": [
                    {
                        "name": "a",
                        "policies": [{}],
                        "steps": [{"request": {}, "expect": {"effect": "deny", "allowed": True}}],
                    }
                ],
            },
            "allowed contradicts effect",
        ),
        (
            {
                "description": "x",
                "cases": [
                    {
                        "name": "a",
                        "policies": [{}],
                        "steps": [{"request": {}, "expect": {"effect": "deny"}}],
                        "expect_load_error": {},
                    }
                ],
            },
            "unknown key",
        ),
    ],
)
def test_checker_rejects_malformed_files(doc: dict[str, Any], problem: str) -> None:
    schema = _schema()
    problems = schema_errors(doc, schema, schema) + semantic_errors(doc)
    assert any(problem in p for p in problems), problems


def test_checker_refuses_unsupported_keywords() -> None:
    with pytest.raises(ValueError, match="not supported"):
        schema_errors(1, {"maximum": 3}, {})


# -- running a case -----------------------------------------------------------------------------


def _ref(policy: str | None, rule: str | None, qualified: bool) -> str:
    return f"{policy}/{rule}" if qualified else str(rule)


def _refs(actual: list[tuple[str | None, str | None]], want: list[str]) -> list[str]:
    """Render actual (policy, rule) pairs in the style of the expectation: `rule` or `policy/rule`."""
    return [_ref(policy, rule, i >= len(want) or "/" in want[i]) for i, (policy, rule) in enumerate(actual)]


def _differences(decision: Any, expect: dict[str, Any]) -> list[str]:
    problems: list[str] = []

    def check(key: str, got: Any) -> None:
        if key in expect and got != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {got!r}")

    check("effect", decision.effect)
    check("allowed", decision.allowed)
    check("rule", decision.rule)
    check("policy", decision.policy)
    matched = [(m.policy, m.rule) for m in decision.matched]
    check("matched", _refs(matched, expect.get("matched", [])))
    errored = [(m.policy, m.rule) for m in decision.matched if m.errored]
    check("errored", _refs(errored, expect.get("errored", [])))
    error_rules = [(e.policy, e.rule) for e in decision.errors if e.rule is not None]
    check("error_rules", _refs(error_rules, expect.get("error_rules", [])))
    check("error_count", len(decision.errors))
    messages = [e.message.lower() for e in decision.errors]
    for phrase in expect.get("errors_contain", ()):
        if not any(phrase.lower() in m for m in messages):
            problems.append(
                f"errors_contain: no error mentions {phrase!r}: {[e.message for e in decision.errors]}"
            )
    check("rate_limited", decision.rate_limited)
    check("approvers", list(decision.approvers))
    if "message_contains" in expect and expect["message_contains"].lower() not in decision.message.lower():
        problems.append(f"message_contains: {expect['message_contains']!r} not in {decision.message!r}")
    check("conflict_strategy", decision.conflict_strategy)
    check("stage", decision.stage)
    return problems


def _invariants(decision: Any) -> list[str]:
    """What every decision must satisfy, whatever the step expects."""
    problems: list[str] = []
    if decision.allowed != (decision.effect in PERMISSIVE):
        problems.append(f"invariant: allowed={decision.allowed} with effect {decision.effect}")
    if decision.rate_limited and decision.effect != "deny":
        problems.append("invariant: a rate-limited decision must deny")
    if decision.approvers and decision.effect != "require_approval":
        problems.append("invariant: approvers on a decision that is not require_approval")
    for m in decision.matched:
        if m.errored and m.action not in RESTRICTIVE:
            problems.append(f"invariant: permissive rule `{m.rule}` counted as matched by an error")
    pairs = [(m.policy, m.rule) for m in decision.matched]
    if len(set(pairs)) != len(pairs):
        problems.append("invariant: a rule is listed twice in matched")
    if decision.rule is not None and (decision.policy, decision.rule) not in pairs:
        problems.append("invariant: the deciding rule is not among the matched rules")
    return problems


def _compile(policies: list[dict[str, Any]]) -> Any:
    import agent_os

    with warnings.catch_warnings():
        # Load warnings are compared through the policy set's `warnings`, not raised.
        warnings.simplefilter("ignore")
        return agent_os.compile_policies(copy.deepcopy(policies))


def _warning_differences(actual: tuple[str, ...], expected: list[str]) -> list[str]:
    if len(actual) == len(expected) and all(
        phrase.lower() in message.lower() for phrase, message in zip(expected, actual, strict=True)
    ):
        return []
    return [f"expect_warnings: expected {expected!r}, got {list(actual)!r}"]


def _run_decisions(case: dict[str, Any]) -> None:
    import agent_os

    policy_set = _compile(case["policies"])
    if "expect_warnings" in case:
        problems = _warning_differences(policy_set.warnings, case["expect_warnings"])
        assert not problems, problems[0]
    now = [0.0]
    limiter = agent_os.RateLimiter(clock=lambda: now[0])
    kernel = agent_os.Kernel(policy_set, audit=None, rate_limiter=limiter)
    failures: list[str] = []
    for i, step in enumerate(case["steps"]):
        now[0] = float(step.get("at", now[0]))
        request = copy.deepcopy(step["request"])
        decision = kernel.decide(request)
        problems = _differences(decision, step["expect"]) + _invariants(decision)
        if request != step["request"]:
            problems.append("the engine modified the request")
        if problems:
            label = f"step {i}" + (f" ({step['note']})" if "note" in step else "")
            failures.append(
                f"{label}: request {json.dumps(step['request'])}\n    "
                + "\n    ".join(problems)
                + f"\n    decision: {decision.model_dump_json(exclude={'policy_hash', 'policy_set_hash'})}"
            )
    assert not failures, "\n".join(failures)


def _run_load_error(case: dict[str, Any]) -> None:
    from agt_core import PolicyError

    expect = case["expect_load_error"]
    with pytest.raises(PolicyError) as info:
        _compile(case["policies"])
    error = info.value
    if "path" in expect:
        assert error.path == expect["path"], (
            f"path: expected {expect['path']!r}, got {error.path!r} ({error})"
        )
    if "contains" in expect:
        reason = getattr(error, "reason", error.message)
        assert expect["contains"].lower() in reason.lower(), f"{expect['contains']!r} not in {reason!r}"


@pytest.mark.parametrize("case", _cases())
def test_policy_case(case: dict[str, Any]) -> None:
    if "expect_load_error" in case:
        _run_load_error(case)
    else:
        _run_decisions(case)
