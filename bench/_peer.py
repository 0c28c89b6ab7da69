"""Benchmark worker for the peer (Microsoft's agent-governance-toolkit 4.1.0), run with its own python.

Drives only the peer's public API as a black box: `agentmesh.governance.govern`, `PolicyEngine`
(`load_yaml`, `evaluate(agent_did, context)`) and the `AuditLog` a governed callable exposes.
It never imports our packages (they are not installed in the peer's venv).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from _workload import AGENT_ID, peer_context, worker_main


class PeerAdapter:
    name = "peer"

    def __init__(self) -> None:
        from agentmesh.governance import GovernanceDenied, PolicyEngine, govern

        self.denied: type[BaseException] = GovernanceDenied
        self._govern = govern
        self._engine_cls = PolicyEngine

    def info(self) -> dict[str, Any]:
        import agent_os
        import agentmesh

        versions = {}
        for dist in ("agent-governance-toolkit", "agent-governance-toolkit-core", "agentmesh-platform"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                versions[dist] = metadata.version(dist)
        return {
            "versions": versions,
            "modules": {"agentmesh": agentmesh.__file__, "agent_os": agent_os.__file__},
        }

    def govern(self, fn: Callable[..., Any], policy_path: str, *, audit: bool) -> Callable[..., Any]:
        return self._govern(fn, policy=policy_path, audit=audit, agent_id=AGENT_ID)

    def compile(self, yaml_text: str) -> Any:
        # govern() uses deny_overrides; the engine's own default is priority_first_match.
        engine = self._engine_cls(conflict_strategy="deny_overrides")
        engine.load_yaml(yaml_text)
        return engine

    def evaluator(
        self, compiled: Any, action_type: str, args: dict[str, Any]
    ) -> Callable[[], tuple[str, str | None]]:
        ctx = peer_context(action_type, args)
        evaluate = compiled.evaluate

        def ev() -> tuple[str, str | None]:
            d = evaluate(AGENT_ID, ctx)
            return d.action, d.matched_rule

        return ev

    def audit_fill(self, policy_path: str, n: int) -> tuple[list[int], Callable[[], object]]:
        # The entry its govern() writes for an allowed `noop_tool(action="read", table="users")`.
        from agentmesh.governance import AuditLog

        log: Any = AuditLog()  # the peer's class (a type checker in our venv sees ours)
        append = log.log
        data = {"rule": "", "reason": "", "evaluation_ms": 0.05}
        perf = time.perf_counter_ns
        samples = [0] * n
        for i in range(n):
            t0 = perf()
            append(
                event_type="policy_evaluation",
                agent_did=AGENT_ID,
                action="read",
                outcome="allow",
                policy_decision="allow",
                data=data,
            )
            samples[i] = perf() - t0

        def verify() -> object:
            ok, err = log.verify_integrity()
            if not ok:
                raise AssertionError(f"peer audit log failed verification: {err}")
            return ok

        return samples, verify


if __name__ == "__main__":
    worker_main(PeerAdapter)
