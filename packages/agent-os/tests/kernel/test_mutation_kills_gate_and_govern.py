"""ToolGate, govern() and the pipeline, attacked where mutation testing found them untested.

The requests a refusal is audited with, the options that must not be silently ignored, and the
plugin discovery. Run against the mutants of ``agent_os._gate``, ``_govern`` and ``_pipeline`` by
``packages/agent-os/mutation/run_mutation.py kernel``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

import agent_os
from agent_os import (
    AuditLog,
    GovernanceDenied,
    RequestLimits,
    ToolGate,
    compile_policies,
    govern,
    governance_context,
)
from agt_core import RequestError

POLICY = """\
apiVersion: governance.toolkit/v1
name: gate-policy
default_action: allow
rules:
- name: no-prod
  condition: "has(args.target) && args.target == 'prod'"
  action: deny
- name: low-trust
  condition: "has(agent.trust) && agent.trust < 0.5"
  action: deny
- name: ticketed
  condition: "has(context.ticket) && context.ticket == 'BAD-1'"
  action: deny
- name: secret-results
  stage: post_tool
  condition: "result == 'secret'"
  action: deny
"""


# -- ToolGate ------------------------------------------------------------------------------------


def test_the_gate_builds_the_request_its_conditions_see() -> None:
    gate = ToolGate(policy=POLICY, audit=False, agent_id="bot", context={"team": "ops"})
    request = gate.request("db", {"target": "dev"}, agent={"trust": 0.9}, context={"ticket": "T-1"})
    assert request == {
        "action": {"type": "db", "tool": "db"},
        "args": {"target": "dev"},
        "agent": {"id": "bot", "trust": 0.9},
        "context": {"team": "ops", "ticket": "T-1"},
        "stage": "pre_tool",
    }
    assert not gate.check("db", {"target": "prod"}).allowed
    assert not gate.check("db", {}, agent={"trust": 0.1}).allowed
    assert not gate.check("db", {}, context={"ticket": "BAD-1"}).allowed
    assert not asyncio.run(gate.check_async("db", {}, agent={"trust": 0.1})).allowed
    assert gate.check("db", {"target": "dev"}, agent={"trust": 0.9}).allowed


@pytest.mark.parametrize("check", ["check", "check_async"])
def test_a_call_the_gate_cannot_judge_is_audited_with_what_is_known_of_it(check: str) -> None:
    log = AuditLog()
    gate = ToolGate(policy=POLICY, audit=log, agent_id="bot", context={"team": "ops"})

    def run(*args: Any, **kwargs: Any) -> Any:
        outcome = getattr(gate, check)(*args, **kwargs)
        return asyncio.run(outcome) if check == "check_async" else outcome

    for tool, args, agent_id, recorded_tool, recorded_agent in [
        ("db", {"blob": float("inf")}, "other", "db", "other"),
        ("db", ["not", "a", "mapping"], None, "db", "bot"),
        ("", {}, "other", "<invalid tool name>", "other"),
        (5, {}, "", "<invalid tool name>", "bot"),
    ]:
        outcome = run(tool, args, agent_id=agent_id)
        assert not outcome.allowed
        assert outcome.decision.refused_by == "kernel:request"
        assert outcome.decision.message.startswith("request could not be built: ")
        assert log.records()[-1].request == {
            "action": {"type": recorded_tool, "tool": recorded_tool},
            "args": {},
            "agent": {"id": recorded_agent},
            "context": {"team": "ops"},
            "stage": "pre_tool",
        }


def test_a_gate_result_that_cannot_be_judged_is_a_post_tool_refusal() -> None:
    log = AuditLog()
    gate = ToolGate(policy=POLICY, audit=log, agent_id="bot")
    outcome = gate.check("db", {"target": "dev"})
    after = gate.complete(outcome, result=float("nan"))
    assert not after.allowed
    assert after.decision.refused_by == "kernel:request"
    assert after.decision.stage == "post_tool"
    assert log.records()[-1].request["stage"] == "post_tool"
    assert log.records()[-1].request["result"] is None


def test_misspelled_options_are_refused_not_ignored() -> None:
    with pytest.raises(TypeError, match=r"ToolGate\(\) got unexpected option\(s\): approvel_handler"):
        ToolGate(policy=POLICY, approvel_handler=lambda r: None)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"govern\(\) got unexpected option\(s\): audti, polcy"):
        govern(lambda: None, policy=POLICY, audti=False, polcy="x")  # type: ignore[call-overload]


def test_the_gate_applies_its_limits_to_the_fixed_context() -> None:
    with pytest.raises(RequestError):
        ToolGate(
            policy=POLICY, context={"note": "x" * 50}, request_limits=RequestLimits(max_string_length=10)
        )


# -- govern() --------------------------------------------------------------------------------------


def tool(action: str = "read", target: str = "dev", count: int = 0) -> str:
    return f"{action}:{target}:{count}"


def test_govern_positional_mistakes_say_what_to_do() -> None:
    with pytest.raises(TypeError, match="takes the policy as a keyword"):
        govern(tool, POLICY)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="takes the function as its only positional argument"):
        govern(tool, POLICY, POLICY)  # type: ignore[call-overload]


def test_an_unbuildable_call_is_audited_with_the_tool_and_agent_only() -> None:
    log = AuditLog()
    safe = govern(tool, policy=POLICY, audit=log, agent_id="bot", context={"team": "ops"})
    with pytest.raises(GovernanceDenied):
        safe(target=float("inf"))  # type: ignore[arg-type]
    assert log.records()[-1].request == {
        "action": {"type": "tool", "tool": "tool"},
        "args": {},
        "agent": {"id": "bot"},
        "context": {"team": "ops"},
        "stage": "pre_tool",
    }
    assert log.records()[-1].decision.refused_by == "kernel:request"


def test_a_result_that_cannot_be_judged_is_a_post_tool_refusal() -> None:
    log = AuditLog()
    safe = govern(lambda action="read": float("nan"), policy=POLICY, audit=log, tool_name="nan")
    with pytest.raises(GovernanceDenied, match="result could not be checked"):
        safe()
    record = log.records()[-1]
    assert record.decision.refused_by == "kernel:request"
    assert record.decision.stage == "post_tool"
    assert record.request["stage"] == "post_tool" and record.request["result"] is None


def test_check_types_false_lets_wrongly_typed_arguments_reach_the_policy() -> None:
    assert govern(tool, policy=POLICY, audit=False, check_types=False)(count="3") == "read:dev:3"  # type: ignore[arg-type]
    with pytest.raises(GovernanceDenied, match="argument `count` is `str` where the tool declares `int`"):
        govern(tool, policy=POLICY, audit=False)(count="3")  # type: ignore[arg-type]


def test_a_context_value_that_cannot_be_judged_is_named_by_where_it_is() -> None:
    safe = govern(tool, policy=POLICY, audit=False)
    with governance_context(ratio=float("nan")), pytest.raises(Exception, match=r"context\.ratio"):
        safe()


def test_the_governed_function_exposes_its_policy_set_kernel_and_log() -> None:
    log = AuditLog()
    policy_set = compile_policies(POLICY)
    safe: Any = govern(tool, policy=policy_set, audit=log)
    assert safe.policy_set is policy_set
    assert safe.kernel.policy_set is policy_set
    assert safe.audit_log is log


# -- the pipeline ----------------------------------------------------------------------------------


class Nameless:
    def enrich(self, request: Any) -> None:
        return None

    def check(self, request: Any) -> None:
        return None


def test_enrichers_and_guards_need_a_name_observers_do_not() -> None:
    pipe = agent_os.Pipeline()
    with pytest.raises(TypeError, match="`Nameless` is not an Enricher: it needs a `name` string"):
        pipe.add_enricher(Nameless())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`Nameless` is not a Guard: it needs a `name` string"):
        pipe.add_guard(Nameless())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`Nameless` is not an Observer: it has no `on_decision` method"):
        pipe.add_observer(Nameless())  # type: ignore[arg-type]


def test_pipeline_plugins_are_found_through_their_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_os import _pipeline

    info = tmp_path / "toy_agt_plugin-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-agt-plugin\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text("[agt.pipeline]\ntoy = toy_agt_plugin:setup\n")
    (tmp_path / "toy_agt_plugin.py").write_text("def setup(pipeline):\n    pipeline.toy = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        loaded = dict(_pipeline._load_plugins())
        # other installed packages (agent-mesh, agent-sre...) may register plugins of their own
        assert "toy = toy_agt_plugin:setup" in loaded
        assert loaded["toy = toy_agt_plugin:setup"].__module__ == "toy_agt_plugin"
    finally:
        sys.modules.pop("toy_agt_plugin", None)


class Completions:
    def __init__(self) -> None:
        self.seen: list[tuple[Any, float]] = []
        self.outcomes: list[Any] = []

    def on_decision(self, outcome: Any) -> None:
        return None

    def on_completion(self, outcome: Any, result: Any, error: Any, duration_s: float) -> None:
        self.outcomes.append(outcome)
        self.seen.append((result, duration_s))


def test_observers_get_the_duration_the_caller_reports_or_zero() -> None:
    observer = Completions()
    gate = ToolGate(policy=POLICY, audit=False, agent_id="bot", observers=[observer])
    outcome = gate.check("db", {"target": "dev"})
    gate.complete(outcome, result="a")
    gate.complete(outcome, result="b", duration_s=1.5)
    assert observer.seen == [("a", 0.0), ("b", 1.5)]
    assert observer.outcomes == [outcome, outcome]
    gate.complete(outcome, result="c", started=0.0)  # a perf_counter() reading taken at the start
    assert type(observer.seen[-1][1]) is float


def test_the_refusal_message_says_when_an_approval_was_refused() -> None:
    policy = POLICY + "- name: pay\n  condition: \"action.type == 'pay'\"\n  action: require_approval\n"
    gate = ToolGate(
        policy=policy, audit=False, agent_id="bot", approval_handler=lambda r: r.refuse("ops", "no budget")
    )
    outcome = gate.check("pay", {})
    assert not outcome.allowed
    assert ToolGate.refusal_message(outcome) == (
        "tool call `pay` was refused by rule `pay` of policy `gate-policy` (approval refused: no budget)"
    )


def test_an_action_given_as_a_mapping_is_named_by_its_normalised_type() -> None:
    gate = ToolGate(policy=POLICY, audit=False, agent_id="bot")
    assert gate.request("db", {"action": {"type": " DROP ", "table": "t"}})["action"] == {
        "type": "drop",
        "tool": "db",
    }
    assert gate.request("db", {}, action="Ｄｒｏｐ")["action"] == {"type": "drop", "tool": "db"}
