"""Equivalence vectors: one policy written in YAML, Rego and Cedar decides every request alike.

Each folder in conformance/equivalence/ holds ``policy.yaml``, ``policy.rego``, ``policy.cedar``
and ``cases.json`` (``{"description", "steps": [{"request", "expect"}]}``). Every file compiles
with ``agent_os.compile_policies`` (the YAML once per registered evaluator) and decides each
step's request; the decision's ``effect``, ``allowed`` and ``approvers`` must be the expected
ones, and its ``rule`` too when ``expect.rule`` is not null (a default is spelt differently in
each language: YAML's ``default_action``, Rego's ``default decision``, a Cedar ``permit`` or no
permit at all). The format and the mapping are documented in conformance/equivalence/README.md.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent / "equivalence"
FOLDERS = sorted(path for path in HERE.iterdir() if path.is_dir())
LANGUAGES = ("yaml", "rego", "cedar")


def _evaluators() -> tuple[str, ...]:
    import agent_os

    return agent_os.evaluator_names()


def _rego_engines() -> tuple[str, ...]:
    """The Rego engines installed here: regorus (agt-evaluator's native module) and regopy."""
    import importlib.util

    engines = []
    try:
        from agt_evaluator import _native

        if hasattr(_native, "RegoEngine"):
            engines.append("regorus")
    except ImportError:
        pass
    if importlib.util.find_spec("regopy") is not None:
        engines.append("regopy")
    return tuple(engines)


def _targets() -> list[Any]:
    targets = []
    for folder in FOLDERS:
        for language in LANGUAGES:
            if language == "yaml":
                variants = [(e, "", f"yaml-{e}") for e in _evaluators()]
            elif language == "rego":
                variants = [("python", e, f"rego-{e}") for e in _rego_engines()]
            else:
                variants = [("python", "", language)]
            for evaluator, engine, label in variants:
                targets.append(
                    pytest.param(folder, language, evaluator, engine, id=f"{folder.name}::{label}")
                )
    return targets


def test_every_folder_is_complete() -> None:
    assert len(FOLDERS) >= 31  # the seed and thirty more
    for folder in FOLDERS:
        names = {path.name for path in folder.iterdir()}
        assert names == {"policy.yaml", "policy.rego", "policy.cedar", "cases.json"}, folder.name


@pytest.mark.parametrize(("folder", "language", "evaluator", "engine"), _targets())
def test_language_decides_as_expected(
    folder: Path, language: str, evaluator: str, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_os import compile_policies

    if engine:
        monkeypatch.setenv("AGT_REGO_ENGINE", engine)

    with warnings.catch_warnings():
        # Load warnings (a field the request schema does not declare) are not what is compared.
        warnings.simplefilter("ignore")
        policy = compile_policies(str(folder / f"policy.{language}"), evaluator=evaluator)
    steps = json.loads((folder / "cases.json").read_text(encoding="utf-8"))["steps"]
    assert steps
    for index, step in enumerate(steps):
        decision = policy.evaluate(step["request"])
        expect = step["expect"]
        where = f"{folder.name}/policy.{language} step {index}: {decision!r}"
        assert decision.effect == expect["effect"], where
        assert decision.allowed == (expect["effect"] in ("allow", "warn", "log")), where
        assert list(decision.approvers) == expect.get("approvers", []), where
        if expect["rule"] is not None:
            assert decision.rule == expect["rule"], where
        assert decision.policy_set_hash == policy.hash, where
