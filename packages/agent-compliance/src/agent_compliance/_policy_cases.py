"""``agt policy test`` and ``agt policy eval``: decide requests with the real evaluator and show why.

A cases file is YAML::

    cases:
    - name: drops are denied
      request: {action: drop, args: {table: users}}
      expect: deny              # the effect
      rule: block-destructive   # optional: the deciding rule (null: the default decided)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_compliance._report import Finding, Location, Report, RuleInfo
from agent_compliance._requests import UsageError, complete_request

if TYPE_CHECKING:
    from agt_core import Decision, PolicySet

__all__ = ["CASE_RULES", "decision_evidence", "eval_request", "run_cases"]

CASE_RULES = {
    "AGT-T001": RuleInfo(
        id="AGT-T001",
        name="policy-test-failed",
        description="A policy test case decided otherwise than expected.",
    )
}
_EFFECTS = frozenset({"allow", "deny", "require_approval", "warn", "log"})
_CASE_KEYS = frozenset({"name", "request", "expect", "rule", "policy"})


def decision_evidence(decision: Decision) -> dict[str, Any]:
    """The parts of a decision a reader needs: effect, deciding rule and policy, every matched rule."""
    return {
        "effect": decision.effect,
        "rule": decision.rule,
        "policy": decision.policy,
        "message": decision.message,
        "matched": [
            {
                "policy": m.policy,
                "rule": m.rule,
                "action": m.action,
                **({"errored": True} if m.errored else {}),
            }
            for m in decision.matched
        ],
        "errors": [e.message for e in decision.errors],
    }


def _case_lines(path: str, text: str) -> list[int]:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "cases" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _read_cases(path: str) -> tuple[list[dict[str, Any]], list[int]]:
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read cases file `{path}`: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"cases file `{path}` is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or set(data) != {"cases"}:
        raise UsageError(f"{path}: a cases file is a mapping with one key, `cases`, holding a list")
    lines = _case_lines(path, text)
    cases = []
    for i, case in enumerate(data["cases"]):
        line = lines[i] if i < len(lines) else None
        where = f"{path}:{line}" if line else f"{path}: cases[{i}]"
        if not isinstance(case, dict):
            raise UsageError(f"{where}: a case must be a mapping")
        unknown = sorted(set(case) - _CASE_KEYS)
        if unknown:
            raise UsageError(
                f"{where}: unknown key(s) {', '.join(unknown)}; a case has {', '.join(sorted(_CASE_KEYS))}"
            )
        if case.get("expect") not in _EFFECTS:
            raise UsageError(f"{where}: `expect` must be one of {', '.join(sorted(_EFFECTS))}")
        checked = {**case, "request": complete_request(case.get("request"), where=where)}
        checked.setdefault("name", f"cases[{i}]")
        cases.append(checked)
    return cases, lines


def run_cases(policy_set: PolicySet, cases_path: str) -> Report:
    """Decide every case of `cases_path` and report those that decide otherwise than expected."""
    cases, lines = _read_cases(cases_path)
    report = Report(command="policy test", rules=dict(CASE_RULES), artifacts=[cases_path])
    passed = 0
    for i, case in enumerate(cases):
        decision = policy_set.evaluate(case["request"])
        problems = []
        if decision.effect != case["expect"]:
            problems.append(f"expected {case['expect']}, got {decision.effect}")
        if "rule" in case and decision.rule != case["rule"]:
            problems.append(f"expected rule `{case['rule']}`, got `{decision.rule}`")
        if "policy" in case and decision.policy != case["policy"]:
            problems.append(f"expected policy `{case['policy']}`, got `{decision.policy}`")
        if not problems:
            passed += 1
            report.lines.append(f"ok   {case['name']}: {decision.summary()}")
            continue
        report.lines.append(f"FAIL {case['name']}: {'; '.join(problems)} ({decision.summary()})")
        report.findings.append(
            Finding(
                rule_id="AGT-T001",
                level="error",
                message=f"case `{case['name']}`: {'; '.join(problems)}; decided {decision.summary()}",
                location=Location(file=cases_path, line=lines[i] if i < len(lines) else None),
                evidence=({"request": case["request"], "decision": decision_evidence(decision)},),
            )
        )
    report.summary = {"cases": len(cases), "passed": passed, "failed": len(cases) - passed}
    report.lines.append(f"{passed} of {len(cases)} case(s) passed")
    return report


def eval_request(policy_set: PolicySet, request: Any) -> Report:
    """Decide one request and report the decision with every matched rule (no findings)."""
    complete = complete_request(request, where="--request")
    decision = policy_set.evaluate(complete)
    evidence = decision_evidence(decision)
    report = Report(command="policy eval", summary={"request": complete, "decision": evidence})
    report.lines.append(f"decision: {decision.summary()}")
    for m in evidence["matched"]:
        note = " (condition errored: counted as matched, fail closed)" if m.get("errored") else ""
        report.lines.append(f"  matched: rule `{m['rule']}` of policy `{m['policy']}` -> {m['action']}{note}")
    if not evidence["matched"]:
        report.lines.append("  matched: no rule (the default decided)")
    report.lines.extend(f"  error: {e}" for e in evidence["errors"])
    return report
