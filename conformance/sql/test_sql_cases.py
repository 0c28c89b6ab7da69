"""The SQL facet attack corpus (cases.json), run through the governed path with every installed evaluator.

Each case is one call of a tool governed with ``facets={"sql": ...}`` under the corpus's deny
policy: the call must run or be refused as the case says, and the ``sql`` facts in its audit record
must be exactly the case's (``{"$unreadable": true}`` for a value conditions cannot read).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_os import AuditLog, GovernanceDenied, compile_policies, evaluator_names, govern

CORPUS = json.loads((Path(__file__).parent / "cases.json").read_text(encoding="utf-8"))
CASES = CORPUS["cases"]
EVALUATORS = evaluator_names()


def _shown(value: Any) -> Any:
    """The facts as the corpus writes them: an unreadable value is ``{"$unreadable": true}``."""
    if isinstance(value, dict):
        if set(value) == {"$opaque"}:
            return {"$unreadable": True}
        return {key: _shown(item) for key, item in value.items()}
    return value


def test_the_corpus_is_well_formed() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)) >= 40
    assert {case["allowed"] for case in CASES} == {True, False}
    for case in CASES:
        assert set(case) <= {"name", "sql", "dialect", "facets", "allowed", "why"}, case["name"]
        assert case["why"], case["name"]


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(case: dict[str, Any], evaluator: str) -> None:
    def run_sql(query: str) -> str:
        return "ran"

    declared: dict[str, Any] = {"arg": "query"}
    if "dialect" in case:
        declared["dialect"] = case["dialect"]
    tool = govern(
        run_sql,
        policy=compile_policies([CORPUS["policy"]], evaluator=evaluator),
        audit=AuditLog(),
        facets={"sql": declared},
    )
    if case["allowed"]:
        assert tool(case["sql"]) == "ran", case["why"]
    else:
        with pytest.raises(GovernanceDenied):
            tool(case["sql"])
    record = tool.audit_log.records()[-1]
    assert record.decision.allowed is case["allowed"]
    assert _shown(record.request["sql"]) == case["facets"], case["why"]
