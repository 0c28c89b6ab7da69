"""Rings: computed per call, enforced by a guard before any policy rule, audited, and end to end via govern()."""

from __future__ import annotations

from typing import Any

import pytest

import agent_os
from agent_os import AuditLog, GovernanceDenied, govern
from agent_runtime import MAX_ELEVATION_SECONDS, Rings, requires_ring, ring_for_trust
from tests.conftest import ALLOW_ALL


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def request(agent_id: str = "a", tool: str = "t", **agent: Any) -> dict[str, Any]:
    return {
        "action": {"type": tool, "tool": tool},
        "args": {},
        "agent": {"id": agent_id, **agent},
        "context": {},
        "stage": "pre_tool",
    }


def test_default_is_ring_three_and_ring_zero_is_never_assigned() -> None:
    rings = Rings(audit=AuditLog())
    assert rings.ring_of("anyone") == 3
    with pytest.raises(ValueError, match="ring 0"):
        rings.assign("a", 0)
    with pytest.raises(ValueError, match="ring 0"):
        Rings(default=0)
    with pytest.raises(ValueError, match="ring 0-3"):
        rings.assign("a", 4)
    with pytest.raises(ValueError, match="ring 0-3"):
        rings.assign("a", True)  # type: ignore[arg-type]


def test_guard_refuses_a_less_privileged_agent() -> None:
    rings = Rings(assignments={"ops": 1}, tools={"deploy": 1}, audit=AuditLog())
    assert rings.guard.check(request("ops", "deploy")) is None
    reason = rings.guard.check(request("intern", "deploy"))
    assert reason == "agent 'intern' holds ring 3; tool 'deploy' needs ring 1 or lower"


def test_guard_ignores_a_caller_supplied_ring() -> None:
    rings = Rings(tools={"deploy": 1}, audit=AuditLog())
    assert rings.guard.check(request("intern", "deploy", ring=0)) is not None
    assert rings.enricher.enrich(request("intern", "deploy", ring=0))["agent"]["ring"] == 3  # type: ignore[index]


def test_ring_zero_tools_are_refused_to_everyone() -> None:
    rings = Rings(assignments={"ops": 1}, tools={"reconfigure": 0}, audit=AuditLog())
    assert "ring 0" in (rings.guard.check(request("ops", "reconfigure")) or "")


def test_guard_fails_closed_on_malformed_requests() -> None:
    rings = Rings(audit=AuditLog())
    assert rings.guard.check({"action": {"tool": "t"}}) is not None
    assert rings.guard.check({"agent": {"id": 3}, "action": {"tool": "t"}}) is not None
    assert rings.guard.check({"agent": {"id": "a"}, "action": {}}) is not None
    assert rings.guard.check(request(trust="high")) is not None


def test_requires_ring_decorator_declares_the_tool() -> None:
    @requires_ring(2)
    def rotate_keys_for_test() -> None: ...

    rings = Rings(assignments={"std": 2}, audit=AuditLog())
    assert rings.required_ring("rotate_keys_for_test") == 2
    assert rings.guard.check(request("std", "rotate_keys_for_test")) is None
    assert rings.guard.check(request("other", "rotate_keys_for_test")) is not None


def test_trust_only_lowers_privilege() -> None:
    assert [ring_for_trust(s) for s in (1000, 900, 899, 600, 599, 0)] == [1, 1, 2, 2, 3, 3]
    rings = Rings(assignments={"ops": 1, "low": 3}, audit=AuditLog())
    assert rings.ring_of("ops", trust=950) == 1
    assert rings.ring_of("ops", trust=700) == 2
    assert rings.ring_of("ops", trust=100) == 3
    assert rings.ring_of("low", trust=1000) == 3  # a high score never raises a configured ring


def test_elevation_is_time_limited_audited_and_names_the_grantor() -> None:
    clock, log = FakeClock(), AuditLog()
    rings = Rings(tools={"deploy": 1}, audit=log, clock=clock)
    with pytest.raises(ValueError, match="who granted"):
        rings.elevate("a", 1, granted_by=" ", ttl_s=60, reason="incident")
    with pytest.raises(ValueError, match="at most"):
        rings.elevate("a", 1, granted_by="alice", ttl_s=MAX_ELEVATION_SECONDS + 1, reason="incident")
    with pytest.raises(ValueError, match="ring 0"):
        rings.elevate("a", 0, granted_by="alice", ttl_s=60, reason="incident")
    assert len(log) == 0
    grant = rings.elevate("a", 1, granted_by="alice", ttl_s=60, reason="incident 42")
    assert rings.guard.check(request("a", "deploy")) is None
    enriched = rings.enricher.enrich(request("a", "deploy"))
    assert enriched is not None and enriched["agent"]["ring_elevation"]["granted_by"] == "alice"
    record = log.records()[-1]
    assert record.request["action"]["type"] == "ring.elevate"
    assert record.request["agent"]["id"] == "alice"
    assert record.request["args"]["agent_id"] == "a" and record.request["args"]["ring"] == 1
    clock.now = grant.expires_at
    assert rings.ring_of("a") == 3
    assert rings.guard.check(request("a", "deploy")) is not None


def test_elevation_is_not_granted_when_the_audit_fails() -> None:
    class Broken:
        def append(self, *_: Any) -> str:
            raise OSError("disk full")

    rings = Rings(audit=Broken())  # type: ignore[arg-type]
    with pytest.raises(OSError):
        rings.elevate("a", 1, granted_by="alice", ttl_s=60, reason="x")
    assert rings.ring_of("a") == 3


def test_demotion_is_immediate_revokes_elevation_and_is_audited() -> None:
    log = AuditLog()
    rings = Rings(assignments={"ops": 1}, audit=log)
    rings.elevate("ops", 1, granted_by="alice", ttl_s=600, reason="x")
    rings.demote("ops", 3, by="detector", reason="anomalous calls")
    assert rings.ring_of("ops") == 3 and rings.elevation("ops") is None
    assert log.records()[-1].request["action"]["type"] == "ring.demote"
    rings.demote("ops", 2, by="detector", reason="never raises privilege")
    assert rings.ring_of("ops") == 3
    rings.assign("ops", 1, by="alice")
    assert rings.ring_of("ops") == 1
    last = log.records()[-1].request
    assert last["action"]["type"] == "ring.assign" and last["agent"]["id"] == "alice"


# -- end to end through govern() --------------------------------------------------------------


def deploy(service: str) -> str:
    return f"deployed {service}"


def test_govern_refuses_before_policy_and_audits() -> None:
    log = AuditLog()
    rings = Rings(assignments={"ops": 1}, tools={"deploy": 1}, audit=log)
    rings.install()
    ran: list[str] = []

    def deploy(service: str) -> str:
        ran.append(service)
        return service

    as_intern = govern(deploy, policy=ALLOW_ALL, agent_id="intern", audit=log)
    with pytest.raises(GovernanceDenied) as info:
        as_intern(service="api")
    assert ran == []
    decision = info.value.decision
    assert decision.refused_by == "guard:rings" and decision.rule is None
    assert "needs ring 1" in decision.message
    assert log.records()[-1].decision.refused_by == "guard:rings"
    as_ops = govern(deploy, policy=ALLOW_ALL, agent_id="ops", audit=log)
    assert as_ops(service="api") == "api" and ran == ["api"]


def test_policies_read_agent_ring_and_a_spoofed_ring_is_overwritten() -> None:
    rings = Rings(assignments={"ops": 2}, audit=AuditLog())
    rings.install()
    policy = {
        "apiVersion": "governance.toolkit/v1",
        "name": "ring-aware",
        "default_action": "deny",
        "rules": [{"name": "privileged-only", "condition": "agent.ring <= 2", "action": "allow"}],
    }
    assert govern(deploy, policy=policy, agent_id="ops", audit=False)(service="x") == "deployed x"
    spoofer = govern(deploy, policy=policy, agent_id="intern", agent={"ring": 0}, audit=False)
    with pytest.raises(GovernanceDenied):
        spoofer(service="x")


def test_per_tool_extensions_and_uninstall() -> None:
    rings = Rings(tools={"deploy": 1}, audit=AuditLog())
    tool = govern(deploy, policy=ALLOW_ALL, agent_id="intern", audit=False, guards=[rings.guard])
    with pytest.raises(GovernanceDenied):
        tool(service="x")
    rings.install()
    rings.uninstall()
    assert agent_os.pipeline().guards == ()


def test_a_trust_score_from_an_earlier_enricher_caps_the_ring() -> None:
    """agent-mesh's enricher puts `agent.trust` on the request; registered first, it caps the ring."""

    class Trust:
        name = "mesh-identity"

        def __init__(self, score: int) -> None:
            self.score = score

        def enrich(self, request: Any) -> dict[str, Any]:
            return {"agent": {"trust": self.score}}

    rings = Rings(assignments={"ops": 1}, tools={"deploy": 1}, audit=AuditLog())
    trust = Trust(650)
    agent_os.pipeline().add_enricher(trust)
    rings.install()
    tool = govern(deploy, policy=ALLOW_ALL, agent_id="ops", audit=False)
    with pytest.raises(GovernanceDenied) as info:
        tool(service="x")
    assert "holds ring 2" in info.value.decision.message
    trust.score = 950
    assert tool(service="x") == "deployed x"
