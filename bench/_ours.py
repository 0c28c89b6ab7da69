"""Benchmark worker for our toolkit, run with the python of the venv our packages are installed in.

Uses the public API only: `agentmesh.governance.govern` (the quick-start import),
`agent_os.compile_policies` -> `PolicySet.evaluate(request) -> Decision`, `agent_os.AuditLog`
and `agt_core.GovernanceDenied`. It never imports the peer (not installed in this venv).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

from _workload import AGENT_ID, SEED_POLICY_YAML, ours_request, worker_main


class OursAdapter:
    name = "ours"

    def __init__(self) -> None:
        from agent_os import AuditLog, compile_policies
        from agentmesh.governance import govern
        from agt_core import GovernanceDenied, PolicyWarning

        # The unindexable workload's rules read `args` unguarded on purpose (the peer's policies
        # do): the missing-field lint still runs, and is timed, but its 999 warnings are not shown.
        warnings.filterwarnings("ignore", message=r"rule .* every request without", category=PolicyWarning)

        self.denied: type[BaseException] = GovernanceDenied
        self._govern = govern
        self._compile = compile_policies
        self._audit_log_cls = AuditLog

    def info(self) -> dict[str, Any]:
        import agent_os
        import agentmesh

        versions = {}
        for dist in ("agt-core", "agent-os", "agent-mesh", "agt-evaluator"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                versions[dist] = metadata.version(dist)
        return {
            "versions": versions,
            "modules": {"agentmesh": agentmesh.__file__, "agent_os": agent_os.__file__},
        }

    def govern(self, fn: Callable[..., Any], policy_path: str, *, audit: bool) -> Callable[..., Any]:
        return self._govern(fn, policy=policy_path, audit=audit, agent_id=AGENT_ID)

    def compile(self, yaml_text: str) -> Any:
        return self._compile(yaml_text)

    def evaluator(
        self, compiled: Any, action_type: str, args: dict[str, Any]
    ) -> Callable[[], tuple[str, str | None]]:
        request = ours_request(action_type, args)
        evaluate = compiled.evaluate

        def ev() -> tuple[str, str | None]:
            d = evaluate(request)
            return d.effect, d.rule

        return ev

    def audit_fill(self, policy_path: str, n: int) -> tuple[list[int], Callable[[], object]]:
        # The record a governed `noop_tool(action="read", table="users")` call appends.
        request = {
            "action": {"type": "read", "tool": "noop_tool"},
            "args": {"table": "users"},
            "agent": {"id": AGENT_ID},
            "context": {},
            "stage": "pre_tool",
        }
        decision = self._compile(SEED_POLICY_YAML).evaluate(request)
        if decision.effect != "allow":
            raise AssertionError(f"seed policy gave {decision.effect} for read")
        log = self._audit_log_cls()
        append = log.append
        perf = time.perf_counter_ns
        samples = [0] * n
        for i in range(n):
            t0 = perf()
            append(request, decision)
            samples[i] = perf() - t0

        def verify() -> object:
            count = log.verify()  # raises AuditIntegrityError on tamper
            if count is not None and count != n:
                raise AssertionError(f"verify checked {count} records, expected {n}")
            return count

        return samples, verify


if __name__ == "__main__":
    worker_main(OursAdapter)
