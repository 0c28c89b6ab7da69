"""The pipeline's extension points: a toy enricher, guard, observer and audit sink, and their failure rules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import agent_os
from agent_os import (
    AuditError,
    AuditLog,
    CallbackApproval,
    GovernanceDenied,
    Kernel,
    Pipeline,
    ToolGate,
    compile_policies,
    govern,
)
from agt_core import ApprovalRecord, Decision, Enforcement

POLICY = """\
apiVersion: governance.toolkit/v1
name: mesh-policy
default_action: allow
rules:
- name: unverified-agents-may-not-delete
  condition: "action.type == 'delete' && !has(agent.did)"
  action: deny
- name: low-trust-needs-approval
  condition: "has(agent.trust) && agent.trust < 0.5"
  action: require_approval
"""
POST_POLICY = (
    POLICY
    + """\
- name: audit-result
  stage: post_tool
  condition: "result == 'secret'"
  action: deny
"""
)

ran: list[Any] = []


def tool(action: str, target: str = "x") -> str:
    ran.append((action, target))
    return f"{action}:{target}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


class DidEnricher:
    name = "toy-identity"

    def __init__(self, did: str | None = "did:key:z6MkToy", trust: float = 0.9) -> None:
        self.did, self.trust, self.seen = did, trust, []

    def enrich(self, request: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]] | None:
        self.seen.append(request)
        if self.did is None:
            return None
        return {"agent": {"did": self.did, "trust": self.trust}, "context": {"session": "s-1"}}


class Broken:
    name = "broken"

    def enrich(self, request: Mapping[str, Any]) -> Any:
        raise RuntimeError("identity store unreachable")

    def check(self, request: Mapping[str, Any]) -> str | None:
        raise RuntimeError("breaker state unreadable")


class KillSwitch:
    name = "kill-switch"

    def __init__(self) -> None:
        self.engaged = False

    def check(self, request: Mapping[str, Any]) -> str | None:
        return "all agents halted by operator" if self.engaged else None


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.decisions: list[Enforcement] = []
        self.completions: list[tuple[Any, BaseException | None, float]] = []
        self.fail = fail

    def on_decision(self, outcome: Enforcement) -> None:
        self.decisions.append(outcome)
        if self.fail:
            raise RuntimeError("observer bug")

    def on_completion(
        self, outcome: Enforcement, result: Any, error: BaseException | None, duration_s: float
    ) -> None:
        self.completions.append((result, error, duration_s))
        if self.fail:
            raise RuntimeError("observer bug")


class ListSink:
    """A toy durable store: keeps (request, decision, approval) and hands out fake hashes."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[tuple[Mapping[str, Any], Decision, ApprovalRecord | None]] = []
        self.fail = fail

    def append(
        self, request: Mapping[str, Any], decision: Decision, approval: ApprovalRecord | None = None
    ) -> str:
        if self.fail:
            raise OSError("disk full")
        self.records.append((request, decision, approval))
        return f"h{len(self.records)}"


# -- enrichers ------------------------------------------------------------------------------------


def test_enricher_facts_reach_the_policy_and_the_audit() -> None:
    log = AuditLog()
    enricher = DidEnricher()
    safe = govern(tool, policy=POLICY, audit=log, enrichers=[enricher])
    assert safe(action="delete") == "delete:x"
    record = log.records()[-1]
    assert record.request["agent"] == {"id": "default", "did": "did:key:z6MkToy", "trust": 0.9}
    assert record.request["context"] == {"session": "s-1"}
    # Without the enricher the same call is refused: the policy decided on the enriched fact.
    plain = govern(tool, policy=POLICY, audit=log)
    with pytest.raises(GovernanceDenied, match="unverified-agents-may-not-delete"):
        plain(action="delete")
    assert ran == [("delete", "x")]


def test_enricher_facts_can_require_approval() -> None:
    safe = govern(
        tool, policy=POLICY, audit=False, enrichers=[DidEnricher(trust=0.2)],
        approval_handler=CallbackApproval(lambda r: r.agent["trust"] > 0.1),
    )  # fmt: skip
    assert safe(action="read") == "read:x"


def test_process_wide_enricher_applies_to_tools_governed_before_it_was_registered() -> None:
    safe = govern(tool, policy=POLICY, audit=False)
    with pytest.raises(GovernanceDenied):
        safe(action="delete")
    agent_os.pipeline().add_enricher(DidEnricher())
    assert safe(action="delete") == "delete:x"
    agent_os.pipeline().reset()
    with pytest.raises(GovernanceDenied):
        safe(action="delete")


def test_failing_enricher_refuses_audited_and_on_deny_is_honoured() -> None:
    log = AuditLog()
    safe = govern(
        tool, policy=POLICY, audit=log, enrichers=[Broken()], on_deny=lambda d: f"refused: {d.refused_by}"
    )
    assert safe(action="read") == "refused: enricher:broken"
    assert ran == []
    decision = log.records()[-1].decision
    assert decision.effect == "deny"
    assert "identity store unreachable" in decision.message
    assert log.verify(deep=True) == 1


@pytest.mark.parametrize(
    ("additions", "match"),
    [
        ({"args": {"target": "prod"}}, "only add to `agent` and `context`"),
        ({"action": {"type": "read"}}, "only add to `agent` and `context`"),
        ({"agent": {"id": "admin"}}, "tried to change `agent.id`"),
        ({"agent": ["did"]}, "not a mapping"),
        (["agent"], "not a mapping"),
        ({"agent": {"blob": float("nan")}}, "not a JSON number"),
    ],
)
def test_enrichers_cannot_change_what_the_tool_receives_or_who_acts(additions: Any, match: str) -> None:
    class Rogue:
        name = "rogue"

        def enrich(self, request: Mapping[str, Any]) -> Any:
            return additions

    log = AuditLog()
    safe = govern(tool, policy=POLICY, audit=log, enrichers=[Rogue()])
    with pytest.raises(GovernanceDenied, match=match) as info:
        safe(action="read")
    assert info.value.decision.refused_by == "enricher:rogue"
    assert ran == []
    assert log.records()[-1].request["agent"] == {"id": "default"}


# -- guards ---------------------------------------------------------------------------------------


def test_guard_refusal_names_the_guard_and_is_audited() -> None:
    log = AuditLog()
    switch = KillSwitch()
    safe = govern(tool, policy=POLICY, audit=log, guards=[switch])
    assert safe(action="read") == "read:x"
    switch.engaged = True
    with pytest.raises(GovernanceDenied, match="all agents halted by operator") as info:
        safe(action="read")
    assert info.value.decision.refused_by == "guard:kill-switch"
    assert info.value.decision.rule is None
    assert ran == [("read", "x")]
    assert [r.decision.refused_by for r in log.records()] == [None, "guard:kill-switch"]


def test_guards_see_enriched_requests_and_run_in_order() -> None:
    seen: list[str] = []

    class Ring:
        def __init__(self, name: str) -> None:
            self.name = name

        def check(self, request: Mapping[str, Any]) -> str | None:
            seen.append(f"{self.name}:{request['agent'].get('did')}")
            return None

    agent_os.pipeline().add_guard(Ring("global"))
    safe = govern(tool, policy=POLICY, audit=False, enrichers=[DidEnricher()], guards=[Ring("own")])
    safe(action="read")
    assert seen == ["global:did:key:z6MkToy", "own:did:key:z6MkToy"]


def test_failing_guard_refuses() -> None:
    safe = govern(tool, policy=POLICY, audit=False, guards=[Broken()])
    with pytest.raises(GovernanceDenied, match="guard `broken` failed: RuntimeError") as info:
        safe(action="read")
    assert info.value.decision.refused_by == "guard:broken"
    assert ran == []


def test_first_refusing_guard_stops_the_pipeline() -> None:
    first, second = KillSwitch(), Recorder()
    first.engaged = True

    class Counting:
        name = "counting"
        calls = 0

        def check(self, request: Mapping[str, Any]) -> str | None:
            Counting.calls += 1
            return None

    safe = govern(tool, policy=POLICY, audit=False, guards=[first, Counting()], observers=[second])
    with pytest.raises(GovernanceDenied):
        safe(action="read")
    assert Counting.calls == 0
    assert second.decisions[0].decision.refused_by == "guard:kill-switch"


# -- observers ------------------------------------------------------------------------------------


def test_observers_see_every_outcome_and_every_completion() -> None:
    observer = Recorder()
    safe = govern(tool, policy=POLICY, audit=False, observers=[observer], enrichers=[DidEnricher(did=None)])
    safe(action="read")
    with pytest.raises(GovernanceDenied):
        safe(action="delete")

    def failing(action: str) -> str:
        raise ValueError("tool broke")

    broken = govern(failing, policy=POLICY, audit=False, observers=[observer])
    with pytest.raises(ValueError, match="tool broke"):
        broken(action="read")
    assert [o.allowed for o in observer.decisions] == [True, False, True]
    assert observer.completions[0][0] == "read:x"
    assert observer.completions[0][1] is None
    assert isinstance(observer.completions[1][1], ValueError)
    assert len(observer.completions) == 2  # the refused call never completed


def test_a_raising_observer_is_reported_and_never_changes_the_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    observer = Recorder(fail=True)
    agent_os.pipeline().add_observer(observer)
    safe = govern(tool, policy=POLICY, audit=False)
    with caplog.at_level(logging.WARNING, logger="agent_os"):
        assert safe(action="read") == "read:x"
        with pytest.raises(GovernanceDenied):
            safe(action="delete")
    assert agent_os.pipeline().observer_failures == 3  # decision + completion, then the refusal
    assert "observer bug" in caplog.text


def test_post_tool_refusal_withholds_the_result_after_observers_saw_it() -> None:
    observer = Recorder()

    def leak(action: str) -> str:
        return "secret"

    safe = govern(leak, policy=POST_POLICY, audit=False, observers=[observer])
    with pytest.raises(GovernanceDenied, match="audit-result"):
        safe(action="read")
    assert observer.completions[0][0] == "secret"
    assert [o.decision.stage for o in observer.decisions] == ["pre_tool", "post_tool"]


# -- audit sinks ----------------------------------------------------------------------------------


def test_any_audit_sink_receives_every_decision_including_refusals() -> None:
    sink = ListSink()
    safe = govern(tool, policy=POLICY, audit=sink, guards=[Broken()])
    with pytest.raises(GovernanceDenied):
        safe(action="read")
    assert sink.records[0][1].refused_by == "guard:broken"
    assert safe.audit_log is sink


def test_a_failing_audit_sink_refuses_the_call() -> None:
    safe = govern(tool, policy=POLICY, audit=ListSink(fail=True))
    with pytest.raises(AuditError, match="disk full"):
        safe(action="read")
    assert ran == []


def test_the_process_default_sink_can_be_replaced() -> None:
    sink = ListSink()
    agent_os.pipeline().set_default_audit(sink)
    assert agent_os.default_audit_log() is sink
    govern(tool, policy=POLICY)(action="read")
    assert len(sink.records) == 1


def test_an_audit_location_without_an_installed_store_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.metadata

    real = importlib.metadata.entry_points
    # Hide whatever stores this environment has installed (agent-hypervisor registers `sqlite`).
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda **kw: () if kw.get("group") == "agt.audit_stores" else real(**kw),
    )
    with pytest.raises(ValueError, match=r"no audit store for `sqlite` is installed"):
        govern(tool, policy=POLICY, audit=str(tmp_path / "audit.unknownstore.db"), pipeline=Pipeline())
    with pytest.raises(ValueError, match="names no store"):
        govern(tool, policy=POLICY, audit=str(tmp_path / "audit.txt"))


def test_registration_refuses_objects_that_are_not_extensions() -> None:
    pipe = Pipeline()
    with pytest.raises(TypeError, match="not an Enricher"):
        pipe.add_enricher(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a Guard"):
        pipe.add_guard(KillSwitch().check)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an Observer"):
        pipe.add_observer(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an AuditSink"):
        pipe.set_default_audit(object())  # type: ignore[arg-type]


def test_a_private_pipeline_isolates_a_component() -> None:
    agent_os.pipeline().add_guard(KillSwitch())
    private = Pipeline()
    safe = govern(tool, policy=POLICY, audit=False, pipeline=private, guards=[])
    safe(action="read")
    switch = KillSwitch()
    switch.engaged = True
    private.add_guard(switch)
    with pytest.raises(GovernanceDenied):
        safe(action="read")


# -- the evaluator boundary -----------------------------------------------------------------------


class PanicException(BaseException):
    """What pyo3 raises in Python when Rust code panics: a BaseException, not an Exception."""


class Panicking:
    def __init__(self, exc: BaseException) -> None:
        inner = compile_policies(POLICY)
        self.hash, self.policy_names, self.stages = inner.hash, inner.policy_names, inner.stages
        self.policy_hashes, self.limits, self.warnings = inner.policy_hashes, inner.limits, ()
        self.evaluator = "toy"
        self.exc = exc

    def evaluate(self, request: Any) -> Any:
        raise self.exc


def test_a_panicking_evaluator_yields_an_audited_deny() -> None:
    log = AuditLog()
    safe = govern(tool, policy=Panicking(PanicException("index out of bounds")), audit=log)
    with pytest.raises(GovernanceDenied, match="PanicException: index out of bounds") as info:
        safe(action="read")
    assert info.value.decision.refused_by == "kernel:evaluator"
    assert ran == []
    assert log.records()[-1].decision.effect == "deny"


def test_an_evaluator_returning_junk_denies() -> None:
    class Junk(Panicking):
        def evaluate(self, request: Any) -> Any:
            return {"effect": "allow"}

    safe = govern(tool, policy=Junk(RuntimeError()), audit=False)
    with pytest.raises(GovernanceDenied, match="not a Decision"):
        safe(action="read")


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)])
def test_interrupts_from_the_evaluator_still_propagate(exc: BaseException) -> None:
    safe = govern(tool, policy=Panicking(exc), audit=False)
    with pytest.raises(type(exc)):
        safe(action="read")
    assert ran == []


# -- ToolGate -------------------------------------------------------------------------------------


def test_tool_gate_decides_by_name_and_arguments() -> None:
    log = AuditLog()
    gate = ToolGate(policy=POST_POLICY, audit=log, agent_id="researcher")
    allowed = gate.check("search", {"q": "rates"}, context={"framework": {"run_id": "r1"}})
    assert allowed.allowed
    assert allowed.request["context"] == {"framework": {"run_id": "r1"}}
    refused = gate.check("db", {"action": "DELETE", "target": "prod"})
    assert not refused.allowed
    assert gate.refusal_message(refused) == (
        "tool call `db` was refused by rule `unverified-agents-may-not-delete` of policy `mesh-policy`"
    )
    after = gate.complete(allowed, result="secret", duration_s=0.001)
    assert not after.allowed and after.decision.stage == "post_tool"
    assert [r.request["agent"]["id"] for r in log.records()] == ["researcher"] * 3
    bad = gate.check("db", {"blob": float("inf")})
    assert bad.decision.refused_by == "kernel:request" and not bad.allowed
    assert log.verify(deep=True) == 4


def test_tool_gate_async_awaits_async_approvals() -> None:
    async def approve(request: Any) -> Any:
        return request.approve("bot")

    gate = ToolGate(policy=POLICY, audit=False, enrichers=[DidEnricher(trust=0.1)], approval_handler=approve)
    outcome = asyncio.run(gate.check_async("search", {"q": "x"}))
    assert outcome.allowed and outcome.approval is not None and outcome.approval.approver == "bot"
    with pytest.raises(agent_os.ApprovalError, match="async"):
        gate.check("search", {"q": "x"})


def test_kernel_can_be_used_directly_with_a_toy_of_every_extension() -> None:
    sink, observer = ListSink(), Recorder()
    kernel = Kernel(
        compile_policies(POLICY),
        audit=sink,
        enrichers=[DidEnricher()],
        guards=[KillSwitch()],
        observers=[observer],
    )
    request = {
        "action": {"type": "delete", "tool": "db"},
        "args": {},
        "agent": {"id": "a"},
        "context": {},
        "stage": "pre_tool",
    }
    outcome = kernel.enforce(request)
    assert outcome.allowed
    assert outcome.audit_hash == "h1"
    assert outcome.request["agent"]["did"] == "did:key:z6MkToy"
    assert request["agent"] == {"id": "a"}  # the caller's request is never mutated
    assert observer.decisions == [outcome]


def test_an_identity_object_as_agent_brings_its_own_extensions() -> None:
    class Identity:
        def govern_options(self) -> dict[str, Any]:
            return {"agent_id": "did:key:z6MkSelf", "enrichers": [DidEnricher(did="did:key:z6MkSelf")]}

    log = AuditLog()
    safe = govern(tool, policy=POLICY, audit=log, agent=Identity())
    assert safe(action="delete") == "delete:x"
    assert log.records()[-1].request["agent"]["id"] == "did:key:z6MkSelf"
    gate = ToolGate(policy=POLICY, audit=log, agent=Identity(), agent_id="explicit")
    assert gate.check("db", {"action": "delete"}).request["agent"]["id"] == "explicit"
    with pytest.raises(TypeError, match="govern_options"):
        govern(tool, policy=POLICY, agent=42)


def test_a_rate_limit_store_that_fails_refuses_audited() -> None:
    class Unreachable:
        def acquire(self, agent_id: str, rules: Any) -> Any:
            raise ConnectionError("postgres is down")

    policy = (
        POLICY
        + '- name: quota\n  condition: "action.type == \'read\'"\n  action: allow\n  limit: "5/minute"\n'
    )
    log = AuditLog()
    safe = govern(tool, policy=policy, audit=log, rate_limiter=Unreachable())
    with pytest.raises(GovernanceDenied, match="rate limits could not be checked: ConnectionError") as info:
        safe(action="read")
    assert info.value.decision.refused_by == "kernel:rate_limiter"
    assert ran == [] and log.records()[-1].decision.effect == "deny"


def test_pipeline_plugins_run_at_setup_and_reset_and_a_failing_one_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent_os import _pipeline

    seen: list[Pipeline] = []
    monkeypatch.setattr(_pipeline, "_plugin_error", None)  # restored to None afterwards

    def plugin(*, pipeline: Pipeline) -> None:
        seen.append(pipeline)

    monkeypatch.setattr(_pipeline, "_plugins", [("toy = tests:plugin", plugin)])
    agent_os.pipeline().reset()
    assert seen == [agent_os.pipeline()]

    def broken(pipeline: Pipeline) -> None:
        raise ImportError("opentelemetry is not installed")

    monkeypatch.setattr(_pipeline, "_plugins", [("broken = x:y", broken)])
    with pytest.raises(agent_os.GovernanceError, match="pipeline plugin `broken = x:y`"):
        agent_os.pipeline().reset()
    with pytest.raises(agent_os.GovernanceError, match="opentelemetry is not installed"):
        govern(tool, policy=POLICY)
    monkeypatch.setattr(_pipeline, "_plugins", [])
    monkeypatch.setattr(_pipeline, "_plugin_error", None)
    assert agent_os.pipeline() is not None


def test_session_option_runs_the_session_as_enricher_and_guard() -> None:
    class Session:
        name = "session"

        def __init__(self) -> None:
            self.members = {"default"}

        def enrich(self, request: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
            return {"context": {"session": {"id": "s-1"}}}

        def check(self, request: Mapping[str, Any]) -> str | None:
            return None if request["agent"]["id"] in self.members else "agent has not joined the session"

    log = AuditLog()
    session = Session()
    safe = govern(tool, policy=POLICY, audit=log, session=session)
    safe(action="read")
    assert log.records()[-1].request["context"] == {"session": {"id": "s-1"}}
    session.members.clear()
    with pytest.raises(GovernanceDenied, match="has not joined") as info:
        safe(action="read")
    assert info.value.decision.refused_by == "guard:session"
    with pytest.raises(TypeError, match="session= must be"):
        govern(tool, policy=POLICY, session=object())


def test_a_handler_can_hand_the_decision_to_a_person_out_of_band() -> None:
    def defer(request: Any) -> Any:
        raise agent_os.ApprovalPending("asked in the framework's own approval queue")

    log = AuditLog()
    gate = ToolGate(policy=POLICY, audit=log, enrichers=[DidEnricher(trust=0.1)], approval_handler=defer)
    outcome = gate.check("search", {"q": "x"})
    assert not outcome.allowed
    assert outcome.approval is not None and outcome.approval.pending
    assert gate.refusal_message(outcome).endswith(
        "(approval pending: asked in the framework's own approval queue)"
    )
    record = log.records()[-1].approval
    assert record is not None and record.pending and not record.approved
    assert log.verify(deep=True) == 1


def test_govern_strict_turns_policy_warnings_into_load_errors() -> None:
    typo = POLICY.replace("action.type == 'delete'", "action.typ == 'delete'")
    with pytest.raises(agent_os.PolicyError, match="typ"):
        govern(tool, policy=typo, strict=True)
    with pytest.warns(agent_os.PolicyWarning, match="typ"):
        govern(tool, policy=typo)
