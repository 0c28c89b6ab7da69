"""compile_policies(evaluator=...): registered evaluators, auto, the environment, and no silent fallback."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import EntryPoint

import pytest

import agent_os
from agent_os import _evaluators, compile_policies
from agent_os._evaluators import ENTRY_POINT_GROUP, EVALUATOR_ENV, select_evaluator
from agent_os._python_evaluator import PythonEvaluator, PythonPolicySet
from agt_core import Evaluator, PolicyError, PolicySet, ResolvedPolicy

from .conftest import SEED_POLICY

PYTHON = EntryPoint("python", "agent_os._python_evaluator:PythonEvaluator", ENTRY_POINT_GROUP)


def registry(monkeypatch: pytest.MonkeyPatch, *points: EntryPoint) -> None:
    """Replace the installed entry points of the group by `points`."""

    def fake(*, group: str) -> list[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return list(points)

    monkeypatch.setattr(_evaluators, "entry_points", fake)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVALUATOR_ENV, raising=False)


class Recording:
    """An evaluator object of the caller's own: compiles with the Python one and remembers its input."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list[ResolvedPolicy] = []

    def compile(self, policies: Sequence[ResolvedPolicy]) -> PolicySet:
        self.seen.extend(policies)
        return PythonPolicySet(policies)


def test_python_is_registered_and_chosen_when_native_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "python" in agent_os.evaluator_names()
    registry(monkeypatch, PYTHON)
    assert agent_os.evaluator_names() == ("python",)
    for choice in (None, "auto", "python"):
        policy_set = compile_policies(SEED_POLICY, evaluator=choice)
        assert isinstance(policy_set, PythonPolicySet)
        assert policy_set.evaluator == "python"


def test_asking_for_an_absent_evaluator_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    registry(monkeypatch, PYTHON)
    with pytest.raises(PolicyError, match="evaluator `native` is not installed") as info:
        compile_policies(SEED_POLICY, evaluator="native")
    assert info.value.help is not None and "pip install agt-evaluator" in info.value.help
    assert "`python`" in info.value.message  # what is installed


def test_the_environment_chooses_under_auto_and_never_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    registry(monkeypatch, PYTHON)
    monkeypatch.setenv(EVALUATOR_ENV, "native")
    with pytest.raises(PolicyError, match=f"not installed \\({EVALUATOR_ENV}=native\\)"):
        compile_policies(SEED_POLICY)
    monkeypatch.setenv(EVALUATOR_ENV, "python")
    assert compile_policies(SEED_POLICY).evaluator == "python"


def test_an_explicit_choice_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    registry(monkeypatch, PYTHON)
    monkeypatch.setenv(EVALUATOR_ENV, "native")
    assert compile_policies(SEED_POLICY, evaluator="python").evaluator == "python"


def test_auto_prefers_native_when_it_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stand-in for agt-evaluator: any class implementing the protocol, registered as `native`.
    native = EntryPoint("native", "agent_os._python_evaluator:PythonEvaluator", ENTRY_POINT_GROUP)
    registry(monkeypatch, PYTHON, native)
    chosen = select_evaluator(None)
    assert isinstance(chosen, PythonEvaluator)
    loads: list[str] = []
    original = EntryPoint.load

    def tracking(self: EntryPoint) -> object:
        loads.append(self.name)
        return original(self)

    monkeypatch.setattr(EntryPoint, "load", tracking)
    select_evaluator("auto")
    assert loads == ["native"]


def test_auto_falls_back_only_when_native_is_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("native", "agt_no_such_module_here:Evaluator", ENTRY_POINT_GROUP)
    registry(monkeypatch, PYTHON, broken)
    assert compile_policies(SEED_POLICY).evaluator == "python"
    # Asked for by name, a broken evaluator is an error, not the Python one.
    with pytest.raises(PolicyError, match="evaluator `native` is installed but failed to load"):
        compile_policies(SEED_POLICY, evaluator="native")


def test_an_entry_point_that_is_not_an_evaluator_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    registry(monkeypatch, PYTHON, EntryPoint("odd", "agent_os._loading:load_policies", ENTRY_POINT_GROUP))
    with pytest.raises(PolicyError, match=r"does not implement agt_core\.Evaluator"):
        compile_policies(SEED_POLICY, evaluator="odd")


def test_an_evaluator_object_gets_plain_resolved_policies() -> None:
    recording = Recording()
    assert isinstance(recording, Evaluator)
    policy_set = compile_policies(SEED_POLICY, evaluator=recording)
    assert policy_set.evaluator == "python"
    [resolved] = recording.seen
    assert isinstance(resolved, ResolvedPolicy)
    assert resolved.document.name == "production-policy"


@pytest.mark.parametrize("bad", [3, PythonEvaluator, object()])
def test_other_values_are_refused(bad: object) -> None:
    with pytest.raises(PolicyError, match="evaluator must be a name or an Evaluator object"):
        compile_policies(SEED_POLICY, evaluator=bad)  # type: ignore[arg-type]
