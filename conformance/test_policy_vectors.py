"""The policy evaluator vectors in conformance/policy/, run against every registered evaluator.

Every case file is checked against conformance/schema/policy-case.schema.json (and hashes.json
against policy-hashes.schema.json) with the `jsonschema` library, then each case runs once per
evaluator registered under the ``agt.evaluators`` entry points (``python`` always; ``native`` when
agt-evaluator is installed), as one test with id ``<evaluator>-<file stem>::<case name>``:

* a decision case compiles its policies with ``agent_os.compile_policies(..., evaluator=name)``,
  builds one ``agent_os.Kernel`` with a ``RateLimiter`` on a fake clock, and decides each step's
  request with ``Kernel.decide`` (policy evaluation plus rate limits), comparing the keys its
  ``expect`` lists;
* a load-error case expects ``compile_policies`` to raise ``agt_core.PolicyError`` with the given
  ``path`` and message phrase;
* a hash case expects the compiled set's ``policy_hashes`` and ``hash`` (and every decision's
  ``policy_hash`` and ``policy_set_hash``) to be the pinned values.

The format is documented in conformance/README.md, section ``policy``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import pytest

HERE = Path(__file__).parent
VECTORS = HERE / "policy"
SCHEMA_PATH = HERE / "schema" / "policy-case.schema.json"
HASHES_PATH = VECTORS / "hashes.json"
HASHES_SCHEMA_PATH = HERE / "schema" / "policy-hashes.schema.json"
FILES = sorted(path for path in VECTORS.glob("*.json") if path != HASHES_PATH)
PERMISSIVE = frozenset({"allow", "warn", "log"})
RESTRICTIVE = frozenset({"deny", "require_approval"})


def _evaluators() -> tuple[str, ...]:
    import agent_os

    return agent_os.evaluator_names()


EVALUATORS = _evaluators()


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


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every JSON Schema problem of `value` as ``"<json path>: [<keyword>] <message>"``.

    A failed ``oneOf`` is reported with the problems of each alternative, so a typo inside a case
    names the key, not only "matches no alternative".
    """
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[str] = []
    stack = list(validator.iter_errors(value))
    while stack:
        error = stack.pop()
        problems.append(f"{error.json_path}: [{error.validator}] {error.message}")
        stack.extend(error.context or ())
    return sorted(problems)


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
        pytest.param(evaluator, case, id=f"{evaluator}-{path.stem}::{case['name']}")
        for evaluator in EVALUATORS
        for path, doc in _documents()
        for case in doc["cases"]
    ]


def _hash_cases() -> list[Any]:
    return [
        pytest.param(evaluator, case, id=f"{evaluator}-hashes::{case['name']}")
        for evaluator in EVALUATORS
        for case in _load(HASHES_PATH)["cases"]
    ]


def test_schemas_are_valid_json_schemas() -> None:
    jsonschema.Draft202012Validator.check_schema(_schema())
    jsonschema.Draft202012Validator.check_schema(_load(HASHES_SCHEMA_PATH))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector_file_is_valid(path: Path) -> None:
    doc = _load(path)
    problems = schema_errors(doc, _schema()) + semantic_errors(doc)
    assert not problems, "\n".join(problems)


def test_hash_file_is_valid() -> None:
    doc = _load(HASHES_PATH)
    problems = schema_errors(doc, _load(HASHES_SCHEMA_PATH))
    names = [case["name"] for case in doc["cases"]]
    problems += [f"duplicate case name `{n}`" for n in sorted({n for n in names if names.count(n) > 1})]
    assert not problems, "\n".join(problems)


def test_python_evaluator_is_registered() -> None:
    assert "python" in EVALUATORS


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
        ({"description": "x", "cases": []}, "$.cases: [minItems]"),
        ({"description": "x", "cases": [{"name": "a", "policies": [{}], "steps": []}]}, "steps: [minItems]"),
        (
            {"cases": [{"name": "a", "policies": [{}], "expect_load_error": {}}]},
            "'description' is a required property",
        ),
        (
            {
                "description": "x",
                "cases": [{"name": "a", "policies": [{}], "steps": [{"request": {}, "expect": {}}]}],
            },
            "'effect' is a required property",
        ),
        (
            {
                "description": "x",
                "cases": [
                    {"name": "a", "policies": [{}], "steps": [{"request": {}, "expect": {"effect": "block"}}]}
                ],
            },
            "[enum] 'block' is not one of",
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
            "('matchd' was unexpected)",
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
            "was unexpected",
        ),
    ],
)
def test_checker_rejects_malformed_files(doc: dict[str, Any], problem: str) -> None:
    problems = schema_errors(doc, _schema()) + semantic_errors(doc)
    assert any(problem in p for p in problems), problems


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


def _invariants(decision: Any, evaluator: str) -> list[str]:
    """What every decision must satisfy, whatever the step expects."""
    problems: list[str] = []
    if decision.refused_by is None and decision.evaluator != evaluator:
        problems.append(f"invariant: decided by `{evaluator}` but records evaluator {decision.evaluator!r}")
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


def _compile(policies: list[dict[str, Any]], evaluator: str) -> Any:
    import agent_os

    with warnings.catch_warnings():
        # Load warnings are compared through the policy set's `warnings`, not raised.
        warnings.simplefilter("ignore")
        policy_set = agent_os.compile_policies(copy.deepcopy(policies), evaluator=evaluator)
    assert policy_set.evaluator == evaluator
    return policy_set


def _warning_differences(actual: tuple[str, ...], expected: list[str]) -> list[str]:
    if len(actual) == len(expected) and all(
        phrase.lower() in message.lower() for phrase, message in zip(expected, actual, strict=True)
    ):
        return []
    return [f"expect_warnings: expected {expected!r}, got {list(actual)!r}"]


def _run_decisions(case: dict[str, Any], evaluator: str) -> None:
    import agent_os

    policy_set = _compile(case["policies"], evaluator)
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
        problems = _differences(decision, step["expect"]) + _invariants(decision, evaluator)
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


def _run_load_error(case: dict[str, Any], evaluator: str) -> None:
    from agt_core import PolicyError

    expect = case["expect_load_error"]
    with pytest.raises(PolicyError) as info:
        _compile(case["policies"], evaluator)
    error = info.value
    if "path" in expect:
        assert error.path == expect["path"], (
            f"path: expected {expect['path']!r}, got {error.path!r} ({error})"
        )
    if "contains" in expect:
        reason = getattr(error, "reason", error.message)
        assert expect["contains"].lower() in reason.lower(), f"{expect['contains']!r} not in {reason!r}"


@pytest.mark.parametrize(("evaluator", "case"), _cases())
def test_policy_case(evaluator: str, case: dict[str, Any]) -> None:
    if "expect_load_error" in case:
        _run_load_error(case, evaluator)
    else:
        _run_decisions(case, evaluator)


def _sha256_of_json(value: Any) -> str:
    # RFC 8785 for these documents (ASCII keys, no floats) is sorted keys, no spaces, UTF-8: an
    # oracle independent of agt_core.canonical_json.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(("evaluator", "case"), _hash_cases())
def test_policy_hashes(evaluator: str, case: dict[str, Any]) -> None:
    expect = case["expect"]
    # The vectors are consistent with their own definition...
    for entry in expect["policies"]:
        assert _sha256_of_json(entry["resolved"]) == entry["hash"], entry["name"]
    pairs = [{"name": entry["name"], "hash": entry["hash"]} for entry in expect["policies"]]
    assert _sha256_of_json(pairs) == expect["set_hash"]
    # ...and the evaluator reports exactly them.
    policy_set = _compile(case["policies"], evaluator)
    assert dict(policy_set.policy_hashes) == {entry["name"]: entry["hash"] for entry in expect["policies"]}
    assert policy_set.hash == expect["set_hash"]
    decision = policy_set.evaluate(
        {
            "action": {"type": "x", "tool": "t"},
            "args": {},
            "agent": {"id": "ops"},
            "context": {},
            "stage": "pre_tool",
        }
    )
    assert decision.policy_set_hash == expect["set_hash"]
    if decision.policy is not None:
        assert decision.policy_hash == policy_set.policy_hashes[decision.policy]


def test_the_resolved_document_is_what_the_hash_covers() -> None:
    """The loader fills defaults exactly as the vectors' `resolved` documents show."""
    import agent_os

    for case in _load(HASHES_PATH)["cases"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = agent_os.load_policies(copy.deepcopy(case["policies"]))
        resolved = [policy.document.model_dump(mode="json", by_alias=True) for policy in loaded]
        assert resolved == [entry["resolved"] for entry in case["expect"]["policies"]], case["name"]
