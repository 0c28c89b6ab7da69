"""The command-policy vectors: real-world evasions and benign commands with expected verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_runtime import CommandPolicy

VECTORS = json.loads((Path(__file__).parent / "vectors" / "commands.json").read_text())


def _policy(case: dict[str, Any]) -> CommandPolicy:
    if "allow" in case:
        return CommandPolicy(allow=case["allow"])
    return CommandPolicy(deny=case.get("deny", VECTORS["default_deny"]))


def test_corpus_is_large_and_balanced() -> None:
    cases = VECTORS["cases"]
    assert len(cases) >= 100
    assert sum(c["expect"] == "deny" for c in cases) >= 100
    assert sum(c["expect"] == "allow" for c in cases) >= 50
    assert len({c["name"] for c in cases}) == len(cases)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_vector(case: dict[str, Any]) -> None:
    decision = _policy(case).check(case["command"])
    got = "allow" if decision.allowed else "deny"
    assert got == case["expect"], f"{case['command']!r}: {decision.message}"
    if not decision.allowed:
        assert decision.effect == "deny"
        assert decision.message
        assert decision.rule in {"deny-list", "allow-list", "unparseable", "arguments"}
