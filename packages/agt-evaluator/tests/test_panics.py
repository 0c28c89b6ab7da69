"""A panic in the engine never crosses into Python as a panic: it is an exception the kernel denies on."""

from __future__ import annotations

from typing import Any

import pytest

import agent_os
from agt_evaluator import EnginePanic, _native

POLICY = {
    "apiVersion": "governance.toolkit/v1",
    "name": "p",
    "default_action": "allow",
    "rules": [{"name": "r", "condition": "action.type == 'drop'", "action": "deny"}],
}


def test_a_panic_becomes_engine_panic() -> None:
    with pytest.raises(EnginePanic, match="boom") as info:
        _native._panic_for_tests("boom")
    # an ordinary exception, not pyo3's PanicException (a BaseException)
    assert isinstance(info.value, RuntimeError)


class _PanickingEngine:
    """Stands in for the compiled engine: every evaluation panics inside the native guard."""

    def evaluate(self, request: Any) -> Any:
        _native._panic_for_tests("engine bug")


def test_the_kernel_denies_and_records_why_when_the_engine_panics() -> None:
    policy_set = agent_os.compile_policies(POLICY, evaluator="native")
    # The set calls its engine's evaluate directly (bound at construction): replace both.
    object.__setattr__(policy_set, "_native", _PanickingEngine())
    object.__setattr__(policy_set, "evaluate", policy_set._native.evaluate)
    kernel = agent_os.Kernel(policy_set, audit=None)
    decision = kernel.decide(
        {"action": {"type": "read", "tool": "t"}, "args": {}, "agent": {"id": "a"}, "context": {}}
    )
    assert decision.effect == "deny"
    assert decision.refused_by == "kernel:evaluator"
    assert "panicked" in decision.message
